"""QDREAMER through the service, on a real local Ray with real calibration data.

Fake IBM devices carry real calibration snapshots; Braket's cloud devices are
reached through the real SDK and the fake HTTP service (``tests/fakes``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pilot import ConfigError, NoFeasibleResourceError, PilotComputeService, QuantumTask
from tests.helpers import bell_qiskit

FAKES = ["fake_manila", "fake_lagos", "fake_kolkata", "fake_hanoi", "fake_perth", "fake_guadalupe"]
SV1 = {"executor": "braket_sv1", "s3_bucket": "qdreamer-test", "poll_interval_seconds": 0.01}


def ghz(n: int) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n, n, name=f"ghz{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure(range(n), range(n))
    return qc


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, fake_braket: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "fakes",
                "cores_per_node": 0.25,
                "quantum": {"executor": "qiskit_fake", "backends": FAKES, "seed": 3},
            }
        )
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "cores_per_node": 0.25,
                "quantum": {"executor": "qiskit_local"},
            }
        )
        service.create_pilot(
            {"resource_type": "quantum", "name": "sv1", "cores_per_node": 0.25, "quantum": SV1}
        )
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "ibm",
                "cores_per_node": 0.25,
                "quantum": {"executor": "ibm_runtime", "local": True},
            }
        )
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "qpu",
                "cores_per_node": 0.25,
                "dreamer_enabled": False,
                "quantum": {
                    "executor": "braket_qpu",
                    "braket_device_arn": fake_braket.QPU_ARN,
                    "s3_bucket": "qdreamer-test",
                    "poll_interval_seconds": 0.01,
                },
            }
        )
        yield service


@pytest.fixture(autouse=True)
def clean_fake(fake_braket: Any) -> Any:
    yield
    fake_braket.reset()


@pytest.mark.slow
def test_fidelity_picks_a_device_within_002_of_the_best_by_noisy_simulation(pcs: Any) -> None:
    q = pcs.initialize_dreamer(objective="fidelity", providers=["ibm-fake"])
    task = QuantumTask(ghz(4), shots=4000)
    ranked = q.rank(task)
    assert next(r.resource.name for r in ranked if r.feasible) == q.select(task).resource.name
    # Reference: the exact noisy distribution on each device (Aer density matrix), placed the
    # way the service places it.
    truth = {}
    for name in FAKES:
        res = pcs.get_results(
            pcs.submit_quantum_task(QuantumTask(ghz(4), shots=None, pilot="fakes", resource=name))
        )
        truth[name] = res.probabilities.get("0000", 0) + res.probabilities.get("1111", 0)
        assert res.selection["breakdown"]["estimated_fidelity"] == pytest.approx(
            truth[name], abs=0.05
        )
    result = pcs.get_results(pcs.submit_quantum_task(task))
    best = max(truth.values())
    assert truth[result.backend] >= best - 0.02, (result.backend, truth)
    assert result.selection["resource"] == result.backend
    assert result.selection["objective"] == "fidelity"
    layout = result.selection["breakdown"]["layout"]
    assert len(layout) == 4 and len(set(layout)) == 4
    assert result.counts["0000"] + result.counts["1111"] > 0.85 * 4000


def test_rank_lists_every_resource_with_breakdown_and_reasons(pcs: Any) -> None:
    q = pcs.initialize_dreamer(objective="balanced")
    ranked = q.rank(QuantumTask(ghz(6), shots=1000))
    names = {r.key for r in ranked}
    assert {
        "fakes/fake_manila",
        "fakes/fake_kolkata",
        "aer/aer_simulator",
        "sv1/SV1",
        "ibm/fake_manila",
    } <= names
    assert "qpu/Forte 1" not in names  # dreamer_enabled: False pilots run only pinned tasks
    manila = next(r for r in ranked if r.key == "fakes/fake_manila")
    assert not manila.feasible and manila.reasons == ("needs 6 qubits, has 5",)
    top = ranked[0]
    assert top.feasible and top.resource.pilot and isinstance(top.score, float)
    assert {
        "estimated_fidelity",
        "expected_wait_seconds",
        "estimated_cost",
        "expected_completion_seconds",
        "layout",
        "fidelity_model",
    } <= set(top.breakdown)
    pinned = q.rank(QuantumTask(ghz(2), pilot="qpu"))
    assert [r.key for r in pinned if r.feasible] == ["qpu/Forte 1"]


def test_cost_objective_prefers_free_simulators_and_prices_before_running(pcs: Any) -> None:
    pcs.initialize_dreamer(objective="cost")
    task = QuantumTask(bell_qiskit(), shots=1000)
    result = pcs.get_results(pcs.submit_quantum_task(task))
    assert result.selection["estimated_cost"] == 0.0
    sv1 = pcs.estimate_cost(task, resource="SV1")
    assert sv1["total_cost"] == pytest.approx(0.075 * 3 / 60)  # 3-second minimum
    assert sv1["currency"] == "USD" and "braket/pricing" in sv1["price_source"]
    qpu = pcs.estimate_cost(QuantumTask(bell_qiskit(), shots=1000, pilot="qpu"))
    assert qpu["total_cost"] == pytest.approx(0.30 + 0.08 * 1000)
    assert qpu["estimated_time_minutes"] > 0
    with pytest.raises(ConfigError, match="unknown resource 'SV2'"):
        pcs.estimate_cost(task, resource="SV2")


def test_max_cost_per_task_refuses_with_a_clear_error(pcs: Any) -> None:
    pcs.initialize_dreamer(objective="balanced", max_cost_per_task=1.0)
    with pytest.raises(
        NoFeasibleResourceError,
        match=r"qpu/Forte 1: estimated cost 80\.3000 exceeds max_cost 1\.0000",
    ):
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=1000, pilot="qpu"))
    cheap = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100)))
    assert cheap.selection["estimated_cost"] <= 1.0


def test_submissions_inside_one_ttl_make_at_most_one_status_call(pcs: Any) -> None:
    q = pcs.initialize_dreamer(objective="balanced", cache_ttl_seconds=60)
    q.clear_cache()
    refs = [pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10)) for _ in range(30)]
    pcs.get_results(refs)

    def calls() -> dict[str, int]:
        info = q.get_cache_info()["resources"]
        return {k: v["provider_calls"] for k, v in info.items()}

    # The refreshes the submissions asked for land (a minute: on a loaded machine the
    # monitor's first calls to three pilots' actors have taken over 20 s).
    deadline = time.monotonic() + 60
    while not (set(calls()) >= {"ibm/fake_manila", "sv1/SV1"} and sum(calls().values())):
        assert time.monotonic() < deadline, calls()
        time.sleep(0.05)
    for _ in range(30):
        q.rank(QuantumTask(bell_qiskit(), shots=10))
    info = q.get_cache_info()
    assert set(calls()) >= {"ibm/fake_manila", "sv1/SV1"}  # remote resources only
    # 60 submissions and rankings inside one TTL: the provider was asked, at most once each.
    assert sum(calls().values()) >= 1 and all(n <= 1 for n in calls().values()), calls()
    assert info["hits"] > 0 and info["ttl_seconds"] == 60 and info["monitoring"]
    q.stop_background_monitoring()
    assert not q.get_cache_info()["monitoring"]
    q.start_background_monitoring(interval_seconds=30)
    assert q.get_cache_info()["monitor_interval_seconds"] == 30


def test_a_hanging_provider_does_not_block_submission(pcs: Any, fake_braket: Any) -> None:
    q = pcs.initialize_dreamer(objective="balanced", cache_ttl_seconds=1)
    q.refresh(timeout=30)
    assert not q.cache.get("sv1/SV1").stale
    time.sleep(1.1)  # the value expires
    fake_braket.delay_next("GetDevice", 8, times=5)  # the provider hangs
    start = time.monotonic()
    refs = [pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10)) for _ in range(10)]
    ranked = q.rank(QuantumTask(bell_qiskit(), shots=10))
    assert time.monotonic() - start < 3
    sv1 = next(r for r in ranked if r.key == "sv1/SV1")
    assert sv1.breakdown["status_stale"] is True  # the last value, marked stale
    assert all(sum(r.counts.values()) == 10 for r in pcs.get_results(refs))


def test_failover_to_the_next_ranked_resource_records_the_path(pcs: Any, fake_braket: Any) -> None:
    q = pcs.initialize_dreamer(objective="fidelity", resources=["sv1/SV1", "fakes/fake_kolkata"])
    q.stop_background_monitoring()  # the ranking still believes SV1 is online
    assert q.select(QuantumTask(bell_qiskit())).key == "sv1/SV1"
    fake_braket.devices[fake_braket.SV1_ARN].status = "OFFLINE"
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=200)))
    assert result.backend == "fake_kolkata" and result.pilot == "fakes"
    (hop,) = result.selection["failover"]
    assert hop["resource"] == "SV1" and "DeviceOfflineException" in hop["error"]
    assert result.counts["00"] + result.counts["11"] > 0.9 * 200
    batch = pcs.get_results(pcs.submit_quantum_tasks([QuantumTask(bell_qiskit(), shots=20)] * 3))
    assert [r.backend for r in batch] == ["fake_kolkata"] * 3
    # bounded: with no failover attempts left the error reaches the driver
    q2 = pcs.initialize_dreamer(objective="fidelity", resources=["sv1/SV1"], failover_attempts=0)
    q2.stop_background_monitoring()
    with pytest.raises(Exception, match="DeviceOfflineException"):
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=20)))


def test_bad_dreamer_settings_are_config_errors(pcs: Any) -> None:
    pcs.initialize_dreamer()
    with pytest.raises(ConfigError, match=r"unknown objective 'fastest'.*balanced"):
        pcs.initialize_dreamer(objective="fastest")
    with pytest.raises(ConfigError, match="max_cost_per_task must be a number >= 0"):
        pcs.initialize_dreamer(max_cost_per_task=-1)
    with pytest.raises(ConfigError, match="interval_seconds must be > 0"):
        pcs.qdreamer.start_background_monitoring(interval_seconds=0)
    for bad in (1.5, -0.01, "2%"):
        with pytest.raises(ConfigError, match="max_fidelity_loss must be a number from 0") as info:
            pcs.initialize_dreamer(max_fidelity_loss=bad)
        assert info.value.key == "max_fidelity_loss"


def teleport() -> Any:
    """Teleport RY(1.1)|0> from q0 to q2 with feed-forward corrections; two registers."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    m, out = ClassicalRegister(2, "m"), ClassicalRegister(1, "out")
    qc = QuantumCircuit(QuantumRegister(3, "q"), m, out, name="teleport")
    qc.ry(1.1, 0)
    qc.h(1)
    qc.cx(1, 2)
    qc.cx(0, 1)
    qc.h(0)
    qc.measure(0, m[0])
    qc.measure(1, m[1])
    with qc.if_test((m[1], 1)):
        qc.x(2)
    with qc.if_test((m[0], 1)):
        qc.z(2)
    qc.reset(0)
    qc.measure(2, out[0])
    return qc


def test_dynamic_circuits_are_ranked_and_refused_at_submission_where_they_cannot_run(
    pcs: Any,
) -> None:
    import math

    q = pcs.initialize_dreamer(objective="fidelity")
    ranked = q.rank(QuantumTask(teleport(), shots=2000))  # no UnsupportedOperationError
    by_key = {r.key: r for r in ranked}
    assert by_key["fakes/fake_manila"].feasible and by_key["ibm/fake_manila"].feasible
    assert by_key["aer/aer_simulator"].feasible
    sv1 = by_key["sv1/SV1"]
    assert not sv1.feasible
    assert "needs mid-circuit measurement" in " ".join(sv1.reasons)
    assert "needs reset" in " ".join(sv1.reasons)
    # Pinned to a pilot that cannot run it: refused at submission, nothing sent.
    with pytest.raises(NoFeasibleResourceError, match="needs mid-circuit measurement") as info:
        pcs.submit_quantum_task(QuantumTask(teleport(), shots=2000, pilot="sv1"))
    assert "sv1/SV1" in str(info.value)
    branches = r"shots=None\) of a circuit with classical control"
    with pytest.raises(NoFeasibleResourceError, match=branches):
        pcs.submit_quantum_task(QuantumTask(teleport(), shots=None, pilot="aer"))
    # Unpinned, it runs where QDREAMER puts it; keys spaced by register (out, then m).
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(teleport(), shots=2000)))
    assert sum(result.counts.values()) == 2000
    assert all(len(k) == 4 and k[1] == " " for k in result.counts)
    p1 = sum(v for k, v in result.counts.items() if k[0] == "1") / 2000
    assert p1 == pytest.approx(math.sin(1.1 / 2) ** 2, abs=0.06)

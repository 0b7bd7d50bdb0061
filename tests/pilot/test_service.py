"""PilotComputeService on a real local Ray: pilots, placement, results, errors, cleanup."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import ray

from pilot import (
    PilotComputeService,
    PilotStartError,
    PilotState,
    PilotWaitWarning,
    QuantumTask,
    SchedulingError,
    ServiceClosedError,
    TaskFailedError,
    TaskTimeoutError,
)
from tests.helpers import bell_qiskit, within_binomial


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "quantum": {"executor": "qiskit_local", "actors": 2},
                "cores_per_node": 0.25,
            }
        )
        service.create_pilot({"name": "cpu", "cores_per_node": 1})
        yield service


def test_quantum_pilot_is_named_actors_with_capped_threads(pcs: Any) -> None:
    pilot = pcs.get_pilot("aer")
    assert pilot.state is PilotState.RUNNING
    assert pilot.actor_names == ["pilot-aer-0", "pilot-aer-1"]
    actor = ray.get_actor("pilot-aer-0")
    info = ray.get(actor.describe.remote())
    assert info["threads"] == "1"
    assert [r.name for r in pilot.resources] == ["aer_simulator"]
    assert pilot.resources[0].pilot == "aer"
    assert pilot.description["quantum"]["executor"] == "qiskit_local"


def test_tasks_spread_over_the_pilots_actors(pcs: Any) -> None:
    refs = [
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=50, pilot="aer")) for _ in range(8)
    ]
    results = pcs.get_results(refs)
    assert all(sum(r.counts.values()) == 50 for r in results)
    assert len({r.task_id for r in results}) == 8
    assert all(r.submitted_at <= r.started_at <= r.finished_at for r in results)


def test_classical_task_runs_inside_the_pilots_reservation(pcs: Any) -> None:
    def where() -> str | None:
        pg = ray.get_runtime_context().get_placement_group_id()
        return pg

    pg_id = pcs.get_results(pcs.submit_task(where, pilot="cpu"))
    pilot = pcs.get_pilot("cpu")
    assert pg_id == pilot._allocation.handle.id.hex()
    assert pilot.resources == {"CPU": 1, "GPU": 0, "nodes": 1}


def test_object_refs_flow_between_classical_and_quantum_tasks(pcs: Any) -> None:
    def width(n: int) -> int:
        return n + 1

    def ghz(n: int) -> Any:
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(n)
        qc.h(0)
        for i in range(n - 1):
            qc.cx(i, i + 1)
        qc.measure_all()
        return qc

    n_ref = pcs.submit_task(width, 2, pilot="cpu")
    q_ref = pcs.submit_quantum_task(QuantumTask(ghz, args=(n_ref,), shots=400))

    def top(result: Any) -> list[str]:
        return sorted(result.counts)

    assert pcs.get_results(pcs.submit_task(top, q_ref, pilot="cpu")) == ["000", "111"]
    ready, pending = ray.wait([q_ref], timeout=30)
    assert ready == [q_ref] and pending == []


def test_batch_submission_returns_one_ref_per_task_in_order(pcs: Any) -> None:
    from qiskit import QuantumCircuit

    tasks = []
    for i in range(20):
        qc = QuantumCircuit(3, 3)
        for q in range(3):
            if i >> q & 1:
                qc.x(q)
        qc.measure([0, 1, 2], [0, 1, 2])
        tasks.append(QuantumTask(qc, shots=10))
    results = pcs.get_results(pcs.submit_quantum_tasks(tasks, chunk_size=6))
    assert [r.counts for r in results] == [{format(i % 8, "03b"): 10} for i in range(20)]


def test_batch_resolves_object_refs_in_args_and_kwargs(pcs: Any) -> None:
    def ghz(n: int, flip: bool = False) -> Any:
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(n, n)
        qc.h(0)
        for i in range(n - 1):
            qc.cx(i, i + 1)
        if flip:
            qc.x(range(n))
        qc.measure(range(n), range(n))
        return qc

    n_ref = pcs.submit_task(int, "3", pilot="cpu")
    flip_ref = pcs.submit_task(bool, 1, pilot="cpu")
    tasks = [QuantumTask(ghz, args=(n_ref,), kwargs={"flip": flip_ref}, shots=50) for _ in range(3)]
    results = pcs.get_results(pcs.submit_quantum_tasks(tasks))
    assert all(set(r.counts) == {"000", "111"} for r in results)


def test_batch_failure_fails_only_its_own_task(pcs: Any) -> None:
    def broken() -> Any:
        raise RuntimeError("circuit factory exploded")

    tasks = [
        QuantumTask(bell_qiskit(), shots=20),
        QuantumTask(broken),
        QuantumTask(bell_qiskit(), shots=20),
    ]
    refs = pcs.submit_quantum_tasks(tasks, chunk_size=3)
    out = pcs.get_results(refs, return_exceptions=True)
    assert sum(out[0].counts.values()) == 20 and sum(out[2].counts.values()) == 20
    assert isinstance(out[1], TaskFailedError)
    assert "circuit factory exploded" in str(out[1])
    with pytest.raises(RuntimeError, match="exploded"):
        ray.get(refs[1])


def test_failure_reaches_the_driver_with_the_worker_traceback(pcs: Any) -> None:
    def circuit_that_raises() -> Any:
        raise ValueError("no data for this circuit")

    ref = pcs.submit_quantum_task(QuantumTask(circuit_that_raises))
    with pytest.raises(TaskFailedError) as info:
        pcs.get_results([ref])
    err = info.value
    assert "quantum:circuit_that_raises@aer_simulator" in str(err)
    assert "ValueError: no data for this circuit" in str(err)
    assert err.pilot == "aer" and err.task_id
    assert isinstance(err.__cause__, ValueError)
    assert "circuit_that_raises" in str(err.__cause__)  # the remote traceback names the function
    # return_exceptions gives the error in place, never None
    (value,) = pcs.get_results([ref], return_exceptions=True)
    assert isinstance(value, TaskFailedError)


def test_classical_task_failure_is_named(pcs: Any) -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    with pytest.raises(TaskFailedError, match=r"divide@cpu.*ZeroDivisionError") as info:
        pcs.get_results(pcs.submit_task(divide, 1, 0, pilot="cpu"))
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_timeouts_never_hang(pcs: Any) -> None:
    def slow(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    ref = pcs.submit_task(slow, 5.0, pilot="cpu", resources={"num_cpus": 0.5})
    ready, pending = pcs.wait_tasks([ref], timeout=0.2)
    assert ready == [] and pending == [ref]
    with pytest.raises(TaskTimeoutError, match="1 of 1 tasks not finished"):
        pcs.get_results([ref], timeout=0.2)
    ray.cancel(ref, force=True)


def test_requests_that_could_never_be_placed_fail_at_once(pcs: Any) -> None:
    start = time.monotonic()
    with pytest.raises(SchedulingError, match="holds 1 CPU"):
        pcs.submit_task(len, [], pilot="cpu", resources={"num_cpus": 2})
    with pytest.raises(SchedulingError, match="0 GPU per node"):
        pcs.submit_task(len, [], resources={"num_gpus": 1})
    with pytest.raises(PilotStartError, match="no node of the Ray cluster has that much"):
        pcs.create_pilot({"name": "huge", "cores_per_node": 64})
    with pytest.raises(PilotStartError, match="asks for 6 CPU in all"):
        pcs.create_pilot({"name": "wide", "cores_per_node": 2, "number_of_nodes": 3})
    with pytest.raises(SchedulingError, match="more than any node"):
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), resource_config={"memory": 10**15}))
    assert time.monotonic() - start < 10
    assert "huge" not in {p.name for p in pcs.pilots}


def test_pilot_that_cannot_get_capacity_in_time_says_so(pcs: Any) -> None:
    free_before = ray.available_resources().get("CPU", 0)
    # Blocked by what the module's pilots hold: said at once (a warning naming them),
    # and again in the error when the wait times out.
    with (
        pytest.warns(PilotWaitWarning) as warned,
        pytest.raises(PilotStartError, match=r"could not reserve 2 CPU within 1 s") as info,
    ):
        pcs.create_pilot({"name": "greedy", "cores_per_node": 2, "start_timeout_seconds": 1})
    [warning] = [w for w in warned if issubclass(w.category, PilotWaitWarning)]
    for text in (str(warning.message), str(info.value)):
        assert "it asks for 2 CPU; the Ray cluster has 2 CPU with 0.5 CPU free" in text
        assert "pilot 'aer' holds 0.5 CPU; pilot 'cpu' holds 1 CPU" in text
        assert "'greedy'" not in text.split(":", 1)[1]  # its own reservation is no holder
        assert "nothing are free" not in text
    assert "waits up to 1 s (start_timeout_seconds)" in str(warning.message)
    assert warning.filename == __file__  # attributed to the create_pilot call
    time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == pytest.approx(free_before)


def test_a_pilot_bigger_than_any_node_is_refused_at_once(pcs: Any) -> None:
    started = time.monotonic()
    with pytest.raises(PilotStartError) as info:
        pcs.create_pilot({"name": "huge", "cores_per_node": 3})
    assert time.monotonic() - started < 5
    assert "no node of the Ray cluster has that much (largest node: 2 CPU" in str(info.value)


def test_a_default_quantum_pilot_holds_nothing(pcs: Any, tmp_path: Any) -> None:
    pilot = pcs.create_pilot(
        {"name": "light", "resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}
    )
    try:
        assert pilot.holds == {"CPU": 0.0, "GPU": 0.0} and pilot.shares_node
        assert pilot._allocation.handle is None  # no placement group
        info = ray.get(ray.get_actor("pilot-light").describe.remote())
        assert info["threads"] == "1"  # one native thread beside everything else
        result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), pilot="light")))
        assert set(result.counts) == {"00", "11"}
    finally:
        pilot.cancel()


def test_cancel_releases_only_what_the_service_made(ray_session: None, tmp_path: Any) -> None:
    before = ray.available_resources().get("CPU", 0)
    with PilotComputeService(working_directory=tmp_path) as svc:
        q = svc.create_pilot(
            {
                "resource_type": "quantum",
                "name": "tmp",
                "quantum": {"executor": "qiskit_local"},
                "cores_per_node": 0.25,
            }
        )
        c = svc.create_pilot({"name": "tmpcpu", "cores_per_node": 0.25})
        result = svc.get_results(svc.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100)))
        assert within_binomial(result.counts["00"], 100, 0.5)
    assert q.state is PilotState.CANCELED and c.state is PilotState.CANCELED
    assert ray.is_initialized()  # the Ray this service joined keeps running
    with pytest.raises(ValueError, match="pilot-tmp"):
        ray.get_actor("pilot-tmp")
    deadline = time.monotonic() + 10
    while ray.available_resources().get("CPU", 0) < before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == pytest.approx(before)
    with pytest.raises(ServiceClosedError):
        svc.submit_quantum_task(QuantumTask(bell_qiskit()))


def test_plain_ray_tasks_without_classical_pilots(ray_session: None, tmp_path: Any) -> None:
    with PilotComputeService(working_directory=tmp_path) as svc:
        assert svc.get_results(svc.submit_task(sum, [1, 2, 3], resources={"num_cpus": 0.25})) == 6
        with pytest.raises(SchedulingError, match="no node of the Ray cluster can run"):
            svc.submit_task(sum, [1], resources={"num_gpus": 1})


@pytest.mark.slow
def test_service_starts_and_stops_its_own_ray_in_a_fresh_process(tmp_path: Any) -> None:
    """Run in a subprocess: the embedded default starts Ray, binds its dashboard to loopback."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import ray
        from pilot import PilotComputeService, QuantumTask
        from qiskit import QuantumCircuit
        qc = QuantumCircuit(1, 1); qc.x(0); qc.measure(0, 0)
        with PilotComputeService(working_directory={str(tmp_path)!r}, num_cpus=1) as pcs:
            assert pcs._owns_ray
            pcs.create_pilot({{"resource_type": "quantum",
                              "quantum": {{"executor": "qiskit_local"}},
                              "cores_per_node": 0.5}})
            print(pcs.get_results(pcs.submit_quantum_task(QuantumTask(qc, shots=5))).counts)
        print("initialized", ray.is_initialized())
    """)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "{'1': 5}" in out.stdout
    assert "initialized False" in out.stdout

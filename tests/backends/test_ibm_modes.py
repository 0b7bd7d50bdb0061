"""IBM Runtime execution modes (``quantum.mode``): job, session, batch.

Two layers, each real:

* the runtime's local testing mode through ``PilotComputeService`` on the
  session's Ray: the SDK accepts a ``Session``/``Batch`` on a fake device and
  runs its jobs locally; it gives them no id, so the pilot names them
  (``local-session-<hex>``), and results show which tasks shared one;
* the real client against the fake IBM Quantum Platform on loopback
  (``tests/fakes/ibm_service.py``): ``POST /sessions`` opens the session or
  batch, each job is created with its id, ``PATCH /sessions/<id>`` closes it.
  What the service received is what is asserted.

Nothing of ours is mocked.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pilot.backends.base import NativeOutput
from pilot.backends.ibm import IBMRuntimeBackend
from pilot.backends.jobs import JobContext, running
from pilot.config import parse_description
from pilot.errors import BackendUnavailableError, ConfigError
from tests.fakes.ibm_service import FakeIBMQuantumPlatform
from tests.helpers import bell_qiskit

# verify=False is needed for the TLS the fake terminates (IAM only); urllib3 says so.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

DEVICE = "ibmq_manila"


def quantum_config(**quantum: Any) -> Any:
    cfg = parse_description({"resource_type": "quantum", "quantum": quantum}).quantum
    assert cfg is not None
    return cfg


def local_pilot(name: str, **quantum: Any) -> dict[str, Any]:
    return {
        "resource_type": "quantum",
        "name": name,
        "cores_per_node": 0.25,
        "dreamer_enabled": False,
        "quantum": {"executor": "ibm_runtime", "local": True, "seed": 7, **quantum},
    }


def ry_sweep_circuit() -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1, 1, name="ry")
    qc.ry(Parameter("theta"), 0)
    qc.measure(0, 0)
    return qc


def assert_bell(counts: dict[str, int], shots: int) -> None:
    assert sum(counts.values()) == shots
    assert counts.get("00", 0) + counts.get("11", 0) >= 0.8 * shots, counts  # noisy device


# ------------------------------------------------------------------ configuration
def test_an_unknown_mode_is_a_config_error_naming_the_key_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        quantum_config(executor="ibm_runtime", local=True, mode="sesion")
    assert info.value.key == "quantum.mode"
    assert str(info.value) == (
        "quantum.mode: 'sesion' is not allowed; expected 'job', 'session' or 'batch' "
        "(did you mean 'session'?)"
    )


def test_mode_on_another_executor_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        quantum_config(executor="qiskit_local", mode="session")
    assert info.value.key == "quantum.mode"
    assert "apply to executor 'ibm_runtime' only, not 'qiskit_local'" in str(info.value)
    assert "[executors.ibm_runtime]" in str(info.value)


def test_session_max_time_needs_a_session_or_a_batch() -> None:
    with pytest.raises(ConfigError) as info:
        quantum_config(executor="ibm_runtime", local=True, session_max_time=600)
    assert info.value.key == "quantum.session_max_time"
    assert "needs quantum.mode 'session' or 'batch'" in str(info.value)
    cfg = quantum_config(executor="ibm_runtime", local=True, mode="batch", session_max_time=600)
    assert (cfg.mode, cfg.session_max_time) == ("batch", 600)


def test_job_mode_is_the_packaged_default() -> None:
    assert quantum_config(executor="ibm_runtime", local=True).mode == "job"
    assert quantum_config(executor="qiskit_local").mode == "job"  # and no error there


def test_a_closed_backend_opens_no_new_session() -> None:
    backend = IBMRuntimeBackend(
        quantum_config(executor="ibm_runtime", local=True, mode="session"), pilot="closing"
    )
    (out,) = backend.run_native("fake_manila", [bell_qiskit()], 100)
    assert backend.execution_modes() == {"fake_manila": out.metadata["session_id"]}
    backend.close()
    assert backend.execution_modes() == {}
    with pytest.raises(BackendUnavailableError, match="shutting down: its IBM Quantum sessions"):
        backend.run_native("fake_manila", [bell_qiskit()], 100)


# ------------------------------------------------------------------ local testing mode, via Ray
@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Iterator[Any]:
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=workdir) as service:
        yield service


@pytest.mark.slow
def test_session_mode_consecutive_tasks_share_one_session_until_cancel(pcs: Any) -> None:
    from pilot import QuantumTask

    pilot = pcs.create_pilot(local_pilot("ibm-session", mode="session"))
    results = []
    for _ in range(3):  # an optimiser loop: each task waits for the one before
        ref = pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=500, pilot="ibm-session"))
        results.append(pcs.get_results(ref, timeout=120))
    ids = {r.metadata["session_id"] for r in results}
    assert len(ids) == 1, ids
    (session_id,) = ids
    assert session_id.startswith("local-session-")
    assert {r.metadata["execution_mode"] for r in results} == {"session"}
    assert len({r.metadata["job_id"] for r in results}) == 3  # three jobs in it
    for r in results:
        assert_bell(r.counts, 500)

    pilot.cancel()  # closes the session with the pilot
    pcs.create_pilot(local_pilot("ibm-session-2", mode="session"))
    later = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100, pilot="ibm-session-2")),
        timeout=120,
    )
    assert later.metadata["session_id"].startswith("local-session-")
    assert later.metadata["session_id"] != session_id
    pcs.get_pilot("ibm-session-2").cancel()


@pytest.mark.slow
def test_batch_mode_a_sweep_runs_in_one_batch(pcs: Any) -> None:
    from pilot import QuantumTask

    pilot = pcs.create_pilot(local_pilot("ibm-batch", mode="batch"))
    rows = [[0.0], [math.pi], [0.0], [math.pi], [0.0], [math.pi]]
    refs = pcs.submit_quantum_task(
        QuantumTask(ry_sweep_circuit(), shots=400, pilot="ibm-batch", parameter_values=rows)
    )
    results = pcs.get_results(refs, timeout=180)
    assert len(results) == len(rows)
    # Each row is its own job (the sweep reaches the actor in several calls and threads) ...
    assert len({r.metadata["job_id"] for r in results}) == len(rows)
    # ... and every job ran in the pilot's one batch.
    ids = {r.metadata["batch_id"] for r in results}
    assert len(ids) == 1, ids
    assert next(iter(ids)).startswith("local-batch-")
    assert {r.metadata["execution_mode"] for r in results} == {"batch"}
    assert all("session_id" not in r.metadata for r in results)
    for (theta,), r in zip(rows, results, strict=True):
        expected = "0" if theta == 0.0 else "1"
        assert r.counts[expected] >= 0.85 * 400, (theta, r.counts)
    pilot.cancel()


@pytest.mark.slow
def test_job_mode_records_no_session(pcs: Any) -> None:
    from pilot import QuantumTask

    pilot = pcs.create_pilot(local_pilot("ibm-job"))
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=200, pilot="ibm-job")),
        timeout=120,
    )
    assert result.metadata["execution_mode"] == "job"
    assert "session_id" not in result.metadata and "batch_id" not in result.metadata
    assert result.metadata["job_id"]
    assert_bell(result.counts, 200)
    pilot.cancel()


# ------------------------------------------------------------------ the real client, fake platform
@pytest.fixture(scope="module")
def _platform() -> Iterator[FakeIBMQuantumPlatform]:
    with FakeIBMQuantumPlatform() as fake:
        yield fake


@pytest.fixture
def fake(_platform: FakeIBMQuantumPlatform) -> FakeIBMQuantumPlatform:
    _platform.reset()
    return _platform


def cloud_backend(fake: FakeIBMQuantumPlatform, **quantum: Any) -> IBMRuntimeBackend:
    quantum = fake.quantum_config(backend=DEVICE, poll_interval_seconds=0.05, **quantum)
    return IBMRuntimeBackend(quantum_config(**quantum), pilot="ibmq")


def run_task(backend: IBMRuntimeBackend, task_id: str) -> NativeOutput:
    with running(JobContext(task_id)):
        (out,) = backend.run_native(DEVICE, [bell_qiskit()], 200)
    return out


def test_session_jobs_carry_the_session_id_to_the_service(fake: FakeIBMQuantumPlatform) -> None:
    backend = cloud_backend(fake, mode="session", session_max_time=900)
    outs = [run_task(backend, f"t{i}") for i in range(3)]
    (session,) = fake.sessions.values()  # one POST /sessions for three tasks
    assert (session.mode, session.backend, session.max_ttl) == ("dedicated", DEVICE, 900)
    assert [o.metadata["session_id"] for o in outs] == [session.id] * 3
    assert [o.metadata["job_id"] for o in outs] == session.jobs
    assert [fake.jobs[j].session_id for j in session.jobs] == [session.id] * 3

    backend.close()  # what the pilot's cancel() runs on its actor
    assert session.accepting_jobs is False
    assert session.state(fake.jobs) == "closed"
    assert fake.calls("CloseSession") == 1 and fake.calls("CancelSession") == 0


def test_batch_mode_concurrent_jobs_share_one_batch_at_the_service(
    fake: FakeIBMQuantumPlatform,
) -> None:
    backend = cloud_backend(fake, mode="batch")
    outs: dict[int, NativeOutput] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:  # as a pilot actor runs a sweep's specs, on several threads
        try:
            outs[i] = run_task(backend, f"row{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    (batch,) = fake.sessions.values()
    assert batch.mode == "batch"
    assert sorted(batch.jobs) == sorted(o.metadata["job_id"] for o in outs.values())
    assert {o.metadata["batch_id"] for o in outs.values()} == {batch.id}
    assert {fake.jobs[j].session_id for j in batch.jobs} == {batch.id}
    backend.close()
    assert batch.accepting_jobs is False


def test_a_session_the_service_ended_is_reopened_for_the_next_task(
    fake: FakeIBMQuantumPlatform,
) -> None:
    backend = cloud_backend(fake, mode="session")
    first = run_task(backend, "before")
    fake.end_session(first.metadata["session_id"])  # its max_ttl passed
    second = run_task(backend, "after")
    assert second.metadata["session_id"] != first.metadata["session_id"]
    assert list(fake.sessions) == [first.metadata["session_id"], second.metadata["session_id"]]
    assert fake.jobs[second.metadata["job_id"]].session_id == second.metadata["session_id"]
    # The job was refused once by the ended session, then created in the new one.
    created = [status for _, op, status in fake.requests if op == "CreateJob"]
    assert created == [200, 400, 200]
    assert_bell(second.counts or {}, 200)
    backend.close()


def test_a_plan_without_sessions_is_a_config_error_naming_quantum_mode(
    fake: FakeIBMQuantumPlatform,
) -> None:
    fake.session_modes = {"batch"}  # as for an Open Plan instance
    backend = cloud_backend(fake, mode="session")
    with pytest.raises(ConfigError) as info:
        run_task(backend, "t")
    assert info.value.key == "quantum.mode"
    assert "did not open a session on ibmq_manila" in str(info.value)
    assert "Open Plan instances cannot open sessions: use quantum.mode 'batch' or 'job'" in str(
        info.value
    )
    assert fake.jobs == {}


def test_job_mode_opens_no_session_at_the_service(fake: FakeIBMQuantumPlatform) -> None:
    backend = cloud_backend(fake)
    out = run_task(backend, "t")
    assert out.metadata["execution_mode"] == "job" and "session_id" not in out.metadata
    assert fake.sessions == {}
    assert fake.jobs[out.metadata["job_id"]].session_id is None
    backend.close()
    assert fake.calls("CloseSession") == 0


@pytest.mark.slow
def test_cancelling_the_pilot_closes_its_session_at_the_service(
    pcs: Any, fake: FakeIBMQuantumPlatform
) -> None:
    from pilot import QuantumTask

    pilot = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "name": "ibmq-session",
            "cores_per_node": 0.25,
            "dreamer_enabled": False,
            "quantum": fake.quantum_config(
                backend=DEVICE, poll_interval_seconds=0.1, mode="session"
            ),
        }
    )
    results = [
        pcs.get_results(
            pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=200, pilot="ibmq-session")),
            timeout=120,
        )
        for _ in range(2)
    ]
    (session,) = fake.sessions.values()
    assert [r.metadata["session_id"] for r in results] == [session.id] * 2
    assert session.accepting_jobs is True
    pilot.cancel()
    assert session.accepting_jobs is False  # PATCH /sessions/<id> before the actor was killed
    assert session.state(fake.jobs) == "closed"

"""``ionq`` against IonQ's v0.4 API, through the real qiskit-ionq client.

The client (``IonQProvider``, ``IonQBackend``, ``IonQJob``, ``IonQClient``)
runs unmodified: it submits ``ionq.circuit.v1`` jobs, polls them, reads their
probabilities, cancels them and finds them again by id.  Only the network ends
at a fake API on loopback (``tests/fakes/ionq_service.py``).  Nothing of ours
is mocked.

Most tests use the backend class directly (no Ray), inside a ``JobContext`` as
a pilot actor does; the last ones go through ``PilotComputeService`` on the
session's Ray: cancelling a task, and QDREAMER ranking IonQ resources, pricing
the QPU and failing over when one is unavailable.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from pilot.backends.base import PreparedCircuit
from pilot.backends.errors import is_unavailable
from pilot.backends.ionq import IonQBackend, IonQTransientError
from pilot.backends.jobs import JobContext, RetryPolicy, running
from pilot.config import parse_description
from pilot.errors import (
    ConfigError,
    CredentialsError,
    PilotError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
)
from pilot.redaction import IONQ_KEY_ENV
from tests.fakes.ionq_service import FakeIonQService

#: A planted key: it must never appear in a log, an error, a repr or a result.
KEY = "planted-ionq-key-5d1c9e7a3b2f4a6081c7e9d2"
FAST = RetryPolicy(max_attempts=8, backoff_seconds=0.02, max_backoff_seconds=0.2)
DEVICES = ["simulator", "simulator.aria-1", "qpu.aria-1", "qpu.forte-1"]


@pytest.fixture(scope="module")
def _service() -> Iterator[FakeIonQService]:
    with FakeIonQService(key=KEY) as fake:
        yield fake


@pytest.fixture
def fake(_service: FakeIonQService) -> FakeIonQService:
    _service.reset()
    return _service


def quantum(fake: FakeIonQService, **extra: Any) -> dict[str, Any]:
    return fake.quantum_config(
        **{"backends": DEVICES, "poll_interval_seconds": 0.02, "seed": 7, **extra}
    )


def make_backend(fake: FakeIonQService, **extra: Any) -> IonQBackend:
    cfg = parse_description({"resource_type": "quantum", "quantum": quantum(fake, **extra)}).quantum
    assert cfg is not None
    return IonQBackend(cfg, pilot="ionq")


@pytest.fixture(scope="module")
def backend(_service: FakeIonQService) -> IonQBackend:
    return make_backend(_service)


def bell() -> PreparedCircuit:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    return PreparedCircuit(qc, (0, 1))


def assert_bell(counts: dict[str, int], shots: int, noisy: bool = False) -> None:
    assert sum(counts.values()) == shots
    if not noisy:
        assert set(counts) == {"00", "11"}, counts
    for key in ("00", "11"):
        assert abs(counts[key] - shots / 2) <= 5 * math.sqrt(shots / 4) + (
            0.05 * shots if noisy else 0
        )


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


def raised_from(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__
    return False


# ------------------------------------------------------------------ connecting
def test_capabilities_come_from_the_backend_list_and_characterizations(
    backend: IonQBackend,
) -> None:
    caps = {c.name: c for c in backend.resources()}
    assert list(caps) == DEVICES
    sim, noisy, aria, forte = (caps[n] for n in DEVICES)
    assert (sim.num_qubits, sim.simulator, sim.noisy, sim.supports_exact) == (29, True, False, True)
    assert sim.default_errors == {} and sim.max_shots is None
    # The noise model's resource carries the characterization of the QPU it models.
    assert noisy.noisy and not noisy.supports_exact and noisy.simulator
    assert noisy.default_errors == aria.default_errors
    assert aria.default_errors == pytest.approx({"1q": 0.0005, "2q": 0.014, "readout": 0.0039})
    assert aria.durations == pytest.approx({"1q": 135e-6, "2q": 600e-6, "readout": 300e-6})
    assert (aria.num_qubits, forte.num_qubits, forte.max_shots) == (25, 36, 10_000)
    assert forte.coupling_map is None and {"cx", "rz", "rzz"} <= forte.native_gates
    assert {c.provider for c in caps.values()} == {"ionq"}


def test_status_reports_availability_and_queue_time(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    assert backend.status("qpu.forte-1").online is True
    device = fake.devices["qpu.forte-1"]
    device.average_queue_time, device.degraded = 1_200_000, True  # 20 minutes
    status = backend.status("qpu.forte-1")
    assert status.online and status.queue_seconds == 1200 and status.queue_depth == 0
    assert "degraded" in status.message and "1200 s" in status.message
    device.status = "unavailable"
    assert backend.status("qpu.forte-1").online is False
    assert backend.status("simulator.aria-1").online is True  # the simulator's own status


def test_unknown_backend_is_a_config_error_naming_the_valid_ones(fake: FakeIonQService) -> None:
    with pytest.raises(ConfigError, match=r"qpu\.aria-1") as info:
        make_backend(fake, backends=["qpu.aria-2"])
    assert info.value.key == "quantum.backends"
    with pytest.raises(ConfigError, match=r"simulator\.forte-1"):
        make_backend(fake, backends=["simulator.harmony"])
    # qiskit-ionq's own spellings are accepted.
    ok = make_backend(fake, backends=["ionq_simulator", "ionq_qpu.aria-1"])
    assert ok.resource_names() == ["simulator", "qpu.aria-1"]


def test_a_refused_key_is_a_credentials_error_naming_the_variable(
    fake: FakeIonQService,
) -> None:
    wrong = "wrong-ionq-key-0b1c2d3e4f5a6b7c8d9e"
    with pytest.raises(CredentialsError) as info:
        make_backend(fake, ionq_api_key=wrong)
    text = str(info.value)
    assert "IonQ refused the API key" in text and "HTTP 401" in text
    assert "set IONQ_API_KEY (or quantum.ionq_api_key)" in text
    assert ("ListJobs", 401) in fake.requests
    assert wrong not in "".join(traceback.format_exception(info.value))
    assert fake.jobs == {}


def test_without_a_key_it_refuses_before_any_request(
    fake: FakeIonQService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in IONQ_KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    conf = quantum(fake)
    del conf["ionq_api_key"]
    cfg = parse_description({"resource_type": "quantum", "quantum": conf}).quantum
    assert cfg is not None
    with pytest.raises(CredentialsError, match=r"needs an IonQ API key: set IONQ_API_KEY"):
        IonQBackend(cfg, pilot="ionq")
    assert fake.requests == []


def test_the_key_and_url_come_from_the_environment(
    fake: FakeIonQService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    cfg = parse_description(
        {"resource_type": "quantum", "quantum": {"executor": "ionq", "poll_interval_seconds": 0.02}}
    ).quantum
    assert cfg is not None
    backend = IonQBackend(cfg, pilot="env")
    assert backend.resource_names() == ["simulator"]
    with running(JobContext("t-env")):
        (counts,) = backend.sample("simulator", [bell()], 200)
    assert_bell(counts, 200)


# ------------------------------------------------------------------ jobs
@pytest.mark.parametrize("resource", DEVICES)
def test_bell_on_each_resource_through_a_job(
    fake: FakeIonQService, backend: IonQBackend, resource: str
) -> None:
    reported: list[tuple[str, str]] = []
    ctx = JobContext("t-bell", on_submit=lambda task, job: reported.append((task, job)))
    with running(ctx):
        (counts,) = backend.sample(resource, [bell()], 1000)
    assert_bell(counts, 1000, noisy=resource != "simulator")
    (job,) = fake.jobs.values()
    assert reported == [("t-bell", job.id)]
    api, _, model = resource.partition(".") if resource.startswith("sim") else (resource, "", "")
    assert (job.backend, job.noise_model, job.status) == (api, model or "ideal", "completed")
    assert job.get_calls >= 3  # polled through ready and started
    assert fake.calls("GetJobProbabilities") == 1


def test_exact_probabilities_from_the_ideal_simulator(backend: IonQBackend) -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3)
    qc.ry(1.0, 0)
    qc.x(2)
    with running(JobContext("t-exact")):
        (dist,) = backend.exact("simulator", [PreparedCircuit(qc, (2, 0))])
    p1 = math.sin(0.5) ** 2
    assert dist == pytest.approx({"10": 1 - p1, "11": p1}, abs=1e-12)


def test_cancel_from_another_thread_reaches_ionq(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    fake.hold_jobs = True
    ctx = JobContext("t-cancel")
    cancelled: list[list[str]] = []

    def cancel_when_submitted() -> None:
        wait_for(lambda: bool(ctx.jobs))
        cancelled.append(ctx.cancel())

    canceller = threading.Thread(target=cancel_when_submitted)
    canceller.start()
    with pytest.raises(TaskCancelledError, match="t-cancel"), running(ctx):
        backend.sample("qpu.aria-1", [bell()], 100)
    canceller.join(timeout=20)
    (job,) = fake.jobs.values()
    assert cancelled == [[job.id]]
    assert fake.cancelled == [job.id] and job.status == "canceled"
    assert fake.calls("GetJobProbabilities") == 0


def test_deadline_cancels_the_job_and_raises_timeout(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    fake.hold_jobs = True
    ctx = JobContext("t-late", deadline=time.monotonic() + 1.0)
    with pytest.raises(TaskTimeoutError) as info, running(ctx):
        backend.sample("qpu.forte-1", [bell()], 100)
    (job,) = fake.jobs.values()
    assert "t-late" in str(info.value) and job.id in str(info.value)
    assert fake.cancelled == [job.id] and job.status == "canceled"


def test_a_failed_job_raises_ionqs_reason_without_retrying(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    fake.fail_next_job("QuantumComputerError", "qubit 3 lost its ion")
    with (
        pytest.raises(TaskFailedError, match="QuantumComputerError: qubit 3 lost its ion"),
        running(JobContext("t-failed", retry=FAST)),
    ):
        backend.sample("qpu.aria-1", [bell()], 100)
    (job,) = fake.jobs.values()
    assert job.status == "failed"
    assert fake.calls("CreateJob") == 1 and fake.calls("GetJobProbabilities") == 0


def test_a_known_job_is_reattached_not_submitted_again(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    with running(JobContext("t-resume")):
        (before,) = backend.sample("qpu.aria-1", [bell()], 500)
    (job_id,) = fake.jobs
    resumed = JobContext("t-resume", known=[job_id])
    with running(resumed):
        (after,) = backend.sample("qpu.aria-1", [bell()], 500)
    assert after == before
    assert resumed.attached == [job_id]
    assert fake.calls("CreateJob") == 1 and list(fake.jobs) == [job_id]


def test_a_known_job_still_queued_is_awaited(fake: FakeIonQService, backend: IonQBackend) -> None:
    fake.hold_jobs = True
    first = JobContext("t-driver-died")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with running(first):
                backend.sample("qpu.aria-1", [bell()], 200)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: bool(first.jobs))
    first.cancelled.set()  # the old driver goes away; its job stays queued at IonQ
    thread.join(timeout=20)
    assert [type(e) for e in outcome] == [TaskCancelledError]
    (job_id,) = fake.jobs
    assert fake.jobs[job_id].status == "ready"
    fake.hold_jobs = False
    with running(JobContext("t-driver-died", known=[job_id])):
        (counts,) = backend.sample("qpu.aria-1", [bell()], 200)
    assert_bell(counts, 200, noisy=True)
    assert fake.calls("CreateJob") == 1 and fake.jobs[job_id].status == "completed"


def test_a_job_ionq_no_longer_knows_is_submitted_anew(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    resumed = JobContext("t-gone", known=["0b7d0f0e-0000-4000-8000-000000000000"])
    with running(resumed):
        (counts,) = backend.sample("simulator", [bell()], 300)
    assert_bell(counts, 300)
    assert ("GetJob", 404) in fake.requests
    assert fake.calls("CreateJob") == 1


def test_429_with_retry_after_and_5xx_are_retried(
    fake: FakeIonQService, backend: IonQBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pilot.backends.jobs")
    fake.fail_next("CreateJob", 429, retry_after=0.3)
    fake.fail_next("GetJob", 503, times=2)
    fake.fail_next("GetJobProbabilities", 502)
    fake.fail_next("GetJob", "reset")
    start = time.monotonic()
    with running(JobContext("t-flaky", retry=FAST)):
        (counts,) = backend.sample("simulator", [bell()], 400)
    assert_bell(counts, 400)
    assert time.monotonic() - start >= 0.3  # waited as Retry-After asked (backoff: <= 0.2)
    assert sorted(str(s) for _, s in fake.injected) == ["429", "502", "503", "503", "reset"]
    assert fake.calls("CreateJob") == 2 and len(fake.jobs) == 1  # paid once
    assert len([r for r in caplog.records if "failed transiently" in r.getMessage()]) == 5


def test_persistent_throttling_ends_as_unavailable_after_bounded_retries(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    fake.fail_next("GetJob", 429, times=100)
    policy = RetryPolicy(max_attempts=4, backoff_seconds=0.01, max_backoff_seconds=0.05)
    with (
        pytest.raises(IonQTransientError, match="HTTP 429") as info,
        running(JobContext("t-throttled", retry=policy)),
    ):
        backend.sample("qpu.aria-1", [bell()], 100)
    assert is_unavailable(info.value)  # QDREAMER fails the task over
    assert info.value.status_code == 429
    assert fake.calls("GetJob") == 4  # the SDK's own unbounded retry is not used


def test_a_bad_request_is_an_error_of_the_task_not_retried(
    fake: FakeIonQService, backend: IonQBackend
) -> None:
    from qiskit import QuantumCircuit

    wide = QuantumCircuit(27)  # the simulator has 29 qubits, Aria 25
    wide.h(range(27))
    with (
        pytest.raises(Exception, match=r"27 qubits exceed qpu\.aria-1") as info,
        running(JobContext("t-wide", retry=FAST)),
    ):
        backend.sample("qpu.aria-1", [PreparedCircuit(wide, (0,))], 10)
    assert not is_unavailable(info.value)
    assert fake.calls("CreateJob") == 1


def test_key_never_in_logs_errors_reprs_or_results(
    fake: FakeIonQService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = make_backend(fake)
    with running(JobContext("t-secret", retry=FAST)):
        outputs = backend.run_native("simulator", [bell().body.measure_all(inplace=False)], 50)
    errors: list[BaseException] = []
    fake.fail_next("CreateJob", 500, times=100)
    try:
        with running(JobContext("t-secret-2", retry=RetryPolicy(max_attempts=2))):
            backend.sample("simulator", [bell()], 50)
    except Exception as exc:
        errors.append(exc)
    assert len(errors) == 1 and is_unavailable(errors[0])
    for error in errors:
        assert KEY not in "".join(traceback.format_exception(error))
    assert KEY not in repr(backend) and KEY not in repr(outputs) and KEY not in repr(backend.config)
    assert KEY not in caplog.text
    assert outputs[0].metadata["job_id"] in fake.jobs


# ------------------------------------------------------------------ through the service
@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, _service: FakeIonQService) -> Iterator[Any]:
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "ionq",
                "cores_per_node": 0.25,
                "quantum": quantum(
                    _service,
                    failure_hold_seconds=5,
                    retries={
                        "max_attempts": 3,
                        "backoff_seconds": 0.05,
                        "max_backoff_seconds": 0.1,
                    },
                ),
            }
        )
        yield service


@pytest.mark.slow
def test_cancel_task_cancels_the_remote_job(pcs: Any, fake: FakeIonQService) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    fake.hold_jobs = True
    ref = pcs.submit_quantum_task(
        QuantumTask(bell_qiskit(), shots=100, pilot="ionq", resource="qpu.aria-1")
    )
    wait_for(lambda: bool(fake.jobs), timeout=60)
    (job_id,) = fake.jobs
    assert pcs.cancel_task(ref) >= 1
    wait_for(lambda: fake.cancelled == [job_id], timeout=30)
    assert fake.jobs[job_id].status == "canceled"
    with pytest.raises(PilotError) as info:
        pcs.get_results(ref, timeout=60)
    assert raised_from(info.value, TaskCancelledError), repr(info.value)


@pytest.mark.slow
def test_qdreamer_ranks_prices_and_fails_over_ionq_resources(
    pcs: Any, fake: FakeIonQService
) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    task = QuantumTask(bell_qiskit(), shots=1000)
    q = pcs.initialize_dreamer(objective="fidelity")
    ranked = {r.resource.name: r for r in q.rank(task)}
    assert set(ranked) == set(DEVICES)
    # The ideal simulator first; the noisy ones by their characterization: Forte's
    # 2q fidelity (0.9952) beats Aria's (0.986), and the Aria noise model ranks as Aria.
    order = [r.resource.name for r in q.rank(task)]
    assert order[0] == "simulator" and order.index("qpu.forte-1") < order.index("qpu.aria-1")
    fid = {n: r.breakdown["estimated_fidelity"] for n, r in ranked.items()}
    assert fid["simulator.aria-1"] == pytest.approx(fid["qpu.aria-1"])
    # The QPUs are priced per gate-shot (conf/pricing.toml); the simulator is free.
    costs = pcs.estimate_cost(task, resource="qpu.aria-1")
    # IonQ's published formula: USD 97.50 per job plus the gate-shots of one H, one CX.
    assert costs["total_cost"] == pytest.approx(97.50 + 1000 * (0.000220 + 0.000975))
    assert ranked["simulator"].breakdown.get("estimated_cost", 0) == 0

    # QDREAMER's choice is unavailable (IonQ answers 503 however often it is asked):
    # the task moves to the next-ranked resource.
    q = pcs.initialize_dreamer(
        objective="fidelity", resources=["ionq/qpu.forte-1", "ionq/qpu.aria-1"]
    )
    q.stop_background_monitoring()
    assert q.select(task).key == "ionq/qpu.forte-1"
    fake.fail_next("CreateJob", 503, times=3)  # every attempt of the first submission
    result = pcs.get_results(pcs.submit_quantum_task(task), timeout=120)
    assert result.backend == "qpu.aria-1" and sum(result.counts.values()) == 1000
    (hop,) = result.selection["failover"]
    assert hop["resource"] == "qpu.forte-1" and "HTTP 503" in hop["error"], hop
    assert [job.backend for job in fake.jobs.values()] == ["qpu.aria-1"]

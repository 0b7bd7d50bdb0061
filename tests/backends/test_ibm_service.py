"""``ibm_runtime`` against IBM Quantum Platform, through the real qiskit-ibm-runtime client.

The client (``QiskitRuntimeService``, ``IBMBackend``, the client-side
``Sampler``, ``RuntimeJobV2``) runs unmodified: it signs in at IAM, lists the
account's instances, builds the device's ``Target`` from the backend's
configuration and properties, submits an ``executor`` job, polls it, cancels
it and finds it again by id.  Only the network ends at a fake platform on
loopback (``tests/fakes/ibm_service.py``), which the client reaches as its
proxy; the fake runs the submitted program with the runtime's own decoder and
local runner.  Nothing of ours is mocked.

Most tests use the backend class directly (no Ray), inside a
``JobContext``, as a pilot actor does; one goes through ``PilotComputeService``
on the session's Ray, the actor reaching the fake over loopback.
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
from pilot.backends.ibm import TOKEN_ENV, IBMRuntimeBackend, IBMTransientError
from pilot.backends.jobs import JobContext, RetryPolicy, running
from pilot.config import parse_description
from pilot.errors import (
    ConfigError,
    CredentialsError,
    PilotError,
    PilotStartError,
    TaskCancelledError,
    TaskTimeoutError,
)
from tests.fakes.ibm_service import FakeIBMQuantumPlatform

# verify=False is needed for the TLS the fake terminates (IAM only); urllib3 says so.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

#: A planted token: it must never appear in a log, an error, a repr or a result.
TOKEN = "planted-ibm-token-7f3a9c1e5b2d4f60a8e6c4b2"
DEVICE = "ibmq_manila"
FAST = RetryPolicy(max_attempts=8, backoff_seconds=0.02, max_backoff_seconds=0.2)


@pytest.fixture(scope="module")
def _platform() -> Iterator[FakeIBMQuantumPlatform]:
    with FakeIBMQuantumPlatform(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(_platform: FakeIBMQuantumPlatform) -> FakeIBMQuantumPlatform:
    _platform.reset()
    return _platform


@pytest.fixture(scope="module")
def backend(_platform: FakeIBMQuantumPlatform) -> IBMRuntimeBackend:
    """One signed-in backend for the module (the fake's state is reset per test)."""
    return make_backend(_platform)


def quantum(fake: FakeIBMQuantumPlatform, **extra: Any) -> dict[str, Any]:
    return fake.quantum_config(**{"backend": DEVICE, "poll_interval_seconds": 0.1, **extra})


def make_backend(fake: FakeIBMQuantumPlatform, **extra: Any) -> IBMRuntimeBackend:
    cfg = parse_description({"resource_type": "quantum", "quantum": quantum(fake, **extra)}).quantum
    assert cfg is not None
    return IBMRuntimeBackend(cfg, pilot="ibmq")


def bell_job() -> PreparedCircuit:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    return PreparedCircuit(qc, (0, 1))


def assert_bell(counts: dict[str, int], shots: int) -> None:
    assert set(counts) == {"00", "11"}, counts  # the fake simulates without noise
    assert sum(counts.values()) == shots
    for key in ("00", "11"):
        assert abs(counts[key] - shots / 2) <= 5 * math.sqrt(shots / 4), counts


def raised_from(exc: BaseException | None, kind: type[BaseException]) -> bool:
    """Is ``exc``, or an error it was raised from, a ``kind``?  (Ray's error for a
    task's exception subclasses the exception's type.)"""
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__
    return False


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.05)


# ------------------------------------------------------------------ connecting
def test_signs_in_and_builds_the_device_from_its_snapshot(
    fake: FakeIBMQuantumPlatform,
) -> None:
    backend = make_backend(fake)
    (res,) = backend.resources()
    assert (res.name, res.executor, res.provider, res.num_qubits) == (
        DEVICE,
        "ibm_runtime",
        "ibm",
        5,
    )
    assert res.simulator is False
    assert res.max_shots == fake.devices[DEVICE].configuration["max_shots"]
    # The real sign-in: API key exchanged at IAM, instances found with Global Search,
    # the device's configuration and calibration read from the Quantum API.
    hosts_ops = {(host, op) for host, op, status in fake.requests if status == 200}
    assert {
        ("iam.cloud.ibm.com", "IAMToken"),
        ("api.global-search-tagging.cloud.ibm.com", "SearchResources"),
        ("globalcatalog.cloud.ibm.com", "GetCatalogEntry"),
        ("quantum.cloud.ibm.com", "GetBackendConfiguration"),
        ("quantum.cloud.ibm.com", "GetBackendProperties"),
    } <= hosts_ops


def test_url_selects_the_ibm_cloud_the_client_talks_to(fake: FakeIBMQuantumPlatform) -> None:
    make_backend(fake, url="http://test.cloud.ibm.com")
    hosts = {host for host, _, _ in fake.requests}
    assert {"quantum.test.cloud.ibm.com", "api.global-search-tagging.test.cloud.ibm.com"} <= hosts
    assert "quantum.cloud.ibm.com" not in hosts


def test_status_comes_from_the_backend_status_endpoint(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    assert backend.status(DEVICE).online is True
    device = fake.devices[DEVICE]
    device.online, device.queue_length = False, 7
    before = fake.calls("GetBackendStatus")
    status = backend.status(DEVICE)
    assert (status.online, status.queue_depth, status.message) == (False, 7, "maintenance")
    assert fake.calls("GetBackendStatus") == before + 1


def test_unknown_backend_is_a_config_error_naming_the_devices(
    fake: FakeIBMQuantumPlatform,
) -> None:
    with pytest.raises(ConfigError, match="ibmq_manila") as info:
        make_backend(fake, backend="ibmq_manilla")
    assert info.value.key == "quantum.backend"
    assert info.value.suggestion == "ibmq_manila"


def test_wrong_token_fails_to_start_without_echoing_it(fake: FakeIBMQuantumPlatform) -> None:
    wrong = "wrong-ibm-token-0b1c2d3e4f5a6b7c8d9e"
    with pytest.raises(PilotStartError, match="could not connect to IBM Quantum") as info:
        make_backend(fake, token=wrong)
    assert ("iam.cloud.ibm.com", "IAMToken", 400) in fake.requests
    text = "".join(traceback.format_exception(info.value))
    assert wrong not in text and TOKEN not in text
    assert fake.jobs == {}


def test_without_a_token_it_refuses_as_before(
    fake: FakeIBMQuantumPlatform, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no saved account (~/.qiskit)
    conf = quantum(fake)
    del conf["token"]
    cfg = parse_description({"resource_type": "quantum", "quantum": conf}).quantum
    assert cfg is not None
    with pytest.raises(CredentialsError, match=r"IBM_QUANTUM_TOKEN.*quantum\.local = true"):
        IBMRuntimeBackend(cfg, pilot="ibmq")
    assert fake.requests == []


# ------------------------------------------------------------------ jobs
def test_bell_in_a_job_context_reports_the_job(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    reported: list[tuple[str, str]] = []
    ctx = JobContext("t-bell", on_submit=lambda task, job: reported.append((task, job)))
    with running(ctx):
        (counts,) = backend.sample(DEVICE, [bell_job()], 1000)
    assert_bell(counts, 1000)
    (job,) = fake.jobs.values()
    assert reported == [("t-bell", job.id)]
    assert (job.backend, job.program_id, job.status) == (DEVICE, "executor", "Completed")
    assert job.get_calls >= 3  # polled through Queued and Running
    assert fake.calls("GetJobResults") == 1


def test_cancel_from_another_thread_reaches_the_service(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
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
        backend.sample(DEVICE, [bell_job()], 100)
    canceller.join(timeout=20)
    (job,) = fake.jobs.values()
    assert cancelled == [[job.id]]
    assert fake.cancelled == [job.id]
    assert job.status == "Cancelled"
    assert fake.calls("GetJobResults") == 0


def test_deadline_cancels_the_job_and_raises_timeout(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    fake.hold_jobs = True
    ctx = JobContext("t-late", deadline=time.monotonic() + 1.5)
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError) as info, running(ctx):
        backend.sample(DEVICE, [bell_job()], 100)
    assert time.monotonic() - start < 10
    (job,) = fake.jobs.values()
    assert "t-late" in str(info.value) and job.id in str(info.value)
    assert fake.cancelled == [job.id]
    assert job.status == "Cancelled"


def test_a_failed_job_raises_its_reason_without_retrying(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    fake.fail_next_job("Internal Server Error: qubit 3 calibration lost")
    with (
        pytest.raises(Exception, match="qubit 3 calibration lost") as info,
        running(JobContext("t-failed", retry=FAST)),
    ):
        backend.sample(DEVICE, [bell_job()], 100)
    assert type(info.value).__name__ == "RuntimeJobFailureError"
    (job,) = fake.jobs.values()
    assert job.status == "Failed"
    assert fake.calls("GetJobResults") == 1  # the SDK reads the error text, once
    assert fake.calls("CreateJob") == 1


def test_a_known_job_is_reattached_not_submitted_again(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    first = JobContext("t-resume")
    with running(first):
        (before,) = backend.sample(DEVICE, [bell_job()], 500)
    (job_id,) = fake.jobs
    assert fake.calls("CreateJob") == 1

    # A restarted driver knows the task's job id from its journal.
    resumed = JobContext("t-resume", known=[job_id])
    with running(resumed):
        (after,) = backend.sample(DEVICE, [bell_job()], 500)
    assert after == before
    assert resumed.attached == [job_id]
    assert [jid for jid, _ in resumed.jobs] == [job_id]
    assert fake.calls("CreateJob") == 1  # no second POST /jobs
    assert list(fake.jobs) == [job_id]


def test_a_known_job_still_running_is_awaited(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    fake.hold_jobs = True
    first = JobContext("t-driver-died")
    outcome: list[BaseException] = []
    thread = threading.Thread(target=_run_in, args=(backend, first, outcome))
    thread.start()
    wait_for(lambda: bool(first.jobs))
    first.cancelled.set()  # the old driver goes away; its job keeps running remotely
    thread.join(timeout=20)
    assert [type(e) for e in outcome] == [TaskCancelledError]
    (job_id,) = fake.jobs
    assert fake.jobs[job_id].status == "Queued"

    fake.hold_jobs = False
    resumed = JobContext("t-driver-died", known=[job_id])
    with running(resumed):
        (counts,) = backend.sample(DEVICE, [bell_job()], 200)
    assert_bell(counts, 200)
    assert fake.calls("CreateJob") == 1
    assert fake.jobs[job_id].status == "Completed"


def _run_in(backend: IBMRuntimeBackend, ctx: JobContext, outcome: list[BaseException]) -> None:
    try:
        with running(ctx):
            backend.sample(DEVICE, [bell_job()], 200)
    except Exception as exc:
        outcome.append(exc)


@pytest.mark.slow
def test_thirty_percent_transient_failures_are_retried_and_results_are_right(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = 4
    with running(JobContext("t-clean", retry=FAST)):
        (expected,) = backend.sample(DEVICE, [bell_job()], 400)
    fake.reset()

    caplog.set_level(logging.INFO, logger="pilot.backends.jobs")
    fake.fail_randomly(0.3, statuses=(503, 429, "reset"), seed=2024)
    results = []
    for i in range(tasks):
        with running(JobContext(f"t-flaky-{i}", retry=FAST)):
            results.append(backend.sample(DEVICE, [bell_job()], 400)[0])
    fake.fail_randomly(0)

    # The fake simulates with a fixed seed: the same counts as without faults.
    assert results == [expected] * tasks
    kinds = {status for _, status in fake.injected}
    assert kinds == {503, 429, "reset"}, fake.injected
    served = len(fake.requests)
    assert len(fake.injected) >= 0.15 * served, (len(fake.injected), served)
    # Our retries (what the SDK's own session did not retry: 429s, resets of POSTs...).
    retries = [r for r in caplog.records if "failed transiently" in r.getMessage()]
    assert retries, "no retry by the job context"
    # Every failed submission was retried, none paid twice.
    failed_creates = sum(1 for op, _ in fake.injected if op == "CreateJob")
    assert len(fake.jobs) == tasks
    assert fake.calls("CreateJob") == tasks + failed_creates


def test_persistent_failure_ends_as_backend_unavailable_after_bounded_retries(
    fake: FakeIBMQuantumPlatform, backend: IBMRuntimeBackend
) -> None:
    fake.fail_next("GetJob", 429, times=100)
    policy = RetryPolicy(max_attempts=4, backoff_seconds=0.01, max_backoff_seconds=0.05)
    with (
        pytest.raises(IBMTransientError, match="429") as info,
        running(JobContext("t-throttled", retry=policy)),
    ):
        backend.sample(DEVICE, [bell_job()], 100)
    assert is_unavailable(info.value)  # QDREAMER fails the task over
    assert info.value.status_code == 429
    assert fake.calls("GetJob") == 4
    assert TOKEN not in "".join(traceback.format_exception(info.value))


def test_token_never_in_logs_errors_or_results(
    fake: FakeIBMQuantumPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = make_backend(fake)
    errors: list[BaseException] = []
    with running(JobContext("t-secret", retry=FAST)):
        outputs = backend.run_native(DEVICE, [bell_job().body.measure_all(inplace=False)], 50)
    fake.fail_next("CreateJob", 400)
    try:
        with running(JobContext("t-secret-2", retry=FAST)):
            backend.sample(DEVICE, [bell_job()], 50)
    except Exception as exc:
        errors.append(exc)
    assert len(errors) == 1
    for error in errors:
        assert TOKEN not in "".join(traceback.format_exception(error))
    assert TOKEN not in repr(backend) and TOKEN not in repr(outputs)
    assert TOKEN not in caplog.text
    assert outputs[0].metadata["job_id"] in fake.jobs
    # ibm_cloud_sdk_core would have switched on http.client's process-wide wire dump
    # (headers, the bearer token among them) and its print shim, which breaks other
    # HTTP clients (botocore) afterwards.
    import http.client

    assert http.client.HTTPConnection.debuglevel == 0
    assert "print" not in vars(http.client)


def test_local_testing_mode_runs_in_a_job_context() -> None:
    cfg = parse_description(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "ibm_runtime", "local": True, "seed": 5},
        }
    ).quantum
    assert cfg is not None
    backend = IBMRuntimeBackend(cfg, pilot="local")
    ctx = JobContext("t-local")
    with running(ctx):
        (counts,) = backend.sample("fake_manila", [bell_job()], 1000)
    assert sum(counts.values()) == 1000
    assert counts.get("00", 0) + counts.get("11", 0) > 900  # a noisy device
    assert len(ctx.jobs) == 1


# ------------------------------------------------------------------ through the service
@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, _platform: FakeIBMQuantumPlatform) -> Iterator[Any]:
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "ibmq",
                "cores_per_node": 0.25,
                "quantum": quantum(_platform),
            }
        )
        yield service


@pytest.mark.slow
def test_bell_end_to_end_through_the_service(pcs: Any, fake: FakeIBMQuantumPlatform) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=1000, pilot="ibmq")),
        timeout=120,
    )
    assert_bell(result.counts, 1000)
    assert (result.backend, result.executor) == (DEVICE, "ibm_runtime")
    (job,) = fake.jobs.values()
    assert (job.backend, job.status) == (DEVICE, "Completed")
    assert TOKEN not in repr(result)


def test_cancel_task_cancels_the_remote_job(pcs: Any, fake: FakeIBMQuantumPlatform) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    fake.hold_jobs = True
    ref = pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100, pilot="ibmq"))
    wait_for(lambda: bool(fake.jobs), timeout=60)
    (job_id,) = fake.jobs
    assert pcs.cancel_task(ref) >= 1
    wait_for(lambda: fake.cancelled == [job_id], timeout=30)
    assert fake.jobs[job_id].status == "Cancelled"
    with pytest.raises(PilotError) as info:
        pcs.get_results(ref, timeout=60)
    assert raised_from(info.value, TaskCancelledError), repr(info.value)


@pytest.mark.slow
def test_task_timeout_cancels_the_remote_job(pcs: Any, fake: FakeIBMQuantumPlatform) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    fake.hold_jobs = True
    ref = pcs.submit_quantum_task(
        QuantumTask(bell_qiskit(), shots=100, pilot="ibmq", timeout_seconds=4)
    )
    with pytest.raises(PilotError) as info:
        pcs.get_results(ref, timeout=90)
    assert raised_from(info.value, TaskTimeoutError), repr(info.value)
    (job_id,) = fake.jobs
    assert fake.cancelled == [job_id]
    assert fake.jobs[job_id].status == "Cancelled"
    assert job_id in str(info.value)

"""``azure_quantum`` against an Azure Quantum workspace, through the real azure-quantum client.

The client runs unmodified: azure-identity's ``DefaultAzureCredential`` gets
tokens from a managed identity, ``Workspace`` reads the workspace from Azure
Resource Manager, ``AzureQuantumProvider`` builds its Qiskit backends from
``providerStatus``, and a job's QIR goes to blob storage through a SAS URL
before ``PUT jobs/<id>``; results come back as the service's results blob.
Only the network ends at a fake workspace on loopback
(``tests/fakes/azure_quantum_service.py``), reached through the pilot's
``quantum.url`` and the standard ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``/
``REQUESTS_CA_BUNDLE`` variables; it runs the submitted QIR with Microsoft's
own simulator.  Nothing of ours is mocked.
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

from pilot.backends.azure_quantum import CREDENTIALS_ENV, AzureQuantumBackend, AzureTransientError
from pilot.backends.base import PreparedCircuit
from pilot.backends.errors import is_unavailable
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
from tests.fakes.azure_quantum_service import FakeAzureQuantum

SIM = "ionq.simulator"
FAST = RetryPolicy(max_attempts=4, backoff_seconds=0.01, max_backoff_seconds=0.05)


@pytest.fixture
def fake(fake_azure: FakeAzureQuantum, monkeypatch: pytest.MonkeyPatch) -> FakeAzureQuantum:
    fake_azure.reset()
    for key, value in fake_azure.env.items():
        monkeypatch.setenv(key, value)
    for name in CREDENTIALS_ENV:
        monkeypatch.delenv(name, raising=False)
    return fake_azure


@pytest.fixture
def backend(fake: FakeAzureQuantum) -> AzureQuantumBackend:
    return make_backend(fake, backends=[SIM, "quantinuum.qpu.h2-1", "rigetti.qpu.ankaa-3"])


def quantum(fake: FakeAzureQuantum, **extra: Any) -> dict[str, Any]:
    return fake.quantum_config(**{"poll_interval_seconds": 0.02, **extra})


def make_backend(fake: FakeAzureQuantum, **extra: Any) -> AzureQuantumBackend:
    cfg = parse_description({"resource_type": "quantum", "quantum": quantum(fake, **extra)}).quantum
    assert cfg is not None
    return AzureQuantumBackend(cfg, pilot="azure")


def bell_job() -> PreparedCircuit:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    return PreparedCircuit(qc, (0, 1))


def assert_bell(counts: dict[str, int], shots: int) -> None:
    assert set(counts) == {"00", "11"}, counts
    assert sum(counts.values()) == shots
    for key in ("00", "11"):
        assert abs(counts[key] - shots / 2) <= 5 * math.sqrt(shots / 4), counts


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.05)


def raised_from(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__
    return False


# ------------------------------------------------------------------ connecting
def test_targets_capabilities_and_the_real_sign_in(fake: FakeAzureQuantum) -> None:
    backend = make_backend(fake)  # no targets named: every IonQ, Quantinuum, Rigetti one
    caps = {c.name: c for c in backend.resources()}
    assert set(caps) == set(fake.targets)
    sim, h2, ankaa = caps[SIM], caps["quantinuum.qpu.h2-1"], caps["rigetti.qpu.ankaa-3"]
    assert (sim.num_qubits, sim.simulator, sim.noisy, sim.provider) == (29, True, False, "azure")
    assert (h2.num_qubits, h2.simulator, h2.noisy, h2.max_shots) == (56, False, True, 10000)
    assert ankaa.num_qubits == 84  # from providerStatus's numQubits
    assert caps["quantinuum.sim.h2-1e"].noisy  # Quantinuum's emulators model the device's noise
    assert {"h", "cx", "rz", "measure"} - {"measure"} <= sim.native_gates
    assert sim.dynamic == frozenset() and not sim.supports_exact
    # The real chain: a managed-identity token per scope, the workspace from ARM,
    # the targets from the data plane.
    ops = {op for op, status in fake.requests if status == 200}
    assert {"ManagedIdentityToken", "GetWorkspace", "ProviderStatus"} <= ops
    # (App Service's managed identity is asked for a resource: the scope without /.default)
    assert set(fake.tokens.values()) >= {
        "https://quantum.microsoft.com",
        "https://management.azure.com",
    }


def test_status_is_availability_and_average_queue_time(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.set_target("quantinuum.qpu.h2-1", average_queue_time=7200)
    status = backend.status("quantinuum.qpu.h2-1")
    assert (status.online, status.queue_seconds, status.message) == (True, 7200.0, "")
    fake.set_target("quantinuum.qpu.h2-1", availability="Degraded")
    assert backend.status("quantinuum.qpu.h2-1").message == "Degraded"
    fake.set_target("quantinuum.qpu.h2-1", availability="Unavailable")
    status = backend.status("quantinuum.qpu.h2-1")
    assert (status.online, status.message) == (False, "Unavailable")


def test_unknown_target_is_a_config_error_naming_the_targets(fake: FakeAzureQuantum) -> None:
    with pytest.raises(ConfigError, match=r"ionq\.simulator") as info:
        make_backend(fake, backend="ionq.simulater")
    assert info.value.key == "quantum.backend"
    assert info.value.suggestion == SIM


def test_missing_credentials_say_which_variables_to_set(
    fake: FakeAzureQuantum, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no `az login` cache
    monkeypatch.setenv("PATH", str(tmp_path))  # no az / azd / pwsh to ask
    with pytest.raises(CredentialsError) as info:
        make_backend(fake)
    text = str(info.value)
    assert "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET" in text
    assert "managed identity" in text and "az login" in text
    assert fake.calls("GetWorkspace") == 0  # refused before any Azure call


def test_refused_credential_is_a_credentials_error_without_the_secret(
    fake: FakeAzureQuantum, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-identity-header-0f1e2d3c4b5a69788796"
    monkeypatch.setenv("IDENTITY_HEADER", wrong)
    with pytest.raises(CredentialsError, match="AZURE_CLIENT_SECRET") as info:
        make_backend(fake)
    assert ("ManagedIdentityToken", 400) in fake.requests
    text = "".join(traceback.format_exception(info.value))
    assert wrong not in text and fake.identity_header not in text


def test_a_token_the_workspace_rejects_is_a_credentials_error(fake: FakeAzureQuantum) -> None:
    fake.fail_next("GetWorkspace", 401)
    with pytest.raises(CredentialsError, match="refused the credential"):
        make_backend(fake)


# ------------------------------------------------------------------ jobs
def test_bell_in_a_job_context_reports_the_job(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    reported: list[tuple[str, str]] = []
    ctx = JobContext("t-bell", on_submit=lambda task, job: reported.append((task, job)))
    with running(ctx):
        (counts,) = backend.sample(SIM, [bell_job()], 1000)
    assert_bell(counts, 1000)
    (job,) = fake.jobs.values()
    assert reported == [("t-bell", job.id)]
    assert (job.target, job.status, job.body["inputParams"]["shots"]) == (SIM, "Succeeded", 1000)
    assert job.body["inputDataFormat"] == "qir.v1" and job.body["name"] == "qdreamer-t-bell"
    assert job.get_calls >= 3  # polled through Waiting and Executing
    # The QIR went to blob storage and the results came back from it.
    assert {"GetSasUri", "PutBlob", "CreateJob", "GetBlob"} <= {op for op, _ in fake.requests}


def test_qiskit_registers_keep_their_keys(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q, a, b = QuantumRegister(3, "q"), ClassicalRegister(2, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.x(0)
    qc.x(2)
    qc.measure(q[0], b[1])
    qc.measure(q[2], a[0])
    qc.measure(q[1], a[1])
    with running(JobContext("t-regs")):
        (out,) = backend.run_native(SIM, [qc], 100)
    assert out.counts == {"10 01": 100}  # b1 b0 a1 a0, as Qiskit's get_counts()


def test_cancel_from_another_thread_reaches_the_service(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
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
        backend.sample(SIM, [bell_job()], 100)
    canceller.join(timeout=20)
    (job,) = fake.jobs.values()
    assert cancelled == [[job.id]]
    assert fake.cancelled == [job.id] and job.status == "Cancelled"
    assert fake.calls("CancelJob") == 1


def test_deadline_cancels_the_job_and_raises_timeout(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.hold_jobs = True
    ctx = JobContext("t-late", deadline=time.monotonic() + 1.0)
    with pytest.raises(TaskTimeoutError) as info, running(ctx):
        backend.sample(SIM, [bell_job()], 100)
    (job,) = fake.jobs.values()
    assert "t-late" in str(info.value) and job.id in str(info.value)
    assert fake.cancelled == [job.id] and job.status == "Cancelled"


def test_a_failed_job_raises_its_error_data(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.fail_next_job("qubit 3 lost its ion")
    with (
        pytest.raises(TaskFailedError, match="ExecutionFailed: qubit 3 lost its ion"),
        running(JobContext("t-failed", retry=FAST)),
    ):
        backend.sample(SIM, [bell_job()], 100)
    assert fake.calls("CreateJob") == 1


def test_a_known_job_is_reattached_not_submitted_again(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.hold_jobs = True
    first = JobContext("t-resume")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with running(first):
                backend.sample(SIM, [bell_job()], 300)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: bool(first.jobs))
    first.cancelled.set()  # the old driver goes away; its job stays queued remotely
    thread.join(timeout=20)
    assert [type(e) for e in outcome] == [TaskCancelledError]
    (job_id,) = fake.jobs
    assert fake.jobs[job_id].status == "Waiting"

    fake.hold_jobs = False
    resumed = JobContext("t-resume", known=[job_id])
    with running(resumed):
        (counts,) = backend.sample(SIM, [bell_job()], 300)
    assert_bell(counts, 300)
    assert resumed.attached == [job_id]
    assert fake.calls("CreateJob") == 1 and list(fake.jobs) == [job_id]
    assert fake.jobs[job_id].status == "Succeeded"


def test_a_job_the_workspace_does_not_know_is_submitted_anew(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    resumed = JobContext("t-gone", known=["00000000-0000-0000-0000-00000000dead"])
    with running(resumed):
        (counts,) = backend.sample(SIM, [bell_job()], 200)
    assert_bell(counts, 200)
    assert ("GetJob", 404) in fake.requests
    assert fake.calls("CreateJob") == 1


def test_429_with_retry_after_is_retried_by_the_sdk(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.fail_next("GetJob", 429, times=2, retry_after="0.3")
    with running(JobContext("t-throttled", retry=FAST)):
        (counts,) = backend.sample(SIM, [bell_job()], 200)
    assert_bell(counts, 200)
    gets = [at for op, status, at in fake.request_times if op == "GetJob"]
    statuses = [status for op, status, _ in fake.request_times if op == "GetJob"]
    assert statuses[:3] == [429, 429, 200]
    assert gets[1] - gets[0] >= 0.25 and gets[2] - gets[1] >= 0.25  # Retry-After honoured


def test_persistent_5xx_ends_as_backend_unavailable(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    # Retry-After keeps azure-core's own retries (3 per call on an error status) fast.
    fake.fail_next("CreateJob", 503, times=1000, retry_after="0.01")
    with (
        pytest.raises(AzureTransientError, match="503") as info,
        running(JobContext("t-down", retry=FAST)),
    ):
        backend.sample(SIM, [bell_job()], 100)
    assert is_unavailable(info.value)  # QDREAMER fails the task over
    assert info.value.status_code == 503
    assert fake.calls("CreateJob") == 4 * 4  # our 4 attempts x azure-core's 1 + 3 retries
    assert fake.jobs == {}


def test_an_unavailable_target_refuses_jobs(
    fake: FakeAzureQuantum, backend: AzureQuantumBackend
) -> None:
    fake.set_target(SIM, availability="Unavailable")
    with pytest.raises(Exception, match="unavailable"), running(JobContext("t-off", retry=FAST)):
        backend.sample(SIM, [bell_job()], 100)
    assert fake.jobs == {}


def test_secrets_never_in_logs_errors_reprs_or_results(
    fake: FakeAzureQuantum, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "planted-client-secret-9d8c7b6a5f4e3d2c1b0a"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secret)  # masked wherever pilot logs
    caplog.set_level(logging.DEBUG)
    backend = make_backend(fake, backends=[SIM])
    with running(JobContext("t-secret", retry=FAST)):
        outputs = backend.run_native(SIM, [bell_job().body.measure_all(inplace=False)], 50)
    fake.fail_next("CreateJob", 400)
    with pytest.raises(Exception) as info, running(JobContext("t-secret-2", retry=FAST)):
        backend.sample(SIM, [bell_job()], 50)
    tokens = list(fake.tokens)
    for text in (
        "".join(traceback.format_exception(info.value)),
        repr(backend),
        repr(outputs),
        caplog.text,
    ):
        assert fake.identity_header not in text and secret not in text
        assert not any(token in text for token in tokens)
    assert sum(outputs[0].counts.values()) == 50


# ------------------------------------------------------------------ pricing and ranking
def test_azure_targets_are_priced_from_the_published_rows(backend: AzureQuantumBackend) -> None:
    from pilot.config import pricing_for

    sim = pricing_for("azure_quantum", SIM, "azure")
    h2 = pricing_for("azure_quantum", "quantinuum.qpu.h2-1", "azure")
    aria = pricing_for("azure_quantum", "ionq.qpu.aria-1", "azure")
    ankaa = pricing_for("azure_quantum", "rigetti.qpu.ankaa-3", "azure")
    assert sim is not None and sim.cost(1000, 1.0) == 0.0
    assert aria is not None and "learn.microsoft.com/en-us/azure/quantum/pricing" in aria.source
    # IonQ: m + 0.000220 N1q C + 0.000975 N2q C; 10 1q and 5 2q gates, 100 shots.
    assert aria.cost(100, 1.0, one_qubit_gates=10, two_qubit_gates=5) == pytest.approx(
        97.50 + 0.000220 * 10 * 100 + 0.000975 * 5 * 100
    )
    assert ankaa is not None and ankaa.cost(100, 2.0) == pytest.approx(2.60)
    assert h2 is not None and "derived" in h2.source and h2.as_of == "2025-02"


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, fake_azure: FakeAzureQuantum) -> Iterator[Any]:
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "azure",
                "cores_per_node": 0.25,
                "quantum": quantum(fake_azure, backends=[SIM, "rigetti.sim.qvm"]),
            }
        )
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "cores_per_node": 0.25,
                # noisy: below the ideal Azure simulators under the "fidelity" objective
                "quantum": {
                    "executor": "qiskit_local",
                    "seed": 3,
                    "noise": {"depolarizing_2q": 0.02},
                },
            }
        )
        yield service


@pytest.mark.slow
def test_ranking_and_failover_through_the_service(pcs: Any, fake_azure: FakeAzureQuantum) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    fake_azure.reset()
    q = pcs.initialize_dreamer(objective="speed")
    ranked = q.rank(QuantumTask(bell_qiskit(), shots=1000))
    rows = {r.resource.name: r for r in ranked}
    assert {SIM, "rigetti.sim.qvm", "aer_simulator_noisy"} <= set(rows)
    assert rows[SIM].feasible and rows[SIM].breakdown["estimated_cost"] == 0.0
    # Too many shots for the QVM (10,000 at most): infeasible, with the reason.
    big = {r.resource.name: r for r in q.rank(QuantumTask(bell_qiskit(), shots=20000))}
    assert "needs 20000 shots, allows at most 10000" in big["rigetti.sim.qvm"].reasons

    # A target that fails persistently (503 after every retry): its task moves on.
    q = pcs.initialize_dreamer(
        objective="fidelity", resources=["azure/ionq.simulator", "aer/aer_simulator_noisy"]
    )
    q.stop_background_monitoring()
    assert q.select(QuantumTask(bell_qiskit())).key == "azure/ionq.simulator"
    fake_azure.fail_next("CreateJob", 503, times=100000, retry_after="0.01")
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=500)), timeout=240
    )
    assert result.pilot == "aer" and sum(result.counts.values()) == 500
    (hop,) = result.selection["failover"]
    assert hop["resource"] == SIM and "HTTP 503" in hop["error"]
    fake_azure.reset()


def test_cancel_task_cancels_the_remote_job(pcs: Any, fake_azure: FakeAzureQuantum) -> None:
    from pilot import QuantumTask
    from tests.helpers import bell_qiskit

    fake_azure.reset()
    fake_azure.hold_jobs = True
    ref = pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100, pilot="azure"))
    wait_for(lambda: bool(fake_azure.jobs), timeout=60)
    (job_id,) = fake_azure.jobs
    assert pcs.cancel_task(ref) >= 1
    wait_for(lambda: fake_azure.cancelled == [job_id], timeout=30)
    assert fake_azure.jobs[job_id].status == "Cancelled"
    with pytest.raises(PilotError) as info:
        pcs.get_results(ref, timeout=60)
    assert raised_from(info.value, TaskCancelledError), repr(info.value)
    fake_azure.reset()

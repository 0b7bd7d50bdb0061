"""``braket_sv1`` / ``braket_dm1`` / ``braket_tn1`` / ``braket_qpu`` through the real Braket SDK.

``BraketAwsBackend`` builds real ``boto3``/``AwsSession``/``AwsDevice`` objects;
the ``fake`` fixture points their endpoints at a local HTTP server
(``tests/fakes/braket_service.py``) that speaks the Braket REST API and S3, runs
the submitted OpenQASM with ``LocalSimulator`` and records what it was sent.
Nothing of ours is mocked, and no Ray is needed: the worker is a plain class.

This module starts its own ``FakeBraketService`` (not the session-wide
``fake_braket`` of ``tests/conftest.py``) so that it can reset the fake's
state and change its devices between tests without disturbing other modules.
"""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from pilot.backends.braket import SIMULATOR_ARNS
from pilot.config import parse_description
from pilot.errors import (
    ConfigError,
    CredentialsError,
    PilotStartError,
    TaskFailedError,
    UnsupportedOperationError,
)
from pilot.pilots.actor import THREAD_ENV, QuantumWorker
from pilot.tasks import TaskSpec, new_task_id
from tests.fakes.braket_service import FakeBraketService

SV1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
TN1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"
QPU_ARN = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"

BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


@pytest.fixture(scope="module")
def _braket_server() -> Iterator[FakeBraketService]:
    with FakeBraketService() as fake:
        yield fake


@pytest.fixture
def fake(_braket_server: FakeBraketService, monkeypatch: pytest.MonkeyPatch) -> FakeBraketService:
    """This module's fake, state reset, with its ``env`` set for the test (and restored)."""
    server = _braket_server
    server.reset()
    for name in server.unset_env:
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    return server


@pytest.fixture(autouse=True)
def _restore_thread_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """QuantumWorker sets OMP_NUM_THREADS & co.; undo that after each test."""
    for name in THREAD_ENV:
        monkeypatch.setenv(name, os.environ.get(name, "1"))


def make_worker(executor: str = "braket_sv1", **quantum: Any) -> QuantumWorker:
    cfg = parse_description(
        {
            "resource_type": "quantum",
            "quantum": {
                "executor": executor,
                "s3_bucket": "qdreamer-test",
                "poll_interval_seconds": 0.01,
                **quantum,
            },
        }
    ).quantum
    assert cfg is not None
    return QuantumWorker(cfg, "p", 1)


def resource_of(worker: QuantumWorker) -> Any:
    (resource,) = worker.describe()["resources"]
    return resource


def run(worker: QuantumWorker, circuit: Any, shots: int | None) -> Any:
    spec = TaskSpec(
        task_id=new_task_id(),
        name="t",
        circuit=circuit,
        shots=shots,
        pilot="p",
        resource=resource_of(worker).name,
        num_qubits=None,
        gate_set=None,
        submitted_at=time.time(),
    )
    return worker.run(spec)


def qiskit_bell() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def braket_bell() -> Any:
    from braket.circuits import Circuit

    return Circuit().h(0).cnot(0, 1)


BELLS = {"qiskit": qiskit_bell, "braket": braket_bell, "qasm3": lambda: BELL_QASM3}


def assert_bell_counts(counts: dict[str, int], shots: int) -> None:
    assert set(counts) == {"00", "11"}
    assert sum(counts.values()) == shots
    five_sigma = 5 * math.sqrt(shots * 0.25)
    for key in ("00", "11"):
        assert abs(counts[key] - shots / 2) <= five_sigma, counts


# ------------------------------------------------------------------ capabilities
@pytest.mark.parametrize(
    ("executor", "arn", "qubits", "max_shots", "exact"),
    [
        ("braket_sv1", SV1_ARN, 34, 100000, True),
        ("braket_dm1", DM1_ARN, 17, 100000, True),
        ("braket_tn1", TN1_ARN, 50, 100000, False),
    ],
)
def test_simulator_capabilities(
    fake: FakeBraketService, executor: str, arn: str, qubits: int, max_shots: int, exact: bool
) -> None:
    res = resource_of(make_worker(executor))
    assert res.name == fake.devices[arn].name
    assert res.executor == executor
    assert res.provider == "aws"
    assert res.num_qubits == qubits
    assert res.max_shots == max_shots
    assert res.supports_exact is exact
    assert res.simulator is True
    assert res.noisy is False
    assert ("braket", "GetDevice", 200) in fake.requests


def test_sv1_is_named_sv1(fake: FakeBraketService) -> None:
    res = resource_of(make_worker("braket_sv1"))
    assert (res.name, res.num_qubits, res.supports_exact, res.max_shots) == (
        "SV1",
        34,
        True,
        100000,
    )


def test_status_refreshes_device_metadata(fake: FakeBraketService) -> None:
    worker = make_worker("braket_sv1")
    before = fake.calls("GetDevice")
    assert worker.status("SV1").online is True
    fake.devices[SV1_ARN].status = "OFFLINE"
    status = worker.status("SV1")
    assert status.online is False
    assert "OFFLINE" in status.message
    assert fake.calls("GetDevice") == before + 2


# ------------------------------------------------------------------ sampling
@pytest.mark.parametrize("fmt", list(BELLS))
def test_bell_on_sv1(fake: FakeBraketService, fmt: str) -> None:
    worker = make_worker("braket_sv1")
    result = run(worker, BELLS[fmt](), 1000)

    assert_bell_counts(result.counts, 1000)
    assert result.backend == "SV1"
    assert result.executor == "braket_sv1"
    assert result.path == ("native" if fmt == "braket" else "portable")
    (task,) = fake.tasks
    assert task.device_arn == SV1_ARN
    assert task.shots == 1000
    assert "cnot" in task.source
    assert "measure" in task.source
    assert task.bucket == "qdreamer-test"
    assert task.status == "COMPLETED"
    # The SDK polled through QUEUED and RUNNING, then read results.json from S3.
    assert task.get_calls >= 3
    assert ("qdreamer-test", task.results_key) in fake.objects
    assert ("s3", "GetObject", 200) in fake.requests


def test_deterministic_qiskit_circuit_uses_qiskit_key_order(fake: FakeBraketService) -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3, 3)
    qc.x(0)
    qc.measure([0, 1, 2], [0, 1, 2])
    result = run(make_worker("braket_sv1"), qc, 200)
    assert result.counts == {"001": 200}  # clbit 0 rightmost


def test_deterministic_braket_circuit_uses_braket_key_order(fake: FakeBraketService) -> None:
    from braket.circuits import Circuit

    result = run(make_worker("braket_sv1"), Circuit().x(0).i(1).i(2), 200)
    assert result.counts == {"100": 200}  # qubit 0 leftmost
    assert "x q[0];" in fake.tasks[-1].source


def test_exact_probabilities_on_sv1(fake: FakeBraketService) -> None:
    result = run(make_worker("braket_sv1"), qiskit_bell(), None)

    assert result.counts is None
    assert result.shots is None
    assert set(result.probabilities) == {"00", "11"}
    for p in result.probabilities.values():
        assert p == pytest.approx(0.5, abs=1e-12)
    (task,) = fake.tasks
    assert task.shots == 0
    assert "#pragma braket result probability" in task.source
    assert "measure" not in task.source


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit:UserWarning")
def test_dm1_runs(fake: FakeBraketService) -> None:
    worker = make_worker("braket_dm1")
    result = run(worker, qiskit_bell(), 500)
    assert_bell_counts(result.counts, 500)
    assert fake.tasks[-1].device_arn == DM1_ARN


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit:UserWarning")
def test_dm1_gives_exact_probabilities_with_zero_shots(fake: FakeBraketService) -> None:
    result = run(make_worker("braket_dm1"), qiskit_bell(), None)
    assert result.counts is None
    assert result.probabilities == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-9)
    assert fake.tasks[-1].shots == 0


def test_tn1_refuses_exact_without_submitting(fake: FakeBraketService) -> None:
    with pytest.raises(UnsupportedOperationError, match="shots=N"):
        run(make_worker("braket_tn1"), qiskit_bell(), None)
    assert fake.tasks == []


def test_tn1_runs(fake: FakeBraketService) -> None:
    result = run(make_worker("braket_tn1"), braket_bell(), 300)
    assert_bell_counts(result.counts, 300)
    assert fake.tasks[-1].device_arn == TN1_ARN


def test_qpu_by_arn(fake: FakeBraketService) -> None:
    worker = make_worker("braket_qpu", braket_device_arn=QPU_ARN)
    res = resource_of(worker)
    assert res.name == "Forte 1"
    assert res.num_qubits == 36
    assert res.native_gates == frozenset({"gpi", "gpi2", "rzz"})  # GPI, GPI2, ZZ
    assert res.simulator is False
    assert res.noisy is True
    assert res.supports_exact is False
    assert res.max_shots == 5000

    result = run(worker, qiskit_bell(), 100)
    assert_bell_counts(result.counts, 100)
    (task,) = fake.tasks
    assert task.device_arn == QPU_ARN
    assert task.region == "us-east-1"
    assert task.device_parameters["braketSchemaHeader"]["name"] == (
        "braket.device_schema.ionq.ionq_device_parameters"
    )


# ------------------------------------------------------------------ errors
def test_failed_quantum_task_raises_with_its_reason(fake: FakeBraketService) -> None:
    worker = make_worker("braket_sv1")
    fake.fail_next_task("Simulation exceeded the time limit")
    with pytest.raises(TaskFailedError, match="FAILED: Simulation exceeded the time limit") as info:
        run(worker, qiskit_bell(), 100)
    (task,) = fake.tasks
    assert task.status == "FAILED"
    assert task.arn in str(info.value)


def test_service_errors_reach_the_caller(fake: FakeBraketService) -> None:
    from botocore.exceptions import ClientError

    worker = make_worker("braket_sv1")
    fake.fail_next("CreateQuantumTask", 402, "ServiceQuotaExceededException", "too many tasks")
    with pytest.raises(ClientError, match="too many tasks") as info:
        run(worker, qiskit_bell(), 100)
    assert info.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert fake.tasks == []


def test_fake_records_cancellations(fake: FakeBraketService) -> None:
    """The fake's cancel flow, driven by the SDK itself (for later cancellation work)."""
    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    task = AwsDevice(SV1_ARN).run(Circuit().h(0), ("qdreamer-test", "c"), shots=10)
    task.cancel()
    assert fake.cancelled == [task.id]
    assert task.state() == "CANCELLED"
    assert task.result() is None


def test_seed_sv1_arn_is_refused_naming_the_right_one(fake: FakeBraketService) -> None:
    worker = make_worker(
        "braket_sv1", braket_device_arn="arn:aws:braket:us-east-1::device/qpu/amazon/sv1"
    )
    with pytest.raises(ConfigError) as info:
        worker.describe()
    assert SIMULATOR_ARNS["braket_sv1"] in str(info.value)
    assert info.value.key == "quantum.braket_device_arn"
    assert fake.requests == []


def test_qpu_needs_an_arn(fake: FakeBraketService) -> None:
    with pytest.raises(ConfigError, match="braket_device_arn") as info:
        make_worker("braket_qpu").describe()
    assert info.value.key == "quantum.braket_device_arn"


def test_unknown_qpu_arn_fails_to_start(fake: FakeBraketService) -> None:
    arn = "arn:aws:braket:us-east-1::device/qpu/ionq/NoSuchDevice"
    worker = make_worker("braket_qpu", braket_device_arn=arn)
    with pytest.raises(PilotStartError, match="NoSuchDevice"):
        worker.describe()
    assert ("braket", "GetDevice", 404) in fake.requests


def _remove_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")


def test_missing_credentials(fake: FakeBraketService, monkeypatch: pytest.MonkeyPatch) -> None:
    _remove_credentials(monkeypatch)
    with pytest.raises(CredentialsError) as info:
        make_worker("braket_sv1").describe()
    message = str(info.value)
    assert "AWS_ACCESS_KEY_ID" in message
    assert "AWS_SECRET_ACCESS_KEY" in message
    assert "aws configure" in message
    assert fake.requests == []


def test_secret_key_never_in_errors(
    fake: FakeBraketService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = fake.secret_access_key
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == secret
    caplog.set_level(logging.DEBUG, logger="pilot")
    errors: list[BaseException] = []

    def collect(make: Any) -> None:
        try:
            make()
        except Exception as exc:
            errors.append(exc)

    collect(
        lambda: make_worker(
            "braket_sv1",
            braket_device_arn="arn:aws:braket:us-east-1::device/qpu/amazon/sv1",
        ).describe()
    )
    collect(
        lambda: make_worker(
            "braket_qpu",
            braket_device_arn="arn:aws:braket:us-east-1::device/qpu/ionq/Nope",
        ).describe()
    )
    worker = make_worker("braket_sv1")
    fake.fail_next("CreateQuantumTask", 400, "ValidationException", "bad request")
    collect(lambda: run(worker, qiskit_bell(), 10))
    with monkeypatch.context() as m:
        _remove_credentials(m)
        collect(lambda: make_worker("braket_sv1").describe())

    assert [type(e) for e in errors][:2] == [ConfigError, PilotStartError]
    assert type(errors[3]) is CredentialsError
    assert len(errors) == 4
    for exc in errors:
        text = "".join(traceback.format_exception(exc))
        assert secret not in text
        assert secret not in repr(exc)
        assert secret not in repr(exc.__context__)
    assert secret not in repr(worker.backend)
    assert secret not in repr(worker.describe())
    assert secret not in caplog.text

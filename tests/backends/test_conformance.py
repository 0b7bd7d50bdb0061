"""Backend conformance: every executor passes the same checks (no Ray: the worker class directly).

Like PennyLane's device test suite: counts sum to shots, bit order, exact
results where advertised, expectation values, capability and status reports,
and errors that name the unsupported operation and the backend.
"""

from __future__ import annotations

from typing import Any

import pytest

from pilot.config import parse_description
from pilot.errors import UnsupportedOperationError
from pilot.pilots.actor import QuantumWorker
from pilot.tasks import QuantumTask
from tests.helpers import bell_qiskit, task_spec, within_binomial

EXECUTORS: dict[str, dict[str, Any]] = {
    "qiskit_local": {"seed": 11},
    "qiskit_fake": {"backends": ["fake_manila", "fake_lagos"], "seed": 11},
    "ibm_runtime": {"local": True, "seed": 11},
    "pennylane_default": {"seed": 11},
    "pennylane_lightning": {"seed": 11},
    # complex128: the exact checks below hold to 1e-9 (complex64 is good to ~1e-7).
    "torch_statevector": {"seed": 11, "precision": "complex128"},
    "braket_local": {},
    "braket_sv1": {"s3_bucket": "qdreamer-test", "poll_interval_seconds": 0.01},
    # IonQ's ideal cloud simulator, reached through IONQ_API_KEY / IONQ_API_URL (fake_ionq).
    "ionq": {"poll_interval_seconds": 0.01, "seed": 11},
    # The fake workspace's IonQ simulator (tests/fakes/azure_quantum_service.py: the
    # submitted QIR runs in Microsoft's own simulator, ideal).
    "azure_quantum": {"backends": ["ionq.simulator"], "poll_interval_seconds": 0.01},
}
EXPECTED_RESOURCES = {
    "qiskit_local": ["aer_simulator"],
    "qiskit_fake": ["fake_manila", "fake_lagos"],
    "ibm_runtime": ["fake_manila"],
    "pennylane_default": ["default.qubit"],
    "pennylane_lightning": ["lightning.qubit"],
    "torch_statevector": ["torch_statevector"],
    "braket_local": ["braket_sv"],
    "braket_sv1": ["SV1"],
    "ionq": ["simulator"],
    "azure_quantum": ["ionq.simulator"],
}
NOISY = {"qiskit_fake", "ibm_runtime"}
FRAMEWORK = {
    "qiskit_local": "qiskit",
    "qiskit_fake": "qiskit",
    "ibm_runtime": "qiskit",
    "pennylane_default": "pennylane",
    "pennylane_lightning": "pennylane",
    "torch_statevector": "qiskit",
    "braket_local": "braket",
    "braket_sv1": "braket",
    "ionq": "qiskit",
    "azure_quantum": "qiskit",
}


@pytest.fixture(scope="module")
def fake_ionq() -> Any:
    from tests.fakes.ionq_service import FakeIonQService

    with FakeIonQService() as fake:
        yield fake


@pytest.fixture(scope="module")
def workers(fake_braket: Any, fake_ionq: Any, fake_azure: Any) -> dict[str, QuantumWorker]:
    mp = pytest.MonkeyPatch()
    for key, value in {**fake_braket.env, **fake_ionq.env, **fake_azure.env}.items():
        mp.setenv(key, value)
    out = {}
    for executor, extra in EXECUTORS.items():
        quantum = {"executor": executor, **extra}
        if executor == "azure_quantum":  # the fake workspace: its resource ID and ARM endpoint
            quantum = fake_azure.quantum_config(**extra)
        config = parse_description({"resource_type": "quantum", "quantum": quantum}).quantum
        out[executor] = QuantumWorker(config, pilot=f"p-{executor}", num_cpus=1)
    yield out
    mp.undo()


def run(
    worker: QuantumWorker,
    circuit: Any,
    shots: int | None = 1000,
    resource: str | None = None,
    keep_native: bool = False,
) -> Any:
    spec = task_spec(worker, circuit, shots, resource, task_id="t1", keep_native=keep_native)
    return worker.run(spec)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_capabilities_report(workers: dict, executor: str) -> None:
    caps = workers[executor].resources()
    assert [c.name for c in caps] == EXPECTED_RESOURCES[executor]
    for c in caps:
        assert c.executor == executor and c.pilot == f"p-{executor}"
        assert c.num_qubits >= 5
        assert c.noisy == (executor in NOISY)
    if executor == "qiskit_fake":
        lagos = caps[1]
        assert lagos.num_qubits == 7 and lagos.coupling_map and (0, 1) in lagos.coupling_map
        assert {"rz", "sx", "cx"} <= lagos.native_gates
        assert lagos.readout_errors and all(0 <= e < 0.5 for e in lagos.readout_errors.values())
        assert lagos.gate_errors[("cx", (0, 1))] > 0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_status_report(workers: dict, executor: str) -> None:
    worker = workers[executor]
    status = worker.status(worker.resources()[0].name)
    assert status.online is True and status.queue_depth >= 0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_counts_sum_to_shots_and_bit_order(workers: dict, executor: str) -> None:
    from qiskit import QuantumCircuit

    worker = workers[executor]
    bell = run(worker, bell_qiskit(), shots=1000)
    assert sum(bell.counts.values()) == 1000
    assert bell.path == ("native" if FRAMEWORK[executor] == "qiskit" else "portable")
    qc = QuantumCircuit(2, 2)
    qc.x(1)
    qc.measure([0, 1], [0, 1])
    gd = {"gates": [{"type": "x", "qubit": 1}], "n_qubits": 2}
    on_qiskit = run(worker, qc, shots=500)
    on_dict = run(worker, gd, shots=500)
    if executor in NOISY:
        assert on_qiskit.most_frequent() == "10" and on_dict.most_frequent() == "01"
    else:
        assert on_qiskit.counts == {"10": 500} and on_dict.counts == {"01": 500}
        assert within_binomial(bell.counts["00"], 1000, 0.5)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_exact_results_where_advertised(workers: dict, executor: str) -> None:
    worker = workers[executor]
    if worker.resources()[0].supports_exact:
        r = run(
            worker, {"gates": [{"type": "ry", "qubit": 0, "angle": 1.0}], "n_qubits": 1}, shots=None
        )
        import math

        assert r.counts is None
        p1 = math.sin(0.5) ** 2
        tol = 0.03 if executor in NOISY else 1e-9
        assert r.probabilities["1"] == pytest.approx(p1, abs=tol)
    else:
        with pytest.raises(UnsupportedOperationError, match=rf"shots=None.*{executor}"):
            run(worker, bell_qiskit(), shots=None)


def pauli_qnode() -> Any:
    import pennylane as qml

    def circuit() -> Any:
        qml.Hadamard(0)
        qml.CNOT([0, 1])
        return (
            qml.expval(qml.PauliX(0) @ qml.PauliX(1)),
            qml.expval(qml.PauliZ(0)),
            qml.expval(qml.PauliY(0) @ qml.PauliY(1)),
            qml.expval(0.5 * qml.PauliZ(0) @ qml.PauliZ(1) + 0.25),
        )

    return circuit


@pytest.mark.parametrize("executor", EXECUTORS)
def test_expectation_values(workers: dict, executor: str) -> None:
    worker = workers[executor]
    expected = [1.0, 0.0, -1.0, 0.75]
    sampled = run(worker, pauli_qnode(), shots=4000)
    tol = 0.2 if executor in NOISY else 0.1
    assert sampled.expectation_values == pytest.approx(expected, abs=tol)
    assert sampled.counts is None
    if worker.resources()[0].supports_exact and executor not in NOISY:
        exact = run(worker, pauli_qnode(), shots=None)
        assert exact.expectation_values == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("executor", [e for e in EXECUTORS if FRAMEWORK[e] != "braket"])
def test_unsupported_operation_names_operation_and_backend(workers: dict, executor: str) -> None:
    from braket.circuits import Circuit

    worker = workers[executor]
    with pytest.raises(UnsupportedOperationError) as info:
        run(worker, Circuit().h(0).depolarizing(0, 0.1))
    msg = str(info.value)
    assert "'Depolarizing'" in msg and executor in msg and worker.resources()[0].name in msg


DYNAMIC = {"qiskit_local", "qiskit_fake", "ibm_runtime", "pennylane_default", "pennylane_lightning"}


@pytest.mark.parametrize("executor", [e for e in EXECUTORS if e not in DYNAMIC])
def test_dynamic_circuits_are_refused_where_not_declared(workers: dict, executor: str) -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.reset(0)
    qc.measure(0, 0)
    assert not workers[executor].resources()[0].dynamic
    with pytest.raises(UnsupportedOperationError, match=rf"'reset' is not supported by {executor}"):
        run(workers[executor], qc)


@pytest.mark.parametrize("executor", sorted(DYNAMIC))
def test_dynamic_circuits_run_where_declared(workers: dict, executor: str) -> None:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.reset(0)
    qc.measure(0, 0)
    reset = run(workers[executor], qc, shots=100).counts
    assert reset == {"0": 100} or (executor in NOISY and reset["0"] >= 90)
    # Feed-forward with two registers: X on q1 exactly when q0 read 1; keys spaced.
    q, m, out = QuantumRegister(2), ClassicalRegister(1, "m"), ClassicalRegister(1, "out")
    ff = QuantumCircuit(q, m, out)
    ff.x(0)
    ff.measure(0, m[0])
    with ff.if_test((m[0], 1)):
        ff.x(1)
    ff.measure(1, out[0])
    counts = run(workers[executor], ff, shots=200).counts
    if executor in NOISY:
        assert max(counts, key=counts.get) == "1 1" and sum(counts.values()) == 200
    else:
        assert counts == {"1 1": 200}


def test_qiskit_fake_runs_each_device_with_its_own_noise(workers: dict) -> None:
    worker = workers["qiskit_fake"]
    a = run(worker, bell_qiskit(), shots=4000, resource="fake_manila")
    b = run(worker, bell_qiskit(), shots=4000, resource="fake_lagos")
    assert a.backend == "fake_manila" and b.backend == "fake_lagos"
    # Each device's counts follow its own noisy distribution (Aer's density matrix),
    # and the two distributions differ by more than sampling could hide.
    exact = {
        name: run(worker, bell_qiskit(), shots=None, resource=name).probabilities
        for name in ("fake_manila", "fake_lagos")
    }
    for result in (a, b):
        probs = exact[result.backend]
        assert all(within_binomial(result.counts.get(k, 0), 4000, p) for k, p in probs.items())
    wrong = exact["fake_manila"]["01"] + exact["fake_manila"]["10"]
    assert abs(wrong - exact["fake_lagos"]["01"] - exact["fake_lagos"]["10"]) > 0.005
    # The SDK's own per-experiment result travels only when asked for.
    assert a.native is None and a.native_bytes is None
    c = run(worker, bell_qiskit(), shots=100, resource="fake_manila", keep_native=True)
    assert type(c.native).__name__ == "ExperimentResult" and c.native.shots == 100


def test_worker_refuses_circuits_wider_than_the_resource(workers: dict) -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(6)
    qc.h(0)
    with pytest.raises(Exception, match="needs 6 qubits but fake_manila"):
        run(workers["qiskit_fake"], qc, resource="fake_manila")
    # The service refuses it earlier, before submission, with the same check as here.
    from pilot.selection import refusal_reasons

    task = QuantumTask(qc, shots=100)
    manila = next(c for c in workers["qiskit_fake"].resources() if c.name == "fake_manila")
    assert refusal_reasons(task, task.load_on_driver(), manila) == ["needs 6 qubits, has 5"]

"""The same circuit, written in every input format, on every executor.

Counts keys follow the convention of the framework the circuit was written
in, whichever backend runs it: "X on qubit 0 of 3" reads ``001`` for Qiskit and
OpenQASM (clbit 0 rightmost) and ``100`` for Braket, PennyLane and the gate
dict (qubit 0 leftmost).  Noisy executors (fake devices) must put the expected
key on top with most of the shots.
"""

from __future__ import annotations

from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from tests.helpers import bell_qiskit, within_binomial

#: ~1 min: a pilot of every executor for the module, 183 runs through them (quick tier: no).
pytestmark = pytest.mark.slow

SHOTS = 2000

EXECUTORS: dict[str, dict[str, Any]] = {
    "qiskit_local": {"executor": "qiskit_local", "seed": 7},
    "qiskit_fake": {"executor": "qiskit_fake", "backends": ["fake_manila"], "seed": 7},
    "ibm_runtime": {"executor": "ibm_runtime", "local": True, "backend": "fake_manila", "seed": 7},
    "pennylane_default": {"executor": "pennylane_default", "seed": 7},
    "pennylane_lightning": {"executor": "pennylane_lightning", "seed": 7},
    "braket_local": {"executor": "braket_local"},
    "braket_sv1": {
        "executor": "braket_sv1",
        "s3_bucket": "qdreamer-test",
        "poll_interval_seconds": 0.01,
    },
    # IonQ's ideal cloud simulator through qiskit-ionq, on the fake IonQ API (fake_ionq).
    "ionq": {"executor": "ionq", "poll_interval_seconds": 0.01, "seed": 7},
    # The fake Azure workspace's IonQ simulator (its resource ID and ARM endpoint are
    # added by the pcs fixture): ideal, but sampled only.
    "azure_quantum": {
        "executor": "azure_quantum",
        "backends": ["ionq.simulator"],
        "poll_interval_seconds": 0.01,
    },
}
NOISY = {"qiskit_fake", "ibm_runtime"}
#: Ideal, but without exact results (shots=None): observables are estimated from shots.
SAMPLED_ONLY = {"azure_quantum"}


# ------------------------------------------------------------------ circuits
def x0_qiskit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3, 3, name="x0")
    qc.x(0)
    qc.measure([0, 1, 2], [0, 1, 2])
    return qc


X0_QASM2 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nx q[0];\nmeasure q -> c;\n'
)
BELL_QASM2 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
    "h q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
)
X0_QASM3 = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nx q[0];\nc = measure q;\n'
)
# Braket-flavoured OpenQASM 3: built-in names, no stdgates.inc.
BELL_QASM3 = (
    "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n"
    "b[0] = measure q[0];\nb[1] = measure q[1];\n"
)


def x0_braket() -> Any:
    from braket.circuits import Circuit

    return Circuit().x(0).i(1).i(2)


def bell_braket() -> Any:
    from braket.circuits import Circuit

    return Circuit().h(0).cnot(0, 1)


def x0_qfunc() -> Any:
    import pennylane as qml

    qml.PauliX(0)
    return qml.counts(wires=[0, 1, 2])


def bell_qfunc() -> Any:
    import pennylane as qml

    qml.Hadamard(0)
    qml.CNOT([0, 1])
    return qml.counts(wires=[0, 1])


def x0_qnode() -> Any:
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit", wires=3))
    def circuit() -> Any:
        qml.PauliX(wires=0)
        return qml.counts()

    return circuit


def bell_qnode() -> Any:
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit", wires=2))
    def circuit() -> Any:
        qml.Hadamard(wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.counts()

    return circuit


X0_GATEDICT = {"gates": [{"type": "x", "qubit": 0}], "n_qubits": 3}
BELL_GATEDICT = {
    "gates": [{"type": "h", "qubit": 0}, {"type": "cx", "control": 0, "target": 1}],
    "n_qubits": 2,
}

# format -> (deterministic circuit, its expected key, Bell circuit)
FORMATS: dict[str, tuple[Any, str, Any]] = {
    "qiskit": (x0_qiskit(), "001", bell_qiskit()),
    "qasm2": (X0_QASM2, "001", BELL_QASM2),
    "qasm3": (X0_QASM3, "001", BELL_QASM3),
    "braket": (x0_braket(), "100", bell_braket()),
    "pennylane_qfunc": (x0_qfunc, "100", bell_qfunc),
    "pennylane_qnode": (x0_qnode, "100", bell_qnode),
    "gatedict": (X0_GATEDICT, "100", BELL_GATEDICT),
    "callable": (x0_qiskit, "001", bell_qiskit),
}


@pytest.fixture(scope="module")
def fake_ionq() -> Any:
    from tests.fakes.ionq_service import FakeIonQService

    with FakeIonQService() as fake:
        yield fake


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, fake_ionq: Any, fake_azure: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        for name, given in EXECUTORS.items():
            extra = {k: v for k, v in given.items() if k != "executor"}
            quantum = given
            if name == "ionq":  # the key and the fake's URL travel in the description
                quantum = fake_ionq.quantum_config(**given)
            elif name == "azure_quantum":  # the workspace's resource ID and ARM endpoint
                quantum = fake_azure.quantum_config(**extra)
            # As users write them: no reservation, every pilot shares the node.
            service.create_pilot({"resource_type": "quantum", "name": name, "quantum": quantum})
        yield service


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_deterministic_circuit_gives_exact_key(pcs: Any, executor: str, fmt: str) -> None:
    circuit, key, _ = FORMATS[fmt]
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(circuit, shots=SHOTS, pilot=executor))
    )
    assert result.pilot == executor
    assert sum(result.counts.values()) == SHOTS
    assert all(len(k) == 3 for k in result.counts)
    if executor in NOISY:
        assert result.most_frequent() == key
        assert result.counts[key] >= 0.75 * SHOTS, result.counts
    else:
        assert result.counts == {key: SHOTS}
    assert result.probabilities[key] == pytest.approx(result.counts[key] / SHOTS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_bell_distribution(pcs: Any, executor: str, fmt: str) -> None:
    _, _, bell = FORMATS[fmt]
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell, shots=SHOTS, pilot=executor))
    )
    counts = result.counts
    assert sum(counts.values()) == SHOTS
    if executor in NOISY:
        assert counts.get("00", 0) + counts.get("11", 0) >= 0.8 * SHOTS, counts
        assert min(counts.get("00", 0), counts.get("11", 0)) >= 0.3 * SHOTS, counts
    else:
        assert set(counts) == {"00", "11"}, counts
        assert within_binomial(counts["00"], SHOTS, 0.5), counts


@pytest.mark.parametrize("executor", [e for e in EXECUTORS if e not in NOISY | SAMPLED_ONLY])
@pytest.mark.parametrize("fmt", ["qiskit", "braket", "pennylane_qfunc", "gatedict"])
def test_exact_probabilities_with_shots_none(pcs: Any, executor: str, fmt: str) -> None:
    _, _, bell = FORMATS[fmt]
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell, shots=None, pilot=executor)))
    assert result.counts is None
    assert result.probabilities == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-9)


def test_braket_circuit_reads_the_same_on_aer_and_on_braket(pcs: Any) -> None:
    """Measure qubit 2 then 0: Braket orders keys by measurement, on any backend."""
    from braket.circuits import Circuit

    circ = Circuit().x(2).i(0).measure([2, 0])
    on_braket = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(circ, shots=100, pilot="braket_local"))
    )
    on_aer = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(circ, shots=100, pilot="qiskit_local"))
    )
    assert on_braket.counts == on_aer.counts == {"10": 100}
    assert on_braket.path == "native" and on_aer.path == "portable"


def test_qiskit_registers_read_the_same_everywhere(pcs: Any) -> None:
    """Two registers, clbits written out of order: keys as Qiskit's get_counts() gives them
    (registers separated by a space, the last one leftmost), whichever executor ran it."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(3, "q")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.x(0)
    qc.x(2)
    qc.measure(q[0], b[1])
    qc.measure(q[2], a[0])
    qc.measure(q[1], a[1])
    expected = {"10 01": 100}  # b1 b0 a1 a0
    for executor in (
        "qiskit_local",
        "pennylane_default",
        "braket_local",
        "ibm_runtime",
        "azure_quantum",
    ):
        result = pcs.get_results(
            pcs.submit_quantum_task(QuantumTask(qc, shots=100, pilot=executor))
        )
        if executor in NOISY:  # a fake device's noise; the same key layout from its Sampler
            assert max(result.counts, key=result.counts.get) == "10 01"
            assert all(len(k) == 5 and k[2] == " " for k in result.counts)
        else:
            assert result.counts == expected, executor


# ------------------------------------------------------------------ observables and sweeps
# ry(t) on qubit 0, then cx(0, 1): cos(t/2)|00> + sin(t/2)|11>.
THETA = 0.6


def entangled(fmt: str, theta: Any = THETA) -> Any:
    """The circuit above, unmeasured, in ``fmt``; ``theta`` may be a parameter."""
    if fmt == "qiskit":
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(2, name="entangled")
        qc.ry(theta, 0)
        qc.cx(0, 1)
        return qc
    if fmt == "braket":
        from braket.circuits import Circuit

        return Circuit().ry(0, theta).cnot(0, 1)
    if fmt == "pennylane_qfunc":
        import pennylane as qml

        def circuit(t: Any = theta) -> None:
            qml.RY(t[0] if hasattr(t, "__len__") else t, wires=0)
            qml.CNOT(wires=[0, 1])

        return circuit
    if fmt == "gatedict":
        return {
            "n_qubits": 2,
            "gates": [
                {"type": "ry", "qubit": 0, "angle": theta},
                {"type": "cx", "control": 0, "target": 1},
            ],
        }
    if fmt == "qasm3":
        return (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float theta;\nqubit[2] q;\n'
            "ry(theta) q[0];\ncx q[0], q[1];\n"
        )
    raise AssertionError(fmt)


def expected(theta: float) -> list[float]:
    """<ZZ>, <XX>, (<ZI> + <IZ>)/2, <YY>, and Z on qubit 0 alone."""
    import math

    return [1.0, math.sin(theta), math.cos(theta), -math.sin(theta), math.cos(theta)]


def observables(fmt: str) -> list[Any]:
    # Z on qubit 0 alone: Qiskit strings put qubit 0 on the right, the others on the left.
    z0 = "IZ" if fmt in ("qiskit", "qasm3") else "ZI"
    return ["ZZ", "XX", {"ZI": 0.5, "IZ": 0.5}, "YY", z0]


@pytest.mark.parametrize("fmt", ["qiskit", "braket", "pennylane_qfunc", "gatedict"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_observables_on_every_executor(pcs: Any, executor: str, fmt: str) -> None:
    noisy = executor in NOISY
    shots = 4000 if noisy or executor in SAMPLED_ONLY else None
    task = QuantumTask(entangled(fmt), observables=observables(fmt), shots=shots, pilot=executor)
    result = pcs.get_results(pcs.submit_quantum_task(task))
    assert result.counts is None  # nothing was measured: expectation values only
    tolerance = 0.15 if noisy else 0.1 if executor in SAMPLED_ONLY else 1e-9
    assert result.expectation_values == pytest.approx(expected(THETA), abs=tolerance)


@pytest.mark.parametrize("executor", [e for e in EXECUTORS if e not in NOISY])
def test_observables_with_shots_are_estimates(pcs: Any, executor: str) -> None:
    task = QuantumTask(
        entangled("qiskit"), observables=observables("qiskit"), shots=20000, pilot=executor
    )
    result = pcs.get_results(pcs.submit_quantum_task(task))
    # Each value is a mean of +-1 outcomes: standard error <= 1/sqrt(shots) = 0.007.
    assert result.expectation_values == pytest.approx(expected(THETA), abs=0.04)
    assert result.expectation_values[0] == 1.0  # ZZ is exactly 1 on this state


def test_sdk_observables_match_pauli_strings(pcs: Any) -> None:
    import pennylane as qml
    from braket.circuits import Observable
    from qiskit.quantum_info import SparsePauliOp

    want = expected(THETA)
    on_qiskit = QuantumTask(
        entangled("qiskit"),
        observables=[
            SparsePauliOp.from_list([("XX", 1.0)]),
            SparsePauliOp(["ZI", "IZ"], [0.5, 0.5]),
        ],
        shots=None,
        pilot="qiskit_local",
    )
    on_pl = QuantumTask(
        entangled("pennylane_qfunc"),
        observables=[qml.X(0) @ qml.X(1), 0.5 * qml.Z(0) + 0.5 * qml.Z(1)],
        shots=None,
        pilot="pennylane_default",
    )
    on_braket = QuantumTask(
        entangled("braket"),
        observables=[Observable.X() @ Observable.X(), Observable.Z() @ Observable.I()],
        shots=None,
        pilot="braket_local",
    )
    results = pcs.get_results([pcs.submit_quantum_task(t) for t in (on_qiskit, on_pl, on_braket)])
    assert results[0].expectation_values == pytest.approx([want[1], want[2]], abs=1e-9)
    assert results[1].expectation_values == pytest.approx([want[1], want[2]], abs=1e-9)
    assert results[2].expectation_values == pytest.approx([want[1], want[4]], abs=1e-9)


def test_measured_circuit_with_observables_gives_both(pcs: Any) -> None:
    qc = entangled("qiskit")
    qc.measure_all()
    result = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(qc, observables=["ZZ"], shots=1000, pilot="qiskit_local")
        )
    )
    assert set(result.counts) == {"00", "11"}
    assert result.expectation_values == [1.0]


SWEEP = [0.1, 0.9, 2.0]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_sweep_on_every_executor(pcs: Any, executor: str) -> None:
    from qiskit.circuit import Parameter

    noisy = executor in NOISY
    sampled = noisy or executor in SAMPLED_ONLY
    t = Parameter("t")
    task = QuantumTask(
        entangled("qiskit", t),
        parameter_values=[[v] for v in SWEEP],
        observables=observables("qiskit"),
        shots=4000 if sampled else None,
        pilot=executor,
    )
    refs = pcs.submit_quantum_task(task)
    assert isinstance(refs, list) and len(refs) == len(SWEEP)
    results = pcs.get_results(refs)
    for value, result in zip(SWEEP, results, strict=True):
        assert result.metadata["parameter_values"] == [value]
        assert result.expectation_values == pytest.approx(
            expected(value), abs=0.15 if noisy else 0.1 if sampled else 1e-9
        )


@pytest.mark.parametrize(
    ("fmt", "executor", "rows"),
    [
        ("braket", "braket_local", [{"t": v} for v in SWEEP]),
        ("braket", "qiskit_local", [[v] for v in SWEEP]),
        ("pennylane_qfunc", "pennylane_lightning", [[v] for v in SWEEP]),
        ("pennylane_qfunc", "braket_local", [[v] for v in SWEEP]),
        ("qasm3", "qiskit_local", [{"theta": v} for v in SWEEP]),
        ("qasm3", "pennylane_default", [[v] for v in SWEEP]),
    ],
)
def test_sweep_in_every_format(pcs: Any, fmt: str, executor: str, rows: list[Any]) -> None:
    if fmt == "braket":
        from braket.circuits import FreeParameter

        circuit = entangled(fmt, FreeParameter("t"))
    else:
        circuit = entangled(fmt, None) if fmt == "pennylane_qfunc" else entangled(fmt)
    task = QuantumTask(
        circuit, parameter_values=rows, observables=observables(fmt), shots=None, pilot=executor
    )
    results = pcs.get_results(pcs.submit_quantum_task(task))
    got = [value for r in results for value in r.expectation_values]
    assert got == pytest.approx([value for v in SWEEP for value in expected(v)], abs=1e-9)


def test_sweep_of_a_measured_circuit_gives_counts_per_set(pcs: Any) -> None:
    from qiskit.circuit import Parameter

    t = Parameter("t")
    qc = entangled("qiskit", t)
    qc.measure_all()
    import math

    results = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(qc, parameter_values=[[0.0], [math.pi]], shots=100, pilot="qiskit_local")
        )
    )
    assert [r.counts for r in results] == [{"00": 100}, {"11": 100}]

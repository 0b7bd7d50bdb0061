"""Dynamic circuits: what a circuit needs, and the same answer from every executor that runs it.

Real simulators in-process (no Ray): Aer runs Qiskit's control flow natively;
PennyLane runs it through ``qml.measure`` / ``qml.cond``; a PennyLane circuit
with ``qml.measure`` runs on Aer through its Qiskit form.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pilot.backends.registry import EXECUTORS
from pilot.config import parse_description
from pilot.convert import load_circuit
from pilot.convert.dynamic import circuit_needs
from pilot.pilots.actor import QuantumWorker
from pilot.selection import refusal_reasons
from pilot.tasks import QuantumTask
from tests.helpers import task_spec


@pytest.fixture(scope="module")
def workers() -> dict[str, QuantumWorker]:
    out = {}
    for executor in ("qiskit_local", "pennylane_default", "pennylane_lightning", "braket_local"):
        seed = {"seed": 5} if EXECUTORS[executor].takes("seed") else {}  # (not Braket's)
        config = parse_description(
            {"resource_type": "quantum", "quantum": {"executor": executor, **seed}}
        ).quantum
        out[executor] = QuantumWorker(config, pilot=executor, num_cpus=1)
    return out


def run(worker: QuantumWorker, circuit: Any, shots: int | None) -> Any:
    cap = worker.resources()[0]
    task = QuantumTask(circuit, shots=shots)
    assert refusal_reasons(task, task.load_on_driver(), cap) == []
    return worker.run(task_spec(worker, circuit, shots, cap.name))


def close(counts: dict[str, int], probs: dict[str, float], shots: int) -> bool:
    """Every outcome within 5 binomial standard deviations of its probability."""
    keys = set(counts) | set(probs)
    return all(
        abs(counts.get(k, 0) / shots - probs.get(k, 0.0))
        <= 5 * math.sqrt(max(probs.get(k, 0.0) * (1 - probs.get(k, 0.0)), 1e-4) / shots)
        for k in keys
    )


def test_what_a_circuit_needs() -> None:
    from qiskit import QuantumCircuit

    static = QuantumCircuit(2, 2)
    static.h(0)
    static.cx(0, 1)
    static.measure([0, 1], [0, 1])
    assert circuit_needs(static) == frozenset()
    mid = QuantumCircuit(1, 2)
    mid.measure(0, 0)
    mid.h(0)
    mid.measure(0, 1)
    assert circuit_needs(mid) == {"mid_circuit_measurement"}
    reset = QuantumCircuit(1, 1)
    reset.h(0)
    reset.reset(0)
    assert circuit_needs(reset) == {"reset"}
    branch = QuantumCircuit(2, 1)
    branch.measure(0, 0)
    with branch.if_test((branch.clbits[0], 1)):
        branch.x(1)
    assert circuit_needs(branch) == {"mid_circuit_measurement", "classical_control"}
    loop = QuantumCircuit(1, 1)
    with loop.while_loop((loop.clbits[0], 0)):
        loop.h(0)
        loop.measure(0, 0)
    assert "while_loop" in circuit_needs(loop)


QASM2_FEED_FORWARD = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg m[1];
creg out[1];
x q[0];
measure q[0] -> m[0];
reset q[0];
if (m == 1) x q[1];
measure q[1] -> out[0];
measure q[0] -> m[0];
"""

QASM3_CONDITIONS = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] c;
bit[1] r;
h q[0];
h q[1];
c[0] = measure q[0];
c[1] = measure q[1];
if (c == 1) { x q[2]; }
if (!c[1]) { z q[2]; }
r[0] = measure q[2];
"""


@pytest.mark.parametrize("text", [QASM2_FEED_FORWARD, QASM3_CONDITIONS], ids=["qasm2", "qasm3"])
def test_qasm_dynamic_circuits_agree_between_aer_and_pennylane(workers: dict, text: str) -> None:
    loaded = load_circuit(text)
    assert {"mid_circuit_measurement", "classical_control"} <= loaded.needs
    aer = run(workers["qiskit_local"], text, 4000).counts
    assert all(" " in key for key in aer)  # two registers: Qiskit's spaced keys
    for executor in ("pennylane_default", "pennylane_lightning"):
        exact = run(workers[executor], text, None).probabilities
        assert math.isclose(sum(exact.values()), 1.0, abs_tol=1e-9)
        assert close(aer, exact, 4000), (executor, aer, exact)
        sampled = run(workers[executor], text, 4000).counts
        assert close(sampled, exact, 4000)
    if text is QASM2_FEED_FORWARD:
        assert aer == {"1 0": 4000}  # out=1, m=0 (q0 was reset before its last measurement)


def test_switch_and_for_loops_agree_between_aer_and_pennylane(workers: dict) -> None:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    c, r = ClassicalRegister(2, "c"), ClassicalRegister(1, "r")
    qc = QuantumCircuit(QuantumRegister(3), c, r)
    qc.h([0, 1])
    qc.measure([0, 1], c)
    with qc.switch(c) as case:
        with case(3):
            qc.ry(0.7, 2)
        with case(1, 2):
            qc.x(2)
        with case(case.DEFAULT):
            qc.h(2)
    with qc.for_loop(range(2)):
        qc.rx(0.3, 2)
    qc.measure(2, r[0])
    aer = run(workers["qiskit_local"], qc, 4000).counts
    exact = run(workers["pennylane_default"], qc, None).probabilities
    assert close(aer, exact, 4000), (aer, exact)


def test_measurements_and_resets_inside_branches_agree(workers: dict) -> None:
    """Measure and reset q1 only when q0 read 1 (PennyLane: through an ancilla)."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 3)
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.h(1)
        qc.measure(1, 1)
        qc.reset(1)
    qc.measure(1, 2)  # always 0: reset when it was measured, untouched otherwise
    expected = {"000": 0.5, "001": 0.25, "011": 0.25}
    assert load_circuit(qc).needs >= {"measurement_in_branch", "reset"}
    for executor in ("pennylane_default", "pennylane_lightning"):
        exact = run(workers[executor], qc, None).probabilities
        assert exact == pytest.approx(expected, abs=1e-9), executor
    assert close(run(workers["qiskit_local"], qc, 4000).counts, expected, 4000)


def test_pennylane_mid_circuit_measurements_run_on_aer(workers: dict) -> None:
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit"))
    def circuit() -> Any:
        qml.RY(1.1, 0)
        m = qml.measure(0)
        qml.CNOT([0, 1])
        m2 = qml.measure(1)
        qml.cond(m & m2, qml.X)(2)
        m3 = qml.measure(2, reset=True)
        return qml.counts(op=[m, m3])

    loaded = load_circuit(circuit)
    assert loaded.needs == {"mid_circuit_measurement", "classical_control", "reset"}
    exact = run(workers["pennylane_default"], circuit, None).probabilities
    p1 = math.sin(1.1 / 2) ** 2
    assert exact == pytest.approx({"00": 1 - p1, "11": p1}, abs=1e-9)
    aer = run(workers["qiskit_local"], circuit, 4000)
    assert aer.path == "dynamic" and close(aer.counts, exact, 4000)


def test_what_only_pennylane_runs_is_refused_elsewhere_up_front(workers: dict) -> None:
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit"))
    def postselected() -> Any:
        qml.H(0)
        qml.measure(0, postselect=1)
        return qml.counts(wires=[0])

    task = QuantumTask(postselected, shots=100)
    loaded = task.load_on_driver()
    reasons = refusal_reasons(task, loaded, workers["qiskit_local"].resources()[0])
    assert reasons and "PennyLane's own mid-circuit measurement features" in reasons[0]
    # PennyLane's "hw-like" postselection drops the shots that read 0.
    assert set(run(workers["pennylane_default"], postselected, 100).counts) == {"1"}
    braket = refusal_reasons(task, loaded, workers["braket_local"].resources()[0])
    assert "needs mid-circuit measurement" in " ".join(braket)

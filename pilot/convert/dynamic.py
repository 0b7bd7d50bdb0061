"""Dynamic circuits: mid-circuit measurement, reset and classical control.

A Qiskit circuit (also what OpenQASM 2 and 3 load into) is *dynamic* when it
measures a qubit and then acts on it again, resets a qubit, or branches on
measured bits (``if_else``, OpenQASM 2's ``if (c == n)``, OpenQASM 3's ``if``,
``switch``, ``for``/``while`` loops).  :func:`circuit_needs` says which of
:data:`dreamer.workload.DYNAMIC_FEATURES` a circuit uses: QDREAMER refuses
resources that lack one before the task is sent.

Qiskit executors run dynamic circuits natively.  PennyLane's ``default.qubit``
and ``lightning.qubit`` run them through :func:`pilot.convert.pennylane.to_pennylane`: every
``measure`` becomes ``qml.measure`` (a reset ``qml.measure(reset=True)``),
every branch ``qml.cond`` on a function of the measured bits, and the
classical bits' final values are sampled as measurement values.  Their
distribution is keyed by classical bit (bit 0 first); :class:`KeyFormat`
writes it in Qiskit's convention, registers separated by spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: Control-flow instructions, by the feature they need.
_BRANCHES = {"if_else", "switch_case", "for_loop", "box"}
_LOOPS = {"while_loop"}


def circuit_needs(qc: QuantumCircuit) -> frozenset[str]:
    """The dynamic features ``qc`` uses (empty for a circuit measured at the end)."""
    if _measured_at_the_end(qc):
        return frozenset()
    needs: set[str] = set()
    measured: set[Any] = set()  # qubits measured and not yet acted on again

    def walk(circuit: QuantumCircuit, qubits: list[Any], in_branch: bool) -> None:
        for inst in circuit.data:
            op = inst.operation
            here = [qubits[circuit.find_bit(q).index] for q in inst.qubits]
            name = op.name
            if name in _LOOPS:
                needs.add("classical_control")
                needs.add("while_loop")
            elif name in _BRANCHES:
                if name != "box":
                    needs.add("classical_control")
                branch = in_branch or name in ("if_else", "switch_case")
                for block in op.blocks:
                    walk(block, here, branch)
                continue
            if name in ("barrier", "delay"):
                continue
            if measured.intersection(here):
                needs.add("mid_circuit_measurement")
            if name == "reset":
                needs.add("reset")
            if name in ("measure", "reset") and in_branch:
                needs.add("measurement_in_branch")
            if name == "measure":
                measured.update(here)
            else:
                measured.difference_update(here)
            if name in _LOOPS:
                for block in op.blocks:
                    walk(block, here, True)

    walk(qc, list(qc.qubits), False)
    if "classical_control" in needs:
        needs.add("mid_circuit_measurement")  # a branch reads a bit measured before it
    return frozenset(needs)


def _measured_at_the_end(qc: QuantumCircuit) -> bool:
    """No reset, no control flow, and every measurement in the circuit's tail (checked
    from the end: submissions load every circuit, and most are measured last)."""
    counts = qc.count_ops()
    if "reset" in counts or (_BRANCHES | _LOOPS).intersection(counts):
        return False
    left = counts.get("measure", 0)
    for inst in reversed(qc.data):
        if not left:
            return True
        name = inst.operation.name
        if name == "measure":
            left -= 1
        elif name not in ("barrier", "delay"):
            return False
    return not left


@dataclass
class DynamicCounts:
    """What the fidelity model needs of a dynamic circuit: per-qubit counts of
    mid-circuit measurements and resets, the qubits measured last, and its gates
    (every branch's, each once) as a gate-only circuit."""

    mid_measurements: dict[int, int]
    resets: dict[int, int]
    terminal: tuple[int, ...]
    gates: QuantumCircuit


def dynamic_counts(qc: QuantumCircuit) -> DynamicCounts:
    """How often each qubit is measured mid-circuit and reset (branches counted once each)."""
    from qiskit import QuantumCircuit as QC

    mids: dict[int, int] = {}
    resets: dict[int, int] = {}
    pending: dict[int, int] = {}  # measures not yet followed by work on the qubit
    gates = QC(qc.num_qubits, name=qc.name)

    def walk(circuit: QuantumCircuit, qubits: list[int]) -> None:
        for inst in circuit.data:
            op = inst.operation
            here = [qubits[circuit.find_bit(q).index] for q in inst.qubits]
            if op.name in _BRANCHES | _LOOPS:
                for block in op.blocks:
                    walk(block, here)
                continue
            if op.name in ("barrier", "delay"):
                continue
            for q in here:
                if q in pending:
                    mids[q] = mids.get(q, 0) + pending.pop(q)
            if op.name == "measure":
                pending[here[0]] = pending.get(here[0], 0) + 1
            elif op.name == "reset":
                resets[here[0]] = resets.get(here[0], 0) + 1
            else:
                gates.append(op, here)

    walk(qc, list(range(qc.num_qubits)))
    return DynamicCounts(mids, resets, tuple(sorted(pending)), gates)


# ------------------------------------------------------------------ deferred measurement
#: The dynamic features :func:`deferred` removes (no branch reads a measured bit).
DEFERRABLE = frozenset({"mid_circuit_measurement", "reset"})


def deferred(qc: QuantumCircuit) -> tuple[QuantumCircuit, list[int]]:
    """``qc`` (measurements and resets anywhere, no control flow) as a circuit with
    neither, and for each classical bit the qubit that holds its final value.

    The principle of deferred measurement: a measurement that is not the last
    operation on its qubit becomes a CX onto a fresh ancilla, whose value is read at
    the end; a reset moves the qubit's later operations onto a fresh ancilla in
    ``|0>`` (the old wire is never read again).  A bit never written holds ``0`` (a
    fresh ancilla).  The joint distribution of the holders' values at the end is the
    distribution of the classical bits -- exactly, so a statevector gives exact
    probabilities of a circuit that measures mid-way (a cut's subexperiments do).
    """
    from qiskit import QuantumCircuit as QC
    from qiskit.circuit.library import CXGate

    last: dict[int, int] = {}
    for i, inst in enumerate(qc.data):
        name = inst.operation.name
        if name in _BRANCHES | _LOOPS:
            raise ValueError(f"deferred measurement of a circuit with {name!r} (classical control)")
        if name not in ("barrier", "delay"):
            for q in inst.qubits:
                last[qc.find_bit(q).index] = i
    ops: list[tuple[Any, list[int]]] = []
    width = qc.num_qubits
    wire = list(range(width))
    holder: dict[int, int] = {}
    for i, inst in enumerate(qc.data):
        op = inst.operation
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        if op.name == "measure":
            (q,), (c,) = qubits, [qc.find_bit(b).index for b in inst.clbits]
            if last[q] == i:
                holder[c] = wire[q]
            else:
                ops.append((CXGate(), [wire[q], width]))
                holder[c] = width
                width += 1
        elif op.name == "reset":
            wire[qubits[0]] = width
            width += 1
        elif inst.clbits:
            raise ValueError(f"deferred measurement of {op.name!r}, which reads classical bits")
        else:
            ops.append((op, [wire[q] for q in qubits]))
    holders = []
    for c in range(qc.num_clbits):
        if c not in holder:
            holder[c] = width
            width += 1
        holders.append(holder[c])
    out = QC(width, name=qc.name)
    for op, qubits in ops:
        out.append(op, qubits)
    return out, holders

"""Workload profiles: what QDREAMER needs to know about a circuit, counted on the driver.

Gates are counted in native-gate equivalents so that the estimator can
multiply calibrated error rates: one-qubit gates as physical pulses (virtual
Z rotations are free; ``h``, ``x``, ``sx`` one pulse; a general rotation two),
two-qubit gates as CX equivalents (``swap`` three, controlled and Ising
rotations two), three-qubit gates as their standard decompositions spread
over their pairs.  Anything else is first decomposed by Qiskit's transpiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dreamer.workload import VIRTUAL_GATES, WorkloadProfile, canonical_gate
from pilot.convert.dynamic import dynamic_counts

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.convert.portable import LoadedCircuit

#: Physical one-qubit pulses per gate (gates not listed: 2).
ONE_QUBIT_PULSES = dict.fromkeys(VIRTUAL_GATES, 0) | {"x": 1, "y": 1, "sx": 1, "sxdg": 1, "h": 1}

#: CX equivalents per two-qubit gate (gates not listed: decomposed first).
TWO_QUBIT_CX = {
    "cx": 1,
    "cz": 1,
    "cy": 1,
    "ecr": 1,
    "ch": 2,
    "swap": 3,
    "iswap": 2,
    "cp": 2,
    "crx": 2,
    "cry": 2,
    "crz": 2,
    "rxx": 2,
    "ryy": 2,
    "rzz": 2,
}

#: Three-qubit gates: CX equivalents on (q0,q1), (q0,q2), (q1,q2).
THREE_QUBIT_CX = {"ccx": (2, 2, 2), "cswap": (3, 3, 2)}

_SKIP = {"barrier", "measure", "delay", "global_phase"}


def _needs_decomposition(qc: QuantumCircuit) -> bool:
    for inst in qc.data:
        name = canonical_gate(inst.operation.name)
        n = len(inst.qubits)
        if name in _SKIP:
            continue
        if n == 2 and name not in TWO_QUBIT_CX:
            return True
        if n == 3 and name not in THREE_QUBIT_CX:
            return True
        if n > 3:
            return True
    return False


def profile_circuit(
    body: QuantumCircuit, measured: tuple[int, ...], shots: int | None
) -> WorkloadProfile:
    """Profile a gate-only Qiskit circuit whose ``measured`` qubits are read out."""
    if _needs_decomposition(body):
        from qiskit import transpile

        body = transpile(body, basis_gates=["u", "cx"], optimization_level=0)
    ones: dict[int, int] = {}
    pairs: dict[tuple[int, int], int] = {}
    gates = set()
    for inst in body.data:
        name = canonical_gate(inst.operation.name)
        if name in _SKIP:
            continue
        gates.add(name)
        qubits = [body.find_bit(q).index for q in inst.qubits]
        if len(qubits) == 1:
            ones[qubits[0]] = ones.get(qubits[0], 0) + ONE_QUBIT_PULSES.get(name, 2)
        elif len(qubits) == 2:
            key = (min(qubits), max(qubits))
            pairs[key] = pairs.get(key, 0) + TWO_QUBIT_CX[name]
        else:
            a, b, c = qubits
            for (x, y), n in zip(((a, b), (a, c), (b, c)), THREE_QUBIT_CX[name], strict=True):
                key = (min(x, y), max(x, y))
                pairs[key] = pairs.get(key, 0) + n
    return WorkloadProfile(
        num_qubits=max(1, body.num_qubits),
        one_qubit=ones,
        interactions=pairs,
        depth=int(body.depth()),
        measured=tuple(measured),
        shots=shots,
        gates=frozenset(gates),
    )


def profile_loaded(loaded: LoadedCircuit, shots: int | None) -> WorkloadProfile:
    """Profile a loaded circuit (through its portable form; a dynamic circuit with its
    mid-circuit measurements and resets counted, every branch's gates once)."""
    if loaded.needs and loaded.dynamic is None:  # PennyLane-only features: width only
        from dataclasses import replace

        return replace(WorkloadProfile.unknown(loaded.num_qubits, shots), needs=loaded.needs)
    if loaded.dynamic is not None:
        from dataclasses import replace

        counts = dynamic_counts(loaded.dynamic)
        return replace(
            profile_circuit(counts.gates, counts.terminal, shots),
            mid_measurements=counts.mid_measurements,
            resets=counts.resets,
            needs=loaded.needs,
        )
    portable = loaded.portable()
    measured = portable.measured or tuple(
        sorted({q for obs in portable.observables for term in obs for q, _ in term.paulis})
    )
    return profile_circuit(portable.body, measured, shots)

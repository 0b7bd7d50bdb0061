"""What a task needs from a resource, and the gate vocabulary shared by every SDK.

Gate names are canonicalised to Qiskit's spelling (``cx``, ``ccx``, ``p``,
``rxx``...), because Qiskit is our hub format; :data:`GATE_ALIASES` maps the
names used by PennyLane (``CNOT``, ``Hadamard``, ``IsingXX``), Braket (``cnot``,
``si``, ``phaseshift``) and the seed-002 gate dict onto it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Operations that are not gates: they never make a resource infeasible.
NON_GATES = frozenset({"measure", "barrier", "delay", "global_phase", "gphase"})

#: Lower-cased foreign spelling -> canonical (Qiskit) spelling.
GATE_ALIASES: dict[str, str] = {
    # Identity / Paulis / Clifford
    "i": "id",
    "identity": "id",
    "paulix": "x",
    "pauliy": "y",
    "pauliz": "z",
    "hadamard": "h",
    "si": "sdg",
    "ti": "tdg",
    "v": "sx",
    "vi": "sxdg",
    "adjoint(s)": "sdg",
    "adjoint(t)": "tdg",
    "adjoint(sx)": "sxdg",
    # Parametrised single-qubit
    "phaseshift": "p",
    "phase": "p",
    "u1": "p",
    "u3": "u",
    "U": "u",
    # Two-qubit
    "cnot": "cx",
    "cx": "cx",
    "cphaseshift": "cp",
    "controlledphaseshift": "cp",
    "cphase": "cp",
    "isingxx": "rxx",
    "isingyy": "ryy",
    "isingzz": "rzz",
    "xx": "rxx",
    "yy": "ryy",
    "zz": "rzz",
    # Three-qubit
    "toffoli": "ccx",
    "ccnot": "ccx",
    "fredkin": "cswap",
    # Measurement spelt by other frameworks
    "measurement": "measure",
    "m": "measure",
}


def canonical_gate(name: str) -> str:
    """Return the canonical (Qiskit) spelling of a gate name from any framework.

    >>> canonical_gate("CNOT"), canonical_gate("Hadamard"), canonical_gate("si")
    ('cx', 'h', 'sdg')
    """
    low = name.strip().lower()
    return GATE_ALIASES.get(low, low)


def canonical_gates(names: Iterable[str]) -> frozenset[str]:
    """Canonicalise a collection of gate names."""
    return frozenset(canonical_gate(n) for n in names)


@dataclass(frozen=True)
class TaskRequirements:
    """What a quantum task asks of a resource, as known on the driver.

    ``num_qubits`` is ``None`` when the circuit is built on the worker (a
    callable) and the user did not declare it.  ``shots=None`` asks for exact
    probabilities.  ``pilot`` / ``resource`` pin the task.
    """

    name: str = "task"
    num_qubits: int | None = None
    gate_set: frozenset[str] | None = None
    shots: int | None = 1024
    num_gpus: float = 0.0
    pilot: str | None = None
    resource: str | None = None

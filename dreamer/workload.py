"""What a task needs from a resource, and the gate vocabulary shared by every SDK.

Gate names are canonicalised to Qiskit's spelling (``cx``, ``ccx``, ``p``,
``rxx``...), because Qiskit is our hub format; :data:`GATE_ALIASES` maps the
names used by PennyLane (``CNOT``, ``Hadamard``, ``IsingXX``), Braket (``cnot``,
``si``, ``phaseshift``) and the seed-002 gate dict onto it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


#: What a dynamic circuit may need beyond gates, and how a refusal names it.
DYNAMIC_FEATURES: dict[str, str] = {
    "mid_circuit_measurement": "mid-circuit measurement",
    "reset": "reset",
    "classical_control": "classical control (if/else on measured bits)",
    "while_loop": "a loop on measured bits (while)",
    "measurement_in_branch": "a measurement or reset inside a branch (if/else, switch)",
    "pennylane_mcm": "PennyLane's own mid-circuit measurement features (postselection, "
    "statistics of functions of measurement values)",
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
    probabilities.  ``pilot`` / ``resource`` pin the task.  ``needs`` lists the
    :data:`DYNAMIC_FEATURES` the circuit uses (mid-circuit measurement, reset,
    classical control).
    """

    name: str = "task"
    num_qubits: int | None = None
    gate_set: frozenset[str] | None = None
    shots: int | None = 1024
    num_gpus: float = 0.0
    pilot: str | None = None
    resource: str | None = None
    needs: frozenset[str] = frozenset()


#: Gates that are diagonal in Z: virtual (free, error-less) on devices with ``rz``.
VIRTUAL_GATES = frozenset({"id", "z", "s", "sdg", "t", "tdg", "rz", "p", "u1"})


@dataclass(frozen=True)
class WorkloadProfile:
    """What a circuit does, as counted on the driver (pure data).

    ``one_qubit`` maps each logical qubit to its physical-gate count (virtual
    Z rotations excluded); ``interactions`` maps each pair ``(a, b)`` (``a < b``)
    to the number of two-qubit gates between them, three-qubit gates counted
    as their usual decomposition.  ``mid_measurements`` and ``resets`` count,
    per logical qubit, measurements followed by more work on the qubit and
    resets (a dynamic circuit's; both cost their own errors on a device);
    ``needs`` lists the :data:`DYNAMIC_FEATURES` the circuit uses.  ``known``
    is ``False`` when only the width is known (a circuit built on the worker).
    """

    num_qubits: int
    one_qubit: Mapping[int, int] = field(default_factory=dict)
    interactions: Mapping[tuple[int, int], int] = field(default_factory=dict)
    depth: int = 0
    measured: tuple[int, ...] = ()
    shots: int | None = 1024
    gates: frozenset[str] = frozenset()
    known: bool = True
    mid_measurements: Mapping[int, int] = field(default_factory=dict)
    resets: Mapping[int, int] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()

    @property
    def one_qubit_gates(self) -> int:
        return sum(self.one_qubit.values())

    @property
    def two_qubit_gates(self) -> int:
        return sum(self.interactions.values())

    def __post_init__(self) -> None:
        signature = (
            self.num_qubits,
            tuple(sorted(self.one_qubit.items())),
            tuple(sorted(self.interactions.items())),
            self.measured,
            self.depth,
            self.shots,
            self.gates,
            self.known,
            tuple(sorted(self.mid_measurements.items())),
            tuple(sorted(self.resets.items())),
            self.needs,
        )
        object.__setattr__(self, "_signature", signature)

    def signature(self) -> tuple:
        """A hashable key: equal profiles estimate (and cost) alike on the same device."""
        return self._signature  # type: ignore[attr-defined]

    @classmethod
    def unknown(cls, num_qubits: int, shots: int | None) -> WorkloadProfile:
        """Only the width is known: assume a line of entangling gates, all measured."""
        n = max(1, num_qubits)
        return cls(
            num_qubits=n,
            one_qubit=dict.fromkeys(range(n), 1),
            interactions={(i, i + 1): 1 for i in range(n - 1)},
            depth=n,
            measured=tuple(range(n)),
            shots=shots,
            known=False,
        )

"""Gate tables: canonical (Qiskit) name -> arity, parameter count, PennyLane op, Braket method.

Every row was checked numerically (``tests/convert/test_gates.py`` compares
the three unitaries for random angles, up to global phase).  ``None`` means the
framework has no such gate; conversion then asks Qiskit's transpiler to
rewrite the gate into ones that exist.
"""

from __future__ import annotations

from typing import NamedTuple


class GateSpec(NamedTuple):
    num_qubits: int
    num_params: int
    pennylane: str | None  # "adjoint:S" means qml.adjoint(qml.S(...))
    braket: str | None  # method name on braket.circuits.Circuit


GATES: dict[str, GateSpec] = {
    "id": GateSpec(1, 0, "Identity", "i"),
    "x": GateSpec(1, 0, "PauliX", "x"),
    "y": GateSpec(1, 0, "PauliY", "y"),
    "z": GateSpec(1, 0, "PauliZ", "z"),
    "h": GateSpec(1, 0, "Hadamard", "h"),
    "s": GateSpec(1, 0, "S", "s"),
    "sdg": GateSpec(1, 0, "adjoint:S", "si"),
    "t": GateSpec(1, 0, "T", "t"),
    "tdg": GateSpec(1, 0, "adjoint:T", "ti"),
    "sx": GateSpec(1, 0, "SX", "v"),
    "sxdg": GateSpec(1, 0, "adjoint:SX", "vi"),
    "rx": GateSpec(1, 1, "RX", "rx"),
    "ry": GateSpec(1, 1, "RY", "ry"),
    "rz": GateSpec(1, 1, "RZ", "rz"),
    "p": GateSpec(1, 1, "PhaseShift", "phaseshift"),
    "u": GateSpec(1, 3, "U3", "u"),
    "cx": GateSpec(2, 0, "CNOT", "cnot"),
    "cy": GateSpec(2, 0, "CY", "cy"),
    "cz": GateSpec(2, 0, "CZ", "cz"),
    "ch": GateSpec(2, 0, "CH", None),
    "swap": GateSpec(2, 0, "SWAP", "swap"),
    "iswap": GateSpec(2, 0, "ISWAP", "iswap"),
    "ecr": GateSpec(2, 0, "ECR", "ecr"),
    "crx": GateSpec(2, 1, "CRX", None),
    "cry": GateSpec(2, 1, "CRY", None),
    "crz": GateSpec(2, 1, "CRZ", None),
    "cp": GateSpec(2, 1, "ControlledPhaseShift", "cphaseshift"),
    "rxx": GateSpec(2, 1, "IsingXX", "xx"),
    "ryy": GateSpec(2, 1, "IsingYY", "yy"),
    "rzz": GateSpec(2, 1, "IsingZZ", "zz"),
    "ccx": GateSpec(3, 0, "Toffoli", "ccnot"),
    "cswap": GateSpec(3, 0, "CSWAP", "cswap"),
}

#: PennyLane operator name -> canonical name (the inverse of the table above).
FROM_PENNYLANE: dict[str, str] = {
    spec.pennylane: name
    for name, spec in GATES.items()
    if spec.pennylane and not spec.pennylane.startswith("adjoint:")
}
FROM_PENNYLANE.update({"U3": "u", "CPhase": "cp", "MultiControlledX": "mcx"})

#: PennyLane ops whose adjoint is a named canonical gate.
ADJOINT_FROM_PENNYLANE = {"S": "sdg", "T": "tdg", "SX": "sxdg"}

#: Braket operator class name, lower-cased -> canonical name.
FROM_BRAKET: dict[str, str] = {spec.braket: name for name, spec in GATES.items() if spec.braket}

#: Single-qubit gates every framework has: the transpiler's fallback basis.
UNIVERSAL_BASIS = ("u", "cx")


def basis_for(framework: str) -> list[str]:
    """Canonical gates that convert directly into ``framework``."""
    if framework == "pennylane":
        return [n for n, s in GATES.items() if s.pennylane]
    if framework == "braket":
        return [n for n, s in GATES.items() if s.braket]
    return list(GATES)

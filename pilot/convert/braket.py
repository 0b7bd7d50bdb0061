"""Braket ``Circuit`` <-> portable circuits (Braket counts convention)."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from dreamer.workload import canonical_gate
from pilot.convert.gates import FROM_BRAKET, GATES
from pilot.convert.portable import KeyFormat, LoadedCircuit, Observable, PauliTerm, PortableCircuit
from pilot.convert.qiskit import translate
from pilot.errors import CircuitError, UnsupportedOperationError
from pilot.hashing import blob, encode_sdk

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

logger = logging.getLogger(__name__)


def _gate_name(op: Any) -> str:
    return FROM_BRAKET.get(type(op).__name__.lower(), canonical_gate(type(op).__name__))


def from_braket(circ: Any) -> LoadedCircuit:
    """Load a Braket ``Circuit``."""
    if circ.parameters:
        names = ", ".join(sorted(p.name for p in circ.parameters))
        raise CircuitError(
            f"Braket circuit has free parameters ({names}); bind them with "
            "QuantumTask(..., parameter_values=[...]) or circuit.make_bound_circuit({...})",
            source_format="braket",
        )
    qubits = [int(q) for q in circ.qubits]
    width = max(qubits) + 1 if qubits else 1
    gates = frozenset(
        _gate_name(ins.operator)
        for ins in circ.instructions
        if type(ins.operator).__name__ not in ("Measure", "GPhase")
    )
    return LoadedCircuit(
        source_format="braket",
        native=circ,
        num_qubits=width,
        gates=gates,
        name="braket_circuit",
        to_portable=lambda: portable_from_braket(circ, width),
        measures=any(type(i.operator).__name__ == "Measure" for i in circ.instructions)
        or any(type(rt).__name__ == "Probability" for rt in circ.result_types),
    )


def portable_from_braket(circ: Any, width: int) -> PortableCircuit:
    from braket.circuits import Circuit
    from braket.circuits.gate import Gate
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate

    body = QuantumCircuit(width, name="braket_circuit")
    measured: list[int] = []
    for ins in circ.instructions:
        op = ins.operator
        cls = type(op).__name__
        targets = [int(q) for q in ins.target]
        if cls == "Measure":
            measured.extend(q for q in targets if q not in measured)
            continue
        if cls == "GPhase":
            body.global_phase += float(op.angle)
            continue
        if not isinstance(op, Gate):
            raise UnsupportedOperationError(
                cls, None, "noise channels only run on Braket executors"
            )
        if measured and set(targets) & set(measured):
            raise UnsupportedOperationError(
                f"{cls} after measure",
                None,
                "move measurements to the end of the circuit",
            )
        name = _gate_name(op)
        spec = GATES.get(name)
        simple = not ins.control and ins.power == 1
        if spec is not None and simple:
            if spec.num_params == 1:
                params = [float(op.angle)]
            elif spec.num_params == 3:
                params = [float(op.angle_1), float(op.angle_2), float(op.angle_3)]
            else:
                params = []
            getattr(body, name)(*params, *targets)
            continue
        # Anything else (modifiers, unitary, gpi, ms, ...): its matrix, via Braket.
        sub = Circuit().add_instruction(ins)
        matrix = sub.to_unitary()
        order = sorted(int(q) for q in sub.qubits)
        # Braket matrices are big-endian in sorted qubit order; Qiskit's are little-endian.
        body.append(UnitaryGate(matrix, label=cls.lower()), list(reversed(order)))
    observables: list[Observable] = []
    probs_targets: list[int] | None = None
    for rt in circ.result_types:
        kind = type(rt).__name__
        if kind == "Expectation":
            observables.append(_observable(rt.observable, [int(q) for q in rt.target]))
        elif kind == "Probability":
            probs_targets = [int(q) for q in rt.target] if rt.target else None
        else:
            raise UnsupportedOperationError(
                f"result type {kind}",
                None,
                "only Expectation and Probability result types convert to other executors",
            )
    if not measured:
        measured = probs_targets or [int(q) for q in sorted(circ.qubits)] or [0]
    return PortableCircuit(
        body=body,
        measured=tuple(measured),
        keys=KeyFormat(None),
        observables=tuple(observables),
        want_counts=True,
    )


def _observable(obs: Any, targets: list[int]) -> Observable:
    """A Braket observable (Pauli tensor products, Hadamard) as Pauli sums."""
    factors = getattr(obs, "factors", None) or (obs,)
    coeff = float(getattr(obs, "coefficient", 1) or 1)
    terms = [PauliTerm(coeff, ())]
    pos = 0
    for factor in factors:
        name = type(factor).__name__
        q = targets[pos] if pos < len(targets) else pos
        pos += 1
        if name in ("X", "Y", "Z"):
            terms = [PauliTerm(t.coeff, (*t.paulis, (q, name))) for t in terms]
        elif name == "I":
            continue
        elif name == "H":  # H = (X + Z) / sqrt(2)
            s = 1 / math.sqrt(2)
            terms = [PauliTerm(t.coeff * s, (*t.paulis, (q, p))) for t in terms for p in ("X", "Z")]
        else:
            raise UnsupportedOperationError(
                f"observable {name}",
                None,
                "use Pauli (X, Y, Z, I) or Hadamard observables",
            )
    return tuple(terms)


def to_braket(
    body: QuantumCircuit, measured: tuple[int, ...], *, exact: bool = False, backend: str = "Braket"
) -> Any:
    """Build a Braket ``Circuit`` from a gate-only Qiskit body.

    With ``exact=False`` the circuit ends by measuring ``measured`` in order;
    with ``exact=True`` it requests a ``Probability`` result over them in
    ascending qubit order (Braket's local simulator permutes the values of an
    unsorted target of three or more qubits), each one acted on at least by
    an identity so that the target exists.
    """
    from braket.circuits import Circuit

    body = translate(body, "braket", backend)
    circ = Circuit()
    for inst in body.data:
        name = inst.operation.name
        qubits = [body.find_bit(q).index for q in inst.qubits]
        spec = GATES[name]
        params = [float(p) for p in inst.operation.params]
        getattr(circ, spec.braket)(*qubits, *params)  # type: ignore[arg-type]
    if exact:
        for q in sorted(set(measured) - {int(q) for q in circ.qubits}):
            circ.i(q)
        circ.probability(target=sorted(measured))
    else:
        circ.measure(list(measured))
    return circ


# Content hashes (pilot.hashing) ---------------------------------------------------


def register_hashing() -> None:
    """Teach :func:`pilot.hashing.encode_sdk` Braket circuits (by their OpenQASM 3
    program); called when the first Braket object is hashed."""
    from braket.circuits import Circuit

    encode_sdk.register(Circuit, _hash_circuit)


def _hash_circuit(obj: Any, out: list[bytes], path: str, bits: Any) -> bool:
    from braket.circuits.serialization import IRType

    try:
        program = obj.to_ir(IRType.OPENQASM)
    except Exception:  # e.g. an instruction without an OpenQASM form: pickle it
        logger.debug("Braket circuit has no OpenQASM form; hashing its pickle", exc_info=True)
        return False
    out.append(blob(b"B", program.source.encode()))
    return True

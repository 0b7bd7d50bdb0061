"""PennyLane QNodes, quantum functions and tapes <-> portable circuits.

Counts keys follow PennyLane: the wires of the ``counts``/``sample``/``probs``
measurement in order, the first wire leftmost.  Wire labels that are not
non-negative integers are numbered in the order of the tape's wires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dreamer.workload import canonical_gate
from pilot.convert.gates import ADJOINT_FROM_PENNYLANE, FROM_PENNYLANE, GATES
from pilot.convert.portable import KeyFormat, LoadedCircuit, Observable, PauliTerm, PortableCircuit
from pilot.errors import CircuitError, UnsupportedOperationError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_MAX_DECOMPOSITION_DEPTH = 12


def is_pennylane_object(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("pennylane")


def tape_from(obj: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
    """A ``QuantumScript`` from a QNode or a tape."""
    import pennylane as qml

    kwargs = kwargs or {}
    if isinstance(obj, qml.QNode):
        tape = qml.workflow.construct_tape(obj)(*args, **kwargs)
        return _on_device_wires(tape, getattr(obj.device, "wires", None))
    if isinstance(obj, qml.tape.QuantumScript):
        return obj
    raise CircuitError(f"not a PennyLane circuit: {type(obj).__name__}", source_format="pennylane")


def _on_device_wires(tape: Any, wires: Any) -> Any:
    """Give wire-less ``counts``/``sample``/``probs`` the QNode device's wires.

    On the QNode's own device, ``qml.counts()`` covers every device wire; the
    pilot's device has no fixed wires, so make that explicit.
    """
    if not wires:
        return tape
    import pennylane as qml

    kinds = {"CountsMP": qml.counts, "SampleMP": qml.sample, "ProbabilityMP": qml.probs}
    measurements = []
    changed = False
    for mp in tape.measurements:
        make = kinds.get(type(mp).__name__)
        if make is not None and mp.obs is None and not mp.wires:
            measurements.append(make(wires=list(wires)))
            changed = True
        else:
            measurements.append(mp)
    if not changed:
        return tape
    return qml.tape.QuantumScript(tape.operations, measurements, shots=tape.shots)


def tape_from_queue(queue: Any, returned: Any) -> Any:
    """The tape a quantum function queued (measurements ordered as returned)."""
    import pennylane as qml

    tape = qml.tape.QuantumScript.from_queue(queue)
    if returned is not None:
        mps = returned if isinstance(returned, (list, tuple)) else (returned,)
        if all(isinstance(m, qml.measurements.MeasurementProcess) for m in mps):
            tape = qml.tape.QuantumScript(tape.operations, list(mps), shots=tape.shots)
    return tape


def _op_name(op: Any) -> str:
    import pennylane as qml

    if isinstance(op, qml.ops.op_math.Adjoint) and op.base.name in ADJOINT_FROM_PENNYLANE:
        return ADJOINT_FROM_PENNYLANE[op.base.name]
    return FROM_PENNYLANE.get(op.name, canonical_gate(op.name))


def wire_map(tape: Any) -> dict[Any, int]:
    labels = list(tape.wires)
    if all(isinstance(w, int) and w >= 0 for w in labels):
        return {w: w for w in labels}
    return {w: i for i, w in enumerate(labels)}


def from_pennylane(tape: Any, name: str = "pennylane_circuit") -> LoadedCircuit:
    """Load a PennyLane tape (PennyLane counts convention)."""
    from pilot.convert.dynamic import pennylane_needs, qiskit_from_pennylane
    from pilot.convert.qiskit import circuit_gates

    wmap = wire_map(tape)
    width = max(wmap.values()) + 1 if wmap else 1
    needs = pennylane_needs(tape)
    dynamic = keys = None
    gates = frozenset(_op_name(op) for op in tape.operations)
    if needs:  # converted now, so that what only PennyLane runs is known at submission
        try:
            dynamic, reported = qiskit_from_pennylane(tape, wmap, width)
        except UnsupportedOperationError:  # postselection, expval of measurement values...
            needs |= {"pennylane_mcm"}
        else:
            keys = KeyFormat(select=reported)
            gates = circuit_gates(dynamic)
    return LoadedCircuit(
        source_format="pennylane",
        native=tape,
        num_qubits=width,
        gates=gates,
        name=name,
        to_portable=lambda: portable_from_pennylane(tape, wmap, width),
        measures=any(
            type(mp).__name__ in ("CountsMP", "SampleMP", "ProbabilityMP")
            for mp in tape.measurements
        ),
        wires=wmap,
        needs=needs,
        dynamic=dynamic,
        keys=keys,
    )


def portable_from_pennylane(tape: Any, wmap: dict[Any, int], width: int) -> PortableCircuit:
    import pennylane as qml
    from qiskit import QuantumCircuit

    body = QuantumCircuit(width, name="pennylane_circuit")
    for op in tape.operations:
        _append(body, op, wmap, 0)
    measured: list[int] | None = None
    observables: list[Observable] = []
    want_counts = False
    for mp in tape.measurements:
        kind = type(mp).__name__
        if kind == "ExpectationMP":
            observables.append(pauli_sum(mp.obs, wmap))
        elif kind in ("CountsMP", "SampleMP", "ProbabilityMP"):
            if mp.obs is not None:
                raise UnsupportedOperationError(
                    f"{kind.removesuffix('MP').lower()} of an observable",
                    None,
                    "use expval(observable) or counts()/probs() over wires",
                )
            wires = [wmap[w] for w in mp.wires] if mp.wires else list(range(width))
            if measured is not None and wires != measured:
                raise UnsupportedOperationError(
                    f"{kind} over wires {wires} next to wires {measured}",
                    None,
                    "measure one set of wires per circuit",
                )
            measured = wires
            want_counts = want_counts or kind != "ProbabilityMP"
        elif isinstance(mp, qml.measurements.MidMeasureMP):
            raise UnsupportedOperationError("mid-circuit measurement", None)
        else:
            raise UnsupportedOperationError(
                kind.removesuffix("MP").lower(),
                None,
                "supported: expval, probs, counts, sample",
            )
    return PortableCircuit(
        body=body,
        measured=tuple(measured or ()),
        keys=KeyFormat(None),
        observables=tuple(observables),
        want_counts=want_counts,
    )


def _append(body: QuantumCircuit, op: Any, wmap: dict[Any, int], depth: int) -> None:
    from qiskit.circuit.library import UnitaryGate

    name = _op_name(op)
    qubits = [wmap[w] for w in op.wires]
    spec = GATES.get(name)
    if type(op).__name__ == "MidMeasureMP" or name == "midmeasuremp":
        raise UnsupportedOperationError("mid-circuit measurement", None)
    adjoint = spec is not None and str(spec.pennylane).startswith("adjoint:")
    if (
        spec is not None
        and len(qubits) == spec.num_qubits
        and (spec.num_params == len(op.parameters) or adjoint)
    ):
        params = [] if adjoint else [float(p) for p in op.parameters]
        getattr(body, name)(*params, *qubits)
        return
    if name in ("globalphase", "barrier", "snapshot"):
        if name == "globalphase":
            body.global_phase -= float(op.parameters[0])
        return
    if op.has_decomposition and depth < _MAX_DECOMPOSITION_DEPTH:
        for sub in op.decomposition():
            _append(body, sub, wmap, depth + 1)
        return
    if op.has_matrix:
        import numpy as np

        matrix = np.asarray(op.matrix(), dtype=complex)
        body.append(UnitaryGate(matrix, label=op.name), list(reversed(qubits)))
        return
    raise UnsupportedOperationError(op.name, None, "no decomposition or matrix")


_PAULI = {"PauliX": "X", "PauliY": "Y", "PauliZ": "Z", "X": "X", "Y": "Y", "Z": "Z"}


def pauli_sum(obs: Any, wmap: dict[Any, int]) -> Observable:
    """A PennyLane observable as a sum of Pauli words (or a clear error)."""
    import pennylane as qml

    try:
        ps = qml.pauli.pauli_sentence(obs)
    except Exception:
        raise UnsupportedOperationError(
            f"expval({obs})",
            None,
            "only observables made of Pauli operators convert to other executors",
        ) from None
    terms = []
    for word, coeff in ps.items():
        c = complex(coeff)
        if abs(c.imag) > 1e-12:
            raise UnsupportedOperationError(f"expval({obs})", None, "not Hermitian")
        paulis = tuple(sorted((wmap[w], p) for w, p in word.items() if p != "I"))
        terms.append(PauliTerm(c.real, paulis))
    return tuple(terms)


def to_pennylane_ops(body: QuantumCircuit, backend: str) -> list[Any]:
    """PennyLane operations for a gate-only Qiskit body."""
    import pennylane as qml

    from pilot.convert.qiskit import translate

    body = translate(body, "pennylane", backend)
    ops: list[Any] = []
    for inst in body.data:
        spec = GATES[inst.operation.name]
        wires = [body.find_bit(q).index for q in inst.qubits]
        assert spec.pennylane is not None
        if spec.pennylane.startswith("adjoint:"):
            base = getattr(qml, spec.pennylane.split(":", 1)[1])
            ops.append(qml.adjoint(base(wires=wires)))
        else:
            params = [float(p) for p in inst.operation.params]
            ops.append(getattr(qml, spec.pennylane)(*params, wires=wires))
    return ops


def call_quantum_function(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """Call ``fn`` recording PennyLane operations; return (returned value, queue or None)."""
    try:
        import pennylane as qml
    except ImportError:
        return fn(*args, **kwargs), None
    with qml.queuing.AnnotatedQueue() as queue:
        out = fn(*args, **kwargs)
    return out, queue

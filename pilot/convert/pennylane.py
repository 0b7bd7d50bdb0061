"""PennyLane QNodes, quantum functions and tapes <-> portable circuits.

Counts keys follow PennyLane: the wires of the ``counts``/``sample``/``probs``
measurement in order, the first wire leftmost.  Wire labels that are not
non-negative integers are numbered in the order of the tape's wires.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dreamer.workload import canonical_gate
from pilot.convert.gates import ADJOINT_FROM_PENNYLANE, FROM_PENNYLANE, GATES
from pilot.convert.portable import KeyFormat, LoadedCircuit, Observable, PauliTerm, PortableCircuit
from pilot.errors import CircuitError, UnsupportedOperationError
from pilot.hashing import encode, encode_sdk, qualname

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


# Dynamic circuits (see pilot.convert.dynamic): Qiskit -> PennyLane mid-circuit
# measurements and conditions, and back.


def _condition_fn(
    condition: Any, circuit: QuantumCircuit, clbits: list[int]
) -> tuple[list[int], Callable[..., bool]]:
    """``(clbit indices read, fn(*bit values) -> bool)`` for an ``if_else``/``while`` condition.

    ``clbits`` maps the block's own clbits to the outer circuit's indices.
    """
    from qiskit.circuit import ClassicalRegister, Clbit

    if isinstance(condition, tuple):
        target, value = condition
        if isinstance(target, Clbit):
            bits = [clbits[circuit.find_bit(target).index]]
            return bits, lambda b: int(b) == int(value)
        if isinstance(target, ClassicalRegister):
            bits = [clbits[circuit.find_bit(c).index] for c in target]
            return bits, lambda *b: sum(int(x) << i for i, x in enumerate(b)) == int(value)
    reads: list[int] = []
    evaluate = _expr(condition, circuit, clbits, reads)
    return reads, lambda *b: bool(evaluate(dict(zip(reads, b, strict=True))))


def _expr(
    node: Any, circuit: QuantumCircuit, clbits: list[int], reads: list[int]
) -> Callable[[dict[int, int]], Any]:
    """A Python function of the bit values for a ``qiskit.circuit.classical.expr`` node."""
    from qiskit.circuit import ClassicalRegister, Clbit
    from qiskit.circuit.classical import expr

    def read(bit: Any) -> int:
        index = clbits[circuit.find_bit(bit).index]
        if index not in reads:
            reads.append(index)
        return index

    if isinstance(node, expr.Var):
        if isinstance(node.var, Clbit):
            i = read(node.var)
            return lambda v: v[i]
        if isinstance(node.var, ClassicalRegister):
            idx = [read(c) for c in node.var]
            return lambda v: sum(v[i] << k for k, i in enumerate(idx))
    elif isinstance(node, expr.Value):
        value = node.value
        return lambda v: value
    elif isinstance(node, expr.Cast):
        inner = _expr(node.operand, circuit, clbits, reads)
        return inner
    elif isinstance(node, expr.Unary):
        inner = _expr(node.operand, circuit, clbits, reads)
        if node.op is expr.Unary.Op.LOGIC_NOT:
            return lambda v: not inner(v)
        if node.op is expr.Unary.Op.BIT_NOT:
            width = getattr(node.type, "width", 1)
            return lambda v: ~inner(v) & ((1 << width) - 1)
    elif isinstance(node, expr.Index):
        target = _expr(node.target, circuit, clbits, reads)
        index = _expr(node.index, circuit, clbits, reads)
        return lambda v: (target(v) >> index(v)) & 1
    elif isinstance(node, expr.Binary):
        left = _expr(node.left, circuit, clbits, reads)
        right = _expr(node.right, circuit, clbits, reads)
        ops: dict[Any, Callable[[Any, Any], Any]] = {
            expr.Binary.Op.BIT_AND: lambda a, b: a & b,
            expr.Binary.Op.BIT_OR: lambda a, b: a | b,
            expr.Binary.Op.BIT_XOR: lambda a, b: a ^ b,
            expr.Binary.Op.LOGIC_AND: lambda a, b: bool(a) and bool(b),
            expr.Binary.Op.LOGIC_OR: lambda a, b: bool(a) or bool(b),
            expr.Binary.Op.EQUAL: lambda a, b: a == b,
            expr.Binary.Op.NOT_EQUAL: lambda a, b: a != b,
            expr.Binary.Op.LESS: lambda a, b: a < b,
            expr.Binary.Op.LESS_EQUAL: lambda a, b: a <= b,
            expr.Binary.Op.GREATER: lambda a, b: a > b,
            expr.Binary.Op.GREATER_EQUAL: lambda a, b: a >= b,
            expr.Binary.Op.SHIFT_LEFT: lambda a, b: a << b,
            expr.Binary.Op.SHIFT_RIGHT: lambda a, b: a >> b,
        }
        fn = ops.get(node.op)
        if fn is not None:
            return lambda v: fn(left(v), right(v))
    raise UnsupportedOperationError(
        f"classical expression {node}",
        None,
        "conditions on bits and registers (==, !=, <, >, &, |, ^, !) are supported",
    )


# ------------------------------------------------------------------ PennyLane
def to_pennylane(qc: QuantumCircuit, backend: str) -> tuple[list[Any], list[Any]]:
    """PennyLane operations for a dynamic Qiskit circuit, and each clbit's final value.

    Returns ``(operations, values)`` where ``values[i]`` is the measurement value
    last written to clbit ``i`` (``None`` when nothing writes it: it reads 0).
    A measurement or reset inside a branch uses one extra wire (an ancilla).
    ``while`` loops have no PennyLane form and are refused (QDREAMER refuses
    them before a task is sent: PennyLane executors do not declare them).
    """
    import pennylane as qml

    values: list[Any] = [None] * qc.num_clbits
    ancillas = itertools.count(qc.num_qubits)  # wires for measurements inside branches
    plain: list[Any] = []  # measurement values straight from qml.measure

    def gate_ops(circuit: QuantumCircuit, inst: Any, wires: list[int]) -> list[Any]:
        from qiskit import QuantumCircuit as QC

        body = QC(len(wires))
        body.append(inst.operation, list(range(len(wires))))
        return [op.map_wires(dict(enumerate(wires))) for op in to_pennylane_ops(body, backend)]

    def condition_value(reads: list[int], fn: Callable[..., bool]) -> Any:
        """A measurement value (or a constant) for ``fn`` over the bits ``reads``."""
        live = [(k, values[i]) for k, i in enumerate(reads) if values[i] is not None]
        if not live:
            return bool(fn(*([0] * len(reads))))

        def evaluate(live_values: list[int]) -> bool:
            args = [0] * len(reads)
            for (k, _), value in zip(live, live_values, strict=True):
                args[k] = value
            return bool(fn(*args))

        return _combined([mv for _, mv in live], evaluate)

    def emit(circuit: QuantumCircuit, wires: list[int], clbits: list[int], when: Any) -> list[Any]:
        """Operations of ``circuit`` on ``wires``, each applied only ``when`` (None: always)."""
        out: list[Any] = []

        def add(ops: list[Any]) -> None:
            if when is None:
                out.extend(ops)
            else:
                out.extend(qml.ops.Conditional(when, op) for op in ops)

        for inst in circuit.data:
            op = inst.operation
            here = [wires[circuit.find_bit(q).index] for q in inst.qubits]
            cl = [clbits[circuit.find_bit(c).index] for c in inst.clbits]
            name = op.name
            if name in ("barrier", "delay"):
                continue
            if name in {"measure", "reset"} and when is not None:
                # qml.cond holds gates only.  A measurement taken only `when`: copy the
                # qubit onto a fresh ancilla under the condition and measure the ancilla
                # (it reads 0 and disturbs nothing when the condition is false); a reset
                # then flips the qubit back when the ancilla read 1.
                anc = next(ancillas)
                out.append(qml.ops.Conditional(when, qml.CNOT([here[0], anc])))
                read = qml.measure(anc, reset=True)
                out.append(read.measurements[0])
                if name == "reset":
                    out.append(qml.ops.Conditional(read, qml.X(here[0])))
                else:
                    values[cl[0]] = _select(when, read, values[cl[0]])
                continue
            if name in {"measure", "reset"}:
                mp = qml.measure(here[0], reset=name == "reset")
                out.append(mp.measurements[0])
                if name == "measure":
                    values[cl[0]] = mp
                    plain.append(mp)
                continue
            if name == "if_else":
                reads, fn = _condition_fn(op.condition, circuit, clbits)
                true_body, false_body = op.blocks[0], (op.blocks[1] if len(op.blocks) > 1 else None)
                cond = condition_value(reads, fn)
                for block, polarity in ((true_body, True), (false_body, False)):
                    if block is None:
                        continue
                    branch = cond if polarity else _negate(cond)
                    if isinstance(branch, bool):
                        if branch:
                            out.extend(emit(block, here, cl, when))
                        continue
                    out.extend(emit(block, here, cl, _both(when, branch)))
                continue
            if name == "switch_case":
                out.extend(_switch(op, circuit, here, cl, when, emit, condition_value, clbits))
                continue
            if name == "for_loop":
                indexset, param, body = op.params
                for i in indexset:
                    block = body.assign_parameters({param: i}) if param is not None else body
                    out.extend(emit(block, here, cl, when))
                continue
            if name == "box":
                out.extend(emit(op.blocks[0], here, cl, when))
                continue
            if name == "while_loop":
                raise UnsupportedOperationError(
                    "while loop", None, "PennyLane has no loop on measured bits"
                )
            add(gate_ops(circuit, inst, here))
        return out

    with qml.queuing.AnnotatedQueue():  # qml.measure queues; the tape is built explicitly
        ops = emit(qc, list(range(qc.num_qubits)), list(range(qc.num_clbits)), None)
        # PennyLane's statistics take plain measurement values only: a bit whose value
        # depends on a branch is written onto an ancilla and measured there.
        for i, value in enumerate(values):
            if value is not None and not any(value is p for p in plain):
                anc = next(ancillas)
                ops.append(qml.ops.Conditional(value, qml.X(anc)))
                read = qml.measure(anc)
                ops.append(read.measurements[0])
                values[i] = read
    return ops, values


def _combined(parts: list[Any], fn: Callable[[list[int]], Any]) -> Any:
    """One measurement value: ``fn`` of the values of ``parts`` (measurement values that
    may share measurements), over the measurements they read."""
    from pennylane.measurements import MeasurementValue

    mps: list[Any] = []
    for mv in parts:
        mps.extend(m for m in mv.measurements if m not in mps)
    positions = [[mps.index(m) for m in mv.measurements] for mv in parts]

    def process(*bits: Any) -> Any:
        return fn(
            [
                int(mv.processing_fn(*(bits[p] for p in pos)))
                for mv, pos in zip(parts, positions, strict=True)
            ]
        )

    return MeasurementValue(mps, process)


def _select(when: Any, read: Any, old: Any) -> Any:
    """The measurement value ``read if when else old`` (``old`` ``None`` reads 0)."""
    if old is None:
        return _combined([when, read], lambda v: v[1] if v[0] else 0)
    return _combined([when, read, old], lambda v: v[1] if v[0] else v[2])


def _negate(cond: Any) -> Any:
    return (not cond) if isinstance(cond, bool) else ~cond


def _both(a: Any, b: Any) -> Any:
    return b if a is None else a & b


def _switch(
    op: Any,
    circuit: QuantumCircuit,
    here: list[int],
    cl: list[int],
    when: Any,
    emit: Callable[..., list[Any]],
    condition_value: Callable[..., Any],
    clbits: list[int],
) -> list[Any]:
    """A ``switch`` as one condition per case (the default: none of the others)."""
    from qiskit.circuit import CASE_DEFAULT

    reads, target = _condition_fn((op.target, 0), circuit, clbits)  # validates the target
    del target

    def value_of(*bits: Any) -> int:
        return sum(int(b) << i for i, b in enumerate(bits))

    out: list[Any] = []
    seen: list[int] = []
    for values, block in op.cases_specifier():
        wanted = [v for v in values if v is not CASE_DEFAULT]
        default = len(wanted) != len(values)
        seen_now = list(seen)

        def fn(
            *bits: Any,
            wanted: list[int] = wanted,
            default: bool = default,
            seen_now: list[int] = seen_now,
        ) -> bool:
            v = value_of(*bits)
            return v in wanted or (default and v not in seen_now)

        seen.extend(wanted)
        cond = condition_value(reads, fn)
        if isinstance(cond, bool):
            if cond:
                out.extend(emit(block, here, cl, when))
            continue
        out.extend(emit(block, here, cl, _both(when, cond)))
    return out


def pennylane_tape(qc: QuantumCircuit, backend: str, shots: int | None) -> tuple[Any, list[int]]:
    """A tape that samples (or, ``shots=None``, gives the probabilities of) ``qc``'s clbits.

    Returns the tape and the clbits it reports, in order; the others read 0.
    """
    import pennylane as qml

    ops, values = to_pennylane(qc, backend)
    written = [i for i, v in enumerate(values) if v is not None]
    mvs = [values[i] for i in written]
    if not mvs:
        raise UnsupportedOperationError(
            "a dynamic circuit that measures nothing", None, "add measurements"
        )
    mp = qml.probs(op=mvs) if shots is None else qml.counts(op=mvs)
    return qml.tape.QuantumScript(ops, [mp], shots=shots), written


# ------------------------------------------------------------------ from PennyLane
#: Most mid-circuit measurements one PennyLane condition may read (its truth table
#: is written out as a Qiskit condition).
MAX_CONDITION_BITS = 8


def pennylane_needs(tape: Any) -> frozenset[str]:
    """The dynamic features a PennyLane tape uses (``qml.measure``, ``qml.cond``)."""
    needs: set[str] = set()
    for op in tape.operations:
        kind = type(op).__name__
        if kind in ("MidMeasure", "MidMeasureMP"):
            needs.add("mid_circuit_measurement")
            if getattr(op, "reset", False):
                needs.add("reset")
        elif kind == "Conditional":
            needs.add("classical_control")
    return frozenset(needs)


def qiskit_from_pennylane(
    tape: Any, wmap: dict[Any, int], width: int
) -> tuple[Any, tuple[int, ...]]:
    """A dynamic PennyLane tape as a Qiskit circuit, and the clbits its counts report.

    ``qml.measure(w)`` measures into a new clbit (``reset=True`` then resets the
    wire); ``qml.cond(f(m...), op)`` becomes ``if_test`` on the bits ``f`` is true
    for; the tape's ``counts``/``sample``/``probs`` over wires measure them into
    clbits at the end, over measurement values read their clbits.  Keys follow
    PennyLane: the reported bits in order, the first leftmost.
    """

    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit.classical import expr

    mp = _dynamic_measurement(tape)
    end_wires = None if mp.mv is not None else [wmap[w] for w in mp.wires] or list(range(width))
    mids = sum(type(op).__name__ in ("MidMeasure", "MidMeasureMP") for op in tape.operations)
    # One register (the IBM Sampler reports per register), filled in measurement order.
    size = mids + len(end_wires or ())
    qc = QuantumCircuit(QuantumRegister(width, "q"), ClassicalRegister(size, "c"))
    qc.name = "pennylane_circuit"
    clbit_of: dict[Any, int] = {}  # MidMeasure op -> clbit index
    used = 0

    def new_clbit() -> int:
        nonlocal used
        used += 1
        return used - 1

    def condition(mv: Any) -> Any:
        mps = list(mv.measurements)
        if len(mps) > MAX_CONDITION_BITS:
            raise UnsupportedOperationError(
                f"a condition on {len(mps)} mid-circuit measurements",
                None,
                f"conditions read at most {MAX_CONDITION_BITS} measurements off PennyLane",
            )
        bits = [qc.clbits[clbit_of[mp]] for mp in mps]
        terms = []
        for values in itertools.product((0, 1), repeat=len(mps)):
            if mv.processing_fn(*values):
                lits = [
                    expr.lift(b) if v else expr.logic_not(b)
                    for b, v in zip(bits, values, strict=True)
                ]
                term = lits[0]
                for lit in lits[1:]:
                    term = expr.logic_and(term, lit)
                terms.append(term)
        if not terms:
            return None
        out = terms[0]
        for term in terms[1:]:
            out = expr.logic_or(out, term)
        return out

    for op in tape.operations:
        kind = type(op).__name__
        if kind in ("MidMeasure", "MidMeasureMP"):
            if getattr(op, "postselect", None) is not None:
                raise UnsupportedOperationError(
                    "postselected mid-circuit measurement",
                    None,
                    "postselection runs on PennyLane executors only",
                )
            q = wmap[op.wires[0]]
            c = new_clbit()
            clbit_of[op] = c
            qc.measure(q, c)
            if op.reset:
                qc.reset(q)
        elif kind == "Conditional":
            cond = condition(op.meas_val)
            if cond is None:
                continue  # never true
            with qc.if_test(cond):
                _append(qc, op.base, wmap, 0)
        else:
            _append(qc, op, wmap, 0)
    if mp.mv is not None:
        mvs = mp.mv if isinstance(mp.mv, list) else [mp.mv]
        reported = []
        for mv in mvs:
            if len(mv.measurements) != 1 or mv.processing_fn(0) != 0 or mv.processing_fn(1) != 1:
                raise UnsupportedOperationError(
                    "counts of a function of measurement values",
                    None,
                    "report the measurement values themselves: qml.counts(op=[m0, m1])",
                )
            reported.append(clbit_of[mv.measurements[0]])
        return qc, tuple(reported)
    reported = []
    for q in end_wires or ():
        c = new_clbit()
        qc.measure(q, c)
        reported.append(c)
    return qc, tuple(reported)


def _dynamic_measurement(tape: Any) -> Any:
    """The one counts/sample/probs a dynamic PennyLane tape returns (else a clear error)."""
    if len(tape.measurements) != 1:
        raise UnsupportedOperationError(
            f"{len(tape.measurements)} measurements of a dynamic circuit",
            None,
            "return one counts()/sample()/probs() from a circuit with qml.measure",
        )
    mp = tape.measurements[0]
    kind = type(mp).__name__
    if kind not in ("CountsMP", "SampleMP", "ProbabilityMP") or mp.obs is not None:
        raise UnsupportedOperationError(
            f"{kind.removesuffix('MP').lower()} of a dynamic circuit",
            None,
            "a circuit with qml.measure reports counts(), sample() or probs()",
        )
    return mp


# Content hashes (pilot.hashing) ---------------------------------------------------

#: A PennyLane device's attributes that change as it runs (random generators, trackers).
_PENNYLANE_DEVICE_STATE = frozenset({"_rng", "_prng_key", "tracker", "_debugger"})


def register_hashing() -> None:
    """Teach :func:`pilot.hashing.encode_sdk` PennyLane QNodes; called when the first
    PennyLane object is hashed."""
    from pennylane.workflow import QNode

    encode_sdk.register(QNode, _hash_qnode)


def _hash_qnode(obj: Any, out: list[bytes], path: str, bits: Any) -> bool:
    """A QNode by its quantum function, shots and device settings (not its RNG state)."""
    device = obj.device
    settings = {k: v for k, v in vars(device).items() if k not in _PENNYLANE_DEVICE_STATE}
    out.append(b"L")
    encode(
        (
            obj.func,
            repr(obj.shots),
            obj.diff_method,
            qualname(type(device)),
            device.name,
            list(device.wires.labels),
            settings,
        ),
        out,
        f"{path} (QNode)",
    )
    return True

"""Dynamic circuits: mid-circuit measurement, reset and classical control.

A Qiskit circuit (also what OpenQASM 2 and 3 load into) is *dynamic* when it
measures a qubit and then acts on it again, resets a qubit, or branches on
measured bits (``if_else``, OpenQASM 2's ``if (c == n)``, OpenQASM 3's ``if``,
``switch``, ``for``/``while`` loops).  :func:`circuit_needs` says which of
:data:`dreamer.workload.DYNAMIC_FEATURES` a circuit uses: QDREAMER refuses
resources that lack one before the task is sent.

Qiskit executors run dynamic circuits natively.  PennyLane's ``default.qubit``
and ``lightning.qubit`` run them through :func:`to_pennylane`: every
``measure`` becomes ``qml.measure`` (a reset ``qml.measure(reset=True)``),
every branch ``qml.cond`` on a function of the measured bits, and the
classical bits' final values are sampled as measurement values.  Their
distribution is keyed by classical bit (bit 0 first); :class:`KeyFormat`
writes it in Qiskit's convention, registers separated by spaces.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pilot.errors import UnsupportedOperationError

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


# ------------------------------------------------------------------ conditions
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

    from pilot.convert.pennylane import to_pennylane_ops

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
    import itertools

    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit.classical import expr

    from pilot.convert.pennylane import _append

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

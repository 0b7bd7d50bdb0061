"""Qiskit circuits and OpenQASM 2/3 text <-> :class:`LoadedCircuit`.

OpenQASM is read with Qiskit's own importers (``qiskit.qasm2`` and
``qiskit.qasm3``).  Programs written for Braket (its built-in gate names
``cnot``, ``si``, ``phaseshift``... and no ``stdgates.inc``) are accepted: the
missing definitions are added on the header line, so error line numbers still
match the user's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dreamer.workload import NON_GATES, canonical_gate
from pilot.convert.gates import basis_for
from pilot.convert.portable import (
    MAX_QUBITS,
    KeyFormat,
    LoadedCircuit,
    PortableCircuit,
    qiskit_key,
)
from pilot.errors import CircuitError, MissingDependencyError, UnsupportedOperationError
from pilot.hashing import blob, encode, encode_sdk, length, stable_pickle

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: Instructions that are bookkeeping, not gates.
_SKIP = {"barrier", "delay"}
_CONTROL_FLOW = {"if_else", "while_loop", "for_loop", "switch_case", "box"}


def has_measurements(qc: QuantumCircuit) -> bool:
    """Does a Qiskit circuit measure anything?"""
    return any(inst.operation.name == "measure" for inst in qc.data)


def circuit_gates(qc: QuantumCircuit) -> frozenset[str]:
    """Canonical names of the gates in ``qc``, inside its branches too (measurements,
    resets, barriers and the control flow itself excluded)."""
    counts = qc.count_ops()  # counted in Rust: submissions load every circuit
    names = {
        canonical_gate(name)
        for name in counts
        if name not in NON_GATES | _SKIP | _CONTROL_FLOW | {"reset"}
    }
    if _CONTROL_FLOW.intersection(counts):
        for inst in qc.data:
            if inst.operation.name in _CONTROL_FLOW:
                for block in inst.operation.blocks:
                    names |= circuit_gates(block)
    return frozenset(names)


def register_sizes(qc: QuantumCircuit) -> tuple[int, ...] | None:
    """Sizes of ``qc``'s classical registers in clbit order, when there are several
    and they cover its clbits one after the other (else ``None``: one key, no spaces)."""
    if len(qc.cregs) < 2:
        return None
    if [bit for reg in qc.cregs for bit in reg] != list(qc.clbits):
        return None
    return tuple(reg.size for reg in qc.cregs)


_STANDARD: dict[str, type] | None = None


def standard_only(qc: QuantumCircuit) -> bool:
    """Every instruction of ``qc`` is one of Qiskit's standard gates or instructions
    (measure, reset, barrier, delay), of its own class: nothing a Python object
    could change behind the circuit's back."""
    global _STANDARD  # noqa: PLW0603 (computed once, on first use)
    if _STANDARD is None:
        from qiskit.circuit import Barrier, Delay, Measure, Reset
        from qiskit.circuit.library import get_standard_gate_name_mapping

        _STANDARD = {name: type(op) for name, op in get_standard_gate_name_mapping().items()}
        # Instances' own classes: the parameterless ones are singletons of a subclass.
        _STANDARD.update(measure=type(Measure()), reset=type(Reset()), barrier=Barrier, delay=Delay)
    standard = _STANDARD
    return all(standard.get(inst.operation.name) is type(inst.operation) for inst in qc.data)


def spaced_counts(counts: dict[str, int], sizes: tuple[int, ...] | None) -> dict[str, int]:
    """Counts keyed by registers joined without spaces (``SamplerV2``'s ``join_data``,
    the last register leftmost) -> Qiskit's keys with a space between registers."""
    if not sizes:
        return dict(counts)
    out: dict[str, int] = {}
    for key, value in counts.items():
        k = qiskit_key(key[::-1], sizes)
        out[k] = out.get(k, 0) + int(value)
    return out


def from_qiskit(qc: QuantumCircuit, source_format: str = "qiskit") -> LoadedCircuit:
    """Load a Qiskit ``QuantumCircuit`` (Qiskit counts convention)."""
    if qc.num_qubits == 0:
        raise CircuitError(
            f"circuit {qc.name!r} has no qubits; there is nothing to run",
            source_format=source_format,
        )
    if qc.parameters:
        names = ", ".join(sorted(p.name for p in qc.parameters))
        raise CircuitError(
            f"circuit {qc.name!r} has unbound parameters ({names}); give their values "
            "with QuantumTask(..., parameter_values=[[...], ...]) or bind them with "
            "qc.assign_parameters({...})",
            source_format=source_format,
        )
    from pilot.convert.dynamic import circuit_needs

    needs = circuit_needs(qc)
    return LoadedCircuit(
        source_format=source_format,
        native=qc,
        num_qubits=qc.num_qubits,
        gates=circuit_gates(qc),
        name=qc.name,
        to_portable=lambda: portable_from_qiskit(qc, source_format),
        measures=any(inst.operation.name == "measure" for inst in qc.data),
        needs=needs,
        dynamic=qc if needs else None,
        keys=KeyFormat(tuple(range(qc.num_clbits)), register_sizes(qc)) if needs else None,
    )


def portable_from_qiskit(qc: QuantumCircuit, source_format: str = "qiskit") -> PortableCircuit:
    """Split ``qc`` into its gates and its terminal measurements."""
    from qiskit import QuantumCircuit

    body = QuantumCircuit(qc.num_qubits, name=qc.name, global_phase=qc.global_phase)
    measured: list[int] = []
    clbit_of: dict[int, int] = {}  # clbit -> index into measured
    done: set[int] = set()
    for inst in qc.data:
        op = inst.operation
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        if op.name in _SKIP:
            continue
        if op.name in _CONTROL_FLOW or getattr(op, "condition", None) is not None:
            raise UnsupportedOperationError(
                op.name,
                None,
                "classically controlled operations only run on Qiskit executors "
                "(qiskit_local, qiskit_fake, ibm_runtime)",
            )
        if op.name == "reset":
            raise UnsupportedOperationError("reset", None, "reset only runs on Qiskit executors")
        if op.name == "measure":
            q = qubits[0]
            c = qc.find_bit(inst.clbits[0]).index
            if q not in measured:
                measured.append(q)
            clbit_of[c] = measured.index(q)
            done.add(q)
            continue
        hit = done.intersection(qubits)
        if hit:
            raise UnsupportedOperationError(
                f"{op.name} after measure on qubit {min(hit)}",
                None,
                "mid-circuit measurements only run on Qiskit executors; "
                "move measurements to the end of the circuit",
            )
        body.append(op, qubits)
    if measured:
        keys = KeyFormat(tuple(clbit_of.get(c) for c in range(qc.num_clbits)), register_sizes(qc))
    else:  # like measure_all(): one clbit per qubit, qubit i -> clbit i
        measured = list(range(qc.num_qubits))
        keys = KeyFormat(tuple(range(qc.num_qubits)))
    return PortableCircuit(body=body, measured=tuple(measured), keys=keys)


def measured_circuit(body: QuantumCircuit, measured: tuple[int, ...]) -> QuantumCircuit:
    """``body`` followed by measuring ``measured[i]`` into clbit ``i``."""
    from qiskit import ClassicalRegister

    qc = body.copy()
    if measured:
        creg = ClassicalRegister(len(measured), "c")
        qc.add_register(creg)
        qc.measure(list(measured), list(range(len(measured))))
    return qc


# ------------------------------------------------------------------ OpenQASM
_HEADER = re.compile(r"^\s*(?://[^\n]*\n\s*|/\*.*?\*/\s*)*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.S)

#: Braket's built-in gate names missing from stdgates.inc, defined in terms of it
#: (each checked against Braket's own matrix in tests/convert/test_gates.py).
_BRAKET_DEFS = {
    "cnot": "gate cnot a, b { cx a, b; }",
    "ccnot": "gate ccnot a, b, c { ccx a, b, c; }",
    "phaseshift": "gate phaseshift(l) a { p(l) a; }",
    "cphaseshift": "gate cphaseshift(l) a, b { cp(l) a, b; }",
    "cphaseshift00": "gate cphaseshift00(l) a, b { x a; x b; cp(l) a, b; x a; x b; }",
    "cphaseshift01": "gate cphaseshift01(l) a, b { x a; cp(l) a, b; x a; }",
    "cphaseshift10": "gate cphaseshift10(l) a, b { x b; cp(l) a, b; x b; }",
    "si": "gate si a { sdg a; }",
    "ti": "gate ti a { tdg a; }",
    "v": "gate v a { sx a; }",
    "vi": "gate vi a { s a; h a; s a; }",
    "cv": "gate cv a, b { h b; cp(pi/2) a, b; h b; }",
    "i": "gate i a { id a; }",
    "xx": "gate xx(t) a, b { h a; h b; cx a, b; rz(t) b; cx a, b; h a; h b; }",
    "yy": (
        "gate yy(t) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(t) b; cx a, b; "
        "rx(-pi/2) a; rx(-pi/2) b; }"
    ),
    "zz": "gate zz(t) a, b { cx a, b; rz(t) b; cx a, b; }",
    "xy": (
        "gate xy(t) a, b { h a; h b; cx a, b; rz(-t/2) b; cx a, b; h a; h b; "
        "rx(pi/2) a; rx(pi/2) b; cx a, b; rz(-t/2) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b; }"
    ),
    "pswap": "gate pswap(t) a, b { swap a, b; cx a, b; rz(t) b; cx a, b; }",
    "iswap": "gate iswap a, b { s a; s b; h a; cx a, b; cx b, a; h b; }",
    "ecr": (
        "gate ecr a, b { h b; cx a, b; rz(pi/4) b; cx a, b; h b; x a; "
        "h b; cx a, b; rz(-pi/4) b; cx a, b; h b; }"
    ),
    # Qiskit's importer orders a gate's parameters by name, so multi-parameter
    # definitions use names that sort in positional order (t0, t1).
    "prx": "gate prx(t0, t1) a { rz(-t1) a; rx(t0) a; rz(t1) a; }",
    "gpi": "gate gpi(phi) a { rz(-2*phi) a; x a; }",
    "gpi2": "gate gpi2(phi) a { rz(-phi) a; rx(pi/2) a; rz(phi) a; }",
}

#: Where a gate name may start a statement: line start, after ';', or after a modifier '@'.
_STATEMENT_START = r"(?:^|;|@)\s*"
_INCLUDE_STD = re.compile(r'include\s+"stdgates\.inc"\s*;')


def qasm_version(text: str) -> int | None:
    """2 or 3 from the ``OPENQASM`` header, ``None`` without a header."""
    m = _HEADER.match(text)
    return int(m.group(1)) if m else None


def looks_like_qasm(text: str) -> bool:
    return qasm_version(text) is not None or bool(re.search(r"^\s*(qreg|qubit)\b", text, re.M))


def from_qasm(
    text: str, bind: Callable[[QuantumCircuit], QuantumCircuit] | None = None
) -> LoadedCircuit:
    """Load an OpenQASM 2 or 3 program (Qiskit counts convention).

    ``bind`` assigns the program's ``input`` parameters (a sweep's set).
    Every way the text can be wrong is a :class:`CircuitError` naming the
    line (``.line``) when one statement is to blame.
    """
    version = qasm_version(text)
    if version == 2:
        fmt = "qasm2"
    elif version in (3, None):
        fmt = "qasm3"
    else:
        header = _HEADER.match(text)
        line = text[: header.end()].count("\n") + 1 if header else 1
        raise CircuitError(
            f"OpenQASM {version} is not supported (line {line}: "
            f"{text.splitlines()[line - 1].strip()[:40]!r}); use OpenQASM 2 or 3",
            line=line,
            source_format="qasm",
        )
    _check_sizes(fmt, text)
    qc = _load_qasm2(text) if fmt == "qasm2" else _load_qasm3(text)
    if qc.num_qubits == 0:
        example = "qreg q[2];" if fmt == "qasm2" else "qubit[2] q;"
        raise _line_error(fmt, text, None, f"the program declares no qubits; add e.g. {example!r}")
    return from_qiskit(bind(qc) if bind is not None else qc, fmt)


def _line_error(fmt: str, text: str, line: int | None, msg: str) -> CircuitError:
    where = f"OpenQASM {fmt[-1]}"
    if line is not None:
        lines = text.splitlines()
        # An error at the end of input (a truncated program) is reported on its last line.
        line = min(max(line, 1), max(len(lines), 1))
        snippet = lines[line - 1].strip() if lines else ""
        where += f" line {line}"
        msg = f"{msg}\n    {line} | {snippet}" if snippet else msg
    return CircuitError(f"{where}: {msg}", line=line, source_format=fmt)


#: A parser's complaint that a ``;`` should have come before the token it stopped at:
#: ANTLR's ``missing ';' at 'cx'`` (OpenQASM 3), Qiskit's ``needed ';', but instead saw
#: an identifier`` and ``unexpected end-of-file when expecting to see ';'`` (OpenQASM 2).
_MISSING_SEMICOLON = re.compile(
    r"^(?:missing ';' at (?P<at>.+)|needed ';', but instead saw (?P<saw>.+)"
    r"|unexpected end-of-file when expecting to see ';')$",
    re.S,
)


def _located_error(
    fmt: str, text: str, code: str, line: int, column: int, msg: str
) -> CircuitError:
    """The error a parser reports at ``line``, ``column`` (1-based line, 0-based column,
    in ``code``: the text the parser read, with the same lines as ``text``).

    A missing ``;`` is reported where the parser noticed it, at the next token,
    often a line later; it is moved to the line of the statement that lacks it.
    """
    m = _MISSING_SEMICOLON.match(msg.strip())
    if m is None:
        return _line_error(fmt, text, line, msg)
    blank = _without_comments(code)
    lines = blank.split("\n")
    line = min(max(line, 1), len(lines))
    if m["at"] is None and m["saw"] is None:
        before = blank.rstrip()  # Qiskit places an end-of-file error at the statement's start
    else:
        before = "\n".join([*lines[: line - 1], lines[line - 1][: max(column, 0)]]).rstrip()
    end = before.count("\n") + 1 if before else line
    if end == line:
        return _line_error(fmt, text, line, msg)
    if m["at"] == "'<EOF>'":
        msg = "missing ';' at the end of this statement (the program ends after it)"
    elif m["at"] is not None:
        msg = (
            f"missing ';' at the end of this statement (the next token is {m['at']} on line {line})"
        )
    elif m["saw"] is not None:
        msg = f"needed ';' at the end of this statement, but instead saw {m['saw']} on line {line}"
    else:
        msg = "needed ';' at the end of this statement, but the program ends after it"
    return _line_error(fmt, text, end, msg)


def _message(exc: BaseException) -> str:
    """An SDK exception's own message (``QiskitError.__str__`` gives its ``repr``)."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)


#: ``<line>,<column>: <message>`` as Qiskit's importers prefix a located error.
#: (The reference AST builder writes ``L<line>:C<column>: <message>``.)
_POSITION = re.compile(r"^(?:<input>:|L)?(\d+)(?:,|:C)(\d+):\s*(.*)$", re.S)

#: Declarations whose size is a literal: (keyword, pattern) with groups size and name.
_DECLARATIONS = (
    ("qubits", re.compile(r"\bqreg\s+(?P<name>[A-Za-z_]\w*)\s*\[\s*(?P<size>\d+)\s*\]")),
    ("qubits", re.compile(r"\bqubit\s*\[\s*(?P<size>\d+)\s*\]\s*(?P<name>[A-Za-z_]\w*)")),
    ("classical bits", re.compile(r"\bcreg\s+(?P<name>[A-Za-z_]\w*)\s*\[\s*(?P<size>\d+)\s*\]")),
    ("classical bits", re.compile(r"\bbit\s*\[\s*(?P<size>\d+)\s*\]\s*(?P<name>[A-Za-z_]\w*)")),
)
_PHYSICAL = re.compile(r"\$(\d+)")
#: An index in brackets; OpenQASM 2's parser stores indices in 64 bits.
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _without_comments(text: str) -> str:
    """``text`` with comments blanked out (newlines kept, so line numbers still match)."""
    return _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _check_sizes(fmt: str, text: str) -> None:
    """Refuse registers (and physical qubits) beyond :data:`MAX_QUBITS` before parsing:
    the importers would build them, spending memory and time without bound."""
    code = _without_comments(text)

    def line_of(pos: int) -> int:
        return code.count("\n", 0, pos) + 1

    totals = {"qubits": 0, "classical bits": 0}
    for kind, pattern in _DECLARATIONS:
        for m in pattern.finditer(code):
            size = int(m.group("size"))
            totals[kind] += size
            if totals[kind] > MAX_QUBITS:
                what = (
                    f"register {m.group('name')!r} declares {size} {kind}"
                    if size > MAX_QUBITS
                    else f"register {m.group('name')!r} brings the program to {totals[kind]} {kind}"
                )
                raise _line_error(
                    fmt,
                    text,
                    line_of(m.start()),
                    f"{what}; circuits are read up to {MAX_QUBITS} {kind} (more than any "
                    "device or simulator offers)",
                )
    for m in _PHYSICAL.finditer(code):
        if int(m.group(1)) >= MAX_QUBITS:
            raise _line_error(
                fmt,
                text,
                line_of(m.start()),
                f"physical qubit ${m.group(1)} is beyond the {MAX_QUBITS} qubits circuits are "
                "read up to (more than any device or simulator offers)",
            )
    if fmt == "qasm2":
        for m in _INDEX.finditer(code):
            if int(m.group(1)) >= 2**63:
                raise _line_error(fmt, text, line_of(m.start()), f"index {m.group(1)} is too large")


def _load_qasm2(text: str) -> QuantumCircuit:
    from qiskit import qasm2

    try:
        return qasm2.loads(
            text,
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            include_path=(),
        )
    except qasm2.QASM2ParseError as exc:
        m = _POSITION.match(_message(exc).strip())
        if m:
            line, column = int(m.group(1)), int(m.group(2))
            raise _located_error("qasm2", text, text, line, column, m.group(3)) from None
        raise _line_error("qasm2", text, None, _message(exc)) from None
    except BaseException as exc:
        # The parser is written in Rust: a panic reaches Python as pyo3's
        # PanicException, which derives from BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        raise _line_error(
            "qasm2", text, None, f"the OpenQASM 2 parser failed on this program ({exc})"
        ) from None


def _with_braket_defs(text: str) -> str:
    """Add ``stdgates.inc`` and the definitions of the Braket gate names a program uses.

    The additions go on the line of the program's own ``include "stdgates.inc";``
    (after it) or else on its header line, so line numbers in errors still match
    the user's text.
    """
    used = sorted(
        name
        for name in _BRAKET_DEFS
        if re.search(rf"{_STATEMENT_START}{name}\s*(\([^;]*?\))?\s+[\w$]", text, re.M)
        and not re.search(rf"\bgate\s+{name}\b", text)
    )
    defs = " ".join(_BRAKET_DEFS[n] for n in used)
    include = _INCLUDE_STD.search(text)
    if include:
        return text if not defs else text[: include.end()] + " " + defs + text[include.end() :]
    extra = 'include "stdgates.inc"; ' + defs
    m = _HEADER.match(text)
    if m:
        return text[: m.end()] + " " + extra + text[m.end() :]
    return "OPENQASM 3.0; " + extra + " " + text


def _load_qasm3(text: str) -> QuantumCircuit:
    """Parse with the reference ANTLR grammar (our listener collects syntax errors with
    their positions), then convert the AST with Qiskit's importer; a conversion error
    without a position is pinned to the first statement that makes it fail."""
    try:
        import qiskit_qasm3_import
    except ImportError:  # pragma: no cover - a dependency of qdreamer
        raise MissingDependencyError(
            "qasm3",
            "qiskit_qasm3_import",
            "pip install qiskit-qasm3-import",
            what="reading OpenQASM 3",
        ) from None
    prepared = _with_braket_defs(text)
    program: Any = None
    try:
        program = _parse_qasm3(text, prepared)
        return qiskit_qasm3_import.convert(program)
    except CircuitError:
        raise
    except RecursionError:
        raise _line_error(
            "qasm3", text, _deepest_line(text), "expressions nest too deeply to read"
        ) from None
    except Exception as exc:
        msg = _message(exc).strip()
        m = _POSITION.match(msg)
        if m:
            raise _line_error("qasm3", text, int(m.group(1)), m.group(3)) from None
        line = _failing_statement_line(program) if program is not None else None
        detail = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        raise _line_error("qasm3", text, line, f"cannot load program ({detail})") from None


def _parse_qasm3(text: str, prepared: str) -> Any:
    """``openqasm3.parse`` with a listener that records positions (and prints nothing)."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from openqasm3.parser import QASMNodeVisitor, qasm3Lexer, qasm3Parser

    class _Collect(ErrorListener):
        def __init__(self) -> None:
            self.errors: list[tuple[int, int, str]] = []

        def syntaxError(
            self, recognizer: Any, sym: Any, line: int, col: int, msg: str, e: Any
        ) -> None:
            self.errors.append((line, col, msg))

    listener = _Collect()
    lexer = qasm3Lexer(InputStream(prepared))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.program()
    if listener.errors:
        line, column, msg = listener.errors[0]
        raise _located_error("qasm3", text, prepared, line, column, msg)
    try:
        return QASMNodeVisitor().visitProgram(tree)
    except RecursionError:
        raise
    except Exception as exc:  # the AST builder refuses some well-formed input
        msg = _message(exc).strip()
        m = _POSITION.match(msg)
        if m:
            raise _line_error("qasm3", text, int(m.group(1)), m.group(3)) from None
        raise _line_error(
            "qasm3", text, None, f"cannot read program ({type(exc).__name__}: {msg})"
        ) from None


def _failing_statement_line(program: Any) -> int | None:
    """The line of the first top-level statement whose prefix fails to convert.

    Conversion runs statement by statement, so "the first ``k`` statements fail"
    is monotonic in ``k``: a binary search finds the culprit in ``log2(n)`` tries.
    """
    import qiskit_qasm3_import
    from openqasm3 import ast

    statements = list(program.statements)

    def fails(k: int) -> bool:
        try:
            qiskit_qasm3_import.convert(
                ast.Program(statements=statements[:k], version=program.version)
            )
        except Exception:
            return True
        return False

    lo, hi = 1, len(statements)
    if not statements or not fails(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid + 1
    span = getattr(statements[lo - 1], "span", None)
    return int(span.start_line) if span is not None else None


def _deepest_line(text: str) -> int | None:
    """The line where brackets nest deepest (where a RecursionError comes from)."""
    depth, best, line, best_line = 0, 0, 1, None
    for ch in text:
        if ch == "\n":
            line += 1
        elif ch in "([{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    return best_line


def translate(body: QuantumCircuit, framework: str, backend: str) -> QuantumCircuit:
    """Rewrite gates that ``framework`` lacks using Qiskit's transpiler."""
    basis = set(basis_for(framework))
    names = {inst.operation.name for inst in body.data}
    if names <= basis:
        return body
    from qiskit import transpile
    from qiskit.transpiler.exceptions import TranspilerError

    try:
        return transpile(body, basis_gates=sorted(basis), optimization_level=0)
    except TranspilerError:
        missing = sorted(names - basis)
        raise UnsupportedOperationError(
            missing[0], backend, f"no translation into {framework} gates"
        ) from None


def bits_from_qiskit_key(key: str, width: int) -> str:
    """Qiskit count key over clbits 0..width-1 -> ordered string (clbit 0 first)."""
    key = key.replace(" ", "")
    return key[::-1][:width].ljust(width, "0")


# Content hashes (pilot.hashing) ---------------------------------------------------

_QISKIT_STANDARD: dict[str, type] | None = None


def _qiskit_standard() -> dict[str, type]:
    """Instruction name -> class, for instructions whose name and parameters say everything.

    A custom gate that borrows a standard name (``Gate("h", 1, [])``) has
    another class, so its definition is hashed too.
    """
    global _QISKIT_STANDARD  # noqa: PLW0603 (computed once, on first use)
    if _QISKIT_STANDARD is None:
        from qiskit.circuit import Barrier, BreakLoopOp, ContinueLoopOp
        from qiskit.circuit.library import UnitaryGate, get_standard_gate_name_mapping

        standard = {name: type(op) for name, op in get_standard_gate_name_mapping().items()}
        standard.update(
            barrier=Barrier,
            break_loop=BreakLoopOp,
            continue_loop=ContinueLoopOp,
            unitary=UnitaryGate,  # its matrix is its parameter
        )
        _QISKIT_STANDARD = standard
    return _QISKIT_STANDARD


def register_hashing() -> None:
    """Teach :func:`pilot.hashing.encode_sdk` Qiskit's types (called when the first
    Qiskit object is hashed): circuits by structure, parameters by name, bits by
    index, classical registers by name and size."""
    from qiskit.circuit import Bit, ClassicalRegister, ParameterExpression, QuantumCircuit

    encode_sdk.register(QuantumCircuit, _hash_circuit)
    encode_sdk.register(ParameterExpression, _hash_parameter)
    encode_sdk.register(Bit, _hash_bit)
    encode_sdk.register(ClassicalRegister, _hash_register)


def _hash_circuit(qc: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    _encode_circuit(qc, out, path)
    return True


def _hash_parameter(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    # A Parameter by its name (its UUID is random), an expression by its text.
    out.append(blob(b"P", str(obj).encode()))
    return True


def _hash_bit(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    from qiskit.circuit import Clbit

    if bits is None or obj not in bits:
        return False
    out.append((b"k" if isinstance(obj, Clbit) else b"q") + length(bits[obj]))
    return True


def _hash_register(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    out.append(blob(b"R", f"{obj.name}|{obj.size}".encode()))  # its name names a result field
    return True


def _encode_circuit(qc: Any, out: list[bytes], path: str) -> None:
    bits: dict[Any, int] = {b: i for i, b in enumerate(qc.qubits)}
    bits.update({b: i for i, b in enumerate(qc.clbits)})
    standard = _qiskit_standard()
    head = (
        qc.num_qubits,
        qc.num_clbits,
        [r.size for r in qc.qregs],  # a QuantumRegister's name (often "q<counter>") is cosmetic
        [(r.name, r.size) for r in qc.cregs],
        qc.global_phase,
        len(qc.data),
    )
    out.append(b"Q")
    encode(head, out, path)
    for i, inst in enumerate(qc.data):
        op = inst.operation
        where = f"{path} instruction {i} ({op.name})"
        params = list(op.params)
        if op.name == "for_loop" and params[1] is not None:
            # The loop variable's name comes from a counter ("_loop_i_<n>"); rename it
            # after its (unique) place so identical loops hash alike.
            from qiskit.circuit import Parameter

            renamed = Parameter(f"$loop@{where}")
            params[2] = params[2].assign_parameters({params[1]: renamed}, strict=False)
            params[1] = renamed
        encode(
            (
                op.name,
                op.num_qubits,
                op.num_clbits,
                [bits[q] for q in inst.qubits],
                [bits[c] for c in inst.clbits],
                params,
                getattr(op, "unit", None) if op.name == "delay" else None,
            ),
            out,
            where,
            bits,
        )
        if standard.get(op.name) is type(op):
            continue
        if getattr(op, "blocks", None) is not None:  # control flow: if/while/for/switch/box
            extra = [getattr(op, "condition", None), getattr(op, "target", None)]
            if hasattr(op, "cases_specifier"):
                extra.append([list(values) for values, _ in op.cases_specifier()])
            extra.append([getattr(op, "duration", None), getattr(op, "unit", None)])
            encode(extra, out, where, bits)
            continue
        definition = getattr(op, "definition", None)
        if definition is not None:
            _encode_circuit(definition, out, f"{where} definition")
        else:  # an opaque instruction: all of its state
            out.append(blob(b"p", stable_pickle(op, where)))

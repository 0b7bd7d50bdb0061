"""Qiskit circuits and OpenQASM 2/3 text <-> :class:`LoadedCircuit`.

OpenQASM is read with Qiskit's own importers (``qiskit.qasm2`` and
``qiskit.qasm3``).  Programs written for Braket (its built-in gate names
``cnot``, ``si``, ``phaseshift``... and no ``stdgates.inc``) are accepted: the
missing definitions are added on the header line, so error line numbers still
match the user's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dreamer.workload import NON_GATES, canonical_gate
from pilot.convert.gates import basis_for
from pilot.convert.portable import KeyFormat, LoadedCircuit, PortableCircuit
from pilot.errors import CircuitError, UnsupportedOperationError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: Instructions that are bookkeeping, not gates.
_SKIP = {"barrier", "delay"}
_CONTROL_FLOW = {"if_else", "while_loop", "for_loop", "switch_case", "box"}


def circuit_gates(qc: QuantumCircuit) -> frozenset[str]:
    """Canonical names of the gates in ``qc`` (measurements and barriers excluded)."""
    return frozenset(
        canonical_gate(name) for name in qc.count_ops() if name not in NON_GATES | _SKIP
    )


def from_qiskit(qc: QuantumCircuit, source_format: str = "qiskit") -> LoadedCircuit:
    """Load a Qiskit ``QuantumCircuit`` (Qiskit counts convention)."""
    if qc.parameters:
        names = ", ".join(sorted(p.name for p in qc.parameters))
        raise CircuitError(
            f"circuit {qc.name!r} has unbound parameters ({names}); give their values "
            "with QuantumTask(..., parameter_values=[[...], ...]) or bind them with "
            "qc.assign_parameters({...})",
            source_format=source_format,
        )
    return LoadedCircuit(
        source_format=source_format,
        native=qc,
        num_qubits=qc.num_qubits,
        gates=circuit_gates(qc),
        name=qc.name,
        to_portable=lambda: portable_from_qiskit(qc, source_format),
        measures=any(inst.operation.name == "measure" for inst in qc.data),
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
        keys = KeyFormat(tuple(clbit_of.get(c) for c in range(qc.num_clbits)))
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
    """
    version = qasm_version(text)
    if version == 2:
        qc = _load_qasm2(text)
        fmt = "qasm2"
    elif version in (3, None):
        qc = _load_qasm3(text)
        fmt = "qasm3"
    else:
        raise CircuitError(
            f"OpenQASM {version} is not supported; use OpenQASM 2 or 3",
            line=1,
            source_format="qasm",
        )
    return from_qiskit(bind(qc) if bind is not None else qc, fmt)


def _line_error(fmt: str, text: str, line: int | None, msg: str) -> CircuitError:
    where = f"OpenQASM {fmt[-1]}"
    if line is not None:
        lines = text.splitlines()
        snippet = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        where += f" line {line}"
        msg = f"{msg}\n    {line} | {snippet}" if snippet else msg
    return CircuitError(f"{where}: {msg}", line=line, source_format=fmt)


def _load_qasm2(text: str) -> QuantumCircuit:
    from qiskit import qasm2

    try:
        return qasm2.loads(
            text,
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            include_path=(),
        )
    except qasm2.QASM2ParseError as exc:
        m = re.match(r"<input>:(\d+),(\d+):\s*(.*)", str(exc).strip('"'), re.S)
        if m:
            raise _line_error("qasm2", text, int(m.group(1)), m.group(3)) from None
        raise _line_error("qasm2", text, None, str(exc)) from None


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
    try:
        from qiskit import qasm3
    except ImportError as exc:  # pragma: no cover - qiskit ships it
        raise CircuitError(f"cannot read OpenQASM 3: {exc}", source_format="qasm3") from None
    prepared = _with_braket_defs(text)
    try:
        return qasm3.loads(prepared)
    except Exception as exc:
        syntax = _qasm3_syntax_errors(prepared)
        if syntax:
            line, _col, msg = syntax[0]
            raise _line_error("qasm3", text, line, msg) from None
        m = re.match(r"(\d+),(\d+):\s*(.*)", str(exc).strip('"'), re.S)
        if m:
            raise _line_error("qasm3", text, int(m.group(1)), m.group(3)) from None
        raise _line_error(
            "qasm3", text, None, f"cannot load program ({type(exc).__name__}: {exc})"
        ) from None


def _qasm3_syntax_errors(text: str) -> list[tuple[int, int, str]]:
    """Run the reference ANTLR parser with a listener that records positions."""
    try:
        from antlr4 import CommonTokenStream, InputStream
        from antlr4.error.ErrorListener import ErrorListener
        from openqasm3.parser import qasm3Lexer, qasm3Parser
    except ImportError:  # pragma: no cover
        return []

    class _Collect(ErrorListener):
        def __init__(self) -> None:
            self.errors: list[tuple[int, int, str]] = []

        def syntaxError(
            self, recognizer: Any, sym: Any, line: int, col: int, msg: str, e: Any
        ) -> None:
            self.errors.append((line, col, msg))

    listener = _Collect()
    lexer = qasm3Lexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.program()
    return listener.errors


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

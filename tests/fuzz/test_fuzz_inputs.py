"""Fuzzing bad input (issue 6): every input works, or fails with one of our documented errors.

Hypothesis mutates valid inputs (wrong types, unknown and misspelt keys,
out-of-range numbers, nested junk, truncated and corrupted OpenQASM, huge
indices) and feeds them through the real entry points of one shared
``PilotComputeService`` (a ``qiskit_local`` pilot and a small classical pilot,
on the session's Ray):

(a) pilot descriptions      ``pcs.create_pilot``        (created pilots are cancelled)
(b) ``QuantumTask`` arguments  the constructor, ``submit_quantum_task``, ``get_results``
(c) OpenQASM 2/3 strings    ``submit_quantum_task(QuantumTask(text))``
(d) gate dicts              the same
(e) configuration files     ``$QDREAMER_CONFIG`` read by ``load_config``, descriptions
                            and a second service built from it

The property: the input works, or raises an instance of an error listed in
``pilot.errors.__all__`` (never a bare ``ValueError``/``TypeError``/``KeyError``,
a pydantic ``ValidationError`` or an SDK error) whose message names what was
wrong: a ``ConfigError``'s ``key`` is set and appears in its message, an
OpenQASM ``CircuitError`` names the line.  Errors raised by ``get_results`` are
``TaskFailedError`` chaining one of ours.  The service keeps running a Bell
circuit with correct counts: checked every :data:`BELL_EVERY` errors and after
each property.

Runs are reproducible: examples are derandomized and no example database is
kept, so CI sees the same inputs every time.  ``QDREAMER_FUZZ_SCALE=10`` runs
ten times as many examples, and ``QDREAMER_FUZZ_RANDOM=1`` new ones on each run
(for exploring, e.g. nightly; a failure prints the blob to reproduce it).
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pilot.errors
from pilot import PilotComputeService, QuantumTask
from pilot.config import PilotDescription, QuantumConfig, load_config, parse_description
from pilot.errors import CircuitError, ConfigError, PilotError, TaskFailedError
from pilot.states import PilotState
from tests.helpers import BELL_QASM, bell_qiskit

#: ~20 s: hundreds of examples through a real service (quick tier: no).
pytestmark = pytest.mark.slow

#: Every documented error type (the tree drawn in ``pilot/errors.py``).
DOCUMENTED: tuple[type[BaseException], ...] = tuple(
    obj
    for name in pilot.errors.__all__
    if isinstance(obj := getattr(pilot.errors, name), type) and issubclass(obj, PilotError)
)

SCALE = float(os.environ.get("QDREAMER_FUZZ_SCALE", "1"))
#: QDREAMER_FUZZ_RANDOM=1 draws new examples on each run (exploration, not CI).
RANDOM = os.environ.get("QDREAMER_FUZZ_RANDOM") == "1"


def fuzz(examples: int) -> Callable[[Any], Any]:
    """Settings for one property: ``examples`` (times the scale), reproducible."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=not RANDOM,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


BELL_EVERY = 20
BELL_SHOTS = 200


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Iterator[PilotComputeService]:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "quantum": {"executor": "qiskit_local", "seed": 11},
                "cores_per_node": 0.25,
            }
        )
        service.create_pilot({"resource_type": "classical", "name": "cpu", "cores_per_node": 0.25})
        yield service


class Tally:
    """Outcomes per property (reported at the end), and errors since the last Bell check."""

    errors_since_bell = 0
    outcomes: ClassVar[dict[str, dict[str, int]]] = {}

    @classmethod
    def count(cls, prop: str, outcome: str) -> None:
        per = cls.outcomes.setdefault(prop, {})
        per[outcome] = per.get(outcome, 0) + 1


def bell(pcs: PilotComputeService) -> None:
    """The shared service still runs a Bell circuit with correct counts."""
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=BELL_SHOTS, pilot="aer")),
        timeout=120,
    )
    assert set(result.counts) == {"00", "11"}, result.counts
    assert sum(result.counts.values()) == BELL_SHOTS
    Tally.errors_since_bell = 0


def after_error(pcs: PilotComputeService) -> None:
    Tally.errors_since_bell += 1
    if Tally.errors_since_bell >= BELL_EVERY:
        bell(pcs)


def assert_documented(exc: BaseException, *, what: object, user_code: bool = False) -> None:
    """``exc`` is one of our documented errors, and says what was wrong.

    A ``TaskFailedError`` chains one of ours too, unless the task ran ``user_code``
    (a circuit callable), whose own exceptions are chained as they are.
    """
    assert isinstance(exc, DOCUMENTED) and type(exc).__module__ == "pilot.errors", (
        f"{type(exc).__module__}.{type(exc).__name__} leaked for {what!r}: {exc}"
    )
    assert str(exc).strip(), f"empty {type(exc).__name__} message for {what!r}"
    if isinstance(exc, ConfigError):
        assert exc.key, f"ConfigError without a key for {what!r}: {exc}"
        named = exc.key in str(exc) or repr(exc.key)[1:-1] in str(exc)  # repr: "\\x1f"
        assert named, f"key {exc.key!r} not named in {exc} (for {what!r})"
    if isinstance(exc, TaskFailedError) and not user_code:
        cause = exc.__cause__
        assert isinstance(cause, DOCUMENTED), (
            f"task failed with a leaked {type(cause).__name__} for {what!r}: {cause}"
        )


def related(key: str, paths: set[str]) -> bool:
    """Is ``key`` one of the mutated ``paths``, inside one, or a parent of one?"""
    return any(key == p or key.startswith(p + ".") or p.startswith(key + ".") for p in paths)


# ------------------------------------------------------------------ junk values
SPECIAL_INTS = [-(2**63), -1, 0, 1, 2, 3, 2**31, 2**63, 10**30]
SPECIAL_FLOATS = [0.0, -0.5, 1e-12, 1e-5, 1e-4, 0.5, 1.5, 1e308, math.inf, -math.inf, math.nan]
#: Numbers at the edges (half of the values the fuzzer sets are one of these).
EDGES = st.sampled_from(SPECIAL_INTS + SPECIAL_FLOATS)
WORDS = [
    "",
    " ",
    "qiskit_local",
    "qiskit-local",
    "QISKIT_LOCAL",
    "quantum",
    "classical",
    "local",
    "ray",
    "aer",
    "none",
    "1",
    "true",
    "0.5",
    "\x00",
    "é" * 3,
    "../../x",
    "a b",
    "$(id)",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SPECIAL_INTS),
    st.integers(-5, 5),
    st.sampled_from(SPECIAL_FLOATS),
    st.sampled_from(WORDS),
    st.text(max_size=8),
    st.binary(max_size=3),
    st.just(complex(1, 2)),
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=3),
    ),
    max_leaves=5,
)


def typo(word: str, draw: st.DrawFn) -> str:
    """A near miss of ``word``: a letter dropped, doubled or swapped, or case changed."""
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    kind = draw(st.sampled_from(["drop", "double", "swap", "upper", "suffix"]))
    if kind == "drop" and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "upper" and word.upper() != word:
        return word.upper()
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word + "s"


# ------------------------------------------------------------------ (a) descriptions
#: Short start timeouts: a mutated reservation that others' capacity blocks fails with
#: ``PilotStartError`` after waiting all of it (the same error after 2 s as after 60 s).
#: A quantum pilot also starts its backend actor in that time (a fresh worker imports
#: Qiskit: a few seconds on a loaded 2-core machine), hence 20 s; a classical pilot
#: that fits is placed in milliseconds.
QUANTUM_BASE = {
    "resource_type": "quantum",
    "cores_per_node": 0.1,
    "start_timeout_seconds": 20,
    "quantum": {"executor": "qiskit_local"},
}
CLASSICAL_BASE = {
    "resource_type": "classical",
    "cores_per_node": 0.1,
    "number_of_nodes": 1,
    "start_timeout_seconds": 2,
}
TOP_FIELDS = sorted(PilotDescription.model_fields)
QUANTUM_FIELDS = sorted(QuantumConfig.model_fields)
#: Values never set by the fuzzer: a valid Slurm resource would submit real jobs,
#: and executors other than qiskit_local start slow SDKs (covered elsewhere).
FORBIDDEN = {"resource": ("slurm",), "executor": ("braket", "ibm", "pennylane", "qiskit_fake")}
#: Values that are right for their key (so that some mutated descriptions work).
VALID_SETTINGS: dict[str, list[Any]] = {
    "cores_per_node": [0.2, 0.0001],
    "number_of_nodes": [2],
    "dreamer_enabled": [False],
    "walltime": [5],
    "start_timeout_seconds": [30.5],
    "seed": [0, 2**63 - 1],
    "optimization_level": [0, 3],
    "method": ["statevector", "matrix_product_state"],
    "max_concurrency": [2],
}


@st.composite
def descriptions(draw: st.DrawFn) -> tuple[Any, set[str]]:
    """A mutated valid description, and the dotted paths of what was mutated."""
    if draw(st.integers(0, 19)) == 0:  # not a dict at all
        return draw(st.one_of(st.lists(SCALARS, max_size=2), st.sampled_from(WORDS), SCALARS)), {
            "pilot_compute_description"
        }
    desc: dict[str, Any] = copy.deepcopy(draw(st.sampled_from([QUANTUM_BASE, CLASSICAL_BASE])))
    paths: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        nested = isinstance(desc.get("quantum"), dict) and draw(st.booleans())
        target: dict[str, Any] = desc["quantum"] if nested else desc
        prefix = "quantum." if nested else ""
        fields = QUANTUM_FIELDS if nested else TOP_FIELDS
        op = draw(st.sampled_from(["set", "set", "set", "drop", "typo", "extra", "valid"]))
        if op == "valid":
            key = draw(st.sampled_from(sorted(k for k in VALID_SETTINGS if k in fields)))
            target[key] = draw(st.sampled_from(VALID_SETTINGS[key]))
        elif op == "set" or not target:
            key = draw(st.sampled_from(fields))
            value = draw(st.one_of(EDGES, JUNK))
            if isinstance(value, str) and any(
                value.strip().lower().startswith(bad) for bad in FORBIDDEN.get(key, ())
            ):
                value = "x" + value
            if key in ("executor", "backends", "backend", "device", "local"):
                key = draw(st.sampled_from(["seed", "method", "optimization_level"]))
            target[key] = value
        elif op == "drop":
            key = draw(st.sampled_from(sorted(target)))
            del target[key]
        elif op == "typo":
            old = draw(st.sampled_from(sorted(target)))
            key = typo(old, draw)
            target[key] = target.pop(old)
            paths.add(prefix + old)
        else:
            key = draw(st.text(min_size=1, max_size=10)) or "x"
            target[key] = draw(JUNK)
        paths.add(prefix + key)
    return desc, paths


def test_pilot_descriptions(pcs: PilotComputeService) -> None:
    made = iter(range(10**6))

    @fuzz(110)
    @given(case=descriptions())
    def prop(case: tuple[Any, set[str]]) -> None:
        desc, paths = case
        if isinstance(desc, dict) and "name" not in paths:
            desc["name"] = f"fz-{next(made)}"  # a created pilot keeps its name
        try:
            made_pilot = pcs.create_pilot(desc)
        except Exception as exc:
            assert_documented(exc, what=desc)
            if isinstance(exc, ConfigError):
                assert exc.key is not None and related(exc.key, paths), (
                    f"ConfigError names {exc.key!r}, but {sorted(paths)} was mutated: {exc}"
                )
            Tally.count("descriptions", type(exc).__name__)
            after_error(pcs)
            return
        try:
            assert made_pilot.state is PilotState.RUNNING
            if made_pilot.resource_type == "quantum":  # what was accepted also works
                result = pcs.get_results(
                    pcs.submit_quantum_task(
                        QuantumTask(bell_qiskit(), shots=BELL_SHOTS, pilot=made_pilot.name)
                    ),
                    timeout=120,
                )
                assert sum(result.counts.values()) == BELL_SHOTS, (desc, result.counts)
            Tally.count("descriptions", "created")
        finally:
            made_pilot.cancel()

    prop()
    bell(pcs)


# ------------------------------------------------------------------ (b) QuantumTask
BELL_QASM2 = BELL_QASM
BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""
BELL_GATES = {
    "gates": [{"type": "h", "qubit": 0}, {"type": "cx", "control": 0, "target": 1}],
    "n_qubits": 2,
}


def theta_circuit() -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(2, 2, name="theta")
    qc.rx(Parameter("theta"), 0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def _returns_junk() -> Any:
    return 5


def _builds_bell() -> Any:
    return bell_qiskit()


CIRCUITS: dict[str, Callable[[], Any]] = {
    "qiskit": bell_qiskit,
    "theta": theta_circuit,
    "qasm2": lambda: BELL_QASM2,
    "qasm3": lambda: BELL_QASM3,
    "gatedict": lambda: copy.deepcopy(BELL_GATES),
    "callable": lambda: _builds_bell,
    "callable-junk": lambda: _returns_junk,
    "int": lambda: 42,
    "list": lambda: [1, 2],
    "bytes": lambda: b"OPENQASM 3.0;",
    "text": lambda: "hello world",
    "empty": lambda: "",
    "set": lambda: {1},
}

TASK_ARGS = {
    "num_qubits": st.one_of(st.sampled_from([None, 1, 2, 3, 40]), SCALARS),
    "gate_set": st.one_of(
        st.sampled_from([None, ["h", "cx", "measure"], ["h"], "h", [], ["hh", "cnot"]]),
        st.lists(SCALARS, max_size=2),
    ),
    "shots": st.one_of(st.sampled_from([None, 1, 7, 100, 2**31 - 1, 2**40, 2**70]), SCALARS),
    "resource_config": st.one_of(
        st.sampled_from(
            [
                None,
                {},
                {"num_qpus": 1},
                {"num_qpus": 2},
                {"num_qpu": 1},
                {"num_gpus": 1},
                {"num_gpus": math.nan},
                {"num_gpus": math.inf},
                {"memory": 10**15},
                {"memory": 1024},
                {"memory": "1GB"},
            ]
        ),
        JUNK,
    ),
    "args": st.one_of(st.sampled_from([(), (1,), [1, 2], "ab"]), JUNK),
    "kwargs": st.one_of(st.sampled_from([None, {}, {"x": 1}, {1: 2}]), JUNK),
    "pilot": st.one_of(st.sampled_from([None, "aer", "arr", "cpu", ""]), SCALARS),
    "resource": st.one_of(st.sampled_from([None, "aer_simulator", "fake_manila", ""]), SCALARS),
    "name": st.one_of(st.sampled_from([None, "t", "", "x" * 300]), SCALARS),
    "parameter_values": st.one_of(
        st.sampled_from(
            [None, [[0.1]], [[0.1], [0.2]], [{"theta": 1.0}], [{"phi": 1.0}], [0.1], [], [[]]]
        ),
        JUNK,
    ),
    "observables": st.one_of(
        st.sampled_from(
            [None, ["ZZ"], ["ZX", {"ZZ": 0.5}], "ZZ", [], ["QQ"], [{"ZZ": "x"}], ["ZZZZZ"]]
        ),
        JUNK,
    ),
    "timeout_seconds": st.one_of(st.sampled_from([None, 30, 0, -1, 1e-9]), SCALARS),
}
if "timeout_seconds" not in QuantumTask.__init__.__code__.co_varnames:  # pragma: no cover
    del TASK_ARGS["timeout_seconds"]


@st.composite
def task_arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    circuit = draw(st.sampled_from(sorted(CIRCUITS)))
    keys = draw(st.sets(st.sampled_from(sorted(TASK_ARGS)), max_size=4))
    return circuit, {key: draw(TASK_ARGS[key]) for key in sorted(keys)}


def check_results(results: Any, shots: Any) -> None:
    for result in results if isinstance(results, list) else [results]:
        if result.counts is not None and shots is not None:
            assert sum(result.counts.values()) == shots, result.counts


def test_quantum_task_arguments(pcs: PilotComputeService) -> None:
    @fuzz(130)
    @given(case=task_arguments())
    def prop(case: tuple[str, dict[str, Any]]) -> None:
        circuit_name, kwargs = case
        kwargs.setdefault("shots", 64)
        what = (circuit_name, kwargs)
        try:
            task = QuantumTask(CIRCUITS[circuit_name](), **kwargs)
            refs = pcs.submit_quantum_task(task)
            results = pcs.get_results(refs, timeout=120)
        except Exception as exc:
            assert_documented(exc, what=what, user_code=circuit_name.startswith("callable"))
            if isinstance(exc, ConfigError):
                assert exc.key is not None and related(
                    exc.key.split("[")[0], {*kwargs, "circuit", "quantum_task"}
                ), f"ConfigError names {exc.key!r}, but {sorted(kwargs)} were given: {exc}"
            Tally.count("tasks", type(exc).__name__)
            after_error(pcs)
            return
        check_results(results, task.shots)
        Tally.count("tasks", "ran")

    prop()
    bell(pcs)


# ------------------------------------------------------------------ (c) OpenQASM
QASM_BASES = [
    BELL_QASM2,
    BELL_QASM3,
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nu3(0.1,0.2,0.3) q[0];\n'
    "ccx q[0],q[1],q[2];\nmeasure q[0] -> c[0];\nmeasure q[2] -> c[1];\n",
    "OPENQASM 3.0;\nqubit[2] q;\nbit[2] b;\nrx(0.5) q[0];\ncnot q[0], q[1];\n"
    "b[0] = measure q[0];\nb[1] = measure q[1];\n",
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nh $0;\ncx $0, $1;\nbit[2] c;\n'
    "c[0] = measure $0;\nc[1] = measure $1;\n",
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate mine(t) a, b { rz(t) a; cx a, b; }\n'
    "qubit[3] q;\nbit[3] c;\nmine(pi/4) q[0], q[2];\nc = measure q;\n",
]
TOKENS = [
    "foo",
    ";",
    "[",
    "]",
    "{",
    "}",
    "(",
    "$",
    "qubit",
    "measure",
    "->",
    "@",
    "\x00",
    "π",
    "0x",
    "9" * 25,
    "//",
    "/*",
    '"',
    "inv @",
    "ctrl(3) @",
]
SIZES = [0, 1, 3, 40, 10**4, 10**6, 2**63, 10**30]


@st.composite
def qasm_programs(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(QASM_BASES))
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(
            st.sampled_from(
                [
                    "truncate",
                    "drop-line",
                    "dup-line",
                    "token",
                    "arity",
                    "undeclared",
                    "index",
                    "register",
                    "header",
                    "nest",
                ]
            )
        )
        if op == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif op == "drop-line" and lines:
            del lines[i]
            text = "\n".join(lines)
        elif op == "dup-line" and lines:
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif op == "token":
            pos = draw(st.integers(0, len(text)))
            token = draw(st.one_of(st.sampled_from(TOKENS), st.text(min_size=1, max_size=4)))
            text = text[:pos] + " " + token + " " + text[pos:]
        elif op == "arity":
            text = draw(
                st.sampled_from(
                    [
                        text.replace("cx q[0], q[1]", "cx q[0]"),
                        text.replace("cx q[0],q[1]", "cx q[0]"),
                        text.replace("h q[0]", "h q[0], q[1]"),
                        text.replace("rx(0.5)", "rx"),
                        text.replace("ccx q[0],q[1],q[2]", "ccx q[0],q[1]"),
                    ]
                )
            )
        elif op == "undeclared":
            text = (
                text.replace("q[0]", "r[0]", 1)
                if draw(st.booleans())
                else text.replace("c", "d", 1)
            )
        elif op == "index":
            n = draw(st.sampled_from(SIZES))
            text = re.sub(
                r"(?<=\[)\d+(?=\])|(?<=\$)\d+", str(n), text, count=draw(st.integers(1, 3))
            )
        elif op == "register":
            n = draw(st.sampled_from(SIZES))
            text = re.sub(r"(?<=qreg q\[)\d+|(?<=qubit\[)\d+|(?<=bit\[)\d+", str(n), text, count=1)
        elif op == "header":
            text = re.sub(
                r"OPENQASM [\d.]+;",
                draw(st.sampled_from(["OPENQASM 4.0;", "", "OPENQASM;", "OPENQASM 3.0"])),
                text,
                count=1,
            )
        else:
            depth = draw(st.sampled_from([1, 50, 500, 3000]))
            text = text.replace("0.5", "(" * depth + "0.5" + ")" * depth, 1).replace(
                "pi/4", "(" * depth + "pi/4" + ")" * depth, 1
            )
    return text


def names_a_line(exc: CircuitError, text: str) -> bool:
    """An OpenQASM error names its line, or (when no one line is to blame) quotes a token."""
    quoted = bool(re.search(r"'[^']+'", str(exc)))
    if exc.line is not None:
        in_text = 1 <= exc.line <= max(text.count("\n") + 1, 1)
        return in_text and (f"line {exc.line}" in str(exc) or quoted)
    return quoted


def run_circuit(pcs: PilotComputeService, circuit: Any, check: Callable[[Exception], None]) -> str:
    try:
        result = pcs.get_results(
            pcs.submit_quantum_task(QuantumTask(circuit, shots=64, pilot="aer")), timeout=120
        )
    except Exception as exc:
        assert_documented(exc, what=circuit)
        check(exc)
        after_error(pcs)
        return type(exc).__name__
    if result.counts is not None:
        assert sum(result.counts.values()) == 64, result.counts
    return "ran"


def test_qasm_strings(pcs: PilotComputeService) -> None:
    @fuzz(160)
    @given(text=qasm_programs())
    def prop(text: str) -> None:
        def check(exc: Exception) -> None:
            err = exc.__cause__ if isinstance(exc, TaskFailedError) else exc
            if isinstance(err, CircuitError) and err.source_format in ("qasm", "qasm2", "qasm3"):
                assert names_a_line(err, text), f"no line or token in {err!s} for {text!r}"

        Tally.count("qasm", run_circuit(pcs, text, check))

    prop()
    bell(pcs)


# ------------------------------------------------------------------ (d) gate dicts
GATE_BASES: list[dict[str, Any]] = [
    BELL_GATES,
    {
        "gates": [
            {"type": "hadamard", "qubits": [0]},
            {"type": "CNOT", "controls": [0], "targets": [2]},
            {"type": "ry", "wires": [1], "angle": 0.785},
            {"type": "u", "qubit": 2, "params": [0.1, 0.2, 0.3]},
        ],
        "num_qubits": 3,
        "measure": [2, 0],
        "name": "g3",
    },
    {"gates": [{"name": "x", "qubit": 0}, {"type": "measure", "qubit": 0}]},
]
GATE_KEYS = ["type", "name", "qubit", "qubits", "wires", "control", "target", "angle", "params"]
TOP_KEYS = ["gates", "n_qubits", "num_qubits", "measure", "name"]


@st.composite
def gate_dicts(draw: st.DrawFn) -> Any:
    spec: Any = copy.deepcopy(draw(st.sampled_from(GATE_BASES)))
    for _ in range(draw(st.integers(1, 3))):
        gates = spec.get("gates") if isinstance(spec, dict) else None
        gates = gates if isinstance(gates, list) else None  # junk after a "top" mutation
        op = draw(st.sampled_from(["gate-set", "gate-set", "gate-drop", "top", "extra", "append"]))
        if (
            op.startswith("gate")
            and isinstance(gates, list)
            and gates
            and isinstance(gates[0], dict)
        ):
            gate = gates[draw(st.integers(0, len(gates) - 1))]
            if not isinstance(gate, dict):
                continue
            if op == "gate-drop" and gate:
                del gate[draw(st.sampled_from(sorted(gate, key=str)))]
            else:
                key = draw(st.sampled_from(GATE_KEYS))
                gate[key] = draw(
                    st.one_of(
                        st.sampled_from([-1, 2, 5, 10**4, 10**12, 2**70, [0, 0], [0, 1, 2]]),
                        st.sampled_from(["cnot", "hh", "rx", "measure", "barrier", "cx", " H "]),
                        JUNK,
                    )
                )
        elif op == "top":
            spec[draw(st.sampled_from(TOP_KEYS))] = draw(
                st.one_of(st.sampled_from([0, 1, 10**4, 10**9, [5], [0, 0], []]), JUNK)
            )
        elif op == "extra":
            target = draw(st.sampled_from([spec, *[g for g in gates or [] if isinstance(g, dict)]]))
            key = draw(
                st.one_of(st.text(min_size=1, max_size=6), st.sampled_from([1, None, ("t",)]))
            )
            target[key] = draw(JUNK)
        elif isinstance(gates, list):
            gates.append(draw(st.one_of(JUNK, st.dictionaries(st.sampled_from(GATE_KEYS), JUNK))))
    return spec


def test_gate_dicts(pcs: PilotComputeService) -> None:
    fields = re.compile(r"gates\[\d+\]|\b(" + "|".join(TOP_KEYS) + r")\b|unknown key")

    @fuzz(110)
    @given(spec=gate_dicts())
    def prop(spec: Any) -> None:
        def check(exc: Exception) -> None:
            err = exc.__cause__ if isinstance(exc, TaskFailedError) else exc
            if isinstance(err, CircuitError) and err.source_format == "gatedict":
                assert fields.search(str(err)), f"no field named in {err!s} for {spec!r}"

        Tally.count("gatedict", run_circuit(pcs, spec, check))

    prop()
    bell(pcs)


# ------------------------------------------------------------------ (e) configuration files
CONFIG_BASE: dict[str, Any] = {
    "service": {"num_cpus": 2, "working_directory": "work"},
    "pilot": {"cores_per_node": 0.5, "walltime": 30, "scheduler_script_commands": []},
    "quantum": {"optimization_level": 2},
    "dreamer": {"objective": "speed", "cache_ttl_seconds": 10},
    "executors": {"qiskit_fake": {"backends": ["fake_manila"]}},
}
TOML_SCALARS = st.one_of(
    st.booleans(),
    st.sampled_from([-1, 0, 1, 2**63 - 1, -(2**63), 0.5, math.inf, math.nan, -0.0, 1e300]),
    st.sampled_from(["", "x", "fidelity", "qiskit_local", "1", "work/sub"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2),
        st.dictionaries(st.sampled_from(["a", "b_c", "executor"]), inner, max_size=2),
    ),
    max_leaves=4,
)
#: Values that are right for their key (so that some mutated files load).
CONFIG_VALID: dict[str, list[Any]] = {
    "num_cpus": [0, 1, 4],
    "working_directory": ["w2", "deep/er"],
    "cores_per_node": [0.25, 2],
    "walltime": [1, 600],
    "scheduler_script_commands": [["--exclusive"]],
    "optimization_level": [0, 3],
    "objective": ["cost", "balanced"],
    "cache_ttl_seconds": [0.5, 60],
    "backends": [["fake_lagos"], []],
}
SAFE_KEY = st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(
    lambda k: "token" not in k and "secret" not in k and "key" not in k
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return (
            '"'
            + "".join(
                c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value
            )
            + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(doc: dict[str, Any], prefix: str = "") -> str:
    """A TOML document: scalars first, then one ``[table]`` per nested dict."""
    out = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(f"\n[{prefix}{k}]")
            out.append(toml_text(v, f"{prefix}{k}."))
    return "\n".join(out)


@st.composite
def config_files(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(CONFIG_BASE)
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(sorted(doc)))
        op = draw(st.sampled_from(["set", "set", "typo-key", "typo-table", "extra", "not-table"]))
        if not isinstance(doc[table], dict) or op == "not-table":
            doc[table] = draw(TOML_SCALARS)
        elif op == "set" and doc[table]:
            key = draw(st.sampled_from(sorted(doc[table])))
            doc[table][key] = draw(st.sampled_from(CONFIG_VALID.get(key, [0])) | TOML_VALUES)
        elif op == "typo-key" and doc[table]:
            old = draw(st.sampled_from(sorted(doc[table])))
            doc[table][typo(old, draw)] = doc[table].pop(old)
        elif op == "typo-table":
            doc[typo(table, draw)] = doc.pop(table)
        else:
            doc[table][draw(SAFE_KEY)] = draw(TOML_VALUES)
    service = doc.get("service")
    if isinstance(service, dict) and str(service.get("working_directory", "")).startswith(
        ("/", "~")
    ):
        service["working_directory"] = "w" + service["working_directory"]  # stay in tmp_path
    text = toml_text(doc)
    if draw(st.integers(0, 9)) == 0:  # broken TOML
        pos = draw(st.integers(0, len(text)))
        text = (
            text[:pos] + draw(st.sampled_from(["[", "=", '"', "\n[[x", "= =", "\x00"])) + text[pos:]
        )
    return text


def test_configuration_files(
    pcs: PilotComputeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "config.toml"
    monkeypatch.chdir(tmp_path)  # a relative service.working_directory lands here

    @fuzz(60)
    @given(text=config_files())
    def prop(text: str) -> None:
        user.write_text(text, encoding="utf-8")
        os.environ["QDREAMER_CONFIG"] = str(user)
        service = None
        try:
            load_config()
            parse_description({})
            parse_description({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}})
            parse_description({"resource_type": "quantum", "quantum": {"executor": "qiskit_fake"}})
            service = PilotComputeService()
        except Exception as exc:
            os.environ.pop("QDREAMER_CONFIG", None)
            assert_documented(exc, what=text)
            Tally.count("config", type(exc).__name__)
            after_error(pcs)
            return
        finally:
            os.environ.pop("QDREAMER_CONFIG", None)
            if service is not None:
                service.cancel()
        Tally.count("config", "loaded")

    try:
        prop()
    finally:
        os.environ.pop("QDREAMER_CONFIG", None)
    bell(pcs)


def test_every_property_saw_errors_and_successes(pcs: PilotComputeService) -> None:
    """The fuzzer reached both sides of each property (else it tests too little)."""
    bell(pcs)
    print("fuzz outcomes:", Tally.outcomes)
    # Every property of this module, so that this test cannot pass having seen none
    # (it runs last: alone, it fails and says to run the module).
    expected = {"config", "descriptions", "gatedict", "qasm", "tasks"}
    assert set(Tally.outcomes) == expected, (
        f"properties that ran: {sorted(Tally.outcomes)}; run the whole module"
    )
    for prop, outcomes in Tally.outcomes.items():
        ok = {"created", "ran", "loaded"} & set(outcomes)
        assert ok and set(outcomes) - ok, f"{prop}: {outcomes}"

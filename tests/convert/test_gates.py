"""Numerical checks of the gate table and of the circuit converters.

Every comparison is between full unitaries, up to a global phase (tolerance
1e-9).  Qiskit matrices are little-endian (qubit 0 least significant);
PennyLane and Braket matrices are big-endian and are reordered first.

Angles come from numpy generators seeded by the test's name, so every run
draws the same angles and each test can be re-run alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pennylane as qml  # declared test dependencies: a missing one fails, never skips
import pytest
from braket.circuits import Circuit
from qiskit import QuantumCircuit
from qiskit.circuit.library import U2Gate, UnitaryGate
from qiskit.quantum_info import Operator, random_unitary

from dreamer.workload import canonical_gate
from pilot.convert import load_circuit
from pilot.convert.braket import to_braket
from pilot.convert.gates import GATES, GateSpec
from pilot.convert.pennylane import to_pennylane_ops
from pilot.convert.qiskit import _BRAKET_DEFS

TOL = 1e-9
GATE_NAMES = list(GATES)
BRAKET_GATES = [n for n, s in GATES.items() if s.braket]
NO_BRAKET = [n for n, s in GATES.items() if not s.braket]

#: One operation of a framework-neutral test circuit: (canonical name, angles, qubits).
Op = tuple[str, list[float], list[int]]


# ----------------------------------------------------------------- helpers
def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by ``key`` (stable across runs and test selections)."""
    return np.random.default_rng(zlib.crc32("/".join(map(str, key)).encode()))


def _angles(rng: np.random.Generator, n: int) -> list[float]:
    return [float(a) for a in rng.uniform(-2 * np.pi, 2 * np.pi, n)]


def big_to_little(matrix: Any, num_qubits: int) -> np.ndarray:
    """Reverse the qubit order of a ``2**n x 2**n`` matrix (big- <-> little-endian)."""
    n = num_qubits
    tensor = np.asarray(matrix, dtype=complex).reshape((2,) * (2 * n))
    rows = list(reversed(range(n)))
    cols = list(reversed(range(n, 2 * n)))
    return tensor.transpose(rows + cols).reshape(2**n, 2**n)


def assert_equal_up_to_phase(actual: Any, expected: Any, what: str = "") -> None:
    actual = np.asarray(actual, dtype=complex)
    expected = np.asarray(expected, dtype=complex)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    idx = np.unravel_index(np.argmax(np.abs(expected)), expected.shape)
    assert abs(actual[idx]) > 1e-6, f"{what}: entry {idx} is 0, expected {expected[idx]:.6g}"
    phase = actual[idx] / expected[idx]
    phase /= abs(phase)
    diff = float(np.max(np.abs(actual - phase * expected)))
    assert diff < TOL, (
        f"{what}: unitaries differ by more than a global phase "
        f"(max |U - e^(i phi) V| = {diff:.3g})\nactual=\n{np.round(actual, 4)}\n"
        f"expected (x phase)=\n{np.round(phase * expected, 4)}"
    )


def test_helpers_self_check() -> None:
    """The endianness flip and the phase comparison do what the tests assume."""
    # CNOT with control qubit 0: big-endian (PennyLane/Braket) vs little-endian (Qiskit).
    qc = QuantumCircuit(2)
    qc.cx(0, 1)
    assert_equal_up_to_phase(
        big_to_little(qml.matrix(qml.CNOT([0, 1]), wire_order=[0, 1]), 2), Operator(qc).data
    )
    big = Circuit().cnot(0, 1).to_unitary()
    assert not np.allclose(big, Operator(qc).data)
    assert_equal_up_to_phase(big_to_little(big, 2), Operator(qc).data)
    assert_equal_up_to_phase(1j * np.eye(2), np.eye(2))
    with pytest.raises(AssertionError):
        assert_equal_up_to_phase(np.diag([1, -1]), np.eye(2))
    with pytest.raises(AssertionError):
        assert_equal_up_to_phase(2 * np.eye(2), np.eye(2))


# ------------------------------------------------------- gate builders
def qiskit_unitary(qc: QuantumCircuit) -> np.ndarray:
    return np.asarray(Operator(qc).data)


def pennylane_op(spec: GateSpec, params: Sequence[float], wires: Sequence[int]) -> Any:
    assert spec.pennylane is not None
    if spec.pennylane.startswith("adjoint:"):
        base = getattr(qml, spec.pennylane.split(":", 1)[1])
        return qml.adjoint(base(wires=list(wires)))
    return getattr(qml, spec.pennylane)(*params, wires=list(wires))


def pennylane_unitary(qfunc: Callable[[], Any], num_qubits: int) -> np.ndarray:
    """Little-endian unitary of a quantum function over wires ``0..n-1``."""
    big = qml.matrix(qfunc, wire_order=list(range(num_qubits)))()
    return big_to_little(big, num_qubits)


def braket_unitary(circ: Circuit, num_qubits: int) -> np.ndarray:
    """Little-endian unitary of the gates of ``circ`` over qubits ``0..n-1``.

    Result types and measurements are dropped; an identity on every qubit
    makes sure ``to_unitary`` covers qubits the circuit leaves idle.
    """
    gates = Circuit()
    for q in range(num_qubits):
        gates.i(q)
    for ins in circ.instructions:
        if type(ins.operator).__name__ != "Measure":
            gates.add_instruction(ins)
    assert sorted(int(q) for q in gates.qubits) == list(range(num_qubits))
    return big_to_little(gates.to_unitary(), num_qubits)


def build_qiskit(ops: Sequence[Op], n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    for name, params, qubits in ops:
        getattr(qc, name)(*params, *qubits)
    return qc


def build_braket(ops: Sequence[Op]) -> Circuit:
    circ = Circuit()
    for name, params, qubits in ops:
        method = GATES[name].braket
        assert method is not None, name
        getattr(circ, method)(*qubits, *params)
    return circ


def build_qfunc(ops: Sequence[Op]) -> Callable[[], Any]:
    def circuit() -> Any:
        for name, params, qubits in ops:
            pennylane_op(GATES[name], params, qubits)
        return qml.probs()

    circuit.__name__ = "table_gates"
    return circuit


def build_gatedict(ops: Sequence[Op], n: int) -> dict[str, Any]:
    gates = []
    for name, params, qubits in ops:
        entry: dict[str, Any] = {"type": name}
        if len(qubits) == 1:
            entry["qubit"] = qubits[0]
        elif name.startswith("c") and name not in ("cswap",):
            entry["controls" if len(qubits) > 2 else "control"] = (
                qubits[:-1] if len(qubits) > 2 else qubits[0]
            )
            entry["target"] = qubits[-1]
        else:
            entry["qubits"] = list(qubits)
        if len(params) == 1:
            entry["angle"] = params[0]
        elif params:
            entry["angles"] = list(params)
        gates.append(entry)
    return {"gates": gates, "n_qubits": n}


def gate_circuit(name: str, *key: object) -> tuple[list[Op], int]:
    """A random-angle circuit around one table gate, on 2 or 3 qubits.

    Random ``ry``/``rz`` on every qubit first (so every qubit is used and the
    input is generic), then ``name`` on a random ordering of the qubits.
    """
    spec = GATES[name]
    rng = _rng(name, *key)
    n = max(2, spec.num_qubits)
    ops: list[Op] = []
    for q in range(n):
        a, b = _angles(rng, 2)
        ops += [("ry", [a], [q]), ("rz", [b], [q])]
    qubits = [int(q) for q in rng.permutation(n)[: spec.num_qubits]]
    if spec.num_qubits == 1:
        qubits = [n - 1]  # never the least significant qubit alone
    ops.append((name, _angles(rng, spec.num_params), qubits))
    return ops, n


def portable_unitary(source: Any) -> tuple[np.ndarray, int]:
    loaded = load_circuit(source)
    body = loaded.portable().body
    assert body.num_qubits == loaded.num_qubits
    names = {inst.operation.name for inst in body.data}
    assert "measure" not in names
    return qiskit_unitary(body), body.num_qubits


# ------------------------------------------------- 1. the table itself
def test_table_shape() -> None:
    for name, spec in GATES.items():
        assert spec.pennylane is not None, name
        qc = QuantumCircuit(spec.num_qubits)
        getattr(qc, name)(*[0.1] * spec.num_params, *range(spec.num_qubits))
        op = qc.data[0].operation
        assert op.name == name
        assert op.num_qubits == spec.num_qubits
        assert len(op.params) == spec.num_params
        # Foreign spellings canonicalise back onto the row.
        if spec.braket:
            assert canonical_gate(spec.braket) == name, spec.braket
        if not spec.pennylane.startswith("adjoint:"):
            assert canonical_gate(spec.pennylane) == name, spec.pennylane


@pytest.mark.parametrize("name", GATE_NAMES)
def test_table_row_unitaries_agree(name: str) -> None:
    spec = GATES[name]
    k = spec.num_qubits
    wires = list(range(k))
    draws = 3 if spec.num_params else 1
    rng = _rng("table", name)
    for _ in range(draws):
        params = _angles(rng, spec.num_params)
        qc = QuantumCircuit(k)
        getattr(QuantumCircuit, name)(qc, *params, *wires)
        expected = qiskit_unitary(qc)

        op = pennylane_op(spec, params, wires)
        pl = big_to_little(qml.matrix(op, wire_order=wires), k)
        assert_equal_up_to_phase(pl, expected, f"PennyLane {spec.pennylane}{tuple(params)}")

        if spec.braket is not None:
            circ = getattr(Circuit(), spec.braket)(*wires, *params)
            bk = big_to_little(circ.to_unitary(), k)
            assert_equal_up_to_phase(bk, expected, f"Braket {spec.braket}{tuple(params)}")


# ------------------------------------------------ 2. round trips
@pytest.mark.parametrize("name", GATE_NAMES)
def test_load_qiskit(name: str) -> None:
    ops, n = gate_circuit(name, "qiskit")
    qc = build_qiskit(ops, n)
    qc.measure_all()
    body_u, width = portable_unitary(qc)
    assert width == n
    assert_equal_up_to_phase(body_u, qiskit_unitary(build_qiskit(ops, n)), f"qiskit {name}")


@pytest.mark.parametrize("name", BRAKET_GATES)
def test_load_braket(name: str) -> None:
    ops, n = gate_circuit(name, "braket")
    circ = build_braket(ops)
    body_u, width = portable_unitary(circ)
    assert width == n
    source = big_to_little(circ.to_unitary(), n)
    assert_equal_up_to_phase(body_u, source, f"braket {name}")


@pytest.mark.parametrize("name", GATE_NAMES)
def test_load_pennylane(name: str) -> None:
    ops, n = gate_circuit(name, "pennylane")
    qfunc = build_qfunc(ops)
    body_u, width = portable_unitary(qfunc)
    assert width == n
    assert_equal_up_to_phase(body_u, pennylane_unitary(qfunc, n), f"pennylane {name}")


@pytest.mark.parametrize("name", GATE_NAMES)
def test_load_gatedict(name: str) -> None:
    ops, n = gate_circuit(name, "gatedict")
    spec = build_gatedict(ops, n)
    body_u, width = portable_unitary(spec)
    assert width == n
    assert_equal_up_to_phase(body_u, qiskit_unitary(build_qiskit(ops, n)), f"gatedict {name}")


@pytest.mark.parametrize("name", GATE_NAMES)
def test_load_gatedict_foreign_spellings(name: str) -> None:
    """Gate dict ``type`` spelt the Braket or PennyLane way gives the same body."""
    spec = GATES[name]
    ops, n = gate_circuit(name, "gatedict-alias")
    expected = qiskit_unitary(build_qiskit(ops, n))
    spellings = [s for s in (spec.braket, spec.pennylane, name.upper()) if s]
    for spelling in spellings:
        if spelling.startswith("adjoint:"):
            continue
        gd = build_gatedict(ops, n)
        gd["gates"][-1]["type"] = spelling
        body_u, _ = portable_unitary(gd)
        assert_equal_up_to_phase(body_u, expected, f"gatedict type={spelling!r}")


def test_braket_exact_keeps_the_order_of_measurement() -> None:
    """Probabilities over qubits measured out of order, one of them never acted on."""
    from pilot.backends.base import PreparedCircuit
    from pilot.backends.braket import BraketLocalBackend
    from pilot.config import parse_description

    config = parse_description(
        {"resource_type": "quantum", "quantum": {"executor": "braket_local"}}
    ).quantum
    backend = BraketLocalBackend(config, pilot="p")
    body = QuantumCircuit(4)
    body.x(2)
    body.h(0)
    (probs,) = backend.exact("braket_sv", [PreparedCircuit(body, (1, 2, 0, 3))])
    assert probs == pytest.approx({"0100": 0.5, "0110": 0.5})


@pytest.mark.parametrize("name", GATE_NAMES)
def test_to_braket(name: str) -> None:
    ops, n = gate_circuit(name, "to_braket")
    body = build_qiskit(ops, n)
    measured = tuple(range(n))[::-1]
    circ = to_braket(body, measured, exact=True)
    kinds = [type(rt).__name__ for rt in circ.result_types]
    assert kinds == ["Probability"]
    # Ascending: Braket's local simulator permutes an unsorted target's values; the
    # backend puts them back in measurement order (test_braket_exact_keeps_the_order).
    assert [int(q) for q in circ.result_types[0].target] == sorted(measured)
    assert not any(type(i.operator).__name__ == "Measure" for i in circ.instructions)
    used = {type(i.operator).__name__.lower() for i in circ.instructions}
    assert used <= {GATES[g].braket for g in BRAKET_GATES}, used
    assert_equal_up_to_phase(braket_unitary(circ, n), qiskit_unitary(body), f"to_braket {name}")


@pytest.mark.parametrize("name", GATE_NAMES)
def test_to_pennylane_ops(name: str) -> None:
    ops, n = gate_circuit(name, "to_pennylane")
    body = build_qiskit(ops, n)
    pl_ops = to_pennylane_ops(body, "test")

    def qfunc() -> None:
        for op in pl_ops:
            qml.apply(op)

    assert_equal_up_to_phase(
        pennylane_unitary(qfunc, n), qiskit_unitary(body), f"to_pennylane_ops {name}"
    )


def _all_gates_body(seed: str) -> QuantumCircuit:
    """Every table gate once, random angles and qubit orders, on 3 qubits."""
    rng = _rng("all-gates", seed)
    qc = QuantumCircuit(3)
    for q in range(3):
        qc.ry(_angles(rng, 1)[0], q)
    for name, spec in GATES.items():
        qubits = [int(q) for q in rng.permutation(3)[: spec.num_qubits]]
        getattr(qc, name)(*_angles(rng, spec.num_params), *qubits)
    return qc


def test_to_braket_every_gate() -> None:
    body = _all_gates_body("braket")
    circ = to_braket(body, (0, 1, 2), exact=True)
    assert_equal_up_to_phase(braket_unitary(circ, 3), qiskit_unitary(body), "to_braket")
    # The measuring variant has the same gates.
    measuring = to_braket(body, (2, 0), exact=False)
    assert not measuring.result_types
    assert_equal_up_to_phase(braket_unitary(measuring, 3), qiskit_unitary(body), "measuring")


def test_to_pennylane_every_gate() -> None:
    body = _all_gates_body("pennylane")
    pl_ops = to_pennylane_ops(body, "test")

    def qfunc() -> None:
        for op in pl_ops:
            qml.apply(op)

    assert_equal_up_to_phase(pennylane_unitary(qfunc, 3), qiskit_unitary(body), "to_pennylane")


def test_every_gate_round_trips_through_all_frameworks() -> None:
    """Qiskit -> Braket -> portable -> PennyLane -> portable keeps the unitary."""
    body = _all_gates_body("chain")
    expected = qiskit_unitary(body)
    bk_body = load_circuit(to_braket(body, (0, 1, 2), exact=True)).portable().body
    assert_equal_up_to_phase(qiskit_unitary(bk_body), expected, "via Braket")
    pl_ops = to_pennylane_ops(bk_body, "test")

    def qfunc() -> Any:
        for op in pl_ops:
            qml.apply(op)
        return qml.probs()

    pl_body = load_circuit(qfunc).portable().body
    assert_equal_up_to_phase(qiskit_unitary(pl_body), expected, "via PennyLane")


# ------------------------------------------- 3. gates outside the table
def _prelude_qiskit(qc: QuantumCircuit, rng: np.random.Generator) -> None:
    for q in range(qc.num_qubits):
        a, b = _angles(rng, 2)
        qc.ry(a, q)
        qc.rz(b, q)


def _qiskit_extra(kind: str) -> QuantumCircuit:
    rng = _rng("qiskit-extra", kind)
    qc = QuantumCircuit(3)
    _prelude_qiskit(qc, rng)
    if kind == "u2":
        qc.append(U2Gate(*_angles(rng, 2)), [1])
    elif kind == "cu":
        qc.cu(*_angles(rng, 4), 2, 0)
    elif kind == "rzx":
        qc.rzx(_angles(rng, 1)[0], 0, 2)
    elif kind == "unitary":
        qc.append(UnitaryGate(random_unitary(4, seed=7).data), [2, 0])
    else:  # pragma: no cover
        raise AssertionError(kind)
    return qc


@pytest.mark.parametrize("kind", ["u2", "cu", "rzx", "unitary"])
def test_qiskit_gates_outside_table(kind: str) -> None:
    qc = _qiskit_extra(kind)
    expected = qiskit_unitary(qc)
    measured = qc.copy()
    measured.measure_all()
    body_u, _ = portable_unitary(measured)
    assert_equal_up_to_phase(body_u, expected, f"qiskit {kind}")


def test_qiskit_gates_outside_table_convert_onwards() -> None:
    """Non-table gates reach Braket and PennyLane through the transpiler."""
    qc = QuantumCircuit(3)
    for kind in ("u2", "cu", "rzx", "unitary"):
        qc.compose(_qiskit_extra(kind), inplace=True)
    expected = qiskit_unitary(qc)
    body = load_circuit(qc).portable().body
    circ = to_braket(body, (0, 1, 2), exact=True)
    assert_equal_up_to_phase(braket_unitary(circ, 3), expected, "to_braket")
    pl_ops = to_pennylane_ops(body, "test")

    def qfunc() -> None:
        for op in pl_ops:
            qml.apply(op)

    assert_equal_up_to_phase(pennylane_unitary(qfunc, 3), expected, "to_pennylane_ops")


def _pennylane_extra_ops(kind: str) -> Callable[[], None]:
    """A function applying random ``RY``/``RZ`` on wires 0-2, then one ``kind`` op."""
    rng = _rng("pennylane-extra", kind)
    prelude = [_angles(rng, 2) for _ in range(3)]
    angles = _angles(rng, 3)
    matrix = random_unitary(4, seed=11).data

    def apply() -> None:
        for q, (a, b) in enumerate(prelude):
            qml.RY(a, wires=q)
            qml.RZ(b, wires=q)
        if kind == "Rot":
            qml.Rot(*angles, wires=1)
        elif kind == "CRot":
            qml.CRot(*angles, wires=[2, 0])
        elif kind == "QubitUnitary":
            qml.QubitUnitary(matrix, wires=[2, 0])
        elif kind == "MultiRZ":
            qml.MultiRZ(angles[0], wires=[1, 2, 0])
        elif kind == "QFT":
            qml.QFT(wires=[0, 1, 2])
        else:  # pragma: no cover
            raise AssertionError(kind)

    return apply


def _pennylane_extra(kind: str) -> Callable[[], Any]:
    apply = _pennylane_extra_ops(kind)

    def circuit() -> Any:
        apply()
        return qml.probs()

    circuit.__name__ = f"extra_{kind}"
    return circuit


@pytest.mark.parametrize("kind", ["Rot", "CRot", "QubitUnitary", "MultiRZ", "QFT"])
def test_pennylane_gates_outside_table(kind: str) -> None:
    qfunc = _pennylane_extra(kind)
    body_u, width = portable_unitary(qfunc)
    assert width == 3
    assert_equal_up_to_phase(body_u, pennylane_unitary(qfunc, 3), f"pennylane {kind}")


def test_pennylane_qnode_with_templates() -> None:
    """A QNode (not a bare function) with several non-table ops loads the same way."""
    dev = qml.device("default.qubit", wires=3)
    funcs = [_pennylane_extra_ops(k) for k in ("Rot", "CRot", "QubitUnitary", "MultiRZ", "QFT")]

    def body() -> Any:
        for f in funcs:
            f()
        return qml.probs(wires=[0, 1, 2])

    qnode = qml.QNode(body, dev)
    expected = pennylane_unitary(body, 3)
    body_u, _ = portable_unitary(qnode)
    assert_equal_up_to_phase(body_u, expected, "pennylane qnode")


def _braket_extra(kind: str) -> Circuit:
    rng = _rng("braket-extra", kind)
    circ = Circuit()
    for q in range(3):
        a, b = _angles(rng, 2)
        circ.ry(q, a).rz(q, b)
    if kind == "cphaseshift01":
        circ.cphaseshift01(2, 0, _angles(rng, 1)[0])
    elif kind == "gpi":
        circ.gpi(1, _angles(rng, 1)[0])
    elif kind == "ms":
        circ.ms(2, 0, *_angles(rng, 3))
    elif kind == "unitary":
        circ.unitary(matrix=random_unitary(4, seed=13).data, targets=[2, 0])
    elif kind == "pswap":
        circ.pswap(0, 2, _angles(rng, 1)[0])
    elif kind == "controlled-ry":
        circ.ry(0, _angles(rng, 1)[0], control=2)
    elif kind == "power":
        circ.rx(1, _angles(rng, 1)[0], power=2.5)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return circ


@pytest.mark.parametrize(
    "kind", ["cphaseshift01", "gpi", "ms", "unitary", "pswap", "controlled-ry", "power"]
)
def test_braket_gates_outside_table(kind: str) -> None:
    circ = _braket_extra(kind)
    body_u, width = portable_unitary(circ)
    assert width == 3
    assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), 3), f"braket {kind}")


# ----------------------------------------------------------- 4. OpenQASM
BRAKET_QASM = """OPENQASM 3.0;
qubit[3] q;
bit[3] c;
ry(0.7) q[0];
ry(-1.1) q[1];
ry(2.3) q[2];
rz(0.9) q[0];
cnot q[0], q[1];
si q[0];
ti q[1];
v q[2];
vi q[0];
phaseshift(0.3) q[1];
cphaseshift(0.2) q[2], q[0];
xx(0.4) q[0], q[2];
yy(0.5) q[1], q[2];
zz(0.6) q[0], q[1];
iswap q[1], q[2];
ccnot q[2], q[0], q[1];
c = measure q;
"""


def _braket_qasm_circuit() -> Circuit:
    return (
        Circuit()
        .ry(0, 0.7)
        .ry(1, -1.1)
        .ry(2, 2.3)
        .rz(0, 0.9)
        .cnot(0, 1)
        .si(0)
        .ti(1)
        .v(2)
        .vi(0)
        .phaseshift(1, 0.3)
        .cphaseshift(2, 0, 0.2)
        .xx(0, 2, 0.4)
        .yy(1, 2, 0.5)
        .zz(0, 1, 0.6)
        .iswap(1, 2)
        .ccnot(2, 0, 1)
    )


def test_qasm3_with_braket_gate_names() -> None:
    loaded = load_circuit(BRAKET_QASM)
    assert loaded.source_format == "qasm3"
    body_u, width = portable_unitary(BRAKET_QASM)
    assert width == 3
    expected = big_to_little(_braket_qasm_circuit().to_unitary(), 3)
    assert_equal_up_to_phase(body_u, expected, "Braket-style QASM 3")


# One program per built-in: (statement, Braket method, qubits, angles).
_BRAKET_BUILTINS = {
    "cnot": ("cnot q[2], q[0];", "cnot", [2, 0], []),
    "ccnot": ("ccnot q[1], q[2], q[0];", "ccnot", [1, 2, 0], []),
    "phaseshift": ("phaseshift(0.3) q[1];", "phaseshift", [1], [0.3]),
    "cphaseshift": ("cphaseshift(0.2) q[2], q[1];", "cphaseshift", [2, 1], [0.2]),
    "si": ("si q[1];", "si", [1], []),
    "ti": ("ti q[2];", "ti", [2], []),
    "v": ("v q[0];", "v", [0], []),
    "vi": ("vi q[1];", "vi", [1], []),
    "i": ("i q[2];", "i", [2], []),
    "xx": ("xx(0.4) q[2], q[0];", "xx", [2, 0], [0.4]),
    "yy": ("yy(0.5) q[0], q[1];", "yy", [0, 1], [0.5]),
    "zz": ("zz(0.6) q[1], q[2];", "zz", [1, 2], [0.6]),
    "iswap": ("iswap q[2], q[0];", "iswap", [2, 0], []),
    "cphaseshift00": ("cphaseshift00(0.3) q[2], q[0];", "cphaseshift00", [2, 0], [0.3]),
    "cphaseshift01": ("cphaseshift01(0.3) q[0], q[1];", "cphaseshift01", [0, 1], [0.3]),
    "cphaseshift10": ("cphaseshift10(0.3) q[1], q[2];", "cphaseshift10", [1, 2], [0.3]),
    "cv": ("cv q[2], q[1];", "cv", [2, 1], []),
    "xy": ("xy(0.7) q[0], q[2];", "xy", [0, 2], [0.7]),
    "pswap": ("pswap(0.7) q[1], q[0];", "pswap", [1, 0], [0.7]),
    "ecr": ("ecr q[2], q[0];", "ecr", [2, 0], []),
    "prx": ("prx(0.4, 0.9) q[1];", "prx", [1], [0.4, 0.9]),
    "gpi": ("gpi(0.4) q[0];", "gpi", [0], [0.4]),
    "gpi2": ("gpi2(0.4) q[2];", "gpi2", [2], [0.4]),
}


def test_braket_builtins_cover_definitions() -> None:
    assert set(_BRAKET_BUILTINS) == set(_BRAKET_DEFS)


@pytest.mark.parametrize("gate", sorted(_BRAKET_BUILTINS))
def test_qasm3_braket_definition(gate: str) -> None:
    """Each of ``_BRAKET_DEFS`` against Braket's own gate, on a generic input."""
    statement, method, qubits, angles = _BRAKET_BUILTINS[gate]
    prelude = "\n".join(
        f"ry({0.3 + 0.4 * q}) q[{q}];\nrz({-0.2 - 0.5 * q}) q[{q}];" for q in range(3)
    )
    text = f"OPENQASM 3.0;\nqubit[3] q;\n{prelude}\n{statement}\n"
    circ = Circuit()
    for q in range(3):
        circ.ry(q, 0.3 + 0.4 * q).rz(q, -0.2 - 0.5 * q)
    getattr(circ, method)(*qubits, *angles)
    body_u, _ = portable_unitary(text)
    assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), 3), gate)


def _braket_ir(circ: Circuit) -> str:
    from braket.circuits.serialization import IRType

    return str(circ.to_ir(IRType.OPENQASM).source)


def test_qasm3_exported_by_braket() -> None:
    """OpenQASM 3 that Braket itself writes (``Circuit.to_ir``): every table gate but ecr."""
    rng = _rng("braket-ir")
    circ = Circuit()
    for q in range(3):
        circ.ry(q, _angles(rng, 1)[0])
    for name in BRAKET_GATES:
        if name == "ecr":
            continue  # see test_qasm3_exported_by_braket_ecr
        spec = GATES[name]
        qubits = [int(q) for q in rng.permutation(3)[: spec.num_qubits]]
        getattr(circ, spec.braket)(*qubits, *_angles(rng, spec.num_params))
    text = _braket_ir(circ)
    body_u, width = portable_unitary(text)
    assert width == 3
    assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), 3), "Braket IR")


def test_qasm3_exported_by_braket_ecr() -> None:
    circ = Circuit().ry(0, 0.3).ry(1, -0.8).ecr(1, 0)
    body_u, _ = portable_unitary(_braket_ir(circ))
    assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), 2), "Braket IR ecr")


# Braket-style programs that once tripped _with_braket_defs.
_QASM3_BRAKET_EDGE_CASES = {
    # A second statement on a line: the name regex is anchored at the line start.
    "two-statements-per-line": (
        "OPENQASM 3.0;\nqubit[2] q;\nh q[0]; cnot q[0], q[1];\n",
        Circuit().h(0).cnot(0, 1),
    ),
    # A gate modifier in front of a Braket name: same regex.
    "inv-modifier": (
        "OPENQASM 3.0;\nqubit[2] q;\nh q[0];\ninv @ si q[0];\n",
        Circuit().h(0).s(0).i(1),
    ),
    # The user's own include comes after the definitions inserted on the header line,
    # so 'cx' is used before stdgates.inc defines it.
    "explicit-stdgates-include": (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n',
        Circuit().h(0).cnot(0, 1),
    ),
}


@pytest.mark.parametrize("case", sorted(_QASM3_BRAKET_EDGE_CASES))
def test_qasm3_braket_names_edge_cases(case: str) -> None:
    text, circ = _QASM3_BRAKET_EDGE_CASES[case]
    body_u, width = portable_unitary(text)
    assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), width), case)


def test_qasm3_braket_names_control_cases() -> None:
    """The same programs written one statement per line and without the include load."""
    cases = [
        ("OPENQASM 3.0;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n", Circuit().h(0).cnot(0, 1)),
        ("OPENQASM 3.0;\nqubit[2] q;\nh q[0];\nsi q[0];\ni q[1];\n", Circuit().h(0).si(0).i(1)),
    ]
    for text, circ in cases:
        body_u, width = portable_unitary(text)
        assert_equal_up_to_phase(body_u, big_to_little(circ.to_unitary(), width), text)


QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
ry(0.7) q[0];
ry(-1.1) q[1];
ry(2.3) q[2];
u2(0.1, -0.7) q[0];
u3(1.2, 0.4, -2.5) q[1];
cu1(0.6) q[2], q[0];
u2(pi/3, 2) q[2];
u3(-0.3, 2.9, 0.8) q[0];
cu1(-1.4) q[1], q[2];
measure q -> c;
"""


def _qasm2_reference() -> QuantumCircuit:
    """The same program without u2/u3/cu1: u2(a, b) = U(pi/2, a, b), u3 = U, cu1 = cp."""
    qc = QuantumCircuit(3)
    qc.ry(0.7, 0)
    qc.ry(-1.1, 1)
    qc.ry(2.3, 2)
    qc.u(np.pi / 2, 0.1, -0.7, 0)
    qc.u(1.2, 0.4, -2.5, 1)
    qc.cp(0.6, 2, 0)
    qc.u(np.pi / 2, np.pi / 3, 2, 2)
    qc.u(-0.3, 2.9, 0.8, 0)
    qc.cp(-1.4, 1, 2)
    return qc


def _u_matrix(theta: float, phi: float, lam: float) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array(
        [[c, -np.exp(1j * lam) * s], [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]]
    )


def test_qasm2_reference_matches_textbook_matrices() -> None:
    """Pin the reference itself: U and cp as matrices (little-endian)."""
    qc = QuantumCircuit(1)
    qc.u(1.2, 0.4, -2.5, 0)
    assert_equal_up_to_phase(qiskit_unitary(qc), _u_matrix(1.2, 0.4, -2.5), "u")
    qc = QuantumCircuit(2)
    qc.cp(0.6, 1, 0)
    assert_equal_up_to_phase(qiskit_unitary(qc), np.diag([1, 1, 1, np.exp(0.6j)]), "cp")


def test_qasm2_legacy_gates() -> None:
    loaded = load_circuit(QASM2)
    assert loaded.source_format == "qasm2"
    portable = loaded.portable()
    assert portable.measured == (0, 1, 2)
    assert_equal_up_to_phase(
        qiskit_unitary(portable.body), qiskit_unitary(_qasm2_reference()), "QASM 2"
    )

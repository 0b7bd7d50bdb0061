"""Dynamic circuits of our own: mid-circuit measurement, reset and feed-forward.

Each builder returns a Qiskit 2.x ``QuantumCircuit`` (2..6 qubits) using
``if_test`` blocks (Qiskit 2 has no ``c_if``).  :func:`write_files` writes
them to ``circuits/dyn_<name>.qasm`` as OpenQASM 3 (``qiskit.qasm3.dumps``),
and the hand-written OpenQASM 2 programs of :data:`QASM2` (conditions on a
whole register, ``if(c==1) x q[2];``, which OpenQASM 2 can express) to
``circuits/dyn_<name>_qasm2.qasm``.

Only Qiskit is imported: ``tests/corpus/generate.py`` calls :func:`write_files`
from MQT Bench's own virtual environment; ``python -m tests.corpus.dynamic``
writes them from the project's.

:data:`KNOWN` gives exact answers some circuits must reproduce whatever runs
them (the test checks them besides comparing executors with Aer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The teleported state is ry(THETA)|0>: P(out = 1) = sin^2(THETA / 2).
TELEPORT_THETA = 1.1
#: Iterative phase estimation of p(2 pi * IPE_PHASE) on |1>: 3 bits read 0.101 exactly.
IPE_PHASE = 5 / 8


def teleport() -> Any:
    """Teleport ry(1.1)|0> from q0 to q2 with feed-forward X/Z corrections.

    Registers ``m`` (2 bits, the Bell measurement) and ``out`` (1 bit, the
    teleported qubit): ``out`` reads 1 with probability sin^2(0.55), whatever ``m``.
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(3, "q")
    m = ClassicalRegister(2, "m")
    out = ClassicalRegister(1, "out")
    qc = QuantumCircuit(q, m, out, name="teleport")
    qc.ry(TELEPORT_THETA, q[0])
    qc.h(q[1])
    qc.cx(q[1], q[2])
    qc.cx(q[0], q[1])
    qc.h(q[0])
    qc.measure(q[0], m[0])
    qc.measure(q[1], m[1])
    with qc.if_test((m[1], 1)):
        qc.x(q[2])
    with qc.if_test((m[0], 1)):
        qc.z(q[2])
    qc.measure(q[2], out[0])
    return qc


def repeat_until_success() -> Any:
    """Repeat-until-success, unrolled to three attempts.

    An attempt entangles the ancilla q0 with the target q1 (h, cry) and
    measures the ancilla: 0 is success; on 1 both qubits are reset and the
    next attempt runs (nested ``if_test``, so attempt k runs only after k-1
    failures).  ``a`` records the attempts, ``res`` the target.
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(2, "q")
    a = ClassicalRegister(3, "a")
    res = ClassicalRegister(1, "res")
    qc = QuantumCircuit(q, a, res, name="repeat_until_success")

    def attempt(k: int) -> None:
        qc.h(q[0])
        qc.cry(2.0, q[0], q[1])
        qc.ry(0.6, q[1])
        qc.measure(q[0], a[k])

    attempt(0)
    with qc.if_test((a[0], 1)):
        qc.reset(q[0])
        qc.reset(q[1])
        attempt(1)
        with qc.if_test((a[1], 1)):
            qc.reset(q[0])
            qc.reset(q[1])
            attempt(2)
    qc.measure(q[1], res[0])
    return qc


def qec_bitflip_round() -> Any:
    """One syndrome round of the 3-qubit bit-flip code, with ancilla reset.

    Data q0..q2 encode ry(0.7)|0>; an rx(0.5) error hits q1; ancillas q3, q4
    measure the parities Z0Z1 and Z1Z2 into ``s``, are reset, and the
    correction is conditioned on the whole syndrome register (``s == 1``: q0,
    ``s == 3``: q1, ``s == 2``: q2).  After decoding, ``out`` reads the logical
    qubit (P(1) = sin^2(0.35), the error corrected) and ``chk`` the reset ancillas (0).
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    d = QuantumRegister(3, "d")
    anc = QuantumRegister(2, "anc")
    s = ClassicalRegister(2, "s")
    out = ClassicalRegister(1, "out")
    chk = ClassicalRegister(2, "chk")
    qc = QuantumCircuit(d, anc, s, out, chk, name="qec_bitflip_round")
    qc.ry(0.7, d[0])
    qc.cx(d[0], d[1])
    qc.cx(d[0], d[2])
    qc.rx(0.5, d[1])  # the error
    qc.cx(d[0], anc[0])
    qc.cx(d[1], anc[0])
    qc.cx(d[1], anc[1])
    qc.cx(d[2], anc[1])
    qc.measure(anc, s)
    qc.reset(anc)
    with qc.if_test((s, 1)):
        qc.x(d[0])
    with qc.if_test((s, 3)):
        qc.x(d[1])
    with qc.if_test((s, 2)):
        qc.x(d[2])
    qc.cx(d[0], d[2])
    qc.cx(d[0], d[1])
    qc.measure(d[0], out[0])
    qc.measure(anc, chk)
    return qc


def _ipe(bits: int, phase: float, name: str) -> Any:
    """Iterative phase estimation of p(2 pi phase) on its eigenstate |1>.

    One ancilla, reset between rounds; round k (most significant bit last)
    applies the controlled power, then phase corrections fed forward from the
    bits measured so far, and measures into ``c[k]``.
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(2, "q")
    c = ClassicalRegister(bits, "c")
    qc = QuantumCircuit(q, c, name=name)
    qc.x(q[1])
    for k in range(bits):  # c[k] is bit k of the phase (c[bits-1] the most significant)
        power = 2 ** (bits - 1 - k)
        if k:
            qc.reset(q[0])
        qc.h(q[0])
        qc.cp(2 * math.pi * phase * power, q[0], q[1])
        for j in range(k):
            with qc.if_test((c[j], 1)):
                qc.p(-math.pi / 2 ** (k - j), q[0])
        qc.h(q[0])
        qc.measure(q[0], c[k])
    return qc


def iterative_phase_estimation() -> Any:
    """IPE, 3 bits, of the exact phase 5/8: ``c`` reads ``101`` with certainty."""
    return _ipe(3, IPE_PHASE, "iterative_phase_estimation")


def ipe_inexact() -> Any:
    """IPE, 4 bits, of the phase 0.3 (not a 4-bit fraction: a spread of readings)."""
    return _ipe(4, 0.3, "ipe_inexact")


def mid_measure_then_gates() -> Any:
    """Measure q0 of a Bell pair halfway, then keep using both qubits."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 3, name="mid_measure_then_gates")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure(0, 0)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.4, 1)
    qc.measure(0, 1)
    qc.measure(1, 2)
    return qc


def reset_in_the_middle() -> Any:
    """Entangle, reset one qubit of the pair, and entangle it again."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3, name="reset_in_the_middle")
    qc.h(0)
    qc.cx(0, 1)
    qc.reset(0)
    qc.ry(1.3, 0)
    qc.cx(0, 2)
    qc.cx(1, 2)
    qc.measure_all()
    return qc


def register_condition() -> Any:
    """A gate conditioned on a whole register's value (``m == 3``) and an else branch."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(3, "q")
    m = ClassicalRegister(2, "m")
    r = ClassicalRegister(1, "r")
    qc = QuantumCircuit(q, m, r, name="register_condition")
    qc.h(q[0])
    qc.ry(1.9, q[1])
    qc.measure(q[0], m[0])
    qc.measure(q[1], m[1])
    with qc.if_test((m, 3)) as else_:
        qc.x(q[2])
    with else_:
        qc.ry(0.8, q[2])
    qc.measure(q[2], r[0])
    return qc


def two_registers() -> Any:
    """Terminal measurements into two classical registers (a static circuit:
    the counts keys concatenate the registers, the last leftmost)."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(4, "q")
    a = ClassicalRegister(2, "a")
    b = ClassicalRegister(3, "b")
    qc = QuantumCircuit(q, a, b, name="two_registers")
    qc.h(q[0])
    qc.cx(q[0], q[1])
    qc.ry(0.9, q[2])
    qc.cx(q[2], q[3])
    qc.x(q[3])
    qc.measure(q[3], a[0])
    qc.measure(q[0], a[1])
    qc.measure(q[1], b[0])
    qc.measure(q[2], b[2])  # b[1] is never written: it reads 0
    return qc


def conditional_reset_chain() -> Any:
    """Six qubits: a GHZ pair measured mid-circuit, then feed-forward and reset
    spread over the rest (the widest dynamic circuit of ours; too wide for
    fake_manila)."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q = QuantumRegister(6, "q")
    mid = ClassicalRegister(2, "mid")
    fin = ClassicalRegister(6, "fin")
    qc = QuantumCircuit(q, mid, fin, name="conditional_reset_chain")
    qc.h(q[0])
    qc.cx(q[0], q[1])
    qc.ry(0.5, q[2])
    qc.measure(q[0], mid[0])
    qc.measure(q[2], mid[1])
    with qc.if_test((mid[0], 1)):
        qc.x(q[3])
        qc.cx(q[3], q[4])
    with qc.if_test((mid, 2)):
        qc.h(q[5])
    qc.reset(q[0])
    qc.cx(q[1], q[0])
    qc.measure(q, fin)
    return qc


#: name -> builder (files ``dyn_<name>.qasm``, OpenQASM 3).
CIRCUITS: dict[str, Callable[[], Any]] = {
    "teleport": teleport,
    "repeat_until_success": repeat_until_success,
    "qec_bitflip_round": qec_bitflip_round,
    "iterative_phase_estimation": iterative_phase_estimation,
    "ipe_inexact": ipe_inexact,
    "mid_measure_then_gates": mid_measure_then_gates,
    "reset_in_the_middle": reset_in_the_middle,
    "register_condition": register_condition,
    "two_registers": two_registers,
    "conditional_reset_chain": conditional_reset_chain,
}

#: Hand-written OpenQASM 2 (conditions on a whole register): files ``dyn_<name>_qasm2.qasm``.
QASM2: dict[str, str] = {
    "cond_reset": """\
// Measure q[0] of |+>, flip q[2] when it read 1, reset q[0] and flip it.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[1];
creg out[3];
h q[0];
measure q[0] -> c[0];
if(c==1) x q[2];
reset q[0];
x q[0];
ry(0.6) q[1];
measure q -> out;
""",
    "syndrome": """\
// Bit-flip code syndrome round, corrections conditioned on the syndrome register's value.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
creg syn[2];
creg out[3];
ry(0.9) q[0];
cx q[0],q[1];
cx q[0],q[2];
rx(0.4) q[2];
cx q[0],q[3];
cx q[1],q[3];
cx q[1],q[4];
cx q[2],q[4];
measure q[3] -> syn[0];
measure q[4] -> syn[1];
reset q[3];
reset q[4];
if(syn==1) x q[0];
if(syn==3) x q[1];
if(syn==2) x q[2];
measure q[0] -> out[0];
measure q[1] -> out[1];
measure q[2] -> out[2];
""",
}


def _sin2(x: float) -> float:
    return math.sin(x) ** 2


#: Exact answers: file name -> (classical bits as ``{clbit index: P(bit = 1)}``,
#: or a full distribution as ``{counts key: probability}``).
KNOWN: dict[str, dict[str, Any]] = {
    # Qiskit keys: ``out`` (clbit 2) leftmost, then m[1] m[0].
    "dyn_teleport": {"marginals": {2: _sin2(TELEPORT_THETA / 2), 0: 0.5, 1: 0.5}},
    "dyn_iterative_phase_estimation": {"distribution": {"101": 1.0}},
    # out = clbit 2; chk = clbits 3, 4 always 0.
    "dyn_qec_bitflip_round": {"marginals": {2: _sin2(0.35), 3: 0.0, 4: 0.0}},
    # The syndrome is corrected, not decoded: out (clbits 2..4) reads the codeword 000
    # or 111, each bit 1 with P = sin^2(0.45).
    "dyn_syndrome_qasm2": {"marginals": {2: _sin2(0.45), 3: _sin2(0.45), 4: _sin2(0.45)}},
}


def write_files(out: Path) -> list[Path]:
    """Write every circuit of this module into ``out``; return the paths."""
    from qiskit import qasm3

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in CIRCUITS.items():
        qc = build()
        path = out / f"dyn_{name}.qasm"
        doc = (build.__doc__ or "").strip().splitlines()[0]
        path.write_text(f"// {doc}\n" + qasm3.dumps(qc))
        paths.append(path)
    for name, text in QASM2.items():
        path = out / f"dyn_{name}_qasm2.qasm"
        path.write_text(text)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_files(Path(__file__).resolve().parent / "circuits"):
        print(p)

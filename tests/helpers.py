"""Small helpers shared by tests (import as ``tests.helpers``)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def bell_qiskit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


#: The Bell circuit in OpenQASM 2.
BELL_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""


def basis(i: int, width: int = 10) -> Any:
    """A circuit that reads ``i`` in binary (clbit 0 = bit 0 of ``i``)."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(width, width, name=f"basis{i}")
    for b in range(width):
        if i >> b & 1:
            qc.x(b)
    qc.measure(range(width), range(width))
    return qc


def key(i: int, width: int = 10) -> str:
    """The counts key of :func:`basis` ``(i)`` (Qiskit's order: clbit 0 rightmost)."""
    return format(i, f"0{width}b")


def task_spec(
    worker: Any,
    circuit: Any,
    shots: int | None,
    resource: str | None = None,
    *,
    task_id: str = "t",
    keep_native: bool = False,
) -> Any:
    """The ``TaskSpec`` the service would send ``worker`` for ``circuit`` (first resource
    unless ``resource`` names one)."""
    import time

    from pilot.tasks import TaskSpec

    return TaskSpec(
        task_id=task_id,
        name=task_id,
        circuit=circuit,
        shots=shots,
        pilot=worker.pilot,
        resource=resource or worker.resources()[0].name,
        num_qubits=None,
        gate_set=None,
        submitted_at=time.time(),
        keep_native=keep_native,
    )


def within_binomial(count: int, shots: int, p: float, sigmas: float = 5.0) -> bool:
    """``count`` is within ``sigmas`` standard deviations of ``shots * p``."""
    sd = (shots * p * (1 - p)) ** 0.5
    return abs(count - shots * p) <= sigmas * max(sd, 1.0)


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, *, rc: int = 0, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``qdreamer ARGS`` in a subprocess; asserts its exit code (output shown if not)."""
    out = subprocess.run(
        [sys.executable, "-m", "pilot.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )
    assert out.returncode == rc, f"stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"
    return out


def cli_error_line(out: subprocess.CompletedProcess[str]) -> str:
    """The one line a CLI error prints (and nothing else on stderr, no traceback)."""
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def ladder(n: int = 6) -> Any:
    """A Qiskit circuit whose CX ladder a cut must cross (``tests/*/test_cutting``)."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n)
    for i in range(n):
        qc.ry(0.3 * (i + 1), i)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    for i in range(n):
        qc.rx(0.2 * (i + 1), i)
    return qc


def exact_expectations(qc: Any, observables: list[Any]) -> Any:
    """The statevector's expectation values of Pauli strings, ``{pauli: coeff}`` sums
    or ``SparsePauliOp`` (Qiskit's order: qubit 0 rightmost), as a numpy array."""
    import numpy as np
    from qiskit.quantum_info import SparsePauliOp, Statevector

    sv = Statevector(qc)
    ops = [
        o
        if isinstance(o, SparsePauliOp)
        else SparsePauliOp(list(o), coeffs=list(o.values()))
        if isinstance(o, dict)
        else SparsePauliOp(o)
        for o in observables
    ]
    return np.array([sv.expectation_value(o).real for o in ops])


def two_blocks(
    n: int = 20, joins: tuple[tuple[int, int], ...] = ((19, 20), (5, 33)), seed: int = 7
) -> Any:
    """A Clifford circuit of two ``n``-qubit blocks joined by a few CX gates (``joins``),
    random single-qubit Cliffords around every layer (``tests/*/test_cutting``)."""
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import random_clifford

    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(2 * n)

    def layer() -> None:
        for q in range(2 * n):
            one = random_clifford(1, seed=int(rng.integers(1 << 30)))
            qc.append(one.to_instruction(), [q])

    layer()
    for block in (0, n):
        for i in range(0, n - 1, 2):
            qc.cx(block + i, block + i + 1)
    layer()
    for block in (0, n):
        for i in range(1, n - 1, 2):
            qc.cz(block + i, block + i + 1)
    layer()
    for a, b in joins:
        qc.cx(a, b)
    layer()
    return qc.decompose()


def stabilizer_observables(qc: Any, qubits: Sequence[int], seed: int = 3) -> list[str]:
    """Pauli strings (Qiskit's order) whose values on the Clifford circuit ``qc``'s
    state are +-1 -- ``Z`` on each of ``qubits`` carried through ``qc``, signs dropped,
    and products of neighbours -- and a few random ones of weight 3 (most of them 0)."""
    import numpy as np
    from qiskit.quantum_info import Clifford, Pauli

    n = qc.num_qubits
    clifford = Clifford(qc)
    stabilizers = []
    for q in qubits:
        z = Pauli("I" * (n - 1 - q) + "Z" + "I" * q)
        stabilizers.append(z.evolve(clifford, frame="s"))
    products = [a.compose(b) for a, b in itertools.pairwise(stabilizers)]
    rng = np.random.default_rng(seed)
    random = []
    for _ in range(3):
        letters = ["I"] * n
        for q in rng.choice(n, 3, replace=False):
            letters[int(q)] = "XYZ"[int(rng.integers(3))]
        random.append("".join(letters))
    labels = [p.to_label().lstrip("-+i") for p in stabilizers + products[:2]]
    return labels + random


def driver_env() -> dict[str, str]:
    """The environment of a driver process joining this test session's Ray cluster."""
    import os

    import ray

    env = dict(os.environ)
    env.update(
        RAY_ADDRESS=ray.get_runtime_context().gcs_address,
        RAY_AUTH_MODE="token",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    return env


def done_in_journal(journal: Path) -> set[str]:
    """Ids of the tasks journaled DONE, read as another process would."""
    import sqlite3

    if not journal.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2) as db:
            rows = db.execute("SELECT task_id FROM tasks WHERE state = 'DONE'").fetchall()
    except sqlite3.Error:
        return set()
    return {r[0] for r in rows}

"""The circuit corpus of ``tests/corpus/circuits/`` (see ``generate.py`` and ``dynamic.py``).

``load_corpus()`` is shared by ``tests/corpus/test_corpus.py`` and the
benchmarks under ``bench/`` (import it as ``tests.corpus.corpus``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CIRCUITS = Path(__file__).resolve().parent / "circuits"

_SIZE = re.compile(r"^(?P<family>.+)_(?P<n>\d+)$")
_DYNAMIC_OPS = {"reset", "if_else", "while_loop", "for_loop", "switch_case"}


@dataclass(frozen=True)
class CorpusCircuit:
    """One circuit of the corpus.

    Attributes:
        name: the file's name without ``.qasm`` (``qft_8``, ``dyn_teleport``).
        family: the MQT Bench benchmark (``qft``), or ``dyn_<name>`` for ours.
        text: the OpenQASM text as stored (what a user would submit).
        qasm_version: 2 or 3.
        circuit: the text read by Qiskit's own importer (``qiskit.qasm2.loads``
            with the legacy custom instructions, as ``pilot.convert`` reads it,
            or ``qiskit.qasm3.loads``).
        is_dynamic: the circuit measures a qubit and then uses it again,
            resets, or branches on measured bits.
        needs: what of these it uses, in the words of
            ``pilot.selection.refusal_reasons`` (``"mid-circuit measurement"``,
            ``"reset"``, ``"classical control"``).
    """

    name: str
    family: str
    text: str
    qasm_version: int
    circuit: Any
    is_dynamic: bool
    needs: frozenset[str]

    @property
    def num_qubits(self) -> int:
        return int(self.circuit.num_qubits)

    @property
    def num_clbits(self) -> int:
        return int(self.circuit.num_clbits)


def dynamic_needs(qc: Any) -> frozenset[str]:
    """Which dynamic features ``qc`` uses (see :attr:`CorpusCircuit.needs`).

    A measured qubit acted on again (a gate, a reset, another measurement) is a
    mid-circuit measurement; a branch on measured bits needs classical control,
    and reads a bit measured before it: a mid-circuit measurement too.
    """
    needs: set[str] = set()
    measured: set[int] = set()  # measured, and not acted on since

    def walk(circuit: Any, qubit_index: list[int]) -> None:
        for inst in circuit.data:
            op = inst.operation
            qubits = [qubit_index[circuit.find_bit(q).index] for q in inst.qubits]
            if op.name in _DYNAMIC_OPS and op.name != "reset":
                needs.add("classical control")
                for block in op.blocks:
                    walk(block, [qubits[block.find_bit(q).index] for q in block.qubits])
                continue
            if op.name in ("barrier", "delay"):
                continue
            if measured.intersection(qubits):
                needs.add("mid-circuit measurement")
            if op.name == "reset":
                needs.add("reset")
            if op.name == "measure":
                measured.update(qubits)
            else:
                measured.difference_update(qubits)

    walk(qc, list(range(qc.num_qubits)))
    if "classical control" in needs:
        needs.add("mid-circuit measurement")
    return frozenset(needs)


def read_qasm(text: str) -> Any:
    """``text`` as a Qiskit circuit, by Qiskit's importers."""
    from qiskit import qasm2, qasm3

    if re.search(r"^\s*OPENQASM\s+2", text, re.M):
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    return qasm3.loads(text)


@functools.cache
def _load_all() -> tuple[CorpusCircuit, ...]:
    out = []
    for path in sorted(CIRCUITS.glob("*.qasm")):
        name = path.stem
        text = path.read_text()
        qc = read_qasm(text)
        qc.name = name
        needs = dynamic_needs(qc)
        if name.startswith("dyn_"):
            family = name.removesuffix("_qasm2")
        else:
            m = _SIZE.match(name)
            family = m.group("family") if m else name
        version = 2 if re.search(r"^\s*OPENQASM\s+2", text, re.M) else 3
        out.append(CorpusCircuit(name, family, text, version, qc, bool(needs), needs))
    return tuple(out)


def load_corpus() -> list[CorpusCircuit]:
    """Every circuit of the corpus, sorted by name (read once per process)."""
    return list(_load_all())

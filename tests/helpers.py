"""Small helpers shared by tests (import as ``tests.helpers``)."""

from __future__ import annotations

from typing import Any


def bell_qiskit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def within_binomial(count: int, shots: int, p: float, sigmas: float = 5.0) -> bool:
    """``count`` is within ``sigmas`` standard deviations of ``shots * p``."""
    sd = (shots * p * (1 - p)) ** 0.5
    return abs(count - shots * p) <= sigmas * max(sd, 1.0)

"""List prices and what a task would cost.

A :class:`Pricing` is one row of ``conf/pricing.toml``: a per-task fee plus a
per-shot fee (Braket QPUs), a per-minute rate (Braket managed simulators,
billed for at least ``minimum_seconds``), a per-second rate (IBM
pay-as-you-go, Rigetti on Azure Quantum, billed on quantum run time), or
per *gate-shot* (a gate times a shot, plus a per-job charge: IonQ, directly
or on Azure Quantum; Quantinuum's HQCs, whose formula also
counts state preparation and measurement per qubit and shot).  Local
simulators have no row and cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pricing:
    """A public list price, with where it came from and when."""

    per_task: float = 0.0
    per_shot: float = 0.0
    per_minute: float = 0.0
    per_second: float = 0.0
    minimum_seconds: float = 0.0
    #: Per one-qubit gate per shot, per two-qubit gate per shot, per qubit per shot.
    per_1q_gate_shot: float = 0.0
    per_2q_gate_shot: float = 0.0
    per_qubit_shot: float = 0.0
    currency: str = "USD"
    source: str = ""
    as_of: str = ""

    def cost(
        self,
        shots: int | None,
        run_seconds: float,
        *,
        one_qubit_gates: int = 0,
        two_qubit_gates: int = 0,
        qubits: int = 0,
    ) -> float:
        """Cost of one task of ``shots`` shots that keeps the device busy ``run_seconds``
        (and, for gate-shot prices, runs these gates on ``qubits`` qubits)."""
        billed = max(run_seconds, self.minimum_seconds)
        n = shots or 0
        return (
            self.per_task
            + self.per_shot * n
            + self.per_minute * billed / 60.0
            + self.per_second * billed
            + n * self.per_1q_gate_shot * one_qubit_gates
            + n * self.per_2q_gate_shot * two_qubit_gates
            + n * self.per_qubit_shot * qubits
        )


def estimate_cost(
    pricing: Pricing | None,
    shots: int | None,
    run_seconds: float,
    *,
    one_qubit_gates: int = 0,
    two_qubit_gates: int = 0,
    qubits: int = 0,
) -> float:
    """Estimated cost in the pricing's currency (0 for free resources)."""
    if pricing is None:
        return 0.0
    return pricing.cost(
        shots,
        run_seconds,
        one_qubit_gates=one_qubit_gates,
        two_qubit_gates=two_qubit_gates,
        qubits=qubits,
    )

"""List prices and what a task would cost.

A :class:`Pricing` is one row of ``conf/pricing.toml``: a per-task fee plus a
per-shot fee (Braket QPUs), a per-minute rate (Braket managed simulators,
billed for at least ``minimum_seconds``), a per-second rate (IBM
pay-as-you-go, billed on quantum run time), or prices per *gate-shot* (IonQ:
each one- and two-qubit gate times the shots, with a ``minimum_cost`` per
job).  Local simulators have no row and cost nothing.
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
    #: Per one-qubit / two-qubit gate and shot (IonQ's gate-shots).
    per_gate_shot_1q: float = 0.0
    per_gate_shot_2q: float = 0.0
    #: The least one task is billed (IonQ's minimum per job), 0: none.
    minimum_cost: float = 0.0
    currency: str = "USD"
    source: str = ""
    as_of: str = ""

    def cost(
        self, shots: int | None, run_seconds: float, gates_1q: int = 0, gates_2q: int = 0
    ) -> float:
        """Cost of one task of ``shots`` shots that keeps the device busy ``run_seconds``
        and runs ``gates_1q`` one-qubit and ``gates_2q`` two-qubit gates per shot."""
        billed = max(run_seconds, self.minimum_seconds)
        n = shots or 0
        total = (
            self.per_task
            + self.per_shot * n
            + self.per_minute * billed / 60.0
            + self.per_second * billed
            + (self.per_gate_shot_1q * gates_1q + self.per_gate_shot_2q * gates_2q) * n
        )
        return max(total, self.minimum_cost)


def estimate_cost(
    pricing: Pricing | None,
    shots: int | None,
    run_seconds: float,
    gates_1q: int = 0,
    gates_2q: int = 0,
) -> float:
    """Estimated cost in the pricing's currency (0 for free resources)."""
    return 0.0 if pricing is None else pricing.cost(shots, run_seconds, gates_1q, gates_2q)

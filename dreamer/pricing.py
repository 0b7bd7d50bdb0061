"""List prices and what a task would cost.

A :class:`Pricing` is one row of ``conf/pricing.toml``: a per-task fee plus a
per-shot fee (Braket QPUs), a per-minute rate (Braket managed simulators,
billed for at least ``minimum_seconds``), or a per-second rate (IBM
pay-as-you-go, billed on quantum run time).  Local simulators have no row and
cost nothing.
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
    currency: str = "USD"
    source: str = ""
    as_of: str = ""

    def cost(self, shots: int | None, run_seconds: float) -> float:
        """Cost of one task of ``shots`` shots that keeps the device busy ``run_seconds``."""
        billed = max(run_seconds, self.minimum_seconds)
        return (
            self.per_task
            + self.per_shot * (shots or 0)
            + self.per_minute * billed / 60.0
            + self.per_second * billed
        )


def estimate_cost(pricing: Pricing | None, shots: int | None, run_seconds: float) -> float:
    """Estimated cost in the pricing's currency (0 for free resources)."""
    return 0.0 if pricing is None else pricing.cost(shots, run_seconds)

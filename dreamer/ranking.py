"""Rank quantum resources for a task: estimated fidelity, expected completion, cost.

Each resource gets a score (higher is better)::

    score = w_f * ln(fidelity) - w_t * ln(1 + seconds / 60) - w_c * ln(1 + cost / 1 USD)

where ``fidelity`` is :mod:`dreamer.fidelity`'s estimate, ``seconds`` the
expected wait plus run time (:mod:`dreamer.timing`) and ``cost`` the list price
(:mod:`dreamer.pricing`).  The scales are fixed -- a minute, a dollar -- and
never normalised across the candidates, so one resource's numbers never move
another's score: raising a resource's queue, error rates or price can only
lower its own score and thus never improves its rank.

Objectives are weight presets (:data:`OBJECTIVES`); explicit weights may be
given instead.  Constraints (:class:`Constraints`) make a resource
infeasible, with the reason in words, as do the basic checks of
:func:`dreamer.feasibility.rejection_reasons`.

Order (deterministic): feasible before infeasible; then score, descending;
then estimated fidelity, descending; expected completion, ascending; cost,
ascending; and last the resource key (``pilot/name``), ascending.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dreamer.errors import NoFeasibleResourceError
from dreamer.feasibility import rejection_reasons
from dreamer.fidelity import FidelityModels
from dreamer.pricing import estimate_cost
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.timing import estimate_run_seconds, expected_wait_seconds, predicted_queue
from dreamer.workload import TaskRequirements, WorkloadProfile

#: Reference scales of the score: one minute of waiting costs as much as
#: ln 2 of fidelity at unit weights, and so does one dollar.
TIME_SCALE_SECONDS = 60.0
COST_SCALE = 1.0


@dataclass(frozen=True)
class Weights:
    """How much each term counts (all >= 0)."""

    fidelity: float = 1.0
    time: float = 0.1
    cost: float = 0.1

    def __post_init__(self) -> None:
        for name in ("fidelity", "time", "cost"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
                raise ValueError(f"weight {name!r} must be a number >= 0, got {value!r}")


#: Named objectives.  The leading term decides; the others, ten thousand times
#: weaker (a day of queue weighs less than 0.1% of fidelity), only break
#: near-ties.
OBJECTIVES: dict[str, Weights] = {
    "fidelity": Weights(fidelity=1.0, time=1e-4, cost=1e-4),
    "speed": Weights(fidelity=1e-4, time=1.0, cost=1e-4),
    "cost": Weights(fidelity=1e-4, time=1e-4, cost=1.0),
    "balanced": Weights(fidelity=1.0, time=0.1, cost=0.1),
}


def weights_for(objective: str | Weights | Mapping[str, float] | None = None) -> Weights:
    """Weights from an objective name, a ``Weights`` or a ``{"fidelity": ...}`` dict."""
    if objective is None:
        return OBJECTIVES["balanced"]
    if isinstance(objective, Weights):
        return objective
    if isinstance(objective, str):
        try:
            return OBJECTIVES[objective]
        except KeyError:
            raise ValueError(
                f"unknown objective {objective!r}; use one of {sorted(OBJECTIVES)} "
                "or weights like {'fidelity': 1, 'time': 0.5, 'cost': 0.1}"
            ) from None
    unknown = set(objective) - {"fidelity", "time", "cost"}
    if unknown:
        raise ValueError(f"unknown weight {sorted(unknown)[0]!r}; weights are fidelity, time, cost")
    return Weights(**{k: float(v) for k, v in objective.items()})


@dataclass(frozen=True)
class Constraints:
    """Limits that make a resource infeasible for a task."""

    max_cost: float | None = None
    min_fidelity: float | None = None
    deadline_seconds: float | None = None
    providers: frozenset[str] | None = None
    resources: frozenset[str] | None = None  # names or "pilot/name" keys

    def reasons(
        self, cap: ResourceCapabilities, fidelity: float, seconds: float, cost: float
    ) -> list[str]:
        out = []
        if self.providers is not None and cap.provider not in self.providers:
            out.append(f"provider {cap.provider!r} is not allowed ({sorted(self.providers)})")
        if self.resources is not None and not {cap.name, cap.key} & self.resources:
            out.append(f"resource is not allowed ({sorted(self.resources)})")
        if self.max_cost is not None and cost > self.max_cost:
            out.append(f"estimated cost {cost:.4f} exceeds max_cost {self.max_cost:.4f}")
        if self.min_fidelity is not None and fidelity < self.min_fidelity:
            out.append(
                f"estimated fidelity {fidelity:.3f} is below min_fidelity {self.min_fidelity}"
            )
        if self.deadline_seconds is not None and seconds > self.deadline_seconds:
            out.append(
                f"expected completion {seconds:.0f} s is after the deadline "
                f"({self.deadline_seconds:.0f} s)"
            )
        return out


_NO_CONSTRAINTS = Constraints()


@dataclass(frozen=True)
class RankedResource:
    """One resource judged for one task.

    ``resource.name`` is the backend's own name (``fake_lagos``) and
    ``resource.pilot`` the pilot holding it; ``breakdown`` holds the numbers
    behind ``score`` (``estimated_fidelity``, ``expected_wait_seconds``,
    ``estimated_run_seconds``, ``expected_completion_seconds``,
    ``estimated_cost``, ``currency``, ``queue_depth`` (predicted: the
    provider's ``provider_queue_depth`` plus ``ours_in_queue`` spread over the
    resource's servers), ``status_stale``, ``layout``, ``swaps``,
    ``fidelity_model``; placed under a fidelity budget, also
    ``max_fidelity_loss``, ``best_fidelity`` and ``fidelity_floor``).
    """

    resource: ResourceCapabilities
    score: float
    breakdown: Mapping[str, Any]
    feasible: bool
    reasons: tuple[str, ...] = ()
    status: ResourceStatus | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return self.resource.key

    def sort_key(self) -> tuple:
        b = self.breakdown
        return (
            not self.feasible,
            -self.score,
            -b["estimated_fidelity"],
            b["expected_completion_seconds"],
            b["estimated_cost"],
            self.resource.key,
        )


class Ranker:
    """Scores and orders resources for a task (pure; statuses are passed in)."""

    def __init__(
        self,
        objective: str | Weights | Mapping[str, float] | None = "balanced",
        constraints: Constraints | None = None,
        models: FidelityModels | None = None,
    ) -> None:
        self.weights = weights_for(objective)
        self.objective = objective if isinstance(objective, str) else "weights"
        self.constraints = constraints or Constraints()
        self.models = models or FidelityModels()
        self._memo: dict[tuple, tuple] = {}
        self._fast: dict[tuple[int, int, int], tuple] = {}

    def score(self, fidelity: float, seconds: float, cost: float) -> float:
        w = self.weights
        return (
            w.fidelity * math.log(max(fidelity, 1e-12))
            - w.time * math.log1p(max(seconds, 0.0) / TIME_SCALE_SECONDS)
            - w.cost * math.log1p(max(cost, 0.0) / COST_SCALE)
        )

    def _static(
        self, req: TaskRequirements, profile: WorkloadProfile, cap: ResourceCapabilities
    ) -> tuple:
        """What does not depend on status: estimate, run time, cost, static reasons.

        Memoised per (resource, workload, requirements): capabilities and
        profiles are immutable, so a repeated ranking only redoes the parts
        that depend on queues.
        """
        # By identity first: placing a burst judges the same objects over and over.
        fast = self._fast.get((id(cap), id(profile), id(req)))
        if fast is not None and fast[0] is cap and fast[1] is profile and fast[2] is req:
            return fast[3]
        key = (id(cap), profile.signature(), req)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is cap:
            self._remember(cap, profile, req, hit[1])
            return hit[1]
        reasons = rejection_reasons(req, cap, None, profile.gates if profile.known else None)
        est = self.models.estimate(cap, profile) if profile.num_qubits <= cap.num_qubits else None
        run = estimate_run_seconds(profile, cap)
        cost = estimate_cost(
            cap.pricing,
            profile.shots,
            run,
            one_qubit_gates=profile.one_qubit_gates,
            two_qubit_gates=profile.two_qubit_gates,
            qubits=profile.num_qubits,
        )
        value = (tuple(reasons), est, run, cost)
        if len(self._memo) > 50_000:
            self._memo.clear()
        self._memo[key] = (cap, value)
        self._remember(cap, profile, req, value)
        return value

    def _remember(
        self,
        cap: ResourceCapabilities,
        profile: WorkloadProfile,
        req: TaskRequirements,
        value: tuple,
    ) -> None:
        if len(self._fast) > 1024:
            self._fast.clear()
        self._fast[(id(cap), id(profile), id(req))] = (cap, profile, req, value)

    def judge(
        self,
        req: TaskRequirements,
        profile: WorkloadProfile,
        cap: ResourceCapabilities,
        status: ResourceStatus | None,
    ) -> RankedResource:
        static_reasons, est, run, cost = self._static(req, profile, cap)
        reasons = list(static_reasons)
        if status is not None and not status.online:
            reasons.append(f"offline{': ' + status.message if status.message else ''}")
        fidelity = est.fidelity if est is not None else 0.0
        wait = expected_wait_seconds(status, run)
        if self.constraints != _NO_CONSTRAINTS:
            reasons += self.constraints.reasons(cap, fidelity, wait + run, cost)
        breakdown = {
            "estimated_fidelity": fidelity,
            "expected_wait_seconds": wait,
            "estimated_run_seconds": run,
            "expected_completion_seconds": wait + run,
            "estimated_cost": cost,
            "currency": cap.pricing.currency if cap.pricing else "USD",
            # Jobs ahead: the provider's figure plus our own tasks it does not hold yet.
            "queue_depth": int(predicted_queue(status)),
            "provider_queue_depth": status.queue_depth + status.priority_queue_depth
            if status
            else 0,
            "ours_in_queue": status.ours if status else 0,
            "queue_is_lower_bound": bool(status and status.queue_is_lower_bound),
            "status_stale": bool(status and status.stale),
            "layout": est.layout if est is not None else (),
            "swaps": est.swaps if est is not None else 0,
            "fidelity_model": est.model if est is not None else "n/a",
        }
        return RankedResource(
            cap,
            self.score(fidelity, wait + run, cost),
            breakdown,
            not reasons,
            tuple(reasons),
            status,
        )

    def rank(
        self,
        req: TaskRequirements,
        profile: WorkloadProfile,
        resources: Sequence[ResourceCapabilities],
        statuses: Mapping[str, ResourceStatus] | None = None,
    ) -> list[RankedResource]:
        """Every resource, best first (see the module docstring for the order)."""
        statuses = statuses or {}
        judged = [self.judge(req, profile, cap, statuses.get(cap.key)) for cap in resources]
        return sorted(judged, key=RankedResource.sort_key)

    def select(
        self,
        req: TaskRequirements,
        profile: WorkloadProfile,
        resources: Sequence[ResourceCapabilities],
        statuses: Mapping[str, ResourceStatus] | None = None,
    ) -> RankedResource:
        """The best feasible resource, or ``NoFeasibleResourceError`` with every reason."""
        ranked = self.rank(req, profile, resources, statuses)
        if ranked and ranked[0].feasible:
            return ranked[0]
        raise NoFeasibleResourceError(req.name, {r.key: r.reasons for r in ranked})

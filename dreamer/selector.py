"""Choose a resource for a task.

:func:`first_feasible` is the rule used when QDREAMER ranking is not asked
for: resources are tried in the order pilots were created (and, within a
pilot, the order its backend reports them); the first one that can run the
task wins.  When none can, :class:`~dreamer.errors.NoFeasibleResourceError`
lists every candidate with its reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dreamer.errors import NoFeasibleResourceError
from dreamer.feasibility import rejection_reasons
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements


@dataclass(frozen=True)
class Candidate:
    """One resource judged for one task."""

    resource: ResourceCapabilities
    feasible: bool
    reasons: tuple[str, ...] = ()


def judge(
    req: TaskRequirements,
    resources: Sequence[ResourceCapabilities],
    statuses: Mapping[str, ResourceStatus] | None = None,
) -> list[Candidate]:
    """Judge every resource, keeping the given order."""
    statuses = statuses or {}
    out = []
    for cap in resources:
        reasons = rejection_reasons(req, cap, statuses.get(cap.key))
        out.append(Candidate(cap, not reasons, tuple(reasons)))
    return out


def first_feasible(
    req: TaskRequirements,
    resources: Sequence[ResourceCapabilities],
    statuses: Mapping[str, ResourceStatus] | None = None,
) -> Candidate:
    """Return the first feasible candidate or raise ``NoFeasibleResourceError``."""
    candidates = judge(req, resources, statuses)
    for cand in candidates:
        if cand.feasible:
            return cand
    raise NoFeasibleResourceError(req.name, {c.resource.key: c.reasons for c in candidates})

"""Failover: where a task goes when its resource is unavailable, decided one way.

QDREAMER ranks the alternatives when the task is submitted and the spec carries
them (``TaskSpec.fallbacks``).  A pilot actor whose backend reports the resource
unavailable forwards the task to the next one itself (:class:`~pilot.pilots.actor.PilotActor`);
when it cannot (all its forward slots wait), the driver's supervisor moves it.
Both ask :func:`moves_on` and build the moved spec with :func:`failed_over`, so the
task's path, recorded in ``result.selection["failover"]``, is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pilot.backends.errors import is_unavailable
from pilot.tasks import TaskSpec


def moves_on(spec: TaskSpec, exc: BaseException) -> bool:
    """Does ``exc`` send ``spec`` to its next fallback (its resource is unavailable now,
    and it has one)?  Errors in the task itself never move it."""
    return bool(spec.fallbacks) and is_unavailable(exc)


def failed_over(spec: TaskSpec, exc: BaseException) -> TaskSpec:
    """``spec`` moved to its next fallback, the move recorded in ``selection["failover"]``."""
    nxt, *rest = spec.fallbacks
    selection = dict(spec.selection or {})
    path = [
        *selection.get("failover", []),
        {
            "pilot": spec.pilot,
            "resource": spec.resource,
            "error": f"{type(exc).__name__}: {exc}"[:500],
        },
    ]
    selection.update(nxt.selection or {})
    selection["failover"] = path
    return replace(
        spec,
        pilot=nxt.pilot,
        resource=nxt.resource,
        layout=nxt.layout,
        fallbacks=tuple(rest),
        selection=selection,
        attach_jobs=(),
        args=(),
        kwargs={},
    )


@dataclass(frozen=True)
class Fallback:
    """Where a task goes if its resource is unavailable: the next-ranked choice.

    Its pilot's actors are named (``pilot-<name>[-i]``), not held: a handle carried
    in every spec would cost a serialisation per task and outlive its actor."""

    actors: tuple[str, ...]
    pilot: str
    resource: str
    layout: tuple[int, ...] | None
    selection: dict[str, Any] | None

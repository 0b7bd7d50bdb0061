"""Read-only views for the command line: a QDREAMER ranking as rows, a cluster's pilots.

Nothing here changes a service or a cluster.  :func:`ranking_rows` turns
:meth:`QDreamer.rank <pilot.selection.QDreamer.rank>`'s answer into plain,
JSON-ready dicts.  :func:`cluster_pilots` finds the pilots of *every*
service connected to the Ray cluster this process is connected to, from
what Ray itself knows:

* each pilot reserves a placement group named ``pilot-<name>``
  (:mod:`pilot.launchers.local`);
* a quantum pilot's backend actors are named ``pilot-<name>`` (one actor) or
  ``pilot-<name>-<i>`` (several), in the namespace of the driver that made
  them (:mod:`pilot.pilots.pilot`); asked ``describe()``, they name their executor
  and devices.

Actors are listed with Ray's state API when the cluster runs a dashboard
(``ray[default]``), which gives their placement group and state; otherwise
with :func:`ray.util.list_named_actors`, matched to placement groups by name.
A pilot whose placement group is granted but which holds no actor is
classical (or a quantum pilot still starting its actors).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.state import list_actors

from dreamer.ranking import RankedResource
from pilot.states import PilotState

logger = logging.getLogger(__name__)

#: Prefix of the names of pilot placement groups and backend actors.
PILOT_PREFIX = "pilot-"

#: Placement-group states (``ray.util.placement_group_table``) as pilot states.
PG_STATES = {
    "PENDING": PilotState.PENDING,
    "RESCHEDULING": PilotState.PENDING,
    "CREATED": PilotState.RUNNING,
    "REMOVED": PilotState.CANCELED,
}

#: Actor states (Ray's state API) that mean "not up yet".
_ACTOR_STARTING = {"DEPENDENCIES_UNREADY", "PENDING_CREATION", "RESTARTING"}


# ---------------------------------------------------------------- rankings
def ranking_rows(ranked: Sequence[RankedResource]) -> list[dict[str, Any]]:
    """One JSON-ready dict per resource, in ranking order.

    ``rank`` counts feasible resources only (1 is QDREAMER's choice) and is
    ``None`` for infeasible ones, whose ``reasons`` say why.
    """
    rows = []
    place = 0
    for r in ranked:
        b = r.breakdown
        if r.feasible:
            place += 1
        cap = r.resource
        rows.append(
            {
                "rank": place if r.feasible else None,
                "resource": cap.name,
                "pilot": cap.pilot,
                "executor": cap.executor,
                "provider": cap.provider,
                "qubits": cap.num_qubits,
                "simulator": cap.simulator,
                "feasible": r.feasible,
                "reasons": list(r.reasons),
                "score": r.score,
                "estimated_fidelity": b["estimated_fidelity"],
                "fidelity_model": b["fidelity_model"],
                "queue_depth": b["queue_depth"],
                "queue_is_lower_bound": b["queue_is_lower_bound"],
                "status_stale": b["status_stale"],
                "expected_wait_seconds": b["expected_wait_seconds"],
                "estimated_run_seconds": b["estimated_run_seconds"],
                "expected_completion_seconds": b["expected_completion_seconds"],
                "estimated_cost": b["estimated_cost"],
                "currency": b["currency"],
                "priced": cap.pricing is not None,
                "layout": list(b["layout"]),
                "swaps": b["swaps"],
            }
        )
    return rows


# ---------------------------------------------------------------- cluster pilots
@dataclass
class ActorInfo:
    """A pilot backend actor as Ray lists it."""

    name: str
    namespace: str
    state: str = "ALIVE"  # Ray's actor state; "ALIVE" when only its name is known
    placement_group: str | None = None
    pid: int | None = None


@dataclass
class ClusterPilot:
    """A pilot found on the cluster (see the module docstring for how).

    ``state`` uses :class:`~pilot.states.PilotState` names; ``ray_state``
    keeps what Ray said (the placement group's and each actor's state).
    ``executor`` and ``devices`` come from the backend actors and are
    ``None``/empty for classical pilots or when an actor did not answer.
    """

    name: str
    kind: str  # "quantum", "classical", or "unknown" (pending, no actor yet)
    state: str
    cpus: float = 0.0
    gpus: float = 0.0
    bundles: int = 0
    executor: str | None = None
    devices: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    namespace: str | None = None
    placement_group: str | None = None
    ray_state: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> str:
        """What the pilot holds of the cluster, in words (as ``Pilot.holding``)."""
        if self.kind == "quantum" and not self.bundles:
            return "shares the node"
        held = ", ".join(f"{v:g} {k}" for k, v in (("CPU", self.cpus), ("GPU", self.gpus)) if v)
        return held or "-"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "holds": self.holds,
            "resources": {"CPU": self.cpus, "GPU": self.gpus, "bundles": self.bundles},
            "executor": self.executor,
            "devices": list(self.devices),
            "actors": list(self.actors),
            "namespace": self.namespace,
            "placement_group": self.placement_group,
            "ray_state": dict(self.ray_state),
        }


def _pilot_actors(state_api_timeout: float) -> tuple[list[ActorInfo], str]:
    """Named ``pilot-*`` actors that are not dead, and which API listed them."""
    try:
        listed = list_actors(
            filters=[("state", "!=", "DEAD")],
            limit=10_000,  # the API server's maximum
            detail=True,  # for placement_group_id
            timeout=max(1, int(state_api_timeout)),
            raise_on_missing_output=False,
        )
    except Exception as exc:  # no dashboard (or no ray[default]): names are enough
        logger.debug("state API unavailable (%s); listing named actors", exc)
    else:
        out = []
        for a in listed:
            name = _field(a, "name") or ""
            if name.startswith(PILOT_PREFIX):
                out.append(
                    ActorInfo(
                        name=name,
                        namespace=_field(a, "ray_namespace") or "",
                        state=str(_field(a, "state") or "ALIVE"),
                        placement_group=_field(a, "placement_group_id") or None,
                        pid=_field(a, "pid") or None,
                    )
                )
        return out, "state"
    named = ray.util.list_named_actors(all_namespaces=True)
    return [
        ActorInfo(name=str(e["name"]), namespace=str(e["namespace"]))
        for e in named
        if isinstance(e, dict) and str(e.get("name", "")).startswith(PILOT_PREFIX)
    ], "names"


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _owner(actor: ActorInfo, groups: dict[str, dict[str, Any]], held: dict[str, int]) -> str | None:
    """The placement group (id) of ``actor``: from Ray, else by name.

    By name, live groups come first, and a group already holding as many
    actors as it has bundles is skipped (two services may each have a pilot
    of the same name).
    """
    if actor.placement_group and actor.placement_group in groups:
        return actor.placement_group

    def free(pg_id: str) -> bool:
        return held.get(pg_id, 0) < max(1, len(groups[pg_id].get("bundles") or {}))

    live = [i for i, pg in groups.items() if pg.get("state") != "REMOVED"]
    ordered = [i for i in live if free(i)] + live + [i for i in groups if i not in live]
    for pg_id in ordered:
        if groups[pg_id].get("name") == actor.name:
            return pg_id
    for pg_id in ordered:
        if re.fullmatch(re.escape(str(groups[pg_id].get("name"))) + r"-\d+", actor.name):
            return pg_id
    return None


def _describe(actors: Sequence[ActorInfo], timeout: float) -> dict[tuple[str, str], dict[str, Any]]:
    """``describe()`` of each actor that answers within ``timeout``, by (namespace, name)."""
    pending: dict[Any, tuple[str, str]] = {}
    for a in actors:
        if a.state != "ALIVE":
            continue
        try:
            handle = ray.get_actor(a.name, namespace=a.namespace)
            pending[handle.describe.remote()] = (a.namespace, a.name)
        except Exception as exc:
            logger.debug("actor %s: %s", a.name, exc)
    if not pending:
        return {}
    ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout)
    out = {}
    for ref in ready:
        try:
            out[pending[ref]] = ray.get(ref)
        except Exception as exc:  # the backend failed to start: describe() raises its error
            logger.debug("actor %s: describe failed: %s", pending[ref], exc)
    return out


def cluster_pilots(
    *, include_removed: bool = False, describe_timeout: float = 5.0
) -> list[ClusterPilot]:
    """Every pilot on the connected Ray cluster, by name (``ray.init`` must have run).

    Removed placement groups (cancelled pilots, which Ray lists for a while)
    are left out unless ``include_removed``.
    """
    groups = {
        pg_id: pg
        for pg_id, pg in ray.util.placement_group_table().items()
        if str(pg.get("name") or "").startswith(PILOT_PREFIX)
    }
    actors, source = _pilot_actors(describe_timeout)
    logger.debug("%d pilot actors listed by %s", len(actors), source)
    described = _describe(actors, describe_timeout)

    pilots: dict[str, ClusterPilot] = {}
    for pg_id, pg in groups.items():
        bundles = list((pg.get("bundles") or {}).values())
        ray_pg_state = str(pg.get("state", ""))
        pilots[pg_id] = ClusterPilot(
            name=str(pg["name"])[len(PILOT_PREFIX) :],
            kind="classical" if ray_pg_state == "CREATED" else "unknown",
            state=str(PG_STATES.get(ray_pg_state, ray_pg_state)),
            cpus=sum(float(b.get("CPU", 0)) for b in bundles),
            gpus=sum(float(b.get("GPU", 0)) for b in bundles),
            bundles=len(bundles),
            placement_group=pg_id,
            ray_state={"placement_group": ray_pg_state},
        )
    held: dict[str, int] = {}
    for actor in sorted(actors, key=lambda a: (a.namespace, a.name)):
        pg_id = _owner(actor, groups, held)
        info = described.get((actor.namespace, actor.name))
        if pg_id is None:
            # A pilot that reserves nothing (it shares its node): its actors say which
            # pilot they belong to; one that does not answer is all we know of its pilot.
            name = str(info["pilot"]) if info and info.get("pilot") else None
            pg_id = f"shared:{actor.namespace}/{name or actor.name}"
            if pg_id not in pilots:
                pilots[pg_id] = ClusterPilot(
                    name=name or actor.name[len(PILOT_PREFIX) :], kind="quantum", state=""
                )
        held[pg_id] = held.get(pg_id, 0) + 1
        p = pilots[pg_id]
        p.kind = "quantum"
        p.actors.append(actor.name)
        p.namespace = actor.namespace
        p.ray_state.setdefault("actors", {})[actor.name] = actor.state
        if info is not None:
            caps = info.get("resources") or []
            if caps:
                p.executor = str(caps[0].executor)
            for cap in caps:
                if cap.name not in p.devices:
                    p.devices.append(str(cap.name))
    for p in pilots.values():
        actor_states = set((p.ray_state.get("actors") or {}).values())
        if p.kind == "quantum" and p.state in ("", PilotState.RUNNING):
            if actor_states & _ACTOR_STARTING or (p.bundles and len(p.actors) < p.bundles):
                p.state = str(PilotState.STARTING)
            else:
                p.state = str(PilotState.RUNNING)
    found = [p for p in pilots.values() if include_removed or p.state != PilotState.CANCELED]
    return sorted(found, key=lambda p: (p.state == PilotState.CANCELED, p.name, p.namespace or ""))


__all__ = ["PG_STATES", "PILOT_PREFIX", "ClusterPilot", "cluster_pilots", "ranking_rows"]

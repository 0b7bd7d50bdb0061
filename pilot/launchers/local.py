"""``resource: "local"``: capacity on the connected cluster.

A pilot with a hard reservation (``cores_per_node`` / ``gpus_per_node``, or a
classical pilot) holds it as a placement group named ``pilot-<name>``.  A
quantum pilot that reserves nothing (the default: see
:meth:`pilot.config.PilotDescription.reserved`) gets no placement group; its
actors share the node.

A reservation that no node could ever hold is refused at once.  One that waits
for capacity other pilots or tasks hold says so at once -- a
:class:`~pilot.errors.PilotWaitWarning` naming what is asked, what the cluster
has and which pilots hold what (and a status line in a terminal) -- and names
them again if the wait times out.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.util import placement_group_table
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
from rich.console import Console
from rich.markup import escape

from pilot.errors import PilotStartError, PilotWaitWarning
from pilot.launchers.base import Allocation, Launcher
from pilot.observe.progress import interactive
from pilot.states import PilotState

if TYPE_CHECKING:
    from pilot.config import PilotDescription

logger = logging.getLogger(__name__)

#: Seconds a placement group may take before the wait is reported (a free
#: reservation is granted in a few milliseconds).
GRANT_SECONDS = 1.0
#: Prefix of the placement groups that hold pilots (``pilot-<name>``).
PG_PREFIX = "pilot-"


def _fmt(resources: dict[str, float]) -> str:
    """``"1 CPU, 1 GPU"``; ``"no CPU"`` when there is nothing."""
    parts = [f"{v:g} {k}" for k, v in sorted(resources.items()) if k in ("CPU", "GPU") and v]
    return ", ".join(parts) or "no CPU"


def holders(exclude: str | None = None) -> list[tuple[str, dict[str, float]]]:
    """Pilots (of any driver) holding a placement group on the cluster, with what they
    hold: ``[(pilot name, {"CPU": n, "GPU": g})]`` (not the pilot ``exclude``)."""
    out: list[tuple[str, dict[str, float]]] = []
    for entry in placement_group_table().values():
        name = str(entry.get("name") or "")
        if entry.get("state") != "CREATED" or (exclude and name == f"{PG_PREFIX}{exclude}"):
            continue
        held: dict[str, float] = {}
        for bundle in (entry.get("bundles") or {}).values():
            for key, value in bundle.items():
                if key in ("CPU", "GPU"):
                    held[key] = held.get(key, 0.0) + float(value)
        label = name.removeprefix(PG_PREFIX) if name.startswith(PG_PREFIX) else name or "?"
        out.append((label if name.startswith(PG_PREFIX) else f"(placement group {label})", held))
    return sorted(out)


def capacity_report(asked: dict[str, float], exclude: str | None = None) -> str:
    """What is asked, what the cluster has and who holds it (pilots other than
    ``exclude``, then everything else), in one sentence."""
    total = ray.cluster_resources()
    free = ray.available_resources()
    held = holders(exclude)
    in_pilots: dict[str, float] = {}
    for _name, h in held:
        for key, value in h.items():
            in_pilots[key] = in_pilots.get(key, 0.0) + value
    keys = [k for k in ("CPU", "GPU") if asked.get(k)] or ["CPU"]
    others = {
        k: max(0.0, total.get(k, 0.0) - free.get(k, 0.0) - in_pilots.get(k, 0.0)) for k in keys
    }
    pilots = "; ".join(f"pilot {name!r} holds {_fmt(h)}" for name, h in held if h) or (
        "no pilot holds any"
    )
    return (
        f"it asks for {_fmt(asked)}; the Ray cluster has {_fmt({k: total.get(k, 0) for k in keys})}"
        f" with {_fmt({k: free.get(k, 0) for k in keys})} free; {pilots}; other tasks and "
        f"actors hold {_fmt(others)}"
    )


#: This package's folder: frames in it are ours, not the program's.
_PACKAGE = str(Path(__file__).resolve().parents[1]) + "/"


def _callers_level() -> int:
    """``stacklevel`` for a warning about the program's own call (``create_pilot``): the
    first frame outside this package, however many of ours lie between."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


class LocalLauncher(Launcher):
    def start(
        self, name: str, description: PilotDescription, bundles: list[dict[str, float]]
    ) -> Allocation:
        info: dict[str, Any] = {
            "launcher": "local",
            "ray_address": ray.get_runtime_context().gcs_address,
        }
        if not bundles:  # nothing reserved: the actors share the node
            logger.info("pilot %s: reserves nothing (shares the node)", name)
            return Allocation(pilot=name, bundles=[], state=PilotState.PENDING, info=info)

        self._check_possible(name, bundles)
        strategy = "PACK" if len(bundles) == 1 else "SPREAD"
        pg = placement_group(bundles, strategy=strategy, name=f"{PG_PREFIX}{name}")
        logger.info("pilot %s: placement group %s requested (%s)", name, pg.id.hex(), bundles)
        info["placement_group"] = pg.id.hex()
        return Allocation(
            pilot=name, bundles=bundles, handle=pg, state=PilotState.PENDING, info=info
        )

    @staticmethod
    def _check_possible(name: str, bundles: list[dict[str, float]]) -> None:
        """Fail at once when no node of the cluster could ever hold a bundle."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        total = ray.cluster_resources()
        for bundle in bundles:
            if not any(all(node.get(k, 0) >= v for k, v in bundle.items()) for node in nodes):
                biggest: dict[str, float] = max(nodes, key=lambda n: n.get("CPU", 0), default={})
                raise PilotStartError(
                    f"pilot {name!r} asks for {_fmt(bundle)} per node, but no node of the Ray "
                    f"cluster has that much (largest node: {_fmt(biggest)}; "
                    f"cluster: {_fmt(total)}). "
                    "Lower cores_per_node/gpus_per_node, or add nodes."
                )
        need: dict[str, float] = {}
        for bundle in bundles:
            for k, v in bundle.items():
                need[k] = need.get(k, 0) + v
        for k, v in need.items():
            if v > total.get(k, 0) + 1e-9:
                raise PilotStartError(
                    f"pilot {name!r} asks for {v:g} {k} in all, but the Ray cluster has "
                    f"{total.get(k, 0):g}. Lower number_of_nodes or cores_per_node."
                )

    def wait(self, allocation: Allocation, timeout: float) -> None:
        allocation.state = PilotState.STARTING
        pg = allocation.handle
        if pg is None:
            allocation.state = PilotState.RUNNING
            return
        if pg.wait(timeout_seconds=min(GRANT_SECONDS, timeout)) or not self._blocked(allocation):
            granted = pg.wait(timeout_seconds=timeout)  # free capacity: only slow to grant
        else:
            granted = self._wait_blocked(allocation, timeout)
        if not granted:
            report = capacity_report(allocation.totals, exclude=allocation.pilot)
            self.cancel(allocation)
            allocation.state = PilotState.FAILED
            raise PilotStartError(
                f"pilot {allocation.pilot!r} could not reserve {_fmt(allocation.totals)} within "
                f"{timeout:g} s: {report}. Cancel a pilot, ask for less, or leave "
                "cores_per_node/gpus_per_node out so that a quantum pilot shares the node."
            )
        allocation.state = PilotState.RUNNING

    @staticmethod
    def _blocked(allocation: Allocation) -> bool:
        """The cluster has less free than the reservation asks (others hold it)."""
        free = ray.available_resources()
        blocked = any(free.get(k, 0.0) + 1e-9 < v for k, v in allocation.totals.items())
        return blocked and not allocation.handle.wait(timeout_seconds=0)

    def _wait_blocked(self, allocation: Allocation, timeout: float) -> bool:
        """Wait for a reservation others' capacity blocks, saying so at once."""
        pg = allocation.handle
        report = capacity_report(allocation.totals, exclude=allocation.pilot)
        message = (
            f"pilot {allocation.pilot!r} waits for its reservation: {report}. It waits up to "
            f"{timeout:g} s (start_timeout_seconds); to start it at once, cancel a pilot, or "
            "leave cores_per_node/gpus_per_node out so that a quantum pilot shares the node."
        )
        logger.warning("%s", message)
        warnings.warn(message, PilotWaitWarning, stacklevel=_callers_level())
        with self._status(f"pilot {allocation.pilot!r} waiting: {report}"):
            return bool(pg.wait(timeout_seconds=max(0.0, timeout - GRANT_SECONDS)))

    @staticmethod
    def _status(text: str) -> Any:
        """A status line on standard error while waiting, in a terminal or notebook."""
        if not interactive():
            return nullcontext()

        return Console(stderr=True).status(escape(text))

    def actor_options(self, allocation: Allocation, index: int) -> dict[str, Any]:
        if allocation.handle is None:
            return {}

        return {
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                allocation.handle, placement_group_bundle_index=index
            )
        }

    def task_options(self, allocation: Allocation) -> dict[str, Any]:
        if allocation.handle is None:
            return {}

        return {
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                allocation.handle, placement_group_capture_child_tasks=True
            )
        }

    def cancel(self, allocation: Allocation) -> None:
        if allocation.handle is not None and allocation.state is not PilotState.CANCELED:
            try:
                remove_placement_group(allocation.handle)
            except Exception as exc:  # already gone (cluster shut down)
                logger.debug("pilot %s: placement group removal: %s", allocation.pilot, exc)
        allocation.state = PilotState.CANCELED

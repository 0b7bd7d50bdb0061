"""``resource: "local"``: capacity reserved as a placement group on the connected cluster."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pilot.errors import PilotStartError
from pilot.launchers.base import Allocation, Launcher
from pilot.states import PilotState

if TYPE_CHECKING:
    from pilot.config import PilotDescription

logger = logging.getLogger(__name__)


def _fmt(resources: dict[str, float]) -> str:
    return (
        ", ".join(f"{v:g} {k}" for k, v in sorted(resources.items()) if k in ("CPU", "GPU"))
        or "nothing"
    )


class LocalLauncher(Launcher):
    def start(
        self, name: str, description: PilotDescription, bundles: list[dict[str, float]]
    ) -> Allocation:
        import ray
        from ray.util.placement_group import placement_group

        self._check_possible(name, bundles)
        strategy = "PACK" if len(bundles) == 1 else "SPREAD"
        pg = placement_group(bundles, strategy=strategy, name=f"pilot-{name}")
        logger.info("pilot %s: placement group %s requested (%s)", name, pg.id.hex(), bundles)
        return Allocation(
            pilot=name,
            bundles=bundles,
            handle=pg,
            state=PilotState.PENDING,
            info={
                "placement_group": pg.id.hex(),
                "launcher": "local",
                "ray_address": ray.get_runtime_context().gcs_address,
            },
        )

    @staticmethod
    def _check_possible(name: str, bundles: list[dict[str, float]]) -> None:
        """Fail at once when no node of the cluster could ever hold a bundle."""
        import ray

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
        import ray

        allocation.state = PilotState.STARTING
        if not allocation.handle.wait(timeout_seconds=timeout):
            free = ray.available_resources()
            self.cancel(allocation)
            allocation.state = PilotState.FAILED
            raise PilotStartError(
                f"pilot {allocation.pilot!r} could not reserve {_fmt(allocation.totals)} within "
                f"{timeout:g} s: only {_fmt(free)} are free on the Ray cluster (other pilots or "
                "tasks hold the rest). Cancel a pilot, or ask for less."
            )
        allocation.state = PilotState.RUNNING

    def actor_options(self, allocation: Allocation, index: int) -> dict[str, Any]:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        return {
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                allocation.handle, placement_group_bundle_index=index
            )
        }

    def task_options(self, allocation: Allocation) -> dict[str, Any]:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        return {
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                allocation.handle, placement_group_capture_child_tasks=True
            )
        }

    def cancel(self, allocation: Allocation) -> None:
        from ray.util.placement_group import remove_placement_group

        if allocation.handle is not None and allocation.state is not PilotState.CANCELED:
            try:
                remove_placement_group(allocation.handle)
            except Exception as exc:  # already gone (cluster shut down)
                logger.debug("pilot %s: placement group removal: %s", allocation.pilot, exc)
        allocation.state = PilotState.CANCELED

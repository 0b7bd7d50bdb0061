"""QDREAMER for a service: which quantum resource runs a task, and why.

Before ``pcs.initialize_dreamer()`` placement is first-fit: a task runs on the
pilot/resource it names, else on the first resource (in pilot creation
order) that can run it.  Afterwards every resource of every running quantum
pilot is ranked by :class:`dreamer.ranking.Ranker` -- estimated fidelity from
calibration data, expected completion from queue and run time, and cost --
and the best feasible one wins.  Pilots created with ``dreamer_enabled:
False`` only run tasks that name them.

Status comes from two places, and neither blocks a submission:

* remote resources (IBM Runtime, Braket cloud devices) from the
  :class:`~dreamer.cache.StatusCache`, kept fresh by a
  :class:`~dreamer.monitor.StatusMonitor` that calls each pilot actor's
  ``status()`` in the background (a miss only asks for a refresh);
* local simulators from the tasks in flight on their pilot, counted here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ray

from dreamer import Candidate, ResourceCapabilities, first_feasible
from dreamer.cache import StatusCache
from dreamer.errors import NoFeasibleResourceError as _DreamerNoFeasible
from dreamer.feasibility import rejection_reasons
from dreamer.monitor import StatusMonitor
from dreamer.ranking import Constraints, RankedResource, Ranker, Weights
from dreamer.resource import ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile
from pilot.backends.registry import resolve_executor
from pilot.config import dreamer_defaults
from pilot.convert.workload import profile_loaded
from pilot.errors import ConfigError, NoFeasibleResourceError
from pilot.observe import metrics
from pilot.pilots.actor import PilotActor
from pilot.states import PilotState

if TYPE_CHECKING:
    from pilot.convert.portable import LoadedCircuit
    from pilot.pilots.pilot import QuantumPilot
    from pilot.tasks import QuantumTask

logger = logging.getLogger(__name__)

#: Seconds between prunes of the in-flight lists of local pilots.
_PRUNE_SECONDS = 0.2


class QDreamer:
    """Resource selection over a service's quantum pilots (``pcs.qdreamer``).

    ``rank(task)`` lists every resource with its score, the numbers behind it
    and, if it cannot run the task, why; ``select(task)`` returns the chosen
    one; ``estimate_cost(task)`` prices a task before it runs.
    """

    def __init__(self, pilots: Mapping[str, QuantumPilot]) -> None:
        conf = dreamer_defaults()
        self._pilots = pilots
        self.enabled = False
        self.ranker = Ranker(conf["objective"])
        self.status_timeout = float(conf["status_timeout_seconds"])
        self.failover_attempts = int(conf["failover_attempts"])
        self.cache = StatusCache(float(conf["cache_ttl_seconds"]))
        self.monitor = StatusMonitor(
            self.cache,
            self._providers,
            float(conf["monitor_interval_seconds"]),
            timeout_seconds=self.status_timeout,
        )
        self._inflight: dict[str, deque[Any]] = {}
        self._pruned_at: dict[str, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ configuration
    def configure(
        self,
        objective: str | None = None,
        weights: Mapping[str, float] | Weights | None = None,
        cache_ttl_seconds: float | None = None,
        monitor_interval_seconds: float | None = None,
        max_cost_per_task: float | None = None,
        min_fidelity: float | None = None,
        deadline_seconds: float | None = None,
        providers: Sequence[str] | None = None,
        resources: Sequence[str] | None = None,
        failover_attempts: int | None = None,
    ) -> None:
        conf = dreamer_defaults()
        try:
            self.ranker = Ranker(
                weights if weights is not None else (objective or conf["objective"]),
                Constraints(
                    max_cost=max_cost_per_task,
                    min_fidelity=min_fidelity,
                    deadline_seconds=deadline_seconds,
                    providers=frozenset(providers) if providers is not None else None,
                    resources=frozenset(resources) if resources is not None else None,
                ),
                models=self.ranker.models,
            )
        except ValueError as exc:
            key = "weights" if weights is not None else "objective"
            raise ConfigError(str(exc), key=key) from None
        for name, value in (
            ("max_cost_per_task", max_cost_per_task),
            ("min_fidelity", min_fidelity),
            ("deadline_seconds", deadline_seconds),
        ):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}", key=name)
        if cache_ttl_seconds is not None:
            if cache_ttl_seconds <= 0:
                raise ConfigError(
                    f"cache_ttl_seconds must be > 0, got {cache_ttl_seconds!r}",
                    key="cache_ttl_seconds",
                )
            self.monitor.stop()
            self.cache = StatusCache(float(cache_ttl_seconds))
            self.monitor = StatusMonitor(
                self.cache,
                self._providers,
                self.monitor.interval,
                timeout_seconds=self.status_timeout,
            )
        if failover_attempts is not None:
            self.failover_attempts = int(failover_attempts)
        self.enabled = True
        self.start_background_monitoring(
            monitor_interval_seconds
            if monitor_interval_seconds is not None
            else self.monitor.interval
        )

    # ------------------------------------------------------------ candidates
    def _running(self) -> list[QuantumPilot]:
        return [p for p in self._pilots.values() if p.state is PilotState.RUNNING]

    def _resources(self, task: QuantumTask) -> list[ResourceCapabilities]:
        if task.pilot is not None and task.pilot not in self._pilots:
            raise ConfigError.unknown("quantum pilot", "pilot", task.pilot, self._pilots)
        caps = []
        for pilot in self._running():
            if not pilot.config.dreamer_enabled and task.pilot != pilot.name:
                continue
            caps.extend(pilot.resources)
        return caps

    @staticmethod
    def _is_remote(cap: ResourceCapabilities) -> bool:
        return resolve_executor(cap.executor).remote

    def _providers(self) -> dict[str, Callable[[], ResourceStatus]]:
        """Status calls for remote resources: the pilot actor asks the provider."""
        out: dict[str, Callable[[], ResourceStatus]] = {}
        for pilot in self._running():
            for cap in pilot.resources:
                if self._is_remote(cap):
                    out[cap.key] = _status_call(pilot, cap.name, self.status_timeout)
        return out

    def _statuses(self, caps: Sequence[ResourceCapabilities]) -> dict[str, ResourceStatus]:
        statuses: dict[str, ResourceStatus] = {}
        for cap in caps:
            if self._is_remote(cap):
                status = self.cache.get(cap.key)
                if status is None or status.stale:
                    self.monitor.request(cap.key)  # never wait for it
                if status is not None:
                    statuses[cap.key] = status
            else:
                statuses[cap.key] = self._local_status(cap)
        return statuses

    # ------------------------------------------------------------ local load
    def track(self, pilot: str, ref: Any) -> None:
        """Count a submitted task against its pilot's load (when ranking is on)."""
        if self.enabled:
            with self._lock:
                self._inflight.setdefault(pilot, deque()).append(ref)

    def prune(self) -> None:
        """Drop finished tasks from every pilot's in-flight list (they hold their refs)."""
        with self._lock:
            pilots = [pilot for pilot, refs in self._inflight.items() if refs]
        for pilot in pilots:
            self._prune_pilot(pilot)

    def _prune_pilot(self, pilot: str) -> None:
        """Drop ``pilot``'s finished tasks from its in-flight list (tasks tracked while
        Ray is asked stay)."""
        with self._lock:
            refs = list(self._inflight.get(pilot, ()))
        if refs:
            _, pending = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            left = {r.binary() for r in pending}
            seen = {r.binary() for r in refs}
            with self._lock:
                current = self._inflight.get(pilot, deque())
                self._inflight[pilot] = deque(
                    r for r in current if r.binary() in left or r.binary() not in seen
                )
        self._pruned_at[pilot] = time.monotonic()

    def holds(self, binary: bytes) -> int:
        """How many references to the object ``binary`` the load tracking holds."""
        with self._lock:
            return sum(r.binary() == binary for refs in self._inflight.values() for r in refs)

    def _local_status(self, cap: ResourceCapabilities) -> ResourceStatus:
        pilot = self._pilots.get(cap.pilot)
        refs = self._inflight.get(cap.pilot)
        if pilot is None or not refs:
            return ResourceStatus(online=True, queue_depth=0)
        if time.monotonic() - self._pruned_at.get(cap.pilot, 0.0) > _PRUNE_SECONDS:
            self._prune_pilot(cap.pilot)
        depth = len(self._inflight.get(cap.pilot, ())) // max(1, len(pilot.actors))
        return ResourceStatus(online=True, queue_depth=depth)

    # ------------------------------------------------------------ profiles
    @staticmethod
    def profile(task: QuantumTask, loaded: LoadedCircuit | None) -> WorkloadProfile:
        """The task's workload (from the circuit when it is known on the driver)."""
        if loaded is not None:
            return profile_loaded(loaded, task.shots)
        return WorkloadProfile.unknown(task.num_qubits or 1, task.shots)

    # ------------------------------------------------------------ ranking
    def _ranked(
        self, task: QuantumTask, loaded: LoadedCircuit | None
    ) -> tuple[TaskRequirements, list[RankedResource]]:
        profile = self.profile(task, loaded)
        caps = self._resources(task)
        req = task.requirements(profile.num_qubits if profile.known else None, profile.needs)
        return req, self.ranker.rank(req, profile, caps, self._statuses(caps))

    def rank(self, task: QuantumTask, loaded: LoadedCircuit | None = None) -> list[RankedResource]:
        """Every resource across all quantum pilots, best first (feasible ones first)."""
        return self._ranked(task, loaded if loaded is not None else task.load_on_driver())[1]

    def select(
        self, task: QuantumTask, loaded: LoadedCircuit | None = None
    ) -> RankedResource | Candidate:
        """The resource that runs ``task``, or ``NoFeasibleResourceError`` listing every reason.

        With ranking on, a :class:`~dreamer.ranking.RankedResource` (score,
        breakdown, layout); before ``initialize_dreamer``, the first feasible
        :class:`~dreamer.Candidate`.
        """
        return self.choose(task, loaded, record=False)[0]

    def choose(
        self, task: QuantumTask, loaded: LoadedCircuit | None, *, record: bool = True
    ) -> tuple[RankedResource | Candidate, list[RankedResource]]:
        """The chosen resource and, for failover, the next-ranked feasible ones.

        With ``record`` (a task will run there), the choice is counted in
        :mod:`pilot.observe.metrics`.

        Alternatives are given only with ranking on, for tasks that pin no
        pilot or resource, up to ``failover_attempts``.
        """
        loaded = loaded if loaded is not None else task.load_on_driver()
        if not self.enabled:
            width = loaded.num_qubits if loaded is not None else None
            needs = loaded.needs if loaded is not None else frozenset()
            try:
                first = first_feasible(task.requirements(width, needs), self._resources(task))
            except _DreamerNoFeasible as exc:
                raise NoFeasibleResourceError(exc.task, exc.rejections) from None
            if record:
                metrics.selected(first)
            return first, []
        req, ranked = self._ranked(task, loaded)
        metrics.ranked(ranked, self.cache)
        feasible = [r for r in ranked if r.feasible]
        if not feasible:
            raise NoFeasibleResourceError(req.name, {r.key: r.reasons for r in ranked})
        pinned = task.resource is not None or task.pilot is not None
        alternatives = [] if pinned else feasible[1 : 1 + max(0, self.failover_attempts)]
        if record:
            metrics.selected(feasible[0])
        return feasible[0], alternatives

    def estimate_cost(self, task: QuantumTask, resource: str | None = None) -> dict[str, Any]:
        """What ``task`` would cost (seed 002's ``estimate_execution_cost``), before running it.

        ``resource`` names a resource (``"SV1"``) or ``"pilot/name"``; by
        default the one QDREAMER would choose.
        """
        ranked = self.rank(task)
        if resource is None:
            entry = next((r for r in ranked if r.feasible), None)
            if entry is None:
                raise NoFeasibleResourceError(
                    f"task {task.name!r}", {r.key: r.reasons for r in ranked}
                )
        else:
            entry = next((r for r in ranked if resource in (r.key, r.resource.name)), None)
            if entry is None:
                raise ConfigError.unknown(
                    "resource", "resource", resource, [r.resource.name for r in ranked]
                )
        b = entry.breakdown
        pricing = entry.resource.pricing
        return {
            "resource": entry.resource.name,
            "pilot": entry.resource.pilot,
            "shots": task.shots,
            "total_cost": b["estimated_cost"],
            "currency": b["currency"],
            "estimated_run_seconds": b["estimated_run_seconds"],
            "expected_wait_seconds": b["expected_wait_seconds"],
            "estimated_time_minutes": b["expected_completion_seconds"] / 60.0,
            "price_source": pricing.source if pricing else "local simulator (free)",
            "price_as_of": pricing.as_of if pricing else None,
            "feasible": entry.feasible,
            "reasons": list(entry.reasons),
        }

    # ------------------------------------------------------------ cache (QTAU's method names)
    def get_cache_info(self) -> dict[str, Any]:
        info = self.cache.info()
        info["monitoring"] = self.monitor.running
        info["monitor_interval_seconds"] = self.monitor.interval
        return info

    def clear_cache(self) -> None:
        self.cache.clear()

    def start_background_monitoring(self, interval_seconds: float = 30) -> None:
        if interval_seconds <= 0:
            raise ConfigError(
                f"interval_seconds must be > 0, got {interval_seconds!r}", key="interval_seconds"
            )
        self.monitor.start(float(interval_seconds))

    def stop_background_monitoring(self) -> None:
        self.monitor.stop()

    def refresh(self, timeout: float | None = None) -> None:
        """Refresh every remote resource's status now (blocking, bounded by ``timeout``)."""
        self.monitor.refresh(timeout=timeout)

    def close(self) -> None:
        self.monitor.stop()


def _status_call(
    pilot: QuantumPilot, resource: str, timeout: float
) -> Callable[[], ResourceStatus]:
    def call() -> ResourceStatus:
        actor = pilot.actors[0]
        call = actor.status.options(concurrency_group=PilotActor.CONTROL)
        try:
            status: ResourceStatus = ray.get(call.remote(resource), timeout=timeout)
        except Exception:
            metrics.status_called(pilot.name, resource, pilot.executor, None)
            raise
        depth = status.queue_depth + status.priority_queue_depth
        metrics.status_called(pilot.name, resource, pilot.executor, depth)
        return status

    return call


def refusal_reasons(
    task: QuantumTask, loaded: LoadedCircuit | None, cap: ResourceCapabilities
) -> list[str]:
    """Why ``cap`` cannot run ``task`` (empty: it can): the check every submission
    passes before a task is sent (width, dynamic-circuit features, shots, gates)."""
    width = loaded.num_qubits if loaded is not None else None
    needs = loaded.needs if loaded is not None else frozenset()
    gates = loaded.gates if loaded is not None else None
    return rejection_reasons(task.requirements(width, needs), cap, gates=gates)


def candidate_summary(chosen: RankedResource | Candidate, objective: str) -> dict[str, Any]:
    """What a result records about its selection (picklable plain data)."""
    if isinstance(chosen, RankedResource):
        breakdown = dict(chosen.breakdown)
        return {
            "resource": chosen.resource.name,
            "pilot": chosen.resource.pilot,
            "score": chosen.score,
            "objective": objective,
            "breakdown": breakdown,
            "estimated_cost": breakdown["estimated_cost"],
        }
    return {
        "resource": chosen.resource.name,
        "pilot": chosen.resource.pilot,
        "objective": "first-feasible",
        "breakdown": {},
        "estimated_cost": None,
    }

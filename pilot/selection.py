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
  ``status()`` in the background (a miss only asks for a refresh), plus our
  own tasks placed there that the provider's figure does not hold yet;
* local simulators from the tasks placed on their pilot and not yet ended.

Both counts come from one :class:`~dreamer.load.LoadLedger`: a task is
counted from the moment it is placed (before the next one is ranked, so a
burst spreads as its queues grow: :mod:`dreamer.placement`) until its
supervisor sees it end; a remote task's count moves into the provider's
figure once the provider was asked after its job was submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import ray

from dreamer import Candidate, ResourceCapabilities, first_feasible
from dreamer.cache import StatusCache
from dreamer.errors import NoFeasibleResourceError as _DreamerNoFeasible
from dreamer.feasibility import rejection_reasons
from dreamer.load import LoadLedger
from dreamer.monitor import StatusMonitor
from dreamer.placement import FidelityBudget, check_fidelity_loss, place
from dreamer.ranking import Constraints, RankedResource, Ranker, Weights
from dreamer.resource import ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile
from pilot.backends.registry import resolve_executor
from pilot.config import dreamer_defaults
from pilot.convert.workload import profile_loaded
from pilot.cutting import CutEstimate, plan_for
from pilot.errors import ConfigError, NoFeasibleResourceError
from pilot.observe import metrics
from pilot.pilots.actor import PilotActor
from pilot.states import PilotState
from pilot.tasks import QuantumTask

if TYPE_CHECKING:
    from pilot.convert.portable import LoadedCircuit
    from pilot.pilots.pilot import QuantumPilot

logger = logging.getLogger(__name__)

#: How many other resources a result's selection lists (``alternatives``).
ALTERNATIVES_RECORDED = 3


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
        #: Our own tasks on each resource (remote: "pilot/name"; local: the pilot).
        self.ledger = LoadLedger()
        #: The fidelity budget of load-aware placement (None: the objective decides).
        self.budget = _budget(conf.get("max_fidelity_loss"), conf.get("fidelity_budget"))

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
        max_fidelity_loss: float | None = None,
        fidelity_budget: str | None = None,
    ) -> None:
        conf = dreamer_defaults()
        budget = _budget(
            max_fidelity_loss if max_fidelity_loss is not None else conf.get("max_fidelity_loss"),
            fidelity_budget if fidelity_budget is not None else conf.get("fidelity_budget"),
        )
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
        self.budget = budget
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

    def widest_for_cuts(self, task: QuantumTask) -> int | None:
        """The widest resource a cut task's subexperiments can run on (they measure
        mid-circuit; exactly, for ``shots=None``), within the task's pins; ``None``
        when none can (their submission then says why)."""
        widths = [
            cap.num_qubits
            for cap in self._resources(task)
            if (task.pilot is None or cap.pilot == task.pilot)
            and (task.resource is None or cap.name == task.resource)
            and "mid_circuit_measurement"
            in (cap.dynamic_exact if task.shots is None else cap.dynamic)
        ]
        return max(widths) if widths else None

    @staticmethod
    def _is_remote(cap: ResourceCapabilities) -> bool:
        return resolve_executor(cap.executor).remote

    def _providers(self) -> dict[str, Callable[[], ResourceStatus]]:
        """Status calls for remote resources: the pilot actor asks the provider."""
        out: dict[str, Callable[[], ResourceStatus]] = {}
        for pilot in self._running():
            for cap in pilot.resources:
                if self._is_remote(cap):
                    out[cap.key] = _status_call(
                        pilot, cap.name, self.status_timeout, self.submitted
                    )
        return out

    def _statuses(self, caps: Sequence[ResourceCapabilities]) -> dict[str, ResourceStatus]:
        statuses: dict[str, ResourceStatus] = {}
        for cap in caps:
            if self._is_remote(cap):
                status = self.cache.get(cap.key)
                if status is None or status.stale:
                    self.monitor.request(cap.key)  # never wait for it
                ours = self.ledger.ours(cap.key, status.observed_at if status else None)
                if status is not None:
                    statuses[cap.key] = replace(status, ours=ours) if ours else status
                elif ours:
                    statuses[cap.key] = ResourceStatus(ours=ours, message="not observed yet")
            else:  # its pilot's actors serve every resource it holds
                pilot = self._pilots.get(cap.pilot)
                servers = len(pilot.actors) if pilot is not None else 1
                ours = self.ledger.ours(cap.pilot)
                statuses[cap.key] = ResourceStatus(ours=ours, servers=max(1, servers))
        return statuses

    # ------------------------------------------------------------ our own load
    def _ledger_key(self, cap: ResourceCapabilities) -> str:
        return cap.key if self._is_remote(cap) else cap.pilot

    def placed(self, task_id: str, chosen: RankedResource | Candidate) -> None:
        """Count a task on the resource chosen for it (when ranking is on), so that the
        next task is ranked with it in the queue."""
        if self.enabled:
            self.ledger.placed(task_id, self._ledger_key(chosen.resource))

    def ended(self, task_ids: Iterable[str]) -> None:
        """These tasks finished, failed or were cancelled: they leave the count."""
        for task_id in task_ids:
            self.ledger.ended(task_id)

    def renamed(self, old: str, new: str) -> None:
        """A placed task is sent under another id (resumed from the journal)."""
        self.ledger.renamed(old, new)

    def submitted(self, jobs: Iterable[tuple[str, str, float]]) -> None:
        """``(task_id, job_id, at)``: the tasks' jobs reached their provider at ``at``."""
        for task_id, job_id, at in jobs:
            self.ledger.submitted(task_id, job_id, at)

    # ------------------------------------------------------------ profiles
    @staticmethod
    def profile(task: QuantumTask, loaded: LoadedCircuit | None) -> WorkloadProfile:
        """The task's workload (from the circuit when it is known on the driver)."""
        if loaded is not None:
            return profile_loaded(loaded, task.shots)
        return WorkloadProfile.unknown(task.num_qubits or 1, task.shots)

    # ------------------------------------------------------------ ranking
    def _ranked(
        self, task: QuantumTask, loaded: LoadedCircuit | None, ranker: Ranker | None = None
    ) -> tuple[TaskRequirements, WorkloadProfile, list[RankedResource]]:
        profile = self.profile(task, loaded)
        caps = self._resources(task)
        req = task.requirements(profile.num_qubits if profile.known else None, profile.needs)
        ranker = ranker or self.ranker
        return req, profile, ranker.rank(req, profile, caps, self._statuses(caps))

    def rank(self, task: QuantumTask, loaded: LoadedCircuit | None = None) -> list[RankedResource]:
        """Every resource across all quantum pilots, best first (feasible ones first)."""
        return self._ranked(task, loaded if loaded is not None else task.load_on_driver())[2]

    def select(
        self, task: QuantumTask, loaded: LoadedCircuit | None = None
    ) -> RankedResource | Candidate:
        """The resource that runs ``task``, or ``NoFeasibleResourceError`` listing every reason.

        With ranking on, a :class:`~dreamer.ranking.RankedResource` (score,
        breakdown, layout); before ``initialize_dreamer``, the first feasible
        :class:`~dreamer.Candidate`.  Under a fidelity budget
        (``max_fidelity_loss``) it is the placement rule's choice
        (:mod:`dreamer.placement`), not necessarily the first in :meth:`rank`.
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
        return self.choose_many(task, loaded, 1, record=record)[0]

    def choose_many(
        self,
        task: QuantumTask,
        loaded: LoadedCircuit | None,
        count: int,
        *,
        record: bool = True,
    ) -> list[tuple[RankedResource | Candidate, list[RankedResource]]]:
        """:meth:`choose` for ``count`` runs of ``task`` (a sweep's parameter sets),
        placed together: each sees the queue the ones before it made
        (:func:`dreamer.placement.place`)."""
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
            return [(first, [])] * count
        req, profile, ranked = self._ranked(task, loaded)
        metrics.ranked(ranked, self.cache)
        try:
            chosen = place(self.ranker, req, profile, ranked, count, self.budget)
        except _DreamerNoFeasible as exc:
            raise NoFeasibleResourceError(exc.task, exc.rejections) from None
        pinned = task.resource is not None or task.pilot is not None
        feasible = [r for r in ranked if r.feasible]
        out: list[tuple[RankedResource | Candidate, list[RankedResource]]] = []
        alternatives: dict[str, list[RankedResource]] = {}
        for entry in chosen:
            if record:
                metrics.selected(entry)
            alts = alternatives.get(entry.key)
            if alts is None:
                others = [r for r in feasible if r.key != entry.key]
                alts = alternatives[entry.key] = (
                    [] if pinned else others[: max(0, self.failover_attempts)]
                )
            out.append((entry, alts))
        return out

    def estimate_cost(self, task: QuantumTask, resource: str | None = None) -> dict[str, Any]:
        """What ``task`` would cost (seed 002's ``estimate_execution_cost``), before running it.

        ``resource`` names a resource (``"SV1"``) or ``"pilot/name"``; by
        default the one QDREAMER would choose.  A cut task (``cutting``) is
        priced as its subexperiments: :meth:`estimate_cut`.
        """
        if getattr(task, "cutting", None) is not None:
            return self.estimate_cut(task)
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

    def estimate_cut(self, task: QuantumTask) -> dict[str, Any]:
        """The plan of a cut task and what it would cost, before anything runs.

        Each fragment's subexperiments are priced on the resource QDREAMER would
        choose for the first of them (they differ only in their measurement
        bases and QPD operations); the time assumes each fragment's
        subexperiments run one after another there, the fragments side by side.
        """
        plan, _ = plan_for(task, self.widest_for_cuts(task))
        shots = task.shots
        total, slowest, currency = 0.0, 0.0, "USD"
        fragments: dict[str, Any] = {}
        for label, circuits in plan.subexperiments.items():
            first = QuantumTask(circuits[0], shots=shots, pilot=task.pilot, resource=task.resource)
            entry = self._unconstrained(first)
            b = entry.breakdown
            each = float(b.get("estimated_cost", 0.0))
            run = float(b.get("estimated_run_seconds", 0.0))
            wait = float(b.get("expected_wait_seconds", 0.0))
            currency = b.get("currency", currency)
            total += each * len(circuits)
            slowest = max(slowest, wait + run * len(circuits))
            fragments[str(label)] = {
                "resource": entry.resource.name,
                "pilot": entry.resource.pilot,
                "subexperiments": len(circuits),
                "cost_each": each,
            }
        return CutEstimate(
            **plan.summary(),
            shots=shots,
            total_shots=None if shots is None else shots * plan.num_subexperiments,
            total_cost=total,
            currency=currency,
            estimated_time_minutes=slowest / 60.0,
            per_fragment=fragments,
        )

    def _unconstrained(self, task: QuantumTask) -> RankedResource:
        """The resource QDREAMER's objective prefers for ``task``, cost and deadline limits
        aside (so that a plan can be priced against them)."""
        free = Ranker(
            self.ranker.weights,
            Constraints(
                providers=self.ranker.constraints.providers,
                resources=self.ranker.constraints.resources,
            ),
            self.ranker.models,
        )
        req, _, ranked = self._ranked(task, task.load_on_driver(), free)
        if not ranked or not ranked[0].feasible:
            raise NoFeasibleResourceError(req.name, {r.key: r.reasons for r in ranked})
        return ranked[0]

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


def _budget(max_fidelity_loss: object, kind: object) -> FidelityBudget | None:
    """The placement budget of ``initialize_dreamer`` (or ``[dreamer]``), checked."""
    try:
        loss = check_fidelity_loss(max_fidelity_loss)
    except ValueError as exc:
        raise ConfigError(str(exc), key="max_fidelity_loss") from None
    kind = "task" if kind is None else kind
    if kind not in ("task", "mean"):
        raise ConfigError(
            f"fidelity_budget must be 'task' (each task within max_fidelity_loss of its "
            f"best resource) or 'mean' (on average over the last tasks placed), got {kind!r}",
            key="fidelity_budget",
        )
    if loss is None:
        if kind == "mean":
            raise ConfigError(
                "fidelity_budget='mean' needs max_fidelity_loss (e.g. 0.02)",
                key="fidelity_budget",
            )
        return None
    return FidelityBudget(loss, mean=kind == "mean")


def _status_call(
    pilot: QuantumPilot,
    resource: str,
    timeout: float,
    on_jobs: Callable[[Iterable[tuple[str, str, float]]], None],
) -> Callable[[], ResourceStatus]:
    """The monitor's call for ``resource``'s status.  The jobs its pilot had open
    there go to the load count (``on_jobs``) before the status is cached, so that
    the provider's figure and our count never hold the same task."""

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
        if status.submitted:
            on_jobs(status.submitted)
            status = replace(status, submitted=())
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


def candidate_summary(
    chosen: RankedResource | Candidate,
    objective: str,
    alternatives: Sequence[RankedResource] = (),
) -> dict[str, Any]:
    """What a result records about its selection (picklable plain data).

    ``alternatives`` (the next-ranked feasible resources) are listed, at most
    :data:`ALTERNATIVES_RECORDED`, with their estimated fidelity and expected
    completion, and under a fidelity budget whether each was within it.
    """
    if isinstance(chosen, RankedResource):
        breakdown = dict(chosen.breakdown)
        floor = breakdown.get("fidelity_floor")
        considered = []
        for alt in alternatives[:ALTERNATIVES_RECORDED]:
            b = alt.breakdown
            row = {
                "resource": alt.key,
                "estimated_fidelity": b["estimated_fidelity"],
                "expected_completion_seconds": b["expected_completion_seconds"],
            }
            if floor is not None:
                row["within_budget"] = b["estimated_fidelity"] >= floor
            considered.append(row)
        return {
            "resource": chosen.resource.name,
            "pilot": chosen.resource.pilot,
            "score": chosen.score,
            "objective": objective,
            "breakdown": breakdown,
            "estimated_cost": breakdown["estimated_cost"],
            "alternatives": considered,
        }
    return {
        "resource": chosen.resource.name,
        "pilot": chosen.resource.pilot,
        "objective": "first-feasible",
        "breakdown": {},
        "estimated_cost": None,
    }

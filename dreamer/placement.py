"""Place tasks on resources by predicted queue, within a fidelity budget.

:class:`~dreamer.ranking.Ranker` judges every resource for one task.  This
module turns a ranking into a *placement* for one task or for many submitted
together (a sweep's parameter sets, a burst from ``submit_quantum_tasks``),
as a greedy list schedule: each task goes where the rule below puts it, and
that resource's predicted queue grows by one task (spread over the jobs it
runs at once) before the next task is placed.  Tasks submitted one at a time
in quick succession are placed the same way, because the service counts each
placed task on its resource (:class:`dreamer.load.LoadLedger`) before the
next one is ranked.

Two rules:

* **the objective** (``max_fidelity_loss=None``): the best score under the
  ranker's weights, each task seeing the queue the ones before it made.  With
  the ``fidelity`` objective this is fidelity-greedy; with ``speed`` or
  ``balanced`` the growing queues move later tasks elsewhere.
* **a fidelity budget** (:class:`FidelityBudget`, ``max_fidelity_loss=x``):
  a resource is *eligible* while its estimated fidelity for the task is at
  least ``(1 - x)`` times the best feasible one.  Among the eligible, the
  task goes to the first in the objective's order whose expected completion
  (wait + run) is within :func:`slack_seconds` of the earliest -- so while
  queues are short tasks go to the best-fidelity resource, and once its
  queue grows they spread over the others in the budget.  ``x = 0`` leaves
  only the best-fidelity resources, which is fidelity-greedy.

  With ``mean=True`` the budget holds on average instead: a task may go up
  to ``5 x`` below the best (at most :data:`MEAN_TASK_CAP_FACTOR` times the
  budget) as long as the fidelity lost by the last :data:`MEAN_WINDOW` tasks
  placed, this one included, stays within ``x`` times their summed best
  fidelities.  Where the best device is more than ``x`` ahead of every other
  one for most circuits (a fleet with one much better QPU), a per-task budget
  leaves nothing to spread over; an average one spends the budget where it
  buys the most time (``bench/scheduling.py`` measures both).

Why greedy list scheduling: for tasks that arrive together and resources
that serve their queues in order, assigning each task to the resource where
it would finish earliest is the classic list-scheduling rule (within a
factor 2 of the optimal makespan on uniform machines, and what the
scheduling benchmark, ``bench/scheduling.py``, measures against least-busy,
round-robin and fidelity-greedy).  The slack keeps it from trading fidelity
for seconds that do not matter.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

from dreamer.errors import NoFeasibleResourceError
from dreamer.ranking import TIME_SCALE_SECONDS, RankedResource, Ranker
from dreamer.resource import ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile

#: A completion this much later than the earliest still counts as "as early"
#: (the larger of the two): ten minutes or 10 %.  Shorter, a budget on average
#: is spent at low load on seconds that do not matter (bench/scheduling.py: 98 %
#: of fidelity-greedy's fidelity at 5 tasks with a minute, 100 % with ten).
SLACK_SECONDS = 10 * TIME_SCALE_SECONDS
SLACK_FRACTION = 0.10
#: Under a budget on average, one task may lose at most this many times the budget.
MEAN_TASK_CAP_FACTOR = 5.0
#: ... and the average is over the last this many tasks placed (credit saved while
#: queues were short is not all spent on one burst).
MEAN_WINDOW = 1000


def slack_seconds(earliest: float) -> float:
    """How much later than ``earliest`` a completion may be and still count as early."""
    return max(SLACK_SECONDS, SLACK_FRACTION * earliest)


def check_fidelity_loss(value: object) -> float | None:
    """``max_fidelity_loss`` as a float in [0, 1), or ``None``; else ``ValueError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"max_fidelity_loss must be a number from 0 to below 1 (0.02: each task may "
            f"run at 98 % of the best estimated fidelity), got {value!r}"
        )
    return float(value)


def within_budget(
    feasible: Sequence[RankedResource], max_fidelity_loss: float
) -> tuple[list[RankedResource], float, float]:
    """The feasible resources whose estimated fidelity is at least ``(1 - loss)`` x the
    best, in the given order; with the best fidelity and the floor."""
    best = max(r.breakdown["estimated_fidelity"] for r in feasible)
    floor = (1.0 - max_fidelity_loss) * best
    eligible = [r for r in feasible if r.breakdown["estimated_fidelity"] >= floor]
    return eligible, best, floor


class FidelityBudget:
    """How much estimated fidelity placement may give up for time (thread-safe).

    ``max_fidelity_loss`` per task (``mean=False``), or on average over the last
    :data:`MEAN_WINDOW` tasks placed (``mean=True``; one task at most
    :data:`MEAN_TASK_CAP_FACTOR` times it).  A service keeps one, so that the
    average holds across its submissions.
    """

    def __init__(self, max_fidelity_loss: float, mean: bool = False) -> None:
        self.max_fidelity_loss = float(max_fidelity_loss)
        self.mean = bool(mean)
        cap = MEAN_TASK_CAP_FACTOR * self.max_fidelity_loss if self.mean else 1.0
        #: The largest relative loss one task may take.
        self.task_cap = min(self.max_fidelity_loss if not self.mean else cap, 0.999)
        self._lock = threading.Lock()
        self._window: deque[tuple[float, float]] = deque()  # (allowed, spent) per task
        self._allowed = 0.0
        self._spent = 0.0

    def credit(self, best: float) -> float:
        """The absolute fidelity the next task (best ``best``) may lose."""
        cap = self.task_cap * best
        if not self.mean:
            return cap
        with self._lock:
            left = self._allowed - self._spent + self.max_fidelity_loss * best
            if len(self._window) >= MEAN_WINDOW:  # the oldest leaves as this one comes
                left -= self._window[0][0] - self._window[0][1]
            return max(0.0, min(cap, left))  # (the best resource is always allowed)

    def spend(self, best: float, chosen: float) -> None:
        """A task whose best feasible fidelity is ``best`` went where it is ``chosen``."""
        if not self.mean:
            return
        with self._lock:
            entry = (self.max_fidelity_loss * best, max(0.0, best - chosen))
            self._window.append(entry)
            self._allowed += entry[0]
            self._spent += entry[1]
            if len(self._window) > MEAN_WINDOW:
                old_allowed, old_spent = self._window.popleft()
                self._allowed -= old_allowed
                self._spent -= old_spent

    def describe(self) -> dict[str, object]:
        return {"max_fidelity_loss": self.max_fidelity_loss, "mean": self.mean}


def _plus(status: ResourceStatus | None, extra: int) -> ResourceStatus:
    base = status if status is not None else ResourceStatus()
    return replace(base, ours=base.ours + extra) if extra else base


def place(
    ranker: Ranker,
    req: TaskRequirements,
    profile: WorkloadProfile,
    ranked: Sequence[RankedResource],
    count: int = 1,
    budget: FidelityBudget | float | None = None,
) -> list[RankedResource]:
    """Where each of ``count`` tasks of this workload goes (see the module docstring).

    ``ranked`` is :meth:`Ranker.rank`'s list for the task (statuses already
    holding the tasks placed before).  Each entry returned is its resource
    judged with the queue the tasks before it made; under a budget (a
    :class:`FidelityBudget`, or a number: a budget per task) its breakdown
    also holds ``max_fidelity_loss``, ``best_fidelity`` and ``fidelity_floor``
    (the lowest fidelity this task was allowed).  ``NoFeasibleResourceError``
    when no resource can run the task (or, with a deadline, the next one).
    """
    feasible = [r for r in ranked if r.feasible]
    if not feasible:
        raise NoFeasibleResourceError(req.name, {r.key: r.reasons for r in ranked})
    if isinstance(budget, (int, float)):
        budget = FidelityBudget(budget)
    best = 0.0
    if budget is None:
        pool = feasible
    else:
        pool, best, _ = within_budget(feasible, budget.task_cap)
    current = list(pool)  # each resource judged with the tasks placed on it so far
    added = [0] * len(pool)
    out: list[RankedResource] = []
    for n in range(count):
        live = [i for i, r in enumerate(current) if r.feasible]
        if budget is not None:
            floor = best - budget.credit(best) - 1e-12
            live = [i for i in live if current[i].breakdown["estimated_fidelity"] >= floor]
        if not live:  # a deadline every resource's queue has now passed
            raise NoFeasibleResourceError(req.name, {r.key: r.reasons for r in current})
        if budget is None:
            pick = min(live, key=lambda i: current[i].sort_key())
            chosen = current[pick]
            out.append(chosen)
        else:
            done = {i: current[i].breakdown["expected_completion_seconds"] for i in live}
            earliest = min(done.values())
            limit = earliest + slack_seconds(earliest)
            pick = next(i for i in live if done[i] <= limit)  # (pool keeps ranked order)
            chosen = current[pick]
            fidelity = chosen.breakdown["estimated_fidelity"]
            budget.spend(best, fidelity)
            extra = {
                "max_fidelity_loss": budget.max_fidelity_loss,
                "fidelity_budget": "mean" if budget.mean else "task",
                "best_fidelity": best,
                "fidelity_floor": max(0.0, floor),
            }
            out.append(replace(chosen, breakdown={**chosen.breakdown, **extra}))
        if n == count - 1:
            break
        added[pick] += 1
        base = pool[pick]
        current[pick] = ranker.judge(req, profile, base.resource, _plus(base.status, added[pick]))
    return out

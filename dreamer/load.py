"""Our own load on each resource: the tasks this service placed there and that
the provider's queue figure does not hold yet.

A provider reports its queue (``ResourceStatus.queue_depth``) as it was when
the status was read, ``observed_at``.  Tasks we sent afterwards are not in it,
nor are tasks still waiting in our own pilot for a free slot; without them a
burst of submissions sees the same short queue every time and piles onto one
device until the next refresh.  The ledger follows each placed task:

``placed(task_id, key)``
    QDREAMER chose ``key`` (``"pilot/resource"``) for it;
``submitted(task_id, job_id, at)``
    its job reached the provider at ``at`` (seconds since the epoch);
``ended(task_id)``
    it finished, failed or was cancelled: it leaves the count.

``ours(key, counted_since)`` is what to add to a provider's figure observed at
``counted_since``: the tasks not submitted yet, plus the distinct jobs
submitted after that moment (several tasks of one coalesced job are one job
in the provider's queue).  Jobs submitted before it are in the figure already
-- queued ones in its queue, running or finished ones nowhere -- so each task
is counted once.  With ``counted_since=None`` (a local simulator, which has no
queue of its own) every unfinished task counts.

Pure and thread-safe: the service's submission paths and its supervisor
thread share one ledger; the scheduling benchmark drives another.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field


@dataclass
class _Entry:
    key: str
    job_id: str | None = None


@dataclass
class _Load:
    """One resource's count: tasks not submitted, and the distinct jobs submitted
    (``times``: their submission times, sorted)."""

    tasks: set[str] = field(default_factory=set)
    waiting: int = 0
    jobs: dict[str, list[float]] = field(default_factory=dict)  # job -> [at, tasks]
    times: list[float] = field(default_factory=list)


class LoadLedger:
    """The tasks placed on each resource and not yet ended (see the module docstring).

    Every operation is O(log n) in the tasks on the resource (``ours`` counts
    with a binary search), so placing a burst one task at a time stays linear.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, _Entry] = {}
        self._by_key: dict[str, _Load] = {}

    def placed(self, task_id: str, key: str) -> None:
        with self._lock:
            if task_id in self._tasks:  # placed again (moved): leave the old resource
                self._drop(task_id)
            self._tasks[task_id] = _Entry(key)
            load = self._by_key.setdefault(key, _Load())
            load.tasks.add(task_id)
            load.waiting += 1

    def renamed(self, old: str, new: str) -> None:
        """The task placed as ``old`` goes on as ``new`` (same resource)."""
        with self._lock:
            entry = self._tasks.pop(old, None)
            if entry is None:
                return
            self._tasks[new] = entry
            tasks = self._by_key[entry.key].tasks
            tasks.discard(old)
            tasks.add(new)

    def submitted(self, task_id: str, job_id: str, at: float) -> None:
        with self._lock:
            entry = self._tasks.get(task_id)
            if entry is None or entry.job_id is not None:
                return
            entry.job_id = job_id
            load = self._by_key[entry.key]
            load.waiting -= 1
            job = load.jobs.get(job_id)
            if job is None:
                load.jobs[job_id] = [at, 1]
                bisect.insort(load.times, at)
            else:
                job[1] += 1

    def ended(self, task_id: str) -> None:
        with self._lock:
            if task_id in self._tasks:
                self._drop(task_id)

    def _drop(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id)
        load = self._by_key[entry.key]
        load.tasks.discard(task_id)
        if entry.job_id is None:
            load.waiting -= 1
        else:
            job = load.jobs[entry.job_id]
            job[1] -= 1
            if job[1] == 0:
                del load.jobs[entry.job_id]
                i = bisect.bisect_left(load.times, job[0])
                del load.times[i]  # (one time per job: any equal one will do)
        if not load.tasks:
            del self._by_key[entry.key]

    def ours(self, key: str, counted_since: float | None = None) -> int:
        """Our tasks on ``key`` that a provider figure observed at ``counted_since``
        does not hold (every unfinished one when ``None``)."""
        with self._lock:
            load = self._by_key.get(key)
            if load is None:
                return 0
            if counted_since is None:
                return len(load.tasks)
            after = len(load.times) - bisect.bisect_right(load.times, counted_since)
            return load.waiting + after

    def placed_on(self, key: str) -> int:
        """Unfinished tasks placed on ``key``, submitted or not."""
        with self._lock:
            load = self._by_key.get(key)
            return len(load.tasks) if load is not None else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._by_key.clear()

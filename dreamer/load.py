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

import threading
from dataclasses import dataclass


@dataclass
class _Entry:
    key: str
    job_id: str | None = None
    submitted_at: float | None = None


class LoadLedger:
    """The tasks placed on each resource and not yet ended (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, _Entry] = {}
        #: key -> task ids placed there and not ended (insertion-ordered).
        self._by_key: dict[str, dict[str, None]] = {}

    def placed(self, task_id: str, key: str) -> None:
        with self._lock:
            old = self._tasks.get(task_id)
            if old is not None:  # placed again (moved): leave the old resource
                self._by_key.get(old.key, {}).pop(task_id, None)
            self._tasks[task_id] = _Entry(key)
            self._by_key.setdefault(key, {})[task_id] = None

    def renamed(self, old: str, new: str) -> None:
        """The task placed as ``old`` goes on as ``new`` (same resource)."""
        with self._lock:
            entry = self._tasks.pop(old, None)
            if entry is None:
                return
            self._tasks[new] = entry
            tasks = self._by_key[entry.key]
            tasks.pop(old, None)
            tasks[new] = None

    def submitted(self, task_id: str, job_id: str, at: float) -> None:
        with self._lock:
            entry = self._tasks.get(task_id)
            if entry is not None and entry.submitted_at is None:
                entry.job_id, entry.submitted_at = job_id, at

    def ended(self, task_id: str) -> None:
        with self._lock:
            entry = self._tasks.pop(task_id, None)
            if entry is not None:
                tasks = self._by_key.get(entry.key)
                if tasks is not None:
                    tasks.pop(task_id, None)
                    if not tasks:
                        del self._by_key[entry.key]

    def ours(self, key: str, counted_since: float | None = None) -> int:
        """Our tasks on ``key`` that a provider figure observed at ``counted_since``
        does not hold (every unfinished one when ``None``)."""
        with self._lock:
            tasks = self._by_key.get(key)
            if not tasks:
                return 0
            if counted_since is None:
                return len(tasks)
            waiting = 0
            jobs: set[str] = set()
            for task_id in tasks:
                entry = self._tasks[task_id]
                if entry.submitted_at is None:
                    waiting += 1
                elif entry.submitted_at > counted_since:
                    jobs.add(entry.job_id or task_id)
            return waiting + len(jobs)

    def placed_on(self, key: str) -> int:
        """Unfinished tasks placed on ``key``, submitted or not."""
        with self._lock:
            return len(self._by_key.get(key, ()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._by_key.clear()

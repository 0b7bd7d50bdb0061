"""A device's queue as one FIFO server on a clock: the fakes' optional time-based mode.

Both HTTP fakes (``braket_service.py``, ``ibm_service.py``) advance a job one
status per status request by default.  A device given a :class:`Drain` (their
``drain(device, seconds_per_job=..., external_queue=...)`` methods) is instead
a single first-in-first-out server on the fake's ``clock``
(``time.monotonic`` unless a test hands it another):

* ``external_queue`` outside jobs are waiting when the drain is set (at
  ``since``); they leave the queue one every ``seconds_per_job`` (the first at
  ``since + seconds_per_job``), and the server takes our jobs only after the
  last of them (:attr:`Drain.free_from`).
* Each of our jobs enters the queue when it is submitted (``queued_at``),
  starts when the one before it ends (or at once when the server is idle and
  the outside jobs are served) and runs ``seconds_per_job``.  Its status is
  derived from the clock: queued before its start, running until its end,
  finished after.
* A job cancelled before it started never runs, and the jobs behind it move
  up; one cancelled while running frees the server at the cancellation.
* The reported queue (:meth:`Drain.queue`) is the outside jobs still waiting
  plus our jobs not yet started; a queued job's 1-based position
  (:meth:`Drain.position`) counts both ahead of it.

The schedule is recomputed from the submissions and cancellations on every
question, so it never depends on how often, or whether, anyone asks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["EPSILON", "Drain", "Slot"]

#: Instants closer than this count as equal (a clock advanced by 0.2 five times
#: reads 1.0000000000000002, not 1.0).
EPSILON = 1e-9


@dataclass(frozen=True)
class Slot:
    """When one of our jobs holds the server: ``[start, end)`` on the fake's clock."""

    start: float
    end: float

    def phase(self, now: float) -> str:
        """``"queued"`` before ``start``, ``"running"`` until ``end``, then ``"done"``."""
        if now + EPSILON < self.start:
            return "queued"
        if now + EPSILON < self.end:
            return "running"
        return "done"


@dataclass(eq=False)
class Drain:
    """One device as a FIFO server that takes ``seconds_per_job`` per job.

    Identity matters (``eq=False``): a job belongs to the drain it was submitted
    under, so setting a new drain on a device starts a new schedule.
    """

    seconds_per_job: float
    external_queue: int = 0
    #: The clock reading when it was set: the outside jobs drain from here.
    since: float = 0.0

    def __post_init__(self) -> None:
        if not self.seconds_per_job > 0:
            raise ValueError(f"seconds_per_job must be > 0, not {self.seconds_per_job!r}")
        if self.external_queue < 0:
            raise ValueError(f"external_queue must be >= 0, not {self.external_queue!r}")

    @classmethod
    def on(cls, seconds_per_job: float | None, external_queue: int, now: float) -> Drain | None:
        """What a fake's ``drain(device, seconds_per_job, external_queue=...)`` sets from
        ``now`` (its clock): ``None`` for ``seconds_per_job=None`` (off)."""
        if seconds_per_job is None:
            return None
        return cls(float(seconds_per_job), int(external_queue), since=now)

    @property
    def free_from(self) -> float:
        """When the last outside job has been served and the server takes ours."""
        return self.since + self.external_queue * self.seconds_per_job

    def external_waiting(self, now: float) -> int:
        """Outside jobs not yet served at ``now``."""
        served = math.floor((now - self.since) / self.seconds_per_job + EPSILON)
        return min(self.external_queue, max(0, self.external_queue - served))

    def slots(self, jobs: Iterable[tuple[float, float | None]]) -> list[Slot | None]:
        """The server's schedule for our jobs, given as ``(queued_at, cancelled_at)`` in
        submission order: each job's :class:`Slot`, or ``None`` for one cancelled before
        it started."""
        free = self.free_from
        out: list[Slot | None] = []
        for queued_at, cancelled_at in jobs:
            start = max(queued_at, free)
            if cancelled_at is not None and cancelled_at <= start + EPSILON:
                out.append(None)
                continue
            end = start + self.seconds_per_job
            if cancelled_at is not None and cancelled_at < end:
                end = cancelled_at
            free = end
            out.append(Slot(start, end))
        return out

    def queue(self, now: float, slots: Sequence[Slot | None]) -> int:
        """The reported queue: outside jobs waiting + our jobs not yet started."""
        ours = sum(1 for s in slots if s is not None and s.phase(now) == "queued")
        return self.external_waiting(now) + ours

    def position(self, now: float, slots: Sequence[Slot | None], index: int) -> int | None:
        """The 1-based queue position of our job ``slots[index]``; ``None`` unless queued."""
        slot = slots[index]
        if slot is None or slot.phase(now) != "queued":
            return None
        ahead = sum(1 for s in slots[:index] if s is not None and s.phase(now) == "queued")
        return self.external_waiting(now) + ahead + 1

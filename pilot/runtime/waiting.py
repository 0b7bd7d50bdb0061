"""Waiting for tasks and fetching their results: progress bars, timeouts, and the
error a failed task raises (naming the task, its pilot and where it failed).

A ref handed to the program stays valid when its task moves (its pilot was lost,
it failed over): the supervisor resolves it to the latest submission.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import ray

from pilot.errors import (
    PilotError,
    PilotLostError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
)
from pilot.observe.progress import Bar, progress_bar
from pilot.observe.report import TaskLog
from pilot.runtime.dependencies import failed_stage
from pilot.runtime.supervisor import Supervisor


class Waiting:
    """``wait_tasks`` and ``get_results`` of a service (documented there)."""

    def __init__(self, supervisor: Supervisor, tasks: TaskLog, flush: Callable[[], None]) -> None:
        self._supervisor = supervisor
        self._tasks = tasks
        #: Sends coalescing windows still gathering tasks (before waiting on them).
        self._flush = flush

    def wait_tasks(
        self, refs: Sequence[Any], timeout: float | None = None, *, progress: bool | None = None
    ) -> tuple[list[Any], list[Any]]:
        """``PilotComputeService.wait_tasks`` (documented there)."""
        refs = list(refs)
        if not refs:
            return [], []
        self._flush()  # windows still gathering tasks go now
        with progress_bar(len(refs), "waiting", progress) as bar:
            return self._wait(refs, timeout, bar)

    def _wait(
        self, refs: list[Any], timeout: float | None, bar: Bar | None
    ) -> tuple[list[Any], list[Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = {self._supervisor.resolve(r): r for r in refs}
            ready = self._ready(list(current), deadline, bar)
            # A ready ref may be a task lost with its pilot: it is resubmitted, so wait on.
            moved = [r for r in ready if self._supervisor.suspect(r) and self._supervisor.settle(r)]
            moved = [r for r in moved if self._supervisor.resolve(r) is not r]
            if not moved or (deadline is not None and time.monotonic() >= deadline):
                break
        done = {current[r].binary() for r in ready if r not in moved}
        return (
            [r for r in refs if r.binary() in done],
            [r for r in refs if r.binary() not in done],
        )

    def _ready(self, refs: list[Any], deadline: float | None, bar: Bar | None) -> list[Any]:
        """``ray.wait`` for all of ``refs`` until ``deadline`` (nothing fetched); with a
        bar, in short steps that update it."""
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if bar is None:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=left, fetch_local=False)
                return ready
            step = 0.25 if left is None else min(left, 0.25)
            ready, pending = ray.wait(refs, num_returns=len(refs), timeout=step, fetch_local=False)
            bar.update(done=len(ready), failed=self._failed_among(ready))
            if not pending or (left is not None and left <= step):
                return ready

    def _failed_among(self, refs: Sequence[Any]) -> int:
        """How many of these finished refs are known (from the pilots' rows) to have failed."""
        n = 0
        for ref in refs:
            rec = self._supervisor.record(ref)
            if rec is not None and self._tasks.outcome(rec.task_id) not in (None, "done"):
                n += 1
        return n

    def get_results(
        self,
        refs: Any,
        return_exceptions: bool = False,
        timeout: float | None = None,
        *,
        progress: bool | None = None,
    ) -> Any:
        """``PilotComputeService.get_results`` (documented there)."""
        single = isinstance(refs, ray.ObjectRef)
        lst = [refs] if single else list(refs)
        self._flush()  # windows still gathering tasks go now
        with progress_bar(len(lst), "results", progress) as bar:
            if timeout is not None or bar is not None:
                _ready, pending = self._wait(lst, timeout, bar)
                if pending:
                    raise TaskTimeoutError(
                        f"{len(pending)} of {len(lst)} tasks not finished after {timeout:g} s "
                        "(they keep running; call get_results again)"
                    )
            values = self._values(lst, return_exceptions)
            if bar is not None:
                failed = sum(isinstance(v, PilotError) for v in values)
                bar.update(done=len(lst), failed=max(failed, bar.failed))
        return values[0] if single else values

    def _values(self, lst: list[Any], return_exceptions: bool) -> list[Any]:
        try:
            values = ray.get([self._supervisor.resolve(r) for r in lst])
            failed = False
        except ray.exceptions.RayError:
            failed = True
        if failed:  # outside the except block: keep the chain to the task's own error only
            values = []
            for ref in lst:
                try:
                    values.append(self._get_one(ref))
                except ray.exceptions.RayError as err:
                    failure = self._failure(ref, err)
                    if not return_exceptions:
                        raise failure from err
                    values.append(failure)
                except PilotLostError as lost:
                    if not return_exceptions:
                        raise
                    values.append(lost)
        return list(values)

    def _get_one(self, ref: Any) -> Any:
        """``ray.get`` of the task's latest submission: one lost with its pilot is
        resubmitted (and waited for), or raises ``PilotLostError``."""
        while True:
            current = self._supervisor.resolve(ref)
            try:
                return ray.get(current)
            except ray.exceptions.RayError:
                if not self._supervisor.settle(current):
                    raise
                rec = self._supervisor.record(current)
                if rec is not None and rec.lost is not None:
                    raise rec.lost from None

    def _failure(self, ref: Any, err: BaseException) -> PilotError:
        """The error ``get_results`` raises for a task: ``TaskCancelledError`` /
        ``TaskTimeoutError`` for a cancelled or timed-out task, else ``TaskFailedError``."""
        rec = self._supervisor.record(self._supervisor.resolve(ref))
        task_id, stage, pilot = (rec.task_id, rec.stage, rec.pilot) if rec else ("", "task", "?")
        cause = (
            getattr(err, "cause", None) if isinstance(err, ray.exceptions.RayTaskError) else None
        )
        label = f"task {task_id} ({stage})" if task_id else f"task {stage}"
        if isinstance(cause, (TaskCancelledError, TaskTimeoutError)):
            return cause  # from the pilot: names the task and its cancelled remote jobs
        if isinstance(err, ray.exceptions.TaskCancelledError):
            cancelled = TaskCancelledError(f"{label} on pilot {pilot} was cancelled")
            cancelled.__cause__ = err
            return cancelled
        if isinstance(cause, BaseException):
            what = f"{type(cause).__name__}: {cause}"
        elif isinstance(err, ray.exceptions.RayActorError):
            what = f"the pilot's actor died ({type(err).__name__}); its tasks were lost"
        else:
            what = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        # A stage whose input failed re-raises that error: name where it started.
        origin = failed_stage(err)
        if origin is not None and origin != stage and not origin.startswith("PilotActor"):
            what = f"its input, stage {origin}, failed: {what}"
            stage = origin
        exc = TaskFailedError(
            f"{label} on pilot {pilot} failed: {what}",
            task_id=task_id or None,
            pilot=pilot,
            stage=stage,
        )
        exc.__cause__ = err
        return exc

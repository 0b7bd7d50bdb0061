"""Remote jobs of the task a pilot thread is running: report, re-attach, cancel, time out, retry.

A backend that hands work to a provider (a Braket quantum task, an IBM
Runtime job) creates it through the task's :class:`JobContext`, which the
pilot actor opens around each task it runs::

    ctx = current_job()                       # None outside a pilot task
    handle = submit(create, attach, job_id)   # ctx.submit, or create() without a context
        │
        ├── the journal knows a job of this task (a resumed driver):
        │       attach(job_id) -> handle       re-attach, never pay twice
        ├── else create() -> handle            and report job_id(handle) to the driver
        │
        ├── ctx.cancel() (pcs.cancel_task, a timeout) calls handle.cancel()
        │       the provider's own cancel: Braket CancelQuantumTask, IBM job.cancel()
        └── ctx.remaining() bounds the backend's wait for the result

:func:`retrying` wraps a provider call with bounded retries for transient
errors (:func:`~pilot.backends.errors.is_transient`): exponential backoff
with full jitter, a bounded number of attempts and a bounded total time; an
error carrying ``retry_after`` (seconds, from an HTTP ``Retry-After``) waits
at least that long, up to ``max_backoff_seconds``.
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pilot.backends.errors import is_transient
from pilot.backends.options import RetryConfig
from pilot.errors import TaskCancelledError

logger = logging.getLogger(__name__)

H = TypeVar("H")
T = TypeVar("T")


_DEFAULT = RetryConfig()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a provider call that failed transiently.

    Delays follow "full jitter" (AWS architecture blog, *Exponential Backoff
    and Jitter*): attempt ``n`` waits ``uniform(0, min(max_backoff, backoff *
    2**n))``.  Retrying stops after ``max_attempts`` calls or once
    ``total_seconds`` have passed since the first, whichever comes first.
    """

    # The defaults of ``quantum.retries`` (one place: RetryConfig; conf/defaults.toml
    # documents them, and a test checks that the two agree).
    max_attempts: int = _DEFAULT.max_attempts
    backoff_seconds: float = _DEFAULT.backoff_seconds
    max_backoff_seconds: float = _DEFAULT.max_backoff_seconds
    total_seconds: float = _DEFAULT.total_seconds

    @classmethod
    def of(cls, config: RetryConfig) -> RetryPolicy:
        """The policy a pilot's ``quantum.retries`` asks for."""
        return cls(**config.model_dump())

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt))


@dataclass
class JobContext:
    """The remote jobs of one task on one pilot thread (see the module docstring)."""

    task_id: str
    #: ``time.monotonic()`` by which the task must finish, or ``None``.
    deadline: float | None = None
    #: Job ids the journal recorded for this task, to re-attach to in order.
    known: list[str] = field(default_factory=list)
    #: Called with ``(task_id, job_id)`` for each job created or re-attached.
    on_submit: Callable[[str, str], None] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    jobs: list[tuple[str, Any]] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Set once :meth:`cancel` has asked the provider to cancel every job.
    cancel_sent: threading.Event = field(default_factory=threading.Event)
    _cancelling: bool = False
    reason: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise ``TaskCancelledError`` if the task was cancelled or timed out -- once the
        provider was asked to cancel its jobs (by the thread cancelling it), so that the
        error saying "remote jobs cancelled" is true when it is raised."""
        if self.cancelled.is_set():
            if self._cancelling:
                self.cancel_sent.wait(CANCEL_WAIT_SECONDS)
            raise TaskCancelledError(f"task {self.task_id} {self.reason or 'was cancelled'}")

    def submit(
        self,
        create: Callable[[], H],
        attach: Callable[[str], H],
        job_id: Callable[[H], str],
        *,
        retry: bool = True,
    ) -> H:
        """A job for the task: re-attached to a known id, else created (and reported).

        ``retry=False`` when the SDK already retries the creating call itself (botocore
        does, per HTTP call, with the pilot's policy)."""
        self.check()
        with self._lock:
            known = self.known.pop(0) if self.known else None
        if known is not None:
            handle = attach(known)
            self.attached.append(known)
            logger.info("task %s: re-attached to remote job %s", self.task_id, known)
        else:
            handle = retrying(create, self.retry, what="submit", ctx=self) if retry else create()
        jid = str(job_id(handle))
        with self._lock:
            self.jobs.append((jid, handle))
        if self.on_submit is not None and known is None:  # the driver knows attached ones
            try:
                self.on_submit(self.task_id, jid)
            except Exception:  # reporting must never lose the job
                logger.warning("task %s: could not report job %s", self.task_id, jid, exc_info=True)
        if self.cancelled.is_set():  # cancelled while it was being created
            _cancel(self.task_id, jid, handle)
        return handle

    def cancel(self, reason: str = "was cancelled") -> list[str]:
        """Cancel every job of the task at its provider; returns their ids."""
        self.reason = reason
        self._cancelling = True
        self.cancelled.set()
        with self._lock:
            jobs = list(self.jobs)
        try:
            for jid, handle in jobs:
                _cancel(self.task_id, jid, handle)
        finally:
            self.cancel_sent.set()
        return [jid for jid, _ in jobs]


#: Seconds a cancelled task's thread waits for the cancel calls to its provider.
CANCEL_WAIT_SECONDS = 30.0


def _cancel(task_id: str, job_id: str, handle: Any) -> None:
    try:
        handle.cancel()
        logger.info("task %s: cancelled remote job %s", task_id, job_id)
    except Exception as exc:  # already finished, or the provider refused
        logger.warning("task %s: cancelling remote job %s failed: %s", task_id, job_id, exc)


_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "qdreamer_job", default=None
)


def current_job() -> JobContext | None:
    """The job context of the task running on this thread (``None`` outside one)."""
    return _current.get()


@contextmanager
def running(ctx: JobContext) -> Iterator[JobContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def submit(
    create: Callable[[], H],
    attach: Callable[[str], H],
    job_id: Callable[[H], str],
    *,
    retry: bool = True,
) -> H:
    """:meth:`JobContext.submit` for the current task, or ``create()`` outside one."""
    ctx = current_job()
    if ctx is None:
        return create()
    return ctx.submit(create, attach, job_id, retry=retry)


def retrying(
    call: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    what: str = "call",
    ctx: JobContext | None = None,
    rng: random.Random | None = None,
) -> T:
    """``call()``, retried on transient errors (see :class:`RetryPolicy`).

    A non-transient error, the last attempt's error, or one that would
    outlast the total time or the task's deadline is raised as it is; a
    cancelled task stops retrying at once.
    """
    ctx = ctx if ctx is not None else current_job()
    policy = policy or (ctx.retry if ctx is not None else RetryPolicy())
    rng = rng or random.Random()
    started = time.monotonic()
    attempt = 0
    while True:
        if ctx is not None:
            ctx.check()
        try:
            return call()
        except Exception as exc:
            attempt += 1
            if not is_transient(exc) or attempt >= policy.max_attempts:
                raise
            delay = policy.delay(attempt - 1, rng)
            asked = getattr(exc, "retry_after", None)  # the provider's Retry-After
            if isinstance(asked, (int, float)) and asked > delay:
                delay = min(float(asked), policy.max_backoff_seconds)
            left = policy.total_seconds - (time.monotonic() - started)
            if ctx is not None and ctx.deadline is not None:
                left = min(left, ctx.deadline - time.monotonic())
            if delay >= left:
                raise
            logger.info(
                "task %s: %s failed transiently (%s: %s); retry %d/%d in %.2f s",
                ctx.task_id if ctx is not None else "-",
                what,
                type(exc).__name__,
                str(exc)[:200],
                attempt,
                policy.max_attempts - 1,
                delay,
            )
            if ctx is not None:
                if ctx.cancelled.wait(delay):
                    ctx.check()
            else:
                time.sleep(delay)

"""The pilot actor: a plain class, wrapped with ``ray.remote`` when a pilot spawns it.

One ``QuantumWorker`` holds one backend (its SDK objects and connections) and
runs the tasks sent to it.  Being a plain class, it is tested without Ray.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

import cloudpickle
import ray
from cachetools import LRUCache
from ray.exceptions import RayTaskError

from dreamer.resource import ResourceCapabilities, ResourceStatus
from pilot.backends.base import QuantumBackend
from pilot.backends.errors import is_unavailable
from pilot.backends.jobs import JobContext, RetryPolicy, running
from pilot.backends.loader import backend_class
from pilot.backends.options import QuantumConfig
from pilot.backends.registry import resolve_executor
from pilot.convert import LoadedCircuit, load_circuit
from pilot.convert.load import bind_values, is_qiskit_circuit
from pilot.convert.observables import to_pauli_sums, with_observables
from pilot.convert.qiskit import has_measurements
from pilot.errors import (
    BackendUnavailableError,
    SchedulingError,
    TaskCancelledError,
    TaskTimeoutError,
)
from pilot.observe import metrics
from pilot.pilots.execution import Outcome, execute
from pilot.pilots.failover import Fallback, failed_over, moves_on
from pilot.results import QuantumResult, encode_outcome
from pilot.tasks import CircuitBlob, TaskSpec, check_declared, circuit_of

logger = logging.getLogger(__name__)

#: Environment variables that cap native thread pools (set per actor).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_env(num_cpus: float) -> dict[str, str]:
    n = str(max(1, int(num_cpus)))
    return dict.fromkeys(THREAD_ENV, n)


def _import_qiskit() -> None:
    """Import Qiskit here, in the actor's main thread, when it is installed.

    Circuits arrive pickled, and most are Qiskit's; a pilot whose backend is not
    Qiskit's would otherwise import it while unpickling the first one, in one of
    its task threads as the others run, and Qiskit's native extension crashed the
    process there (SIGSEGV in its allocator, a Braket pilot in
    tests/integration/test_load_placement.py).
    """
    if importlib.util.find_spec("qiskit") is not None:
        importlib.import_module("qiskit")


def _native_bytes(value: Any) -> bytes | None:
    """``value`` pickled (the result carries bytes; see ``QuantumResult.native``)."""
    if value is None:
        return None
    try:
        return bytes(cloudpickle.dumps(value))
    except Exception:  # some SDK results hold sockets or locks
        return None


def _resolve_refs(
    args: Sequence[Any], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Resolve ObjectRefs that Ray did not (those nested in a batch's specs)."""

    def get(v: Any) -> Any:
        return ray.get(v) if isinstance(v, ray.ObjectRef) else v

    return tuple(get(v) for v in args), {k: get(v) for k, v in kwargs.items()}


class QuantumWorker:
    """Runs quantum tasks on one backend.  See ``pilot.backends.base`` for the backend contract."""

    def __init__(self, config: QuantumConfig, pilot: str, num_cpus: float = 1) -> None:
        for key, value in thread_env(num_cpus).items():
            os.environ.setdefault(key, value)
        self.pilot = pilot
        self.executor = config.executor
        self._caps: dict[str, ResourceCapabilities] = {}
        # An error here is kept and raised by describe(): raised from __init__,
        # Ray would report it as a dead actor and lose the exception's type.
        self._init_error: BaseException | None = None
        try:
            backend_cls = backend_class(resolve_executor(config.executor))
            self.backend: QuantumBackend = backend_cls(config, pilot=pilot, num_cpus=num_cpus)
            self._caps = {c.name: c for c in self.backend.resources()}
        except Exception as exc:
            if isinstance(exc, ImportError):
                # Which Python could not import it (a cluster's workers may run another).
                exc.worker_python = sys.executable  # type: ignore[attr-defined]
            self._init_error = exc
            logger.warning("pilot %s: %s failed to start: %s", pilot, config.executor, exc)
            return
        _import_qiskit()
        logger.info("pilot %s: %s ready with %s", pilot, config.executor, sorted(self._caps))

    # ------------------------------------------------------------ inspection
    def describe(self) -> dict[str, Any]:
        """The resources this worker holds; raises the error that stopped it starting."""
        if self._init_error is not None:
            raise self._init_error
        return {
            "resources": list(self._caps.values()),
            "pilot": self.pilot,
            "pid": os.getpid(),
            "threads": os.environ.get("OMP_NUM_THREADS"),
        }

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps.values())

    def status(self, resource: str) -> ResourceStatus:
        return self.backend.status(resource)

    def ping(self) -> bool:
        return True

    # ------------------------------------------------------------ running
    def run(self, spec: TaskSpec, *args: Any, **kwargs: Any) -> QuantumResult:
        """Run one task.

        Arguments passed beside the spec arrive resolved by Ray; those carried
        inside it (batch submission) are resolved here.
        """
        started = time.time()
        if not args and not kwargs:
            args, kwargs = _resolve_refs(spec.args, spec.kwargs)
        loaded = self._load(spec, args, kwargs)
        outcome = execute(self.backend, spec.resource, [loaded], spec.shots, spec.layout)[0]
        return self._result(spec, loaded, outcome, started)

    def run_batch(self, specs: Sequence[TaskSpec]) -> list[Any]:
        """Run many tasks in as few backend calls as possible.

        Returns one entry per task: its ``QuantumResult``, or a
        ``RayTaskError`` wrapping its exception, which Ray raises from that
        task's own ObjectRef (the method is called with ``num_returns=len(specs)``).
        """
        started = time.time()
        out: list[Any] = [None] * len(specs)
        done = self._estimate_sweeps(specs, out, started)
        loaded: dict[int, LoadedCircuit] = {}
        # Tasks sharing a circuit blob (a loop over one circuit) share its loading.
        shared: dict[tuple[int, int | None, tuple[str, ...] | None, str], LoadedCircuit] = {}
        for i, spec in enumerate(specs):
            if i in done:
                continue
            plain = (
                isinstance(spec.circuit, CircuitBlob)
                and not spec.args
                and not spec.kwargs
                and spec.parameters is None
                and not spec.observables
            )
            memo = (id(spec.circuit), spec.num_qubits, spec.gate_set, spec.resource)
            try:
                if plain and memo in shared:
                    loaded[i] = shared[memo]
                    continue
                loaded[i] = self._load(spec, *_resolve_refs(spec.args, spec.kwargs))
                if plain:
                    shared[memo] = loaded[i]
            except Exception as exc:
                out[i] = RayTaskError(spec.stage, traceback.format_exc(), exc)
        groups: dict[tuple[str, int | None, tuple[int, ...] | None], list[int]] = {}
        for i in loaded:
            groups.setdefault((specs[i].resource, specs[i].shots, specs[i].layout), []).append(i)
        for (resource, shots, layout), idx in groups.items():
            outcomes: list[Outcome | None]
            try:
                outcomes = list(
                    execute(self.backend, resource, [loaded[i] for i in idx], shots, layout)
                )
            except Exception:
                # Attribute the failure: run each task on its own.
                outcomes = []
                for i in idx:
                    try:
                        outcomes.append(
                            execute(self.backend, resource, [loaded[i]], shots, layout)[0]
                        )
                    except Exception as exc:
                        out[i] = RayTaskError(specs[i].stage, traceback.format_exc(), exc)
                        outcomes.append(None)
            for i, outcome in zip(idx, outcomes, strict=True):
                if outcome is not None:
                    out[i] = self._result(specs[i], loaded[i], outcome, started)
                    out[i].metadata["batch_size"] = len(idx)  # circuits in this backend call
        return out

    def _estimate_sweeps(
        self, specs: Sequence[TaskSpec], out: list[Any], started: float
    ) -> set[int]:
        """Run sweep rows of one unmeasured Qiskit circuit in one ``backend.estimate`` call.

        Fills ``out`` for the rows it ran and returns their indices; anything it
        cannot run this way (or that fails) is left to the general path.
        """
        groups: list[list[int]] = []
        for i, spec in enumerate(specs):
            if not (
                spec.parameters is not None
                and spec.observables
                and not spec.args
                and not spec.kwargs
                and is_qiskit_circuit(circuit_of(spec.circuit))
                and not has_measurements(circuit_of(spec.circuit))
            ):
                continue
            for idx in groups:
                head = specs[idx[0]]
                if (
                    circuit_of(head.circuit) is circuit_of(spec.circuit)
                    and (head.resource, head.shots) == (spec.resource, spec.shots)
                    and _same(head.observables, spec.observables)
                ):
                    idx.append(i)
                    break
            else:
                groups.append([i])
        done: set[int] = set()
        for idx in groups:
            first = specs[idx[0]]
            try:
                loaded = self._load(first, (), {})
                circuit = circuit_of(first.circuit)
                names = [p.name for p in circuit.parameters]
                rows = [
                    list(bind_values(names, specs[i].parameters, "parameter set").values())
                    for i in idx
                ]
                sums = to_pauli_sums(first.observables, loaded.num_qubits, loaded.source_format)
                values = self.backend.estimate(first.resource, circuit, rows, sums, first.shots)
            except Exception:
                logger.debug("estimate path not taken", exc_info=True)
                continue
            if values is None:
                continue
            for i, row in zip(idx, values, strict=True):
                outcome = Outcome(None, None, row, "native", {"estimator": True})
                out[i] = self._result(specs[i], loaded, outcome, started)
                out[i].metadata["batch_size"] = len(idx)
                done.add(i)
        return done

    def _load(self, spec: TaskSpec, args: Sequence[Any], kwargs: dict[str, Any]) -> LoadedCircuit:
        loaded = load_circuit(
            circuit_of(spec.circuit), tuple(args), kwargs, parameters=spec.parameters
        )
        if spec.observables:
            loaded = with_observables(loaded, spec.observables)
        check_declared(spec.num_qubits, spec.gate_set, loaded.num_qubits, loaded.gates, spec.name)
        cap = self._caps.get(spec.resource)
        if cap is None:
            raise SchedulingError(
                f"pilot {self.pilot!r} has no resource {spec.resource!r}; "
                f"it has {sorted(self._caps)}"
            )
        if loaded.num_qubits > cap.num_qubits:
            raise SchedulingError(
                f"task {spec.name!r} needs {loaded.num_qubits} qubits but {spec.resource} "
                f"(pilot {self.pilot!r}) has {cap.num_qubits}"
            )
        return loaded

    def _result(
        self, spec: TaskSpec, loaded: LoadedCircuit, outcome: Outcome, started: float
    ) -> QuantumResult:
        metadata = dict(outcome.metadata)
        if spec.parameters is not None:
            metadata["parameter_values"] = spec.parameters
        native = _native_bytes(outcome.native) if spec.keep_native else None
        return QuantumResult(
            task_id=spec.task_id,
            name=spec.name,
            counts=dict(sorted(outcome.counts.items())) if outcome.counts is not None else None,
            shots=spec.shots,
            probabilities=outcome.probabilities,
            expectation_values=outcome.expectation_values,
            standard_errors=outcome.standard_errors,
            backend=spec.resource,
            executor=self.backend.executor,
            pilot=self.pilot,
            source_format=loaded.source_format,
            path=outcome.path,
            submitted_at=spec.submitted_at,
            started_at=started,
            finished_at=time.time(),
            native_bytes=native,
            metadata=metadata,
            selection=spec.selection,
        )

    def shutdown(self) -> None:
        if self._init_error is None:
            self.backend.close()


def task_row(
    spec: TaskSpec, value: Any, pilot: str, executor: str, started: float
) -> dict[str, Any]:
    """One attempt of a task as a metrics row (:data:`pilot.observe.report.TASK_COLUMNS`):
    ``outcome`` is ``done``, ``failed``, ``cancelled`` or ``timeout``; times are
    seconds since the epoch."""
    error = value.cause if isinstance(value, RayTaskError) else value
    if isinstance(value, QuantumResult):
        outcome, text = "done", ""
        started = value.started_at
    elif isinstance(error, TaskTimeoutError):
        outcome, text = "timeout", type(error).__name__
    elif isinstance(error, TaskCancelledError):
        outcome, text = "cancelled", type(error).__name__
    else:
        outcome, text = "failed", type(error).__name__
    finished = value.finished_at if isinstance(value, QuantumResult) else time.time()
    cost = (spec.selection or {}).get("estimated_cost")
    return {
        "task_id": spec.task_id,
        "name": spec.name,
        "pilot": pilot,
        "resource": spec.resource,
        "executor": executor,
        "outcome": outcome,
        "error": text,
        "shots": spec.shots,
        "submitted_at": spec.submitted_at,
        "started_at": started,
        "finished_at": finished,
        "queue_seconds": max(0.0, started - spec.submitted_at),
        "run_seconds": max(0.0, finished - started),
        "estimated_cost": cost,
    }


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """The same observables (one tuple shared by a sweep's specs, or equal ones)."""
    if a is b:
        return True
    try:
        return len(a) == len(b) and all(x is y or bool(x == y) for x, y in zip(a, b, strict=True))
    except Exception:  # SDK objects whose == is not a bool
        return False


class PilotActor(QuantumWorker):
    """The Ray actor of a quantum pilot: a ``QuantumWorker`` that fails over,
    tracks remote jobs, and enforces task timeouts.

    Ray runs it as a threaded actor with :meth:`max_concurrency` threads;
    ``concurrency`` of them compute at once (1 for simulators; more for cloud
    executors, whose calls mostly wait), the others take the next tasks off
    the wire meanwhile.  Control calls (``ping``, ``status``,
    ``cancel_remote``, ``drain_events``) go to the concurrency group
    :data:`CONTROL` so that a full queue of tasks never delays them.

    Each task runs inside a :class:`~pilot.backends.jobs.JobContext`: remote
    jobs it creates are reported (:meth:`drain_events`, for the driver's
    journal), re-attached when the journal knew them, and cancelled by
    :meth:`cancel_remote` or when the task's deadline passes
    (``TaskTimeoutError``).

    When the backend reports its resource unavailable
    (:func:`~pilot.backends.errors.is_unavailable`, after the job context's
    retries), the resource is reported offline by :meth:`status` for
    ``failure_hold_seconds`` (so QDREAMER's monitor stops choosing it), and a
    task carrying fallbacks is forwarded to the next one, its result returned
    here with the path in ``result.selection["failover"]``.  A forward waits
    outside the compute slot, and at most :data:`FORWARD_SLOTS` wait at once
    (beyond that the original error is raised at once): compute never waits
    on a forward, so pilots failing over to each other cannot deadlock.
    """

    #: Threads that may wait on forwarded tasks at once.
    FORWARD_SLOTS = 4
    #: Ray concurrency group of the control methods, and its threads.
    CONTROL = "control"
    CONTROL_THREADS = 2
    #: Ray concurrency group where :meth:`run_window` calls wait for their tasks, and
    #: its threads (windows beyond that wait in Ray's queue, their tasks in the mailbox).
    WINDOWS = "windows"
    WINDOW_THREADS = 4
    #: Seconds :meth:`run_window` waits for its tasks before failing them.
    WINDOW_WAIT_SECONDS = 600.0

    def __init__(
        self,
        config: QuantumConfig,
        pilot: str,
        num_cpus: float = 1,
        concurrency: int = 1,
        journal: bool = False,
    ) -> None:
        super().__init__(config, pilot, num_cpus)
        #: The driver journals results: encode each here (see :meth:`drain_events`).
        self._journaling = journal
        self._journal: list[tuple[str, bytes]] = []
        self._compute = threading.BoundedSemaphore(max(1, concurrency))
        self._forwards = threading.BoundedSemaphore(self.FORWARD_SLOTS)
        #: Which actor of a fallback pilot the next forwarded task goes to.
        self._fallback_turn = itertools.count()
        self._concurrency = max(1, concurrency)
        self._retry = RetryPolicy.of(config.retries)
        self._hold = float(config.failure_hold_seconds)
        self._lock = threading.Lock()
        self._contexts: dict[str, JobContext] = {}
        #: Each running task's resource, and its remote job once submitted:
        #: (resource, job_id, at), for :meth:`status`.
        self._resource_of: dict[str, str] = {}
        self._open_jobs: dict[str, tuple[str, str, float]] = {}
        self._cancelled: LRUCache[str, str] = LRUCache(maxsize=100_000)
        self._jobs: list[tuple[str, str, float]] = []
        self._failed: list[tuple[str, str]] = []
        #: One row per finished attempt (see :func:`task_row`), until drained.
        self._rows: list[dict[str, Any]] = []
        self._unhealthy: dict[str, tuple[float, str]] = {}
        self._remote = self._init_error is None and resolve_executor(config.executor).remote
        #: Tasks of coalesced windows (fill_window), until their run_window takes them.
        self._mail: dict[str, list[TaskSpec]] = {}
        self._mail_cv = threading.Condition()

    @classmethod
    def max_concurrency(cls, concurrency: int) -> int:
        """Ray threads for an actor computing ``concurrency`` tasks at once."""
        return max(1, concurrency) + 1 + cls.FORWARD_SLOTS

    @classmethod
    def concurrency_groups(cls) -> dict[str, int]:
        return {cls.CONTROL: cls.CONTROL_THREADS, cls.WINDOWS: cls.WINDOW_THREADS}

    # ------------------------------------------------------------ coalesced windows
    def run_window(self, window_id: str, size: int) -> list[Any]:
        """Run the tasks of one coalesced window (see :mod:`pilot.runtime.coalesce`).

        Called (``num_returns=size``) when the driver opens the window, before it
        knows its tasks; waits here for :meth:`fill_window`, runs them as one
        :meth:`run_batch`, and returns ``size`` values: each task's result (or
        its error, raised from that task's ref), then ``None`` for unused slots.
        """
        deadline = time.monotonic() + self.WINDOW_WAIT_SECONDS
        with self._mail_cv:
            while window_id not in self._mail:
                left = deadline - time.monotonic()
                if left <= 0:
                    exc = SchedulingError(
                        f"pilot {self.pilot!r}: window {window_id} received no tasks within "
                        f"{self.WINDOW_WAIT_SECONDS:g} s (did the driver stop?)"
                    )
                    return [RayTaskError("quantum:window", "", exc)] * size
                self._mail_cv.wait(left)
            specs = self._mail.pop(window_id)
        out = self.run_batch(specs) if specs else []
        return [*out, *([None] * (size - len(out)))]

    def fill_window(self, window_id: str, specs: list[TaskSpec]) -> None:
        """The tasks of window ``window_id`` (control group: never waits behind tasks)."""
        with self._mail_cv:
            self._mail[window_id] = specs
            self._mail_cv.notify_all()

    # ------------------------------------------------------------ running
    def run(self, spec: TaskSpec, *args: Any, **kwargs: Any) -> QuantumResult:
        ctx = self._open(spec)
        started = time.time()
        metrics.tasks_started(self.pilot, self.executor, [spec.resource])
        try:
            if ctx.deadline is None:
                result = self._run_in(ctx, spec, args, kwargs)
            else:
                result = self._run_until(ctx, spec, args, kwargs)
        except Exception as exc:
            self._note([spec], [exc], started)
            raise
        finally:
            with self._lock:
                self._contexts.pop(spec.task_id, None)
                self._resource_of.pop(spec.task_id, None)
                self._open_jobs.pop(spec.task_id, None)
        self._note([spec], [result], started)
        return result

    def run_batch(self, specs: Sequence[TaskSpec]) -> list[Any]:
        if self._remote:
            # Remote jobs: each task in its own job context, `concurrency` at once.
            return self._run_each(specs)
        started = time.time()
        metrics.tasks_started(self.pilot, self.executor, [spec.resource for spec in specs])
        with self._compute:
            out = self._run_uncancelled(specs)
        self._note(specs, out, started)
        for i, (spec, value) in enumerate(zip(specs, out, strict=True)):
            cause = value.cause if isinstance(value, RayTaskError) else None
            if isinstance(cause, BaseException) and is_unavailable(cause):
                self._mark_unhealthy(spec.resource, cause)
                if moves_on(spec, cause):
                    try:
                        out[i] = self._forward(spec, cause, spec.args, spec.kwargs)
                    except Exception as exc:
                        out[i] = RayTaskError(spec.stage, traceback.format_exc(), exc)
        return out

    def _run_uncancelled(self, specs: Sequence[TaskSpec]) -> list[Any]:
        """``run_batch`` of the tasks not cancelled (``cancel_remote``) before they
        started; the cancelled ones get their ``TaskCancelledError``."""
        with self._lock:
            reasons = [self._cancelled.get(spec.task_id) for spec in specs]
        if not any(reasons):
            return super().run_batch(specs)
        todo = [spec for spec, why in zip(specs, reasons, strict=True) if why is None]
        ran = iter(super().run_batch(todo) if todo else [])
        out: list[Any] = []
        for spec, why in zip(specs, reasons, strict=True):
            if why is None:
                out.append(next(ran))
                continue
            exc = TaskCancelledError(f"task {spec.task_id} {why}")
            out.append(RayTaskError(spec.stage, "", exc))
        return out

    def _run_each(self, specs: Sequence[TaskSpec]) -> list[Any]:
        def one(spec: TaskSpec) -> Any:
            try:
                return self.run(spec)
            except Exception as exc:
                return RayTaskError(spec.stage, traceback.format_exc(), exc)

        if len(specs) == 1:
            return [one(specs[0])]
        with ThreadPoolExecutor(min(len(specs), self._concurrency)) as pool:
            return list(pool.map(one, specs))

    def _open(self, spec: TaskSpec) -> JobContext:
        deadline = None
        if spec.deadline is not None:
            deadline = time.monotonic() + (spec.deadline - time.time())
        ctx = JobContext(
            spec.task_id,
            deadline=deadline,
            known=list(spec.attach_jobs),
            on_submit=self._report_job,
            retry=self._retry,
        )
        with self._lock:
            reason = self._cancelled.get(spec.task_id)
            self._contexts[spec.task_id] = ctx
            self._resource_of[spec.task_id] = spec.resource
        if reason is not None:
            ctx.cancel(reason)
        return ctx

    def _run_in(
        self, ctx: JobContext, spec: TaskSpec, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> QuantumResult:
        with self._compute:
            try:
                ctx.check()
                held = self._held(spec.resource)
                if held is not None and spec.fallbacks:
                    # Circuit breaker: a resource that keeps failing is not tried again
                    # until its hold ends; the task moves on at once.
                    raise BackendUnavailableError(
                        f"{spec.resource} (pilot {self.pilot}) is held offline after "
                        f"repeated failures: {held}"
                    )
                with running(ctx):
                    return QuantumWorker.run(self, spec, *args, **kwargs)
            except Exception as exc:
                if ctx.cancelled.is_set():  # whatever the SDK raised on the way out
                    raise self._stopped(ctx, spec) from exc
                if not is_unavailable(exc):
                    raise
                self._mark_unhealthy(spec.resource, exc)
                if not moves_on(spec, exc):
                    raise
                failure = exc
        return self._forward(spec, failure, args, kwargs)

    def _run_until(
        self, ctx: JobContext, spec: TaskSpec, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> QuantumResult:
        """Run with a deadline: a late task is cancelled (its remote jobs at their
        provider) and fails with ``TaskTimeoutError``.  A local simulator cannot be
        interrupted: it finishes in the background and its result is dropped."""
        left = ctx.remaining()
        if left is not None and left <= 0:
            ctx.cancel("timed out")
            raise self._stopped(ctx, spec)
        fut: Future[QuantumResult] = Future()

        def body() -> None:
            try:
                fut.set_result(self._run_in(ctx, spec, args, kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=body, name=f"task-{spec.task_id}", daemon=True).start()
        try:
            return fut.result(timeout=left)
        except FutureTimeout:
            ctx.cancel("timed out")
            raise self._stopped(ctx, spec) from None

    def _stopped(self, ctx: JobContext, spec: TaskSpec) -> Exception:
        jobs = [jid for jid, _ in ctx.jobs]
        where = f"; remote jobs cancelled: {', '.join(jobs)}" if jobs else ""
        if ctx.reason == "timed out":
            return TaskTimeoutError(
                f"task {spec.task_id} ({spec.stage}) did not finish within "
                f"timeout_seconds={spec.timeout:g}{where}"
            )
        return TaskCancelledError(f"task {spec.task_id} ({spec.stage}) was cancelled{where}")

    # ------------------------------------------------------------ control (group CONTROL)
    def cancel_remote(self, task_ids: Sequence[str], reason: str = "was cancelled") -> list[str]:
        """Cancel these tasks: running ones at their provider, later ones before they start.

        Returns the remote job ids cancelled."""
        out: list[str] = []
        for task_id in task_ids:
            with self._lock:
                self._cancelled[task_id] = reason
                ctx = self._contexts.get(task_id)
            if ctx is not None:
                out += ctx.cancel(reason)
        return out

    def drain_events(self) -> dict[str, list[Any]]:
        """Since the last call: ``jobs``, the ``(task_id, job_id, at)`` of remote jobs
        created (``at``: when, seconds since the epoch); ``failing``, the
        ``(pilot, resource)`` marked failing here;
        ``rows``, a :func:`task_row` per attempt finished here; ``journal``, the
        ``(task_id, record)`` of each result made here (:func:`encode_outcome`), when
        the driver journals."""
        with self._lock:
            out: dict[str, list[Any]] = {
                "jobs": self._jobs,
                "failing": self._failed,
                "rows": self._rows,
                "journal": self._journal,
            }
            self._jobs, self._failed, self._rows, self._journal = [], [], [], []
        # Ray's metrics recorded here, in bulk, off the task path.
        metrics.attempts_finished(out["rows"])
        metrics.publish_running()
        return out

    def _note(self, specs: Sequence[TaskSpec], values: Sequence[Any], started: float) -> None:
        """Rows for attempts that ended here (one forwarded elsewhere is noted there)."""
        rows = [
            task_row(spec, value, self.pilot, self.executor, started)
            for spec, value in zip(specs, values, strict=True)
            if not (isinstance(value, QuantumResult) and value.pilot != self.pilot)
        ]
        # The journal's copy of each result made here, on the pilot: the driver then
        # journals it without fetching and decoding the result itself.
        records = [
            (spec.task_id, encode_outcome(value))
            for spec, value in zip(specs, values, strict=True)
            if self._journaling and isinstance(value, QuantumResult) and value.pilot == self.pilot
        ]
        with self._lock:
            self._rows.extend(rows)
            self._journal.extend(records)
        metrics.tasks_ended(self.pilot, self.executor, [spec.resource for spec in specs])

    def _report_job(self, task_id: str, job_id: str) -> None:
        at = time.time()
        with self._lock:
            self._jobs.append((task_id, job_id, at))
            resource = self._resource_of.get(task_id)
            if resource is not None and task_id not in self._open_jobs:
                self._open_jobs[task_id] = (resource, job_id, at)

    def status(self, resource: str) -> ResourceStatus:
        """The provider's status, or offline while the resource is held as failing."""
        held = self._held(resource)
        if held is not None:
            return ResourceStatus(online=False, message=f"failing: {held}"[:300])
        status = super().status(resource)
        with self._lock:  # (after the provider answered: each job carries its own time)
            mine = tuple(
                (task_id, job_id, at)
                for task_id, (res, job_id, at) in self._open_jobs.items()
                if res == resource
            )
        return replace(status, submitted=mine) if mine else status

    def _held(self, resource: str) -> str | None:
        """Why ``resource`` is held offline (its calls kept failing), or ``None``."""
        with self._lock:
            mark = self._unhealthy.get(resource)
            if mark is not None and time.monotonic() - mark[0] >= self._hold:
                del self._unhealthy[resource]
                return None
        return mark[1] if mark is not None else None

    def _mark_unhealthy(self, resource: str, exc: BaseException) -> None:
        with self._lock:
            self._unhealthy[resource] = (time.monotonic(), f"{type(exc).__name__}: {exc}")
            self._failed.append((self.pilot, resource))
        logger.warning(
            "pilot %s: %s failing (%s); reported offline for %g s",
            self.pilot,
            resource,
            exc,
            self._hold,
        )

    def _fallback_actor(self, nxt: Fallback, exc: BaseException) -> Any:
        """A live actor of the fallback's pilot, looked up by name (in turn, so that
        tasks moving together spread over its actors); ``exc`` again if none is left."""
        names = nxt.actors
        start = next(self._fallback_turn)
        for k in range(len(names)):
            name = names[(start + k) % len(names)]
            try:
                return ray.get_actor(name)
            except ValueError:  # that actor is gone for good (its pilot failed or ended)
                continue
        raise exc

    def _forward(
        self, spec: TaskSpec, exc: BaseException, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> QuantumResult:
        if not args and not kwargs:  # a task of a batch: its arguments travel in its spec
            args, kwargs = spec.args, spec.kwargs
        if spec.fallbacks and spec.fallbacks[0].pilot == self.pilot:
            # Another resource of this pilot (e.g. its next device): run it here, in
            # this thread.  No forward slot is taken, so a burst of tasks leaving a
            # failing device all move, however many there are.
            moved = failed_over(spec, exc)
            logger.warning(
                "task %s: %s unavailable (%s); moving to %s",
                spec.task_id,
                spec.resource,
                exc,
                moved.resource,
            )
            return self.run(moved, *args, **kwargs)
        if not self._forwards.acquire(blocking=False):
            raise exc  # every forward slot is waiting: fail now rather than risk a wait cycle
        try:
            moved = failed_over(spec, exc)
            nxt = spec.fallbacks[0]
            logger.warning(
                "task %s: %s unavailable (%s); moving to %s/%s",
                spec.task_id,
                spec.resource,
                exc,
                nxt.pilot,
                nxt.resource,
            )
            actor = self._fallback_actor(nxt, exc)
            ref = actor.run.options(name=moved.stage).remote(moved, *args, **kwargs)
            result: QuantumResult = ray.get(ref)
            return result
        finally:
            self._forwards.release()

"""``PilotComputeService``: pilots on Ray, and the tasks that run on them."""

from __future__ import annotations

import enum
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ray

from pilot.backends.registry import check_installed, resolve_executor
from pilot.config import parse_description, service_defaults
from pilot.errors import (
    ConfigError,
    JournalCorruptError,
    JournalError,
    PilotError,
    ServiceClosedError,
)
from pilot.journal.bucket import ResultStore, parse_url
from pilot.journal.store import TaskJournal
from pilot.launchers import launcher_for
from pilot.observe.report import METRICS_FILE, Report, TaskLog
from pilot.pilots.actor import PilotActor
from pilot.pilots.pilot import ClassicalPilot, Pilot, QuantumPilot
from pilot.redaction import tighten_ray_token
from pilot.results import QuantumResult
from pilot.runtime.cluster import check_reachable, join_error, running_local_cluster
from pilot.runtime.coalesce import Coalescer
from pilot.runtime.dependencies import (
    ClassicalFunction,
    Dependencies,
    QuantumFunction,
)
from pilot.runtime.registry import PilotRegistry
from pilot.runtime.resume import Resume
from pilot.runtime.submit import Submission
from pilot.runtime.supervisor import Supervisor
from pilot.runtime.waiting import Waiting
from pilot.selection import QDreamer
from pilot.states import RecordKind
from pilot.tasks import QuantumTask, TaskSpec

logger = logging.getLogger(__name__)


class ExecutionEngine(enum.StrEnum):
    """Where pilots run.  Ray is the only engine."""

    RAY = "ray"


class PilotComputeService:
    """Creates pilots on a Ray cluster and runs classical and quantum tasks on them.

    Args:
        execution_engine: ``ExecutionEngine.RAY`` (or ``"ray"``).
        working_directory: where the service keeps its files (created if missing).
        ray_address: a Ray cluster to join (``"auto"``, ``"ray://..."``,
            ``"host:port"``); else ``RAY_ADDRESS``; else, if this process is
            not connected to Ray yet, a local Ray instance is started (its
            dashboard, if installed, binds to 127.0.0.1).
        num_cpus: CPUs of the local instance (default: all, or ``conf/``).
        ray_init_kwargs: extra ``ray.init`` arguments for the local instance.
        resume: continue the last run recorded in ``working_directory``'s task
            journal: a task submitted again (the same description, in the
            same order) whose result is journaled returns it without running;
            a quantum task whose remote jobs were submitted re-attaches to
            them; the others run.  ``False`` starts a new run (the file keeps
            the latest ``[service] journal_keep_runs`` runs).
        journal: record every task (description hash, states, chosen
            resource, remote job ids, result; classical results up to 1 MiB)
            in ``<working_directory>/journal.sqlite3`` (see :mod:`pilot.journal.store`).
        results_store: ``"s3://bucket/prefix"`` (or ``[service] results_store``):
            every finished quantum result is also written there as JSON, one
            object per task under the run's id (credentials and endpoint from
            the environment, as for the AWS CLI); ``load_results()`` reads them
            back.  See :mod:`pilot.journal.bucket`.

    The service only stops what it started: ``cancel()`` releases its pilots
    and, if it started the local Ray instance, shuts that down; a cluster it
    joined keeps running.  Use it as a context manager to cancel on exit.
    """

    def __init__(
        self,
        execution_engine: ExecutionEngine | str = ExecutionEngine.RAY,
        working_directory: str | os.PathLike[str] | None = None,
        ray_address: str | None = None,
        *,
        num_cpus: int | None = None,
        ray_init_kwargs: Mapping[str, Any] | None = None,
        resume: bool = False,
        journal: bool = True,
        results_store: str | None = None,
    ) -> None:
        if resume and not journal:
            raise ConfigError(
                "resume=True reads the task journal: drop journal=False", key="resume"
            )
        try:
            self.execution_engine = ExecutionEngine(
                execution_engine.value
                if isinstance(execution_engine, ExecutionEngine)
                else str(execution_engine).lower()
            )
        except ValueError:
            raise ConfigError.unknown(
                "execution engine", "execution_engine", str(execution_engine), ["ray"]
            ) from None
        defaults = service_defaults()
        store_url = results_store or defaults.get("results_store")
        if store_url:
            parse_url(store_url)  # a bad URL fails before Ray starts
        self.working_directory = (
            Path(working_directory or defaults["working_directory"]).expanduser().resolve()
        )
        # Private: the journal in it holds results.
        self.working_directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._owns_ray = False
        self._connect(
            ray_address,
            num_cpus if num_cpus is not None else int(defaults["num_cpus"]) or None,
            dict(ray_init_kwargs or {}),
        )
        self._registry = PilotRegistry()
        self._selector = QDreamer(self._registry.quantum)
        self.qdreamer: QDreamer | None = None
        self.journal: TaskJournal | None = self._open_journal(resume) if journal else None
        #: Per-task rows from the pilots: ``<working_directory>/tasks.csv`` and report().
        self._tasks = TaskLog(self.working_directory / METRICS_FILE)
        self.results_store: ResultStore | None = None
        if store_url:
            run_id = self.journal.run_id if self.journal is not None else None
            self.results_store = ResultStore(store_url, run_id=run_id)
        self._deps = Dependencies()
        #: Single submissions that arrive close together share actor calls (pilot.runtime.coalesce).
        self._coalescer = Coalescer()
        self._supervisor = Supervisor(
            self._registry, _Dispatch(self), self.journal, self.results_store
        )
        self._submit = Submission(
            self._registry,
            self._selector,
            self._supervisor,
            Resume(self.journal, resume, self._supervisor),
            self._deps,
            self._coalescer,
        )
        self._waiting = Waiting(self._supervisor, self._tasks, self._coalescer.flush)
        self._closed = False
        self._supervisor.start()

    def _open_journal(self, resume: bool) -> TaskJournal | None:
        """The task journal; a fresh run whose journal another driver holds goes without."""
        try:
            keep = service_defaults().get("journal_keep_runs")
            return TaskJournal(self.working_directory, resume=resume, keep_runs=keep)
        except JournalCorruptError:
            raise
        except JournalError as exc:
            if resume or "in use" not in str(exc):
                raise
            logger.warning(
                "%s; this driver runs without a task journal (give it its own "
                "working_directory to journal its tasks)",
                exc,
            )
            return None

    # ------------------------------------------------------------ Ray connection
    def _connect(self, address: str | None, num_cpus: int | None, extra: dict[str, Any]) -> None:
        """Connect to Ray, and say which Ray it is (:attr:`ray_origin`).

        An address given (``ray_address``, else ``RAY_ADDRESS``) is joined;
        ``"local"`` starts a new local instance.  With neither, Ray itself would
        join the cluster last started with ``ray start`` on this machine (its
        address file), whose workers may run another Python environment: that
        is done, but said in a warning, in ``repr(pcs)`` and in ``pcs.report()``.
        """
        if ray.is_initialized():
            if address:
                logger.warning("already connected to Ray; ignoring ray_address=%r", address)
            self.ray_address = ray.get_runtime_context().gcs_address
            self.ray_origin = f"the Ray cluster this process was connected to ({self.ray_address})"
            logger.info("using %s", self.ray_origin)
            return
        given = "ray_address" if address else "RAY_ADDRESS"
        address = address or os.environ.get("RAY_ADDRESS") or None
        running = None if address else running_local_cluster(extra.get("_temp_dir"))
        if address and address != "local":
            # ray.init takes RAY_ADDRESS in place of "auto" (ray/_private/worker.py, init).
            check_reachable(
                (os.environ.get("RAY_ADDRESS") or address) if address == "auto" else address
            )
            try:
                ray.init(address=address, **extra)
            except ConnectionError as exc:
                raise join_error(address, exc) from exc
            self.ray_address = ray.get_runtime_context().gcs_address
            self.ray_origin = f"joined the Ray cluster at {self.ray_address} ({given}={address})"
            logger.info("%s", self.ray_origin)
        elif running is not None:
            try:
                ray.init(address=running, **extra)
            except ConnectionError as exc:
                raise join_error(running, exc) from exc
            self.ray_address = ray.get_runtime_context().gcs_address
            self.ray_origin = (
                f"joined the Ray cluster already running on this machine at {self.ray_address} "
                f"(started with `ray start`; its workers run the Python it was started with); "
                f"for a new local instance pass ray_address='local' or set RAY_ADDRESS=local"
            )
            logger.warning("%s", self.ray_origin)
        else:
            extra.setdefault("dashboard_host", "127.0.0.1")
            ray.init(address="local", num_cpus=num_cpus, **extra)
            tighten_ray_token()
            self.ray_address = ray.get_runtime_context().gcs_address
            cpus = ray.cluster_resources().get("CPU", 0)
            self.ray_origin = (
                f"started a new local Ray instance at {self.ray_address} ({cpus:g} CPUs; "
                f"workers run {sys.executable})"
            )
            logger.info("%s", self.ray_origin)
        self._owns_ray = True

    # ------------------------------------------------------------ pilots
    def create_pilot(
        self, pilot_compute_description: Mapping[str, Any] | None = None, **description: Any
    ) -> Pilot:
        """Create a pilot from a description dict and wait until it is running.

        A Slurm pilot (``"resource": "slurm://localhost"``) returns once its job
        is submitted (state PENDING): ``pilot.wait(timeout)`` returns when the
        job's Ray nodes have registered.

        Raises ``ConfigError`` for a wrong description, ``PilotStartError`` when
        its capacity or backend cannot come up, ``CredentialsError`` /
        ``MissingDependencyError`` for the executor's prerequisites.
        """
        self._check_open()
        if pilot_compute_description is not None and not isinstance(
            pilot_compute_description, Mapping
        ):
            raise ConfigError(
                "pilot_compute_description must be a dict like {'resource_type': 'quantum', "
                f"'quantum': {{'executor': 'qiskit_local'}}}}, got "
                f"{type(pilot_compute_description).__name__}",
                key="pilot_compute_description",
            )
        desc = dict(pilot_compute_description or {}, **description)
        config = parse_description(desc)
        name = config.name or self._registry.new_name(config)
        if config.working_directory is None:
            config = config.model_copy(
                update={"working_directory": str(self.working_directory / "pilots" / name)}
            )
        self._registry.check_free(name)  # before anything is checked or started
        if config.quantum is not None:
            check_installed(resolve_executor(config.quantum.executor))
        launcher = launcher_for(config.resource)
        pilot: Pilot
        if config.resource_type == "quantum":
            pilot = QuantumPilot(name, config, launcher, journal=self.journal is not None)
        else:
            pilot = ClassicalPilot(name, config, launcher)
        self._registry.add(pilot)
        logger.info("pilot %s %s (%s)", name, pilot.state, pilot.resource_type)
        return pilot

    @property
    def pilots(self) -> list[Pilot]:
        return list(self._registry.pilots.values())

    def get_pilot(self, name: str) -> Pilot:
        return self._registry.get(name)

    def initialize_dreamer(
        self,
        objective: str | None = None,
        weights: Mapping[str, float] | None = None,
        cache_ttl_seconds: float | None = None,
        monitor_interval_seconds: float | None = None,
        max_cost_per_task: float | None = None,
        *,
        min_fidelity: float | None = None,
        deadline_seconds: float | None = None,
        providers: Sequence[str] | None = None,
        resources: Sequence[str] | None = None,
        failover_attempts: int | None = None,
        max_fidelity_loss: float | None = None,
        fidelity_budget: str | None = None,
    ) -> QDreamer:
        """Turn on QDREAMER ranking across every quantum pilot (``pcs.qdreamer``).

        ``objective`` is ``"fidelity"`` (the default), ``"speed"``, ``"cost"``
        or ``"balanced"`` (or give ``weights={"fidelity": 1, "time": .5,
        "cost": .1}``); the rest are limits and cache settings (defaults in
        ``conf/defaults.toml``, table ``[dreamer]``).  Starts the background
        monitor that keeps remote resources' queue and status fresh.

        ``max_fidelity_loss=0.02`` turns on load-aware placement: each task may
        go to any resource whose estimated fidelity is at least 98 % of the
        best feasible one, and goes to the one that finishes first (counting
        provider queues and our own tasks placed there) unless the
        best-fidelity one finishes within ten minutes (or 10 %) of it;
        bursts and sweeps spread as the queues they make grow
        (:mod:`dreamer.placement`).  ``fidelity_budget="mean"`` holds the
        budget on average over the last 1,000 tasks instead (one task may lose
        up to five times it), for fleets where the best device is far ahead.
        """
        self._check_open()
        self._selector.configure(
            objective=objective,
            weights=weights,
            cache_ttl_seconds=cache_ttl_seconds,
            monitor_interval_seconds=monitor_interval_seconds,
            max_cost_per_task=max_cost_per_task,
            min_fidelity=min_fidelity,
            deadline_seconds=deadline_seconds,
            providers=providers,
            resources=resources,
            failover_attempts=failover_attempts,
            max_fidelity_loss=max_fidelity_loss,
            fidelity_budget=fidelity_budget,
        )
        self.qdreamer = self._selector
        return self.qdreamer

    def estimate_cost(self, task: QuantumTask, resource: str | None = None) -> dict[str, Any]:
        """Price ``task`` before running it (on ``resource``, or QDREAMER's choice).

        Returns ``total_cost``, ``currency``, ``estimated_time_minutes``,
        ``estimated_run_seconds``, ``expected_wait_seconds``, ``resource``,
        ``pilot`` and where the price comes from.
        """
        self._check_open()
        return self._selector.estimate_cost(task, resource)

    # ------------------------------------------------------------ quantum tasks
    def submit_quantum_task(self, quantum_task: QuantumTask) -> Any:
        """Run ``quantum_task`` on a quantum pilot; returns an ObjectRef of a ``QuantumResult``.

        The ref works with ``ray.get``/``ray.wait`` and as an argument of other
        Ray tasks.  Selection and input errors are raised here, at once;
        errors while running are raised by ``get_results`` (or ``ray.get``).

        A sweep (``QuantumTask(..., parameter_values=[...])``) returns a list
        of ObjectRefs, one per parameter set, in order: see
        :meth:`submit_quantum_tasks` for how it is batched.
        """
        self._check_open()
        return self._submit.quantum_task(quantum_task)

    def submit_quantum_tasks(
        self, quantum_tasks: Sequence[QuantumTask], *, chunk_size: int | None = None
    ) -> list[Any]:
        """Submit many tasks at once; one ObjectRef per task, in order (a list of refs
        for a sweep).

        Tasks are grouped per pilot and sent to its actors in chunks, each run
        by the backend in as few SDK calls as possible (Aer runs a chunk as one
        job, Braket a ``run_batch``).  A sweep's parameter sets are spread over
        every pilot holding the chosen resource.  A failing task fails only
        its own ref.
        """
        self._check_open()
        return self._submit.quantum_tasks(quantum_tasks, chunk_size=chunk_size)

    # ------------------------------------------------------------ DAG API
    def quantum(self, circuit: Any, **options: Any) -> QuantumFunction:
        """``circuit`` (a circuit, or a function building one) as a quantum function.

        ``options`` are ``QuantumTask``'s (``num_qubits``, ``shots``,
        ``observables``...).  ``.remote(*args)`` submits it now (an ObjectRef);
        ``.bind(*args)`` makes a node of a Ray DAG, submitted, with QDREAMER's
        choice made, when the DAG executes.  Arguments may be ObjectRefs or
        DAG nodes: the circuit function receives their values on the worker.
        """
        self._check_open()
        return QuantumFunction(self, circuit, **options)

    def quantum_task(
        self, circuit: Any = None, **options: Any
    ) -> QuantumFunction | Callable[[Any], QuantumFunction]:
        """Decorator form of :meth:`quantum`: ``@pcs.quantum_task(num_qubits=2, shots=1000)``
        (or bare ``@pcs.quantum_task``)."""
        if circuit is not None:
            return self.quantum(circuit, **options)
        return lambda fn: self.quantum(fn, **options)

    def task(
        self, fn: Callable[..., Any] | None = None, **options: Any
    ) -> ClassicalFunction | Callable[[Callable[..., Any]], ClassicalFunction]:
        """Decorator: ``@pcs.task(pilot="cpu", num_cpus=1)`` makes a classical function
        with ``.remote`` (runs through :meth:`submit_task`) and ``.bind`` (a DAG node)."""
        self._check_open()
        if fn is not None:
            return ClassicalFunction(self, fn, **options)
        return lambda f: ClassicalFunction(self, f, **options)

    def cancel_task(self, ref: Any, *, force: bool = False) -> int:
        """Cancel the task of ``ref`` and the upstream tasks that nothing else needs.

        Upstream tasks are those whose ObjectRefs were arguments of it (through
        this service or a DAG), recursively; one is kept when another pending
        task consumes it or the program still holds its ref.  ``force`` kills
        the worker running a task (Ray's ``force``; not for actor tasks).
        Returns how many tasks were asked to cancel; ``ray.get`` of a
        cancelled ref raises ``TaskCancelledError``.
        """
        if not isinstance(ref, ray.ObjectRef):
            raise ConfigError(
                f"cancel_task takes an ObjectRef, got {type(ref).__name__}", key="ref"
            )
        self._coalescer.flush()  # a task still in a window is skipped by its actor
        ref = self._supervisor.resolve(ref)
        n = self._deps.cancel(
            ref,
            force=force,
            held_outside=self._supervisor.held_outside,
            on_cancel=self._cancel_remote,
        )
        rec = self._supervisor.record(ref)
        logger.info(
            "task %s: cancel requested (%d task(s) with its unneeded inputs)",
            rec.task_id if rec else ref.hex(),
            n,
        )
        return n

    def _cancel_remote(self, ref: Any) -> bool:
        """Cancelling a quantum task tells its actor, which cancels its remote jobs at
        their provider and skips it if it has not started.  True when that is all
        there is to do: the task shares its actor call with others (a chunk of
        ``submit_quantum_tasks``), which ``ray.cancel`` would cancel too."""
        rec = self._supervisor.record(ref)
        if rec is None or rec.kind is not RecordKind.QUANTUM or rec.actor is None or rec.done:
            return False

        rec.actor.cancel_remote.options(concurrency_group=PilotActor.CONTROL).remote([rec.task_id])
        return rec.batched

    # ------------------------------------------------------------ classical tasks
    def submit_task(
        self,
        fn: Callable[..., Any],
        *args: Any,
        pilot: str | None = None,
        resources: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` as a Ray task; returns its ``ray.ObjectRef``.

        ``pilot`` names a classical pilot (default: the first one, or plain
        Ray capacity when there is none); ``resources`` takes ``num_cpus``
        (default 1, or a pilot node's CPUs when it has fewer), ``num_gpus``
        and ``memory``.  A request that could never be placed is refused here
        with ``SchedulingError`` rather than waiting.

        With the journal on, the task's result is journaled when it is small
        (at most :data:`pilot.runtime.supervisor.CLASSICAL_RESULT_LIMIT` bytes), so a
        resumed driver gets it back without running ``fn`` again.
        """
        self._check_open()
        if not callable(fn):
            raise ConfigError(f"submit_task needs a function, got {type(fn).__name__}", key="fn")
        return self._submit.classical(fn, args, kwargs, pilot, dict(resources or {}))

    # ------------------------------------------------------------ results
    def wait_tasks(
        self, refs: Sequence[Any], timeout: float | None = None, *, progress: bool | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Wait until every ref is ready or ``timeout`` passes; returns ``(ready, not_ready)``.

        ``progress``: show a progress bar (default: when waiting for several
        tasks in a terminal or notebook; see :mod:`pilot.observe.progress`).
        """
        return self._waiting.wait_tasks(refs, timeout, progress=progress)

    def get_results(
        self,
        refs: Any,
        return_exceptions: bool = False,
        timeout: float | None = None,
        *,
        progress: bool | None = None,
    ) -> Any:
        """Results of ``refs`` (a ref or a list), in order.

        A task that failed raises ``TaskFailedError`` naming it, chained to the
        original exception (with the worker's traceback); with
        ``return_exceptions=True`` the ``TaskFailedError`` is returned in its
        place.  ``timeout`` (seconds) bounds the wait: ``TaskTimeoutError``.
        ``progress``: as for :meth:`wait_tasks`.
        """
        return self._waiting.get_results(refs, return_exceptions, timeout, progress=progress)

    def report(self) -> Report:
        """Tasks per pilot and resource so far: attempts, failures, mean queue and run
        seconds, estimated cost (see :class:`pilot.observe.report.Report`).  ``print()`` it in a
        terminal; a notebook shows it as a table; ``.to_json()`` for scripts.  The
        per-task rows are in :attr:`metrics_file`."""
        self._coalescer.flush()
        self._supervisor.sync()
        self._supervisor.drain_events(everyone=True)
        report = self._tasks.report()
        report.pilots = [p.summary() for p in self._registry.pilots.values()]
        report.ray = self.ray_origin
        return report

    def load_results(self, prefix: str | None = None) -> list[QuantumResult]:
        """Results written to the results store: this run's (``prefix=None``), or those
        under ``prefix`` (a run id, a sub-prefix, or an ``s3://`` URL).  Pending writes
        are flushed first."""
        if self.results_store is None:
            raise ConfigError(
                "this service has no results store: pass results_store='s3://bucket/prefix' "
                "(or set [service] results_store), or use pilot.journal.bucket.load_results(url)",
                key="results_store",
            )
        store = self.results_store
        self._supervisor.sync()  # results finished by now are handed to the store
        store.flush()
        return store.load(store.run_id if prefix is None else prefix)

    @property
    def metrics_file(self) -> Path | None:
        """``<working_directory>/tasks.csv``: one row per finished task attempt."""
        return self._tasks.path

    # ------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self._closed:
            raise ServiceClosedError("this PilotComputeService was cancelled; create a new one")

    def cancel(self) -> None:
        """Release every pilot this service made; shut down Ray only if it started it."""
        if self._closed:
            return
        self._closed = True
        self._coalescer.close()
        self._selector.close()
        self._supervisor.stop()
        if self.journal is not None:
            self.journal.close()
        if self.results_store is not None:
            self.results_store.close(timeout=60)
        errors: list[BaseException] = []
        for pilot in list(self._registry.pilots.values()):
            try:
                pilot.cancel()
            except PilotError as exc:
                errors.append(exc)
        if self._owns_ray:
            ray.shutdown()
        logger.info("service cancelled (%d pilots)", len(self._registry.pilots))
        if errors:
            raise errors[0]

    def __enter__(self) -> PilotComputeService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def __repr__(self) -> str:
        return (
            f"PilotComputeService(working_directory={str(self.working_directory)!r}, "
            f"pilots={sorted(self._registry.pilots)}, closed={self._closed}, "
            f"ray={self.ray_origin!r})"
        )


class _Dispatch:
    """The service as its supervisor sees it (:class:`~pilot.runtime.supervisor.Dispatcher`):
    the supervisor calls these, never the service's own attributes."""

    def __init__(self, service: PilotComputeService) -> None:
        self._s = service

    def tasks_ended(self, task_ids: Iterable[str]) -> None:
        self._s._selector.ended(task_ids)

    def jobs_submitted(self, jobs: Iterable[tuple[str, str, float]]) -> None:
        self._s._selector.submitted(jobs)

    def prune_dependencies(self, alive: set[bytes]) -> None:
        self._s._deps.prune(alive)

    def upstream(self, key: bytes) -> Iterable[bytes]:
        return self._s._deps.upstream(key)

    def resource_failed(self, pilot: str | None, resource: str | None) -> None:
        """A task left ``resource`` of ``pilot`` because it kept failing: ask the monitor
        to re-check it now (its actor reports it offline for a while)."""
        if pilot and resource:
            self._s._selector.monitor.request(f"{pilot}/{resource}")

    def record_rows(self, rows: Iterable[Any]) -> None:
        self._s._tasks.add(rows)

    def dispatch(self, prepared: Sequence[tuple[QuantumPilot, TaskSpec]]) -> list[Any]:
        return self._s._submit.dispatch(prepared, None)

    def submit_classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        resources: dict[str, Any],
        task_id: str | None,
    ) -> Any:
        return self._s._submit.classical(fn, args, kwargs, pilot, resources, task_id=task_id)

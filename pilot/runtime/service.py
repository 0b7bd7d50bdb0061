"""``PilotComputeService``: pilots on Ray, and the tasks that run on them."""

from __future__ import annotations

import enum
import inspect
import logging
import math
import os
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from cachetools import LRUCache
from ray.remote_function import RemoteFunction

from dreamer.ranking import RankedResource
from pilot.backends.registry import check_installed, resolve_executor
from pilot.config import parse_description, service_defaults
from pilot.errors import (
    ConfigError,
    JournalCorruptError,
    JournalError,
    PilotError,
    PilotLostError,
    SchedulingError,
    ServiceClosedError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
    closest,
)
from pilot.journal.bucket import ResultStore, parse_url
from pilot.journal.store import TaskJournal, description_hash
from pilot.launchers import launcher_for
from pilot.observe.progress import Bar, progress_bar
from pilot.observe.report import METRICS_FILE, Report, TaskLog
from pilot.pilots.actor import Fallback, PilotActor
from pilot.pilots.pilot import ClassicalPilot, Pilot, QuantumPilot
from pilot.redaction import tighten_ray_token
from pilot.results import QuantumResult, decode_outcome
from pilot.runtime.cluster import check_reachable, join_error, running_local_cluster
from pilot.runtime.coalesce import Coalescer
from pilot.runtime.dependencies import (
    ClassicalFunction,
    Dependencies,
    QuantumFunction,
    failed_stage,
)
from pilot.runtime.supervisor import Record, Supervisor, held_by
from pilot.selection import QDreamer, candidate_summary
from pilot.states import PilotState
from pilot.tasks import CircuitBlob, QuantumTask, TaskSpec, check_declared, new_task_id

if TYPE_CHECKING:
    from pilot.journal.bucket import ResultStore

logger = logging.getLogger(__name__)

#: Keys accepted in ``submit_task(..., resources={...})``.
TASK_RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")


class ExecutionEngine(enum.StrEnum):
    """Where pilots run.  Ray is the only engine."""

    RAY = "ray"


def _as_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``ray.remote`` takes only Python functions: wrap builtins and callable objects."""
    if inspect.isfunction(fn):
        return fn

    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    call.__name__ = call.__qualname__ = getattr(fn, "__name__", type(fn).__name__)
    return call


def _layout(chosen: Any) -> tuple[int, ...] | None:
    """QDREAMER's layout for devices with a coupling map (where transpilers place qubits)."""
    if isinstance(chosen, RankedResource) and chosen.resource.coupling_map is not None:
        return tuple(chosen.breakdown["layout"]) or None
    return None


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
        self._pilots: dict[str, Pilot] = {}
        self._quantum: dict[str, QuantumPilot] = {}
        self._selector = QDreamer(self._quantum)
        self.qdreamer: QDreamer | None = None
        self._resume = resume
        self.journal: TaskJournal | None = self._open_journal(resume) if journal else None
        #: Per-task rows from the pilots: ``<working_directory>/tasks.csv`` and report().
        self._tasks = TaskLog(self.working_directory / METRICS_FILE)
        self.results_store: ResultStore | None = None
        if store_url:
            run_id = self.journal.run_id if self.journal is not None else None
            self.results_store = ResultStore(store_url, run_id=run_id)
        self._supervisor = Supervisor(_Dispatch(self), self.journal, self.results_store)
        self._remote_fns: dict[Callable[..., Any], Any] = {}
        self._deps = Dependencies()
        self._fits: set[tuple[float, float, int | None]] = set()
        self._optioned: LRUCache[tuple[Any, ...], Any] = LRUCache(maxsize=4096)
        self._methods: LRUCache[tuple[int, str, str], tuple[Any, Any]] = LRUCache(maxsize=4096)
        #: Single submissions that arrive close together share actor calls (pilot.runtime.coalesce).
        self._coalescer = Coalescer()
        #: The last circuit blob made, and what is known of recent blobs' circuits (their
        #: description hash, their loaded form): a loop submitting one circuit pays once.
        self._last_blob: CircuitBlob | None = None
        self._circuit_hashes: LRUCache[bytes, str] = LRUCache(maxsize=64)
        self._description_hashes: LRUCache[tuple[Any, ...], str] = LRUCache(maxsize=64)
        self._loaded: LRUCache[bytes, Any] = LRUCache(maxsize=64)
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
        """Create a pilot from a description dict (seed 001 keys) and wait until it is running.

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
        name = config.name or self._auto_name(config)
        if config.working_directory is None:
            config = config.model_copy(
                update={"working_directory": str(self.working_directory / "pilots" / name)}
            )
        if name in self._pilots:
            raise ConfigError(
                f"a pilot named {name!r} already exists; choose another name", key="name"
            )
        if config.quantum is not None:
            check_installed(resolve_executor(config.quantum.executor))
        launcher = launcher_for(config.resource)
        pilot: Pilot
        if config.resource_type == "quantum":
            pilot = QuantumPilot(name, config, launcher, journal=self.journal is not None)
        else:
            pilot = ClassicalPilot(name, config, launcher)
        self._pilots[name] = pilot
        try:
            pilot.start()
        except BaseException:
            del self._pilots[name]
            raise
        if isinstance(pilot, QuantumPilot):
            self._quantum[name] = pilot
        logger.info("pilot %s %s (%s)", name, pilot.state, pilot.resource_type)
        return pilot

    def _auto_name(self, config: Any) -> str:
        base = config.quantum.executor if config.quantum is not None else "classical"
        for i in range(len(self._pilots) + 1):
            name = f"{base}-{i}"
            if name not in self._pilots:
                return name
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def pilots(self) -> list[Pilot]:
        return list(self._pilots.values())

    def get_pilot(self, name: str) -> Pilot:
        try:
            return self._pilots[name]
        except KeyError:
            raise ConfigError.unknown("pilot", "pilot", name, self._pilots) from None

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
    ) -> QDreamer:
        """Turn on QDREAMER ranking across every quantum pilot (``pcs.qdreamer``).

        ``objective`` is ``"fidelity"`` (the default), ``"speed"``, ``"cost"``
        or ``"balanced"`` (or give ``weights={"fidelity": 1, "time": .5,
        "cost": .1}``); the rest are limits and cache settings (defaults in
        ``conf/defaults.toml``, table ``[dreamer]``).  Starts the background
        monitor that keeps remote resources' queue and status fresh.
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
    def _prepare(self, qt: QuantumTask) -> tuple[QuantumPilot, TaskSpec]:
        self._check_open()
        if not isinstance(qt, QuantumTask):
            raise ConfigError(
                f"submit_quantum_task takes a QuantumTask, got {type(qt).__name__}; wrap the "
                "circuit: QuantumTask(circuit, shots=...)",
                key="quantum_task",
            )
        circuit = CircuitBlob.of(qt.circuit, self._last_blob)
        if isinstance(circuit, CircuitBlob):
            self._last_blob = circuit
        loaded = self._load_on_driver(qt, circuit)
        if loaded is not None:
            check_declared(qt.num_qubits, qt.gate_set, loaded.num_qubits, loaded.gates, qt.name)
        memory = qt.resource_config["memory"]
        if memory:
            self._check_memory(memory)
        chosen, alternatives = self._selector.choose(qt, loaded)
        pilot = self._quantum[chosen.resource.pilot]
        objective = self._selector.ranker.objective
        fallbacks = tuple(
            Fallback(
                actor=self._quantum[alt.resource.pilot].next_actor(),
                pilot=alt.resource.pilot,
                resource=alt.resource.name,
                layout=_layout(alt),
                selection=candidate_summary(alt, objective),
            )
            for alt in alternatives
        )
        spec = TaskSpec(
            task_id=new_task_id(),
            name=qt.name,
            circuit=circuit,
            shots=qt.shots,
            pilot=pilot.name,
            resource=chosen.resource.name,
            num_qubits=qt.num_qubits,
            gate_set=tuple(qt.gate_set) if qt.gate_set is not None else None,
            submitted_at=time.time(),
            layout=_layout(chosen),
            selection=candidate_summary(chosen, objective) if self._selector.enabled else None,
            fallbacks=fallbacks,
            observables=qt.observables or (),
            keep_native=qt.keep_native,
        )
        if qt.timeout_seconds is not None:
            spec.timeout = qt.timeout_seconds
            spec.deadline = spec.submitted_at + qt.timeout_seconds
        return pilot, spec

    def _load_on_driver(self, qt: QuantumTask, circuit: Any) -> Any:
        """``qt.load_on_driver()``, remembered for the same circuit object submitted again
        unchanged (its bytes, ``circuit.data``, are the same as when it was loaded)."""
        if not isinstance(circuit, CircuitBlob) or qt.parameter_values or qt.observables:
            return qt.load_on_driver()
        hit = self._loaded.get(circuit.data)
        if hit is not None and hit[0]() is qt.circuit:
            return hit[1]
        loaded = qt.load_on_driver()
        self._loaded[circuit.data] = (weakref.ref(qt.circuit), loaded)
        return loaded

    def submit_quantum_task(self, quantum_task: QuantumTask) -> Any:
        """Run ``quantum_task`` on a quantum pilot; returns an ObjectRef of a ``QuantumResult``.

        The ref works with ``ray.get``/``ray.wait`` and as an argument of other
        Ray tasks.  Selection and input errors are raised here, at once;
        errors while running are raised by ``get_results`` (or ``ray.get``).

        A sweep (``QuantumTask(..., parameter_values=[...])``) returns a list
        of ObjectRefs, one per parameter set, in order: see
        :meth:`submit_quantum_tasks` for how it is batched.
        """
        pilot, spec = self._prepare(quantum_task)
        if quantum_task.parameter_values is not None:
            rows = self._sweep(quantum_task, pilot, spec)
            known = self._journal(quantum_task, rows)
            return self._dispatch_known(rows, known, None, per_actor=2)
        known = self._journal(quantum_task, [(pilot, spec)])
        if known:
            return known[0]
        actor = pilot.next_actor()
        if self._coalescible(pilot, spec, quantum_task):
            spec.args, spec.kwargs = quantum_task.args, quantum_task.kwargs
            ref = self._coalescer.submit(pilot.name, actor, spec)
            if ref is not None:
                self._record(ref, spec, actor, batched=True)
                return ref
            spec.args, spec.kwargs = (), {}
        ref = self._method(actor, "run", spec.stage).remote(
            spec, *quantum_task.args, **quantum_task.kwargs
        )
        self._record(ref, replace(spec, args=quantum_task.args, kwargs=quantum_task.kwargs), actor)
        self._deps.record(ref, (*quantum_task.args, *quantum_task.kwargs.values()))
        return ref

    @staticmethod
    def _coalescible(pilot: QuantumPilot, spec: TaskSpec, qt: QuantumTask) -> bool:
        """Can ``spec`` share an actor call with its neighbours (:mod:`pilot.runtime.coalesce`)?"""
        return (
            spec.deadline is None
            and not pilot.remote
            and pilot.restarts == 0
            and not any(isinstance(v, ray.ObjectRef) for v in (*qt.args, *qt.kwargs.values()))
        )

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
        prepared: list[tuple[QuantumPilot, TaskSpec]] = []
        spans: list[tuple[int, int, bool]] = []
        known: dict[int, Any] = {}
        circuits: dict[int, str] = {}
        for qt in quantum_tasks:
            pilot, spec = self._prepare(qt)
            start = len(prepared)
            if qt.parameter_values is not None:
                rows = self._sweep(qt, pilot, spec)
            else:
                spec.args, spec.kwargs = qt.args, qt.kwargs
                rows = [(pilot, spec)]
            journaled = self._journal(qt, rows, circuits)
            known.update({start + i: ref for i, ref in journaled.items()})
            prepared += rows
            spans.append((start, len(prepared), qt.parameter_values is not None))
        refs = self._dispatch_known(prepared, known, chunk_size)
        return [refs[a:b] if sweep else refs[a] for a, b, sweep in spans]

    def _sweep(
        self, qt: QuantumTask, pilot: QuantumPilot, spec: TaskSpec
    ) -> list[tuple[QuantumPilot, TaskSpec]]:
        """One spec per parameter set, in contiguous blocks over the pilots holding
        the chosen resource (weighted by their actors)."""
        assert qt.parameter_values is not None
        spec.args, spec.kwargs = qt.args, qt.kwargs
        pilots = [pilot] + [
            p
            for p in self._quantum.values()
            if p is not pilot
            and qt.pilot is None
            and p.state is PilotState.RUNNING
            and p.config.dreamer_enabled
            and any(cap.name == spec.resource for cap in p.resources)
        ]
        weights = [len(p.actors) for p in pilots]
        total, n = sum(weights), len(qt.parameter_values)
        out: list[tuple[QuantumPilot, TaskSpec]] = []
        done = 0
        for k, (p, w) in enumerate(zip(pilots, weights, strict=True)):
            end = n if k == len(pilots) - 1 else done + round(n * w / total)
            for i in range(done, end):
                out.append(
                    (
                        p,
                        replace(
                            spec,
                            task_id=new_task_id(),
                            name=f"{spec.name}[{i}]",
                            pilot=p.name,
                            parameters=qt.parameter_values[i],
                        ),
                    )
                )
            done = end
        return out

    def _journal(
        self,
        qt: QuantumTask,
        rows: Sequence[tuple[QuantumPilot, TaskSpec]],
        circuits: dict[int, str] | None = None,
    ) -> dict[int, Any]:
        """Record the specs of ``qt`` in the journal.  When resuming, returns the refs of
        results the journal already holds (by index in ``rows``; they are not run
        again), and points specs whose remote jobs were submitted at those jobs."""
        journal = self.journal
        if journal is None:
            return {}
        base = self._description_hash(qt, circuits, rows[0][1].circuit if rows else None)
        if base is None:
            return {}

        out: dict[int, Any] = {}
        for i, (_pilot, spec) in enumerate(rows):
            h = base if spec.parameters is None else description_hash(base, spec.parameters)
            key = journal.key(h)
            entry = journal.lookup(key) if self._resume else None
            if entry is not None and entry.finished and entry.result is not None:
                result = decode_outcome(entry.result)
                result.metadata["resumed"] = True
                out[i] = ray.put(result)
                self._supervisor.watch(
                    out[i],
                    Record(entry.task_id, spec.stage, entry.pilot, "resumed", done=True),
                )
                continue
            if entry is not None and entry.remote_job_ids and entry.resource == spec.resource:
                # Its remote jobs were submitted: follow them, do not pay twice.
                spec.task_id = entry.task_id
                spec.attach_jobs = entry.remote_job_ids
                journal.attached(key, spec.task_id)
                continue
            if entry is not None:  # submitted before, not finished: run it again
                spec.task_id = entry.task_id
            journal.submitted(key, spec.task_id, "quantum", spec.name, spec.pilot, spec.resource)
        return out

    def _description_hash(
        self, qt: QuantumTask, circuits: dict[int, str] | None = None, blob: Any = None
    ) -> str | None:
        """What identifies ``qt`` across driver runs; ``None`` if it consumes an ObjectRef
        of a task the journal does not know (then it is not journaled).

        ``circuits`` caches circuit hashes by object id within one submission call
        (many tasks often share one circuit object; it cannot change meanwhile);
        ``blob``, the circuit's :class:`~pilot.tasks.CircuitBlob`, finds the hash
        of a circuit submitted before with the same bytes.
        """
        try:
            args = [self._stable_arg(v) for v in qt.args]
            kwargs = {k: self._stable_arg(v) for k, v in qt.kwargs.items()}
        except LookupError:
            return None
        if isinstance(blob, CircuitBlob):  # the bytes sent: their hash is remembered
            circuit = self._circuit_hashes.get(blob.data)
            if circuit is None:
                circuit = self._circuit_hashes[blob.data] = description_hash(qt.circuit)
        elif circuits is None:
            circuit = description_hash(qt.circuit)
        else:
            circuit = circuits.get(id(qt.circuit)) or circuits.setdefault(
                id(qt.circuit), description_hash(qt.circuit)
            )
        parts = (
            "quantum",
            circuit,
            args,
            kwargs,
            qt.shots,
            qt.observables,
            qt.name,
            qt.pilot,
            qt.resource,
            qt.num_qubits,
            qt.gate_set,
        )
        # The same description again (a loop over one circuit): its hash is remembered.
        simple = not args and not kwargs and not qt.observables
        memo = (circuit, *parts[4:-1], tuple(qt.gate_set or ())) if simple else None
        if memo is not None and memo in self._description_hashes:
            return self._description_hashes[memo]
        try:
            h = description_hash(*parts)
        except JournalError:  # e.g. ObjectRefs nested in an argument: not journaled
            return None
        if memo is not None:
            self._description_hashes[memo] = h
        return h

    def _stable_arg(self, value: Any) -> Any:
        """An argument as it enters a description hash: an ObjectRef by the id of the
        task producing it (``LookupError`` if the service did not submit it)."""
        if isinstance(value, ray.ObjectRef):
            rec = self._supervisor.record(value)
            if rec is None or not rec.task_id:
                raise LookupError(value)
            return ("task", rec.task_id)
        return value

    def _dispatch_known(
        self,
        prepared: Sequence[tuple[QuantumPilot, TaskSpec]],
        known: Mapping[int, Any],
        chunk_size: int | None,
        per_actor: int = 4,
    ) -> list[Any]:
        """:meth:`_dispatch` of the specs whose results are not ``known`` already."""
        if not known:
            return self._dispatch(prepared, chunk_size, per_actor)
        todo = [i for i in range(len(prepared)) if i not in known]
        refs = dict(known)
        sent = self._dispatch([prepared[i] for i in todo], chunk_size, per_actor)
        refs.update(zip(todo, sent, strict=True))
        return [refs[i] for i in range(len(prepared))]

    def _dispatch(
        self,
        prepared: Sequence[tuple[QuantumPilot, TaskSpec]],
        chunk_size: int | None,
        per_actor: int = 4,
    ) -> list[Any]:
        """Send specs (their arguments inside) to their pilots' actors in chunks.

        By default each actor gets about ``per_actor`` chunks (so that it computes
        one while the next arrives), of at most 256 tasks.
        """
        by_pilot: dict[str, list[int]] = {}
        for i, (pilot, _) in enumerate(prepared):
            by_pilot.setdefault(pilot.name, []).append(i)
        refs: list[Any] = [None] * len(prepared)
        for name, idx in by_pilot.items():
            pilot = self._quantum[name]
            size = chunk_size or max(
                1, min(256, math.ceil(len(idx) / (per_actor * len(pilot.actors))))
            )
            # Tasks with a timeout run one per call (the actor times each one).
            timed = [i for i in idx if prepared[i][1].deadline is not None]
            batched = [i for i in idx if prepared[i][1].deadline is None]
            chunks = [[i] for i in timed] + [
                batched[start : start + size] for start in range(0, len(batched), size)
            ]
            for chunk in chunks:
                specs = [prepared[i][1] for i in chunk]
                actor = pilot.next_actor()
                if len(specs) == 1:  # num_returns=1 would make the whole list one value
                    (spec,) = specs
                    out = [self._method(actor, "run", spec.stage).remote(spec)]
                else:
                    out = actor.run_batch.options(
                        num_returns=len(specs),
                        name=f"quantum:batch[{len(specs)}]@{specs[0].resource}",
                    ).remote(specs)
                for i, spec, ref in zip(chunk, specs, out, strict=True):
                    refs[i] = ref
                    self._record(ref, spec, actor, batched=len(specs) > 1)
                    self._deps.record(ref, (*spec.args, *spec.kwargs.values()))
        return refs

    def _method(self, actor: Any, method: str, name: str) -> Any:
        """``actor.<method>.options(name=name)``, reused (Ray builds a class per call)."""
        key = (id(actor), method, name)
        hit = self._methods.get(key)
        if hit is None or hit[0] is not actor:
            hit = self._methods[key] = (actor, getattr(actor, method).options(name=name))
        return hit[1]

    def _record(self, ref: Any, spec: TaskSpec, actor: Any, batched: bool = False) -> None:
        self._supervisor.watch(
            ref,
            Record(
                spec.task_id,
                spec.stage,
                spec.pilot,
                "quantum",
                spec=spec,
                actor=actor,
                remote_jobs=list(spec.attach_jobs),
                batched=batched,
            ),
        )
        self._selector.track(spec.pilot, ref)

    def _resource_failed(self, pilot: str | None, resource: str | None) -> None:
        """A task left ``resource`` of ``pilot`` because it kept failing: ask the monitor
        to re-check it now (its actor reports it offline for a while)."""
        if pilot and resource:
            self._selector.monitor.request(f"{pilot}/{resource}")

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
            held_internally=held_by(self._selector.holds, self._supervisor.holds),
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
        if rec is None or rec.kind != "quantum" or rec.actor is None or rec.done:
            return False

        rec.actor.cancel_remote.options(concurrency_group=PilotActor.CONTROL).remote([rec.task_id])
        return rec.batched

    def _check_memory(self, memory: int) -> None:
        largest = max(
            (n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")), default=0
        )
        if memory > largest:
            raise SchedulingError(
                f"resource_config.memory={memory} bytes is more than any node of the Ray "
                f"cluster has ({largest:.0f} bytes)"
            )

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
        return self._submit_classical(fn, args, kwargs, pilot, dict(resources or {}))

    def _submit_classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        res: dict[str, Any],
        task_id: str | None = None,
    ) -> Any:
        """:meth:`submit_task`; ``task_id`` given: a resubmission (not journaled again)."""
        for key in res:
            if key not in TASK_RESOURCE_KEYS:
                raise ConfigError(
                    f"resources: unknown key {key!r}; valid: {', '.join(TASK_RESOURCE_KEYS)}",
                    key=f"resources.{key}",
                    suggestion=closest(key, TASK_RESOURCE_KEYS),
                )
        num_gpus = float(res.get("num_gpus", 0) or 0)
        memory = res.get("memory")
        target = self._classical_pilot(pilot)
        # Default: one CPU, or all of a pilot node's CPUs when it has fewer.
        default_cpus = min(1.0, target.config.reserved()[0]) if target is not None else 1.0
        num_cpus = float(res.get("num_cpus", default_cpus))
        if target is not None:
            opts = target.task_options(num_cpus, num_gpus, memory)
            where = target.name
        else:
            opts = self._plain_options(num_cpus, num_gpus, memory)
            where = "ray"
        fn_name = getattr(fn, "__name__", None) or getattr(
            getattr(fn, "_function", None), "__name__", "task"
        )
        opts["name"] = f"{fn_name}@{where}"
        if task_id is None:
            known, task_id = self._journal_classical(fn, args, kwargs, pilot, res, opts["name"])
            if known is not None:
                return known
        # Ray builds a wrapper class per .options() call (~0.1 ms): reuse them.
        cache_key = (fn, target, num_cpus, num_gpus, memory)
        optioned = self._optioned.get(cache_key)
        if optioned is None:
            remote: Any = fn if isinstance(fn, RemoteFunction) else self._remote_fns.get(fn)
            if remote is None:
                remote = self._remote_fns[fn] = ray.remote(_as_function(fn))
            optioned = self._optioned[cache_key] = remote.options(**opts)
        ref = optioned.remote(*args, **kwargs)
        call = (fn, args, kwargs, res) if target is not None else None
        self._supervisor.watch(ref, Record(task_id, opts["name"], where, "classical", call=call))
        self._deps.record(ref, (*args, *kwargs.values()))
        return ref

    def _journal_classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        res: dict[str, Any],
        name: str,
    ) -> tuple[Any, str]:
        """The classical task's id, and (resuming) the ref of its journaled result.

        Its description is the function (by module and name, or by value when
        defined in the script), its arguments (an ObjectRef by the id of the task
        that produces it), the pilot asked for and the resources.
        """
        task_id = new_task_id()
        journal = self.journal
        if journal is None:
            return None, task_id

        body = fn._function if isinstance(fn, RemoteFunction) else fn
        try:
            h = description_hash(
                "classical",
                body,
                [self._stable_arg(a) for a in args],
                {k: self._stable_arg(v) for k, v in kwargs.items()},
                pilot,
                res,
            )
        except (LookupError, JournalError) as exc:
            logger.debug("task %s (%s): not journaled: %s", task_id, name, exc)
            return None, task_id
        key = journal.key(h)
        entry = journal.lookup(key) if self._resume else None
        if entry is not None and entry.finished and entry.result is not None:
            ref = ray.put(decode_outcome(entry.result))
            self._supervisor.watch(
                ref, Record(entry.task_id, name, entry.pilot, "resumed", done=True)
            )
            return ref, entry.task_id
        if entry is not None:  # submitted before, not finished (or too big to keep)
            task_id = entry.task_id
        journal.submitted(key, task_id, "classical", name, pilot or "", None)
        return None, task_id

    def _classical_pilot(self, name: str | None) -> ClassicalPilot | None:
        if name is not None:
            pilot = self.get_pilot(name)
            if not isinstance(pilot, ClassicalPilot):
                raise ConfigError(
                    f"pilot {name!r} is a quantum pilot; run circuits with "
                    "submit_quantum_task(QuantumTask(...)) and functions on a classical pilot",
                    key="pilot",
                )
            return pilot
        for pilot in self._pilots.values():
            if isinstance(pilot, ClassicalPilot) and pilot.state is PilotState.RUNNING:
                return pilot
        return None

    def _plain_options(
        self, num_cpus: float, num_gpus: float, memory: int | None
    ) -> dict[str, Any]:
        want = {"CPU": num_cpus, "GPU": num_gpus, "memory": float(memory or 0)}
        key = (num_cpus, num_gpus, memory)
        # A request that fitted a node is not re-checked (ray.nodes() is a GCS call,
        # ~1 ms); one that did not is checked afresh each time (nodes may join).
        if key not in self._fits:
            nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
            if any(all(node.get(k, 0) >= v for k, v in want.items() if v) for node in nodes):
                self._fits.add(key)
        if key not in self._fits:
            raise SchedulingError(
                f"no node of the Ray cluster can run a task needing {num_cpus:g} CPU, "
                f"{num_gpus:g} GPU, memory={memory}; ask for less"
            )
        opts: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus}
        if memory:
            opts["memory"] = memory
        return opts

    # ------------------------------------------------------------ results
    def wait_tasks(
        self, refs: Sequence[Any], timeout: float | None = None, *, progress: bool | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Wait until every ref is ready or ``timeout`` passes; returns ``(ready, not_ready)``.

        ``progress``: show a progress bar (default: when waiting for several
        tasks in a terminal or notebook; see :mod:`pilot.observe.progress`).
        """
        refs = list(refs)
        if not refs:
            return [], []
        self._coalescer.flush()  # windows still gathering tasks go now
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
        """Results of ``refs`` (a ref or a list), in order.

        A task that failed raises ``TaskFailedError`` naming it, chained to the
        original exception (with the worker's traceback); with
        ``return_exceptions=True`` the ``TaskFailedError`` is returned in its
        place.  ``timeout`` (seconds) bounds the wait: ``TaskTimeoutError``.
        ``progress``: as for :meth:`wait_tasks`.
        """
        single = isinstance(refs, ray.ObjectRef)
        lst = [refs] if single else list(refs)
        self._coalescer.flush()  # windows still gathering tasks go now
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

    def report(self) -> Report:
        """Tasks per pilot and resource so far: attempts, failures, mean queue and run
        seconds, estimated cost (see :class:`pilot.observe.report.Report`).  ``print()`` it in a
        terminal; a notebook shows it as a table; ``.to_json()`` for scripts.  The
        per-task rows are in :attr:`metrics_file`."""
        self._coalescer.flush()
        self._supervisor.sync()
        self._supervisor.drain_events(everyone=True)
        report = self._tasks.report()
        report.pilots = [p.summary() for p in self._pilots.values()]
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
        for pilot in list(self._pilots.values()):
            try:
                pilot.cancel()
            except PilotError as exc:
                errors.append(exc)
        if self._owns_ray:
            ray.shutdown()
        logger.info("service cancelled (%d pilots)", len(self._pilots))
        if errors:
            raise errors[0]

    def __enter__(self) -> PilotComputeService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def __repr__(self) -> str:
        return (
            f"PilotComputeService(working_directory={str(self.working_directory)!r}, "
            f"pilots={sorted(self._pilots)}, closed={self._closed}, ray={self.ray_origin!r})"
        )


class _Dispatch:
    """The service as its supervisor sees it (:class:`~pilot.runtime.supervisor.Dispatcher`):
    the supervisor calls these, never the service's own attributes."""

    def __init__(self, service: PilotComputeService) -> None:
        self._s = service
        self.pilots: Mapping[str, Pilot] = service._pilots
        self.quantum: Mapping[str, QuantumPilot] = service._quantum

    def prune_selection(self) -> None:
        self._s._selector.prune()

    def prune_dependencies(self, alive: set[bytes]) -> None:
        self._s._deps.prune(alive)

    def upstream(self, key: bytes) -> Iterable[bytes]:
        return self._s._deps.upstream(key)

    def resource_failed(self, pilot: str | None, resource: str | None) -> None:
        self._s._resource_failed(pilot, resource)

    def record_rows(self, rows: Iterable[Any]) -> None:
        self._s._tasks.add(rows)

    def dispatch(self, prepared: Sequence[tuple[QuantumPilot, TaskSpec]]) -> list[Any]:
        return self._s._dispatch(prepared, None)

    def submit_classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        resources: dict[str, Any],
        task_id: str | None,
    ) -> Any:
        return self._s._submit_classical(fn, args, kwargs, pilot, resources, task_id=task_id)

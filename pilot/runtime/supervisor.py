"""Keep each task's promise: watch what the service submitted, survive pilot loss, journal results.

::

    submit ──> Supervisor.watch(ref, Record)    pending, per actor (quantum) or pilot
    supervisor thread, every TICK seconds (and inline from get_results/wait_tasks):
        pending refs that are ready (ray.wait, nothing fetched) ──>
            quantum, local: done if its result's record reached the journal (below),
                else kept "unconfirmed" until a later ping shows its actor alive; then
                done, or (with a journal, still no record: a failure) fetched and
                _complete(ref, value): journaled, or moved (failing over)
            quantum, cloud (or with a results store): fetched and _complete(ref, value)
                result ........ journaled (stored)
                actor died .... the task is lost (below)
            classical, with a journal: journaled if Ray reports it small (else run
                again on resume)
        pilots' events (drain_events; every pilot each round with a journal, else
            cloud pilots each round and every pilot each ROWS_SECONDS) ──>
            results' records (made on the pilot): journaled, nothing fetched;
            new job ids: journal, and known for re-attaching; resources marked
            failing: the monitor re-checks them now; task rows: tasks.csv
        every PRUNE_SECONDS: records of finished tasks whose refs the program
            dropped (Ray's reference counts) are forgotten
        every HEALTH_SECONDS: ping every actor; poll every Slurm pilot's job
            dead actor ... leaves its pilot (FAILED when none is left); its unfinished and
                           unconfirmed tasks that failed with it are resubmitted to a
                           live pilot holding the same resource (re-attaching to their
                           remote jobs), else fail with PilotLostError
            lost Slurm pilot ... its unfinished classical tasks are cancelled, then
                           resubmitted to another classical pilot, or fail with
                           PilotLostError naming the pilot and its job

``resolve(ref)`` follows resubmissions, so ``pcs.get_results(ref)`` and
``pcs.wait_tasks`` return the task's one result whatever pilot ran it.  A
plain ``ray.get`` of the original ref (or a Ray task consuming it) sees the
pilot's death as Ray reports it.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import ray
from cachetools import LRUCache

from pilot.backends.registry import resolve_executor
from pilot.errors import PilotLostError
from pilot.journal.store import JournalError
from pilot.observe import metrics
from pilot.pilots.actor import PilotActor
from pilot.pilots.failover import failed_over, moves_on
from pilot.pilots.pilot import ClassicalPilot
from pilot.results import encode_outcome
from pilot.runtime.dependencies import referenced
from pilot.states import TERMINAL_STATES, PilotState, RecordKind

if TYPE_CHECKING:
    from pilot.pilots.pilot import ClassicalPilot, QuantumPilot
    from pilot.runtime.registry import PilotRegistry
    from pilot.tasks import TaskSpec

logger = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """What the supervisor needs of the service that owns it besides its pilots (the
    registry): the few calls that send work again and the state to prune.
    ``PilotComputeService`` hands it one (``pilot.runtime.service._Dispatch``)."""

    def tasks_ended(self, task_ids: Iterable[str]) -> None:
        """Quantum tasks whose refs became ready: they leave QDREAMER's load count."""

    def jobs_submitted(self, jobs: Iterable[tuple[str, str, float]]) -> None:
        """``(task_id, job_id, at)``: remote jobs created on the pilots."""

    def prune_dependencies(self, alive: set[bytes]) -> None:
        """Forget the dependencies of refs no longer ``alive``."""

    def upstream(self, key: bytes) -> Iterable[bytes]:
        """The refs (binary) a task's arguments wait for."""

    def resource_failed(self, pilot: str | None, resource: str | None) -> None:
        """A provider answered that ``resource`` on ``pilot`` is unavailable."""

    def record_rows(self, rows: Iterable[Any]) -> None:
        """Per-task rows the pilots reported (the metrics file and ``report()``)."""

    def dispatch(self, prepared: Sequence[tuple[QuantumPilot, TaskSpec]]) -> list[Any]:
        """Send quantum tasks to their pilots again; one ref per task, in order."""

    def submit_classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        resources: dict[str, Any],
        task_id: str | None,
    ) -> Any:
        """Run a classical task again on ``pilot``; its ref."""


#: Seconds between the supervisor thread's rounds.
TICK = 0.2
#: Seconds between liveness checks of pilot actors and Slurm jobs.
HEALTH_SECONDS = 2.0
#: Seconds between collections of every actor's task rows (remote pilots: every TICK).
ROWS_SECONDS = 1.0
#: Resubmissions of one task after pilot losses before it fails.
MAX_RESUBMITS = 3
#: Seconds a finished task's result record may take to come with its pilot's events
#: (drained every TICK with a journal) before the result is fetched to journal it.
JOURNAL_WAIT = 1.0
#: Seconds between prunes of the records of finished tasks the program let go of.
PRUNE_SECONDS = 2.0
#: Longest wait between prunes while no task comes and prunes find nothing to forget
#: (the wait doubles from PRUNE_SECONDS): a quiet program holding its refs is not
#: made to pay for reading Ray's reference table every PRUNE_SECONDS.
QUIET_PRUNE_SECONDS = 60.0
#: Records kept before a prune is worth its cost (Ray's reference table is read whole)
#: while tasks keep coming; once none came for PRUNE_SECONDS, a prune runs whatever the
#: count, so that the last records of a burst do not stay until the next one.
PRUNE_ABOVE = 2000
#: Records a prune must let go of before the driver hands its free heap back to the
#: system (glibc keeps freed memory for reuse; a long run's RSS would creep up by it).
#: A prune that leaves no record hands it back too: the burst is over.
TRIM_AFTER = 5000
#: Finished tasks' records kept at most when Ray cannot say which are referenced.
KEEP_FINISHED = 100_000
#: Bytes up to which a classical task's result is journaled (fetched to the driver);
#: a bigger one (a dataset, a model) is computed again by a resumed driver.
CLASSICAL_RESULT_LIMIT = 1 << 20


@dataclass
class Record:
    """What the service knows about one submitted task (by its ObjectRef)."""

    task_id: str
    stage: str
    pilot: str
    kind: RecordKind
    #: Quantum: the spec with its arguments, and the actor it went to.
    spec: TaskSpec | None = None
    actor: Any = None
    #: Classical: ``(fn, args, kwargs, resources)`` to run it again elsewhere.
    call: tuple[Any, tuple[Any, ...], dict[str, Any], dict[str, Any]] | None = None
    done: bool = False
    resubmits: int = 0
    replaced_by: Any = None  # the ObjectRef of the task's resubmission
    lost: PilotLostError | None = None
    remote_jobs: list[str] = field(default_factory=list)
    #: Why it moves to its next fallback (its resource kept failing), if it does.
    failover: BaseException | None = None
    #: Quantum: one of several tasks of one actor call (``run_batch``).
    batched: bool = False
    #: Its outcome is in the journal (a result's record came from its pilot).
    journaled: bool = False


def _refcounts(entries: Iterable[list[Any]]) -> list[int]:
    """``sys.getrefcount`` of each entry's object (``entry[0]``), all taken the same way."""
    return [sys.getrefcount(entry[0]) for entry in entries]


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (``None`` elsewhere: macOS, musl)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _return_free_memory() -> bool:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``).

    Thousands of records, ObjectRefs and results freed at once leave glibc holding the
    memory for reuse, so the driver's RSS creeps up round after round although nothing
    is kept.  ctypes releases the GIL for the call; elsewhere it is a no-op.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class Supervisor:
    def __init__(
        self,
        registry: PilotRegistry,
        service: Dispatcher,
        journal: Any = None,
        store: Any = None,
    ) -> None:
        self._registry = registry
        self._service = service
        self.journal = journal
        #: A pilot.journal.bucket.ResultStore: finished quantum results are written to it.
        self.store = store
        self._records: LRUCache[bytes, Record] = LRUCache(maxsize=1_000_000)
        self._by_task: LRUCache[str, Record] = LRUCache(maxsize=1_000_000)
        #: Unfinished tasks by group (a quantum task's actor, a classical task's pilot).
        self._pending: dict[Any, dict[bytes, Any]] = {}
        #: Finished quantum tasks not yet known to have survived their actor.
        self._unconfirmed: dict[Any, list[tuple[float, bytes, Any]]] = {}
        self._lock = threading.RLock()
        self._check_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._dead_actors: set[Any] = set()
        self._checked_at = 0.0
        self._drained_at = 0.0
        self._pruned_at = 0.0
        self._prune_every = PRUNE_SECONDS
        self._forgotten = 0
        #: A task was watched since the last prune (a burst is still going on).
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.resubmitted = 0
        self.lost = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="qdreamer-supervisor", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None
        try:
            self.sync()
            self.drain_events(everyone=True)
            if self.journal is not None:  # what finished but has no record yet
                with self._lock:
                    late: list[Any] = []
                    for entries in self._unconfirmed.values():
                        for _, key, ref in entries:
                            self._confirmed(key, ref, late)
                self._settle_late(late)
        except Exception:  # Ray may be gone already
            logger.debug("final supervisor round failed", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.sync()
                if time.monotonic() - self._checked_at >= HEALTH_SECONDS:
                    self.check_pilots()
                if time.monotonic() - self._pruned_at >= self._prune_every:
                    self.prune()
            except Exception:  # never let the supervisor die
                logger.exception("supervisor round failed")

    # ------------------------------------------------------------ records
    def watch(self, ref: Any, record: Record) -> None:
        """Track a submitted task (quantum tasks always; classical ones on a pilot)."""
        key = ref.binary()
        group = record.actor if record.kind is RecordKind.QUANTUM else record.pilot
        with self._lock:
            self._busy, self._prune_every = True, PRUNE_SECONDS
            self._records[key] = record
            if record.task_id:
                self._by_task[record.task_id] = record
            if (
                record.kind is RecordKind.QUANTUM
                or record.call is not None
                or (record.kind == "classical" and self.journal is not None and record.task_id)
            ):
                self._pending.setdefault(group, {})[key] = ref

    def prune(self, force: bool = False) -> int:
        """Forget finished tasks whose ObjectRefs the program no longer holds, so that a
        long run's memory stays flat once its results are released.

        A record is only needed while its ref can still reach the service (results,
        errors, cancel, an argument of a later task): Ray's own reference counts say
        when that has ended.  Returns how many records went.
        """
        self._pruned_at = time.monotonic()
        busy, self._busy = self._busy, False
        if not force and (not self._records or (busy and len(self._records) <= PRUNE_ABOVE)):
            return 0
        alive = referenced()
        with self._lock:
            finished = [(key, rec) for key, rec in list(self._records.items()) if rec.done]
            if alive is None:  # keep the newest KEEP_FINISHED
                gone = finished[: max(0, len(finished) - KEEP_FINISHED)]
            else:
                gone = [(key, rec) for key, rec in finished if key not in alive]
            for key, rec in gone:
                self._records.pop(key, None)
                if rec.task_id and self._by_task.get(rec.task_id) is rec:
                    del self._by_task[rec.task_id]
        if alive is not None:
            self._service.prune_dependencies(alive)
        if not busy:  # quiet: wait longer each time nothing goes
            self._prune_every = (
                PRUNE_SECONDS if gone else min(2 * self._prune_every, QUIET_PRUNE_SECONDS)
            )
        if gone:
            logger.debug("supervisor: forgot %d finished tasks", len(gone))
            self._forgotten += len(gone)
            # Every TRIM_AFTER records, and whenever the last one went (a burst is over).
            if self._forgotten >= TRIM_AFTER or not self.records_held():
                self._forgotten = 0
                _return_free_memory()
        return len(gone)

    def records_held(self) -> int:
        """Tasks the supervisor still keeps a record of (pending, or their refs held)."""
        with self._lock:
            return len(self._records)

    def record(self, ref: Any) -> Record | None:
        return self._records.get(ref.binary())

    def resolve(self, ref: Any) -> Any:
        """The ObjectRef that will hold ``ref``'s result (its latest resubmission)."""
        seen = 0
        while True:
            rec = self._records.get(ref.binary())
            if rec is None or rec.replaced_by is None or seen > 100:
                return ref
            ref, seen = rec.replaced_by, seen + 1

    def held_outside(self, binary: bytes, consumers: Iterable[bytes], instances: int) -> bool:
        """Whether something other than this service -- the program, most often --
        still holds an ObjectRef of ``binary`` (for the cancel logic).

        The service keeps the very ObjectRef objects the program was given (in its
        pending table, and as arguments in the records of ``consumers``), so each
        one it holds is checked by its Python reference count against the
        references the service itself has to it.  Ray's own count, ``instances``,
        only decides when the service holds none: it counts ObjectRef objects, not
        references to them, and it includes objects Ray pins for good (an ObjectRef
        pickled out of band, as Ray's DAG does to the arguments it scans).
        """
        # No supervisor round in progress: one holds the pending refs in its lists.
        with self._check_lock, self._sync_lock:
            entries = list(self._objects_of(binary, consumers).values())
            if not entries:
                return instances > 0
            # What getrefcount says of an object only its entry's list holds (its own
            # argument and the interpreter's temporaries vary between versions).
            alone = _refcounts([[object(), 0]])[0]
            counts = _refcounts(entries)
            return any(n - alone > held for n, (_, held) in zip(counts, entries, strict=True))

    def _objects_of(self, binary: bytes, consumers: Iterable[bytes]) -> dict[int, list[Any]]:
        """The ObjectRef objects of ``binary`` this service holds, with how many
        references to each it holds: ``{id(object): [object, references]}``."""
        mine: dict[int, list[Any]] = {}
        args: list[Any] = []
        with self._lock:
            for refs in self._pending.values():
                if binary in refs:
                    args.append(refs[binary])
            for c in consumers:
                rec = self._records.get(c)
                if rec is not None and rec.spec is not None:
                    args.extend(rec.spec.args)
                    args.extend(rec.spec.kwargs.values())
                if rec is not None and rec.call is not None:
                    args.extend(rec.call[1])
                    args.extend(rec.call[2].values())
        for obj in args:
            if isinstance(obj, ray.ObjectRef) and obj.binary() == binary:
                mine.setdefault(id(obj), [obj, 0])[1] += 1
        return mine

    # ------------------------------------------------------------ completions
    def sync(self) -> None:
        """Collect finished tasks, and the events of remote pilots.  One round at a time:
        a caller's round returns after any round in progress has ended."""
        with self._sync_lock:
            self._sync()

    def _sync(self) -> None:
        with self._lock:
            groups = [(g, list(refs.values())) for g, refs in self._pending.items() if refs]
        now = time.monotonic()
        for group, refs in groups:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            if not ready:
                continue
            with self._lock:
                mine = self._pending.get(group, {})
                for ref in ready:
                    mine.pop(ref.binary(), None)
            self._service.tasks_ended(
                rec.task_id
                for rec in map(self._records.get, (r.binary() for r in ready))
                if rec is not None and rec.kind is RecordKind.QUANTUM and rec.task_id
            )
            fetch: list[Any] = []
            classical: list[Any] = []
            for ref in ready:
                rec = self._records.get(ref.binary())
                if rec is None or rec.done:
                    continue
                if rec.kind == "classical":
                    rec.done, rec.call = True, None
                    if self.journal is not None and rec.task_id:
                        classical.append(ref)
                elif self.store is not None or self._remote(rec.pilot):
                    # Fetched: to store it, or (a cloud task, slow and small) to see
                    # whether it failed in a way that moves it to another resource.
                    fetch.append(ref)
                elif rec.journaled:  # its result's record came from its pilot: done
                    rec.done, rec.spec = True, None
                else:
                    # Done unless its actor died first: a later ping tells (and, with a
                    # journal, a failure or a result whose record did not come is fetched).
                    self._unconfirmed.setdefault(group, []).append((now, ref.binary(), ref))
            self._settle_late(fetch)
            self._journal_classical(classical)
        # With a journal, every pilot each round: results reach it from their records
        # within a round of finishing (a killed driver then loses little to re-run).
        self.drain_events(
            everyone=self.journal is not None or time.monotonic() - self._drained_at >= ROWS_SECONDS
        )

    def _journal_classical(self, refs: list[Any]) -> None:
        """Journal the results of finished classical tasks that are small enough to keep
        (their sizes asked of Ray, nothing fetched); a bigger one is run again on resume."""
        if not refs:
            return

        try:
            sizes = ray.experimental.get_object_locations(refs, timeout_ms=5000)
        except Exception as exc:  # e.g. the owner is shutting down
            logger.debug("journal: object sizes unknown: %s", exc)
            return
        small = []
        for ref in refs:
            size = (sizes.get(ref) or {}).get("object_size")
            if size is not None and size <= CLASSICAL_RESULT_LIMIT:
                small.append(ref)
            else:
                rec = self._records.get(ref.binary())
                logger.debug(
                    "task %s: result (%s bytes) not journaled", rec.task_id if rec else "?", size
                )
        for ref, value in zip(small, _values(small), strict=True):
            rec = self._records.get(ref.binary())
            if rec is not None:
                self._journal_outcome(rec.task_id, value)

    def _remote(self, pilot_name: str) -> bool:
        pilot = self._registry.quantum.get(pilot_name)
        return pilot is not None and resolve_executor(pilot.executor).remote

    def suspect(self, ref: Any) -> bool:
        """Could ``ref`` (ready) hold a failure the service recovers from?  Its actor
        or pilot is gone, or it was moved already; cheap, nothing fetched."""
        rec = self._records.get(ref.binary())
        if rec is None:
            return False
        if rec.replaced_by is not None or rec.lost is not None:
            return True
        pilot = self._registry.pilots.get(rec.pilot)
        return (rec.actor is not None and rec.actor in self._dead_actors) or (
            pilot is not None and pilot.state is not PilotState.RUNNING
        )

    def settle(self, ref: Any) -> bool:
        """``ref`` finished with a failure: handle it now.  True if it was resubmitted
        (follow :meth:`resolve`), or has a ``PilotLostError`` to raise."""
        rec = self._records.get(ref.binary())
        if rec is None:
            return False
        with self._lock:
            if rec.replaced_by is not None or rec.lost is not None:
                return True
        if rec.kind == "quantum":
            key = ref.binary()
            with self._lock:
                if rec.actor is not None:
                    self._pending.get(rec.actor, {}).pop(key, None)
                    entries = self._unconfirmed.get(rec.actor, [])
                    self._unconfirmed[rec.actor] = [e for e in entries if e[1] != key]
            value = _value(ref)
            with self._lock:  # claimed and moved together (see sync)
                moved = self._complete(ref, value)
                if moved is not None:
                    self._resubmit_quantum([moved])
        else:
            self.check_pilots()
        with self._lock:  # a resubmission in progress on the supervisor thread ends first
            return rec.replaced_by is not None or rec.lost is not None

    def _complete(self, ref: Any, value: Any) -> Record | None:
        """Note a finished quantum task; returns its record if it was lost with its actor."""
        with self._lock:
            rec = self._records.get(ref.binary())
            if rec is None or rec.done:
                return None
            rec.done = True
        if isinstance(value, ray.exceptions.RayActorError) and not isinstance(
            value, ray.exceptions.ActorUnavailableError
        ):
            self._actor_died(rec.actor, rec.pilot, value)
            return rec
        cause = value.cause if isinstance(value, ray.exceptions.RayTaskError) else None
        if (
            isinstance(cause, BaseException)
            and rec.spec is not None
            and rec.resubmits < MAX_RESUBMITS
            and moves_on(rec.spec, cause)
        ):
            # Its resource kept failing and its actor could not forward it (all its
            # forward slots busy): move it to the next-ranked resource from here.
            rec.failover = cause
            self._service.resource_failed(rec.pilot, rec.spec.resource)
            return rec
        if self.journal is not None and rec.task_id and not rec.journaled:
            self._journal_outcome(rec.task_id, value)
            rec.journaled = True
        if self.store is not None and not isinstance(value, BaseException):
            try:
                self.store.put(value)
            except Exception as exc:  # closed, or not a QuantumResult: never lose the result
                logger.warning("task %s: not written to the results store: %s", rec.task_id, exc)
        rec.spec = None  # drop the circuit and arguments: nothing will resubmit it
        return None

    def _journal_outcome(self, task_id: str, value: Any) -> None:
        assert self.journal is not None
        try:
            if isinstance(value, BaseException):
                self.journal.failed(task_id, f"{type(value).__name__}: {value}"[:2000])
            else:
                self.journal.finished(task_id, encode_outcome(value))
        except JournalError as exc:  # a task the journal does not follow
            logger.debug("journal: %s", exc)

    # ------------------------------------------------------------ remote jobs
    def drain_events(self, everyone: bool = False) -> None:
        """Collect remote pilots' events; with ``everyone``, every pilot's task rows."""
        if everyone:
            self._drained_at = time.monotonic()
            metrics.flush()  # QDREAMER's selections counted since the last round
        pilots = [
            p
            for p in self._registry.quantum.values()
            if p.state is PilotState.RUNNING and (everyone or self._remote(p.name))
        ]
        calls = {
            a.drain_events.options(concurrency_group=PilotActor.CONTROL).remote(): a
            for p in pilots
            for a in p.actors
            if a not in self._dead_actors
        }
        if not calls:
            return
        ready, _ = ray.wait(list(calls), num_returns=len(calls), timeout=2.0)
        for ref in ready:
            try:
                events = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            self._service.jobs_submitted(events["jobs"])
            for task_id, job_id, _ in events["jobs"]:
                rec = self._by_task.get(task_id)
                if rec is not None:
                    rec.remote_jobs.append(job_id)
                if self.journal is not None:
                    try:
                        self.journal.remote_jobs(task_id, [job_id])
                    except JournalError as exc:
                        logger.debug("journal: %s", exc)
            for pilot, resource in set(events["failing"]):
                self._service.resource_failed(pilot, resource)
            self._service.record_rows(events.get("rows", ()))
            self._journal_records(events.get("journal", ()))

    def _journal_records(self, records: Sequence[tuple[str, bytes]]) -> None:
        """Journal results from the records their pilots made (nothing fetched here)."""
        if self.journal is None or not records:
            return

        for task_id, record in records:
            rec = self._by_task.get(task_id)
            if rec is not None and rec.journaled:
                continue
            try:
                self.journal.finished(task_id, record)
            except JournalError as exc:  # a task the journal does not follow
                logger.debug("journal: %s", exc)
                continue
            if rec is not None:
                rec.journaled = True

    # ------------------------------------------------------------ pilot loss
    def check_pilots(self) -> None:
        """Ping every quantum pilot's actors and poll every Slurm pilot's job."""
        with self._check_lock:  # one check at a time (thread, get_results)
            self._check_pilots()

    def _check_pilots(self) -> None:
        self._checked_at = issued = time.monotonic()  # before any ping is sent
        pings = {}
        for pilot in list(self._registry.quantum.values()):
            if pilot.state is not PilotState.RUNNING:
                continue
            for actor in list(pilot.actors):
                ref = actor.ping.options(concurrency_group=PilotActor.CONTROL).remote()
                pings[ref] = (actor, pilot.name)
        alive: set[Any] = set()
        if pings:
            ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=5.0)
            for ref in ready:
                try:
                    ray.get(ref)
                    alive.add(pings[ref][0])
                except ray.exceptions.ActorUnavailableError:
                    pass  # restarting (max_restarts): Ray retries its tasks
                except ray.exceptions.RayActorError as err:
                    self._actor_died(*pings[ref], err)
        # Tasks that finished before a ping their actor answered did not die with it;
        # those of actors released with their pilot (cancelled) are done too.
        pinged = pings_of(pings)
        late: list[Any] = []
        with self._lock:
            for actor in [a for a in self._unconfirmed if a not in pinged]:
                if actor not in self._dead_actors:
                    for _, key, ref in self._unconfirmed.pop(actor):
                        self._confirmed(key, ref, late)
            for actor in alive:
                keep = []
                for seen, key, ref in self._unconfirmed.get(actor, ()):
                    rec = self._records.get(key)
                    # A result's record reaches the journal with the pilot's events
                    # (collected every round): give it JOURNAL_WAIT before fetching.
                    waiting = self.journal is not None and rec is not None and not rec.journaled
                    if seen < issued - (JOURNAL_WAIT if waiting else 0.0):
                        self._confirmed(key, ref, late)
                    else:
                        keep.append((seen, key, ref))
                self._unconfirmed[actor] = keep
        self._settle_late(late)
        for any_pilot in list(self._registry.pilots.values()):
            if any_pilot.state is PilotState.RUNNING and any_pilot.config.is_slurm:
                try:
                    state = any_pilot.refresh()
                except Exception as exc:
                    logger.warning("pilot %s: cannot poll its job: %s", any_pilot.name, exc)
                    continue
                if state in TERMINAL_STATES:
                    self._pilot_lost(any_pilot, state)

    def _confirmed(self, key: bytes, ref: Any, late: list[Any]) -> None:
        """A finished task did not die with its actor (caller holds the lock): done, or,
        when the journal has no record of it yet (a failure; a result whose record
        was lost), one to fetch (``late``)."""
        rec = self._records.get(key)
        if rec is None or rec.done:
            return
        if self.journal is not None and rec.task_id and not rec.journaled:
            late.append(ref)
        else:
            rec.done, rec.spec = True, None

    def _settle_late(self, refs: list[Any]) -> None:
        """Fetch finished tasks (one ``ray.get``) and complete them: journal or store their
        outcome, or move those lost with their actor or failing over."""
        if refs:
            self._complete_all(refs, _values(refs))

    def _complete_all(self, refs: Sequence[Any], values: Sequence[Any]) -> None:
        """:meth:`_complete` each finished task, and resubmit those it says moved.

        Claimed (``_complete`` marks them done) and moved under one lock hold: a
        ``get_results`` settling one of them meanwhile neither moves it a second
        time nor misses that it was moved.
        """
        with self._lock:
            lost = [
                rec
                for ref, value in zip(refs, values, strict=True)
                if (rec := self._complete(ref, value)) is not None
            ]
            if lost:
                self._resubmit_quantum(lost)

    def _actor_died(self, actor: Any, pilot_name: str, err: BaseException) -> None:
        """An actor died for good: it leaves its pilot, and its lost tasks move."""
        with self._lock:
            if actor is None or actor in self._dead_actors:
                return
            self._dead_actors.add(actor)
        pilot = self._registry.quantum.get(pilot_name)
        logger.warning("pilot %s: an actor died (%s)", pilot_name, str(err).splitlines()[0])
        if pilot is not None:
            pilot.actor_lost(actor)
        # Its tasks: those still pending, and finished ones not yet confirmed.
        with self._lock:
            refs = list(self._pending.pop(actor, {}).values())
            refs += [r for _, _, r in self._unconfirmed.pop(actor, [])]
        self._complete_all(refs, [_value(ref, wait=5.0) for ref in refs])

    def _pilot_lost(self, pilot: Any, state: PilotState) -> None:
        """A Slurm pilot's job ended under it: cancel its unfinished tasks, then move them."""
        logger.warning("pilot %s: its capacity ended (%s)", pilot.name, state)
        with self._lock:  # held until every task is moved (settle() waits for it)
            refs = dict(self._pending.pop(pilot.name, {}))
            # Only tasks none of whose inputs is cancelled too (see Dependencies.cancel:
            # Ray 2.60 aborts on that race); the others fail with their input.
            for key, ref in refs.items():
                if any(u in refs for u in self._service.upstream(key)):
                    continue
                try:
                    ray.cancel(ref, force=True)
                except Exception as exc:
                    rec = self._records.get(key)
                    logger.debug("task %s: cancel: %s", rec.task_id if rec else "?", exc)
            for key, _ref in refs.items():
                rec = self._records.get(key)
                if rec is not None and not rec.done:
                    self._resubmit_classical(rec, pilot)

    # ------------------------------------------------------------ resubmission
    def _resubmit_quantum(self, records: Sequence[Record]) -> None:
        """Send lost quantum tasks to live pilots holding their resource (in chunks)."""
        prepared: list[tuple[QuantumPilot, TaskSpec]] = []
        owners: list[Record] = []
        for rec in records:
            spec = rec.spec
            if rec.failover is not None and spec is not None:
                moved = replace(failed_over(spec, rec.failover), args=spec.args, kwargs=spec.kwargs)
                ahead = self._registry.quantum.get(moved.pilot)
                if ahead is None or ahead.state is not PilotState.RUNNING or not ahead.actors:
                    self._fail(rec, f"its fallback pilot {moved.pilot!r} is not running")
                    continue
                rec.resubmits += 1
                prepared.append((ahead, moved))
                owners.append(rec)
                continue
            target = self._live_quantum(rec, spec)
            if spec is None or target is None or rec.resubmits >= MAX_RESUBMITS:
                self._fail(rec, f"no other running pilot holds its resource {rec.stage}")
                continue
            rec.resubmits += 1
            moved = replace(
                spec,
                pilot=target.name,
                attach_jobs=tuple(rec.remote_jobs),
                fallbacks=tuple(f for f in spec.fallbacks if f.pilot != rec.pilot),
            )
            prepared.append((target, moved))
            owners.append(rec)
        if not prepared:
            return
        refs = self._service.dispatch(prepared)
        for rec, ref in zip(owners, refs, strict=True):
            new = self._records.get(ref.binary())
            if new is not None:
                new.resubmits = rec.resubmits
                new.remote_jobs = list(rec.remote_jobs)
            rec.replaced_by, rec.spec = ref, None
        self.resubmitted += len(refs)
        ids = [rec.task_id for rec in owners]
        logger.warning(
            "resubmitted %d tasks lost with their pilot: %s%s",
            len(refs),
            ", ".join(ids[:20]),
            " ..." if len(ids) > 20 else "",
        )

    def _live_quantum(self, rec: Record, spec: TaskSpec | None) -> QuantumPilot | None:
        """Where a task lost with its pilot goes: its own pilot if it is running again,
        else the first other pilot holding its resource."""
        if spec is None:
            return None
        holders = self._registry.holding(spec.resource, prefer=rec.pilot)
        return holders[0] if holders else None

    def _resubmit_classical(self, rec: Record, lost: ClassicalPilot) -> None:
        others = self._registry.running_classical(besides=lost)
        if rec.call is None or not others or rec.resubmits >= MAX_RESUBMITS:
            self._fail(rec, "no other classical pilot is running")
            return

        fn, args, kwargs, resources = rec.call
        # Inputs that were themselves moved: their new refs (submission order keeps
        # upstream tasks first).
        args = tuple(self.resolve(a) if isinstance(a, ray.ObjectRef) else a for a in args)
        kwargs = {
            k: self.resolve(v) if isinstance(v, ray.ObjectRef) else v for k, v in kwargs.items()
        }
        ref = self._service.submit_classical(
            fn, args, kwargs, others[0].name, resources, task_id=rec.task_id or None
        )
        new = self._records.get(ref.binary())
        if new is not None:
            new.resubmits = rec.resubmits + 1
        rec.replaced_by, rec.call = ref, None
        self.resubmitted += 1
        logger.warning(
            "task %s (%s): pilot %s lost; resubmitted to %s",
            rec.task_id,
            rec.stage,
            lost.name,
            others[0].name,
        )

    def _fail(self, rec: Record, why: str) -> None:
        pilot = self._registry.pilots.get(rec.pilot)
        job_id = pilot.job_id if pilot is not None else None
        job = f" (Slurm job {job_id})" if job_id else ""
        rec.lost = PilotLostError(
            f"task {rec.task_id or rec.stage} ({rec.stage}): pilot {rec.pilot!r}{job} was lost "
            f"while running it, and {why}; create another pilot and submit it again",
            pilot=rec.pilot,
            job_id=job_id,
        )
        rec.spec = rec.call = None
        self.lost += 1
        if self.journal is not None and rec.task_id:
            self._journal_outcome(rec.task_id, rec.lost)


def _value(ref: Any, wait: float = 0.0) -> Any:
    """The value of a finished ``ref``, or the exception it raises."""
    try:
        return ray.get(ref, timeout=wait)
    except ray.exceptions.GetTimeoutError as exc:
        return exc
    except Exception as exc:
        return exc


def pings_of(pings: dict[Any, tuple[Any, str]]) -> set[Any]:
    """The actors pinged this round (those of running pilots)."""
    return {actor for actor, _ in pings.values()}


def _values(refs: list[Any]) -> list[Any]:
    """The values of finished ``refs`` (one ``ray.get``), each failure as its exception."""
    if not refs:
        return []
    try:
        return list(ray.get(refs, timeout=0))
    except Exception:  # some failed: one by one
        return [_value(r) for r in refs]

"""The one journal path: record every task submitted, and hand back what a resumed run
already has.

Each task is identified by a content hash of its description (:mod:`pilot.hashing`);
the same description submitted again, in the same order, meets its journal entry.
Resuming, a finished entry's result is returned without running the task, a
quantum task whose remote jobs were submitted re-attaches to them, and the rest
run again under their old task ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import ray
from cachetools import LRUCache
from ray.remote_function import RemoteFunction

from pilot.errors import JournalError
from pilot.hashing import description_hash
from pilot.journal.store import JournalEntry, TaskJournal
from pilot.pilots.pilot import QuantumPilot
from pilot.results import decode_outcome
from pilot.runtime.supervisor import Record, Supervisor
from pilot.states import RecordKind
from pilot.tasks import CircuitBlob, QuantumTask, TaskSpec, new_task_id

logger = logging.getLogger(__name__)


class Resume:
    """Journals a service's submissions (``journal`` may be ``None``: nothing to do)."""

    def __init__(self, journal: TaskJournal | None, resume: bool, supervisor: Supervisor) -> None:
        self.journal = journal
        self.resume = resume
        self._supervisor = supervisor
        #: Hashes of recent circuits (by their bytes) and descriptions: a loop
        #: submitting one circuit pays for hashing it once.
        self._circuit_hashes: LRUCache[bytes, str] = LRUCache(maxsize=64)
        self._description_hashes: LRUCache[tuple[Any, ...], str] = LRUCache(maxsize=64)

    def quantum(
        self,
        qt: QuantumTask,
        rows: Sequence[tuple[QuantumPilot, TaskSpec]],
        circuits: dict[int, str] | None = None,
    ) -> tuple[list[tuple[QuantumPilot, TaskSpec]], dict[int, Any]]:
        """Record the specs of ``qt`` (one per parameter set of a sweep).

        Returns the rows to send (resuming, a task keeps its old id, and one whose
        remote jobs were submitted is pointed at them), and the refs of results the
        journal already holds, by index in ``rows`` (they are not run again).
        """
        rows = list(rows)
        journal = self.journal
        if journal is None:
            return rows, {}
        base = self._quantum_hash(qt, circuits, rows[0][1].circuit if rows else None)
        if base is None:
            return rows, {}
        out: dict[int, Any] = {}
        for i, (pilot, sent) in enumerate(rows):
            spec = sent
            h = base if spec.parameters is None else description_hash(base, spec.parameters)
            key = journal.key(h)
            entry = journal.lookup(key) if self.resume else None
            if entry is not None and entry.finished and entry.result is not None:
                out[i] = self._resumed(entry, spec.stage, quantum=True)
                continue
            if entry is not None and entry.remote_job_ids and entry.resource == spec.resource:
                # Its remote jobs were submitted: follow them, do not pay twice.
                spec = replace(spec, task_id=entry.task_id, attach_jobs=entry.remote_job_ids)
                rows[i] = (pilot, spec)
                journal.attached(key, spec.task_id)
                continue
            if entry is not None:  # submitted before, not finished: run it again
                spec = replace(spec, task_id=entry.task_id)
                rows[i] = (pilot, spec)
            journal.submitted(key, spec.task_id, "quantum", spec.name, spec.pilot, spec.resource)
        return rows, out

    def classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        res: Mapping[str, Any],
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
                dict(res),
            )
        except (LookupError, JournalError) as exc:
            logger.debug("task %s (%s): not journaled: %s", task_id, name, exc)
            return None, task_id
        key = journal.key(h)
        entry = journal.lookup(key) if self.resume else None
        if entry is not None and entry.finished and entry.result is not None:
            return self._resumed(entry, name, quantum=False), entry.task_id
        if entry is not None:  # submitted before, not finished (or too big to keep)
            task_id = entry.task_id
        journal.submitted(key, task_id, "classical", name, pilot or "", None)
        return None, task_id

    def _resumed(self, entry: JournalEntry, stage: str, *, quantum: bool) -> Any:
        """A ref holding a finished entry's result (a quantum one says it was resumed)."""
        assert entry.result is not None  # callers check: finished with a result
        result = decode_outcome(entry.result)
        if quantum:
            result.metadata["resumed"] = True
        ref = ray.put(result)
        self._supervisor.watch(
            ref, Record(entry.task_id, stage, entry.pilot, RecordKind.RESUMED, done=True)
        )
        return ref

    def _quantum_hash(
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

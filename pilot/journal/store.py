"""The task journal: what a driver submitted, where it ran, and what came back.

A :class:`TaskJournal` is one SQLite file, ``<working directory>/journal.sqlite3``
(standard library ``sqlite3``, WAL mode, mode 0600).  A driver that is killed
and restarted on the same directory with ``resume=True`` asks :meth:`~TaskJournal.lookup`
for each task it submits again, gets finished results back without running
them, re-attaches to remote jobs by their ids, and resubmits the rest.

Keys
----
A task is known by ``TaskKey(hash, occurrence)``: :func:`description_hash` of
what was submitted, and how many tasks with that hash the driver process
submitted before it (the same script submitting the same circuit twice gets
``(h, 0)`` and ``(h, 1)``).  :meth:`~TaskJournal.key` counts occurrences.
Resuming is sound as long as the script submits the same things in the same
order; it does not notice edits to code that the hash does not cover (a
helper imported from another module), so start a new run (``resume=False``)
after changing the program.

Runs
----
Every driver start opens a *run*.  ``resume=False`` always starts a new run and
keeps older runs' rows untouched (nothing is mixed); ``resume=True`` continues
the latest run (or ``run_id``).  Lookups answer from the current run only.
With ``keep_runs=N`` (the service passes ``[service] journal_keep_runs``), a
new run deletes the runs before the latest N (itself included) with all their
rows, and gives their pages back to the file system (``auto_vacuum`` is
``INCREMENTAL``): the same work run every night keeps the file the same size.

Task states (see :meth:`~TaskJournal.state_changes`)::

    SUBMITTED ──> RUNNING ──> REMOTE_SUBMITTED ──> DONE / FAILED / CANCELED
        ^                            │
        │ a later run resubmits      │ a later run re-attaches by job id
    RESUBMITTED                   ATTACHED

Storage (schema version 2)
--------------------------
Designed for bytes per task, since a journal holds every task of the runs it
keeps.  One ``task`` row holds everything about a task's latest attempt: the
first 16 bytes of the SHA-256 of its description hash's text (128 bits: two
descriptions would share them once in some 10^19), its task id (qdreamer's 16
hex digits as one 64-bit integer, other ids as text), codes for its state and
kind, ids into a per-run ``strings`` table for its name, pilot and resource,
two times in milliseconds since the run started, and its result with a CRC-32
of it (SQLite has no page checksums: damage inside a result shows there).
The row *implies* two transitions: ``SUBMITTED`` at ``submitted`` and, when
the state is final, that state at ``updated``; only the others (``RUNNING``,
``REMOTE_SUBMITTED``, ``ATTACHED``, ``RESUBMITTED``, and a final state that a
later transition left) get a ``transitions`` row, so the common SUBMITTED ->
DONE writes one row.  Two indexes: the key, for lookups, and the task id.
Measured with 20,000 tasks, each submitted and finished with a 150-byte
result: **268 bytes per task** (the file after a checkpoint: 216 for the row
with its result, 30 and 19 for the two indexes); schema version 1 took 576.
A view ``tasks`` shows the rows with names, states, ids and times spelled
out (``sqlite3 journal.sqlite3 "SELECT * FROM tasks"``).  A version-1 journal
is migrated when it is opened (one transaction, then ``VACUUM``); a journal
newer than this code is refused.

Writing
-------
Calls come from several threads of one process (the submitting thread, a
result collector).  A call validates its arguments, queues the write and
returns (a few microseconds); one writer thread owns the connection, applies
the writes in order into an open transaction, and commits every
``COMMIT_INTERVAL`` seconds, after ``COMMIT_ROWS`` writes, and on
:meth:`~TaskJournal.flush`/:meth:`~TaskJournal.close`.  (One connection behind
a lock, with the caller executing the statements, was measured too: 20-50 us
per call on a loaded 2-core machine, against 3-7 us for this design.)  Reads see
every earlier write: a lookup of a key with writes still queued waits for
them.  Each call's statements land in one transaction, so a result and its
``DONE`` are committed together or not at all.  A SIGKILL loses at most the
uncommitted batch (about ``COMMIT_INTERVAL`` seconds of work, which is then
simply run again) and never corrupts the file.  :meth:`~TaskJournal.remote_jobs`
waits for its commit and fsyncs the WAL, because a lost job id means paying
for the job twice.
When the writer falls ``MAX_BACKLOG_BYTES`` behind, callers wait for it.

Memory stays flat however long the run: the journal holds in memory only the
tasks that are not finished yet (a task's entries go once its final state is
committed; a later call about it, such as :meth:`~TaskJournal.state_changes`,
reads the file), the writes not yet committed, and the occurrence counts of
:meth:`~TaskJournal.key` in 20 bytes per description hash.  Measured: 1.3 MiB
more at the 60,000th task than at the 10,000th, nearly all of it those counts
(``tests/pilot/test_journal.py``).

``PRAGMA synchronous=NORMAL``: in WAL mode a commit is appended to the WAL
without an fsync, and the WAL is synced at checkpoints.  Commits stay atomic
and the file consistent after a process kill or a power cut; only a power cut
can roll back the commits since the last checkpoint, which costs re-running
those tasks, never a wrong answer.  ``FULL`` would fsync on every commit.
Checkpoints run on the writer thread, off the callers' path.

Nothing secret is stored: task names, digests of description hashes, pilot and resource
names, remote job ids, errors as text and the pickled results (which hold no
credentials).  Never descriptions or configurations.

The journal needs a local disk: SQLite's WAL mode does not work on network
file systems (NFS, Lustre) shared between hosts.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import fcntl
import hashlib
import logging
import os
import queue
import re
import sqlite3
import struct
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from pilot.errors import JournalCorruptError, JournalError
from pilot.hashing import description_hash
from pilot.journal.fs import atomic_write, fsync_file

logger = logging.getLogger(__name__)

#: Version of the tables below.  Version 1 is migrated when opened; a newer one is refused.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of our journals ("QDRJ"): another program's SQLite
#: file is told apart from ours.
APPLICATION_ID = 0x5144524A
#: Seconds between commits (the most a killed driver loses).
COMMIT_INTERVAL = 0.05
#: Writes after which the writer thread commits without waiting.
COMMIT_ROWS = 2000
#: Bytes of queued writes (results mostly) after which callers wait for the writer.
MAX_BACKLOG_BYTES = 256 * 1024 * 1024
#: Seconds to wait for another program's lock on the file (an ``sqlite3`` shell).
BUSY_TIMEOUT = 10.0
#: WAL size (bytes) above which the writer thread checkpoints.
CHECKPOINT_BYTES = 8 * 1024 * 1024
#: Bytes of SHA-256 that identify a description hash in the file and in memory.
DIGEST_BYTES = 16

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Entries of committed writes the caller side keeps before it prunes them.
_PRUNE_ENTRIES = 4096
#: Interned strings (names, pilots, resources) the writer remembers.
_STRING_CACHE = 4096


class TaskState(enum.StrEnum):
    """States a journaled task passes through (spelled as :class:`pilot.states.PilotState`)."""

    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    REMOTE_SUBMITTED = "REMOTE_SUBMITTED"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    #: Submitted again by a later driver (the earlier attempt did not finish).
    RESUBMITTED = "RESUBMITTED"
    #: A later driver re-attached to the earlier attempt's remote jobs.
    ATTACHED = "ATTACHED"

    def __str__(self) -> str:
        return self.value


#: States a task does not leave unless a later run resubmits it.
TERMINAL_TASK_STATES = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELED})

TaskKind = Literal["quantum", "classical"]


class TaskKey(NamedTuple):
    """A task's description hash and occurrence number (see the module docstring)."""

    hash: str
    occurrence: int


class StateChange(NamedTuple):
    state: TaskState
    at: float  # seconds since the epoch


@dataclass(frozen=True)
class JournalEntry:
    """What the current run knows about one key.

    ``remote_job_ids`` are the jobs of the latest attempt; ``result`` is the
    pickled result when ``state`` is ``DONE``, ``error`` the text of the error
    when it is ``FAILED``.
    """

    key: TaskKey
    task_id: str
    kind: TaskKind
    name: str
    pilot: str
    resource: str | None
    state: TaskState
    attempt: int
    remote_job_ids: tuple[str, ...]
    result: bytes | None
    error: str | None
    updated_at: float

    @property
    def finished(self) -> bool:
        """The task's result is here (a later driver need not run it again)."""
        return self.state is TaskState.DONE

    def __repr__(self) -> str:  # the result can be megabytes: show its size
        size = "None" if self.result is None else f"<{len(self.result)} bytes>"
        return (
            f"JournalEntry(key={tuple(self.key)!r}, task_id={self.task_id!r}, "
            f"name={self.name!r}, state={self.state}, resource={self.resource!r}, "
            f"attempt={self.attempt}, remote_job_ids={self.remote_job_ids!r}, result={size})"
        )


# --------------------------------------------------------------------------- the file

#: How states are stored (``task.state``, ``transitions.state``).  On disk: never renumber.
#: The two states most rows hold are 0 and 1, which SQLite stores in no bytes at all.
_STATE_CODES: dict[TaskState, int] = {
    TaskState.SUBMITTED: 0,
    TaskState.DONE: 1,
    TaskState.RUNNING: 2,
    TaskState.REMOTE_SUBMITTED: 3,
    TaskState.FAILED: 4,
    TaskState.CANCELED: 5,
    TaskState.RESUBMITTED: 6,
    TaskState.ATTACHED: 7,
}
_STATES = {code: state for state, code in _STATE_CODES.items()}
_FINAL_CODES = ", ".join(str(_STATE_CODES[s]) for s in sorted(TERMINAL_TASK_STATES))
#: ``task.kind``: quantum 0, classical 1.
_KINDS: tuple[TaskKind, ...] = ("quantum", "classical")

# Tables that runs and their tasks live in.  (No ';' inside a statement: the
# statements are split on it.)
_SCHEMA_RUNS = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE runs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL UNIQUE,
    started_at REAL NOT NULL,  -- seconds since the epoch: the origin of the run's times
    opened_at  REAL NOT NULL,
    pid        INTEGER NOT NULL
);
"""
_SCHEMA_TASKS = """
CREATE TABLE strings (
    -- A run's task names, pilots and resources, each stored once.
    id   INTEGER PRIMARY KEY,
    run  INTEGER NOT NULL REFERENCES runs(seq),
    text TEXT NOT NULL,
    UNIQUE (run, text)
);
CREATE TABLE task (
    -- One row per task: its latest attempt, its result, and two of its transitions.
    id         INTEGER PRIMARY KEY,
    run        INTEGER NOT NULL REFERENCES runs(seq),
    digest     BLOB NOT NULL,     -- the first 16 bytes of sha256(description hash)
    occurrence INTEGER NOT NULL,
    task_id    NOT NULL,          -- 16 lowercase hex digits as a signed 64-bit integer, or text
    state      INTEGER NOT NULL,  -- _STATE_CODES
    kind       INTEGER NOT NULL,  -- 0 quantum, 1 classical
    name       INTEGER NOT NULL,  -- strings.id
    pilot      INTEGER NOT NULL,  -- strings.id
    resource   INTEGER,           -- strings.id
    attempt    INTEGER NOT NULL,
    submitted  INTEGER NOT NULL,  -- ms since runs.started_at: the SUBMITTED transition
    updated    INTEGER NOT NULL,  -- ms since runs.started_at: the transition into state
    result     BLOB,              -- the pickled result, when DONE
    crc        INTEGER,           -- zlib.crc32(result) as a signed 32-bit integer
    error      TEXT,              -- the error, when FAILED
    UNIQUE (run, digest, occurrence)
);
CREATE TABLE aliases (
    -- Task ids a task had before a later driver resubmitted or attached it under another.
    run     INTEGER NOT NULL REFERENCES runs(seq),
    task_id NOT NULL,
    task    INTEGER NOT NULL REFERENCES task(id),
    PRIMARY KEY (run, task_id)
) WITHOUT ROWID;
CREATE TABLE transitions (
    -- The transitions the task row does not imply.
    id    INTEGER PRIMARY KEY,
    task  INTEGER NOT NULL REFERENCES task(id),
    state INTEGER NOT NULL,
    at    INTEGER NOT NULL  -- ms since runs.started_at
);
CREATE TABLE remote_jobs (
    id      INTEGER PRIMARY KEY,
    task    INTEGER NOT NULL REFERENCES task(id),
    attempt INTEGER NOT NULL,
    job_id  TEXT NOT NULL
);
"""
_STATE_NAMES = " ".join(f"WHEN {code} THEN '{state}'" for state, code in _STATE_CODES.items())
# Created after the tables (a migration fills the tables first).
_SCHEMA_INDEXES = f"""
CREATE UNIQUE INDEX task_by_id ON task (run, task_id);
CREATE INDEX aliases_by_task ON aliases (task);
CREATE INDEX transitions_by_task ON transitions (task);
CREATE INDEX remote_jobs_by_task ON remote_jobs (task, attempt);
CREATE VIEW tasks AS
SELECT t.id AS id, r.run_id AS run_id, t.run AS run_seq, lower(hex(t.digest)) AS digest,
       t.occurrence AS occurrence,
       CASE typeof(t.task_id) WHEN 'integer' THEN printf('%016x', t.task_id)
            ELSE t.task_id END AS task_id,
       CASE t.kind WHEN 0 THEN 'quantum' ELSE 'classical' END AS kind,
       n.text AS name, p.text AS pilot, s.text AS resource,
       CASE t.state {_STATE_NAMES} END AS state,
       t.attempt AS attempt, t.error AS error,
       r.started_at + t.submitted / 1000.0 AS submitted_at,
       r.started_at + t.updated / 1000.0 AS updated_at,
       length(t.result) AS result_bytes
FROM task t JOIN runs r ON r.seq = t.run
     LEFT JOIN strings n ON n.id = t.name
     LEFT JOIN strings p ON p.id = t.pilot
     LEFT JOIN strings s ON s.id = t.resource;
"""
_TABLES = frozenset({"meta", "runs", "strings", "task", "aliases", "transitions", "remote_jobs"})
_TABLES_V1 = frozenset(
    {"meta", "runs", "tasks", "task_ids", "transitions", "remote_jobs", "results"}
)

# The task a task id names in a run: its current id, or one it had before.
_TASK_OF_ID = (
    "SELECT {columns} FROM task t WHERE t.run = ?1 AND t.task_id = ?2 UNION ALL"
    " SELECT {columns} FROM aliases a JOIN task t ON t.id = a.task"
    " WHERE a.run = ?1 AND a.task_id = ?2 LIMIT 1"
)
# Before a task leaves a final state, the transition its row implied gets a row.
_KEEP_FINAL = (
    "INSERT INTO transitions (task, state, at)"
    f" SELECT id, state, updated FROM task WHERE id = ? AND state IN ({_FINAL_CODES})"
)
_HEX_ID = re.compile(r"[0-9a-f]{16}")
_COUNT = struct.Struct(">I")

_Ref = tuple[bytes, int]  # (digest, occurrence): a task's identity in the file
_V = TypeVar("_V")


def _digest(description_hash: str) -> bytes:
    return hashlib.sha256(description_hash.encode("utf-8", "surrogatepass")).digest()[:DIGEST_BYTES]


def _stored_id(task_id: str) -> int | str:
    """A task id as stored: 16 lowercase hex digits (every id qdreamer makes) as an integer."""
    if len(task_id) == 16 and _HEX_ID.fullmatch(task_id):
        value = int(task_id, 16)
        return value - (1 << 64) if value >= 1 << 63 else value
    return task_id


def _task_id(stored: int | str) -> str:
    return f"{stored & 0xFFFF_FFFF_FFFF_FFFF:016x}" if isinstance(stored, int) else stored


def _crc(data: bytes) -> int:
    """``zlib.crc32`` as a signed 32-bit integer (4 bytes in SQLite, not 6)."""
    value = zlib.crc32(data)
    return value - (1 << 32) if value >= 1 << 31 else value


def _without(mapping: dict[str, _V], keys: Sequence[str]) -> dict[str, _V]:
    """``mapping`` without ``keys``: in place, or a copy once most of its table is empty.

    A dict never gives back the table it grew to, so after a burst of
    unfinished tasks the memory would stay; a right-sized dict takes under
    100 bytes per entry.
    """
    for key in keys:
        mapping.pop(key, None)
    return dict(mapping) if sys.getsizeof(mapping) > 400 * len(mapping) + 4096 else mapping


class _Occurrences:
    """How many keys :meth:`TaskJournal.key` gave out per description hash: 20 bytes each.

    A dict keyed by digests would take ~110 bytes per hash (a bytes object
    and a dict slot), and a sweep gives every parameter set its own hash.
    Records (16-byte digest, 4-byte count) live in 4096 bytearrays chosen by
    the digest's first 12 bits and are found with ``bytearray.find``.
    """

    _RECORD = DIGEST_BYTES + _COUNT.size

    def __init__(self) -> None:
        self._buckets: list[bytearray | None] = [None] * 4096

    def next(self, digest: bytes) -> int:
        """The count for ``digest`` so far; counts this call."""
        i = digest[0] << 4 | digest[1] >> 4
        bucket = self._buckets[i]
        if bucket is None:
            self._buckets[i] = bytearray(digest + _COUNT.pack(1))
            return 0
        at = bucket.find(digest)
        while at > 0 and at % self._RECORD:  # a match across two records
            at = bucket.find(digest, at + 1)
        if at < 0:
            bucket += digest + _COUNT.pack(1)
            return 0
        (n,) = _COUNT.unpack_from(bucket, at + DIGEST_BYTES)
        _COUNT.pack_into(bucket, at + DIGEST_BYTES, n + 1)
        return int(n)


# --------------------------------------------------------------------------- journal


class TaskJournal:
    """The journal of one working directory (see the module docstring).

    Args:
        directory: the service's working directory (created if missing).
        resume: continue the latest run (or ``run_id``) instead of starting a
            new one.  With nothing to continue a new run starts.
        run_id: name of the run to start or continue (default: a new
            time-stamped id).
        keep_runs: when a new run starts, delete the runs before the latest
            ``keep_runs`` (the new one included) with their tasks and
            results.  ``None`` or 0 keeps every run.

    Raises:
        JournalCorruptError: the file is not a journal, is damaged, or has a
            schema version this code does not know.
        JournalError: another driver holds the journal, ``run_id`` exists
            and ``resume`` is ``False``, or ``keep_runs`` is not an integer >= 0.

    Recording methods validate their arguments, then queue the write and
    return; the writer thread applies the writes in order.  A write that fails
    there (disk full, damage found) stops the journal: every later call, and
    :meth:`flush`/:meth:`close`, raise :class:`JournalError` naming the cause.
    """

    FILE = "journal.sqlite3"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        resume: bool,
        run_id: str | None = None,
        keep_runs: int | None = None,
    ):
        if keep_runs is not None and (type(keep_runs) is not int or keep_runs < 0):
            raise JournalError(
                f"keep_runs must be an integer >= 0 (0 keeps every run), not {keep_runs!r}"
            )
        self.directory = Path(directory)
        self.path = self.directory / self.FILE
        self._conn: sqlite3.Connection | None = None  # the writer thread's
        self._reader: sqlite3.Connection | None = None
        self._lockfile: int | None = None
        self._closed = False
        # Caller side, under _put_lock: FIFO sequence numbers and what is in flight.
        self._put_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._seq = 0
        self._queued_bytes = 0  # caller side
        self._applied_bytes = 0  # writer side
        self._occurrences = _Occurrences()
        #: Task id -> (ref, key) of tasks this process recorded and that are not
        #: finished, or whose final write is not committed yet (``_ending``).
        self._tasks: dict[str, tuple[_Ref, TaskKey]] = {}
        self._ending: dict[str, int] = {}  # task id -> seq of its final write
        self._dirty: dict[_Ref, int] = {}  # ref -> seq of its latest write (until pruned)
        self._prune_at = _PRUNE_ENTRIES
        # Writer side.
        self._committed = 0  # every write with seq <= this is committed
        self._done = threading.Condition()
        self._error: BaseException | None = None
        self._row_of_task: dict[str, int] = {}  # unfinished tasks' rows
        self._ended: list[str] = []  # task ids whose final write is in the open batch
        self._string_ids: dict[str, int] = {}
        self._read_lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lockfile = self._take_lock()
        try:
            conn = self._conn = self._open(resume)
            self.run_id, self._run, self._epoch, self.resumed = self._start_run(
                conn, resume, run_id, keep_runs or 0
            )
            (tasks,) = conn.execute(
                "SELECT count(*) FROM task WHERE run = ?", (self._run,)
            ).fetchone()
            self._has_aliases = (
                conn.execute("SELECT 1 FROM aliases WHERE run = ?", (self._run,)).fetchone()
                is not None
            )
            self._reader = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
            self._reader.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            self._release()
            raise self._sqlite_error(exc) from exc
        except BaseException:
            self._release()
            raise
        self._writer = threading.Thread(
            target=self._write_loop, name=f"journal-writer-{self.run_id}", daemon=True
        )
        self._writer.start()
        atexit.register(self.close)
        logger.info(
            "journal %s: %s run %s (%d tasks)",
            self.path,
            "resumed" if self.resumed else "started",
            self.run_id,
            tasks,
        )

    # ------------------------------------------------------------------ opening

    def _take_lock(self) -> int:
        """An exclusive ``flock`` on ``journal.sqlite3.lock``: one driver per journal."""
        lock_path = self.directory / f"{self.FILE}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise JournalError(
                f"task journal {self.path} is in use by another driver (pid {holder}); "
                "wait for it to finish, or give this driver another working directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd

    def _corrupt(self, reason: str) -> JournalCorruptError:
        return JournalCorruptError(self.path, reason)

    def _sqlite_error(self, exc: sqlite3.Error) -> JournalError:
        """Damage is :class:`JournalCorruptError`; a lock or an I/O error is not."""
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._corrupt(f"SQLite cannot read it ({exc})")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return JournalError(
                f"task journal {self.path} is locked by another program ({exc}); "
                "close it (an sqlite3 shell?) and start again"
            )
        return JournalError(f"task journal {self.path}: SQLite failed: {exc} ({name or 'error'})")

    def _open(self, resume: bool) -> sqlite3.Connection:
        path = self.path
        fresh = True
        if path.exists() or path.is_symlink():
            if not path.is_file():
                raise self._corrupt("it is not a regular file")
            size = path.stat().st_size
            if size == 0:
                # SQLite writes the first page as soon as WAL mode is set, so an
                # empty file never held a committed task: it is what a driver
                # killed between creating the file and its first write leaves.
                if resume:
                    logger.warning(
                        "task journal %s is empty (0 bytes): nothing to resume, starting a new run",
                        path,
                    )
            else:
                fresh = False
                with open(path, "rb") as fh:
                    header = fh.read(100)
                if not header.startswith(_SQLITE_MAGIC):
                    raise self._corrupt(
                        f"it is not an SQLite database (the file starts with {header[:16]!r})"
                    )
                if len(header) < 100:
                    raise self._corrupt(f"it is truncated ({size} bytes, shorter than its header)")
                self._check_size(header, size)
        if fresh:
            # A -wal left beside a deleted or empty journal belongs to another
            # database: SQLite would replay it into the new file.
            for suffix in ("-wal", "-shm"):
                stale = Path(f"{path}{suffix}")
                if stale.exists():
                    logger.warning("removing %s left without its journal", stale)
                    stale.unlink()
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)  # the -wal and -shm files copy the journal's mode
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        try:
            self._configure(conn, check=resume and not fresh)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_size(self, header: bytes, size: int) -> None:
        """A file shorter than its header says is truncated (cheap; no quick_check needed).

        Only when the header's page count is valid (SQLite's "version-valid-for"
        equals the change counter) and no WAL could still extend the file.
        """
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            return
        (page_size,) = struct.unpack(">H", header[16:18])
        page_size = 65536 if page_size == 1 else page_size
        (changes,) = struct.unpack(">I", header[24:28])
        (pages,) = struct.unpack(">I", header[28:32])
        (valid_for,) = struct.unpack(">I", header[92:96])
        if valid_for == changes and pages * page_size > size:
            raise self._corrupt(
                f"it is truncated ({size} bytes; its header says {pages} pages of {page_size})"
            )

    def _configure(self, conn: sqlite3.Connection, *, check: bool) -> None:
        """Check the file is our journal (reading only), then set it up (migrating version 1)."""
        try:
            if check:  # O(file size): about 0.15 s for 10,000 results of 4 KB
                problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise self._corrupt("SQLite's integrity check failed: " + "; ".join(problems))
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            } - {"sqlite_sequence"}
            empty = app_id == 0 and not tables
            if not empty and app_id != APPLICATION_ID:
                raise self._corrupt(
                    f"it is an SQLite database of another program (application_id {app_id:#x}, "
                    f"tables {', '.join(sorted(tables)) or 'none'})"
                )
            version = SCHEMA_VERSION if empty else self._check_version(conn, tables)
            if empty:  # must precede the first table (and WAL mode, which writes page 1)
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(
                    f"task journal {self.path}: SQLite refused WAL mode (got {mode!r}); "
                    "put the working directory on a local disk"
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the writer checkpoints after commits
            if empty:
                self._create_schema(conn)
            elif version == 1:
                self._migrate_v1(conn)
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                # A file that had a page before its tables (or version 1): rebuild it
                # so that deleted runs give their pages back.
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL holds the whole file
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise self._sqlite_error(exc) from exc

    def _check_version(self, conn: sqlite3.Connection, tables: set[str]) -> int:
        if "meta" not in tables:
            raise self._corrupt("its meta table is missing")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise self._corrupt(f"its schema version is unreadable ({row!r})") from None
        if version > SCHEMA_VERSION:
            raise self._corrupt(
                f"it has schema version {version}, newer than this qdreamer understands "
                f"({SCHEMA_VERSION}); open it with the qdreamer that wrote it"
            )
        if version not in (1, SCHEMA_VERSION):
            raise self._corrupt(f"it has unknown schema version {version}")
        missing = (_TABLES_V1 if version == 1 else _TABLES) - tables
        if missing:
            raise self._corrupt(f"tables {', '.join(sorted(missing))} are missing")
        return version

    @staticmethod
    def _execute_script(conn: sqlite3.Connection, script: str) -> None:
        """Statements separated by ';' (inside the caller's transaction, unlike executescript)."""
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._execute_script(conn, _SCHEMA_RUNS + _SCHEMA_TASKS + _SCHEMA_INDEXES)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created_at", repr(time.time())),
                    ("created_by", "qdreamer pilot.journal"),
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate_v1(self, conn: sqlite3.Connection) -> None:
        """Rewrite a version-1 journal as version 2, in one transaction.

        Version 1 kept a row per transition, the result in a ``results`` table
        with its SHA-256, and hashes, ids, names and states as text.  Task
        rows keep their ids (so ``remote_jobs`` rows keep theirs); a result
        that no longer matched its SHA-256 is kept without a CRC, so that
        :meth:`lookup` still reports it as damaged.
        """
        started = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Free the names version 2 uses (indexes follow their tables).
            for table in ("tasks", "transitions", "remote_jobs"):
                conn.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
            self._execute_script(conn, _SCHEMA_TASKS)
            epochs = dict(conn.execute("SELECT seq, started_at FROM runs").fetchall())
            strings: dict[tuple[int, str], int] = {}

            def intern(run: int, text: str | None) -> int | None:
                if text is None:
                    return None
                sid = strings.get((run, text))
                if sid is None:
                    cur = conn.execute("INSERT INTO strings (run, text) VALUES (?, ?)", (run, text))
                    sid = strings[run, text] = int(cur.lastrowid or 0)
                return sid

            def ms(run: int, at: float) -> int:
                return round((at - epochs[run]) * 1000)

            rows = conn.execute(
                "SELECT t.id, t.run_seq, t.hash, t.occurrence, t.task_id, t.kind, t.name,"
                " t.pilot, t.resource, t.state, t.attempt, t.error, t.updated_at,"
                " r.result, r.sha256 FROM v1_tasks t LEFT JOIN results r ON r.task = t.id"
                " ORDER BY t.id"
            )
            count = 0
            for (task, run, h, occurrence, task_id, kind, name, pilot, resource, state,
                 attempt, error, updated_at, result, sha256) in rows:  # fmt: skip
                changes = conn.execute(
                    "SELECT state, at FROM v1_transitions WHERE task = ? ORDER BY id", (task,)
                ).fetchall()
                submitted_at = updated_at
                if changes and changes[0][0] == TaskState.SUBMITTED:
                    submitted_at = changes.pop(0)[1]
                if state in TERMINAL_TASK_STATES and changes and changes[-1][0] == state:
                    changes.pop()  # implied by the row (at updated_at)
                crc = None
                if result is not None and hashlib.sha256(result).digest() == sha256:
                    crc = _crc(result)
                conn.execute(
                    "INSERT INTO task (id, run, digest, occurrence, task_id, state, kind, name,"
                    " pilot, resource, attempt, submitted, updated, result, crc, error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (task, run, _digest(h), occurrence, _stored_id(task_id),
                     _STATE_CODES[TaskState(state)], _KINDS.index(kind), intern(run, name),
                     intern(run, pilot), intern(run, resource), attempt,
                     ms(run, submitted_at), ms(run, updated_at),
                     result if state == TaskState.DONE else None, crc, error),
                )  # fmt: skip
                conn.executemany(
                    "INSERT INTO transitions (task, state, at) VALUES (?, ?, ?)",
                    [(task, _STATE_CODES[TaskState(s)], ms(run, at)) for s, at in changes],
                )
                count += 1
            aliases = conn.execute(
                "SELECT i.run_seq, i.task_id, i.task FROM task_ids i"
                " JOIN v1_tasks t ON t.id = i.task WHERE i.task_id != t.task_id"
            ).fetchall()
            conn.executemany(
                "INSERT INTO aliases (run, task_id, task) VALUES (?, ?, ?)",
                [(run, _stored_id(old), task) for run, old, task in aliases],
            )
            conn.execute(
                "INSERT INTO remote_jobs (id, task, attempt, job_id)"
                " SELECT id, task, attempt, job_id FROM v1_remote_jobs"
            )
            for table in ("v1_transitions", "v1_remote_jobs", "results", "task_ids", "v1_tasks"):
                conn.execute(f"DROP TABLE {table}")
            self._execute_script(conn, _SCHEMA_INDEXES)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('migrated_from', '1'),"
                " ('migrated_at', ?)",
                (repr(time.time()),),
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, KeyError | ValueError | TypeError):  # rows version 1 never wrote
                raise self._corrupt(f"cannot migrate it from schema version 1: {exc}") from exc
            raise
        logger.info(
            "task journal %s: migrated %d tasks from schema version 1 to %d in %.1f s",
            self.path,
            count,
            SCHEMA_VERSION,
            time.monotonic() - started,
        )

    def _start_run(
        self, conn: sqlite3.Connection, resume: bool, run_id: str | None, keep_runs: int
    ) -> tuple[str, int, float, bool]:
        now = time.time()
        if run_id is not None and not run_id.strip():
            raise JournalError("run_id must be a non-empty string (or None for a new id)")
        if resume:
            if run_id is None:
                row = conn.execute(
                    "SELECT seq, run_id, started_at FROM runs ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT seq, run_id, started_at FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE runs SET opened_at = ?, pid = ? WHERE seq = ?",
                    (now, os.getpid(), row[0]),
                )
                return str(row[1]), int(row[0]), float(row[2]), True
            logger.info("journal %s: no run %s to resume, starting it", self.path, run_id or "")
        elif run_id is not None:
            known = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if known:
                raise JournalError(
                    f"run {run_id!r} already exists in task journal {self.path}; pass "
                    "resume=True to continue it, or choose another run_id"
                )
        new_id = run_id or f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO runs (run_id, started_at, opened_at, pid) VALUES (?, ?, ?, ?)",
                (new_id, now, now, os.getpid()),
            )
            assert cur.lastrowid is not None
            dropped = self._drop_old_runs(conn, keep_runs) if keep_runs else []
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if dropped:
            conn.executescript("PRAGMA incremental_vacuum")  # execute() frees one page
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            logger.info(
                "journal %s: deleted %d old run(s) (%s), keeping the latest %d",
                self.path,
                len(dropped),
                ", ".join(dropped),
                keep_runs,
            )
        return new_id, cur.lastrowid, now, False

    @staticmethod
    def _drop_old_runs(conn: sqlite3.Connection, keep_runs: int) -> list[str]:
        """Delete the runs before the latest ``keep_runs``, with all their rows."""
        old = conn.execute(
            "SELECT seq, run_id FROM runs ORDER BY seq DESC LIMIT -1 OFFSET ?", (keep_runs,)
        ).fetchall()
        for seq, _ in old:
            for statement in (
                "DELETE FROM transitions WHERE task IN (SELECT id FROM task WHERE run = ?)",
                "DELETE FROM remote_jobs WHERE task IN (SELECT id FROM task WHERE run = ?)",
                "DELETE FROM aliases WHERE run = ?",
                "DELETE FROM task WHERE run = ?",
                "DELETE FROM strings WHERE run = ?",
                "DELETE FROM runs WHERE seq = ?",
            ):
                conn.execute(statement, (seq,))
        return [str(run_id) for _, run_id in old]

    # ------------------------------------------------------------------ recording (callers)

    def _check_usable(self) -> None:
        if self._closed:
            raise JournalError(f"task journal {self.path} is closed")
        if self._error is not None:
            raise JournalError(
                f"task journal {self.path} stopped recording after an error: {self._error}"
            ) from self._error

    def _put(self, op: str, ref: _Ref | None, *args: Any, size: int = 0) -> int:
        """Queue one write (caller holds ``_put_lock``); returns its sequence number."""
        self._seq += 1
        if ref is not None:
            self._dirty[ref] = self._seq
            if len(self._dirty) > self._prune_at:
                self._prune()
        size += 200
        self._queued_bytes += size
        self._queue.put((self._seq, size, op, *args))
        return self._seq

    def _prune(self) -> None:
        """Forget committed writes, and tasks whose final write is committed (under the lock)."""
        committed = self._committed
        self._dirty = {ref: seq for ref, seq in self._dirty.items() if seq > committed}
        ended = [task_id for task_id, seq in self._ending.items() if seq <= committed]
        if ended:
            self._ending = {t: seq for t, seq in self._ending.items() if seq > committed}
            self._tasks = _without(self._tasks, ended)
        self._prune_at = max(_PRUNE_ENTRIES, 2 * len(self._dirty))

    def _throttle(self) -> None:
        """Let the writer thread catch up when it is ``MAX_BACKLOG_BYTES`` behind."""
        if self._queued_bytes - self._applied_bytes <= MAX_BACKLOG_BYTES:
            return
        logger.debug("journal %s: waiting for the writer to catch up", self.path)
        while (
            self._queued_bytes - self._applied_bytes > MAX_BACKLOG_BYTES // 2
            and self._error is None
            and self._writer.is_alive()
        ):
            time.sleep(0.002)

    def _not_here(self, task_id: object) -> JournalError:
        return JournalError(
            f"task {task_id!r} is not in task journal {self.path} (run {self.run_id}); "
            "record it with submitted() first"
        )

    def _put_about(
        self, task_id: str, op: str, *args: Any, size: int = 0, final: bool = False
    ) -> int:
        """Queue a write about an earlier recorded task; returns its sequence number.

        A task this process follows is found in memory; any other (finished, or
        recorded by an earlier driver of this run) in the file.
        """
        with self._put_lock:
            self._check_usable()
            live = self._tasks.get(task_id)
            if live is not None:
                seq = self._put(op, live[0], task_id, *args, size=size)
                if final:
                    self._ending[task_id] = seq
                else:
                    self._ending.pop(task_id, None)
                return seq
        ref = self._stored_ref(task_id)
        with self._put_lock:
            self._check_usable()
            return self._put(op, ref, task_id, *args, size=size)

    def _stored_ref(self, task_id: object) -> _Ref:
        if not isinstance(task_id, str) or not task_id:
            raise self._not_here(task_id)
        with self._read_lock:
            row = (
                self._require_reader()
                .execute(
                    _TASK_OF_ID.format(columns="t.digest, t.occurrence"),
                    (self._run, _stored_id(task_id)),
                )
                .fetchone()
            )
        if row is None:
            raise self._not_here(task_id)
        return bytes(row[0]), int(row[1])

    def _known(self, ref: _Ref) -> bool:
        """Whether the current run holds ``ref``, in memory or in the file."""
        with self._put_lock:
            if ref in self._dirty:
                return True
        with self._read_lock:
            row = (
                self._require_reader()
                .execute(
                    "SELECT 1 FROM task WHERE run = ? AND digest = ? AND occurrence = ?",
                    (self._run, *ref),
                )
                .fetchone()
            )
        return row is not None

    @staticmethod
    def _task_key(key: tuple[str, int]) -> tuple[TaskKey, _Ref]:
        k = TaskKey(*key)
        if not isinstance(k.hash, str) or not k.hash:
            raise JournalError(f"description hash must be a non-empty string, not {k.hash!r}")
        if type(k.occurrence) is not int or k.occurrence < 0:
            raise JournalError(f"occurrence must be an integer >= 0, not {k.occurrence!r}")
        return k, (_digest(k.hash), k.occurrence)

    def key(self, description_hash: str) -> TaskKey:
        """The key of the next submission with this hash in this driver process."""
        if not isinstance(description_hash, str) or not description_hash:
            raise JournalError(
                f"description hash must be a non-empty string, not {description_hash!r}"
            )
        digest = _digest(description_hash)
        with self._put_lock:
            n = self._occurrences.next(digest)
        return TaskKey(description_hash, n)

    def submitted(
        self,
        key: tuple[str, int],
        task_id: str,
        kind: TaskKind,
        name: str,
        pilot: str,
        resource: str | None,
    ) -> None:
        """Record a submission (``RESUBMITTED`` when the run already holds ``key``)."""
        if kind not in _KINDS:
            raise JournalError(f"task kind must be 'quantum' or 'classical', not {kind!r}")
        for what, value in (("name", name), ("pilot", pilot), ("resource", resource)):
            if not isinstance(value, str) and (what != "resource" or value is not None):
                raise JournalError(f"task {what} must be a string, not {value!r}")
        k, ref = self._task_key(key)
        now = time.time()
        with self._put_lock:
            self._check_usable()
            self._check_task_id(task_id, k)
            self._tasks[task_id] = (ref, k)
            self._ending.pop(task_id, None)
            self._put("submitted", ref, ref, task_id, kind, name, pilot, resource, now)
        self._throttle()

    def _check_task_id(self, task_id: str, key: TaskKey) -> None:
        """Against the tasks this process follows (the writer checks the file's)."""
        if not isinstance(task_id, str) or not task_id:
            raise JournalError(f"task id must be a non-empty string, not {task_id!r}")
        other = self._tasks.get(task_id)
        if other is not None and other[1] != key:
            raise JournalError(
                f"task id {task_id!r} is already recorded for another task "
                f"(key {tuple(other[1])!r}) in {self.path}"
            )

    def attached(self, key: tuple[str, int], task_id: str) -> None:
        """A new driver follows ``key``'s remote jobs as ``task_id`` (no resubmission)."""
        k, ref = self._task_key(key)
        now = time.time()
        with self._put_lock:
            self._check_usable()
        if not self._known(ref):
            raise JournalError(
                f"cannot attach task {task_id!r}: key {tuple(k)!r} is not in run "
                f"{self.run_id} of {self.path}"
            )
        with self._put_lock:
            self._check_usable()
            self._check_task_id(task_id, k)
            self._tasks[task_id] = (ref, k)
            self._ending.pop(task_id, None)
            self._put("attached", ref, ref, task_id, now)

    def running(self, task_id: str) -> None:
        """The task started on its pilot."""
        self._put_about(task_id, "state", TaskState.RUNNING, time.time())
        self._throttle()

    def cancelled(self, task_id: str) -> None:
        """The task was cancelled (recorded as ``CANCELED``)."""
        self._put_about(task_id, "state", TaskState.CANCELED, time.time(), final=True)
        self._throttle()

    def remote_jobs(self, task_id: str, job_ids: Sequence[str]) -> None:
        """Append remote job ids (state ``REMOTE_SUBMITTED``); committed before returning.

        Waiting for the commit (a few ms) is worth it: a job id lost to a crash
        means paying for the job again.
        """
        if isinstance(job_ids, str) or not all(isinstance(j, str) and j for j in job_ids):
            raise JournalError(f"job_ids must be a sequence of non-empty strings, not {job_ids!r}")
        seq = self._put_about(task_id, "jobs", tuple(job_ids), time.time())
        self._wait(seq)

    def finished(self, task_id: str, result: bytes) -> None:
        """Record the pickled result and ``DONE`` (one transaction holds both)."""
        if not isinstance(result, bytes | bytearray | memoryview):
            raise JournalError(
                f"result must be bytes (the pickled result), not {type(result).__name__}"
            )
        data = bytes(result)
        self._put_about(task_id, "finished", data, time.time(), size=len(data), final=True)
        self._throttle()

    def failed(self, task_id: str, error: str) -> None:
        """Record the task's error (as text) and ``FAILED``."""
        text = str(error)
        self._put_about(task_id, "failed", text, time.time(), size=len(text), final=True)
        self._throttle()

    def flush(self) -> None:
        """Return once everything recorded so far is committed."""
        with self._put_lock:
            self._check_usable()
            seq = self._put("commit", None)
        self._wait(seq)
        with self._put_lock:
            self._prune()

    def _wait(self, seq: int) -> None:
        with self._done:
            while self._committed < seq and self._error is None:
                self._done.wait()
        if self._error is not None:
            self._check_usable()

    # ------------------------------------------------------------------ reading

    def _time(self, ms: int) -> float:
        return self._epoch + ms / 1000

    def lookup(self, key: tuple[str, int]) -> JournalEntry | None:
        """What the current run holds for ``key``, including writes not yet committed."""
        k, ref = self._task_key(key)
        with self._put_lock:
            self._check_usable()
            pending = self._dirty.get(ref, 0) > self._committed
        if pending:
            self.flush()
        with self._read_lock:
            conn = self._require_reader()
            conn.execute("BEGIN")  # one snapshot for the two reads
            try:
                row = conn.execute(
                    "SELECT t.id, t.task_id, t.kind, n.text, p.text, s.text, t.state, t.attempt,"
                    " t.error, t.updated, t.result, t.crc FROM task t"
                    " JOIN strings n ON n.id = t.name JOIN strings p ON p.id = t.pilot"
                    " LEFT JOIN strings s ON s.id = t.resource"
                    " WHERE t.run = ? AND t.digest = ? AND t.occurrence = ?",
                    (self._run, *ref),
                ).fetchone()
                if row is None:
                    return None
                task, stored, kind, name, pilot, resource, state, attempt, error, at = row[:10]
                result, crc = row[10:]
                jobs = conn.execute(
                    "SELECT job_id FROM remote_jobs WHERE task = ? AND attempt = ? ORDER BY id",
                    (task, attempt),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        task_id = _task_id(stored)
        if result is not None and (crc is None or _crc(result) != crc):
            raise self._corrupt(
                f"the stored result of task {task_id!r} ({name}) does not match its checksum"
            )
        return JournalEntry(
            key=k,
            task_id=task_id,
            kind=_KINDS[kind],
            name=name,
            pilot=pilot,
            resource=resource,
            state=_STATES[state],
            attempt=attempt,
            remote_job_ids=tuple(j for (j,) in jobs),
            result=None if result is None else bytes(result),
            error=error,
            updated_at=self._time(at),
        )

    def state_changes(self, task_id: str) -> list[StateChange]:
        """Every transition of ``task_id``'s task in this run, oldest first (all attempts)."""
        with self._put_lock:
            self._check_usable()
        self.flush()
        if not isinstance(task_id, str) or not task_id:
            raise self._not_here(task_id)
        with self._read_lock:
            conn = self._require_reader()
            conn.execute("BEGIN")
            try:
                row = conn.execute(
                    _TASK_OF_ID.format(columns="t.id, t.state, t.submitted, t.updated"),
                    (self._run, _stored_id(task_id)),
                ).fetchone()
                if row is None:
                    raise self._not_here(task_id)
                task, state, submitted, updated = row
                stored = conn.execute(
                    "SELECT state, at FROM transitions WHERE task = ? ORDER BY id", (task,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        changes = [StateChange(TaskState.SUBMITTED, self._time(submitted))]
        changes += [StateChange(_STATES[s], self._time(at)) for s, at in stored]
        if _STATES[state] in TERMINAL_TASK_STATES:
            changes.append(StateChange(_STATES[state], self._time(updated)))
        return changes

    def summary(self) -> dict[str, int]:
        """Tasks of the current run per state (every state present, zeros included)."""
        self.flush()
        with self._read_lock:
            rows = (
                self._require_reader()
                .execute(
                    "SELECT state, count(*) FROM task WHERE run = ? GROUP BY state",
                    (self._run,),
                )
                .fetchall()
            )
        counts = dict.fromkeys((s.value for s in TaskState), 0)
        counts.update({_STATES[code].value: n for code, n in rows})
        return counts

    def _require_reader(self) -> sqlite3.Connection:
        if self._reader is None:
            raise JournalError(f"task journal {self.path} is closed")
        return self._reader

    # ------------------------------------------------------------------ the writer thread

    def _write_loop(self) -> None:
        try:
            self._write_until_stopped()
        except BaseException as exc:  # never leave a waiter hanging
            logger.exception("journal %s: writer thread died", self.path)
            self._error = self._error or exc
        finally:
            with self._done:
                self._done.notify_all()

    def _write_until_stopped(self) -> None:
        conn = self._conn
        assert conn is not None
        wal = Path(f"{self.path}-wal")
        in_tx = False
        deadline = 0.0
        applied = 0  # seq of the last write applied to the open transaction
        count = 0
        durable = False
        while True:
            timeout = max(0.0, deadline - time.monotonic()) if in_tx else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            commit = item is None
            if item is not None:
                seq, size, op, *args = item
                if self._error is None and op not in ("commit", "stop"):
                    try:
                        if not in_tx:
                            conn.execute("BEGIN")
                            in_tx, deadline, count = True, time.monotonic() + COMMIT_INTERVAL, 0
                        getattr(self, f"_apply_{op}")(conn, *args)
                        count += 1
                    except Exception as exc:
                        self._writer_failed(conn, exc)
                        in_tx = False
                applied = seq
                self._applied_bytes += size
                durable = durable or op == "jobs"
                commit = op in ("commit", "jobs", "stop") or count >= COMMIT_ROWS
                if op != "stop" and not commit and time.monotonic() < deadline:
                    continue
            if self._error is None and in_tx:
                try:
                    conn.execute("COMMIT")
                    if durable:  # this commit holds remote job ids: make it survive a power cut
                        fsync_file(wal)
                except Exception as exc:
                    self._writer_failed(conn, exc)
                in_tx = False
                durable = False
                if self._ended:  # finished and committed: the file answers for them now
                    self._row_of_task = _without(self._row_of_task, self._ended)
                    self._ended.clear()
                self._checkpoint(conn, wal)
            with self._done:
                self._committed = applied
                self._done.notify_all()
            if item is not None and item[2] == "stop":
                return

    def _writer_failed(self, conn: sqlite3.Connection, exc: BaseException) -> None:
        """Roll back the open batch (never half a batch) and refuse further writes."""
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            exc = self._sqlite_error(exc)
        self._error = exc
        logger.error("task journal %s stopped recording: %s", self.path, exc)

    def _checkpoint(self, conn: sqlite3.Connection, wal: Path) -> None:
        try:
            if wal.stat().st_size > CHECKPOINT_BYTES:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (OSError, sqlite3.Error) as exc:  # a checkpoint can wait for the next commit
            logger.warning("journal %s: checkpoint failed: %s", self.path, exc)

    def _ms(self, at: float) -> int:
        return round((at - self._epoch) * 1000)

    def _row(self, conn: sqlite3.Connection, task_id: str) -> int:
        """The row of ``task_id``: in memory while the task is unfinished, else from the file."""
        row = self._row_of_task.get(task_id)
        if row is None:
            found = conn.execute(
                _TASK_OF_ID.format(columns="t.id"), (self._run, _stored_id(task_id))
            ).fetchone()
            if found is None:  # the caller checked: only a bug gets here
                raise self._not_here(task_id)
            row = int(found[0])
        return row

    def _string(self, conn: sqlite3.Connection, text: str | None) -> int | None:
        """The id of ``text`` in this run's ``strings`` (added if new)."""
        if text is None:
            return None
        sid = self._string_ids.get(text)
        if sid is None:
            found = conn.execute(
                "SELECT id FROM strings WHERE run = ? AND text = ?", (self._run, text)
            ).fetchone()
            if found is None:
                cur = conn.execute(
                    "INSERT INTO strings (run, text) VALUES (?, ?)", (self._run, text)
                )
                sid = int(cur.lastrowid or 0)
            else:
                sid = int(found[0])
            if len(self._string_ids) >= _STRING_CACHE:
                self._string_ids.clear()
            self._string_ids[text] = sid
        return sid

    def _transition(
        self,
        conn: sqlite3.Connection,
        task: int,
        state: TaskState,
        at: float,
        columns: str = "",
        values: tuple[Any, ...] = (),
    ) -> None:
        """Move ``task`` to ``state`` (setting ``columns``, "name = ?, ...", to ``values``)."""
        conn.execute(_KEEP_FINAL, (task,))
        ms = self._ms(at)
        conn.execute(
            f"UPDATE task SET state = ?, updated = ?{columns} WHERE id = ?",
            (_STATE_CODES[state], ms, *values, task),
        )
        if state not in TERMINAL_TASK_STATES:
            conn.execute(
                "INSERT INTO transitions (task, state, at) VALUES (?, ?, ?)",
                (task, _STATE_CODES[state], ms),
            )

    def _duplicate(self, task_id: str) -> JournalError:
        return JournalError(
            f"task id {task_id!r} is already recorded for another task in {self.path} "
            f"(run {self.run_id})"
        )

    def _rename(self, conn: sqlite3.Connection, task: int, old: int | str, task_id: str) -> None:
        """``task`` goes by ``task_id`` from now on; its old id stays an alias."""
        new = _stored_id(task_id)
        if new == old:
            return
        owner = conn.execute(_TASK_OF_ID.format(columns="t.id"), (self._run, new)).fetchone()
        if owner is not None and owner[0] != task:
            raise self._duplicate(task_id)
        conn.execute("DELETE FROM aliases WHERE run = ? AND task_id = ?", (self._run, new))
        conn.execute(
            "INSERT OR IGNORE INTO aliases (run, task_id, task) VALUES (?, ?, ?)",
            (self._run, old, task),
        )
        conn.execute("UPDATE task SET task_id = ? WHERE id = ?", (new, task))
        self._has_aliases = True

    def _apply_submitted(
        self,
        conn: sqlite3.Connection,
        ref: _Ref,
        task_id: str,
        kind: TaskKind,
        name: str,
        pilot: str,
        resource: str | None,
        at: float,
    ) -> None:
        stored = _stored_id(task_id)
        strings = (
            self._string(conn, name),
            self._string(conn, pilot),
            self._string(conn, resource),
        )
        if (
            self._has_aliases
            and conn.execute(
                "SELECT 1 FROM aliases WHERE run = ? AND task_id = ? AND task NOT IN"
                " (SELECT id FROM task WHERE run = ? AND digest = ? AND occurrence = ?)",
                (self._run, stored, self._run, *ref),
            ).fetchone()
        ):
            raise self._duplicate(task_id)
        ms = self._ms(at)
        try:
            cur = conn.execute(
                "INSERT INTO task (run, digest, occurrence, task_id, state, kind, name, pilot,"
                " resource, attempt, submitted, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (run, digest, occurrence) DO NOTHING",
                (self._run, *ref, stored, _STATE_CODES[TaskState.SUBMITTED], _KINDS.index(kind),
                 *strings, ms, ms),
            )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            if "task_id" not in str(exc):
                raise
            raise self._duplicate(task_id) from None  # task_by_id: the id names another task
        if cur.rowcount == 1:
            assert cur.lastrowid is not None
            task = cur.lastrowid
        else:  # the run holds the key: a later driver submits it again
            task, old = conn.execute(
                "SELECT id, task_id FROM task WHERE run = ? AND digest = ? AND occurrence = ?",
                (self._run, *ref),
            ).fetchone()
            self._rename(conn, task, old, task_id)
            self._transition(
                conn,
                task,
                TaskState.RESUBMITTED,
                at,
                ", kind = ?, name = ?, pilot = ?, resource = ?, attempt = attempt + 1,"
                " error = NULL, result = NULL, crc = NULL",
                (_KINDS.index(kind), *strings),
            )
        self._row_of_task[task_id] = task

    def _apply_attached(self, conn: sqlite3.Connection, ref: _Ref, task_id: str, at: float) -> None:
        task, old = conn.execute(
            "SELECT id, task_id FROM task WHERE run = ? AND digest = ? AND occurrence = ?",
            (self._run, *ref),
        ).fetchone()
        self._rename(conn, task, old, task_id)
        self._transition(conn, task, TaskState.ATTACHED, at)
        self._row_of_task[task_id] = task

    def _apply_state(
        self, conn: sqlite3.Connection, task_id: str, state: TaskState, at: float
    ) -> None:
        self._transition(conn, self._row(conn, task_id), state, at)
        if state in TERMINAL_TASK_STATES:
            self._ended.append(task_id)

    def _apply_jobs(
        self, conn: sqlite3.Connection, task_id: str, job_ids: tuple[str, ...], at: float
    ) -> None:
        task = self._row(conn, task_id)
        state, attempt = conn.execute(
            "SELECT state, attempt FROM task WHERE id = ?", (task,)
        ).fetchone()
        conn.executemany(
            "INSERT INTO remote_jobs (task, attempt, job_id) VALUES (?, ?, ?)",
            [(task, attempt, job) for job in job_ids],
        )
        if state != _STATE_CODES[TaskState.REMOTE_SUBMITTED]:
            self._transition(conn, task, TaskState.REMOTE_SUBMITTED, at)

    def _apply_finished(
        self, conn: sqlite3.Connection, task_id: str, result: bytes, at: float
    ) -> None:
        self._transition(
            conn,
            self._row(conn, task_id),
            TaskState.DONE,
            at,
            ", result = ?, crc = ?, error = NULL",
            (result, _crc(result)),
        )
        self._ended.append(task_id)

    def _apply_failed(self, conn: sqlite3.Connection, task_id: str, error: str, at: float) -> None:
        self._transition(
            conn,
            self._row(conn, task_id),
            TaskState.FAILED,
            at,
            ", result = NULL, crc = NULL, error = ?",
            (error,),
        )
        self._ended.append(task_id)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Commit everything, fold the WAL into the file, and release it (idempotent).

        Raises :class:`JournalError` if a write had failed (what was lost is
        then the batch that failed and everything after it).
        """
        with self._put_lock:
            if self._closed:
                return
            self._closed = True
            self._put("stop", None)
        atexit.unregister(self.close)
        if self._writer is not threading.current_thread():
            self._writer.join()
        try:
            if self._error is None and self._conn is not None:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.warning("journal %s: final checkpoint failed: %s", self.path, exc)
        finally:
            self._release()
        if self._error is not None:
            raise JournalError(
                f"task journal {self.path} stopped recording after an error: {self._error}"
            ) from self._error

    def _release(self) -> None:
        for conn in (self._reader, self._conn):
            if conn is not None:
                conn.close()
        self._reader = self._conn = None
        if self._lockfile is not None:
            os.close(self._lockfile)  # releases the flock
            self._lockfile = None

    def __enter__(self) -> TaskJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"run {getattr(self, 'run_id', '?')}"
        return f"TaskJournal({str(self.path)!r}, {state})"


__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "TERMINAL_TASK_STATES",
    "JournalEntry",
    "StateChange",
    "TaskJournal",
    "TaskKey",
    "TaskState",
    "atomic_write",  # re-exported from pilot.journal.fs
    "description_hash",  # re-exported from pilot.hashing
]

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

Task states (one row per transition, see :meth:`~TaskJournal.state_changes`)::

    SUBMITTED ──> RUNNING ──> REMOTE_SUBMITTED ──> DONE / FAILED / CANCELED
        ^                            │
        │ a later run resubmits      │ a later run re-attaches by job id
    RESUBMITTED                   ATTACHED

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

``PRAGMA synchronous=NORMAL``: in WAL mode a commit is appended to the WAL
without an fsync, and the WAL is synced at checkpoints.  Commits stay atomic
and the file consistent after a process kill or a power cut; only a power cut
can roll back the commits since the last checkpoint, which costs re-running
those tasks, never a wrong answer.  ``FULL`` would fsync on every commit.
Checkpoints run on the writer thread, off the callers' path.

Nothing secret is stored: task names, description hashes, pilot and resource
names, remote job ids, errors as text and the pickled results (which hold no
credentials).  Never descriptions or configurations.

The journal needs a local disk: SQLite's WAL mode does not work on network
file systems (NFS, Lustre) shared between hosts.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import errno
import fcntl
import hashlib
import io
import logging
import os
import queue
import sqlite3
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pilot.errors import JournalCorruptError, JournalError

logger = logging.getLogger(__name__)

#: Version of the tables below; a journal with another version is refused.
SCHEMA_VERSION = 1
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

_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE runs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL UNIQUE,
    started_at REAL NOT NULL,
    opened_at  REAL NOT NULL,
    pid        INTEGER NOT NULL
);
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    run_seq    INTEGER NOT NULL REFERENCES runs(seq),
    hash       TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    task_id    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('quantum', 'classical')),
    name       TEXT NOT NULL,
    pilot      TEXT NOT NULL,
    resource   TEXT,
    state      TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    error      TEXT,
    updated_at REAL NOT NULL,
    UNIQUE (run_seq, hash, occurrence)
);
CREATE TABLE task_ids (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    task_id TEXT NOT NULL,
    task    INTEGER NOT NULL REFERENCES tasks(id),
    PRIMARY KEY (run_seq, task_id)
) WITHOUT ROWID;
CREATE TABLE transitions (
    id      INTEGER PRIMARY KEY,
    task    INTEGER NOT NULL REFERENCES tasks(id),
    state   TEXT NOT NULL,
    at      REAL NOT NULL,
    task_id TEXT NOT NULL
);
CREATE INDEX transitions_by_task ON transitions (task, id);
CREATE TABLE remote_jobs (
    id      INTEGER PRIMARY KEY,
    task    INTEGER NOT NULL REFERENCES tasks(id),
    attempt INTEGER NOT NULL,
    job_id  TEXT NOT NULL
);
CREATE INDEX remote_jobs_by_task ON remote_jobs (task, attempt, id);
CREATE TABLE results (
    task   INTEGER PRIMARY KEY REFERENCES tasks(id),
    result BLOB NOT NULL,
    sha256 BLOB NOT NULL  -- SQLite has no page checksums: damage inside a result shows here
);
"""
_TABLES = frozenset({"meta", "runs", "tasks", "task_ids", "transitions", "remote_jobs", "results"})


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


# --------------------------------------------------------------------------- files


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one.

    The bytes go to a temporary file in the same directory, which is fsynced
    and renamed over ``path`` (``os.replace``); the directory is fsynced so the
    rename survives a power cut.  The file gets ``mode`` (0600: the service's
    files are its user's).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # not every file system lets a directory be opened
        return
    try:
        os.fsync(dfd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(dfd)


# --------------------------------------------------------------------------- journal


class TaskJournal:
    """The journal of one working directory (see the module docstring).

    Args:
        directory: the service's working directory (created if missing).
        resume: continue the latest run (or ``run_id``) instead of starting a
            new one.  With nothing to continue a new run starts.
        run_id: name of the run to start or continue (default: a new
            time-stamped id).

    Raises:
        JournalCorruptError: the file is not a journal, is damaged, or has a
            schema version this code does not know.
        JournalError: another driver holds the journal, or ``run_id`` exists
            and ``resume`` is ``False``.

    Recording methods validate their arguments, then queue the write and
    return; the writer thread applies the writes in order.  A write that fails
    there (disk full, damage found) stops the journal: every later call, and
    :meth:`flush`/:meth:`close`, raise :class:`JournalError` naming the cause.
    """

    FILE = "journal.sqlite3"

    def __init__(
        self, directory: str | os.PathLike[str], *, resume: bool, run_id: str | None = None
    ):
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
        self._occurrences: dict[str, int] = {}
        self._known: set[TaskKey] = set()  # keys of the current run
        self._task_keys: dict[str, TaskKey] = {}  # task id -> key (current run)
        self._dirty: dict[TaskKey, int] = {}  # key -> seq of its latest queued write
        # Writer side.
        self._committed = 0  # every write with seq <= this is committed
        self._done = threading.Condition()
        self._error: BaseException | None = None
        self._row_of_key: dict[TaskKey, int] = {}
        self._row_of_task: dict[str, int] = {}
        self._read_lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lockfile = self._take_lock()
        try:
            conn = self._conn = self._open(resume)
            self.run_id, self._run, self.resumed = self._start_run(conn, resume, run_id)
            for task, h, occurrence in conn.execute(
                "SELECT id, hash, occurrence FROM tasks WHERE run_seq = ?", (self._run,)
            ):
                self._row_of_key[TaskKey(h, occurrence)] = task
            keys = {row: key for key, row in self._row_of_key.items()}
            for task_id, task in conn.execute(
                "SELECT task_id, task FROM task_ids WHERE run_seq = ?", (self._run,)
            ):
                self._row_of_task[task_id] = task
                self._task_keys[task_id] = keys[task]
            self._known = set(self._row_of_key)
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
            len(self._known),
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
        """Check the file is our journal (reading only), then set it up."""
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
            if not empty:
                self._check_version(conn, tables)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(
                    f"task journal {self.path}: SQLite refused WAL mode (got {mode!r}); "
                    "put the working directory on a local disk"
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the writer checkpoints after commits
            if empty:
                self._create_schema(conn)
        except sqlite3.Error as exc:
            raise self._sqlite_error(exc) from exc

    def _check_version(self, conn: sqlite3.Connection, tables: set[str]) -> None:
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
        if version != SCHEMA_VERSION:
            raise self._corrupt(f"it has unknown schema version {version}")
        missing = _TABLES - tables
        if missing:
            raise self._corrupt(f"tables {', '.join(sorted(missing))} are missing")

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
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

    def _start_run(
        self, conn: sqlite3.Connection, resume: bool, run_id: str | None
    ) -> tuple[str, int, bool]:
        now = time.time()
        if run_id is not None and not run_id.strip():
            raise JournalError("run_id must be a non-empty string (or None for a new id)")
        if resume:
            if run_id is None:
                row = conn.execute(
                    "SELECT seq, run_id FROM runs ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT seq, run_id FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE runs SET opened_at = ?, pid = ? WHERE seq = ?",
                    (now, os.getpid(), row[0]),
                )
                return str(row[1]), int(row[0]), True
            logger.info("journal %s: no run %s to resume, starting it", self.path, run_id or "")
        elif run_id is not None:
            known = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if known:
                raise JournalError(
                    f"run {run_id!r} already exists in task journal {self.path}; pass "
                    "resume=True to continue it, or choose another run_id"
                )
        new_id = run_id or f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        cur = conn.execute(
            "INSERT INTO runs (run_id, started_at, opened_at, pid) VALUES (?, ?, ?, ?)",
            (new_id, now, now, os.getpid()),
        )
        assert cur.lastrowid is not None
        return new_id, cur.lastrowid, False

    # ------------------------------------------------------------------ recording (callers)

    def _check_usable(self) -> None:
        if self._closed:
            raise JournalError(f"task journal {self.path} is closed")
        if self._error is not None:
            raise JournalError(
                f"task journal {self.path} stopped recording after an error: {self._error}"
            ) from self._error

    def _put(self, op: str, key: TaskKey | None, *args: Any, size: int = 0) -> int:
        """Queue one write (caller holds ``_put_lock``); returns its sequence number."""
        self._seq += 1
        if key is not None:
            self._dirty[key] = self._seq
        size += 200
        self._queued_bytes += size
        self._queue.put((self._seq, size, op, *args))
        return self._seq

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

    def _key_of(self, task_id: str) -> TaskKey:
        try:
            return self._task_keys[task_id]
        except KeyError:
            raise JournalError(
                f"task {task_id!r} is not in task journal {self.path} (run {self.run_id}); "
                "record it with submitted() first"
            ) from None

    def key(self, description_hash: str) -> TaskKey:
        """The key of the next submission with this hash in this driver process."""
        if not isinstance(description_hash, str) or not description_hash:
            raise JournalError(
                f"description hash must be a non-empty string, not {description_hash!r}"
            )
        with self._put_lock:
            n = self._occurrences.get(description_hash, 0)
            self._occurrences[description_hash] = n + 1
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
        if kind not in ("quantum", "classical"):
            raise JournalError(f"task kind must be 'quantum' or 'classical', not {kind!r}")
        k = TaskKey(*key)
        now = time.time()
        with self._put_lock:
            self._check_usable()
            self._check_task_id(task_id, k)
            self._known.add(k)
            self._task_keys[task_id] = k
            self._put("submitted", k, k, task_id, kind, name, pilot, resource, now)
        self._throttle()

    def _check_task_id(self, task_id: str, key: TaskKey) -> None:
        if not isinstance(task_id, str) or not task_id:
            raise JournalError(f"task id must be a non-empty string, not {task_id!r}")
        other = self._task_keys.get(task_id)
        if other is not None and other != key:
            raise JournalError(
                f"task id {task_id!r} is already recorded for another task "
                f"(key {tuple(other)!r}) in {self.path}"
            )

    def attached(self, key: tuple[str, int], task_id: str) -> None:
        """A new driver follows ``key``'s remote jobs as ``task_id`` (no resubmission)."""
        k = TaskKey(*key)
        now = time.time()
        with self._put_lock:
            self._check_usable()
            if k not in self._known:
                raise JournalError(
                    f"cannot attach task {task_id!r}: key {tuple(k)!r} is not in run "
                    f"{self.run_id} of {self.path}"
                )
            self._check_task_id(task_id, k)
            self._task_keys[task_id] = k
            self._put("attached", k, k, task_id, now)

    def running(self, task_id: str) -> None:
        """The task started on its pilot."""
        self._state(task_id, TaskState.RUNNING)

    def cancelled(self, task_id: str) -> None:
        """The task was cancelled (recorded as ``CANCELED``)."""
        self._state(task_id, TaskState.CANCELED)

    def _state(self, task_id: str, state: TaskState) -> None:
        now = time.time()
        with self._put_lock:
            self._check_usable()
            self._put("state", self._key_of(task_id), task_id, state, now)
        self._throttle()

    def remote_jobs(self, task_id: str, job_ids: Sequence[str]) -> None:
        """Append remote job ids (state ``REMOTE_SUBMITTED``); committed before returning.

        Waiting for the commit (a few ms) is worth it: a job id lost to a crash
        means paying for the job again.
        """
        if isinstance(job_ids, str) or not all(isinstance(j, str) and j for j in job_ids):
            raise JournalError(f"job_ids must be a sequence of non-empty strings, not {job_ids!r}")
        now = time.time()
        with self._put_lock:
            self._check_usable()
            seq = self._put("jobs", self._key_of(task_id), task_id, tuple(job_ids), now)
        self._wait(seq)

    def finished(self, task_id: str, result: bytes) -> None:
        """Record the pickled result and ``DONE`` (one transaction holds both)."""
        if not isinstance(result, bytes | bytearray | memoryview):
            raise JournalError(
                f"result must be bytes (the pickled result), not {type(result).__name__}"
            )
        now = time.time()
        with self._put_lock:
            self._check_usable()
            self._put(
                "finished", self._key_of(task_id), task_id, bytes(result), now, size=len(result)
            )
        self._throttle()

    def failed(self, task_id: str, error: str) -> None:
        """Record the task's error (as text) and ``FAILED``."""
        now = time.time()
        with self._put_lock:
            self._check_usable()
            text = str(error)
            self._put("failed", self._key_of(task_id), task_id, text, now, size=len(text))
        self._throttle()

    def flush(self) -> None:
        """Return once everything recorded so far is committed."""
        with self._put_lock:
            self._check_usable()
            seq = self._put("commit", None)
        self._wait(seq)

    def _wait(self, seq: int) -> None:
        with self._done:
            while self._committed < seq and self._error is None:
                self._done.wait()
        if self._error is not None:
            self._check_usable()

    # ------------------------------------------------------------------ reading

    def lookup(self, key: tuple[str, int]) -> JournalEntry | None:
        """What the current run holds for ``key``, including writes not yet committed."""
        k = TaskKey(*key)
        with self._put_lock:
            self._check_usable()
            if k not in self._known:
                return None
            pending = self._dirty.get(k, 0) > self._committed
        if pending:
            self.flush()
        with self._read_lock:
            conn = self._require_reader()
            conn.execute("BEGIN")  # one snapshot for the three reads
            try:
                row = conn.execute(
                    "SELECT id, task_id, kind, name, pilot, resource, state, attempt, error,"
                    " updated_at FROM tasks WHERE run_seq = ? AND hash = ? AND occurrence = ?",
                    (self._run, k.hash, k.occurrence),
                ).fetchone()
                if row is None:
                    return None
                task, task_id, kind, name, pilot, resource, state, attempt, error, at = row
                jobs = conn.execute(
                    "SELECT job_id FROM remote_jobs WHERE task = ? AND attempt = ? ORDER BY id",
                    (task, attempt),
                ).fetchall()
                result = conn.execute(
                    "SELECT result, sha256 FROM results WHERE task = ?", (task,)
                ).fetchone()
            finally:
                conn.execute("COMMIT")
        if result is not None and hashlib.sha256(result[0]).digest() != result[1]:
            raise self._corrupt(
                f"the stored result of task {task_id!r} ({name}) does not match its checksum"
            )
        return JournalEntry(
            key=k,
            task_id=task_id,
            kind=kind,
            name=name,
            pilot=pilot,
            resource=resource,
            state=TaskState(state),
            attempt=attempt,
            remote_job_ids=tuple(j for (j,) in jobs),
            result=None if result is None else bytes(result[0]),
            error=error,
            updated_at=at,
        )

    def state_changes(self, task_id: str) -> list[StateChange]:
        """Every transition of ``task_id``'s task in this run, oldest first (all attempts)."""
        with self._put_lock:
            key = self._key_of(task_id)
        self.flush()
        with self._read_lock:
            rows = (
                self._require_reader()
                .execute(
                    "SELECT tr.state, tr.at FROM transitions tr JOIN tasks t ON t.id = tr.task"
                    " WHERE t.run_seq = ? AND t.hash = ? AND t.occurrence = ? ORDER BY tr.id",
                    (self._run, key.hash, key.occurrence),
                )
                .fetchall()
            )
        return [StateChange(TaskState(s), at) for s, at in rows]

    def summary(self) -> dict[str, int]:
        """Tasks of the current run per state (every state present, zeros included)."""
        self.flush()
        with self._read_lock:
            rows = (
                self._require_reader()
                .execute(
                    "SELECT state, count(*) FROM tasks WHERE run_seq = ? GROUP BY state",
                    (self._run,),
                )
                .fetchall()
            )
        counts = dict.fromkeys((s.value for s in TaskState), 0)
        counts.update(dict(rows))
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
                        _fsync_file(wal)
                except Exception as exc:
                    self._writer_failed(conn, exc)
                in_tx = False
                durable = False
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

    def _transition(
        self, conn: sqlite3.Connection, task: int, state: TaskState, task_id: str, at: float
    ) -> None:
        conn.execute(
            "UPDATE tasks SET state = ?, updated_at = ? WHERE id = ?", (state.value, at, task)
        )
        conn.execute(
            "INSERT INTO transitions (task, state, at, task_id) VALUES (?, ?, ?, ?)",
            (task, state.value, at, task_id),
        )

    def _link(self, conn: sqlite3.Connection, task_id: str, task: int) -> None:
        if task_id not in self._row_of_task:
            conn.execute(
                "INSERT INTO task_ids (run_seq, task_id, task) VALUES (?, ?, ?)",
                (self._run, task_id, task),
            )
            self._row_of_task[task_id] = task

    def _apply_submitted(
        self,
        conn: sqlite3.Connection,
        key: TaskKey,
        task_id: str,
        kind: str,
        name: str,
        pilot: str,
        resource: str | None,
        at: float,
    ) -> None:
        task = self._row_of_key.get(key)
        if task is None:
            cur = conn.execute(
                "INSERT INTO tasks (run_seq, hash, occurrence, task_id, kind, name, pilot,"
                " resource, state, attempt, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (self._run, key.hash, key.occurrence, task_id, kind, name, pilot, resource,
                 TaskState.SUBMITTED.value, at),
            )  # fmt: skip
            assert cur.lastrowid is not None
            task = self._row_of_key[key] = cur.lastrowid
            state = TaskState.SUBMITTED
            conn.execute(
                "INSERT INTO transitions (task, state, at, task_id) VALUES (?, ?, ?, ?)",
                (task, state.value, at, task_id),
            )
        else:
            conn.execute(
                "UPDATE tasks SET task_id = ?, kind = ?, name = ?, pilot = ?, resource = ?,"
                " attempt = attempt + 1, error = NULL WHERE id = ?",
                (task_id, kind, name, pilot, resource, task),
            )
            conn.execute("DELETE FROM results WHERE task = ?", (task,))
            self._transition(conn, task, TaskState.RESUBMITTED, task_id, at)
        self._link(conn, task_id, task)

    def _apply_attached(
        self, conn: sqlite3.Connection, key: TaskKey, task_id: str, at: float
    ) -> None:
        task = self._row_of_key[key]
        conn.execute("UPDATE tasks SET task_id = ? WHERE id = ?", (task_id, task))
        self._link(conn, task_id, task)
        self._transition(conn, task, TaskState.ATTACHED, task_id, at)

    def _apply_state(
        self, conn: sqlite3.Connection, task_id: str, state: TaskState, at: float
    ) -> None:
        self._transition(conn, self._row_of_task[task_id], state, task_id, at)

    def _apply_jobs(
        self, conn: sqlite3.Connection, task_id: str, job_ids: tuple[str, ...], at: float
    ) -> None:
        task = self._row_of_task[task_id]
        state, attempt = conn.execute(
            "SELECT state, attempt FROM tasks WHERE id = ?", (task,)
        ).fetchone()
        conn.executemany(
            "INSERT INTO remote_jobs (task, attempt, job_id) VALUES (?, ?, ?)",
            [(task, attempt, job) for job in job_ids],
        )
        if state != TaskState.REMOTE_SUBMITTED:
            self._transition(conn, task, TaskState.REMOTE_SUBMITTED, task_id, at)

    def _apply_finished(
        self, conn: sqlite3.Connection, task_id: str, result: bytes, at: float
    ) -> None:
        task = self._row_of_task[task_id]
        conn.execute(
            "INSERT OR REPLACE INTO results (task, result, sha256) VALUES (?, ?, ?)",
            (task, result, hashlib.sha256(result).digest()),
        )
        conn.execute("UPDATE tasks SET error = NULL WHERE id = ?", (task,))
        self._transition(conn, task, TaskState.DONE, task_id, at)

    def _apply_failed(self, conn: sqlite3.Connection, task_id: str, error: str, at: float) -> None:
        task = self._row_of_task[task_id]
        conn.execute("UPDATE tasks SET error = ? WHERE id = ?", (error, task))
        conn.execute("DELETE FROM results WHERE task = ?", (task,))
        self._transition(conn, task, TaskState.FAILED, task_id, at)

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


# --------------------------------------------------------------------------- hashing

#: Mixed into every hash: changing the encoding below must change this.
_HASH_DOMAIN = b"qdreamer.description.v1\x00"


def description_hash(*parts: Any) -> str:
    """A stable SHA-256 (hex) of a task's description.

    ``parts`` are whatever identifies the task (its kind, circuit or function,
    arguments, shots, options...).  Each is encoded canonically, so the hash is
    the same in every process that builds the same description:

    * ``None``, bools, ints, floats (bit-exact), complex, str, bytes; lists,
      tuples, dicts (keys in a canonical order), sets, ranges; numpy arrays
      and scalars (dtype, shape and bytes);
    * OpenQASM text and gate dicts as given (they are strings and dicts);
    * a Qiskit ``QuantumCircuit`` by its structure: registers, global phase,
      and per instruction its name, qubit and clbit indices, parameters
      (``Parameter`` by name), control-flow conditions and blocks, and the
      definition of every non-standard gate.  (QPY bytes hold random
      parameter UUIDs and the circuit's auto-generated name; QASM3 export
      drops the global phase, rounds tiny angles to 0 and takes ~50 ms for
      600 gates.)
    * a Braket ``Circuit`` by its OpenQASM 3 program (``to_ir``);
    * a PennyLane QNode by its quantum function, shots, differentiation
      method and device (class, name, wires, settings), leaving out the
      device's random generator, whose state changes as it runs;
    * anything else, callables included, by its ``cloudpickle`` bytes, with
      sets sorted (string hashing, hence set order, changes per process).  A
      module-level function pickles as its module and name; a lambda or
      function defined in the script pickles by value and is stable across
      processes, unless it refers to a class defined in the script
      (cloudpickle tags those with a random id) -- then a resumed driver
      simply runs the task again.

    Different descriptions never share a hash: every encoding is lossless, so
    what is not stable costs a re-run, never someone else's result.

    Raises:
        JournalError: a part holds a Ray ``ObjectRef`` (substitute the key of
            the task that produces it), or cannot be pickled.
    """
    out: list[bytes] = [_HASH_DOMAIN]
    _encode(parts, out, "parts")
    return hashlib.sha256(b"".join(out)).hexdigest()


def _length(n: int) -> bytes:
    return struct.pack(">Q", n)


def _blob(tag: bytes, data: bytes) -> bytes:
    return tag + _length(len(data)) + data


def _encoded(obj: Any, path: str, bits: Mapping[Any, int] | None = None) -> bytes:
    out: list[bytes] = []
    _encode(obj, out, path, bits)
    return b"".join(out)


def _is_object_ref(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "ObjectRef" and (cls.__module__ + ".").startswith("ray.")


def _encode(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None = None) -> None:
    """Append ``obj``'s canonical encoding (self-delimiting: tag, length, payload)."""
    cls = type(obj)
    if obj is None:
        out.append(b"N")
    elif cls is bool:
        out.append(b"T" if obj else b"F")
    elif cls is int:
        out.append(_blob(b"i", str(obj).encode()))
    elif cls is float:
        out.append(b"f" + struct.pack(">d", obj))
    elif cls is complex:
        out.append(b"c" + struct.pack(">dd", obj.real, obj.imag))
    elif cls is str:
        out.append(_blob(b"s", obj.encode("utf-8", "surrogatepass")))
    elif cls is bytes or cls is bytearray:
        out.append(_blob(b"b", bytes(obj)))
    elif cls is list or cls is tuple:
        out.append((b"l" if cls is list else b"t") + _length(len(obj)))
        for i, item in enumerate(obj):
            _encode(item, out, f"{path}[{i}]", bits)
    elif isinstance(obj, dict):
        items = sorted(
            (_encoded(k, f"{path} key {k!r}", bits), _encoded(v, f"{path}[{k!r}]", bits))
            for k, v in obj.items()
        )
        out.append(b"d" + _length(len(items)))
        for k, v in items:
            out.append(k)
            out.append(v)
    elif cls is set or cls is frozenset:
        members = sorted(_encoded(m, f"{path} member", bits) for m in obj)
        out.append(b"S" + _length(len(members)))
        out.extend(members)
    elif cls is range:
        out.append(b"r" + _encoded((obj.start, obj.stop, obj.step), path))
    elif _is_object_ref(obj):
        raise JournalError(
            f"{path} is a Ray ObjectRef, which has no stable hash; hash the key of the task "
            "that produces it instead"
        )
    elif not _encode_sdk(obj, out, path, bits):
        out.append(_blob(b"p", _qualname(cls).encode() + b"\x00" + _stable_pickle(obj, path)))


def _encode_sdk(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    """numpy, Qiskit and Braket objects (their modules are loaded if ``obj`` exists)."""
    module = type(obj).__module__
    if "numpy" in sys.modules and _encode_numpy(obj, out, path):
        return True
    if module.startswith("qiskit"):
        return _encode_qiskit(obj, out, path, bits)
    if module.startswith("braket"):
        return _encode_braket(obj, out)
    if module.startswith("pennylane"):
        return _encode_pennylane(obj, out, path)
    return False


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _encode_numpy(obj: Any, out: list[bytes], path: str) -> bool:
    import numpy as np

    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            out.append(_blob(b"A", repr(obj.shape).encode()))
            _encode(obj.tolist(), out, path)
        else:
            header = f"{obj.dtype.str}|{obj.shape}".encode()
            out.append(_blob(b"a", header) + _blob(b"", np.ascontiguousarray(obj).tobytes()))
        return True
    if isinstance(obj, np.generic) and not obj.dtype.hasobject:
        out.append(_blob(b"n", obj.dtype.str.encode()) + _blob(b"", obj.tobytes()))
        return True
    return False


def _encode_braket(obj: Any, out: list[bytes]) -> bool:
    from braket.circuits import Circuit
    from braket.circuits.serialization import IRType

    if not isinstance(obj, Circuit):
        return False
    try:
        program = obj.to_ir(IRType.OPENQASM)
    except Exception:  # e.g. an instruction without an OpenQASM form: pickle it
        logger.debug("Braket circuit has no OpenQASM form; hashing its pickle", exc_info=True)
        return False
    out.append(_blob(b"B", program.source.encode()))
    return True


#: A PennyLane device's attributes that change as it runs (random generators, trackers).
_PENNYLANE_DEVICE_STATE = frozenset({"_rng", "_prng_key", "tracker", "_debugger"})


def _encode_pennylane(obj: Any, out: list[bytes], path: str) -> bool:
    """A QNode by its quantum function, shots and device settings (not its RNG state)."""
    from pennylane.workflow import QNode

    if not isinstance(obj, QNode):
        return False
    device = obj.device
    settings = {k: v for k, v in vars(device).items() if k not in _PENNYLANE_DEVICE_STATE}
    out.append(b"L")
    _encode(
        (
            obj.func,
            repr(obj.shots),
            obj.diff_method,
            _qualname(type(device)),
            device.name,
            list(device.wires.labels),
            settings,
        ),
        out,
        f"{path} (QNode)",
    )
    return True


# Qiskit ------------------------------------------------------------------------

_QISKIT_STANDARD: dict[str, type] | None = None


def _qiskit_standard() -> dict[str, type]:
    """Instruction name -> class, for instructions whose name and parameters say everything.

    A custom gate that borrows a standard name (``Gate("h", 1, [])``) has
    another class, so its definition is hashed too.
    """
    global _QISKIT_STANDARD  # noqa: PLW0603 (computed once, on first use)
    if _QISKIT_STANDARD is None:
        from qiskit.circuit import Barrier, BreakLoopOp, ContinueLoopOp
        from qiskit.circuit.library import UnitaryGate, get_standard_gate_name_mapping

        standard = {name: type(op) for name, op in get_standard_gate_name_mapping().items()}
        standard.update(
            barrier=Barrier,
            break_loop=BreakLoopOp,
            continue_loop=ContinueLoopOp,
            unitary=UnitaryGate,  # its matrix is its parameter
        )
        _QISKIT_STANDARD = standard
    return _QISKIT_STANDARD


def _encode_qiskit(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    from qiskit.circuit import (
        Bit,
        ClassicalRegister,
        Clbit,
        ParameterExpression,
        QuantumCircuit,
    )

    if isinstance(obj, QuantumCircuit):
        _encode_circuit(obj, out, path)
    elif isinstance(obj, ParameterExpression):
        # A Parameter by its name (its UUID is random), an expression by its text.
        out.append(_blob(b"P", str(obj).encode()))
    elif isinstance(obj, Bit):
        if bits is None or obj not in bits:
            return False
        out.append((b"k" if isinstance(obj, Clbit) else b"q") + _length(bits[obj]))
    elif isinstance(obj, ClassicalRegister):  # its name names the result's field
        out.append(_blob(b"R", f"{obj.name}|{obj.size}".encode()))
    else:
        return False
    return True


def _encode_circuit(qc: Any, out: list[bytes], path: str) -> None:
    bits: dict[Any, int] = {b: i for i, b in enumerate(qc.qubits)}
    bits.update({b: i for i, b in enumerate(qc.clbits)})
    standard = _qiskit_standard()
    head = (
        qc.num_qubits,
        qc.num_clbits,
        [r.size for r in qc.qregs],  # a QuantumRegister's name (often "q<counter>") is cosmetic
        [(r.name, r.size) for r in qc.cregs],
        qc.global_phase,
        len(qc.data),
    )
    out.append(b"Q")
    _encode(head, out, path)
    for i, inst in enumerate(qc.data):
        op = inst.operation
        where = f"{path} instruction {i} ({op.name})"
        params = list(op.params)
        if op.name == "for_loop" and params[1] is not None:
            # The loop variable's name comes from a counter ("_loop_i_<n>"); rename it
            # after its (unique) place so identical loops hash alike.
            from qiskit.circuit import Parameter

            renamed = Parameter(f"$loop@{where}")
            params[2] = params[2].assign_parameters({params[1]: renamed}, strict=False)
            params[1] = renamed
        _encode(
            (
                op.name,
                op.num_qubits,
                op.num_clbits,
                [bits[q] for q in inst.qubits],
                [bits[c] for c in inst.clbits],
                params,
                getattr(op, "unit", None) if op.name == "delay" else None,
            ),
            out,
            where,
            bits,
        )
        if standard.get(op.name) is type(op):
            continue
        if getattr(op, "blocks", None) is not None:  # control flow: if/while/for/switch/box
            extra = [getattr(op, "condition", None), getattr(op, "target", None)]
            if hasattr(op, "cases_specifier"):
                extra.append([list(values) for values, _ in op.cases_specifier()])
            extra.append([getattr(op, "duration", None), getattr(op, "unit", None)])
            _encode(extra, out, where, bits)
            continue
        definition = getattr(op, "definition", None)
        if definition is not None:
            _encode_circuit(definition, out, f"{where} definition")
        else:  # an opaque instruction: all of its state
            out.append(_blob(b"p", _stable_pickle(op, where)))


# Pickle fallback ---------------------------------------------------------------


def _stable_pickle(obj: Any, path: str) -> bytes:
    import cloudpickle

    class _Pickler(cloudpickle.Pickler):
        # persistent_id sees every object, builtins included (reducer_override does
        # not see sets).  These bytes are only hashed, never unpickled.
        def persistent_id(self, value: Any) -> Any:
            if type(value) is set or type(value) is frozenset:
                return _encoded(value, path)  # members sorted, not in hash-seed order
            if _is_object_ref(value):
                raise JournalError(
                    f"{path} holds a Ray ObjectRef, which has no stable hash; hash the key "
                    "of the task that produces it instead"
                )
            return None

    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=5).dump(obj)
    except JournalError:
        raise
    except Exception as exc:
        raise JournalError(f"{path} ({_qualname(type(obj))}) cannot be hashed: {exc}") from exc
    return buffer.getvalue()


__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "TERMINAL_TASK_STATES",
    "JournalEntry",
    "StateChange",
    "TaskJournal",
    "TaskKey",
    "TaskState",
    "atomic_write",
    "description_hash",
]

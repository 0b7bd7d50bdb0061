"""The task journal's storage layer (``pilot.journal.store``): no Ray, a real SQLite file.

Resuming, bytes per task and memory over a long run, deleting old runs,
migrating a version-1 file, corruption, crash safety (a subprocess killed
with SIGKILL), write cost on the caller's thread, atomic writes, and the
description hash's stability across fresh processes for every circuit format.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pilot.errors import JournalCorruptError, JournalError, PilotError
from pilot.journal.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    TaskJournal,
    TaskKey,
    TaskState,
    _Occurrences,
    atomic_write,
    description_hash,
)

REPO = Path(__file__).resolve().parents[2]
FILE = TaskJournal.FILE


def _journal(tmp_path: Path, resume: bool = False, **kw: Any) -> TaskJournal:
    return TaskJournal(tmp_path, resume=resume, **kw)


def _submit(j: TaskJournal, what: Any, task_id: str, kind: str = "quantum") -> TaskKey:
    key = j.key(description_hash(what))
    j.submitted(key, task_id, kind, f"task-{task_id}", "qpilot", "aer_simulator")  # type: ignore[arg-type]
    return key


def _run_python(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# --------------------------------------------------------------------------- resume


def test_a_resumed_run_gets_results_errors_and_job_ids_back(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    done, failed, remote, pending = (_submit(j, f"circuit {i}", f"t{i}") for i in range(4))
    j.running("t0")
    j.finished("t0", b"pickled result 0")
    j.failed("t1", "CircuitError: 'foo' is not supported by aer_simulator")
    j.remote_jobs("t2", ["arn:aws:braket:task/1"])
    j.remote_jobs("t2", ["arn:aws:braket:task/2"])
    first_run = j.run_id
    j.close()

    j = _journal(tmp_path, resume=True)
    assert (j.run_id, j.resumed) == (first_run, True)
    assert j.summary() == {
        **dict.fromkeys(TaskState, 0),
        "DONE": 1,
        "FAILED": 1,
        "REMOTE_SUBMITTED": 1,
        "SUBMITTED": 1,
    }
    # The driver submits the same things in the same order, so it builds the same keys.
    assert [j.key(description_hash(f"circuit {i}")) for i in range(4)] == [
        done,
        failed,
        remote,
        pending,
    ]
    entry = j.lookup(done)
    assert entry is not None and entry.finished
    assert (entry.result, entry.task_id, entry.resource, entry.kind) == (
        b"pickled result 0",
        "t0",
        "aer_simulator",
        "quantum",
    )
    entry = j.lookup(failed)
    assert entry is not None and entry.state is TaskState.FAILED and not entry.finished
    assert entry.error == "CircuitError: 'foo' is not supported by aer_simulator"
    assert entry.result is None
    entry = j.lookup(remote)
    assert entry is not None and entry.state is TaskState.REMOTE_SUBMITTED
    assert entry.remote_job_ids == ("arn:aws:braket:task/1", "arn:aws:braket:task/2")
    entry = j.lookup(pending)
    assert entry is not None and entry.state is TaskState.SUBMITTED
    assert j.lookup(TaskKey(description_hash("never submitted"), 0)) is None
    j.close()


def test_resubmitting_and_reattaching_are_recorded_transitions(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        pending = _submit(j, "pending", "a1")
        remote = _submit(j, "remote", "b1")
        j.running("b1")
        j.remote_jobs("b1", ["job-7"])

    with _journal(tmp_path, resume=True) as j:
        # Not finished: submitted again under a new task id (attempt 2, no old jobs).
        j.submitted(pending, "a2", "quantum", "task-a", "qpilot", "braket_sv")
        entry = j.lookup(pending)
        assert entry is not None
        assert (entry.state, entry.attempt, entry.task_id, entry.resource) == (
            TaskState.RESUBMITTED,
            2,
            "a2",
            "braket_sv",
        )
        # Remote jobs submitted: followed by job id, not paid for again.
        j.attached(remote, "b2")
        entry = j.lookup(remote)
        assert entry is not None
        assert (entry.state, entry.attempt, entry.remote_job_ids) == (
            TaskState.ATTACHED,
            1,
            ("job-7",),
        )
        j.finished("b2", b"counts")
        changes = j.state_changes("b2")
        assert [c.state for c in changes] == [
            TaskState.SUBMITTED,
            TaskState.RUNNING,
            TaskState.REMOTE_SUBMITTED,
            TaskState.ATTACHED,
            TaskState.DONE,
        ]
        assert [c.at for c in changes] == sorted(c.at for c in changes)
        # The old task id names the same task.
        assert j.state_changes("b1") == changes
        assert [c.state for c in j.state_changes("a2")] == [
            TaskState.SUBMITTED,
            TaskState.RESUBMITTED,
        ]


def test_same_description_twice_gets_two_keys(tmp_path: Path) -> None:
    h = description_hash({"gates": [{"type": "h", "qubit": 0}], "n_qubits": 1}, 1000)
    with _journal(tmp_path) as j:
        assert j.key(h) == (h, 0)
        assert j.key(h) == (h, 1)
        assert j.key(h + "x") == (h + "x", 0)
    with _journal(tmp_path, resume=True) as j:  # a new driver process counts from 0
        assert j.key(h) == TaskKey(h, 0)


def test_resume_false_starts_a_new_run_and_keeps_the_old_one(tmp_path: Path) -> None:
    with _journal(tmp_path, run_id="first") as j:
        key = _submit(j, "c", "t1")
        j.finished("t1", b"first result")
    with _journal(tmp_path) as j:
        assert j.run_id != "first" and not j.resumed
        assert j.lookup(key) is None  # nothing mixed in from "first"
        assert sum(j.summary().values()) == 0
        second = j.run_id
    with _journal(tmp_path, resume=True) as j:  # the latest run
        assert j.run_id == second
    with _journal(tmp_path, resume=True, run_id="first") as j:
        entry = j.lookup(key)
        assert entry is not None and entry.result == b"first result"
    with pytest.raises(JournalError) as err:
        _journal(tmp_path, run_id="first")
    assert str(err.value) == (
        f"run 'first' already exists in task journal {tmp_path / FILE}; pass resume=True "
        "to continue it, or choose another run_id"
    )


def test_resume_with_nothing_to_resume_starts_a_run(tmp_path: Path) -> None:
    with _journal(tmp_path, resume=True) as j:
        assert not j.resumed
    with _journal(tmp_path, resume=True, run_id="nightly") as j:
        assert (j.run_id, j.resumed) == ("nightly", False)


def test_lookup_sees_writes_still_queued(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        key = _submit(j, "c", "t1")
        entry = j.lookup(key)
        assert entry is not None and entry.state is TaskState.SUBMITTED
        j.finished("t1", b"r")
        entry = j.lookup(key)
        assert entry is not None and (entry.state, entry.result) == (TaskState.DONE, b"r")


def test_writes_are_committed_within_the_interval_and_job_ids_at_once(tmp_path: Path) -> None:
    """Read by another connection, as a new driver would after a crash."""

    def on_disk(sql: str) -> list[Any]:
        with sqlite3.connect(tmp_path / FILE) as conn:
            return conn.execute(sql).fetchall()

    with _journal(tmp_path) as j:
        _submit(j, "c", "t1")
        j.remote_jobs("t1", ["arn:aws:braket:us-east-1:1:quantum-task/abc"])
        assert on_disk("SELECT job_id FROM remote_jobs") == [
            ("arn:aws:braket:us-east-1:1:quantum-task/abc",)
        ]
        j.finished("t1", b"r")
        deadline = time.monotonic() + 5
        while on_disk("SELECT state FROM tasks") != [("DONE",)]:
            assert time.monotonic() < deadline, "not committed without flush()"
            time.sleep(0.01)


def test_results_from_another_thread(tmp_path: Path) -> None:
    """The submitting thread and a result collector write at the same time."""
    n = 500
    with _journal(tmp_path) as j:
        submitted = threading.Semaphore(0)

        def collect() -> None:
            for i in range(n):
                submitted.acquire()
                j.finished(f"t{i}", f"result {i}".encode())

        collector = threading.Thread(target=collect)
        collector.start()
        keys = []
        for i in range(n):
            keys.append(_submit(j, i, f"t{i}"))
            submitted.release()
        collector.join()
        assert j.summary()["DONE"] == n
    with _journal(tmp_path, resume=True) as j:
        results = [j.lookup(k) for k in keys]
        assert [e.result for e in results if e] == [f"result {i}".encode() for i in range(n)]


def test_misuse_is_a_clear_error(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    key = _submit(j, "c", "t1")
    with pytest.raises(JournalError) as err:
        j.finished("nope", b"")
    assert str(err.value) == (
        f"task 'nope' is not in task journal {tmp_path / FILE} (run {j.run_id}); "
        "record it with submitted() first"
    )
    with pytest.raises(JournalError, match="already recorded for another task"):
        j.submitted(j.key("other"), "t1", "quantum", "x", "p", None)
    with pytest.raises(JournalError, match="task kind must be 'quantum' or 'classical', not 'qpu'"):
        j.submitted(key, "t2", "qpu", "x", "p", None)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match=r"cannot attach task 't3': key \('h', 0\) is not in"):
        j.attached(("h", 0), "t3")
    with pytest.raises(JournalError, match="result must be bytes"):
        j.finished("t1", "a str")  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="job_ids must be a sequence of non-empty strings"):
        j.remote_jobs("t1", "job-1")
    j.close()
    j.close()  # idempotent
    with pytest.raises(JournalError, match="is closed"):
        j.running("t1")
    assert isinstance(err.value, PilotError)


def test_one_driver_per_journal(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    with pytest.raises(JournalError) as err:
        _journal(tmp_path, resume=True)
    assert str(err.value) == (
        f"task journal {tmp_path / FILE} is in use by another driver (pid {os.getpid()}); "
        "wait for it to finish, or give this driver another working directory"
    )
    j.close()
    _journal(tmp_path, resume=True).close()


def test_files_are_private_and_secrets_are_not_stored(tmp_path: Path) -> None:
    with _journal(tmp_path / "work") as j:
        _submit(j, {"token": "s3cr3t-token"}, "t1")
        j.flush()
        for name in (FILE, f"{FILE}-wal", f"{FILE}-shm", f"{FILE}.lock"):
            mode = stat.S_IMODE((tmp_path / "work" / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
    assert b"s3cr3t-token" not in (tmp_path / "work" / FILE).read_bytes()


# --------------------------------------------------------------------------- corruption


def _good_journal(directory: Path, results: int = 0) -> Path:
    with _journal(directory) as j:
        for i in range(results):
            _submit(j, i, f"t{i}")
            j.finished(f"t{i}", os.urandom(4096))
    return directory / FILE


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _future_schema(path: Path) -> None:
    _good_journal(path.parent)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,)
        )


def _other_program(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")


def _truncated(path: Path) -> None:
    _good_journal(path.parent, results=50)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def _damaged_page(path: Path) -> None:
    _good_journal(path.parent, results=50)
    with sqlite3.connect(path) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'task'").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(path, "r+b") as fh:  # scribble over the tasks table's b-tree root
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * page_size)


#: Random bytes, fixed so the expected message is exact (a quote in them changes repr).
GARBAGE = random.Random(353).randbytes(8192)

CORRUPTIONS = {
    "garbage": (
        lambda p: _write(p, GARBAGE),
        f"it is not an SQLite database (the file starts with {GARBAGE[:16]!r})",
    ),
    "text": (
        lambda p: _write(p, b"results: see run.log\n"),
        "it is not an SQLite database (the file starts with b'results: see run'",
    ),
    "truncated header": (
        lambda p: _write(p, b"SQLite format 3\x00" + bytes(40)),
        "it is truncated (56 bytes, shorter than its header)",
    ),
    "truncated": (_truncated, "it is truncated ("),
    "damaged page": (_damaged_page, "SQLite cannot read it (database disk image is malformed)"),
    "future schema": (
        _future_schema,
        f"it has schema version {SCHEMA_VERSION + 1}, newer than this qdreamer understands "
        f"({SCHEMA_VERSION}); open it with the qdreamer that wrote it",
    ),
    "another program": (
        _other_program,
        "it is an SQLite database of another program (application_id 0x0, tables notes)",
    ),
    "a directory": (lambda p: p.mkdir(parents=True), "it is not a regular file"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupt_journal_is_refused_with_a_clear_error(tmp_path: Path, case: str) -> None:
    spoil, reason = CORRUPTIONS[case]
    path = tmp_path / FILE
    spoil(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(JournalCorruptError) as err:
        _journal(tmp_path, resume=True)
    message = str(err.value)
    assert message.startswith(f"task journal {path} is unusable: {reason}"), message
    assert message.endswith(
        f"Move it aside (mv {path} {path}.bad, with its -wal file if there is one) to keep it, "
        "or delete it to start fresh; the next run then executes every task again"
    )
    assert (err.value.path, isinstance(err.value, JournalError)) == (str(path), True)
    if before is not None:
        assert path.read_bytes() == before  # refused, not "repaired"
    # The lock is released: after moving the file aside a new journal starts.
    os.rename(path, tmp_path / "journal.bad")
    with _journal(tmp_path, resume=True) as j:
        assert not j.resumed


def test_a_damaged_result_is_detected(tmp_path: Path) -> None:
    """SQLite has no page checksums: each result carries its CRC-32."""
    result = b"counts:" + os.urandom(2000)
    with _journal(tmp_path) as j:
        key = _submit(j, "c", "t1")
        j.finished("t1", result)
    path = tmp_path / FILE
    data = bytearray(path.read_bytes())
    at = data.index(result) + 100
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with _journal(tmp_path, resume=True) as j, pytest.raises(JournalCorruptError) as err:
        j.lookup(key)
    assert str(err.value).startswith(
        f"task journal {path} is unusable: the stored result of task 't1' (task-t1) does not "
        "match its checksum. Move it aside"
    )


def test_a_corrupt_journal_is_refused_without_resume_too(tmp_path: Path) -> None:
    for case in ("text", "truncated", "future schema", "another program"):
        directory = tmp_path / case.replace(" ", "_")
        CORRUPTIONS[case][0](directory / FILE)
        with pytest.raises(JournalCorruptError, match="is unusable"):
            _journal(directory)


def test_a_journal_locked_by_another_program_is_not_called_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pilot.journal.store

    _good_journal(tmp_path)
    monkeypatch.setattr(pilot.journal.store, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(tmp_path / FILE, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalError) as err:
            _journal(tmp_path, resume=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not isinstance(err.value, JournalCorruptError)
    assert str(err.value) == (
        f"task journal {tmp_path / FILE} is locked by another program (database is locked); "
        "close it (an sqlite3 shell?) and start again"
    )
    _journal(tmp_path, resume=True).close()


def test_an_empty_file_is_a_fresh_journal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite writes a page as soon as WAL mode is set, so a 0-byte file never held a
    committed task: it is what a driver killed right after creating the file leaves."""
    _write(tmp_path / FILE, b"")
    _write(tmp_path / f"{FILE}-wal", b"stale WAL of a deleted journal")
    with caplog.at_level(logging.WARNING, logger="pilot.journal.store"):
        j = _journal(tmp_path, resume=True)
    with j:
        assert not j.resumed
        _submit(j, "c", "t1")
    assert f"task journal {tmp_path / FILE} is empty (0 bytes): nothing to resume" in caplog.text
    assert f"removing {tmp_path / FILE}-wal left without its journal" in caplog.text
    with _journal(tmp_path, resume=True) as j:
        assert j.summary()["SUBMITTED"] == 1


# --------------------------------------------------------------------------- what a task costs


def _on_disk(path: Path, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_finished_task_is_one_row_and_its_states_are_implied(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        key = _submit(j, "bell", "0123456789abcdef")
        j.finished("0123456789abcdef", b"counts")
        changes = j.state_changes("0123456789abcdef")
        assert [c.state for c in changes] == [TaskState.SUBMITTED, TaskState.DONE]
        assert changes[0].at <= changes[1].at <= time.time()
        entry = j.lookup(key)
        assert entry is not None and entry.updated_at == changes[1].at
    path = tmp_path / FILE
    for table in ("transitions", "remote_jobs", "aliases"):
        assert _on_disk(path, f"SELECT count(*) FROM {table}") == [(0,)], table
    # The view spells the row out for people and tools reading the file.
    assert _on_disk(
        path, "SELECT task_id, kind, name, pilot, resource, state, result_bytes FROM tasks"
    ) == [("0123456789abcdef", "quantum", "task-0123456789abcdef", "qpilot", "aer_simulator",
           "DONE", 6)]  # fmt: skip


def test_bytes_per_task(tmp_path: Path) -> None:
    """The issue's budget: 500 bytes per task for results with few outcomes."""
    n = 5000
    result = os.urandom(150)  # a pickled result of a few outcomes
    with _journal(tmp_path) as j:
        for i in range(n):
            key = j.key(description_hash("bell", i))
            j.submitted(key, f"{i:016x}", "quantum", "bell", "qpilot", "aer_simulator")
            j.finished(f"{i:016x}", result)
    size = sum(p.stat().st_size for p in tmp_path.glob(f"{FILE}*") if p.suffix != ".lock")
    print(f"\njournal: {size / n:.0f} bytes per task")
    assert size / n <= 500


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_run(tmp_path: Path) -> None:
    """60,000 tasks, each submitted and finished: what the journal keeps in memory between
    the 10,000th and the 60,000th (it remembers each description hash's occurrence count,
    20 bytes, and nothing else of a finished task)."""
    result = os.urandom(150)
    with _journal(tmp_path) as j:

        def record(start: int, stop: int) -> None:
            for i in range(start, stop):
                key = j.key(hashlib.sha256(b"%d" % i).hexdigest())
                j.submitted(key, f"{i:016x}", "quantum", "bell", "qpilot", "aer_simulator")
                j.finished(f"{i:016x}", result)
            j.flush()
            gc.collect()

        record(0, 10_000)
        tracemalloc.start()
        try:
            record(10_000, 60_000)
            grown, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"\njournal: {grown / 2**20:.2f} MiB more after 50,000 more tasks")
        assert grown < 3 * 2**20
        assert j.summary()["DONE"] == 60_000


def test_finished_tasks_are_read_back_from_the_file(tmp_path: Path) -> None:
    """Once finished (and forgotten in memory), later calls about a task still work."""
    n = 5000  # more than the caller side keeps before it prunes
    with _journal(tmp_path) as j:
        for i in range(n):
            _submit(j, i, f"t{i}")
            j.finished(f"t{i}", b"first")
        j.flush()
        j.finished("t0", b"second")
        j.failed("t1", "RuntimeError: late")
        j.running("t2")
        entry = j.lookup(TaskKey(description_hash(0), 0))
        assert entry is not None and entry.result == b"second"
        assert [c.state for c in j.state_changes("t0")] == [
            TaskState.SUBMITTED,
            TaskState.DONE,
            TaskState.DONE,
        ]
        assert [c.state for c in j.state_changes("t1")][1:] == [TaskState.DONE, TaskState.FAILED]
        assert [c.state for c in j.state_changes("t2")][1:] == [TaskState.DONE, TaskState.RUNNING]
        with pytest.raises(JournalError, match="task 'nope' is not in task journal"):
            j.finished("nope", b"")
        assert j.summary()["DONE"] == n - 2
    with _journal(tmp_path, resume=True) as j:  # tasks an earlier driver recorded
        j.failed("t3", "ValueError: checked again")
        entry = j.lookup(TaskKey(description_hash(3), 0))
        assert entry is not None and (entry.state, entry.result) == (TaskState.FAILED, None)


def test_task_ids_of_every_form_come_back_as_given(tmp_path: Path) -> None:
    ids = ["0123456789abcdef", "ffffffffffffffff", "FEDCBA9876543210", "t-1", "0123456789abcde"]
    with _journal(tmp_path) as j:
        keys = [_submit(j, task_id, task_id) for task_id in ids]
        assert [e.task_id for e in map(j.lookup, keys) if e] == ids
    assert sorted(_on_disk(tmp_path / FILE, "SELECT task_id FROM tasks")) == [
        (i,) for i in sorted(ids)
    ]


def test_a_task_id_of_a_finished_task_is_not_given_to_another(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    _submit(j, "a", "t1")
    j.finished("t1", b"r")
    j.flush()
    _submit(j, "b", "t1")  # the caller side only knows unfinished tasks: the writer refuses
    with pytest.raises(JournalError, match="task id 't1' is already recorded for another task"):
        j.flush()
    with pytest.raises(JournalError, match="stopped recording"):
        j.close()


def test_occurrences_are_counted_per_digest() -> None:
    counts = _Occurrences()
    first = b"\x12\x34\x12\x34" + b"x" * 12
    inside = b"\x12\x34" + b"x" * 12 + b"\x00\x00"  # bytes 2-17 of first's record
    assert [counts.next(first), counts.next(inside), counts.next(inside)] == [0, 0, 1]
    assert [counts.next(first) for _ in range(3)] == [1, 2, 3]


# --------------------------------------------------------------------------- retention


def test_keep_runs_deletes_old_runs_and_the_file_stops_growing(tmp_path: Path) -> None:
    keep, path, sizes = 3, tmp_path / FILE, []
    for run in range(keep + 3):
        with _journal(tmp_path, run_id=f"night{run}", keep_runs=keep) as j:
            for i in range(400):
                _submit(j, i, f"t{i}")
                j.finished(f"t{i}", os.urandom(300))
            _submit(j, "remote", "r")
            j.running("r")
            j.remote_jobs("r", ["job-1"])
        sizes.append(path.stat().st_size)
    assert _on_disk(path, "SELECT run_id FROM runs ORDER BY seq") == [
        ("night3",),
        ("night4",),
        ("night5",),
    ]
    assert _on_disk(path, "SELECT count(*) FROM task") == [(3 * 401,)]
    assert _on_disk(path, "SELECT count(*) FROM transitions") == [(3 * 2,)]  # RUNNING, REMOTE_
    assert _on_disk(path, "SELECT count(*) FROM remote_jobs") == [(3,)]
    assert _on_disk(path, "SELECT count(DISTINCT run) FROM strings") == [(3,)]
    assert _on_disk(path, "PRAGMA freelist_count") == [(0,)]
    # Without deleting, each run would add what one run takes; pages shift a little.
    per_run = sizes[keep - 1] - sizes[keep - 2]
    assert max(sizes[keep:]) < sizes[keep - 1] + per_run / 4, sizes
    # Resuming starts no run, so it deletes none.
    with _journal(tmp_path, resume=True, run_id="night3", keep_runs=1) as j:
        assert j.resumed and j.summary()["DONE"] == 400
    assert len(_on_disk(path, "SELECT * FROM runs")) == 3


def test_keep_runs_zero_keeps_every_run(tmp_path: Path) -> None:
    for _ in range(4):
        _journal(tmp_path, keep_runs=0).close()
    assert len(_on_disk(tmp_path / FILE, "SELECT * FROM runs")) == 4
    with pytest.raises(JournalError, match=r"keep_runs must be an integer >= 0 .*not -1"):
        _journal(tmp_path, keep_runs=-1)


# --------------------------------------------------------------------------- migration

# Schema version 1, as pilot/journal/store.py wrote it before version 2.
_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,
    started_at REAL NOT NULL, opened_at REAL NOT NULL, pid INTEGER NOT NULL
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY, run_seq INTEGER NOT NULL REFERENCES runs(seq),
    hash TEXT NOT NULL, occurrence INTEGER NOT NULL, task_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('quantum', 'classical')), name TEXT NOT NULL,
    pilot TEXT NOT NULL, resource TEXT, state TEXT NOT NULL, attempt INTEGER NOT NULL,
    error TEXT, updated_at REAL NOT NULL, UNIQUE (run_seq, hash, occurrence)
);
CREATE TABLE task_ids (
    run_seq INTEGER NOT NULL REFERENCES runs(seq), task_id TEXT NOT NULL,
    task INTEGER NOT NULL REFERENCES tasks(id), PRIMARY KEY (run_seq, task_id)
) WITHOUT ROWID;
CREATE TABLE transitions (
    id INTEGER PRIMARY KEY, task INTEGER NOT NULL REFERENCES tasks(id),
    state TEXT NOT NULL, at REAL NOT NULL, task_id TEXT NOT NULL
);
CREATE INDEX transitions_by_task ON transitions (task, id);
CREATE TABLE remote_jobs (
    id INTEGER PRIMARY KEY, task INTEGER NOT NULL REFERENCES tasks(id),
    attempt INTEGER NOT NULL, job_id TEXT NOT NULL
);
CREATE INDEX remote_jobs_by_task ON remote_jobs (task, attempt, id);
CREATE TABLE results (
    task INTEGER PRIMARY KEY REFERENCES tasks(id), result BLOB NOT NULL, sha256 BLOB NOT NULL
);
"""

# (run, what was submitted, task ids (the last is the current one), state, attempt,
#  error, result, transitions (state, at), remote job ids)
_V1_TASKS: list[tuple[Any, ...]] = [
    (1, "old", ["00000000000000a1"], "DONE", 1, None, b"old counts",
     [("SUBMITTED", 1001.0), ("DONE", 1002.0)], []),
    (2, "done", ["c0ffee00c0ffee00"], "DONE", 1, None, b"counts",
     [("SUBMITTED", 2001.0), ("RUNNING", 2001.5), ("DONE", 2002.0)], []),
    (2, "failed", ["t-failed"], "FAILED", 1, "CircuitError: no", None,
     [("SUBMITTED", 2001.0), ("FAILED", 2003.0)], []),
    (2, "remote", ["abcdef0123456789"], "REMOTE_SUBMITTED", 1, None, None,
     [("SUBMITTED", 2001.0), ("RUNNING", 2002.0), ("REMOTE_SUBMITTED", 2002.5)],
     ["arn:job/1", "arn:job/2"]),
    (2, "again", ["0123456789abcdef", "fedcba9876543210"], "DONE", 2, None, b"second try",
     [("SUBMITTED", 2001.0), ("RESUBMITTED", 2005.0), ("DONE", 2006.0)], []),
    (2, "damaged", ["t-damaged"], "DONE", 1, None, b"bit flipped",
     [("SUBMITTED", 2001.0), ("DONE", 2004.0)], []),
    (2, "pending", ["t-pending"], "SUBMITTED", 1, None, None, [("SUBMITTED", 2007.0)], []),
]  # fmt: skip


def _v1_journal(directory: Path, tasks: list[tuple[Any, ...]] = _V1_TASKS) -> Path:
    """A journal with the tables and rows schema version 1 wrote."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for statement in _V1_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("schema_version", "1"), ("created_at", "1000.0"), ("created_by", "qdreamer")],
    )
    conn.executemany(
        "INSERT INTO runs (seq, run_id, started_at, opened_at, pid) VALUES (?, ?, ?, ?, ?)",
        [(1, "nightly-1", 1000.0, 1000.0, 4242), (2, "nightly-2", 2000.0, 2000.0, 4243)],
    )
    for task, (run, what, ids, state, attempt, error, result, changes, jobs) in enumerate(
        tasks, start=1
    ):
        conn.execute(
            "INSERT INTO tasks VALUES (?, ?, ?, 0, ?, 'quantum', ?, 'qpilot', 'aer', ?, ?, ?, ?)",
            (task, run, description_hash(what), ids[-1], f"task-{what}", state, attempt, error,
             changes[-1][1]),
        )  # fmt: skip
        for task_id in ids:
            conn.execute("INSERT INTO task_ids VALUES (?, ?, ?)", (run, task_id, task))
        for s, at in changes:
            conn.execute(
                "INSERT INTO transitions (task, state, at, task_id) VALUES (?, ?, ?, ?)",
                (task, s, at, ids[-1]),
            )
        for job in jobs:
            conn.execute(
                "INSERT INTO remote_jobs (task, attempt, job_id) VALUES (?, ?, ?)",
                (task, attempt, job),
            )
        if result is not None:
            checked = b"bit flopped" if what == "damaged" else result
            conn.execute(
                "INSERT INTO results VALUES (?, ?, ?)",
                (task, result, hashlib.sha256(checked).digest()),
            )
    conn.execute("COMMIT")
    conn.close()
    os.chmod(path, 0o600)
    return path


def test_a_version_1_journal_is_migrated_and_resumed(tmp_path: Path) -> None:
    path = _v1_journal(tmp_path)
    with _journal(tmp_path, resume=True) as j:
        assert (j.run_id, j.resumed) == ("nightly-2", True)
        assert j.summary() == {
            **dict.fromkeys(TaskState.__members__, 0),
            "DONE": 3,
            "FAILED": 1,
            "REMOTE_SUBMITTED": 1,
            "SUBMITTED": 1,
        }
        keys = {what: j.key(description_hash(what)) for what in
                ("done", "failed", "remote", "again", "damaged", "pending")}  # fmt: skip
        entry = j.lookup(keys["done"])
        assert entry is not None and entry.finished
        assert (entry.result, entry.task_id, entry.name, entry.pilot, entry.resource) == (
            b"counts",
            "c0ffee00c0ffee00",
            "task-done",
            "qpilot",
            "aer",
        )
        assert entry.updated_at == pytest.approx(2002.0)
        assert [(c.state, c.at) for c in j.state_changes("c0ffee00c0ffee00")] == [
            (TaskState.SUBMITTED, pytest.approx(2001.0)),
            (TaskState.RUNNING, pytest.approx(2001.5)),
            (TaskState.DONE, pytest.approx(2002.0)),
        ]
        entry = j.lookup(keys["failed"])
        assert entry is not None and (entry.state, entry.error) == (
            TaskState.FAILED,
            "CircuitError: no",
        )
        entry = j.lookup(keys["remote"])
        assert entry is not None and entry.state is TaskState.REMOTE_SUBMITTED
        assert entry.remote_job_ids == ("arn:job/1", "arn:job/2")
        entry = j.lookup(keys["again"])
        assert entry is not None and (entry.attempt, entry.task_id, entry.result) == (
            2,
            "fedcba9876543210",
            b"second try",
        )
        assert j.state_changes("0123456789abcdef") == j.state_changes("fedcba9876543210")
        assert [c.state for c in j.state_changes("0123456789abcdef")] == [
            TaskState.SUBMITTED,
            TaskState.RESUBMITTED,
            TaskState.DONE,
        ]
        with pytest.raises(JournalCorruptError, match=r"task 't-damaged' .* does not match"):
            j.lookup(keys["damaged"])
        entry = j.lookup(keys["pending"])
        assert entry is not None and entry.state is TaskState.SUBMITTED
        # The migrated journal goes on as a version-2 one.
        j.attached(keys["remote"], "t-reattached")
        j.finished("t-reattached", b"remote counts")
        j.submitted(keys["pending"], "t-pending", "quantum", "task-pending", "qpilot", "aer")
        j.finished("t-pending", b"late")
        assert j.summary()["DONE"] == 5
    assert _on_disk(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert _on_disk(path, "PRAGMA auto_vacuum") == [(2,)]  # incremental
    tables = _on_disk(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert {name for (name,) in tables} == {
        "meta", "runs", "sqlite_sequence", "strings", "task", "aliases", "transitions",
        "remote_jobs",
    }  # fmt: skip
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with _journal(tmp_path, resume=True, run_id="nightly-1") as j:
        entry = j.lookup(TaskKey(description_hash("old"), 0))
        assert entry is not None and entry.result == b"old counts"


def test_a_version_1_journal_that_cannot_be_migrated_is_left_as_it_was(tmp_path: Path) -> None:
    bogus: tuple[Any, ...] = (
        2,
        "bogus",
        ["t-bogus"],
        "EXPLODED",
        1,
        None,
        None,
        [("SUBMITTED", 2001.0)],
        [],
    )
    path = _v1_journal(tmp_path, [*_V1_TASKS, bogus])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    with pytest.raises(JournalCorruptError) as err:
        _journal(tmp_path, resume=True)
    assert "cannot migrate it from schema version 1: 'EXPLODED' is not a valid TaskState" in str(
        err.value
    )
    assert path.read_bytes() == before
    assert _on_disk(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]


# --------------------------------------------------------------------------- crash safety

_KILLED_WRITER = """
import os, sys
from pilot.journal.store import TaskJournal, description_hash

j = TaskJournal(sys.argv[1], resume=False, run_id="killed")
i = 0
while True:
    key = j.key(description_hash("circuit", i))
    j.submitted(key, f"t{i}", "quantum", f"task {i}", "qpilot", "aer_simulator")
    j.finished(f"t{i}", i.to_bytes(4, "big") * 512)
    i += 1
    if i % 500 == 0:
        j.flush()
        print(i, flush=True)
"""


def test_sigkill_loses_at_most_the_last_batch_and_never_corrupts(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        flushed = 0
        while flushed < 3000:
            line = proc.stdout.readline()
            assert line, "the writer died before it was killed"
            flushed = int(line)
        time.sleep(0.02)  # mid-batch: writes queued and partly applied
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert Path(f"{tmp_path / FILE}-wal").stat().st_size > 0  # not checkpointed on exit

    with _journal(tmp_path, resume=True) as j:  # runs PRAGMA quick_check
        assert j.run_id == "killed"
        done = j.summary()["DONE"]
        assert done >= flushed
        for i in (0, flushed - 1, done - 1):
            entry = j.lookup((description_hash("circuit", i), 0))
            assert entry is not None and entry.finished
            assert entry.result == i.to_bytes(4, "big") * 512
    # Every DONE has its result and every result its DONE (one transaction each).
    with sqlite3.connect(tmp_path / FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        orphans = conn.execute(
            "SELECT count(*) FROM tasks WHERE (state = 'DONE') != (result_bytes IS NOT NULL)"
        ).fetchone()
        assert orphans == (0,)


# --------------------------------------------------------------------------- cost


def test_write_cost_on_the_callers_thread(tmp_path: Path) -> None:
    """10,000 submissions and 10,000 results of 4 KB: the caller's cost per call."""
    n = 10_000
    result = os.urandom(4096)
    with _journal(tmp_path) as j:
        keys = [j.key(description_hash("bench", i)) for i in range(n)]
        t0 = time.perf_counter()
        for i, key in enumerate(keys):
            j.submitted(key, f"t{i}", "quantum", "bench", "qpilot", "aer_simulator")
        t1 = time.perf_counter()
        for i in range(n):
            j.finished(f"t{i}", result)
        t2 = time.perf_counter()
        j.flush()
        t3 = time.perf_counter()
        assert j.summary()["DONE"] == n
    submit_us, finish_us = (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6
    print(
        f"\njournal: submitted() {submit_us:.1f} us/call, finished() {finish_us:.1f} us/call, "
        f"then flush {1e3 * (t3 - t2):.0f} ms; {2 * n / (t3 - t0):.0f} writes/s sustained"
    )
    assert submit_us < 100
    assert finish_us < 100


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")
    atomic_write(target, b'{"tasks": 3}')
    assert target.read_bytes() == b'{"tasks": 3}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


# --------------------------------------------------------------------------- hashing


def test_hash_encodes_values_canonically() -> None:
    h = description_hash
    assert h({"a": 1, "b": [2, 3]}) == h({"b": [2, 3], "a": 1})
    assert h({"x", "y", "z"}) == h({"z", "y", "x"})
    # Different values never share an encoding.
    distinct = [
        1, 1.0, True, "1", b"1", [1], (1,), {1}, None, 0.0, -0.0, 1 + 0j,
        np.int64(1), np.float64(1.0), np.array([1]), np.array([1.0]), np.array([[1]]),
        np.array([1], dtype=object), ("ab", "c"), ("a", "bc"), range(3), [0, 1, 2],
    ]  # fmt: skip
    assert len({h(v) for v in distinct}) == len(distinct)
    assert h("a", "b") != h(("a", "b")) != h("ab")
    assert h(np.arange(6).reshape(2, 3)) == h(np.arange(6).reshape(2, 3).copy(order="F"))


def test_object_refs_are_refused() -> None:
    import ray

    ref = ray.ObjectRef.nil()
    with pytest.raises(JournalError) as err:
        description_hash("circuit", {"args": [1, ref]})
    assert str(err.value) == (
        "parts[1]['args'][1] is a Ray ObjectRef, which has no stable hash; hash the key of "
        "the task that produces it instead"
    )
    with pytest.raises(JournalError, match=r"parts\[0\] holds a Ray ObjectRef"):
        description_hash(lambda: ref)


def _qiskit_bell(phase: float = 0.0, angle: float = 0.5, param: str = "theta") -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(2, 2)  # auto-named ("circuit-<n>"): the name is not hashed
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(angle, 0)
    qc.rx(Parameter(param), 1)  # a new Parameter (new UUID) each time
    qc.global_phase = phase
    qc.measure([0, 1], [0, 1])
    return qc


def test_qiskit_circuits_hash_by_what_they_do() -> None:
    from qiskit import QuantumCircuit

    h = description_hash
    assert h(_qiskit_bell()) == h(_qiskit_bell())
    different = [
        _qiskit_bell(phase=0.1),
        _qiskit_bell(angle=0.5 + 1e-15),
        _qiskit_bell(angle=1e-17),  # QASM3 export prints this as 0
        _qiskit_bell(param="phi"),
    ]
    assert len({h(c) for c in [_qiskit_bell(), *different]}) == 5

    def custom(name: str, angle: float) -> Any:
        gate = QuantumCircuit(1, name=name)
        gate.rx(angle, 0)
        qc = QuantumCircuit(1)
        qc.append(gate.to_gate(), [0])
        return qc

    hadamard = QuantumCircuit(1)
    hadamard.h(0)
    assert h(custom("g", 0.1)) == h(custom("g", 0.1))
    assert h(custom("g", 0.1)) != h(custom("g", 0.2))  # same name, other definition
    assert h(custom("h", 0.1)) != h(hadamard)  # a custom gate that borrows a standard name


def _qiskit_control_flow(value: int) -> Any:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit.classical import expr

    creg = ClassicalRegister(2, "c")
    qc = QuantumCircuit(QuantumRegister(2), creg)  # "q<counter>": not hashed
    qc.measure(0, 0)
    with qc.if_test(expr.equal(creg, value)):
        qc.x(1)
    with qc.for_loop(range(3)) as i:  # "_loop_i_<counter>": renamed before hashing
        qc.rx(i, 0)
    with qc.switch(creg) as case:
        with case(0):
            qc.z(0)
        with case(case.DEFAULT):
            qc.h(0)
    return qc


def test_qiskit_control_flow_hashes_by_condition_and_blocks() -> None:
    h = description_hash
    assert h(_qiskit_control_flow(1)) == h(_qiskit_control_flow(1))
    assert h(_qiskit_control_flow(1)) != h(_qiskit_control_flow(2))


def test_braket_circuits_hash_by_their_openqasm() -> None:
    from braket.circuits import Circuit, FreeParameter

    def bell(angle: Any) -> Any:
        return Circuit().h(0).cnot(0, 1).rx(1, angle)

    h = description_hash
    assert h(bell(FreeParameter("a"))) == h(bell(FreeParameter("a")))
    assert len({h(bell(FreeParameter("a"))), h(bell(FreeParameter("c"))), h(bell(1e-17))}) == 3


_QASM2 = "\n".join(
    [
        "OPENQASM 2.0;",
        'include "qelib1.inc";',
        "qreg q[2];",
        "creg c[2];",
        "h q[0];",
        "cx q[0],q[1];",
        "measure q -> c;",
    ]
)
_QASM3 = "\n".join(
    [
        "OPENQASM 3.0;",
        'include "stdgates.inc";',
        "qubit[2] q;",
        "bit[2] c;",
        "h q[0];",
        "cx q[0], q[1];",
        "c = measure q;",
    ]
)
_GATE_DICT = {
    "gates": [{"type": "h", "qubit": 0}, {"type": "cx", "control": 0, "target": 1}],
    "n_qubits": 2,
    "measure": [0, 1],
}


def _braket_bell() -> Any:
    from braket.circuits import Circuit, FreeParameter

    return Circuit().h(0).cnot(0, 1).rx(1, FreeParameter("a")).probability()


def _qnode() -> Any:
    import pennylane as qml

    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev, shots=100)
    def circuit(x: float) -> Any:
        qml.RX(x, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.counts()

    return circuit


def hash_cases() -> dict[str, str]:
    """Hashes of descriptions in every format (also run by the script below)."""
    from tests.helpers import bell_qiskit

    return {
        "qasm2": description_hash("quantum", _QASM2, 1000),
        "qasm3": description_hash("quantum", _QASM3, 1000),
        "gatedict": description_hash("quantum", _GATE_DICT, 1000),
        "qiskit": description_hash("quantum", _qiskit_bell(), 1000),
        "qiskit_control_flow": description_hash("quantum", _qiskit_control_flow(1), 1000),
        "braket": description_hash("quantum", _braket_bell(), 1000),
        "numpy_args": description_hash("classical", [np.linspace(0, 1, 5), np.int32(3)]),
        "module_function": description_hash("quantum", bell_qiskit, (), {}),
        "pennylane_qnode": description_hash("quantum", _qnode(), (0.3,)),
    }


# Run as a script (so its functions live in __main__ and pickle by value) in two
# fresh processes with different hash seeds.
_HASH_SCRIPT = """
import json
from pilot.journal.store import description_hash as H
from tests.pilot.test_journal import hash_cases

GATES = {"h", "cx", "rz", "measure"}  # a set of strings: its order follows the hash seed
SCALE = 0.5


def local_builder(theta):
    return {"gates": [{"type": g, "qubit": 0} for g in sorted(GATES)], "angle": theta * SCALE}


hashes = hash_cases()
hashes["script_lambda"] = H("classical", lambda x: [x * SCALE, GATES], (1.5,))
hashes["script_function"] = H("classical", local_builder, (0.1,))
print(json.dumps(hashes))
"""


@pytest.mark.slow
def test_hashes_are_stable_across_processes(tmp_path: Path) -> None:
    script = tmp_path / "hash_cases.py"
    script.write_text(_HASH_SCRIPT)
    first = json.loads(_run_python([str(script)], tmp_path, {"PYTHONHASHSEED": "1"}))
    second = json.loads(_run_python([str(script)], REPO, {"PYTHONHASHSEED": "2"}))
    assert first == second
    assert len(set(first.values())) == len(first)
    # And in this (third) process, except the functions pickled by value: pytest
    # imports this module under another name, and a function's module is hashed.
    by_value = ("script_lambda", "script_function", "pennylane_qnode")
    here = hash_cases()
    assert {k: v for k, v in first.items() if k not in by_value} == {
        k: v for k, v in here.items() if k not in by_value
    }

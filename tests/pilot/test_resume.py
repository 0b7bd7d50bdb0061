"""Nothing lost: a driver killed with SIGKILL mid-run and restarted with ``resume=True``
gets every result, and no circuit that had finished runs again (issue 6).

The drivers are real processes joining this session's Ray cluster.  Their
circuit function appends the task's index to a log file each time it runs
on a worker, so the log counts executions.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from pilot.errors import JournalCorruptError
from tests.helpers import bell_qiskit, done_in_journal, driver_env

ROOT = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent(
    """
    import json, sys, time
    from pilot import PilotComputeService, QuantumTask

    workdir, n, log, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

    def circuit(i, log, pause):
        from qiskit import QuantumCircuit
        with open(log, "a") as f:
            f.write(f"{i}\\n")
        with open(pause) as f:
            time.sleep(float(f.read()))
        qc = QuantumCircuit(6, 6)
        for b in range(6):
            if i >> b & 1:
                qc.x(b)
        qc.measure(range(6), range(6))
        return qc

    with PilotComputeService(working_directory=workdir, resume=True) as pcs:
        pcs.create_pilot(name="aer", resource_type="quantum", cores_per_node=0.25,
                         quantum={"executor": "qiskit_local"})
        refs = [pcs.submit_quantum_task(
                    QuantumTask(circuit, num_qubits=6, shots=4, args=(i, log, pause)))
                for i in range(n)]
        results = pcs.get_results(refs)
        print(json.dumps([[r.counts, bool(r.metadata.get("resumed"))] for r in results]))
    """
)


@pytest.mark.slow
def test_killed_driver_resumes_without_running_finished_circuits_again(
    ray_session: None, tmp_path: Path
) -> None:
    n = 40
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    work, log = tmp_path / "work", tmp_path / "runs.log"
    journal = work / "journal.sqlite3"
    pause = tmp_path / "pause"  # seconds each circuit takes (not part of the task)
    pause.write_text("0.15")
    args = [sys.executable, str(script), str(work), str(n), str(log), str(pause)]
    first = subprocess.Popen(args, env=driver_env(), stdout=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(done_in_journal(journal)) < n // 4:
        assert first.poll() is None, "the first driver ended before it was killed"
        assert time.monotonic() < deadline, "no results journaled in time"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    finished = done_in_journal(journal)  # what survived the kill, committed
    assert n // 4 <= len(finished) < n
    ran_before = Counter(int(x) for x in log.read_text().split())

    pause.write_text("0")
    out = subprocess.run(
        args, env=driver_env(), capture_output=True, text=True, timeout=300, check=True
    )
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert [counts for counts, _ in results] == [{format(i, "06b"): 4} for i in range(n)], (
        "every result is present and correct"
    )
    resumed = [i for i, (_, was) in enumerate(results) if was]
    assert len(resumed) == len(finished), "journaled results come back without running"
    runs = Counter(int(x) for x in log.read_text().split())
    for i in resumed:
        assert runs[i] == ran_before[i] == 1, f"task {i} finished before the kill but ran again"
    assert all(runs[i] >= 1 for i in range(n))


def test_corrupted_journal_is_a_clear_error(ray_session: None, tmp_path: Path) -> None:
    work = tmp_path / "work"
    with PilotComputeService(working_directory=work) as pcs:
        pcs.create_pilot(
            name="aer",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_local"},
        )
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10)))
    journal = work / "journal.sqlite3"
    data = bytearray(journal.read_bytes())
    data[100:4000] = os.urandom(3900)
    journal.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError, match=str(journal)):
        PilotComputeService(working_directory=work, resume=True)


def test_resume_returns_journaled_results_of_sweeps(ray_session: None, tmp_path: Any) -> None:
    from qiskit.circuit import Parameter

    t = Parameter("t")
    qc = bell_qiskit().copy_empty_like()
    qc.ry(t, 0)
    qc.cx(0, 1)
    values = [[0.1 * i] for i in range(12)]

    def run(resume: bool) -> list[Any]:
        with PilotComputeService(working_directory=tmp_path, resume=resume) as pcs:
            pcs.create_pilot(
                name="aer",
                resource_type="quantum",
                cores_per_node=0.25,
                quantum={"executor": "qiskit_local"},
            )
            task = QuantumTask(qc, parameter_values=values, observables=["ZI"], shots=None)
            return list(pcs.get_results(pcs.submit_quantum_task(task)))

    first = run(False)
    again = run(True)
    assert [r.expectation_values for r in again] == [r.expectation_values for r in first]
    assert all(r.metadata.get("resumed") for r in again)
    assert [r.task_id for r in again] == [r.task_id for r in first]


CLOUD_DRIVER = textwrap.dedent(
    """
    import json, sys
    from pilot import PilotComputeService, QuantumTask
    from qiskit import QuantumCircuit

    workdir, n = sys.argv[1], int(sys.argv[2])
    with PilotComputeService(working_directory=workdir, resume=True) as pcs:
        pcs.create_pilot(name="sv1", resource_type="quantum", cores_per_node=0.25,
                         quantum={"executor": "braket_sv1", "s3_bucket": "qdreamer-test",
                                  "poll_interval_seconds": 0.05})
        tasks = []
        for i in range(n):
            qc = QuantumCircuit(3, 3, name=f"basis{i}")
            for b in range(3):
                if i >> b & 1:
                    qc.x(b)
            qc.measure(range(3), range(3))
            tasks.append(QuantumTask(qc, shots=5))
        results = pcs.get_results(pcs.submit_quantum_tasks(tasks))
        print(json.dumps([r.counts for r in results]))
    """
)


def jobs_in_journal(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2) as db:
            return int(db.execute("SELECT count(*) FROM remote_jobs").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_resumed_driver_reattaches_to_remote_jobs_instead_of_paying_twice(
    ray_session: None, tmp_path: Path, fake_braket: Any
) -> None:
    n = 6
    fake_braket.reset()
    pending = fake_braket.pending_statuses
    fake_braket.pending_statuses = ("QUEUED",) * 1_000_000  # the tasks wait in the queue
    script = tmp_path / "driver.py"
    script.write_text(CLOUD_DRIVER)
    work = tmp_path / "work"
    args = [sys.executable, str(script), str(work), str(n)]
    try:
        first = subprocess.Popen(args, env=driver_env(), stdout=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while jobs_in_journal(work / "journal.sqlite3") < n:
            assert first.poll() is None, "the first driver ended before it was killed"
            assert time.monotonic() < deadline, "remote job ids not journaled in time"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        assert fake_braket.calls("CreateQuantumTask") == n
        fake_braket.pending_statuses = ("RUNNING",)  # the provider gets to them
        out = subprocess.run(
            args, env=driver_env(), capture_output=True, text=True, timeout=300, check=True
        )
    finally:
        fake_braket.pending_statuses = pending
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts == [{format(i, "03b"): 5} for i in range(n)]
    assert fake_braket.calls("CreateQuantumTask") == n, "a task was paid for twice"
    fake_braket.reset()


# ---------------------------------------------------------------- classical tasks
def _prepare(n: int, log: str) -> list[int]:
    """The classical stage: notes each run in ``log`` (on the worker)."""
    with open(log, "a") as f:
        f.write(f"prepare {n}\n")
    return list(range(n))


def _basis_circuit(bits: list[int]) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(len(bits), len(bits))
    for b in bits:
        if b % 2:
            qc.x(b)
    qc.measure(range(len(bits)), range(len(bits)))
    return qc


def _score(result: Any, log: str) -> str:
    with open(log, "a") as f:
        f.write("score\n")
    (bitstring,) = result.counts
    return str(bitstring)


def _big(log: str) -> Any:
    import numpy as np

    with open(log, "a") as f:
        f.write("big\n")
    return np.ones(300_000)  # 2.4 MB: more than the journal keeps


@pytest.mark.slow
def test_resume_returns_journaled_classical_results_and_their_quantum_consumers(
    ray_session: None, tmp_path: Path
) -> None:
    """classical → quantum → classical: a resumed driver runs none of the three again;
    a classical result too big for the journal is computed again."""
    log = str(tmp_path / "runs.log")

    def run(resume: bool) -> tuple[list[int], Any, str, float, bool]:
        with PilotComputeService(working_directory=tmp_path / "work", resume=resume) as pcs:
            pcs.create_pilot(
                name="aer",
                resource_type="quantum",
                cores_per_node=0.25,
                quantum={"executor": "qiskit_local"},
            )
            prep = pcs.submit_task(_prepare, 4, log, resources={"num_cpus": 0.25})
            quantum = pcs.submit_quantum_task(
                QuantumTask(_basis_circuit, num_qubits=4, shots=8, args=(prep,))
            )
            score = pcs.submit_task(_score, quantum, log, resources={"num_cpus": 0.25})
            big = pcs.submit_task(_big, log, resources={"num_cpus": 0.25})
            bits, result, scored, array = pcs.get_results([prep, quantum, score, big])
            return (
                bits,
                result.counts,
                scored,
                float(array.sum()),
                bool(result.metadata.get("resumed")),
            )

    first = run(False)
    again = run(True)
    assert first[:4] == again[:4] == ([0, 1, 2, 3], {"1010": 8}, "1010", 300_000.0)
    assert (first[4], again[4]) == (False, True), "the quantum result came from the journal"
    runs = Counter(Path(log).read_text().splitlines())
    assert runs == {"prepare 4": 1, "score": 1, "big": 2}, runs

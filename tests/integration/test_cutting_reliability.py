"""A cut task's subexperiments on a remote provider (IBM's API through its fake):
one whose device fails moves to the next-ranked device on its own, and cancelling
the cut task cancels the subexperiments' remote jobs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pilot import PilotComputeService, QuantumTask
from pilot.cutting import plan_cuts
from pilot.errors import TaskCancelledError
from tests.fakes.ibm_service import FakeIBMQuantumPlatform
from tests.helpers import done_in_journal, driver_env, exact_expectations, ladder

pytestmark = pytest.mark.slow

OBSERVABLES = ["ZZZZZZ", "IIZZII"]
DEVICES = ("ibmq_manila", "ibm_perth")
FAST_RETRIES = {"max_attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.02}


@pytest.fixture(scope="module")
def ibm() -> Iterator[FakeIBMQuantumPlatform]:
    with FakeIBMQuantumPlatform(token="planted-cut-token-9c1d") as fake:
        yield fake


@pytest.fixture(scope="module")
def pcs(
    ray_session: None, workdir: Any, ibm: FakeIBMQuantumPlatform
) -> Iterator[PilotComputeService]:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            name="ibm",
            resource_type="quantum",
            quantum=ibm.quantum_config(
                backends=list(DEVICES), poll_interval_seconds=0.01, retries=FAST_RETRIES
            ),
        )
        yield service


def cut_task(shots: int = 4000) -> QuantumTask:
    return QuantumTask(
        ladder(), shots=shots, observables=OBSERVABLES, cutting={"max_fragment_qubits": 3}
    )


def test_subexperiments_whose_device_fails_move_on_alone(
    pcs: PilotComputeService, ibm: FakeIBMQuantumPlatform
) -> None:
    """The first-ranked device takes five jobs, then goes into maintenance: the other
    subexperiments move to the next-ranked device one by one, and none of the five
    that ran is run again."""
    ibm.reset()
    q = pcs.initialize_dreamer(objective="fidelity", monitor_interval_seconds=3600)
    q.refresh(timeout=30)
    first = q.select(cut_subexperiment()).key
    second = next(d for d in DEVICES if f"ibm/{d}" != first)
    ibm.devices[first.split("/")[1]].jobs_until_offline = 5
    result = pcs.get_results(pcs.submit_quantum_task(cut_task()), timeout=300)
    cut = result.metadata["cutting"]
    where: Counter[str] = Counter()
    for per in cut["where"].values():
        where.update(per)
    n = cut["num_subexperiments"]
    assert where == {first: 5, f"ibm/{second}": n - 5}
    assert cut["failovers"] == n - 5
    assert len(ibm.jobs) == n  # one job per subexperiment: nothing ran twice
    assert all(job.status == "Completed" for job in ibm.jobs.values())
    exact = exact_expectations(ladder(), OBSERVABLES)
    assert np.all(np.abs(np.array(result.expectation_values) - exact) < 0.5)  # noisy devices


def cut_subexperiment() -> QuantumTask:
    """A task like the cut's subexperiments (3 qubits, a mid-circuit measurement)."""
    task = cut_task()
    plan = plan_cuts(ladder(), OBSERVABLES, task.cutting)
    return QuantumTask(next(iter(plan.subexperiments.values()))[0], shots=task.shots)


def test_cancelling_a_cut_task_cancels_its_remote_jobs(
    pcs: PilotComputeService, ibm: FakeIBMQuantumPlatform
) -> None:
    ibm.reset()
    pcs.initialize_dreamer(objective="fidelity", monitor_interval_seconds=3600)
    ibm.hold_jobs = True
    ref = pcs.submit_quantum_task(cut_task())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ibm.jobs:
        time.sleep(0.05)
    assert ibm.jobs, "no remote job was created"
    time.sleep(1.0)
    pcs.cancel_task(ref)
    with pytest.raises(TaskCancelledError):
        pcs.get_results(ref, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        j.status not in ("Cancelled", "Completed", "Failed") for j in ibm.jobs.values()
    ):
        time.sleep(0.1)
    assert all(j.status == "Cancelled" for j in ibm.jobs.values())
    assert ibm.calls("CancelJob") == len(ibm.jobs)


DRIVER = textwrap.dedent(
    """
    import json, sys
    from pilot import PilotComputeService, QuantumTask
    from tests.helpers import ladder

    workdir, config = sys.argv[1], json.loads(sys.argv[2])
    with PilotComputeService(working_directory=workdir, resume=True) as pcs:
        pcs.create_pilot(name="ibm", resource_type="quantum", quantum=config)
        task = QuantumTask(ladder(), shots=4000, observables=["ZZZZZZ", "IIZZII"],
                           cutting={"max_fragment_qubits": 3}, name="ladder-cut")
        result = pcs.get_results(pcs.submit_quantum_task(task), timeout=300)
        print(json.dumps({"values": result.expectation_values,
                          "n": result.metadata["cutting"]["num_subexperiments"]}))
    """
)


def test_a_killed_driver_resumes_a_cut_task_without_paying_twice(
    ray_session: None, tmp_path: Path, ibm: FakeIBMQuantumPlatform
) -> None:
    """Killed after some subexperiments finished (each device a FIFO server on the
    fake's clock, 0.4 s a job) and restarted with ``resume=True``: the finished ones
    come from the journal and are not run again."""
    ibm.reset()
    for name in DEVICES:
        ibm.drain(name, 0.4)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    work = tmp_path / "work"
    config = ibm.quantum_config(
        backends=[DEVICES[0]], poll_interval_seconds=0.05, retries=FAST_RETRIES
    )
    args = [sys.executable, str(script), str(work), json.dumps(config)]
    first = subprocess.Popen(args, env=driver_env(), stdout=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(done_in_journal(work / "journal.sqlite3")) < 3:
        assert first.poll() is None, "the first driver ended before it was killed"
        assert time.monotonic() < deadline, "no subexperiment journaled in time"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    finished = done_in_journal(work / "journal.sqlite3")
    created = len(ibm.jobs)
    out = subprocess.run(
        args, env=driver_env(), capture_output=True, text=True, timeout=300, check=True
    )
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    n = answer["n"]
    assert 3 <= len(finished) < n and created <= n
    # The second run creates jobs only for subexperiments that had not finished (a
    # job created in the last moments before the kill, its id not yet journaled, is
    # created again: at most the ones in flight then).
    assert len(ibm.jobs) - created <= n - len(finished), (created, len(ibm.jobs), finished)
    assert len(ibm.jobs) <= n + (created - len(finished))
    exact = exact_expectations(ladder(), OBSERVABLES)
    assert np.all(np.abs(np.array(answer["values"]) - exact) < 0.5)  # a noisy device

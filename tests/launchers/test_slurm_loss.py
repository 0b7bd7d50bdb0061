"""A classical Slurm pilot's job cancelled from outside (``scancel``) mid-run (issue 6).

Its tasks move to another classical pilot when one runs, or fail with a
``PilotLostError`` naming the pilot and the Slurm job -- they never hang.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pilot import PilotComputeService, PilotLostError, PilotState

pytestmark = pytest.mark.slurm


def slow(i: int, seconds: float, started: str) -> dict[str, Any]:
    """Say it started (inside which Slurm job), then sleep."""
    import os
    from pathlib import Path

    job = os.environ.get("SLURM_JOB_ID")
    Path(started, f"{i}.{job}").touch()
    time.sleep(seconds)
    return {"i": i, "job": job}


def scancel_when_running(pilot: Any, refs: list[Any], started: Path) -> None:
    """Cancel the pilot's job once a task has been seen running inside it (and before
    they all finished)."""
    import ray

    deadline = time.monotonic() + 60
    while not list(started.glob(f"*.{pilot.job_id}")):
        assert time.monotonic() < deadline, "no task started inside the Slurm job in 60 s"
        time.sleep(0.05)
    _, pending = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
    assert pending, "the tasks finished before the job was cancelled"
    subprocess.run(["scancel", pilot.job_id], check=True, timeout=30)


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        yield service


def test_tasks_of_a_cancelled_slurm_pilot_fail_over(pcs: Any, tmp_path: Path) -> None:
    slurm = pcs.create_pilot({"name": "s1", "resource": "slurm://localhost", "walltime": 10})
    local = pcs.create_pilot({"name": "local-cpu", "cores_per_node": 0.5})
    slurm.wait(180)
    refs = [pcs.submit_task(slow, i, 3.0, str(tmp_path), pilot="s1") for i in range(4)]
    scancel_when_running(slurm, refs, tmp_path)
    start = time.monotonic()
    results = pcs.get_results(refs, timeout=180)
    assert [r["i"] for r in results] == [0, 1, 2, 3]
    assert all(r["job"] is None for r in results)  # they ran again, outside the job
    assert time.monotonic() - start < 120
    assert slurm.state in (PilotState.CANCELED, PilotState.FAILED)
    local.cancel()


def test_tasks_of_a_cancelled_slurm_pilot_fail_clearly_without_another(
    pcs: Any, tmp_path: Path
) -> None:
    slurm = pcs.create_pilot({"name": "s2", "resource": "slurm://localhost", "walltime": 10})
    slurm.wait(180)
    job = slurm.job_id
    refs = [pcs.submit_task(slow, i, 3.0, str(tmp_path), pilot="s2") for i in range(3)]
    scancel_when_running(slurm, refs, tmp_path)
    with pytest.raises(PilotLostError, match=rf"pilot 's2' \(Slurm job {job}\) was lost") as err:
        pcs.get_results(refs, timeout=120)
    assert err.value.pilot == "s2" and err.value.job_id == job
    lost = pcs.get_results(refs, return_exceptions=True, timeout=60)
    assert all(isinstance(x, PilotLostError) for x in lost)

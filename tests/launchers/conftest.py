"""The one real walltime test's pilot runs while the driver-job tests run.

Slurm's time limits are whole minutes, and slurmctld ends a job up to ~30 s
after its limit, so ``test_reaching_the_walltime_is_an_expected_end``
(``test_slurm_pilot.py``) waits 60-90 s for its one-minute job.  Its pilot is
started before the first Slurm test of ``test_slurm_driver.py``: those jobs run
drivers on Ray clusters of their own inside their jobs (on Slurm's other core)
and never use this session's Ray, which the walltime pilot's Ray node joins.
Every other Slurm test of this folder uses this session's Ray, so before each
of them the walltime job is waited for until it has ended (its node gone).
Run alone, the walltime test starts the pilot itself and waits as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pilot import PilotComputeService, PilotState


@dataclass
class WalltimeRun:
    """The one-minute-walltime Slurm pilot, and what was seen once it ran."""

    pilot: Any
    job_id: str
    state_when_up: PilotState

    def wait_for_the_end(self, timeout: float = 240) -> PilotState:
        """Poll until the job is no longer RUNNING (1 min walltime + the sweep + KillWait)."""
        deadline = time.monotonic() + timeout
        while self.pilot.refresh() is PilotState.RUNNING and time.monotonic() < deadline:
            time.sleep(1)
        return self.pilot.state


_started: list[WalltimeRun] = []


@pytest.fixture(scope="session")
def walltime_pilot(
    ray_session: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalltimeRun]:
    with PilotComputeService(working_directory=tmp_path_factory.mktemp("walltime")) as pcs:
        pilot = pcs.create_pilot(
            {"name": "slurm-short", "resource": "slurm://localhost", "walltime": 1}
        )
        pilot.wait(180)
        run = WalltimeRun(pilot, pilot._allocation.info["job_id"], pilot.refresh())
        _started.append(run)
        yield run


@pytest.fixture(autouse=True)
def _walltime_overlaps_the_driver_jobs(request: pytest.FixtureRequest) -> None:
    if "slurm" not in request.keywords:
        return
    if request.path.name == "test_slurm_driver.py":
        request.getfixturevalue("walltime_pilot")
    else:
        for run in _started:
            run.wait_for_the_end()

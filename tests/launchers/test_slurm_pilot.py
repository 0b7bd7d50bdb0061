"""Slurm pilots end to end on the real local Slurm (``scripts/local-slurm.sh``).

The driver is this test session (its Ray cluster); each pilot is a Slurm job
whose node joins that cluster, so the tasks below really run inside the job.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from pilot import PilotComputeService, PilotStartError, PilotState, QuantumTask
from tests.helpers import bell_qiskit

pytestmark = pytest.mark.slurm


def in_queue(job_id: str) -> bool:
    out = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True, check=False
    )
    return job_id in out.stdout.split()


def job_id_circuit() -> Any:
    """X on the qubits of the bits of SLURM_JOB_ID % 64, as seen where it is built."""
    import os

    from qiskit import QuantumCircuit

    job = int(os.environ.get("SLURM_JOB_ID", "0")) % 64
    qc = QuantumCircuit(6, 6, name="job_id")
    for i in range(6):
        if job >> i & 1:
            qc.x(i)
    qc.measure(range(6), range(6))
    return qc


def where() -> dict[str, Any]:
    import os
    import socket

    return {"job": os.environ.get("SLURM_JOB_ID"), "host": socket.gethostname()}


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        yield service


def test_classical_and_quantum_pilots_run_inside_their_jobs(pcs: Any) -> None:
    import ray

    cpu = pcs.create_pilot({"name": "slurm-cpu", "resource": "slurm://localhost", "walltime": 10})
    qpu = pcs.create_pilot(
        {
            "name": "slurm-aer",
            "resource": "slurm://localhost",
            "resource_type": "quantum",
            "quantum": {"executor": "qiskit_local"},
            "walltime": 10,
        }
    )
    assert cpu.state is PilotState.PENDING  # submitted; wait() brings it up
    cpu.wait(180)
    qpu.wait(180)
    assert cpu.state is qpu.state is PilotState.RUNNING
    cpu_job = cpu._allocation.info["job_id"]
    qpu_job = qpu._allocation.info["job_id"]
    assert cpu_job != qpu_job and in_queue(cpu_job) and in_queue(qpu_job)

    seen = ray.get([pcs.submit_task(where, pilot="slurm-cpu") for _ in range(4)])
    assert {s["job"] for s in seen} == {cpu_job}

    # The circuit function runs in the pilot's backend actor: inside the Slurm job.
    seen_by_actor = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(job_id_circuit, shots=20, pilot="slurm-aer"))
    )
    assert seen_by_actor.counts == {format(int(qpu_job) % 64, "06b"): 20}
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=200, pilot="slurm-aer"))
    )
    assert set(result.counts) == {"00", "11"} and result.pilot == "slurm-aer"
    assert sum(result.counts.values()) == 200

    # Cancelling one pilot removes its job and its Ray node only.
    cpu.cancel()
    assert cpu.state is PilotState.CANCELED
    assert not in_queue(cpu_job)
    assert not any(n["Alive"] and "pilot:slurm-cpu" in n["Resources"] for n in ray.nodes())
    again = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=50, pilot="slurm-aer"))
    )
    assert sum(again.counts.values()) == 50
    assert ray.get(ray.remote(lambda: "driver cluster up").remote()) == "driver cluster up"
    qpu.cancel()
    assert not in_queue(qpu_job)


def test_a_job_that_fails_to_start_raises_with_its_stderr(pcs: Any) -> None:
    pilot = pcs.create_pilot(
        {
            "name": "slurm-broken",
            "resource": "slurm://localhost",
            "walltime": 5,
            "environment_setup": ["echo 'module python/9.9 not found' >&2", "exit 3"],
        }
    )
    with pytest.raises(
        PilotStartError, match=r"(?s)ended .*its stderr:.*module python/9.9 not found"
    ):
        pilot.wait(120)
    assert pilot.state is PilotState.FAILED


def test_reaching_the_walltime_is_an_expected_end(walltime_pilot: Any) -> None:
    """A one-minute walltime (``walltime_pilot`` in conftest.py: started before the
    driver-job tests, whose minute it overlaps) ends the pilot as DONE, not FAILED."""
    assert walltime_pilot.state_when_up is PilotState.RUNNING
    assert walltime_pilot.wait_for_the_end() is PilotState.DONE
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", walltime_pilot.job_id],
        capture_output=True,
        text=True,
        check=False,
    )
    # Slurm's own record (kept for MinJobAge) says the walltime ended it.
    assert out.returncode != 0 or "JobState=TIMEOUT" in out.stdout, out.stdout

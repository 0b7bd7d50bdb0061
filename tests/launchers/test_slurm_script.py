"""The Slurm launcher's pure parts: the batch script, the command seam, the state table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pilot.launchers.slurm import (
    SLURM_STATES,
    SlurmError,
    SlurmJob,
    job_script,
    pilot_state,
    run,
)
from pilot.states import PilotState


def job(**changes: object) -> SlurmJob:
    base: dict[str, object] = {
        "pilot": "cpu-1",
        "working_directory": "/scratch/me/qd",
        "ray_address": "10.1.2.3:6379",
    }
    base.update(changes)
    return SlurmJob(**base)  # type: ignore[arg-type]


def test_minimal_script_has_the_allocation_and_joins_the_driver() -> None:
    script = job_script(job())
    assert script.startswith("#!/bin/bash\n")
    for line in (
        "#SBATCH --job-name=qdreamer-cpu-1",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=01:00:00",
        "#SBATCH --chdir=/scratch/me/qd",
        "#SBATCH --output=/scratch/me/qd/slurm-%j.out",
        "#SBATCH --error=/scratch/me/qd/slurm-%j.err",
        "export QDREAMER_RAY_ADDRESS=10.1.2.3:6379",
        """export QDREAMER_RESOURCES='{"pilot:cpu-1":10000}'""",
        "export QDREAMER_JOB_DIR=/scratch/me/qd/job-${SLURM_JOB_ID}",
    ):
        assert line in script.splitlines(), line
    for absent in ("--partition", "--account", "--qos", "--reservation", "--gpus-per-node"):
        assert absent not in script
    assert "start --block" in script and '--address="${QDREAMER_RAY_ADDRESS}"' in script


def test_options_and_user_lines_go_where_slurm_reads_them() -> None:
    script = job_script(
        job(
            nodes=4,
            cores_per_node=8,
            gpus_per_node=2,
            walltime_minutes=150,
            partition="gpu",
            account="proj42",
            qos="high",
            reservation="hack",
            scheduler_script_commands=("--exclusive", "#SBATCH --mem=0"),
            environment_setup=("module load python/3.11", "source /opt/venv/bin/activate"),
        )
    )
    lines = script.splitlines()
    directives = lines[: lines.index("set -euo pipefail")]
    for expected in (
        "#SBATCH --nodes=4",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=02:30:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj42",
        "#SBATCH --qos=high",
        "#SBATCH --reservation=hack",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --exclusive",
        "#SBATCH --mem=0",
    ):
        assert expected in directives, expected
    # Every #SBATCH line comes before the first command (Slurm stops reading there).
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert all(i < first_command for i, line in enumerate(lines) if line.startswith("#SBATCH"))
    setup = lines.index("module load python/3.11")
    assert lines[setup + 1] == "source /opt/venv/bin/activate"
    assert setup < lines.index(next(line for line in lines if line.startswith("srun ")))


def test_multi_node_pilot_starts_one_ray_node_per_node_with_srun() -> None:
    script = job_script(job(nodes=3, cores_per_node=16))
    assert "srun --nodes=3 --ntasks=3 --ntasks-per-node=1 --cpus-per-task=16 \\" in script
    assert '--kill-on-bad-exit=1 bash "${QDREAMER_JOB_DIR}/node.sh"' in script
    assert 'node_dir="${QDREAMER_JOB_DIR}/node-${SLURM_NODEID}"' in script


def test_each_job_has_its_own_temp_dir_and_port_range() -> None:
    script = job_script(job())
    assert 'ray_tmp="${TMPDIR:-/tmp}/qd-${SLURM_JOB_ID}-${SLURM_NODEID}"' in script
    assert 'ln -sfn "${ray_tmp}" "${node_dir}/ray"' in script
    assert 'export RAY_TMPDIR="${ray_tmp}"' in script
    assert '--temp-dir="${ray_tmp}"' in script
    assert "export QDREAMER_PORT_BASE=$(( 20000 + (SLURM_JOB_ID % 40) * 1000 ))" in script
    for flag in (
        "--node-manager-port=$((p))",
        "--object-manager-port=$((p + 1))",
        "--min-worker-port=$((p + 10))",
        "--max-worker-port=$((p + 99))",
    ):
        assert flag in script
    assert "export QDREAMER_PORT_BASE=31000" in job_script(job(port_base=31000))


def test_script_is_valid_bash() -> None:
    script = job_script(job(nodes=2, environment_setup=("echo ready",)))
    out = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_unquotable_working_directory_is_refused() -> None:
    with pytest.raises(ValueError, match="has spaces, quotes or shell characters"):
        job_script(job(working_directory="/tmp/my dir"))


# ------------------------------------------------------------------ states
@pytest.mark.parametrize(
    ("slurm", "pilot"),
    [
        ("PENDING", PilotState.PENDING),
        ("CONFIGURING", PilotState.STARTING),
        ("RUNNING", PilotState.STARTING),
        ("COMPLETED", PilotState.DONE),
        ("TIMEOUT", PilotState.DONE),  # walltime reached: an expected end
        ("CANCELLED by 0", PilotState.CANCELED),
        ("FAILED", PilotState.FAILED),
        ("NODE_FAIL", PilotState.FAILED),
        ("OUT_OF_MEMORY", PilotState.FAILED),
    ],
)
def test_slurm_states_map_to_pilot_states(slurm: str, pilot: PilotState) -> None:
    assert pilot_state(slurm) is pilot


def test_every_state_maps_and_unknown_ones_are_errors() -> None:
    assert set(SLURM_STATES.values()) <= set(PilotState)
    with pytest.raises(SlurmError, match="unknown Slurm job state 'WEIRD'"):
        pilot_state("WEIRD")


# ------------------------------------------------------------------ the seam
def test_seam_keeps_the_evidence_of_a_failure() -> None:
    code = (
        "import sys; print('partial'); "
        "sys.stderr.write('sbatch: error: bad partition'); sys.exit(1)"
    )
    with pytest.raises(SlurmError) as info:
        run([sys.executable, "-c", code])
    err = info.value
    assert err.returncode == 1
    assert err.stdout.strip() == "partial"
    assert err.stderr == "sbatch: error: bad partition"
    assert "failed with exit code 1: sbatch: error: bad partition" in str(err)


def test_seam_times_out_instead_of_hanging() -> None:
    with pytest.raises(SlurmError, match=r"did not answer within 0.5 s"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_seam_names_a_missing_command() -> None:
    with pytest.raises(SlurmError, match=r"'no-such-sbatch' not found: is Slurm installed"):
        run(["no-such-sbatch", "--parsable"])

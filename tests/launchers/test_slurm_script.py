"""The Slurm launcher's pure parts: the batch script, the command seam, the state table,
and partition time limits."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pilot.errors import ConfigError
from pilot.launchers.slurm import (
    SLURM_STATES,
    SlurmError,
    SlurmJob,
    check_walltime,
    job_script,
    partition_limits,
    pilot_state,
    run,
    time_limit_seconds,
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
    assert "export QDREAMER_PORT_BASE=$(( 20000 + (SLURM_JOB_ID % 12) * 1000 ))" in script
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


# ------------------------------------------------------------------ partition time limits
#: ``sinfo --all -h -o "%P %l"`` on the project's single-node Slurm 22.05
#: (scripts/local-slurm.sh): one default partition without a limit ...
REAL_SINFO = "debug* infinite\n"
#: ... and with a second partition created by ``scontrol create PartitionName=...
#: MaxTime=5`` (then updated to 1-12:30:00 and 90), as sinfo printed it.
REAL_SINFO_LIMITED = ("debug* infinite\nqd-h2-limit 5:00\n", 300)
REAL_LIMITS = [("5:00", 300), ("1-12:30:00", 131400), ("1:30:00", 5400)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *REAL_LIMITS,
        ("infinite", None),
        ("UNLIMITED", None),  # scontrol's spelling
        (" 30 ", 1800),  # minutes
        ("0:45", 45),  # minutes:seconds
        ("00:05:00", 300),  # scontrol's MaxTime=00:05:00
        ("2-0", 172800),  # days-hours
        ("1-2:03", 93780),  # days-hours:minutes
        ("1-00:00:01", 86401),
    ],
)
def test_slurm_time_limits_in_every_format(text: str, seconds: int | None) -> None:
    assert time_limit_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "n/a", "1:2:3:4", "1-", "-5", "1h", "1-2-3"])
def test_unreadable_time_limits_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="not a Slurm time limit"):
        time_limit_seconds(text)


def test_partition_limits_from_real_sinfo_output() -> None:
    assert partition_limits(REAL_SINFO) == ({"debug": None}, "debug")
    text, seconds = REAL_SINFO_LIMITED
    assert partition_limits(text) == ({"debug": None, "qd-h2-limit": seconds}, "debug")


def test_partition_limits_of_a_bigger_site() -> None:
    text = "short 30:00\nbatch* 2-00:00:00\nbatch* 2-00:00:00\nlong infinite\nempty n/a\n\n"
    limits, default = partition_limits(text)
    assert default == "batch"
    assert limits == {"short": 1800, "batch": 172800, "long": None, "empty": None}
    assert partition_limits("") == ({}, None)


@pytest.fixture
def fake_sinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], None]:
    """Put an ``sinfo`` printing given text first on PATH (a stub at the process
    boundary, as the fake Braket service is at the HTTP one: our code runs for real)."""

    def install(output: str, returncode: int = 0) -> None:
        script = tmp_path / "sinfo"
        script.write_text(f"#!/bin/sh\nprintf '%s' {shlex.quote(output)}\nexit {returncode}\n")
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    return install


SITE = "debug* 30:00\nbatch 2-00:00:00\nlong infinite\n"


def test_walltime_over_the_partition_limit_is_refused(fake_sinfo: Any) -> None:
    fake_sinfo(SITE)
    with pytest.raises(ConfigError) as info:
        check_walltime(job(walltime_minutes=3000, partition="batch"))
    assert info.value.key == "walltime"
    assert str(info.value).startswith(
        "walltime=3000 minutes is over the time limit of Slurm partition 'batch': "
        "2880 minutes (MaxTime)"
    )
    assert "Ask for walltime <= 2880" in str(info.value)


def test_the_default_partition_is_checked_when_none_is_named(fake_sinfo: Any) -> None:
    fake_sinfo(SITE)
    with pytest.raises(
        ConfigError,
        match=r"walltime=31 minutes is over the time limit of Slurm partition 'debug' "
        r"\(the default partition\): 30 minutes",
    ):
        check_walltime(job(walltime_minutes=31))
    check_walltime(job(walltime_minutes=30))  # exactly the limit


def test_walltimes_within_limits_or_unknown_partitions_pass(fake_sinfo: Any) -> None:
    fake_sinfo(SITE)
    check_walltime(job(walltime_minutes=2880, partition="batch"))
    check_walltime(job(walltime_minutes=10**6, partition="long"))  # infinite
    check_walltime(job(walltime_minutes=10**6, partition="nosuch"))  # sbatch decides
    fake_sinfo("", returncode=1)  # sinfo fails: sbatch decides
    check_walltime(job(walltime_minutes=10**6, partition="batch"))


def test_partition_and_time_set_in_scheduler_script_commands_are_checked(
    fake_sinfo: Any,
) -> None:
    """sbatch lets the later #SBATCH line win: so does the check."""
    fake_sinfo(SITE)
    with pytest.raises(ConfigError) as info:
        check_walltime(job(walltime_minutes=10, scheduler_script_commands=("#SBATCH -t 1-00:00",)))
    assert info.value.key == "scheduler_script_commands"
    assert str(info.value).startswith(
        "the --time in scheduler_script_commands (1440 minutes) is over the time limit of "
        "Slurm partition 'debug' (the default partition): 30 minutes"
    )
    with pytest.raises(ConfigError, match="partition 'debug': 30 minutes") as info:
        check_walltime(
            job(walltime_minutes=600, partition="batch", scheduler_script_commands=("-p debug",))
        )
    assert info.value.key == "walltime"
    check_walltime(job(walltime_minutes=600, scheduler_script_commands=("--partition=batch",)))
    check_walltime(
        job(walltime_minutes=10**5, scheduler_script_commands=("#SBATCH --time=00:20:00",))
    )


def test_port_blocks_stay_below_the_ephemeral_range() -> None:
    """Every job's 1,000-port block lies below the ports the kernel gives outgoing
    connections (a fixed Ray port there can already be taken), and neighbouring job
    ids get different blocks."""
    import re

    from pilot.launchers.slurm import EPHEMERAL_PORTS_START, PORT_BASE_EXPR

    m = re.fullmatch(r"\$\(\( (\d+) \+ \(SLURM_JOB_ID % (\d+)\) \* 1000 \)\)", PORT_BASE_EXPR)
    assert m is not None, PORT_BASE_EXPR
    first, blocks = int(m[1]), int(m[2])
    bases = {first + (job_id % blocks) * 1000 for job_id in range(10_000)}
    assert min(bases) >= 20000 and max(bases) + 999 < EPHEMERAL_PORTS_START
    assert len({first + (j % blocks) * 1000 for j in range(100, 100 + blocks)}) == blocks
    script = job_script(SlurmJob(pilot="p", working_directory="/w", ray_address="h:1"))
    assert f"export QDREAMER_PORT_BASE={PORT_BASE_EXPR}" in script.replace("$$", "$")

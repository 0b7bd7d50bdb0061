"""``qdreamer slurm submit/status/cancel``: a driver run inside a Slurm job on its own Ray.

The batch script is checked as text (milliseconds); the end-to-end tests
(marker ``slurm``) submit real jobs to the local Slurm (``scripts/local-slurm.sh``)
through the CLI, as a user would, and read what the driver printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pilot.batch.slurm import (
    DriverJob,
    JobStatus,
    driver_script,
    driver_state,
)
from pilot.launchers.slurm import PORT_BASE_EXPR, SlurmJob, job_script
from pilot.states import PilotState
from tests.helpers import cli_error_line, run_cli

ROOT = Path(__file__).resolve().parents[2]


def job(**changes: Any) -> DriverJob:
    base: dict[str, Any] = {
        "driver": "/home/me/drv.py",
        "working_directory": "/scratch/me/run",
        "python": "/opt/venv/bin/python",
    }
    base.update(changes)
    return DriverJob(**base)


def commands(script: str) -> list[str]:
    """The script's lines that are not comments (``#SBATCH`` lines included)."""
    return [line for line in script.splitlines() if not line.lstrip().startswith("# ")]


def index(lines: list[str], fragment: str) -> int:
    return next(i for i, line in enumerate(lines) if fragment in line)


# ------------------------------------------------------------------ the script as text
def test_allocation_directives() -> None:
    script = driver_script(
        job(nodes=2, cores_per_node=4, walltime_minutes=30, partition="debug", account="proj42")
    )
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    for expected in (
        "#SBATCH --job-name=qdreamer-drv",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --time=00:30:00",
        "#SBATCH --partition=debug",
        "#SBATCH --account=proj42",
        "#SBATCH --chdir=/scratch/me/run",
        "#SBATCH --output=/scratch/me/run/slurm-%j.out",
        "#SBATCH --error=/scratch/me/run/slurm-%j.err",
    ):
        assert expected in lines, expected
    # Slurm reads #SBATCH lines only before the first command.
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert all(i < first_command for i, line in enumerate(lines) if line.startswith("#SBATCH"))

    plain = driver_script(job(walltime_minutes=150))
    assert "#SBATCH --time=02:30:00" in plain
    for absent in ("--partition", "--account", "--qos", "--gpus-per-node"):
        assert absent not in plain
    extra = driver_script(job(gpus_per_node=2, qos="high", scheduler_script_commands=("--mem=0",)))
    for expected in ("#SBATCH --gpus-per-node=2", "#SBATCH --qos=high", "#SBATCH --mem=0"):
        assert expected in extra.splitlines()


def test_head_starts_on_the_first_node_bound_to_its_address() -> None:
    lines = commands(driver_script(job(nodes=2)))
    assert 'mapfile -t qd_nodes < <(scontrol show hostnames "${SLURM_JOB_NODELIST}")' in lines
    assert 'head_node="${qd_nodes[0]}"' in lines
    assert any("hostname -I" in line and line.startswith("head_ip=") for line in lines)
    head = index(lines, 'srun --nodes=1 --ntasks=1 --nodelist="${head_node}" --cpus-per-task=1')
    assert 'bash "${QDREAMER_JOB_DIR}/node.sh" head' in lines[head + 1]
    node_sh = "\n".join(lines)
    assert '--head --node-ip-address="${QDREAMER_HEAD_IP}" --port=$((p + 6))' in node_sh
    assert 'start --block "${role[@]}"' in node_sh
    assert 'export QDREAMER_RAY_ADDRESS="${head_ip}:$(( QDREAMER_PORT_BASE + 6 ))"' in lines


def test_workers_start_on_the_other_nodes_after_the_gcs_answers() -> None:
    lines = commands(driver_script(job(nodes=3, cores_per_node=8)))
    workers = index(lines, "srun --nodes=2 --ntasks=2 --ntasks-per-node=1")
    assert '--exclude="${head_node}"' in lines[workers]
    assert (
        '--cpus-per-task=8 --kill-on-bad-exit=1 bash "${QDREAMER_JOB_DIR}/node.sh" worker'
        in (lines[workers + 1])
    )
    assert '    role=(--address="${QDREAMER_RAY_ADDRESS}")' in lines
    gcs_probe = index(lines, 'until (: <>"/dev/tcp/${head_ip}/')
    health = index(lines, "ray.scripts.scripts health-check")
    all_nodes = index(lines, "alive >= want")
    driver = index(lines, "/home/me/drv.py")
    assert index(lines, 'node.sh" head') < gcs_probe < health < workers < all_nodes < driver
    # One node: no worker step at all.
    single = driver_script(job(nodes=1))
    assert 'node.sh" worker' not in single and "workers_srun=$!" not in single


def test_driver_runs_with_ray_address_and_its_exit_code_ends_the_job() -> None:
    lines = commands(driver_script(job(args=("--epochs", "3", "a b"))))
    export = lines.index('export RAY_ADDRESS="${QDREAMER_RAY_ADDRESS}"')
    driver = lines.index(
        """PYTHONUNBUFFERED=1 "${QDREAMER_PYTHON}" /home/me/drv.py --epochs 3 'a b' &"""
    )
    assert export < driver
    assert lines.index("unset RAY_ADDRESS") < export
    assert "export QDREAMER_PYTHON=/opt/venv/bin/python" in lines
    tail = lines[driver:]
    assert 'wait "${driver_pid}" || rc=$?' in tail
    assert tail[-1] == 'exit "${rc}"'
    assert "trap qd_cleanup EXIT" in lines and "trap 'exit 143' TERM" in lines


def test_clean_up_stops_only_this_jobs_ray_on_every_node() -> None:
    script = driver_script(job(nodes=3))
    lines = commands(script)
    # Never a global `ray stop`.
    assert not any(re.search(r"\bray(\.scripts\.scripts)? stop\b", line) for line in lines)
    cleanup = "\n".join(lines[index(lines, "qd_wait_pids() {") : index(lines, "trap qd_cleanup")])
    assert 'srun --overlap --nodes="${qd_workers}"' in cleanup
    assert '--exclude="${head_node}"' in cleanup and 'node.sh" stop' in cleanup
    assert cleanup.index('node.sh" stop >/dev/null') < cleanup.index(
        'bash "${QDREAMER_JOB_DIR}/node.sh" stop  #'
    )  # workers first, while the head's GCS answers their drain
    assert 'kill -TERM "$1"' in cleanup  # a step that does not end is killed through srun
    assert "workers_srun=$! qd_workers=2" in lines
    # node.sh stop signals the pid it recorded, checked against this job's temp dir.
    assert any(x.startswith('echo $$ >"${node_dir}/pid"') for x in lines)
    assert any('grep -qs "qd-${SLURM_JOB_ID}-${idx}" "/proc/${pid}/cmdline"' in x for x in lines)


def test_per_job_temp_dirs_ports_and_auth() -> None:
    script = driver_script(job())
    assert 'ray_tmp="${TMPDIR:-/tmp}/qd-${SLURM_JOB_ID}-${idx}"' in script
    assert 'ln -sfn "${ray_tmp}" "${node_dir}/ray"' in script
    assert '--temp-dir="${ray_tmp}"' in script
    # The same port block as the pilot jobs of pilot.launchers.slurm.
    pilot = job_script(SlurmJob(pilot="p", working_directory="/w", ray_address="h:1"))
    base = next(line for line in pilot.splitlines() if line.startswith("export QDREAMER_PORT_BASE"))
    assert base in script.splitlines()
    assert "export QDREAMER_PORT_BASE=31000" in driver_script(job(port_base=31000))
    for flag in ("--dashboard-port=$((p + 8))", "--ray-client-server-port=$((p + 7))"):
        assert flag in script
    assert "export RAY_AUTH_MODE=token" in script.splitlines()
    assert "get-auth-token --generate" in script
    assert "disabled" not in script


def test_environment_setup_comes_before_ray() -> None:
    lines = driver_script(
        job(environment_setup=("module load python/3.11", "source /opt/venv/bin/activate"))
    ).splitlines()
    setup = lines.index("module load python/3.11")
    assert lines[setup + 1] == "source /opt/venv/bin/activate"
    assert lines[setup - 2 : setup] == ["set -euo pipefail", "set +u"]
    assert lines[setup + 2] == "set -u"
    assert setup < index(lines, "srun ") and setup < index(lines, "get-auth-token")


@pytest.mark.parametrize("nodes", [1, 2, 5])
def test_script_and_node_script_are_valid_bash(nodes: int) -> None:
    script = driver_script(job(nodes=nodes, environment_setup=("echo ready",)))
    node_sh = script.split("<<'QDREAMER_NODE'\n", 1)[1].split("\nQDREAMER_NODE\n", 1)[0]
    for text in (script, node_sh):
        out = subprocess.run(
            ["bash", "-n"], input=text, capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"working_directory": "/tmp/my dir"}, "has spaces, quotes or shell characters"),
        ({"working_directory": "relative/dir"}, "must be an absolute path"),
        ({"partition": "a b"}, "partition 'a b'"),
        ({"nodes": 0}, "at least one node"),
        ({"walltime_minutes": 0}, "at least 1 minute"),
        ({"scheduler_script_commands": ("exclusive",)}, "must be one line starting with"),
    ],
)
def test_wrong_jobs_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        driver_script(job(**changes))


@pytest.mark.parametrize(
    ("slurm", "state"),
    [
        ("PENDING", PilotState.PENDING),
        ("RUNNING", PilotState.RUNNING),
        ("COMPLETING", PilotState.RUNNING),  # may still end FAILED or CANCELLED
        ("COMPLETED", PilotState.DONE),
        ("TIMEOUT", PilotState.DONE),
        ("FAILED", PilotState.FAILED),
        ("CANCELLED by 0", PilotState.CANCELED),
    ],
)
def test_driver_job_states(slurm: str, state: PilotState) -> None:
    assert driver_state(slurm) is state
    assert JobStatus("1", "x", slurm, driver_state(slurm)).ended is (
        state in {PilotState.DONE, PilotState.FAILED, PilotState.CANCELED}
    )


# ------------------------------------------------------------------ the CLI, without Slurm
def cli(args: list[str], cwd: Path, *, rc: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = str(ROOT)
    return run_cli(args, env, cwd, rc=rc, timeout=120)


error_line = cli_error_line


def test_dry_run_prints_the_pure_functions_script(tmp_path: Path) -> None:
    (tmp_path / "drv.py").write_text("print('hi')\n")
    out = cli(
        [
            "slurm",
            "submit",
            "drv.py",
            "--nodes",
            "2",
            "--cores-per-node",
            "4",
            "--walltime",
            "30",
            "--partition",
            "debug",
            "--account",
            "proj42",
            "--environment-setup",
            "module load python",
            "--environment-setup",
            "export OMP_NUM_THREADS=4",
            "--dry-run",
            "--",
            "--epochs",
            "3",
        ],
        tmp_path,
    )
    work = tmp_path.resolve()
    expected = driver_script(
        DriverJob(
            driver=str(work / "drv.py"),
            args=("--epochs", "3"),
            working_directory=str(work),
            nodes=2,
            cores_per_node=4,
            walltime_minutes=30,
            partition="debug",
            account="proj42",
            environment_setup=("module load python", "export OMP_NUM_THREADS=4"),
            python=sys.executable,
        )
    )
    assert out.stdout == expected
    assert list(tmp_path.iterdir()) == [tmp_path / "drv.py"]  # nothing written


@pytest.mark.slow
def test_every_slurm_command_has_help_with_an_example(tmp_path: Path) -> None:
    for command in ("submit", "status", "cancel"):
        out = cli(["slurm", command, "--help"], tmp_path)
        assert f"Example: qdreamer slurm {command}" in out.stdout
    assert "--json" in cli(["slurm", "status", "--help"], tmp_path).stdout


@pytest.mark.slow
def test_slurm_cli_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "drv.py").write_text("print('hi')\n")
    line = error_line(cli(["slurm", "submit", "missing.py", "--dry-run"], tmp_path, rc=2))
    assert "missing.py" in line and "does not exist" in line
    line = error_line(
        cli(["slurm", "submit", "drv.py", "--partition", "a b", "--dry-run"], tmp_path, rc=2)
    )
    assert "partition 'a b'" in line
    line = error_line(cli(["slurm", "submit", "drv.py", "--nodes", "0"], tmp_path, rc=2))
    assert "--nodes" in line
    line = error_line(cli(["slurm", "status", "abc"], tmp_path, rc=2))
    assert "a Slurm job id is a number, got 'abc'" in line


# ------------------------------------------------------------------ end to end on Slurm
DRIVER = textwrap.dedent(
    """\
    import json, os, sys
    import ray
    from qiskit import QuantumCircuit
    from pilot import PilotComputeService, QuantumTask

    def where(x):
        return {"job": os.environ.get("SLURM_JOB_ID"), "square": x * x}

    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    with PilotComputeService(working_directory=sys.argv[1]) as pcs:
        pcs.create_pilot({"name": "cpu", "cores_per_node": 0.5})
        pcs.create_pilot(
            {
                "name": "aer",
                "resource_type": "quantum",
                "quantum": {"executor": "qiskit_local"},
                "cores_per_node": 0.5,
            }
        )
        task = ray.get(pcs.submit_task(where, 7, pilot="cpu", resources={"num_cpus": 0.5}))
        result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell, shots=200, pilot="aer")))
        print(json.dumps({
            "gcs": ray.get_runtime_context().gcs_address,
            "ray_address": os.environ.get("RAY_ADDRESS"),
            "driver_job": os.environ.get("SLURM_JOB_ID"),
            "task": task,
            "counts": result.counts,
            "pilot": result.pilot,
        }))
    """
)

SLEEPER = textwrap.dedent(
    """\
    import sys, time
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=sys.argv[1]):
        print("ready", flush=True)
        time.sleep(600)
    """
)


def submit(tmp_path: Path, driver: str, *args: str) -> dict[str, Any]:
    path = tmp_path / "driver.py"
    path.write_text(driver)
    out = cli(
        ["slurm", "submit", str(path), "--walltime", "10", "--json", "--", *args],
        tmp_path,
    )
    return json.loads(out.stdout)


def status(job_id: str, tmp_path: Path) -> dict[str, Any]:
    return json.loads(cli(["slurm", "status", job_id, "--json"], tmp_path).stdout)


def wait_until(job_id: str, tmp_path: Path, done: Any, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        now = status(job_id, tmp_path)
        if done(now):
            return now
        assert time.monotonic() < deadline, f"job {job_id} still {now['slurm_state']}"
        time.sleep(2)


def in_queue(job_id: str) -> bool:
    out = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True, check=False
    )
    return job_id in out.stdout.split()


def ray_processes_of(job_id: str) -> dict[int, str]:
    """Processes using this job's Ray temp dirs (``qd-<job>-<node>``): pid -> command line."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"/qd-{job_id}-" in cmdline and proc.name.isdigit():
            found[int(proc.name)] = cmdline
    return found


def remove_temp_dirs(job_id: str, nodes: int = 1) -> None:
    """The job's node-local Ray temp dirs (kept by the job for its logs)."""
    for node in range(nodes):
        shutil.rmtree(f"/tmp/qd-{job_id}-{node}", ignore_errors=True)


@pytest.fixture
def scancel_at_end() -> Any:
    jobs: list[str] = []
    yield jobs
    for job_id in jobs:
        subprocess.run(["scancel", job_id], capture_output=True, check=False)


@pytest.mark.slurm
def test_driver_job_runs_on_its_own_ray_cluster(tmp_path: Path, scancel_at_end: list[str]) -> None:
    import ray

    started = time.monotonic()
    submitted = submit(tmp_path, DRIVER, str(tmp_path / "service"))
    job_id = submitted["job_id"]
    scancel_at_end.append(job_id)
    final = wait_until(job_id, tmp_path, lambda s: s["ended"])
    elapsed = time.monotonic() - started
    err = Path(submitted["stderr"]).read_text() if Path(submitted["stderr"]).exists() else ""
    assert (final["state"], final["exit_code"]) == ("DONE", 0), err[-3000:]
    assert final["stdout"] == submitted["stdout"]

    printed = json.loads(Path(final["stdout"]).read_text().strip().splitlines()[-1])
    # The driver joined the Ray head started inside its job (the job's port block) ...
    base = subprocess.run(
        ["bash", "-c", f"SLURM_JOB_ID={int(job_id)}; echo {PORT_BASE_EXPR}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    port = int(base) + 6
    assert printed["gcs"] == printed["ray_address"]
    assert printed["gcs"].endswith(f":{port}")
    if ray.is_initialized():
        assert printed["gcs"] != ray.get_runtime_context().gcs_address
    # ... and its classical and quantum tasks ran inside the allocation.
    assert printed["driver_job"] == job_id
    assert printed["task"] == {"job": job_id, "square": 49}
    assert printed["pilot"] == "aer"
    assert set(printed["counts"]) <= {"00", "11"} and sum(printed["counts"].values()) == 200
    # The job's Ray stopped with the driver (its temp dir is linked from the job dir).
    assert Path(submitted["job_directory"], "node-0", "ray").is_symlink()
    assert "Ray stopped on this job's nodes; exit code 0" in err
    assert ray_processes_of(job_id) == {}
    remove_temp_dirs(job_id)
    print(f"driver job {job_id}: submitted to DONE in {elapsed:.1f} s")


@pytest.mark.slurm
def test_the_driver_exit_code_is_the_jobs(tmp_path: Path, scancel_at_end: list[str]) -> None:
    submitted = submit(tmp_path, "import sys\nprint('bye')\nsys.exit(3)\n")
    scancel_at_end.append(submitted["job_id"])
    final = wait_until(submitted["job_id"], tmp_path, lambda s: s["ended"])
    assert (final["state"], final["slurm_state"], final["exit_code"]) == ("FAILED", "FAILED", 3)
    assert Path(final["stdout"]).read_text() == "bye\n"
    remove_temp_dirs(submitted["job_id"])


@pytest.mark.slurm
def test_cancel_ends_a_running_driver_job(tmp_path: Path, scancel_at_end: list[str]) -> None:
    submitted = submit(tmp_path, SLEEPER, str(tmp_path / "service"))
    job_id = submitted["job_id"]
    scancel_at_end.append(job_id)
    out_file = Path(submitted["stdout"])
    deadline = time.monotonic() + 300
    while not (out_file.exists() and "ready" in out_file.read_text()):
        assert time.monotonic() < deadline, status(job_id, tmp_path)
        assert not status(job_id, tmp_path)["ended"], Path(submitted["stderr"]).read_text()
        time.sleep(1)

    started = time.monotonic()
    out = cli(["slurm", "cancel", job_id], tmp_path)
    print(f"cancel took {time.monotonic() - started:.1f} s")
    assert out.stdout.strip() == f"cancelled Slurm job {job_id} (CANCELLED)"
    assert not in_queue(job_id)
    assert status(job_id, tmp_path)["state"] == "CANCELED"
    assert ray_processes_of(job_id) == {}
    remove_temp_dirs(job_id)
    again = cli(["slurm", "cancel", job_id], tmp_path)
    assert "had already ended (CANCELLED)" in again.stdout


@pytest.mark.slurm
def test_status_of_an_unknown_job_is_a_one_line_error(tmp_path: Path) -> None:
    line = error_line(cli(["slurm", "status", "999999999"], tmp_path, rc=1))
    assert line.startswith("error: SlurmError: Slurm does not know job 999999999")


# ------------------------------------------------------------------ several nodes, simulated
#: Stand-ins for srun and scontrol: every "node" of the fake allocation is this
#: machine, so the script's multi-node logic (workers on the other nodes, the
#: wait for all of them, the clean-up of each) runs with real Ray processes.
FAKE_SRUN = """#!/bin/bash
nodelist="" exclude=""
while [ $# -gt 0 ]; do
    case "$1" in
        --nodelist=*) nodelist="${1#*=}" ;;
        --exclude=*) exclude="${1#*=}" ;;
        -*) ;;
        *) break ;;
    esac
    shift
done
step=$(cat "$FAKE_SLURM_STEPS" 2>/dev/null || echo 0)
echo $((step + 1)) >"$FAKE_SLURM_STEPS"
pids=()
for node in $(tr ',' ' ' <<<"$SLURM_JOB_NODELIST"); do
    if [ -n "$nodelist" ] && [ "$node" != "$nodelist" ]; then continue; fi
    if [ "$node" = "$exclude" ]; then continue; fi
    SLURMD_NODENAME="$node" SLURM_STEP_ID="$step" "$@" &
    pids+=($!)
done
trap 'kill -KILL "${pids[@]}" 2>/dev/null' TERM  # (srun kills its step)
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
exit $rc
"""
FAKE_SCONTROL = """#!/bin/bash
[ "$1 $2" = "show hostnames" ] && tr ',' '\\n' <<<"$3"
"""

SPREAD_DRIVER = textwrap.dedent(
    """\
    import json, sys
    import ray

    ray.init(log_to_driver=False)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    print(json.dumps({"nodes": len(nodes), "cpus": ray.cluster_resources().get("CPU")}))
    sys.exit(4)
    """
)


@pytest.mark.slow
def test_a_two_node_job_starts_a_worker_and_stops_every_node(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "spread.py").write_text(SPREAD_DRIVER)
    job_id = str(7_000_000 + os.getpid() % 1_000_000)  # no real job has such an id
    script = driver_script(
        DriverJob(
            driver=str(tmp_path / "spread.py"),
            working_directory=str(tmp_path),
            nodes=2,
            python=sys.executable,
            port_base=61000,  # above Linux's ephemeral ports (32768-60999)
            start_timeout=240,
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM", "RAY_ADDRESS"))}
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        PYTHONPATH=str(ROOT),
        SLURM_JOB_ID=job_id,
        SLURM_JOB_NODELIST="n0,n1",
        SLURMD_NODENAME="n0",
        FAKE_SLURM_STEPS=str(tmp_path / "steps"),
    )
    env.pop("TMPDIR", None)
    started = time.monotonic()
    try:
        out = subprocess.run(
            ["bash", "-c", script],
            check=False,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
            start_new_session=True,
        )
    finally:
        left = ray_processes_of(job_id)  # only if the script failed to clean up
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        remove_temp_dirs(job_id, nodes=2)
    print(f"two-node job: {time.monotonic() - started:.1f} s")
    job_dir = tmp_path / f"job-{job_id}"
    assert out.returncode == 4, out.stderr[-3000:]  # the driver's exit code
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"nodes": 2, "cpus": 2.0}
    assert "2 of 2 Ray nodes registered" in out.stderr
    assert "Ray stopped on this job's nodes; exit code 4" in out.stderr
    for node in ("node-0", "node-1"):
        link = job_dir / node / "ray"
        assert os.readlink(link) == f"/tmp/qd-{job_id}-{node[-1]}"
    # Each node's `ray start` stopped on SIGTERM (drained), none was killed.
    for log in ("ray-head.log", "ray-workers.log"):
        assert "received SIGTERM" in (job_dir / log).read_text(), log
    assert left == {}

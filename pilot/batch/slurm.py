"""``qdreamer slurm submit``: run a driver program inside a Slurm job, on a Ray cluster of its own.

The other Slurm mode (:mod:`pilot.launchers.slurm`) keeps the driver outside
and lets each pilot job join the driver's Ray cluster.  Here the whole
program moves into one allocation, the usual shape of an HPC batch run::

    first node (the batch host)                other nodes
    ─────────────────────────────              ─────────────────────────────
    srun: ray start --head --block             srun --nodes=N-1 --exclude=<first>:
          --node-ip-address=<its address>          ray start --address=<head> --block
    wait until the head's GCS answers ───────> (workers start only then)
    wait until all N Ray nodes registered
    RAY_ADDRESS=<head> python driver.py ...    (PilotComputeService() joins it)
    driver exits ─> SIGTERM to this job's srun steps (each `ray start --block`
                    drains and stops what it started) ─> job ends with the
                    driver's exit code

Only this job's Ray processes are stopped: never ``ray stop``, which kills
every Ray process on a node, other jobs' included.  When the job is cancelled
or reaches its walltime, the same clean-up runs (Slurm sends SIGTERM, then
SIGKILL after ``KillWait``).

Conventions shared with :mod:`pilot.launchers.slurm` (ray #59551: jobs
sharing a node must not collide): each node's Ray temp dir is short and
node-local (``${TMPDIR:-/tmp}/qd-<job id>-<node index>``, since AF_UNIX socket
paths stop at 107 bytes; ``/tmp`` is used when ``TMPDIR`` is too long), linked
from ``<working directory>/job-<id>/node-<index>/ray``; and the job's Ray
processes use a per-job block of 1,000 ports (100 per node; the head's GCS is
``base + 6``).  Token authentication stays on: the script sets
``RAY_AUTH_MODE=token`` and, when the user has no token yet, generates
``~/.ray/auth_token`` (the home directory must be shared by the nodes, as it
is on HPC systems).  ``QDREAMER_HEAD_IP`` set in the submitting environment
overrides the head's address (default: the first of ``hostname -I`` on the
first node), e.g. to pick the high-speed network.

The batch script is a pure function (:func:`driver_script` of a
:class:`DriverJob`, rendered from :data:`DRIVER_TEMPLATE`); every Slurm call
goes through :func:`pilot.launchers.slurm.run`.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Any

from pilot.launchers.slurm import (
    JOB_ID,
    PORT_BASE_EXPR,
    SlurmError,
    listed,
    pilot_state,
    run,
    sbatch_options,
    sbatch_value,
    state_word,
    walltime,
)
from pilot.redaction import write_private
from pilot.states import TERMINAL_STATES, PilotState

logger = logging.getLogger(__name__)

#: Seconds any one Slurm command may take.
COMMAND_TIMEOUT = 30.0


#: Offset of the head's GCS port in the job's port block.
GCS_PORT_OFFSET = 6

#: Characters that cannot appear in a value written on an ``#SBATCH`` line
#: (those lines are not shell: nothing can be quoted there).

_JOB_ID_ARG = re.compile(r"^\d+$")


@dataclass(frozen=True)
class DriverJob:
    """Everything the driver's batch script needs."""

    #: The driver program (absolute path) and its arguments.
    driver: str
    working_directory: str
    args: tuple[str, ...] = ()
    nodes: int = 1
    cores_per_node: int = 1
    gpus_per_node: int = 0
    walltime_minutes: int = 60
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    reservation: str | None = None
    #: Extra ``sbatch`` options, e.g. ``"--exclusive"`` or ``"#SBATCH --mem=0"``.
    scheduler_script_commands: tuple[str, ...] = ()
    #: Shell lines run before Ray starts (``module load ...``, ``source venv/bin/activate``).
    environment_setup: tuple[str, ...] = ()
    #: Python that runs Ray and the driver (the submitting CLI's by default).
    python: str = "python3"
    job_name: str | None = None
    #: First port of the job's 1,000-port block; derived from the job id when ``None``.
    port_base: int | None = None
    #: Seconds the Ray cluster may take to come up before the job gives up.
    start_timeout: int = 300

    @property
    def name(self) -> str:
        if self.job_name:
            return self.job_name
        stem = re.sub(r"[^\w.-]", "_", Path(self.driver).stem) or "driver"
        return f"qdreamer-{stem}"


DRIVER_TEMPLATE = Template(
    """#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --nodes=$nodes
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=$cores
#SBATCH --time=$walltime
#SBATCH --chdir=$workdir
#SBATCH --output=$workdir/slurm-%j.out
#SBATCH --error=$workdir/slurm-%j.err
$options$extra
# Qdreamer driver job: a Ray head on the first node, a Ray worker on each other
# node, then the driver with RAY_ADDRESS set to the head.  When the driver exits,
# this job's Ray processes (only them) stop and the job ends with its exit code.
set -euo pipefail
$setup
unset RAY_ADDRESS
export RAY_AUTH_MODE=token
export QDREAMER_PYTHON=$python_q
export QDREAMER_CORES=$cores QDREAMER_GPUS=$gpus
export QDREAMER_JOB_DIR=$workdir/job-$${SLURM_JOB_ID}
# This job's Ray processes use ports QDREAMER_PORT_BASE .. +999 only (100 per node).
export QDREAMER_PORT_BASE=$port_base
qd_log() { echo "qdreamer [$$(date +%T)]: $$*" >&2; }
mkdir -p "$${QDREAMER_JOB_DIR}"

mapfile -t qd_nodes < <(scontrol show hostnames "$${SLURM_JOB_NODELIST}")
if [ "$${#qd_nodes[@]}" -ne $nodes ]; then
    qd_log "expected $nodes node(s), got: $${qd_nodes[*]:-none}"
    exit 1
fi
export QDREAMER_NODELIST="$${qd_nodes[*]}"
head_node="$${qd_nodes[0]}"
# Slurm runs the batch script on the first node: the head and the driver share it.
if [ -n "$${SLURMD_NODENAME:-}" ] && [ "$${SLURMD_NODENAME}" != "$${head_node}" ]; then
    qd_log "the batch script runs on $${SLURMD_NODENAME}, not on the first node $${head_node}"
    exit 1
fi
head_ip="$${QDREAMER_HEAD_IP:-$$(hostname -I 2>/dev/null | awk '{print $$1}' || true)}"
if [ -z "$${head_ip}" ]; then
    head_ip="$$(getent ahostsv4 "$${head_node}" | awk 'NR == 1 {print $$1}' || true)"
fi
[ -n "$${head_ip}" ] || { qd_log "cannot find the address of $${head_node}"; exit 1; }
export QDREAMER_HEAD_IP="$${head_ip}"
export QDREAMER_RAY_ADDRESS="$${head_ip}:$$(( QDREAMER_PORT_BASE + $gcs_offset ))"

# Token authentication stays on: the nodes (one home directory) share ~/.ray/auth_token.
if [ -z "$${RAY_AUTH_TOKEN:-}$${RAY_AUTH_TOKEN_PATH:-}" ] && [ ! -s ~/.ray/auth_token ]; then
    "$${QDREAMER_PYTHON}" -m ray.scripts.scripts get-auth-token --generate >/dev/null
    chmod 600 ~/.ray/auth_token  # (Ray writes it readable by all)
fi

cat > "$${QDREAMER_JOB_DIR}/node.sh" <<'QDREAMER_NODE'
# One Ray node of the job: `node.sh head` on the first node, `node.sh worker` on
# the others; `node.sh stop` stops the node's `ray start --block` (and only it).
set -euo pipefail
idx=0 i=0
for n in $${QDREAMER_NODELIST}; do
    if [ "$${n}" = "$${SLURMD_NODENAME}" ]; then idx=$${i}; fi
    i=$$((i + 1))
done
node_dir="$${QDREAMER_JOB_DIR}/node-$${idx}"
if [ "$$1" = stop ]; then
    pid=$$(cat "$${node_dir}/pid" 2>/dev/null || true)
    # (Checked against its command line: the pid may have been reused.)
    if [ -n "$${pid}" ] && grep -qs "qd-$${SLURM_JOB_ID}-$${idx}" "/proc/$${pid}/cmdline"; then
        kill -TERM "$${pid}"
    fi
    exit 0
fi
# Ray's sockets live in its temp dir and AF_UNIX paths stop at 107 bytes, so
# the temp dir is a short node-local one, linked from the job directory.
ray_tmp="$${TMPDIR:-/tmp}/qd-$${SLURM_JOB_ID}-$${idx}"
if [ "$${#ray_tmp}" -gt 40 ]; then ray_tmp="/tmp/qd-$${SLURM_JOB_ID}-$${idx}"; fi
mkdir -p "$${ray_tmp}" "$${node_dir}"
ln -sfn "$${ray_tmp}" "$${node_dir}/ray"
export RAY_TMPDIR="$${ray_tmp}"
p=$$(( QDREAMER_PORT_BASE + (100 * idx) % 1000 ))
ports=(--node-manager-port=$$((p)) --object-manager-port=$$((p + 1))
    --runtime-env-agent-port=$$((p + 2)) --dashboard-agent-grpc-port=$$((p + 3))
    --dashboard-agent-listen-port=$$((p + 4)) --metrics-export-port=$$((p + 5))
    --min-worker-port=$$((p + 10)) --max-worker-port=$$((p + 99)))
if [ "$$1" = head ]; then
    role=(--head --node-ip-address="$${QDREAMER_HEAD_IP}" --port=$$((p + $gcs_offset))
        --ray-client-server-port=$$((p + 7)) --dashboard-port=$$((p + 8))
        --include-dashboard=false)
else
    role=(--address="$${QDREAMER_RAY_ADDRESS}")
fi
echo $$$$ >"$${node_dir}/pid"  # the pid of `ray start`, after the exec
exec "$${QDREAMER_PYTHON}" -m ray.scripts.scripts start --block "$${role[@]}" \
    --num-cpus="$${QDREAMER_CORES}" --num-gpus="$${QDREAMER_GPUS}" \
    --temp-dir="$${ray_tmp}" "$${ports[@]}" --disable-usage-stats
QDREAMER_NODE

# On any exit (driver done, scancel, walltime): stop this job's Ray nodes only,
# never with `ray stop`, which stops every Ray on a node, other jobs' too.  Each
# node's `ray start --block` gets SIGTERM (workers first, while the head's GCS
# still answers their drain request) and stops the processes it started; a step
# still running after that gets SIGTERM through srun, which kills the step.
qd_wait_pids() {  # qd_wait_pids SECONDS PID...: until the PIDs have exited
    local n=$$1 pid alive
    shift
    for _ in $$(seq "$${n}"); do
        alive=""
        for pid in "$$@"; do
            if kill -0 "$${pid}" 2>/dev/null; then alive=1; fi
        done
        [ -n "$${alive}" ] || return 0
        sleep 1
    done
    return 1
}
qd_stop_step() {  # qd_stop_step SRUN_PID: wait for the step to end, else kill it
    if ! qd_wait_pids 40 "$$1"; then
        kill -TERM "$$1" 2>/dev/null
        qd_wait_pids 20 "$$1"
    fi
}
qd_cleanup() {
    local rc=$$?
    set +e
    trap - EXIT TERM INT HUP
    if [ -n "$${driver_pid:-}" ]; then kill -TERM "$${driver_pid}" 2>/dev/null; fi
    if [ -n "$${workers_srun:-}" ]; then
        timeout 60 srun --overlap --nodes="$${qd_workers}" --ntasks="$${qd_workers}" \
            --ntasks-per-node=1 --exclude="$${head_node}" \
            bash "$${QDREAMER_JOB_DIR}/node.sh" stop >/dev/null 2>&1
        qd_stop_step "$${workers_srun}"
    fi
    if [ -n "$${head_srun:-}" ]; then
        bash "$${QDREAMER_JOB_DIR}/node.sh" stop  # this is the head's node
        qd_stop_step "$${head_srun}"
    fi
    qd_wait_pids 10 $${driver_pid:-}
    qd_log "Ray stopped on this job's nodes; exit code $${rc}"
    exit "$${rc}"
}
trap qd_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

qd_log "starting the Ray head on $${head_node} at $${QDREAMER_RAY_ADDRESS}"
srun --nodes=1 --ntasks=1 --nodelist="$${head_node}" --cpus-per-task=$cores \\
    --kill-on-bad-exit=1 bash "$${QDREAMER_JOB_DIR}/node.sh" head \\
    >"$${QDREAMER_JOB_DIR}/ray-head.log" 2>&1 &
head_srun=$$!
deadline=$$(( SECONDS + $start_timeout ))
until (: <>"/dev/tcp/$${head_ip}/$${QDREAMER_RAY_ADDRESS##*:}") 2>/dev/null; do
    if ! kill -0 "$${head_srun}" 2>/dev/null; then
        qd_log "the Ray head stopped before its GCS answered; $${QDREAMER_JOB_DIR}/ray-head.log:"
        tail -n 20 "$${QDREAMER_JOB_DIR}/ray-head.log" >&2
        exit 1
    fi
    if [ "$${SECONDS}" -ge "$${deadline}" ]; then
        qd_log "the Ray head's GCS did not answer within $start_timeout s"
        exit 1
    fi
    sleep 1
done
if ! out=$$(timeout 60 "$${QDREAMER_PYTHON}" -m ray.scripts.scripts health-check \\
        --address="$${QDREAMER_RAY_ADDRESS}" 2>&1); then
    qd_log "the Ray head at $${QDREAMER_RAY_ADDRESS} fails its health check:"
    printf '%s\\n' "$${out}" | tail -n 5 >&2
    exit 1
fi
$workers
export RAY_ADDRESS="$${QDREAMER_RAY_ADDRESS}"
qd_log "Ray cluster up ($nodes node(s)); running the driver"
PYTHONUNBUFFERED=1 "$${QDREAMER_PYTHON}" $driver_command &
driver_pid=$$!
while kill -0 "$${driver_pid}" 2>/dev/null; do
    if ! kill -0 "$${head_srun}" 2>/dev/null; then
        qd_log "the Ray head stopped while the driver ran; see $${QDREAMER_JOB_DIR}/ray-head.log"
        kill -TERM "$${driver_pid}" 2>/dev/null || true
        break
    fi
    sleep 1
done
rc=0
wait "$${driver_pid}" || rc=$$?
driver_pid=""
exit "$${rc}"
"""
)

#: The part of :data:`DRIVER_TEMPLATE` that starts the workers (jobs of 2+ nodes).
WORKERS_TEMPLATE = Template(
    """qd_log "starting Ray workers on the other $workers node(s)"
srun --nodes=$workers --ntasks=$workers --ntasks-per-node=1 --exclude="$${head_node}" \\
    --cpus-per-task=$cores --kill-on-bad-exit=1 bash "$${QDREAMER_JOB_DIR}/node.sh" worker \\
    >"$${QDREAMER_JOB_DIR}/ray-workers.log" 2>&1 &
workers_srun=$$! qd_workers=$workers
# Wait until every node has registered (or the workers' step has ended).
if ! "$${QDREAMER_PYTHON}" - "$${QDREAMER_RAY_ADDRESS}" $nodes "$${workers_srun}" \\
        $$(( deadline - SECONDS )) <<'QDREAMER_WAIT'
import os, sys, time
import ray
address, want, step, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ray.init(address=address, log_to_driver=False, logging_level="ERROR")
deadline, alive = time.monotonic() + limit, 0
while True:
    alive = sum(1 for n in ray.nodes() if n["Alive"])
    if alive >= want or time.monotonic() > deadline:
        break
    try:
        os.kill(step, 0)
    except OSError:
        break
    time.sleep(1)
ray.shutdown()
print(f"{alive} of {want} Ray nodes registered", file=sys.stderr)
sys.exit(0 if alive >= want else 1)
QDREAMER_WAIT
then
    qd_log "not every node joined the Ray cluster; $${QDREAMER_JOB_DIR}/ray-workers.log:"
    tail -n 20 "$${QDREAMER_JOB_DIR}/ray-workers.log" >&2
    exit 1
fi
"""
)


def driver_script(job: DriverJob) -> str:
    """The batch script for ``job`` (a pure function: tested by string checks)."""
    if job.nodes < 1 or job.cores_per_node < 1 or job.gpus_per_node < 0:
        raise ValueError("a driver job needs at least one node and one core per node")
    if job.walltime_minutes < 1:
        raise ValueError(f"walltime must be at least 1 minute, got {job.walltime_minutes}")
    if job.start_timeout < 1:
        raise ValueError(f"start timeout must be at least 1 s, got {job.start_timeout}")
    workdir = sbatch_value("working directory", job.working_directory)
    if not workdir.startswith("/"):
        raise ValueError(f"working directory {workdir!r} must be an absolute path")
    options = sbatch_options(
        job.partition, job.account, job.qos, job.reservation, job.gpus_per_node
    )
    extra = []
    for line in job.scheduler_script_commands:
        if "\n" in line or not line.startswith(("-", "#SBATCH ")):
            raise ValueError(
                f"sbatch option {line!r} must be one line starting with '-' or '#SBATCH '"
            )
        extra.append(line if line.startswith("#SBATCH ") else f"#SBATCH {line}")
    workers = ""
    if job.nodes > 1:
        workers = WORKERS_TEMPLATE.substitute(
            workers=job.nodes - 1, nodes=job.nodes, cores=job.cores_per_node
        )
    return DRIVER_TEMPLATE.substitute(
        job_name=sbatch_value("job name", job.name),
        nodes=job.nodes,
        cores=job.cores_per_node,
        gpus=job.gpus_per_node,
        walltime=walltime(job.walltime_minutes),
        workdir=workdir,
        options="\n".join(options) + ("\n" if options else ""),
        extra="\n".join(extra) + ("\n" if extra else ""),
        # (Lines run with `set +u`: activation scripts often read unset variables.)
        setup="set +u\n" + "\n".join(job.environment_setup) + "\nset -u"
        if job.environment_setup
        else "",
        python_q=shlex.quote(job.python),
        port_base=PORT_BASE_EXPR if job.port_base is None else str(job.port_base),
        gcs_offset=GCS_PORT_OFFSET,
        start_timeout=job.start_timeout,
        workers=workers,
        driver_command=shlex.join([job.driver, *job.args]),
    )


# ------------------------------------------------------------------ submit, status, cancel
@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    script: str
    stdout: str
    stderr: str
    job_directory: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def submit(job: DriverJob) -> SubmittedJob:
    """Write ``job``'s batch script into its working directory and ``sbatch`` it."""
    text = driver_script(job)
    workdir = Path(job.working_directory)
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / f"{job.name}.sbatch"
    write_private(script, text)  # environment_setup may hold anything
    command = ["sbatch", "--parsable", str(script)]
    out = run(command, timeout=COMMAND_TIMEOUT)
    m = JOB_ID.match(out.stdout.strip())
    if m is None:
        raise SlurmError(
            f"sbatch printed no job id: {out.stdout.strip()!r}",
            command=command,
            returncode=out.returncode,
            stdout=out.stdout,
            stderr=out.stderr,
        )
    job_id = m.group("job_id")
    logger.info("driver %s: Slurm job %s submitted (%s)", job.driver, job_id, script)
    return SubmittedJob(
        job_id=job_id,
        script=str(script),
        stdout=f"{workdir}/slurm-{job_id}.out",
        stderr=f"{workdir}/slurm-{job_id}.err",
        job_directory=f"{workdir}/job-{job_id}",
    )


@dataclass(frozen=True)
class JobStatus:
    """What Slurm says about a job (``scontrol show job``; ``sacct`` once it is forgotten)."""

    job_id: str
    name: str
    #: Slurm's word (``RUNNING``, ``COMPLETED``, ``CANCELLED``...).
    slurm_state: str
    state: PilotState
    reason: str = ""
    #: The batch script's exit code, and the signal that ended it (``None`` until known).
    exit_code: int | None = None
    signal: int | None = None
    nodes: str = ""
    run_time: str = ""
    time_limit: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["state"] = str(self.state)
        out["ended"] = self.ended
        return out


def driver_state(slurm_state: str) -> PilotState:
    """The state of a driver job: :func:`~pilot.launchers.slurm.pilot_state`, except that

    a ``RUNNING`` job is RUNNING (its driver runs; there is no pilot to wait for)
    and a ``COMPLETING`` one is still RUNNING: it may yet end as FAILED or
    CANCELLED, and Slurm says which only once it has completed.
    """
    if state_word(slurm_state) in {"RUNNING", "COMPLETING"}:
        return PilotState.RUNNING
    return pilot_state(slurm_state)


def _field(record: str, key: str) -> str:
    m = re.search(rf"(?:^|\s){re.escape(key)}=(\S*)", record)
    return m.group(1) if m else ""


def _exit_code(text: str) -> tuple[int | None, int | None]:
    m = re.fullmatch(r"(\d+):(\d+)", text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def check_job_id(job_id: str) -> str:
    if not _JOB_ID_ARG.match(job_id.strip()):
        raise ValueError(f"a Slurm job id is a number, got {job_id!r}")
    return job_id.strip()


def job_status(job_id: str) -> JobStatus:
    """The job's state from ``scontrol`` (which remembers ended jobs for ``MinJobAge``,
    300 s by default) or, once it has forgotten them, ``sacct`` (when accounting is on).

    Raises :class:`SlurmError` when neither knows the job.
    """
    job_id = check_job_id(job_id)
    out = run(["scontrol", "-o", "show", "job", job_id], timeout=COMMAND_TIMEOUT, check=False)
    record = next((line for line in out.stdout.splitlines() if _field(line, "JobId") == job_id), "")
    if out.returncode == 0 and record:
        slurm_state = _field(record, "JobState")
        state = driver_state(slurm_state)
        # (Slurm shows ExitCode=0:0 until the job has ended.)
        code, sig = (
            _exit_code(_field(record, "ExitCode")) if state in TERMINAL_STATES else (None, None)
        )
        reason = _field(record, "Reason")
        return JobStatus(
            job_id=job_id,
            name=_field(record, "JobName"),
            slurm_state=slurm_state,
            state=state,
            reason="" if reason == "None" else reason,
            exit_code=code,
            signal=sig,
            nodes=_field(record, "NodeList"),
            run_time=_field(record, "RunTime"),
            time_limit=_field(record, "TimeLimit"),
            stdout=_field(record, "StdOut"),
            stderr=_field(record, "StdErr"),
        )
    scontrol_says = out.stderr.strip() or out.stdout.strip() or f"exit code {out.returncode}"
    acct = run(
        ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "JobName,State,ExitCode,NodeList"],
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    line = acct.stdout.strip().splitlines()[0] if acct.stdout.strip() else ""
    if acct.returncode == 0 and line.count("|") == 3:
        name, slurm_state, exit_code, nodes = line.split("|")
        state = driver_state(slurm_state)
        code, sig = _exit_code(exit_code) if state in TERMINAL_STATES else (None, None)
        return JobStatus(
            job_id=job_id,
            name=name,
            slurm_state=slurm_state,
            state=state,
            exit_code=code,
            signal=sig,
            nodes=nodes,
        )
    raise SlurmError(
        f"Slurm does not know job {job_id} (scontrol: {scontrol_says}); it may have ended "
        "more than MinJobAge ago on a cluster without job accounting",
        command=["scontrol", "-o", "show", "job", job_id],
        returncode=out.returncode,
        stdout=out.stdout,
        stderr=out.stderr,
    )


def cancel(job_id: str, *, wait: float = 60.0, poll: float = 0.5) -> tuple[JobStatus, bool]:
    """``scancel`` the job and wait (up to ``wait`` seconds) until ``squeue`` no longer lists it.

    Returns the job's status and whether it was cancelled: ``(status, False)``
    when it had already ended (nothing is done then).  Raises
    :class:`SlurmError` when ``scancel`` fails or the job is still listed after
    ``wait`` seconds.
    """
    before = job_status(job_id)
    if before.ended:
        return before, False
    run(["scancel", before.job_id], timeout=COMMAND_TIMEOUT)
    deadline = time.monotonic() + wait
    while listed(before.job_id, COMMAND_TIMEOUT):
        if time.monotonic() > deadline:
            raise SlurmError(
                f"job {before.job_id} is still in the queue {wait:g} s after scancel "
                f"({job_status(before.job_id).slurm_state}); check `squeue -j {before.job_id}`",
                command=["squeue", "-h", "-j", before.job_id],
            )
        time.sleep(poll)
    try:
        return job_status(before.job_id), True
    except SlurmError:  # already forgotten (MinJobAge 0, no accounting)
        gone = JobStatus(
            job_id=before.job_id,
            name=before.name,
            slurm_state="CANCELLED",
            state=PilotState.CANCELED,
        )
        return gone, True

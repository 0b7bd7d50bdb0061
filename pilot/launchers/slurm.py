"""``resource: "slurm://host"``: a pilot is a Slurm job whose nodes join the driver's Ray.

Design: each node of the job runs one Ray *worker* node (``ray start
--address=<driver's GCS> --block``, started by ``srun``, one task per node)
that advertises a custom resource unique to the pilot (``pilot:<name>``).
Tasks and actors of the pilot ask for a sliver of that resource, so they run
only there.  We chose joining the driver's cluster over a head started inside
the allocation because one driver can only be connected to one Ray cluster:
with a head per job, two Slurm pilots (or a Slurm and a local pilot) could
not serve one program.  Cancelling the pilot ``scancel``s its job: only its
worker nodes leave; the driver's cluster and other pilots keep running.

Collisions between pilots sharing a node (ray #59551) are avoided with a
per-job Ray temp/log directory for each node (node-local, because Ray's
socket paths must stay under 107 bytes, and linked from
``<working directory>/job-<id>/node-<n>/ray``) and an explicit, per-job port
range for the node's Ray processes.

This module holds the pure parts: the batch script (:func:`job_script`,
rendered from :data:`BATCH_TEMPLATE`), the one seam every ``sbatch`` /
``squeue`` / ``sacct`` / ``scancel`` / ``sinfo`` call goes through (:func:`run`),
the check of a walltime against its partition's time limit before ``sbatch``
(:func:`check_walltime`), and the Slurm-to-pilot state table (:data:`SLURM_STATES`).
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import ray

from pilot.errors import ConfigError, PilotError, PilotStartError
from pilot.launchers.base import Allocation, Launcher
from pilot.redaction import write_private
from pilot.states import TERMINAL_STATES, PilotState

if TYPE_CHECKING:
    from pilot.config import PilotDescription

logger = logging.getLogger(__name__)

#: ``sbatch --parsable`` prints ``<job id>[;<cluster>]``.
JOB_ID = re.compile(r"^(?P<job_id>\d+)(;(?P<cluster>\S+))?\s*$")

#: Slurm job states (``squeue -o %T`` / ``sacct -o State``) -> pilot states.
#: ``RUNNING`` means the allocation is granted; the pilot is RUNNING only once
#: its Ray nodes have registered (the launcher checks).  Reaching the walltime
#: (``TIMEOUT``) is an expected end, as is ``COMPLETED``.
SLURM_STATES: dict[str, PilotState] = {
    "PENDING": PilotState.PENDING,
    "REQUEUED": PilotState.PENDING,
    "REQUEUE_HOLD": PilotState.PENDING,
    "REQUEUE_FED": PilotState.PENDING,
    "RESV_DEL_HOLD": PilotState.PENDING,
    "SUSPENDED": PilotState.PENDING,
    "CONFIGURING": PilotState.STARTING,
    "RESIZING": PilotState.STARTING,
    "RUNNING": PilotState.STARTING,
    "COMPLETING": PilotState.DONE,
    "COMPLETED": PilotState.DONE,
    "TIMEOUT": PilotState.DONE,
    "CANCELLED": PilotState.CANCELED,
    "FAILED": PilotState.FAILED,
    "NODE_FAIL": PilotState.FAILED,
    "OUT_OF_MEMORY": PilotState.FAILED,
    "BOOT_FAIL": PilotState.FAILED,
    "DEADLINE": PilotState.FAILED,
    "PREEMPTED": PilotState.FAILED,
    "REVOKED": PilotState.FAILED,
    "SPECIAL_EXIT": PilotState.FAILED,
    "STOPPED": PilotState.FAILED,
}


def state_word(slurm_state: str) -> str:
    """A Slurm state as its one word: ``"CANCELLED by 0"`` and ``"CANCELLED+"`` read as
    ``CANCELLED`` (``""`` for no state)."""
    return slurm_state.strip().split()[0].rstrip("+").upper() if slurm_state.strip() else ""


def pilot_state(slurm_state: str) -> PilotState:
    """The pilot state for a Slurm state (see :func:`state_word`)."""
    word = state_word(slurm_state)
    try:
        return SLURM_STATES[word]
    except KeyError:
        raise SlurmError(f"unknown Slurm job state {slurm_state!r}") from None


# ------------------------------------------------------------------ the shell seam
class SlurmError(PilotError):
    """A Slurm command failed or answered something unexpected.

    ``command``, ``returncode``, ``stdout`` and ``stderr`` are kept as evidence.
    """

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str] = (),
        returncode: int | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.command = list(command)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def run(
    command: Sequence[str], *, timeout: float = 30, stdin: str | None = None, check: bool = True
) -> CommandResult:
    """Run one Slurm command (the only place that does); never hangs past ``timeout``.

    Raises :class:`SlurmError` holding the command, return code, stdout and
    stderr when it fails (``check``), times out, or is not installed.
    """
    argv = [str(a) for a in command]
    shown = shlex.join(argv)
    try:
        proc = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise SlurmError(
            f"{argv[0]!r} not found: is Slurm installed here? ({shown})", command=argv
        ) from None
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(
            f"{shown} did not answer within {timeout:g} s",
            command=argv,
            stdout=_text(exc.stdout),
            stderr=_text(exc.stderr),
        ) from None
    result = CommandResult(proc.returncode, proc.stdout, proc.stderr)
    logger.debug("%s -> %d", shown, proc.returncode)
    if check and proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip() or "no output"
        raise SlurmError(
            f"{shown} failed with exit code {proc.returncode}: {detail}",
            command=argv,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
        )
    return result


def listed(job_id: str, timeout: float) -> bool:
    """Does ``squeue`` still show the job (in any state, COMPLETING included)?"""
    out = run(["squeue", "-h", "-j", job_id, "-o", "%i"], timeout=timeout, check=False)
    return out.returncode == 0 and job_id in out.stdout.split()


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


# ------------------------------------------------------------------ the batch script
@dataclass(frozen=True)
class SlurmJob:
    """Everything the batch script needs (built from a pilot description)."""

    pilot: str
    working_directory: str
    ray_address: str
    nodes: int = 1
    cores_per_node: int = 1
    gpus_per_node: int = 0
    walltime_minutes: int = 60
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    reservation: str | None = None
    scheduler_script_commands: tuple[str, ...] = ()
    environment_setup: tuple[str, ...] = ()
    #: Python that runs ``ray`` on the nodes (the driver's by default).
    python: str = "python3"
    #: First port of the 1,000-port block the job's Ray processes use; the
    #: script derives one from the job id when ``None``.
    port_base: int | None = None
    extra_resources: dict[str, float] = field(default_factory=dict)

    @property
    def resource_name(self) -> str:
        """The custom Ray resource that pins work to this pilot."""
        return pilot_resource(self.pilot)


def pilot_resource(pilot: str) -> str:
    return f"pilot:{pilot}"


#: Shell expression for a job's first port: a block of 1,000 ports per job (pilot and
#: driver jobs alike), so jobs sharing a node do not share a block.  Every block lies
#: in 20000-31999: below Linux's ephemeral range (32768-60999 by default), where the
#: kernel hands out the source ports of outgoing connections, so a Ray port fixed
#: there can be taken by any process's connection first (seen: the GCS of a job
#: whose block started at 34000 failed with "address already in use").  Ray's own
#: default worker ports (10002-19999) lie below the blocks.
PORT_BASE_EXPR = "$(( 20000 + (SLURM_JOB_ID % 12) * 1000 ))"
#: The first port of the ephemeral range on Linux by default; no block reaches it.
EPHEMERAL_PORTS_START = 32768

#: Units of the pilot resource each node advertises (work asks for a sliver).
RESOURCE_UNITS = 10_000

BATCH_TEMPLATE = Template(
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
# Qdreamer pilot $pilot: one Ray worker node per allocated node, joining the
# driver's Ray cluster and advertising the resource $resource.
set -euo pipefail
$setup
export QDREAMER_PILOT=$pilot_q
export QDREAMER_RAY_ADDRESS=$ray_address_q
export QDREAMER_RESOURCES=$resources_q
export QDREAMER_PYTHON=$python_q
export QDREAMER_CORES=$cores QDREAMER_GPUS=$gpus
export QDREAMER_JOB_DIR=$workdir/job-$${SLURM_JOB_ID}
# This job's Ray processes use ports QDREAMER_PORT_BASE .. +999 only (100 per node).
export QDREAMER_PORT_BASE=$port_base
mkdir -p "$${QDREAMER_JOB_DIR}"
cat > "$${QDREAMER_JOB_DIR}/node.sh" <<'QDREAMER_NODE'
set -euo pipefail
# Ray's sockets live in its temp dir and AF_UNIX paths stop at 107 bytes, so
# the temp dir is a short node-local one, linked from the job directory.
ray_tmp="$${TMPDIR:-/tmp}/qd-$${SLURM_JOB_ID}-$${SLURM_NODEID}"
node_dir="$${QDREAMER_JOB_DIR}/node-$${SLURM_NODEID}"
mkdir -p "$${ray_tmp}" "$${node_dir}"
ln -sfn "$${ray_tmp}" "$${node_dir}/ray"
export RAY_TMPDIR="$${ray_tmp}"
p=$$(( QDREAMER_PORT_BASE + (100 * SLURM_NODEID) % 1000 ))
exec "$${QDREAMER_PYTHON}" -m ray.scripts.scripts start --block \\
    --address="$${QDREAMER_RAY_ADDRESS}" \\
    --num-cpus="$${QDREAMER_CORES}" --num-gpus="$${QDREAMER_GPUS}" \\
    --resources="$${QDREAMER_RESOURCES}" --temp-dir="$${ray_tmp}" \\
    --node-manager-port=$$((p)) --object-manager-port=$$((p + 1)) \\
    --runtime-env-agent-port=$$((p + 2)) --dashboard-agent-grpc-port=$$((p + 3)) \\
    --dashboard-agent-listen-port=$$((p + 4)) --metrics-export-port=$$((p + 5)) \\
    --min-worker-port=$$((p + 10)) --max-worker-port=$$((p + 99)) \\
    --disable-usage-stats
QDREAMER_NODE
srun --nodes=$nodes --ntasks=$nodes --ntasks-per-node=1 --cpus-per-task=$cores \\
    --kill-on-bad-exit=1 bash "$${QDREAMER_JOB_DIR}/node.sh"
"""
)


#: Characters an ``#SBATCH`` line cannot take (those lines are not shell: no quoting).
UNSAFE = re.compile(r"[\s'\"$`\\]")


def sbatch_value(flag: str, value: str) -> str:
    """``value`` if it can stand on an ``#SBATCH`` line; ``ValueError`` naming ``flag`` if not."""
    if not value or UNSAFE.search(value):
        raise ValueError(
            f"{flag} {value!r} is empty or has spaces, quotes or shell characters, which an "
            "#SBATCH line cannot take"
        )
    return value


def sbatch_options(
    partition: str | None,
    account: str | None,
    qos: str | None,
    reservation: str | None,
    gpus_per_node: int,
) -> list[str]:
    """The optional ``#SBATCH`` lines shared by pilot and driver jobs (``None``: omitted)."""
    options = []
    for flag, value in (
        ("partition", partition),
        ("account", account),
        ("qos", qos),
        ("reservation", reservation),
    ):
        if value is not None:
            options.append(f"#SBATCH --{flag}={sbatch_value(flag, value)}")
    if gpus_per_node:
        options.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    return options


def walltime(minutes: int) -> str:
    """``--time`` as ``HH:MM:00``."""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours:02d}:{rest:02d}:00"


# ------------------------------------------------------------------ partition time limits
#: Every partition (hidden ones too) and its time limit (MaxTime), one per line as
#: ``<name>[*] <limit>``; the default partition carries the ``*``.
PARTITION_LIMITS = ("sinfo", "--all", "-h", "-o", "%P %l")

#: Slurm's time formats: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``.
_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<clock>\d+(?::\d+){0,2})$")
#: How Slurm spells "no limit" (``sinfo``: ``infinite``; ``scontrol``: ``UNLIMITED``).
NO_LIMIT = frozenset({"infinite", "unlimited"})


def time_limit_seconds(text: str) -> int | None:
    """Seconds in a Slurm time limit, ``None`` for no limit; ``ValueError`` if unreadable."""
    word = text.strip()
    if word.lower() in NO_LIMIT:
        return None
    m = _TIME.match(word)
    if m is None:
        raise ValueError(f"not a Slurm time limit: {text!r}")
    parts = [int(p) for p in m.group("clock").split(":")]
    if m.group("days") is not None:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = (*parts, 0, 0)[:3]
        hours += 24 * int(m.group("days"))
    elif len(parts) == 1:  # M
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:  # M:S
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:  # H:M:S
        hours, minutes, seconds = parts
    return (hours * 60 + minutes) * 60 + seconds


def partition_limits(sinfo_output: str) -> tuple[dict[str, int | None], str | None]:
    """``({partition: limit in seconds or None}, default partition)`` from the output
    of :data:`PARTITION_LIMITS`.  A limit Slurm prints as ``n/a`` (or anything
    unreadable) counts as none: then ``sbatch`` has the last word."""
    limits: dict[str, int | None] = {}
    default = None
    for line in sinfo_output.splitlines():
        fields = line.split()
        if len(fields) != 2:
            continue
        name, limit = fields
        if name.endswith("*"):
            name = name[:-1]
            default = name
        try:
            limits[name] = time_limit_seconds(limit)
        except ValueError:
            logger.debug("partition %s: unreadable time limit %r", name, limit)
            limits[name] = None
    return limits, default


#: ``--partition``/``-p`` and ``--time``/``-t`` in ``scheduler_script_commands``: they come
#: after the script's own ``#SBATCH`` lines, so they win.
_OVERRIDE = re.compile(
    r"^(?:#SBATCH\s+)?(?P<opt>--partition|--time|-p|-t)(?:=|\s+)(?P<value>[^\s#]+)"
)


def requested_limits(job: SlurmJob) -> tuple[str | None, int | None, str]:
    """``(partition, seconds, key)`` the job will ask Slurm for: ``job.partition`` and
    its walltime, unless ``scheduler_script_commands`` sets them (the last one
    wins, as in ``sbatch``); ``key`` names where the time came from.
    ``seconds`` is ``None`` for an unreadable or unlimited time."""
    partition: str | None = job.partition or None
    seconds: int | None = job.walltime_minutes * 60
    key = "walltime"
    for line in job.scheduler_script_commands:
        m = _OVERRIDE.match(line.strip())
        if m is None:
            continue
        if m.group("opt") in ("--partition", "-p"):
            partition = m.group("value").split(",")[0]  # sbatch takes the first it can use
            continue
        key = "scheduler_script_commands"
        try:
            seconds = time_limit_seconds(m.group("value"))
        except ValueError:
            seconds = None  # sbatch will say what is wrong with it
    return partition, seconds, key


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}" if seconds % 60 == 0 else f"{seconds / 60:.2f}"


def check_walltime(job: SlurmJob, timeout: float = 30) -> None:
    """Refuse a walltime over the partition's time limit, before ``sbatch``.

    Slurm would accept such a job and leave it PENDING for ever (reason
    ``PartitionTimeLimit``) unless the site enforces partition limits at
    submission.  The partition and time are those the script asks for (see
    :func:`requested_limits`); no partition means the default one.  When
    ``sinfo`` cannot tell (not installed, no answer, no such partition), nothing
    is refused here and ``sbatch`` decides.
    """
    try:
        out = run(PARTITION_LIMITS, timeout=timeout, check=False)
    except SlurmError as exc:
        logger.debug("cannot read partition time limits (%s); sbatch will check", exc)
        return
    if out.returncode != 0:
        logger.debug("sinfo exit %d: %s; sbatch will check", out.returncode, out.stderr.strip())
        return
    limits, default = partition_limits(out.stdout)
    partition, seconds, key = requested_limits(job)
    name = partition or default
    limit = limits.get(name) if name is not None else None
    if limit is None or seconds is None or seconds <= limit:
        return
    which = f"partition {name!r}" + (" (the default partition)" if not partition else "")
    asked = (
        f"walltime={job.walltime_minutes} minutes"
        if key == "walltime"
        else f"the --time in scheduler_script_commands ({_minutes(seconds)} minutes)"
    )
    raise ConfigError(
        f"{asked} is over the time limit of Slurm {which}: "
        f"{_minutes(limit)} minutes (MaxTime); Slurm would keep the job pending for ever. "
        f"Ask for walltime <= {limit // 60}, or name a partition that allows more with 'queue'",
        key=key,
    )


def job_script(job: SlurmJob) -> str:
    """The batch script for ``job`` (a pure function: tested by string checks)."""
    if job.nodes < 1 or job.cores_per_node < 1:
        raise ValueError("a Slurm pilot needs at least one node and one core per node")
    if UNSAFE.search(job.working_directory):
        # #SBATCH lines are not shell: a path there cannot be quoted.
        raise ValueError(
            f"working directory {job.working_directory!r} has spaces, quotes or shell "
            "characters, which #SBATCH --chdir/--output cannot take; choose another"
        )
    # An empty value means "not set" for a pilot description, as None does.
    options = sbatch_options(
        job.partition or None,
        job.account or None,
        job.qos or None,
        job.reservation or None,
        job.gpus_per_node,
    )
    extra = [
        line if line.startswith("#SBATCH") or not line.startswith("--") else f"#SBATCH {line}"
        for line in job.scheduler_script_commands
    ]
    resources = {job.resource_name: RESOURCE_UNITS, **job.extra_resources}
    port_base = str(job.port_base) if job.port_base is not None else PORT_BASE_EXPR
    return BATCH_TEMPLATE.substitute(
        job_name=f"qdreamer-{job.pilot}",
        pilot=job.pilot,
        pilot_q=shlex.quote(job.pilot),
        nodes=job.nodes,
        cores=job.cores_per_node,
        gpus=job.gpus_per_node,
        walltime=walltime(job.walltime_minutes),
        workdir=job.working_directory,
        options="\n".join(options) + ("\n" if options else ""),
        extra="\n".join(extra) + ("\n" if extra else ""),
        setup="\n".join(job.environment_setup),
        ray_address_q=shlex.quote(job.ray_address),
        resource=job.resource_name,
        resources_q=shlex.quote(json.dumps(resources, separators=(",", ":"))),
        python_q=shlex.quote(job.python),
        port_base=port_base,
    )


# ------------------------------------------------------------------ the launcher
class SlurmLauncher(Launcher):
    """Pilots as Slurm jobs whose nodes join the driver's Ray cluster (see the module doc).

    ``start`` submits and returns at once (the pilot is PENDING in the queue);
    ``wait`` returns when every node of the job has registered with Ray, and
    raises with the job's own stderr if it ends first.
    """

    #: Seconds any one Slurm command may take.
    COMMAND_TIMEOUT = 30.0
    #: Seconds between queue polls while waiting.
    POLL_SECONDS = 0.5
    waits_on_create = False

    def start(
        self, name: str, description: PilotDescription, bundles: list[dict[str, float]]
    ) -> Allocation:
        job = self.job_for(name, description, ray.get_runtime_context().gcs_address)
        check_walltime(job, self.COMMAND_TIMEOUT)
        workdir = Path(job.working_directory)
        workdir.mkdir(parents=True, exist_ok=True)
        script = workdir / "pilot.sbatch"
        write_private(script, job_script(job))  # environment_setup may hold anything
        out = run(["sbatch", "--parsable", str(script)], timeout=self.COMMAND_TIMEOUT)
        m = JOB_ID.match(out.stdout.strip())
        if m is None:
            raise SlurmError(
                f"sbatch printed no job id: {out.stdout.strip()!r}",
                command=["sbatch", "--parsable", str(script)],
                returncode=out.returncode,
                stdout=out.stdout,
                stderr=out.stderr,
            )
        job_id = m.group("job_id")
        logger.info("pilot %s: Slurm job %s submitted (%s)", name, job_id, script)
        return Allocation(
            pilot=name,
            bundles=bundles,
            handle=job,
            state=PilotState.PENDING,
            info={
                "launcher": "slurm",
                "job_id": job_id,
                "script": str(script),
                "working_directory": str(workdir),
                "resource": job.resource_name,
                "nodes": job.nodes,
            },
        )

    @staticmethod
    def job_for(name: str, description: PilotDescription, ray_address: str) -> SlurmJob:
        cores, gpus = description.reserved()
        if cores != int(cores) or gpus != int(gpus):
            raise ConfigError(
                f"a Slurm pilot allocates whole cores and GPUs; got cores_per_node={cores:g}, "
                f"gpus_per_node={gpus:g}",
                key="cores_per_node",
            )
        workdir = description.working_directory
        if workdir is None:
            raise ConfigError("a Slurm pilot needs a working_directory", key="working_directory")
        return SlurmJob(
            pilot=name,
            working_directory=workdir,
            ray_address=ray_address,
            nodes=description.number_of_nodes,
            cores_per_node=int(cores),
            gpus_per_node=int(gpus),
            walltime_minutes=description.walltime,
            partition=description.queue,
            account=description.project,
            qos=description.qos,
            reservation=description.reservation,
            scheduler_script_commands=description.scheduler_script_commands,
            environment_setup=description.environment_setup,
            python=sys.executable,
        )

    # ------------------------------------------------------------ state
    def job_state(self, allocation: Allocation) -> PilotState | None:
        """The job's state from ``squeue`` (``None`` once Slurm has forgotten it)."""
        job_id = allocation.info["job_id"]
        out = run(
            ["squeue", "-h", "-j", job_id, "-o", "%T"],
            timeout=self.COMMAND_TIMEOUT,
            check=False,
        )
        text = out.stdout.strip()
        if out.returncode != 0 or not text:
            return self._final_state(job_id)
        word = text.splitlines()[0]
        if word.startswith("COMPLETING"):
            # Still ending: whether it ends COMPLETED, TIMEOUT, FAILED or CANCELLED is
            # known only afterwards, so it counts as the allocation still held.
            return PilotState.STARTING
        return pilot_state(word)

    def _final_state(self, job_id: str) -> PilotState | None:
        """The end state of a job ``squeue`` no longer lists: ``scontrol`` remembers it for
        ``MinJobAge`` (300 s by default), ``sacct`` when accounting is on; else ``None``."""
        out = run(
            ["scontrol", "-o", "show", "job", job_id], timeout=self.COMMAND_TIMEOUT, check=False
        )
        m = re.search(r"\bJobState=(\S+)", out.stdout)
        if out.returncode == 0 and m:
            return pilot_state(m.group(1))
        try:
            out = run(
                ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"],
                timeout=self.COMMAND_TIMEOUT,
            )
        except SlurmError:
            return None  # no accounting (a small site, our local test cluster)
        text = out.stdout.strip()
        return pilot_state(text.splitlines()[0]) if text else None

    def registered_nodes(self, allocation: Allocation) -> int:
        resource = allocation.info["resource"]
        return sum(1 for n in ray.nodes() if n.get("Alive") and resource in n.get("Resources", {}))

    def job_stderr(self, allocation: Allocation, lines: int = 20) -> str:
        path = Path(allocation.info["working_directory"]) / f"slurm-{allocation.info['job_id']}.err"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return f"(no stderr file {path})"
        tail = text.strip().splitlines()[-lines:]
        return "\n".join(tail) if tail else "(stderr is empty)"

    def wait(self, allocation: Allocation, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        job_id = allocation.info["job_id"]
        want = int(allocation.info["nodes"])
        while True:
            state = self.job_state(allocation)
            if state is PilotState.STARTING and self.registered_nodes(allocation) >= want:
                allocation.state = PilotState.RUNNING
                logger.info("pilot %s: %d Ray node(s) of job %s up", allocation.pilot, want, job_id)
                return
            if state is None or state in TERMINAL_STATES:
                allocation.state = state or PilotState.FAILED
                raise PilotStartError(
                    f"pilot {allocation.pilot!r}: Slurm job {job_id} ended "
                    f"({state or 'gone from the queue'}) before its Ray nodes registered; "
                    f"its stderr:\n{self.job_stderr(allocation)}"
                )
            allocation.state = state
            if time.monotonic() > deadline:
                raise PilotStartError(
                    f"pilot {allocation.pilot!r}: Slurm job {job_id} is still {state} after "
                    f"{timeout:g} s ({self.registered_nodes(allocation)}/{want} Ray nodes up); "
                    f"its stderr so far:\n{self.job_stderr(allocation)}"
                )
            time.sleep(self.POLL_SECONDS)

    def poll(self, allocation: Allocation) -> PilotState:
        """RUNNING while the job runs; DONE once it ended by itself (walltime included),
        FAILED or CANCELED per Slurm."""
        if allocation.state is not PilotState.RUNNING:
            return allocation.state
        state = self.job_state(allocation)
        if state is PilotState.STARTING:  # the job still runs
            return PilotState.RUNNING
        allocation.state = state if state is not None else PilotState.DONE
        return allocation.state

    # ------------------------------------------------------------ placement
    def actor_options(self, allocation: Allocation, index: int) -> dict[str, Any]:
        return {"resources": {allocation.info["resource"]: 1}}

    def task_options(self, allocation: Allocation) -> dict[str, Any]:
        return {"resources": {allocation.info["resource"]: 1}}

    def cancel(self, allocation: Allocation) -> None:
        """``scancel`` the job and wait (bounded) until it has left the queue."""
        if allocation.state in TERMINAL_STATES or allocation.handle is None:
            return  # ended already (walltime, failure) or never submitted
        job_id = allocation.info["job_id"]
        run(["scancel", job_id], timeout=self.COMMAND_TIMEOUT, check=False)
        deadline = time.monotonic() + self.COMMAND_TIMEOUT
        while time.monotonic() < deadline:
            if not self.listed(job_id) and self.registered_nodes(allocation) == 0:
                break
            time.sleep(self.POLL_SECONDS)
        else:
            logger.warning(
                "pilot %s: job %s still listed by squeue (or its Ray nodes still up) "
                "%g s after scancel",
                allocation.pilot,
                job_id,
                self.COMMAND_TIMEOUT,
            )
        allocation.state = PilotState.CANCELED

    def listed(self, job_id: str) -> bool:
        return listed(job_id, self.COMMAND_TIMEOUT)

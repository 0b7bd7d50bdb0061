"""Joining a cluster started with ``ray start --head`` (issue 5).

A real head runs on this machine for the module, started the way an operator
starts one (``ray start --head --block``) with token authentication on, the
default for ``ray start`` when a token is available.  Drivers are separate
processes, as on a real cluster: through ``RAY_ADDRESS``, through
``PilotComputeService(ray_address=...)``, and through ``ray job submit``.

How an external driver authenticates (Ray 2.60, docs.ray.io
``ray-security/token-auth.html``): ``RAY_AUTH_MODE=token`` in its environment
plus the cluster's token in ``RAY_AUTH_TOKEN`` (the value), or
``RAY_AUTH_TOKEN_PATH`` (a file), or ``~/.ray/auth_token``, in that order.
``RAY_AUTH_MODE`` is needed because ``ray.init`` only turns token mode on by
itself when it finds the cluster locally (``address`` None or ``"auto"``
without ``RAY_ADDRESS``): "an explicit address (argument or RAY_ADDRESS) never
does" (``ray/_private/worker.py``, ``init``).  The head here gets its own
token through ``RAY_AUTH_TOKEN_PATH``, so ``~/.ray/auth_token``, shared with
everything else on the machine, is neither read nor written.  Jobs inherit
the head's environment, so a driver run by ``ray job submit`` is authenticated
without doing anything.

Other Ray instances run on this machine, so nothing here relies on "the most
recent cluster": every port is chosen free, the head has its own
``--temp-dir``, and the head is stopped by killing the process group it was
started in (never ``ray stop``, which stops every Ray of the user).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

#: ``ray job submit`` needs the dashboard, which needs ``ray[default]`` (our
#: ``dashboard`` extra).  Ray decides the same way (``ray/dashboard/optional_deps.py``).
try:
    importlib.import_module("ray.dashboard.optional_deps")
    HAS_DASHBOARD = True
except ImportError:
    HAS_DASHBOARD = False

RESULT = "RESULT "

BELL_DRIVER = f"""
import json

import ray

from pilot import PilotComputeService, QuantumTask


def bell():
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def double(x):
    return 2 * x


with PilotComputeService() as pcs:
    pcs.create_pilot(
        {{
            "resource_type": "quantum",
            "quantum": {{"executor": "qiskit_local"}},
            "cores_per_node": 0.25,
        }}
    )
    pcs.create_pilot({{"name": "cpu", "cores_per_node": 0.5}})
    q_ref = pcs.submit_quantum_task(QuantumTask(bell, shots=200))
    c_ref = pcs.submit_task(double, 21, pilot="cpu", resources={{"num_cpus": 0.5}})
    result = pcs.get_results(q_ref, timeout=120)
    out = {{
        "counts": result.counts,
        "classical": pcs.get_results(c_ref, timeout=120),
        "gcs_address": pcs.ray_address,
        "runtime_gcs_address": ray.get_runtime_context().gcs_address,
        "cluster_cpus": ray.cluster_resources().get("CPU"),
    }}
print({RESULT!r} + json.dumps(out))
"""

#: Joins with ``PilotComputeService(**json.loads(argv[1]))``; reports where it
#: is, the CPUs free once earlier drivers' pilots are gone, and a task's result.
PROBE_DRIVER = f"""
import json
import sys
import time

import ray

from pilot import PilotComputeService


def double(x):
    return 2 * x


with PilotComputeService(**json.loads(sys.argv[1])) as pcs:
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU") != 1.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    out = {{
        "gcs_address": pcs.ray_address,
        "available_cpus": ray.available_resources().get("CPU"),
        "value": pcs.get_results(pcs.submit_task(double, 21), timeout=120),
    }}
print({RESULT!r} + json.dumps(out))
"""

#: Run by ``ray job submit``: no address anywhere, the job's cluster is found
#: through the ``RAY_ADDRESS`` that Ray sets for the job's driver.
JOB_DRIVER = f"""
import json
import os
import sys

from pilot import PilotComputeService, QuantumTask


def bell():
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


with PilotComputeService() as pcs:
    pcs.create_pilot(
        {{
            "resource_type": "quantum",
            "quantum": {{"executor": "qiskit_local"}},
            "cores_per_node": 0.25,
        }}
    )
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell, shots=200)), timeout=120)
    out = {{
        "counts": result.counts,
        "gcs_address": pcs.ray_address,
        "ray_address_env": os.environ.get("RAY_ADDRESS"),
        "prefix": sys.prefix,
    }}
print({RESULT!r} + json.dumps(out))
"""

#: Tries ``PilotComputeService(**json.loads(argv[1]))`` and reports the error.
FAILING_DRIVER = f"""
import json
import sys
import time

start = time.monotonic()
from pilot import PilotComputeService

try:
    PilotComputeService(**json.loads(sys.argv[1]))
    out = {{"error": None}}
except Exception as exc:
    out = {{
        "error": [cls.__name__ for cls in type(exc).__mro__],
        "message": str(exc),
    }}
out["seconds"] = time.monotonic() - start
print({RESULT!r} + json.dumps(out))
"""


# ---------------------------------------------------------------- processes
def _kill_group(pgid: int) -> None:
    """SIGKILL a process group this module started (``start_new_session=True``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Run:
    args: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    def __str__(self) -> str:
        return (
            f"{self.args} exit {self.returncode} after {self.seconds:.1f} s"
            f"{' (timed out)' if self.timed_out else ''}\n"
            f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"
        )

    def result(self) -> dict[str, Any]:
        """The driver's ``RESULT {...}`` line."""
        lines = [line for line in self.stdout.splitlines() if line.startswith(RESULT)]
        assert lines, f"no {RESULT.strip()} line in the output of {self}"
        data: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
        return data


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> Run:
    """Run ``args`` in a session of its own; on timeout, kill that session's group."""
    start = time.monotonic()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        timed_out = True
    return Run(args, proc.returncode, out, err, time.monotonic() - start, timed_out)


def run_driver(
    source: str, env: dict[str, str], cwd: Path, *args: str, timeout: float = 300
) -> Run:
    script = cwd / f"driver_{uuid.uuid4().hex[:8]}.py"
    script.write_text(textwrap.dedent(source))
    return run([sys.executable, str(script), *args], env, cwd, timeout)


# ---------------------------------------------------------------- the head
def _free_ports(n: int) -> list[int]:
    """``n`` distinct ports free right now (the kernel's choice, in its ephemeral range)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _free_port_range(size: int) -> int:
    """The first port of ``size`` consecutive free ports, below the ephemeral range
    and away from Ray's default worker ports (10002-19999), which other Ray
    instances on this machine use."""
    for _ in range(50):
        first = random.randrange(20000, 32000 - size)
        try:
            socks = []
            for port in range(first, first + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {size} consecutive free ports in 20000-32000")


@dataclass
class Head:
    proc: subprocess.Popen[bytes]
    temp_dir: Path
    token_file: Path
    gcs_port: int
    dashboard_port: int
    env: dict[str, str]
    log: Path

    @property
    def gcs_address(self) -> str:
        """The address ``ray start`` recorded.  Ray never uses loopback as a node
        address: 127.0.0.1 becomes this machine's primary IP
        (``ray._private.services.resolve_ip_for_localhost``), in ``ray start``
        and in ``ray.init`` alike."""
        return (self.temp_dir / "ray_current_cluster").read_text().strip()

    @property
    def loopback(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def client_env(self, **extra: str) -> dict[str, str]:
        """The environment of a driver or CLI call: the cluster's token, no address."""
        return {**self.env, **extra}

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _answers(head: Head) -> bool:
    if not (head.temp_dir / "ray_current_cluster").exists():  # written once the node is up
        return False
    if not HAS_DASHBOARD:
        return True
    request = urllib.request.Request(
        f"{head.dashboard_url}/api/version",
        headers={"Authorization": f"Bearer {head.token_file.read_text()}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _start_head(
    root: Path, env: dict[str, str], token_file: Path, python: str = sys.executable
) -> Head:
    (
        gcs,
        dashboard,
        client_server,
        node_manager,
        object_manager,
        agent_grpc,
        agent_listen,
        metrics,
        runtime_env_agent,
    ) = _free_ports(9)
    workers = _free_port_range(100)
    temp_dir = Path(tempfile.mkdtemp(prefix="r", dir=root))
    log = root / f"head-{gcs}.log"
    args = [
        python,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--num-cpus=1",
        "--num-gpus=0",
        "--object-store-memory=100000000",
        f"--temp-dir={temp_dir}",
        f"--include-dashboard={str(HAS_DASHBOARD).lower()}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--ray-client-server-port={client_server}",
        f"--node-manager-port={node_manager}",
        f"--object-manager-port={object_manager}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--dashboard-agent-listen-port={agent_listen}",
        f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env_agent}",
        f"--min-worker-port={workers}",
        f"--max-worker-port={workers + 99}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Head(proc, temp_dir, token_file, gcs, dashboard, env, log)


def _stop_head(head: Head) -> None:
    """SIGTERM ``ray start --block`` (it stops its processes), then SIGKILL its group."""
    with contextlib.suppress(ProcessLookupError):
        head.proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.proc.wait(timeout=30)
    _kill_group(head.proc.pid)  # stragglers (job drivers, workers) share its group
    head.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    """A real ``ray start --head`` on loopback with token authentication."""
    yield from _head()


def _head(python: str = sys.executable, **extra_env: str) -> Iterator[Head]:
    # A short root: Ray's AF_UNIX socket paths under the session dir must stay
    # below 107 bytes, and pytest's tmp_path is long.
    root = Path(tempfile.mkdtemp(prefix="qdh-", dir="/tmp"))
    token_file = root / "auth_token"
    token_file.touch(mode=0o600)
    token_file.write_text(secrets.token_hex(32))  # the format of `ray get-auth-token --generate`
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN"}
    }
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token_file),
        # As if `ray start` ran in the activated virtualenv: a job's entrypoint
        # `python driver.py` is found on the PATH the head was started with.
        PATH=os.pathsep.join([str(Path(python).parent), env.get("PATH", "")]),
        **extra_env,
    )
    failures = []
    try:
        for _attempt in range(3):  # a port chosen free may be taken before Ray binds it
            candidate = _start_head(root, env, token_file, python)
            deadline = time.monotonic() + 120
            while candidate.proc.poll() is None and time.monotonic() < deadline:
                if _answers(candidate):
                    break
                time.sleep(0.5)
            if candidate.proc.poll() is None and _answers(candidate):
                started = candidate
                break
            _stop_head(candidate)
            failures.append(candidate.log_tail())
        else:
            pytest.fail("ray start --head did not come up:\n" + "\n----\n".join(failures))
        try:
            yield started
        finally:
            _stop_head(started)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- tests
def assert_bell(counts: dict[str, int], shots: int = 200) -> None:
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == shots, counts
    assert counts.get("00", 0) > 0 and counts.get("11", 0) > 0, counts


def test_driver_joins_through_ray_address_and_leaves_the_cluster_running(
    head: Head, tmp_path: Path
) -> None:
    env = head.client_env(RAY_ADDRESS=head.loopback)
    first = run_driver(BELL_DRIVER, env, tmp_path)
    assert first.returncode == 0, first
    data = first.result()
    assert_bell(data["counts"])
    assert data["classical"] == 42
    assert data["gcs_address"] == data["runtime_gcs_address"] == head.gcs_address
    assert data["cluster_cpus"] == 1.0  # the head's --num-cpus, not a new local Ray

    # The service joined the cluster, so leaving stopped nothing: the head runs,
    # and the next driver finds the first one's pilots released.
    assert head.proc.poll() is None
    second = run_driver(PROBE_DRIVER, env, tmp_path, "{}")
    assert second.returncode == 0, second
    probe = second.result()
    assert probe["gcs_address"] == head.gcs_address
    assert probe["available_cpus"] == 1.0
    assert probe["value"] == 42
    assert head.proc.poll() is None


@pytest.mark.parametrize(
    "how", ["explicit address", "auto with RAY_ADDRESS", "auto from ray start's address file"]
)
def test_ray_address_argument_joins_the_cluster(head: Head, tmp_path: Path, how: str) -> None:
    env = head.client_env()
    kwargs: dict[str, Any]
    if how == "explicit address":
        kwargs = {"ray_address": head.loopback}
    elif how == "auto with RAY_ADDRESS":
        # ray.init(address="auto") takes RAY_ADDRESS when it is set: "use RAY_ADDRESS
        # to override if the address was left unspecified, or set to 'auto'"
        # (ray/_private/worker.py, init; services.get_ray_address_from_environment
        # does the same).  The service passes "auto" through to ray.init.
        kwargs = {"ray_address": "auto"}
        env["RAY_ADDRESS"] = head.loopback
    else:
        # Without RAY_ADDRESS, "auto" reads the address `ray start` wrote to
        # <temp dir>/ray_current_cluster (services.find_bootstrap_address).  The
        # default temp dir is shared with the other Ray instances on this machine,
        # so the head's own --temp-dir is named (ray.init's _temp_dir).
        kwargs = {"ray_address": "auto", "ray_init_kwargs": {"_temp_dir": str(head.temp_dir)}}
    out = run_driver(PROBE_DRIVER, env, tmp_path, json.dumps(kwargs))
    assert out.returncode == 0, out
    data = out.result()
    assert data["gcs_address"] == head.gcs_address
    assert data["value"] == 42
    assert head.proc.poll() is None


def test_ray_job_submit_runs_a_driver_on_the_cluster(head: Head, tmp_path: Path) -> None:
    if not HAS_DASHBOARD:
        pytest.fail(
            "ray job submit needs the dashboard: pip install -e '.[dashboard]' (ray[default])"
        )
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "driver.py").write_text(textwrap.dedent(JOB_DRIVER))
    job_id = f"qdreamer-{uuid.uuid4().hex[:12]}"
    env = head.client_env()
    jobs = [sys.executable, "-m", "ray.scripts.scripts", "job"]
    address = ["--address", head.dashboard_url]

    submit = run(
        [
            *jobs,
            "submit",
            *address,
            "--submission-id",
            job_id,
            "--working-dir",
            str(job_dir),
            "--",
            "python",
            "driver.py",
        ],
        env,
        tmp_path,
    )
    assert submit.returncode == 0, submit  # `job submit` waits for the job; 1 if it failed
    status = run([*jobs, "status", *address, job_id], env, tmp_path, timeout=60)
    assert f"Job '{job_id}' succeeded" in status.stdout + status.stderr, status
    logs = run([*jobs, "logs", *address, job_id], env, tmp_path, timeout=60)
    assert logs.returncode == 0, logs
    data = logs.result()
    assert_bell(data["counts"])
    assert data["gcs_address"] == data["ray_address_env"] == head.gcs_address
    assert data["prefix"] == sys.prefix  # the job ran with this virtualenv's Python
    assert head.proc.poll() is None


def test_unreachable_address_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = run_driver(
        FAILING_DRIVER, env, tmp_path, json.dumps({"ray_address": "127.0.0.1:1"}), timeout=20
    )
    assert not out.timed_out, out
    data = out.result()
    assert data["error"] is not None and "ConfigError" in data["error"], data
    assert "127.0.0.1:1" in data["message"] and "cannot reach" in data["message"], data
    assert data["seconds"] < 15, data


def test_missing_token_mode_says_how_to_authenticate(head: Head, tmp_path: Path) -> None:
    # The usual mistake: the token is there, but RAY_AUTH_MODE=token is not set,
    # which an explicit address (or RAY_ADDRESS) needs.
    env = {k: v for k, v in head.client_env().items() if k != "RAY_AUTH_MODE"}
    out = run_driver(
        FAILING_DRIVER, env, tmp_path, json.dumps({"ray_address": head.loopback}), timeout=90
    )
    assert not out.timed_out, out
    data = out.result()
    assert data["error"] is not None and "PilotError" in data["error"], data
    assert "RAY_AUTH_MODE=token" in data["message"], data
    assert head.proc.poll() is None


#: Reports which Ray the service is on, by every channel the user sees.
WHICH_DRIVER = f"""
import json
import logging
import sys

import ray

from pilot import PilotComputeService

logging.basicConfig(level=logging.INFO, format="LOG %(levelname)s %(name)s %(message)s")
with PilotComputeService(**json.loads(sys.argv[1])) as pcs:
    out = {{
        "gcs_address": pcs.ray_address,
        "origin": pcs.ray_origin,
        "repr": repr(pcs),
        "report": pcs.report().to_dict()["ray"],
        "cluster_cpus": ray.cluster_resources().get("CPU"),
    }}
print({RESULT!r} + json.dumps(out))
"""


def test_without_an_address_the_service_says_it_joined_the_running_cluster(
    head: Head, tmp_path: Path
) -> None:
    # As a user's `ray.init()` would: the cluster `ray start` recorded (in the head's
    # own temp dir here, so that other Ray instances on this machine are not found).
    kwargs = {"ray_init_kwargs": {"_temp_dir": str(head.temp_dir)}}
    out = run_driver(WHICH_DRIVER, head.client_env(), tmp_path, json.dumps(kwargs))
    assert out.returncode == 0, out
    data = out.result()
    assert data["gcs_address"] == head.gcs_address and data["cluster_cpus"] == 1.0
    said = f"joined the Ray cluster already running on this machine at {head.gcs_address}"
    for channel in ("origin", "repr", "report"):
        assert said in data[channel], (channel, data)
    assert "ray_address='local'" in data["origin"] and "RAY_ADDRESS=local" in data["origin"]
    assert f"LOG WARNING pilot.runtime.service {said}" in out.stderr, out


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_ray_address_local_starts_a_new_instance_beside_the_running_one(
    head: Head, tmp_path: Path, how: str
) -> None:
    env = head.client_env()
    kwargs: dict[str, Any] = {"ray_init_kwargs": {"_temp_dir": str(head.temp_dir)}}
    if how == "argument":
        kwargs["ray_address"] = "local"
    else:
        env["RAY_ADDRESS"] = "local"
    out = run_driver(WHICH_DRIVER, env, tmp_path, json.dumps(kwargs))
    assert out.returncode == 0, out
    data = out.result()
    assert data["gcs_address"] != head.gcs_address
    for channel in ("origin", "repr", "report"):
        assert f"started a new local Ray instance at {data['gcs_address']}" in data[channel]
    assert sys.executable in data["origin"]  # the Python its workers run
    assert head.proc.poll() is None


HIDE_TORCH = """
import sys


class _HideTorch:
    # This environment has no torch (as another virtualenv would not).
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _HideTorch())
"""

TORCH_PILOT_DRIVER = f"""
import json
import sys

from pilot import PilotComputeService

with PilotComputeService(ray_address=sys.argv[1]) as pcs:
    try:
        pcs.create_pilot({{"resource_type": "quantum", "quantum": {{"executor": "torch_sv"}}}})
        out = {{"error": None}}
    except Exception as exc:
        out = {{"error": type(exc).__name__, "message": str(exc)}}
print({RESULT!r} + json.dumps(out))
"""


@pytest.fixture(scope="module")
def other_env_head() -> Iterator[tuple[Head, str]]:
    """A ``ray start --head`` run from another Python environment, one without torch:
    a virtualenv of its own (its own ``bin/python`` and ``pyvenv.cfg``) sharing this
    one's packages except torch, which a ``sitecustomize`` hides."""
    root = Path(tempfile.mkdtemp(prefix="qdenv-", dir="/tmp"))
    try:
        venv = Path(sys.prefix)
        (root / "bin").mkdir()
        (root / "bin" / "python").symlink_to(Path(sys.executable).resolve())
        shutil.copy(venv / "pyvenv.cfg", root / "pyvenv.cfg")
        (root / "lib").symlink_to(venv / "lib")
        hooks = root / "hooks"
        hooks.mkdir()
        (hooks / "sitecustomize.py").write_text(textwrap.dedent(HIDE_TORCH))
        python = str(root / "bin" / "python")
        probe = subprocess.run(
            [python, "-c", "import sys, ray, pilot; print(sys.prefix)"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(hooks)},
            check=False,
            timeout=120,
        )
        assert probe.returncode == 0 and probe.stdout.strip() == str(root), probe
        for started in _head(python, PYTHONPATH=str(hooks)):
            yield started, python
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_workers_in_another_environment_are_named_in_the_error(
    other_env_head: tuple[Head, str], tmp_path: Path
) -> None:
    head, python = other_env_head
    env = {k: v for k, v in head.client_env().items() if k != "PYTHONPATH"}
    out = run_driver(TORCH_PILOT_DRIVER, env, tmp_path, head.loopback)
    assert out.returncode == 0, out
    data = out.result()
    assert data["error"] == "MissingDependencyError", data
    message = data["message"]
    assert "pip install torch==2.13.0" in message  # how to install it
    assert f"the pilot's Ray workers run {python}" in message  # where
    assert f"not this driver's Python ({sys.executable})" in message
    assert "ray_address='local'" in message and "RAY_ADDRESS=local" in message

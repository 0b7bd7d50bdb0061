"""Credentials never leak (issue 6, "Security").

A unique token (``qdr-PLANTED-<uuid>``) is planted wherever a credential can
come from: ``IBM_QUANTUM_TOKEN``, a description's ``quantum.token``, the user
configuration file, and (in the subprocess tests) ``AWS_SECRET_ACCESS_KEY`` of
the Braket endpoint the pilot really signs its requests for.  The service is
then driven end to end (pilots, Bell circuits, a failing task, bad
descriptions, a pilot that cannot connect) and every output channel is
searched for it, one assertion per channel: logs at DEBUG, reprs, errors and
their tracebacks, results (metadata, selection, pickled), the service's
working directory, the Ray session's log files (workers' included), Ray's
state API and the dashboard's REST endpoints, the ``qdreamer`` CLI's output,
and the Slurm batch scripts.  A secret sent as protobuf ``bytes`` would be
base64 in JSON, so those spellings are searched for too.

Also here: the user file's permission rule, and that a Ray instance the
service starts keeps token authentication on with its dashboard on
127.0.0.1 only.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import pickle
import secrets
import socket
import subprocess
import sys
import textwrap
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from pilot.batch.slurm import DriverJob, driver_script, submit
from pilot.config import load_config, parse_description
from pilot.errors import ConfigError, CredentialsError, PilotStartError, TaskFailedError
from pilot.launchers.slurm import SlurmLauncher, job_script
from pilot.redaction import (
    MASK,
    RedactingFilter,
    install_log_redaction,
    redact,
    remember,
    write_private,
)
from tests.helpers import BELL_QASM, bell_qiskit, cli_error_line, run_cli

ROOT = Path(__file__).resolve().parents[2]


def planted() -> str:
    return f"qdr-PLANTED-{uuid.uuid4().hex}"


def spellings(secret: str) -> list[bytes]:
    """``secret`` as is, and base64-encoded at each of the three byte alignments."""
    raw = secret.encode()
    forms = [raw]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)
        forms.append(encoded[4 if pad else 0 : -4])  # the part neighbours cannot change
    return forms


def assert_clean(channel: str, content: str | bytes, secrets_: list[str]) -> None:
    """The planted secrets appear nowhere in ``content`` (what ``channel`` showed)."""
    data = content.encode("utf-8", "replace") if isinstance(content, str) else bytes(content)
    for secret in secrets_:
        for form in spellings(secret):
            at = data.find(form)
            if at >= 0:
                context = data[max(0, at - 200) : at + len(form) + 100].replace(form, b"<SECRET>")
                shown = context.decode(errors="replace")
                pytest.fail(f"a planted secret leaked into {channel}:\n...{shown}...")


def files_under(root: str | Path) -> Iterator[tuple[Path, bytes]]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_file():  # not sockets
                try:
                    yield path, path.read_bytes()
                except OSError:  # removed meanwhile (a worker exiting)
                    continue


def assert_files_clean(what: str, root: str | Path, secrets_: list[str]) -> int:
    count = 0
    for path, data in files_under(root):
        assert_clean(f"{what}: {path}", data, secrets_)
        count += 1
    return count


def exception_text(exc: BaseException) -> str:
    """What a user sees of an error: message, repr, attributes and the whole traceback."""
    attrs = {k: repr(v) for k, v in vars(exc).items()}
    return "\n".join(
        [str(exc), repr(exc), json.dumps(attrs), "".join(traceback.format_exception(exc))]
    )


def write_config(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _failing_circuit() -> Any:
    raise RuntimeError("the circuit function failed on purpose")


# ---------------------------------------------------------------- the user file
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o664])
@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[executors.ibm_runtime]\ntoken = "{secret}"\n', "executors.ibm_runtime.token"),
        ('[quantum]\nibmqx_token = "{secret}"\n', "quantum.ibmqx_token"),
        ('IBM_QUANTUM_TOKEN = "{secret}"\n', "IBM_QUANTUM_TOKEN"),
    ],
)
def test_a_config_file_holding_a_secret_must_be_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int, text: str, key: str
) -> None:
    secret = planted()
    path = write_config(tmp_path / "config.toml", text.format(secret=secret), mode)
    monkeypatch.setenv("QDREAMER_CONFIG", str(path))
    for load in (load_config, lambda: parse_description({"cores_per_node": 1})):
        with pytest.raises(CredentialsError) as info:
            load()
        message = str(info.value)
        assert str(path) in message and key in message, message
        assert f"mode is {mode:04o}" in message, message
        assert f"chmod 600 {path}" in message, message
        assert secret not in message


def test_a_private_config_file_with_a_token_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = planted()
    path = write_config(
        tmp_path / "config.toml",
        f'[executors.ibm_runtime]\nlocal = true\ntoken = "{secret}"\n',
        0o600,
    )
    monkeypatch.setenv("QDREAMER_CONFIG", str(path))
    desc = parse_description({"resource_type": "quantum", "quantum": {"executor": "ibm_runtime"}})
    assert desc.quantum is not None and desc.quantum.token == secret and desc.quantum.local
    path.chmod(0o400)  # read-only for its owner is private too
    assert load_config()["executors"]["ibm_runtime"]["token"] == secret


def test_a_config_file_without_a_secret_keeps_normal_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "config.toml", "[pilot]\ncores_per_node = 2\n", 0o644)
    monkeypatch.setenv("QDREAMER_CONFIG", str(path))
    assert parse_description({}).cores_per_node == 2


def test_the_qdreamer_cli_refuses_a_readable_config_file_in_one_line(tmp_path: Path) -> None:
    secret = planted()
    path = write_config(
        tmp_path / "config.toml", f'[executors.ibm_runtime]\ntoken = "{secret}"\n', 0o644
    )
    (tmp_path / "bell.qasm").write_text(BELL_QASM)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["QDREAMER_CONFIG"] = str(path)
    out = run_cli(["run", "bell.qasm"], env, tmp_path, rc=1, timeout=120)
    line = cli_error_line(out)
    assert line.startswith(f"error: CredentialsError: {path} holds a secret"), line
    assert f"chmod 600 {path}" in line
    assert_clean("the CLI's stdout", out.stdout, [secret])
    assert_clean("the CLI's stderr", out.stderr, [secret])


# ---------------------------------------------------------------- redaction and files
def test_log_records_of_pilot_and_dreamer_are_masked_at_every_level(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env_token, configured = planted(), planted()
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", env_token)
    remember(configured)
    install_log_redaction()  # idempotent (pilot's import did it)
    caplog.set_level(logging.DEBUG)
    for name in ("pilot", "pilot.backends.ibm", "dreamer.selector"):
        log = logging.getLogger(name)
        log.debug("debug %s", env_token)
        log.info("info %r", {"token": configured})
        log.warning(f"warning {env_token}")  # noqa: G004 - a careless f-string
        try:
            raise ValueError(f"error carrying {configured}")
        except ValueError:
            log.exception("failed with %s", "an error")
    assert len(caplog.records) == 12
    assert caplog.text.count(MASK) >= 12
    assert_clean("pytest's log capture", caplog.text, [env_token, configured])
    assert redact(f"a{env_token}b{configured}c") == f"a{MASK}b{MASK}c"

    # Other libraries' loggers are the application's to filter (the CLI does).
    foreign = logging.getLogger("some.sdk")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    foreign.addHandler(handler)
    try:
        foreign.warning("sdk says %s", env_token)
    finally:
        foreign.removeHandler(handler)
    assert stream.getvalue() == f"sdk says {MASK}\n"


def test_files_that_could_hold_a_secret_are_written_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.txt"
        write_private(fresh, "x")
        existing = write_config(tmp_path / "existing.txt", "old", 0o644)
        write_private(existing, "new")
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert existing.stat().st_mode & 0o777 == 0o600 and existing.read_text() == "new"

    # The Slurm driver's batch script, written by the real submit() (sbatch faked).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 4242\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (tmp_path / "driver.py").write_text("print('hi')\n")
    job = submit(
        DriverJob(
            driver=str(tmp_path / "driver.py"),
            working_directory=str(tmp_path / "work"),
            environment_setup=("module load python",),
        )
    )
    assert job.job_id == "4242"
    assert Path(job.script).stat().st_mode & 0o777 == 0o600


def test_slurm_batch_scripts_hold_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = planted()
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    desc = parse_description(
        {
            "resource": "slurm://localhost",
            "resource_type": "quantum",
            "working_directory": str(tmp_path),
            "quantum": {"executor": "ibm_runtime", "token": secret, "local": True},
        }
    )
    assert desc.quantum is not None and desc.quantum.token == secret
    script = job_script(SlurmLauncher.job_for("sec", desc, "127.0.0.1:6379"))
    assert "#SBATCH --job-name=qdreamer-sec" in script
    assert_clean("the Slurm pilot's batch script", script, [secret])
    driver = driver_script(DriverJob(driver=str(tmp_path / "d.py"), working_directory="/w"))
    assert_clean("the Slurm driver's batch script", driver, [secret])


# ---------------------------------------------------------------- end to end, in this process
BAD_DESCRIPTIONS = [
    {"quantum": {"executor": "ibm_runtime", "token": "{t}", "locl": True}},
    {"quantum": {"executor": "ibm_runtime", "token": "{t}", "actors": "many"}},
    {"quantum": {"executor": "ibm_runtime", "token": ["{t}"]}},
    {"quantum": {"executor": "ibm_runtim", "token": "{t}"}},
    {"resource_type": "classical", "quantum": {"executor": "ibm_runtime", "token": "{t}"}},
    {"quantum": {"executor": "ibm_runtime", "ibmqx_token": {"value": "{t}"}}},
    {"quantum": {"executor": "ibm_runtime", "token": "{t}"}, "cores_per_node": "{t}"},
]


def _with_secret(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        return {k: _with_secret(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_secret(v, secret) for v in value]
    return value.replace("{t}", secret) if isinstance(value, str) else value


Logs = tuple[pytest.LogCaptureFixture, io.StringIO]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    """Everything logged at DEBUG: pytest's capture and a plain handler on the root logger."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield caplog, stream
    finally:
        root.removeHandler(handler)


@pytest.mark.slow
def test_a_planted_secret_reaches_no_output_channel(
    ray_session: None,
    fake_braket: Any,
    fake_azure: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: Logs,
) -> None:
    import ray

    caplog, stream = debug_logs
    secret = planted()
    # The AWS secret the pilots' workers really sign with (this session's Ray
    # inherited the fake endpoint's environment); it is not planted per test.
    # The same for the Azure workspace's managed identity (its header is the secret).
    watched = [secret, fake_braket.secret_access_key, fake_azure.identity_header]
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", secret)
    config = write_config(
        tmp_path / "config.toml", f'[executors.ibm_runtime]\ntoken = "{secret}"\n', 0o600
    )
    monkeypatch.setenv("QDREAMER_CONFIG", str(config))
    shown: dict[str, Any] = {}
    from tests.fakes.ionq_service import FakeIonQService

    with (
        FakeIonQService(key=secret) as ionq,  # IonQ accepts the planted key
        PilotComputeService(working_directory=tmp_path / "work") as pcs,
    ):
        ibm_desc = {
            "name": "sec-ibm-desc",
            "resource_type": "quantum",
            "cores_per_node": 0.25,
            "quantum": {"executor": "ibm_runtime", "local": True, "token": secret, "seed": 7},
        }
        ibm_file = {  # the token comes from the user file
            "name": "sec-ibm-file",
            "resource_type": "quantum",
            "cores_per_node": 0.25,
            "quantum": {"executor": "ibm_runtime", "local": True, "seed": 7},
        }
        sv1 = {
            "name": "sec-sv1",
            "resource_type": "quantum",
            "cores_per_node": 0.25,
            "quantum": {
                "executor": "braket_sv1",
                "s3_bucket": "qdreamer-secrets",
                "poll_interval_seconds": 0.01,
            },
        }
        ionq_desc = {  # the key in the description, the fake's URL beside it
            "name": "sec-ionq",
            "resource_type": "quantum",
            "quantum": ionq.quantum_config(poll_interval_seconds=0.01),
        }
        azure = {
            "name": "sec-azure",
            "resource_type": "quantum",
            "quantum": fake_azure.quantum_config(
                backends=["ionq.simulator"], poll_interval_seconds=0.01
            ),
        }
        pilots = [pcs.create_pilot(d) for d in (ibm_desc, ibm_file, sv1, ionq_desc, azure)]
        for p in pilots[:2]:  # the planted token really travelled to both IBM pilots
            assert p.config.quantum is not None and p.config.quantum.token == secret
        pcs.initialize_dreamer()

        tasks = [QuantumTask(bell_qiskit(), shots=200, pilot=p.name) for p in pilots]
        refs = [pcs.submit_quantum_task(tasks[0]), *pcs.submit_quantum_tasks(tasks[1:])]
        results = pcs.get_results(refs)
        for result, p in zip(results, pilots, strict=True):
            assert result.pilot == p.name
            assert sum(result.counts.values()) == 200  # fake_manila is noisy: mostly 00/11
            assert result.counts.get("00", 0) + result.counts.get("11", 0) >= 160, result.counts
            assert result.selection is not None

        failing = QuantumTask(_failing_circuit, num_qubits=2, pilot="sec-ibm-desc")
        with pytest.raises(TaskFailedError, match="failed on purpose") as failed:
            pcs.get_results(pcs.submit_quantum_task(failing))
        shown["a failing task's error"] = exception_text(failed.value)
        returned = pcs.get_results([pcs.submit_quantum_task(failing)], return_exceptions=True)[0]
        shown["a failing task's error (return_exceptions)"] = exception_text(returned)

        for i, bad in enumerate(BAD_DESCRIPTIONS):
            desc = {"resource_type": "quantum", **_with_secret(bad, secret)}
            with pytest.raises(ConfigError) as info:
                pcs.create_pilot(desc)
            shown[f"bad description {i}: {info.value.key}"] = exception_text(info.value)

        # A pilot that really uses the token: the IBM service is unreachable here.
        with pytest.raises(PilotStartError, match="could not connect to IBM Quantum") as info:
            pcs.create_pilot(
                {
                    "name": "sec-ibm-cloud",
                    "resource_type": "quantum",
                    "cores_per_node": 0.25,
                    "quantum": {"executor": "ibm_runtime", "token": secret},
                }
            )
        shown["a pilot failing to connect with the token"] = exception_text(info.value)

        shown["repr(service)"] = repr(pcs)
        for p in pilots:
            shown[f"pilot {p.name}: repr/str/resources"] = f"{p!r} {p} {p.resources!r}"
            shown[f"pilot {p.name}: .description"] = json.dumps(p.description)
            shown[f"pilot {p.name}: .config"] = (
                f"{p.config!r} {p.config} {p.config.model_dump()} {p.config.model_dump_json()}"
            )
        shown["parse_description(...) repr"] = repr(parse_description(ibm_desc))
        shown["QuantumTask reprs"] = repr([*tasks, failing])
        for result in results:
            where = f"result of {result.pilot}"
            shown[f"{where}: repr/str"] = f"{result!r} {result}"
            shown[f"{where}: metadata"] = json.dumps(result.metadata, default=repr)
            shown[f"{where}: selection"] = json.dumps(result.selection, default=repr)
            shown[f"{where}: pickled"] = pickle.dumps(result)
            shown[f"{where}: native_bytes"] = result.native_bytes or b""
        work = pcs.working_directory

    session = ray._private.worker._global_node.get_session_dir_path()
    for channel, content in shown.items():
        assert_clean(channel, content, watched)
    assert caplog.records, "nothing was logged"
    assert_clean("log records (caplog.text)", caplog.text, watched)
    for record in caplog.records:
        assert_clean(f"log record {record.name}:{record.lineno}", record.getMessage(), watched)
    assert_clean("the root logger's handler", stream.getvalue(), watched)
    assert_files_clean("the service's working directory", work, watched)
    assert assert_files_clean("the Ray session's files", session, watched) > 0


# ---------------------------------------------------------------- the CLI
@pytest.mark.slow
def test_qdreamer_cli_output_holds_no_secret(ray_session: None, tmp_path: Path) -> None:
    import ray

    secret = planted()
    (tmp_path / "bell.qasm").write_text(BELL_QASM)
    local = write_config(
        tmp_path / "local.toml",
        f'[executors.ibm_runtime]\nlocal = true\ntoken = "{secret}"\n',
        0o600,
    )
    cloud = write_config(
        tmp_path / "cloud.toml", f'[executors.ibm_runtime]\ntoken = "{secret}"\n', 0o600
    )
    env = dict(os.environ, RAY_ADDRESS=ray.get_runtime_context().gcs_address, COLUMNS="200")
    env["IBM_QUANTUM_TOKEN"] = secret
    watched = [secret, env["AWS_SECRET_ACCESS_KEY"]]

    # --debug: the workers' logs come to the CLI's stderr too.
    ok = run_cli(
        [
            "--debug",
            "--log-level",
            "DEBUG",
            "run",
            "bell.qasm",
            "-e",
            "ibm_runtime",
            "-e",
            "braket_sv1",
            "--cpus",
            "0.25",
            "--shots",
            "100",
            "--json",
        ],
        dict(env, QDREAMER_CONFIG=str(local)),
        tmp_path,
    )
    data = json.loads(ok.stdout)
    assert sum(data["counts"].values()) == 100
    assert_clean("`qdreamer run` stdout", ok.stdout, watched)
    assert_clean("`qdreamer run` stderr (DEBUG logs)", ok.stderr, watched)

    # The token is really sent to IBM (unreachable here): the error line.
    failed = run_cli(
        ["--log-level", "DEBUG", "run", "bell.qasm", "-e", "ibm_runtime", "--cpus", "0.25"],
        dict(env, QDREAMER_CONFIG=str(cloud)),
        tmp_path,
        rc=1,
    )
    assert "error: PilotStartError: could not connect to IBM Quantum" in failed.stderr
    assert_clean("`qdreamer run` stdout (failing)", failed.stdout, watched)
    assert_clean("`qdreamer run` stderr (failing)", failed.stderr, watched)


# ---------------------------------------------------------------- a Ray the service starts
#: Run in a fresh process: starts the fake AWS endpoint (with the planted secret)
#: before Ray, so every Ray process inherits the planted credentials, then a
#: service that starts its own Ray (dashboard included), and reports what Ray
#: shows: its state API, the dashboard's REST endpoints, the auth mode, where the
#: dashboard listens, and the session directory (read by the test).
RAY_DRIVER = textwrap.dedent(
    """\
    import json, os, socket, sys, urllib.request
    import psutil, ray
    from ray.util import state
    from tests.fakes.braket_service import FakeBraketService
    from tests.helpers import bell_qiskit

    # Not on the command line: Ray shows a driver's command line (list_jobs' entrypoint).
    secret = os.environ["IBM_QUANTUM_TOKEN"]
    out_path, workdir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fake = FakeBraketService(secret_access_key=secret).start()
    fake.export_env()

    from pilot import PilotComputeService, QuantumTask
    from pilot.errors import TaskFailedError
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    def boom():
        raise RuntimeError("the circuit function failed on purpose")

    report = {"shown": {}}
    shown = report["shown"]
    pcs = PilotComputeService(
        working_directory=workdir, num_cpus=2, ray_init_kwargs={"dashboard_port": port}
    )
    report["owns_ray"] = pcs._owns_ray
    pcs.create_pilot({"name": "ibm", "resource_type": "quantum", "cores_per_node": 0.25,
                      "quantum": {"executor": "ibm_runtime", "local": True, "token": secret}})
    pcs.create_pilot({"name": "sv1", "resource_type": "quantum", "cores_per_node": 0.25,
                      "quantum": {"executor": "braket_sv1", "s3_bucket": "qdreamer-secrets",
                                  "poll_interval_seconds": 0.01}})
    pcs.initialize_dreamer()
    results = pcs.get_results([pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100,
                                                                   pilot=p))
                               for p in ("ibm", "sv1")])
    report["counts"] = [r.counts for r in results]
    try:
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(boom, num_qubits=2, pilot="ibm")))
    except TaskFailedError as exc:
        report["failed"] = str(exc)

    node = ray._private.worker._global_node
    url = "http://" + node.address_info["webui_url"]
    for name in ("list_actors", "list_tasks", "list_workers", "list_jobs", "list_nodes",
                 "list_objects", "list_placement_groups", "list_runtime_envs"):
        # This cluster's address: other Ray instances may run on the machine.
        kwargs = {"limit": 10000, "address": url}
        if name != "list_runtime_envs":
            kwargs["detail"] = True
        rows = getattr(state, name)(**kwargs)
        shown["ray.util.state." + name] = json.dumps(
            [getattr(r, "__dict__", r) for r in rows], default=str)
    actor_ids = [a["actor_id"] for a in json.loads(shown["ray.util.state.list_actors"])]

    token = open(os.environ["RAY_AUTH_TOKEN_PATH"]).read().strip()
    node_id = ray.get_runtime_context().get_node_id()
    paths = ["/api/v0/actors?detail=1&limit=10000", "/api/v0/tasks?detail=1&limit=10000",
             "/api/v0/workers?detail=1", "/api/v0/jobs", "/api/v0/nodes?detail=1",
             "/api/v0/objects?detail=1", "/api/v0/placement_groups?detail=1",
             "/api/v0/runtime_envs", "/api/v0/cluster_events", "/api/v0/tasks/summarize",
             "/api/v0/actors/summarize", "/api/v0/tasks/timeline", "/logical/actors",
             "/nodes?view=summary", "/nodes/" + node_id, "/api/jobs/", "/api/cluster_status",
             "/events"] + ["/logical/actors/" + a for a in actor_ids]
    for path in paths:
        req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=60) as resp:
            shown["GET " + path] = resp.read().decode("utf-8", "replace")

    report["auth_enabled"] = is_token_auth_enabled()
    with urllib.request.urlopen(url + "/api/authentication_mode", timeout=30) as resp:
        report["auth_mode"] = json.loads(resp.read())["authentication_mode"]
    try:
        urllib.request.urlopen(url + "/api/v0/actors", timeout=30)
        report["unauthenticated"] = 200
    except urllib.error.HTTPError as exc:
        report["unauthenticated"] = exc.code
    report["webui_url"] = node.address_info["webui_url"]
    report["node_ip"] = node.node_ip_address
    listening = []
    for info in node.all_processes.get("dashboard", []):
        proc = psutil.Process(info.process.pid)
        for p in [proc, *proc.children(recursive=True)]:
            conns = getattr(p, "net_connections", p.connections)(kind="inet")
            listening += [c.laddr.ip for c in conns
                          if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    report["dashboard_listens_on"] = sorted(set(listening))
    if node.node_ip_address not in ("127.0.0.1", "localhost"):
        try:
            socket.create_connection((node.node_ip_address, port), timeout=5).close()
            report["reachable_on_node_ip"] = True
        except OSError:
            report["reachable_on_node_ip"] = False
    report["session"] = node.get_session_dir_path()
    pcs.cancel()
    report["ray_after_cancel"] = ray.is_initialized()
    fake.stop()
    with open(out_path, "w") as f:
        json.dump(report, f)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_ray_the_service_starts_keeps_auth_on_its_dashboard_on_loopback_and_shows_no_secret(
    tmp_path: Path,
) -> None:
    secret = planted()
    ray_token = tmp_path / "ray_auth_token"
    write_private(ray_token, secrets.token_hex(32))  # not ~/.ray/auth_token
    env = {
        k: v
        for k, v in os.environ.items()
        # RAY_AUTH_MODE unset: token authentication must be on by default.
        if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        RAY_AUTH_TOKEN_PATH=str(ray_token),
        IBM_QUANTUM_TOKEN=secret,  # every Ray process inherits it
    )
    out_path, work = tmp_path / "report.json", tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "-c", RAY_DRIVER, str(out_path), str(work), str(_free_port())],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=480,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(out_path.read_text())
    assert report["owns_ray"] and not report["ray_after_cancel"]
    for counts in report["counts"]:  # fake_manila is noisy: mostly 00/11
        assert sum(counts.values()) == 100 and counts.get("00", 0) + counts.get("11", 0) >= 80
    assert "failed on purpose" in report["failed"]

    # Token authentication stays on; the dashboard answers on loopback only.
    assert report["auth_enabled"] and report["auth_mode"] == "token", report
    assert report["unauthenticated"] == 401, report
    assert report["webui_url"].startswith("127.0.0.1:"), report
    assert report["dashboard_listens_on"] == ["127.0.0.1"], report
    assert report.get("reachable_on_node_ip") in (None, False), report

    watched = [secret, ray_token.read_text()]
    assert_clean("the driver's stdout", proc.stdout, watched)
    assert_clean("the driver's stderr", proc.stderr, watched)
    assert_clean("the failing task's error", report["failed"], watched)
    for channel, content in report["shown"].items():
        assert_clean(channel, content, watched)
    assert assert_files_clean("the Ray session's files", report["session"], [secret]) > 0
    assert_files_clean("the service's working directory", work, [secret])


def test_rays_token_file_is_made_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray 2.60 writes its token file 0644; the service tightens it after starting Ray."""
    from pilot.redaction import tighten_ray_token

    token = tmp_path / "auth_token"
    token.write_text("0123abcd")
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    tighten_ray_token()
    assert token.stat().st_mode & 0o777 == 0o600
    assert token.read_text() == "0123abcd"

"""The ``qdreamer`` command line: ``resources``, ``pilots``, ``run`` and its errors.

Commands run as their own processes (``python -m pilot.cli``), joining this
session's Ray cluster through ``RAY_ADDRESS`` like any driver; afterwards
the cluster must still run and the CLI's pilots must be gone.  Errors are
checked without a cluster: they must come before Ray is touched.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import ray
import typer
from rich.console import Console

from dreamer.ranking import Ranker
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile
from pilot import PilotComputeService
from pilot.cli.main import (
    DEFAULT_FAKE_DEVICES,
    RAY_TOKEN_NOTICE,
    app,
    demo_table,
    executors_table,
    one_line,
    pilot_descriptions,
    pilots_table,
    ranking_table,
)
from pilot.cli.views import ClusterPilot, ranking_rows
from pilot.errors import MissingDependencyError
from pilot.results import QuantumResult
from tests.helpers import BELL_QASM, cli_error_line, run_cli

BELL = BELL_QASM

GHZ3 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

#: Eight qubits (OpenQASM 3): wider than every default fake device (5 and 7 qubits).
WIDE = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[8] q;\nbit[8] c;\nh q[0];\n'
    + "".join(f"cx q[{i}], q[{i + 1}];\n" for i in range(7))
    + "c = measure q;\n"
)

#: Hides IBM's SDK from the CLI in a subprocess (``find_spec`` then raises, as for a
#: package that is not installed), then runs ``qdreamer`` with the remaining arguments.
WITHOUT_IBM = (
    "import sys; sys.modules['qiskit_ibm_runtime'] = None; from pilot.cli.main import main; main()"
)

#: Line 6 calls an undefined gate.
BAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\nfoo q[1];\n'


def cli(
    args: list[str], env: dict[str, str], cwd: Path, *, rc: int = 0
) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, cwd, rc=rc)


error_line = cli_error_line


@pytest.fixture
def offline_env() -> dict[str, str]:
    """No cluster: errors must not need one."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def driver_env(ray_session: None, offline_env: dict[str, str]) -> dict[str, str]:
    return dict(offline_env, RAY_ADDRESS=ray.get_runtime_context().gcs_address)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, text in (("bell", BELL), ("ghz3", GHZ3), ("wide", WIDE), ("bad", BAD)):
        (tmp_path / f"{name}.qasm").write_text(text)
    return tmp_path


def cluster_left_as_it_was() -> None:
    """The CLI joined the cluster: it must not stop it, and must release its pilots."""
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU") == 2


def json_out(out: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(out.stdout)


# ---------------------------------------------------------------- help and errors (no Ray)
@pytest.mark.parametrize("command", ["demo", "executors", "resources", "pilots", "run"])
def test_every_command_help_shows_an_example(
    command: str, offline_env: dict[str, str], tmp_path: Path
) -> None:
    out = cli([command, "--help"], offline_env, tmp_path)
    assert re.search(rf"Example: .*qdreamer {command}\b", out.stdout), out.stdout


@pytest.mark.slow
def test_bad_qasm_is_one_line_naming_the_line(offline_env: dict[str, str], files: Path) -> None:
    for args in (["run", "bad.qasm"], ["resources", "--circuit", "bad.qasm"]):
        line = error_line(cli(args, offline_env, files, rc=1))
        assert line.startswith("error: CircuitError: bad.qasm: OpenQASM 2 line 6:"), line
        assert "'foo'" in line


def test_debug_shows_the_traceback(offline_env: dict[str, str], files: Path) -> None:
    out = cli(["--debug", "run", "bad.qasm"], offline_env, files, rc=1)
    assert "Traceback" in out.stderr and "CircuitError" in out.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "bell.qasm", "--shots", "0"], "Invalid value for '--shots'"),
        (["run", "missing.qasm"], "does not exist"),
        (["run", "bell.qasm", "--objective", "fast"], "unknown objective 'fast'"),
        (["run", "bell.qasm", "--objective", "fidelty"], "did you mean 'fidelity'?"),
        (["resources", "--objective", "balanse"], "did you mean 'balanced'?"),
        (["resources", "-e", "qiskit_locl"], "did you mean 'qiskit_local'"),
        (["resources", "-e", "qiskit_local:fake_lagos"], "takes no device list"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    args: list[str], expected: str, offline_env: dict[str, str], files: Path
) -> None:
    line = error_line(cli(args, offline_env, files, rc=2))
    assert expected in line and "--help" in line, line


def test_pilots_without_a_cluster_says_how_to_give_one(
    offline_env: dict[str, str], tmp_path: Path
) -> None:
    line = error_line(cli(["pilots"], offline_env, tmp_path, rc=1))
    assert "--address" in line and "RAY_ADDRESS" in line
    line = error_line(cli(["pilots", "--address", "127.0.0.1:1"], offline_env, tmp_path, rc=1))
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in line


def test_plot_without_matplotlib_says_how_to_install_it(
    offline_env: dict[str, str], files: Path, tmp_path: Path
) -> None:
    # Hide matplotlib from the subprocess: a package of that name that cannot import.
    hidden = tmp_path / "hide" / "matplotlib"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    env = dict(offline_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hidden.parent), env.get("PYTHONPATH")]))
    line = error_line(cli(["run", "bell.qasm", "--plot", "h.png"], env, files, rc=1))
    assert "pip install matplotlib" in line


# ---------------------------------------------------------------- pure helpers
def test_executor_options_become_pilot_descriptions() -> None:
    arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1"
    descs = pilot_descriptions(
        ["qiskit_local", "qiskit_fake", "qiskit_fake:lagos,fake_perth", f"braket_qpu:{arn}"], 0.5
    )
    assert [d["name"] for d in descs] == [
        "qiskit_local",
        "qiskit_fake",
        "qiskit_fake-1",
        "braket_qpu",
    ]
    assert all(d["resource_type"] == "quantum" and d["cores_per_node"] == 0.5 for d in descs)
    assert descs[0]["quantum"] == {"executor": "qiskit_local"}
    assert descs[1]["quantum"]["backends"] == list(DEFAULT_FAKE_DEVICES)
    assert descs[2]["quantum"]["backends"] == ["lagos", "fake_perth"]
    assert descs[3]["quantum"]["braket_device_arn"] == arn
    with pytest.raises(typer.BadParameter, match="holds one device"):
        pilot_descriptions(["braket_local:braket_sv,braket_dm"], 1)


def test_multi_line_messages_become_one_line() -> None:
    assert one_line("no resource can run x:\n  a/b: too small\n  c/d: offline") == (
        "no resource can run x: a/b: too small; c/d: offline"
    )


def test_ranking_rows_number_feasible_resources_and_keep_reasons() -> None:
    caps = [
        ResourceCapabilities("big", "qiskit_local", "local", 10, pilot="p"),
        ResourceCapabilities("small", "qiskit_local", "local", 2, pilot="p"),
    ]
    profile = WorkloadProfile.unknown(3, 100)
    req = TaskRequirements(name="t", num_qubits=3)
    ranked = Ranker("fidelity").rank(req, profile, caps, {c.key: ResourceStatus() for c in caps})
    rows = ranking_rows(ranked)
    assert [(r["resource"], r["rank"], r["feasible"]) for r in rows] == [
        ("big", 1, True),
        ("small", None, False),
    ]
    assert rows[1]["reasons"] == ["needs 3 qubits, has 2"]
    json.dumps(rows)


def test_missing_matplotlib_is_a_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from pilot.viz.plots import write_result_plot

    result = QuantumResult(
        "t",
        "bell",
        {"00": 1},
        1,
        None,
        None,
        "aer",
        "qiskit_local",
        "p",
        "qiskit",
        "native",
        0.0,
        0.0,
        0.0,
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match="pip install matplotlib"):
        write_result_plot(result, Path("never.png"))


# ---------------------------------------------------------------- against the session's Ray
@pytest.mark.slow
def test_resources_json_ranks_the_ideal_simulator_first_for_fidelity(
    driver_env: dict[str, str], files: Path
) -> None:
    args = ["resources", "--json", "--circuit", "ghz3.qasm", "--objective", "fidelity"]
    args += ["-e", "qiskit_local", "-e", "qiskit_fake:fake_manila,fake_lagos"]
    rows = json_out(cli(args, driver_env, files))
    assert (rows[0]["pilot"], rows[0]["resource"]) == ("qiskit_local", "aer_simulator")
    assert {r["resource"] for r in rows} == {"aer_simulator", "fake_manila", "fake_lagos"}
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert all(r["feasible"] and r["reasons"] == [] for r in rows)
    assert rows[0]["executor"] == "qiskit_local" and rows[0]["estimated_fidelity"] == 1.0
    fidelities = [r["estimated_fidelity"] for r in rows]
    assert fidelities == sorted(fidelities, reverse=True) and fidelities[-1] < 0.99
    assert all(len(r["layout"]) == 3 for r in rows[1:])  # placed on the devices
    cluster_left_as_it_was()


@pytest.mark.slow
def test_resources_json_marks_a_too_wide_circuit_infeasible_with_the_reason(
    driver_env: dict[str, str], files: Path
) -> None:
    rows = json_out(cli(["resources", "--json", "--circuit", "wide.qasm"], driver_env, files))
    by_name = {r["resource"]: r for r in rows}
    assert set(by_name) == {"aer_simulator", *DEFAULT_FAKE_DEVICES}
    assert rows[0]["resource"] == "aer_simulator" and rows[0]["rank"] == 1
    for name in DEFAULT_FAKE_DEVICES:
        row = by_name[name]
        assert not row["feasible"] and row["rank"] is None
        assert row["reasons"] == [f"needs 8 qubits, has {row['qubits']}"]
    cluster_left_as_it_was()


@pytest.mark.slow
def test_resources_table(driver_env: dict[str, str], files: Path) -> None:
    out = cli(["resources", "-e", "qiskit_local", "--objective", "speed"], driver_env, files)
    assert "QDREAMER ranking for ghz3 (3 qubits, 1000 shots), objective speed" in out.stdout
    for header in ("rank", "resource", "pilot", "qubits", "fidelity", "queue", "wait", "why not"):
        assert header in out.stdout
    row = next(line for line in out.stdout.splitlines() if "aer_simulator" in line)
    cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
    assert cells == ["1", "aer_simulator", "qiskit_local", "29", "1.000", "0", "0s", "free", "yes"]
    cluster_left_as_it_was()


@pytest.mark.slow
def test_run_prints_counts_summing_to_shots(driver_env: dict[str, str], files: Path) -> None:
    out = cli(["run", "bell.qasm", "--shots", "1000", "--seed", "7"], driver_env, files)
    head = out.stdout.splitlines()[0]
    assert head.startswith("bell: 1000 shots on aer_simulator (pilot qiskit_local"), head
    rows = re.findall(r"^\W*([01]{2})\W+(\d+)\W+(0\.\d{3}|1\.000)\W*$", out.stdout, re.M)
    counts = {k: int(v) for k, v, _ in rows}
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    cluster_left_as_it_was()


@pytest.mark.slow
def test_run_json_lets_qdreamer_choose(driver_env: dict[str, str], files: Path) -> None:
    args = ["run", "bell.qasm", "--shots", "500", "--json", "--objective", "fidelity"]
    args += ["-e", "qiskit_fake:fake_manila", "-e", "qiskit_local", "--cpus", "0.25"]
    data = json_out(cli(args, driver_env, files))
    assert sum(data["counts"].values()) == 500 and set(data["counts"]) <= {"00", "11"}
    assert (data["resource"], data["pilot"], data["executor"]) == (
        "aer_simulator",
        "qiskit_local",
        "qiskit_local",
    )
    assert data["objective"] == "fidelity" and data["estimated_fidelity"] == 1.0
    assert data["shots"] == 500 and data["plot"] is None
    cluster_left_as_it_was()


@pytest.mark.slow
def test_run_plot_writes_a_png(driver_env: dict[str, str], files: Path) -> None:
    args = ["run", "bell.qasm", "--shots", "200", "--json", "--plot", "bell.png"]
    data = json_out(cli(args, driver_env, files))
    assert data["plot"] == "bell.png"
    assert (files / "bell.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_pilots_lists_the_pilots_a_service_holds(
    driver_env: dict[str, str], tmp_path: Path
) -> None:
    with PilotComputeService(working_directory=tmp_path / "work") as pcs:
        pcs.create_pilot(
            {
                "resource_type": "quantum",
                "name": "cli-probe",
                "cores_per_node": 0.25,
                "quantum": {"executor": "qiskit_fake", "backends": ["fake_manila"]},
            }
        )
        pcs.create_pilot({"name": "cli-cpu", "cores_per_node": 0.5})
        pcs.create_pilot(  # the defaults: it holds nothing; its two actors are one pilot
            {
                "name": "cli-shared",
                "resource_type": "quantum",
                "quantum": {"actors": 2, "executor": "qiskit_local"},
            }
        )
        listed = {p["name"]: p for p in json_out(cli(["pilots", "--json"], driver_env, tmp_path))}
        probe, cpu, shared = listed["cli-probe"], listed["cli-cpu"], listed["cli-shared"]
        assert shared["holds"] == "shares the node" and shared["executor"] == "qiskit_local"
        assert shared["actors"] == ["pilot-cli-shared-0", "pilot-cli-shared-1"]
        assert (probe["holds"], cpu["holds"]) == ("0.25 CPU", "0.5 CPU")
        assert (probe["kind"], probe["state"], probe["executor"]) == (
            "quantum",
            "RUNNING",
            "qiskit_fake",
        )
        assert probe["devices"] == ["fake_manila"] and probe["actors"] == ["pilot-cli-probe"]
        assert probe["resources"] == {"CPU": 0.25, "GPU": 0.0, "bundles": 1}
        assert (cpu["kind"], cpu["state"], cpu["executor"]) == ("classical", "RUNNING", None)
        assert cpu["resources"] == {"CPU": 0.5, "GPU": 0.0, "bundles": 1}
        table = cli(["pilots"], driver_env, tmp_path).stdout
        row = next(line for line in table.splitlines() if "cli-probe" in line)
        assert "quantum" in row and "RUNNING" in row and "fake_manila" in row
        assert "0.25 CPU" in row
        row = next(line for line in table.splitlines() if "cli-shared" in line)
        assert "shares the node" in row and "aer_simulator" in row
        # 'auto' (here: RAY_ADDRESS) resolves; the title names the cluster joined.
        table = cli(["pilots", "--address", "auto"], driver_env, tmp_path).stdout
        assert f"Pilots on {driver_env['RAY_ADDRESS']}" in table and "on auto" not in table
    after = json_out(cli(["pilots", "--json"], driver_env, tmp_path))
    assert not {"cli-probe", "cli-cpu", "cli-shared"} & {p["name"] for p in after}
    cluster_left_as_it_was()


@pytest.mark.slow
def test_run_without_a_feasible_resource_is_one_line(
    driver_env: dict[str, str], files: Path
) -> None:
    args = ["run", "wide.qasm", "-e", "qiskit_fake:fake_manila", "--cpus", "0.25"]
    out = cli(args, driver_env, files, rc=1)
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "error: NoFeasibleResourceError: no quantum resource can run task 'wide': "
        "qiskit_fake/fake_manila: needs 8 qubits, has 5"
    ], out.stderr
    cluster_left_as_it_was()


# ---------------------------------------------------------------- help, dependencies, layout
def render(table: Any, width: int) -> str:
    """``table`` as a terminal ``width`` columns wide shows it (no colour)."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue()


def column(text: str, index: int) -> str:
    """Column ``index`` of a rendered table's body, its lines joined without spaces
    (a folded name reads whole again)."""
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    return "".join(cells[index].replace(" ", "") for cells in rows)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["run", "--help"], ["resources", "--help"], ["slurm", "submit", "--help"]],
)
def test_help_shows_flags_without_a_value(
    args: list[str], offline_env: dict[str, str], tmp_path: Path
) -> None:
    out = cli(args, offline_env, tmp_path).stdout
    assert "<bool>" not in out, out
    flag = "--debug" if args == ["--help"] else "--json"
    line = next(line for line in out.splitlines() if line.startswith(f"│ {flag} "))
    assert re.search(rf"{flag}\s+(Show|Print)", line), line


def test_cpus_defaults_to_the_pilots_own_reservation() -> None:
    command: Any = typer.main.get_command(app)
    for name in ("run", "resources"):
        (cpus,) = [p for p in command.commands[name].params if p.name == "cpus"]
        assert cpus.default is None, name
    (desc,) = pilot_descriptions(["qiskit_local"], None)
    assert "cores_per_node" not in desc
    (desc,) = pilot_descriptions(["qiskit_local"], 0.5)
    assert desc["cores_per_node"] == 0.5


@pytest.mark.parametrize("width", [80, 120])
def test_executors_table_shows_extras_in_install_commands(
    width: int, offline_env: dict[str, str], tmp_path: Path
) -> None:
    """Rich took ``[ibm]`` for markup and printed ``pip install 'qdreamer'``."""
    env = dict(offline_env, COLUMNS=str(width))
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_IBM, "executors"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    for executor in ("qiskit_fake", "ibm_runtime"):
        assert "no" in rows[executor].split() and "pip install 'qdreamer[ibm]'" in rows[executor]
    assert "pip install 'qdreamer'" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    summary = "IBM fake devices" in out
    assert summary == (width == 120), out  # at 80 columns the summary column is left out


def test_executors_table_escapes_markup() -> None:
    rows = [
        {"executor": "x[y]", "installed": False, "install": "pip install 'q[a,b]'", "summary": "s"}
    ]
    for width in (80, 120):
        text = render(executors_table(rows, width), width)
        assert "x[y]" in text and "pip install 'q[a,b]'" in text


@pytest.mark.parametrize("args", [["run", "bell.qasm"], ["resources"]])
def test_missing_sdk_is_refused_before_ray_starts(
    args: list[str], offline_env: dict[str, str], files: Path
) -> None:
    """The SDK check comes first: with Ray asked for at an address where nothing
    listens, the error is still the missing SDK, not the unreachable cluster."""
    env = dict(offline_env, RAY_ADDRESS="127.0.0.1:1")
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_IBM, *args, "-e", "qiskit_local", "-e", "qiskit_fake"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=files,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert error_line(out) == (
        "error: MissingDependencyError: executor 'qiskit_fake' needs the Python package that "
        "provides 'qiskit_ibm_runtime'; install it with: pip install 'qdreamer[ibm]'"
    )


def _result(executor: str, backend: str, path: str, counts: dict[str, int]) -> QuantumResult:
    return QuantumResult(
        "t", "bell", counts, 1000, None, None, backend, executor, executor, "qiskit", path,
        0.0, 0.0, 0.123456,
    )  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
def test_demo_table_keeps_every_number_whole(width: int) -> None:
    results = [
        _result("qiskit_local", "aer_simulator", "native", {"00": 512, "11": 488}),
        _result("pennylane_lightning", "lightning.qubit", "portable", {"00": 508, "11": 492}),
        _result("braket_local", "braket_sv", "portable", {"00": 473, "11": 527}),
    ]
    text = render(demo_table(results, [1.0, 0.998, 1.0], 1000, width), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    assert "P(00,11)" in text and "run s" in text
    for executor, score in (("qiskit_local", "1.000"), ("pennylane_lightning", "0.998")):
        row = next(line for line in text.splitlines() if executor in line)
        assert score in row and "0.123" in row and "lightning.qubit" in text
    assert ("portable" in text) == (width == 120)  # no room for the path column at 80


@pytest.mark.parametrize("width", [80, 120])
def test_ranking_table_keeps_every_number_whole(width: int) -> None:
    base = {
        "fidelity_model": "x",
        "queue_is_lower_bound": False,
        "status_stale": False,
        "priced": True,
        "currency": "USD",
        "feasible": True,
        "reasons": [],
    }
    rows = [
        dict(base, rank=1, resource="aer_simulator_noisy_fake_kolkata", pilot="qiskit_fake",
             qubits=27, estimated_fidelity=0.91234, queue_depth=12, expected_wait_seconds=1234.5,
             estimated_cost=0.01234),
        dict(base, rank=None, resource="fake_manila", pilot="qiskit_fake-1", qubits=5,
             estimated_fidelity=0.8, queue_depth=0, expected_wait_seconds=0.5, priced=False,
             estimated_cost=0.0, feasible=False, reasons=["needs 8 qubits, has 5"]),
    ]  # fmt: skip
    text = render(ranking_table(rows, "QDREAMER ranking", width), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    for number in ("0.912", "20.6m", "0.0123", "0.800", "0.500s"):
        assert number in text, (number, text)
    assert "aer_simulator_noisy_fake_kolkata" in column(text, 1)
    assert "needs8qubits,has5" in column(text, -1)


def test_pilots_table_escapes_and_keeps_numbers() -> None:
    found = [
        ClusterPilot("gpu[0]-pilot-with-a-long-name", "classical", "RUNNING", 12.5, 1.0),
        ClusterPilot("q", "quantum", "RUNNING", 0.25, 0.0, 1, executor="qiskit_fake",
                     devices=["fake_manila", "fake_lagos", "fake_perth", "fake_kolkata"]),
    ]  # fmt: skip
    for width in (80, 120):
        text = render(pilots_table(found, "Pilots on 10.0.0.5:6379"), width)
        assert "gpu[0]-pilot-with-a-long-name" in column(text, 0)
        assert "fake_manila,fake_lagos,fake_perth,fake_kolkata" in column(text, -1)
        assert "12.5" in text and "0.25" in text and "…" not in text


@pytest.mark.slow
def test_a_command_starting_ray_prints_no_token_notice(
    offline_env: dict[str, str], files: Path
) -> None:
    """A fresh shell (no RAY_AUTH_MODE): the local Ray the CLI starts uses token
    authentication, and Ray's notice saying so (and how to turn it off) is not printed."""
    env = {k: v for k, v in offline_env.items() if k != "RAY_AUTH_MODE"}
    env["COLUMNS"] = "80"
    out = cli(["demo", "--shots", "100"], env, files)
    assert RAY_TOKEN_NOTICE not in out.stderr and "RAY_AUTH_MODE" not in out.stderr, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    rows = [line for line in out.stdout.splitlines() if "00:" in line]
    assert len(rows) == 3 and "…" not in out.stdout, out.stdout
    for row in rows:
        assert re.search(r"│ +[01]\.\d{3} │ +\d+\.\d{3} │$", row), row


@pytest.mark.slow
def test_resources_ranks_ionq_and_azure_targets_beside_ibm_and_braket_with_cost_and_queue(
    driver_env: dict[str, str], files: Path, fake_braket: Any, fake_azure: Any
) -> None:
    """``qdreamer resources`` with an IonQ pilot (the fake IonQ API) and an Azure Quantum
    workspace (the fake workspace) beside an IBM device and Braket's SV1: every target
    ranked, each with its price and its provider's queue."""
    from tests.fakes.ionq_service import FakeIonQService

    azure_targets = ["ionq.simulator", "ionq.qpu.aria-1", "rigetti.qpu.ankaa-3"]
    with FakeIonQService() as ionq:
        # The user file (owner-only: it holds the IonQ key), as on a cluster whose
        # workers do not see the driver's environment.
        config = files / "config.toml"
        config.write_text(
            "[executors.ionq]\n"
            f'ionq_api_key = "{ionq.key}"\n'
            f'ionq_url = "{ionq.url}"\n'
            "[executors.azure_quantum]\n"
            f'resource_id = "{fake_azure.resource_id}"\n'
            f'location = "{fake_azure.LOCATION}"\n'
            f'url = "{fake_azure.url}"\n'
            "[executors.braket_sv1]\n"
            's3_bucket = "qdreamer-test"\n'
        )
        config.chmod(0o600)
        env = {**driver_env, "QDREAMER_CONFIG": str(config)}
        args = ["resources", "--json", "--circuit", "ghz3.qasm", "--objective", "balanced"]
        args += ["-e", "qiskit_fake:fake_perth", "-e", "braket_sv1"]
        args += ["-e", "ionq:simulator,qpu.forte-1"]
        args += ["-e", "azure_quantum:" + ",".join(azure_targets)]
        rows = json_out(cli(args, env, files))
    by_name = {r["resource"]: r for r in rows}
    assert set(by_name) == {"fake_perth", "SV1", "simulator", "qpu.forte-1", *azure_targets}
    assert all(r["feasible"] for r in rows), [(r["resource"], r["reasons"]) for r in rows]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    # Priced from conf/pricing.toml: IonQ's QPUs per gate-shot plus their per-job
    # charge (directly and on Azure), the simulators free.
    assert by_name["qpu.forte-1"]["estimated_cost"] > 97.5
    assert by_name["ionq.qpu.aria-1"]["estimated_cost"] > 97.5
    assert by_name["simulator"]["estimated_cost"] == 0
    assert by_name["ionq.simulator"]["estimated_cost"] == 0
    # The providers' queues, read before ranking: Azure's averageQueueTime is the wait.
    waits = {name: by_name[name]["expected_wait_seconds"] for name in azure_targets}
    assert waits == {"ionq.simulator": 3, "rigetti.qpu.ankaa-3": 1800, "ionq.qpu.aria-1": 5400}
    cluster_left_as_it_was()

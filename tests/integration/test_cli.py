"""The ``qdreamer`` command line: ``resources``, ``pilots``, ``run`` and its errors.

Commands run as their own processes (``python -m pilot.cli``), joining this
session's Ray cluster through ``RAY_ADDRESS`` like any driver; afterwards
the cluster must still run and the CLI's pilots must be gone.  Errors are
checked without a cluster: they must come before Ray is touched.
"""

from __future__ import annotations

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

from dreamer.ranking import Ranker
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile
from pilot import PilotComputeService
from pilot.cli import DEFAULT_FAKE_DEVICES, one_line, pilot_descriptions
from pilot.errors import MissingDependencyError
from pilot.inspect import ranking_rows
from pilot.results import QuantumResult
from tests.helpers import cli_error_line, run_cli

BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

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
    from pilot.plots import write_result_plot

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


def test_resources_table(driver_env: dict[str, str], files: Path) -> None:
    out = cli(["resources", "-e", "qiskit_local", "--objective", "speed"], driver_env, files)
    assert "QDREAMER ranking for ghz3 (3 qubits, 1000 shots), objective speed" in out.stdout
    for header in ("rank", "resource", "pilot", "qubits", "fidelity", "queue", "wait", "why not"):
        assert header in out.stdout
    row = next(line for line in out.stdout.splitlines() if "aer_simulator" in line)
    cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
    assert cells == ["1", "aer_simulator", "qiskit_local", "29", "1.000", "0", "0s", "free", "yes"]
    cluster_left_as_it_was()


def test_run_prints_counts_summing_to_shots(driver_env: dict[str, str], files: Path) -> None:
    out = cli(["run", "bell.qasm", "--shots", "1000", "--seed", "7"], driver_env, files)
    head = out.stdout.splitlines()[0]
    assert head.startswith("bell: 1000 shots on aer_simulator (pilot qiskit_local"), head
    rows = re.findall(r"^\W*([01]{2})\W+(\d+)\W+(0\.\d{3}|1\.000)\W*$", out.stdout, re.M)
    counts = {k: int(v) for k, v, _ in rows}
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    cluster_left_as_it_was()


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


def test_run_plot_writes_a_png(driver_env: dict[str, str], files: Path) -> None:
    args = ["run", "bell.qasm", "--shots", "200", "--json", "--plot", "bell.png"]
    data = json_out(cli(args, driver_env, files))
    assert data["plot"] == "bell.png"
    assert (files / "bell.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
        listed = {p["name"]: p for p in json_out(cli(["pilots", "--json"], driver_env, tmp_path))}
        probe, cpu = listed["cli-probe"], listed["cli-cpu"]
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
    after = json_out(cli(["pilots", "--json"], driver_env, tmp_path))
    assert not {"cli-probe", "cli-cpu"} & {p["name"] for p in after}
    cluster_left_as_it_was()


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

"""The README's tour, the examples and ``qdreamer demo`` run as written.

Each runs as its own driver process that joins this session's Ray cluster
through ``RAY_ADDRESS`` (the path a driver on a Ray cluster takes), and the
cluster must still be running afterwards: a service never stops a Ray it
did not start.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import ray

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def driver_env(ray_session: None) -> dict[str, str]:
    env = dict(os.environ)
    env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    return env


def run_driver(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2
    return out


def test_readme_tour(driver_env: dict[str, str], tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## A tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code is not None
    script = tmp_path / "tour.py"
    script.write_text(code.group(1).replace('"/tmp/qd"', repr(str(tmp_path / "work"))))
    out = run_driver([sys.executable, str(script)], driver_env, tmp_path)
    lines = out.stdout.strip().splitlines()
    assert re.match(r"\{'00': \d+, '11': \d+\} aer_simulator qiskit_local-0", lines[0]), lines
    assert lines[1] in {"000", "111"}


def test_readme_hybrid_programs(driver_env: dict[str, str], tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Hybrid programs", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "hybrid.py"
    script.write_text(code.group(1).replace('"/tmp/qd"', repr(str(tmp_path / "work"))))
    out = run_driver(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script)], driver_env, tmp_path
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "11"
    values = [v for row in ast.literal_eval(lines[1]) for v in row]
    assert values == pytest.approx([1, 1, 1, 0, 1, -1], abs=1e-9)


def test_quickstart_example(driver_env: dict[str, str], tmp_path: Path) -> None:
    out = run_driver(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")], driver_env, tmp_path
    )
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert len(rows) == 9
    assert {r[0] for r in rows} == {"qiskit_local", "pennylane_lightning", "braket_local"}
    assert all(r[-1] == "1.000" for r in rows)  # GHZ: only 000 and 111


def test_qdreamer_demo(driver_env: dict[str, str], tmp_path: Path) -> None:
    import json

    out = run_driver(
        [sys.executable, "-m", "pilot.cli", "demo", "--shots", "200", "--json"],
        driver_env,
        tmp_path,
    )
    data: dict[str, Any] = json.loads(out.stdout[out.stdout.index("{") :])
    assert [r["executor"] for r in data["results"]] == [
        "qiskit_local",
        "pennylane_lightning",
        "braket_local",
    ]
    assert all(
        r["bell_fraction"] == 1.0 and sum(r["counts"].values()) == 200 for r in data["results"]
    )
    assert data["skipped"] == []


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pilot.cli", "demo", "--shots", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "Invalid value for '--shots'" in out.stderr and "Traceback" not in out.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "pilot.cli", "executors", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    import json

    names = {row["executor"] for row in json.loads(listing.stdout)}
    assert {
        "qiskit_local",
        "qiskit_fake",
        "ibm_runtime",
        "pennylane_default",
        "pennylane_lightning",
        "braket_local",
        "braket_sv1",
    } <= names

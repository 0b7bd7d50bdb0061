"""tests/ci_complete.py: in CI a run that leaves out a test fails; elsewhere it changes nothing.

Each case runs pytest in a small project of its own (a few tenths of a second).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TESTS = """
import pytest

def test_one():
    pass

def test_two():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    raise AssertionError
"""


def run(
    project: Path, *args: str, ci: str | None = None, slurm: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "QDREAMER_REQUIRE_SLURM")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # ~0.3 s a run instead of ~1 s
    if ci is not None:
        env["CI"] = ci
    if slurm is not None:
        env["QDREAMER_REQUIRE_SLURM"] = slurm
    command = [sys.executable, "-m", "pytest", "-p", "tests.ci_complete", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = t\n")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "test_a.py").write_text(TESTS)
    (tmp_path / "t" / "test_b.py").write_text("def test_b():\n    pass\n")
    return tmp_path


@pytest.mark.parametrize(("ci", "slurm"), [("true", None), ("1", None), (None, "1")])
def test_a_complete_ci_run_passes(project: Path, ci: str | None, slurm: str | None) -> None:
    out = run(project, ci=ci, slurm=slurm)
    assert out.returncode == 0, out.stdout
    assert "3 passed, 1 xfailed" in out.stdout, out.stdout  # an xfail ran: not left out
    assert "left out" not in out.stdout


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["-m", "not slow"], None),  # deselects nothing (no test is slow): passes
        (["-k", "one or b"], "deselected: t/test_a.py::test_two"),
        (["--deselect", "t/test_b.py::test_b"], "deselected: t/test_b.py::test_b"),
        (["t/test_a.py"], "instead of testpaths ['t']"),
        (["--ignore", "t/test_b.py"], "--ignore"),
    ],
)
def test_a_ci_run_that_leaves_tests_out_fails(
    project: Path, args: list[str], why: str | None
) -> None:
    out = run(project, *args, ci="true")
    if why is None:
        assert out.returncode == 0, out.stdout
        return
    assert out.returncode == 1, out.stdout
    assert "tests left out of a CI run" in out.stdout and why in out.stdout, out.stdout
    # Outside CI the same run passes.
    assert run(project, *args).returncode == 0


def test_skipped_tests_fail_a_ci_run(project: Path) -> None:
    (project / "t" / "test_c.py").write_text(
        "import pytest\n\n@pytest.mark.skip(reason='not here')\ndef test_c():\n    pass\n\n"
        "def test_d():\n    pytest.skip('no device')\n"
    )
    (project / "t" / "test_e.py").write_text("import pytest\n\npytest.importorskip('nosuchmod')\n")
    out = run(project, slurm="1")
    assert out.returncode == 1, out.stdout
    for why in (
        "skipped: t/test_c.py::test_c: Skipped: not here",
        "skipped: t/test_c.py::test_d: Skipped: no device",
        "skipped at collection: t/test_e.py",
    ):
        assert why in out.stdout, out.stdout
    assert run(project, ci="0").returncode == 0  # CI=0 is not CI


def test_a_ci_run_without_tests_keeps_exit_code_5(project: Path) -> None:
    out = run(project, "-k", "nothing_matches", ci="true")
    assert out.returncode == 5, out.stdout
    assert run(project, "-k", "nothing_matches").returncode == 5


def test_under_xdist_the_workers_report_what_they_left_out(project: Path) -> None:
    """With ``-n`` the workers collect: deselections and modules skipped at collection
    reach the controller, which fails the run (each reported once)."""
    (project / "t" / "test_e.py").write_text("import pytest\n\npytest.importorskip('nosuchmod')\n")
    xdist = ["-p", "xdist", "-n", "2"]
    out = run(project, *xdist, "-k", "one or test_b or test_e", ci="true")
    assert out.returncode == 1, out.stdout
    for why in ("deselected: t/test_a.py::test_two", "skipped at collection: t/test_e.py"):
        assert out.stdout.count(why) == 1, out.stdout
    (project / "t" / "test_e.py").unlink()
    assert run(project, *xdist, ci="true").returncode == 0

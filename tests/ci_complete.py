"""In CI every test runs: a run that leaves any out fails (a pytest plugin; tests/conftest.py
loads it).

Strict when ``QDREAMER_REQUIRE_SLURM=1`` (``.ci/run`` sets it) or when the ``CI``
variable is set to anything but ``""``, ``0`` or ``false``.  Then the session
fails (exit code 1, the reasons printed at the end) if any test was

* deselected (``-m``, ``-k``, ``--deselect``, ``--last-failed`` ...),
* skipped (a ``skip``/``skipif`` mark, ``pytest.skip``, ``importorskip``, a module
  skipped at collection), or
* never collected: the run was given paths other than ``testpaths``, or
  ``--ignore``/``--ignore-glob``.

Under pytest-xdist (``-n``) the workers collect: each hands what it left out
to the controller, which decides.  A run that collected no test at all keeps
pytest's own exit code 5 (also a failure).  Outside CI nothing changes, so
``pytest -m "not slow and not slurm"`` (the quick tier in README.md) works as usual.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def strict() -> bool:
    """Is this a CI run, in which no test may be left out?"""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get("QDREAMER_REQUIRE_SLURM") == "1" or ci not in ("", "0", "false")


def _reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


#: Under pytest-xdist, what a worker passes to the controller (``workeroutput``): the
#: deselections, which only workers see (they collect; collection reports and test
#: reports reach the controller anyway).
WORKER_KEY = "qdreamer_left_out"
WORKER_SEES = ("deselected: ",)


class CompleteRun:
    """Records every test left out of the run; fails the session if there was one."""

    def __init__(self, config: pytest.Config) -> None:
        self.left_out: list[str] = []
        testpaths = config.getini("testpaths")
        if testpaths:
            wanted = {(config.rootpath / p).resolve() for p in testpaths}
            here = Path(config.invocation_params.dir)
            given = {(here / arg.split("::")[0]).resolve() for arg in config.args}
            if given != wanted:
                self.left_out.append(f"run on {config.args} instead of testpaths {testpaths}")
        for option in ("ignore", "ignore_glob"):
            if config.getoption(option, None):
                self.left_out.append(f"--{option.replace('_', '-')} {config.getoption(option)}")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.left_out += [f"deselected: {item.nodeid}" for item in items]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.left_out.append(f"skipped at collection: {report.nodeid}: {_reason(report)}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.left_out.append(f"skipped: {report.nodeid}: {_reason(report)}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # a pytest-xdist worker: what only it saw goes up
            workeroutput[WORKER_KEY] = [x for x in self.left_out if x.startswith(WORKER_SEES)]
            return
        if self.left_out and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """(pytest-xdist's controller) Workers collect, so only they see deselections;
        every worker collects every test, so each is taken once."""
        seen = set(self.left_out)
        for line in getattr(node, "workeroutput", {}).get(WORKER_KEY, []):
            if line not in seen:
                seen.add(line)
                self.left_out.append(line)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.left_out:
            return
        terminalreporter.section("tests left out of a CI run", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(self.left_out)} left out, and CI runs every test "
            "(QDREAMER_REQUIRE_SLURM=1 or CI is set; tests/ci_complete.py):"
        )
        for line in self.left_out[:50]:
            terminalreporter.write_line(f"  {line}")
        if len(self.left_out) > 50:
            terminalreporter.write_line(f"  ... and {len(self.left_out) - 50} more")


def pytest_configure(config: pytest.Config) -> None:
    if strict():
        config.pluginmanager.register(CompleteRun(config), "qdreamer-complete-run")

"""Shared fixtures: one real local Ray per test session, and the fake AWS and Azure endpoints.

The fake Braket/S3 service (``tests/fakes/braket_service.py``) is an HTTP
server on 127.0.0.1 reached by the real boto3 clients through the standard
``AWS_ENDPOINT_URL_*`` variables; the fake Azure Quantum workspace
(``tests/fakes/azure_quantum_service.py``) an HTTPS server reached through a
pilot's ``quantum.url`` and the standard ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``
(a managed identity) and ``REQUESTS_CA_BUNDLE`` variables.  Both start before
Ray so that Ray's worker processes inherit their environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

#: In CI (QDREAMER_REQUIRE_SLURM=1 or CI set) a run that leaves out any test fails.
pytest_plugins = ["tests.ci_complete"]


@pytest.fixture(scope="session")
def fake_braket() -> Iterator[Any]:
    from tests.fakes.braket_service import start_fake_braket

    service = start_fake_braket()
    try:
        yield service
    finally:
        service.__exit__(None, None, None)


@pytest.fixture(scope="session")
def fake_azure() -> Iterator[Any]:
    """The fake Azure Quantum workspace (it needs no Azure SDK itself)."""
    from tests.fakes.azure_quantum_service import FakeAzureQuantum

    with FakeAzureQuantum() as service:
        yield service


@pytest.fixture(scope="session")
def ray_session(
    request: pytest.FixtureRequest,
    fake_braket: Any,
    fake_azure: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """``ray.init(num_cpus=2)`` once per session (with the fake AWS endpoint in the env).

    The dashboard (on 127.0.0.1, a free port) runs only when a collected test
    uses the ``ray_dashboard`` fixture (``tests/integration/test_dashboard.py``).
    """
    import ray

    fake_braket.export_env()
    fake_azure.export_env()
    dashboard = any("ray_dashboard" in item.fixturenames for item in request.session.items)
    ray.init(num_cpus=2, include_dashboard=dashboard, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    """moto's S3 as a real HTTP server on 127.0.0.1 (``tests/fakes/s3_server.py``)."""
    from tests.fakes.s3_server import start_moto_s3

    server = start_moto_s3()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("work")


def _slurm_answers() -> str | None:
    """``None`` when ``sinfo`` answers, else why not."""
    import shutil
    import subprocess

    if shutil.which("sinfo") is None:
        return "sinfo is not installed"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo did not answer: {exc}"
    states = set(out.stdout.split())
    if out.returncode != 0 or not states & {"idle", "mixed", "allocated", "completing"}:
        return f"sinfo exit {out.returncode}, node states {sorted(states)} {out.stderr.strip()}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker gets a temporary directory of its own.

    Ray keeps its sessions, and the address of the cluster ``ray start`` last
    started (which ``ray.init()`` without an address joins), under ``$TMPDIR/ray``:
    with one ``TMPDIR`` per worker, a driver of one worker (or a process it starts,
    which inherits it) never finds another worker's cluster.
    """
    import os
    import tempfile
    from pathlib import Path

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and not os.environ.get("QDREAMER_TEST_TMPDIR"):
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]  # (two runs at once differ)
        own = Path(tempfile.gettempdir()) / f"qdreamer-{run}-{worker}"
        own.mkdir(exist_ok=True)
        os.environ["TMPDIR"] = os.environ["QDREAMER_TEST_TMPDIR"] = str(own)
        tempfile.tempdir = None  # (re-read from TMPDIR)


#: Modules with ``slurm`` tests: under pytest-xdist they run on one worker, one after
#: another (one Slurm node).  Checked against the marks at every collection.
SLURM_MODULES = frozenset(
    {
        "tests/launchers/test_slurm_driver.py",
        "tests/launchers/test_slurm_loss.py",
        "tests/launchers/test_slurm_pilot.py",
        "tests/integration/test_bad_input.py",
    }
)


#: The longest units of work, started first so that neither worker is left with one
#: at the end (longest first; the rest keep their collection order).
LONGEST_FIRST = ("slurm", "tests/corpus/test_corpus.py")


def _unit(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return "slurm" if module in SLURM_MODULES else module


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n``: each module is one unit of work (its module-scoped pilots start
    once, on one worker), and the Slurm modules together are one.

    (pytest-xdist's ``--dist loadgroup`` would say this with marks, but it renames
    nodes through an attribute pytest 9.2 no longer reads.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ByModule(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slurm`` tests without a Slurm cluster, unless CI requires them; the
    longest units first (:data:`LONGEST_FIRST`)."""
    import os

    first = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(_unit(item.nodeid), len(first)))

    slurm_items = [item for item in items if "slurm" in item.keywords]
    stray = {item.nodeid.split("::")[0] for item in slurm_items} - SLURM_MODULES
    if stray:
        raise pytest.UsageError(
            f"slurm tests in {sorted(stray)}: add the module to SLURM_MODULES in tests/conftest.py"
        )
    if not slurm_items:
        return
    why = _slurm_answers()
    if why is None:
        return
    if os.environ.get("QDREAMER_REQUIRE_SLURM") == "1":
        raise pytest.UsageError(
            f"QDREAMER_REQUIRE_SLURM=1 but {why}: run scripts/local-slurm.sh first"
        )
    for item in slurm_items:
        item.add_marker(pytest.mark.skip(reason=f"no Slurm here ({why}); scripts/local-slurm.sh"))

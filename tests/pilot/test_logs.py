"""Logging: silent by default, conf/logging.toml for programs, task ids and masked
credentials in every line (issue 7)."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot.backends.jobs import JobContext, running
from pilot.errors import ConfigError
from pilot.observe.logs import configure
from pilot.redaction import remember

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def test_the_library_is_silent_until_a_program_configures_logging() -> None:
    code = (
        "import logging, pilot, dreamer\n"
        "logging.getLogger('pilot.runtime.service').warning('should not print')\n"
        "print(logging.getLogger('pilot').handlers)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "NullHandler" in out.stdout
    # Python's last-resort handler would print it if pilot had no handler at all.
    assert "should not print" not in out.stderr


def test_configured_lines_carry_the_task_id_and_mask_credentials(
    restore_logging: None, capsys: Any
) -> None:
    configure("INFO")
    log = logging.getLogger("pilot.backends.braket")
    remember("sk-planted-0123456789")
    with running(JobContext("f00dfeed01234567")):
        log.info("created job with token %s", "sk-planted-0123456789")
    log.info("no task here")
    logging.getLogger("pilot.runtime.service").info("explicit", extra={"task_id": "abc123"})
    logging.getLogger("pilot.runtime.supervisor").warning("task %s: moved to %s", "0a1b2c", "b")
    logging.getLogger("pilot.runtime.service").debug("below the level")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4, err
    assert "INFO    pilot.backends.braket [f00dfeed01234567] created job with token " in err[0]
    assert "sk-planted" not in "\n".join(err)
    assert "[-] no task here" in err[1]
    assert "[abc123] explicit" in err[2]
    assert "WARNING pilot.runtime.supervisor [0a1b2c] task 0a1b2c: moved to b" in err[3]


def test_bad_level_or_file_is_a_config_error(restore_logging: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log level 'LOUD' is not one of DEBUG, INFO"):
        configure("LOUD")
    broken = tmp_path / "logging.toml"
    broken.write_text("version = [")
    with pytest.raises(ConfigError, match=f"logging configuration {broken}"):
        configure(path=broken)


def test_cli_log_level_uses_the_configuration(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pilot.cli", "--log-level", "LOUD", "executors"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode != 0
    assert "log level 'LOUD' is not one of" in out.stdout + out.stderr

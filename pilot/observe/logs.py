"""Logging set-up for programs (the CLI, the examples, your driver): ``configure()``.

The library never configures logging: every module has its own logger
(``logging.getLogger(__name__)``) and the packages add a ``NullHandler``.
``configure()`` applies ``conf/logging.toml`` (or your file), whose handler
masks credentials (:class:`pilot.redaction.RedactingFilter`) and prints the id
of the task each record is about (:class:`TaskIdFilter`).
"""

from __future__ import annotations

import importlib.resources
import logging
import logging.config
import os
import tomllib
from pathlib import Path
from typing import Any

from pilot.backends.jobs import current_job
from pilot.errors import ConfigError

#: Environment variable naming a logging configuration file of your own.
ENV = "QDREAMER_LOGGING_CONFIG"


class TaskIdFilter(logging.Filter):
    """Sets ``record.task_id``: given with ``extra={"task_id": ...}``, else the task
    running on this thread (a pilot actor's job context), else the id a message
    ``"task %s: ..."`` names (the library's convention), else ``"-"``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "task_id", None):
            return True

        ctx = current_job()
        task_id = ctx.task_id if ctx is not None else "-"
        args = record.args
        if (
            ctx is None
            and isinstance(record.msg, str)
            and record.msg.startswith("task %s")
            and isinstance(args, tuple)
            and args
            and isinstance(args[0], str)
        ):
            task_id = args[0]
        record.task_id = task_id
        return True


def logging_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The dictConfig of ``path``, else of ``$QDREAMER_LOGGING_CONFIG``, else the packaged
    ``conf/logging.toml``."""
    chosen = path or os.environ.get(ENV)
    try:
        if chosen:
            text = Path(chosen).expanduser().read_text()
        else:
            text = importlib.resources.files("pilot.conf").joinpath("logging.toml").read_text()
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"logging configuration {chosen or 'conf/logging.toml'}: {exc}", key=ENV
        ) from exc


def configure(
    level: str | int | None = None, path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Configure logging for a program; ``level`` overrides the file's root level.
    Returns the configuration applied."""
    config = logging_config(path)
    if level is not None:
        name = logging.getLevelName(level) if isinstance(level, int) else str(level).upper()
        if not isinstance(logging.getLevelName(name), int):
            raise ConfigError(
                f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
                key="log_level",
            )
        config.setdefault("root", {})["level"] = name
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigError(f"logging configuration: {exc}", key=ENV) from exc
    return config

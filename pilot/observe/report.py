"""What ran where: per-task rows, the metrics file, and ``pcs.report()``.

::

    pilot actor: one row per attempt that ended there (pilot.pilots.actor.task_row)
        │  drain_events(), about once a second, on the supervisor thread
        ▼
    TaskLog.add(rows) ──> <working_directory>/tasks.csv   (appended, one writer)
                      ──> totals per (pilot, resource)     (pcs.report())
                      ──> last outcome per task id          (progress bars)

Nothing here runs on the submit path: rows are made where tasks run and
collected in bulk by one thread, so the file costs no lock per submission (an
earlier system appended to its CSV file per task, under a lock, and that
capped its throughput).  A task that failed over has a row for each attempt.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

logger = logging.getLogger(__name__)

#: Columns of the metrics file, in order (rows made by :func:`pilot.pilots.actor.task_row`).
TASK_COLUMNS = (
    "task_id",
    "name",
    "pilot",
    "resource",
    "executor",
    "outcome",
    "error",
    "shots",
    "submitted_at",
    "started_at",
    "finished_at",
    "queue_seconds",
    "run_seconds",
    "estimated_cost",
)

#: The metrics file's name in the service's working directory.
METRICS_FILE = "tasks.csv"


@dataclass
class _Totals:
    executor: str = ""
    tasks: int = 0
    failed: int = 0
    queue_seconds: float = 0.0
    run_seconds: float = 0.0
    estimated_cost: float | None = None
    shots: int = 0


class TaskLog:
    """Rows of finished task attempts: appended to the metrics file and summed up."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], _Totals] = {}
        self._outcomes: LRUCache[str, str] = LRUCache(maxsize=100_000)
        self.rows_written = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self._lock:
            for row in rows:
                self._count(row)
            if self.path is not None:
                self._append(rows)

    def _count(self, row: Mapping[str, Any]) -> None:
        # Only outcomes other than "done" are kept (what progress bars count as failed):
        # a long run's memory does not grow with its successful tasks.
        if row["outcome"] == "done":
            self._outcomes.pop(str(row["task_id"]), None)
        else:
            self._outcomes[str(row["task_id"])] = str(row["outcome"])
        t = self._totals.setdefault((str(row["pilot"]), str(row["resource"])), _Totals())
        t.executor = str(row.get("executor") or t.executor)
        t.tasks += 1
        t.failed += row["outcome"] != "done"
        t.queue_seconds += float(row.get("queue_seconds") or 0.0)
        t.run_seconds += float(row.get("run_seconds") or 0.0)
        t.shots += int(row.get("shots") or 0)
        cost = row.get("estimated_cost")
        if cost is not None:
            t.estimated_cost = (t.estimated_cost or 0.0) + float(cost)

    def _append(self, rows: list[Mapping[str, Any]]) -> None:
        """One ``write`` per batch on an ``O_APPEND`` descriptor: a batch is never
        interleaved with another writer's, and a crash leaves whole earlier rows."""
        assert self.path is not None
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=TASK_COLUMNS, extrasaction="ignore")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            logger.warning("metrics file %s: %s; rows are kept in memory only", self.path, exc)
            self.path = None
            return
        try:
            if os.fstat(fd).st_size == 0:
                writer.writeheader()
            writer.writerows(rows)
            os.write(fd, buf.getvalue().encode())
            self.rows_written += len(rows)
        except OSError as exc:
            logger.warning("metrics file %s: %s", self.path, exc)
        finally:
            os.close(fd)

    def outcome(self, task_id: str) -> str | None:
        """The last outcome noted for ``task_id`` if it was not ``done`` (``failed``,
        ``cancelled``, ``timeout``); ``None`` for a task that succeeded or is unknown."""
        return self._outcomes.get(task_id)

    def report(self) -> Report:
        with self._lock:
            items = sorted(self._totals.items())
        rows = [
            {
                "pilot": pilot,
                "resource": resource,
                "executor": t.executor,
                "tasks": t.tasks,
                "failed": t.failed,
                "shots": t.shots,
                "mean_queue_seconds": t.queue_seconds / t.tasks if t.tasks else None,
                "mean_run_seconds": t.run_seconds / t.tasks if t.tasks else None,
                "estimated_cost": t.estimated_cost,
            }
            for (pilot, resource), t in items
        ]
        return Report(rows=rows, metrics_file=str(self.path) if self.path else None)


#: Report columns: (key, heading, format).
_COLUMNS = (
    ("pilot", "pilot", "{}"),
    ("resource", "resource", "{}"),
    ("executor", "executor", "{}"),
    ("tasks", "tasks", "{:,}"),
    ("failed", "failed", "{:,}"),
    ("mean_queue_seconds", "mean queue s", "{:.3f}"),
    ("mean_run_seconds", "mean run s", "{:.3f}"),
    ("estimated_cost", "est. cost", "${:,.2f}"),
)
#: Pilot table columns: (key, heading, format).
_PILOT_COLUMNS = (
    ("pilot", "pilot", "{}"),
    ("kind", "kind", "{}"),
    ("state", "state", "{}"),
    ("holds", "holds", "{}"),
)
#: Columns of names: they fold (wrap inside a word) when the console is narrow.
_TEXT_COLUMNS = ("pilot", "resource", "executor")
#: Headings of the number columns on a narrow console (two lines each).
_SHORT_HEADINGS = {
    "mean_queue_seconds": "mean\nqueue s",
    "mean_run_seconds": "mean\nrun s",
    "estimated_cost": "est.\ncost",
}
#: Columns a name keeps before the report's layout gets narrower (see ``Report.table``).
NAME_ROOM = 16
#: The table's width when no console is given (``str(report)`` without a terminal).
DEFAULT_WIDTH = 120


def table_width(table: Any) -> int:
    """The columns a ``rich`` table takes when nothing in it wraps."""
    wide = Console(width=100_000, file=io.StringIO(), color_system=None)
    return Measurement.get(wide, wide.options, table).maximum


def terminal_width() -> int:
    """``$COLUMNS``, else the terminal's width, else :data:`DEFAULT_WIDTH`."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


@dataclass
class Report:
    """``pcs.report()``: per pilot and resource, the task attempts that ended, their
    failures, mean queue and run seconds and QDREAMER's estimated cost.

    A rich table in a terminal (``print(report)``), an HTML table in a notebook
    (``_repr_html_``), and plain data for scripts (``to_dict()``, ``to_json()``).
    """

    rows: list[dict[str, Any]]
    metrics_file: str | None = None
    generated_at: float = field(default_factory=time.time)
    #: One row per pilot: name, kind (executor or "classical"), state, what it holds.
    pilots: list[dict[str, Any]] = field(default_factory=list)
    #: Which Ray cluster the service is on, and how it got there (see ``repr(pcs)``).
    ray: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "metrics_file": self.metrics_file,
            "ray": self.ray,
            "pilots": [dict(p) for p in self.pilots],
            "rows": [dict(r) for r in self.rows],
            "totals": {
                "tasks": sum(r["tasks"] for r in self.rows),
                "failed": sum(r["failed"] for r in self.rows),
                "estimated_cost": _sum_or_none(r["estimated_cost"] for r in self.rows),
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @staticmethod
    def _cell(value: Any, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    def table(self, width: int | None = None) -> Any:
        """The report as a ``rich.table.Table`` for a console ``width`` columns wide.

        Numbers never wrap and are never cut; names fold (wrap inside a word)
        when they must.  When the table would leave names fewer than
        :data:`NAME_ROOM` columns in ``width``, the headings of the number
        columns go on two lines, and then the executor column (the resource
        implies it) is left out.
        """

        def build(short: bool, executor: bool, cap: int | None = None) -> Table:
            table = Table(title="Qdreamer: tasks per pilot and resource")
            columns = [c for c in _COLUMNS if executor or c[0] != "executor"]
            for key, heading, _ in columns:
                shown = _SHORT_HEADINGS.get(key, heading) if short else heading
                if key in _TEXT_COLUMNS:
                    table.add_column(shown, overflow="fold", max_width=cap)
                else:
                    table.add_column(shown, justify="right", no_wrap=True)
            for row in self.rows:
                table.add_row(*(escape(self._cell(row[k], f)) for k, _, f in columns))
            if not self.rows:
                table.caption = "no task has finished yet"
            return table

        layouts = ((False, True), (True, True), (True, False))
        if width is not None:
            for short, executor in layouts:
                if table_width(build(short, executor, cap=NAME_ROOM)) <= width:
                    break
            return build(short, executor)
        return build(*layouts[0])

    def pilots_table(self) -> Any:
        """The pilots (what each holds of the cluster) as a ``rich.table.Table``; the
        caption says which Ray cluster the service is on."""
        table = Table(title="Qdreamer: pilots")
        for _key, heading, _ in _PILOT_COLUMNS:
            table.add_column(heading, overflow="fold")
        for row in self.pilots:
            table.add_row(*(escape(str(row.get(k, ""))) for k, _, _ in _PILOT_COLUMNS))
        if self.ray:
            table.caption = escape(f"Ray: {self.ray}")
        return table

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if self.pilots or self.ray:
            yield self.pilots_table()
        yield self.table(options.max_width)

    def __str__(self) -> str:
        width = terminal_width()
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None, force_terminal=False)
        if self.pilots or self.ray:
            console.print(self.pilots_table())
        console.print(self.table(width))
        return out.getvalue().rstrip("\n")

    def _repr_html_(self) -> str:
        pilots = ""
        if self.pilots or self.ray:
            phead = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in _PILOT_COLUMNS)
            pbody = "".join(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(p.get(k, '')))}</td>" for k, _, _ in _PILOT_COLUMNS
                )
                + "</tr>"
                for p in self.pilots
            )
            caption = html.escape(f"Qdreamer: pilots (Ray: {self.ray})" if self.ray else "")
            pilots = (
                f"<table><caption>{caption}</caption><thead><tr>{phead}</tr></thead>"
                f"<tbody>{pbody}</tbody></table>"
            )
        return pilots + self._tasks_html()

    def _tasks_html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in _COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(self._cell(r[k], f))}</td>" for k, _, f in _COLUMNS)
            + "</tr>"
            for r in self.rows
        )
        return (
            "<table><caption>Qdreamer: tasks per pilot and resource</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _sum_or_none(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None

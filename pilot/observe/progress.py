"""The progress bar of ``wait_tasks`` and ``get_results`` (rich).

Shown when ``progress=True``, or by default (``progress=None``) when more
than one task is waited for and standard error is a terminal or the code runs
in a Jupyter kernel; never in a batch job's log (standard error not a
terminal) unless asked.  It counts tasks done, failed (as far as known while
waiting: the pilots' task rows report failures within about a second) and
still running.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def interactive() -> bool:
    """Standard error is a terminal, or this is a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - ipykernel without IPython
            shell = None
        if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
            return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Bar:
    """One rich progress task: ``update(done=, failed=)``; running = total - done."""

    def __init__(self, progress: Any, total: int, description: str) -> None:
        self._progress = progress
        self.total = total
        self.done = self.failed = 0
        self._task = progress.add_task(description, total=total, done=0, failed=0, running=total)

    def update(self, *, done: int, failed: int) -> None:
        self.done, self.failed = done, failed
        self._progress.update(
            self._task, completed=done, done=done - failed, failed=failed, running=self.total - done
        )


@contextmanager
def progress_bar(total: int, description: str, wanted: bool | None) -> Iterator[Bar | None]:
    """A :class:`Bar` for ``total`` tasks, or ``None`` when none is to be shown."""
    show = bool(wanted) if wanted is not None else total > 1 and interactive()
    if not show:
        yield None
        return

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "done [green]{task.fields[done]}[/] · failed [red]{task.fields[failed]}[/] · "
            "running {task.fields[running]}"
        ),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    with progress:
        yield Bar(progress, total, description)

"""The ``qdreamer`` command line.

Errors print one clear line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Qdreamer: hybrid quantum-classical workloads on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="Logging level, e.g. INFO.")
    ] = "WARNING",
) -> None:
    _state["debug"] = debug
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def demo(
    shots: Annotated[int, typer.Option(min=1, help="Shots per circuit.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run a Bell circuit on three executors and score it on a classical pilot.

    Example: qdreamer demo --shots 2000
    """
    from pilot.demo import run_demo

    with console.status("starting Ray and pilots..."):
        results, scores, skipped = run_demo(shots)
    if as_json:
        rows = [
            {
                "executor": r.executor,
                "backend": r.backend,
                "pilot": r.pilot,
                "path": r.path,
                "counts": r.counts,
                "bell_fraction": s,
                "run_seconds": round(r.run_seconds, 4),
            }
            for r, s in zip(results, scores, strict=True)
        ]
        console.print_json(json.dumps({"results": rows, "skipped": skipped}))
        return
    table = Table(title=f"Bell circuit (Qiskit), {shots} shots")
    table.add_column("executor", no_wrap=True)
    table.add_column("backend", no_wrap=True)
    table.add_column("path", no_wrap=True)
    table.add_column("counts", no_wrap=True)
    table.add_column("P(00,11)", justify="right")
    table.add_column("run s", justify="right")
    for r, s in zip(results, scores, strict=True):
        counts = " ".join(f"{k}:{v}" for k, v in sorted((r.counts or {}).items()))
        table.add_row(r.executor, r.backend, r.path, counts, f"{s:.3f}", f"{r.run_seconds:.3f}")
    console.print(table)
    for line in skipped:
        console.print(f"[yellow]skipped[/yellow] {line}")


@app.command()
def executors(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the executors, whether their SDK is installed, and how to install it.

    Example: qdreamer executors --json
    """
    from pilot.backends.registry import EXECUTORS, check_installed
    from pilot.errors import MissingDependencyError

    rows = []
    for spec in EXECUTORS.values():
        try:
            check_installed(spec)
            installed = True
        except MissingDependencyError:
            installed = False
        rows.append(
            {
                "executor": spec.name,
                "installed": installed,
                "install": spec.install,
                "aliases": list(spec.aliases),
                "summary": spec.summary,
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="Executors")
    for col in ("executor", "installed", "summary", "install"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["executor"]),
            "yes" if row["installed"] else "no",
            str(row["summary"]),
            "" if row["installed"] else str(row["install"]),
        )
    console.print(table)


def main() -> None:
    """Console-script entry point: usage errors as click prints them, our errors as one line."""
    try:
        app()
    except Exception as exc:
        if _state["debug"] or "--debug" in sys.argv:
            raise
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()

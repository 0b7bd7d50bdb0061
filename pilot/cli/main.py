"""The ``qdreamer`` command line.

Commands: ``demo``, ``executors``, ``resources`` (QDREAMER's ranking for a
circuit), ``pilots`` (pilots on a running cluster), ``run`` (one circuit
through the service) and ``slurm submit|status|cancel`` (a driver program run
inside a Slurm job, on a Ray cluster across its allocation).  Listings take
``--json``.

Errors print one line, ``error: <Type>: <message>``, on stderr and exit 1;
usage errors (a wrong option value) exit 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pilot.observe.report import table_width

if TYPE_CHECKING:
    from pilot.convert import LoadedCircuit
    from pilot.results import QuantumResult
    from pilot.runtime.service import PilotComputeService

logger = logging.getLogger(__name__)


def _plain_flags(params: list[Any]) -> list[Any]:
    """Boolean flags (``--json``, ``--help``) shown without a value placeholder.

    Typer's rich help prints a flag's type, ``--json <bool>``, as if it took a
    value; an empty metavar leaves it out, as click's plain help does.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(typer.core.TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


app = typer.Typer(
    cls=_Group,
    help="Qdreamer: hybrid quantum-classical workloads on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}

#: Devices of a ``qiskit_fake`` pilot named without a device list (the packaged
#: default, every fake device, takes a minute to load).
DEFAULT_FAKE_DEVICES = ("fake_manila", "fake_lagos", "fake_perth")

#: Executors ranked by ``qdreamer resources`` when none is given.
DEFAULT_RESOURCE_EXECUTORS = ("qiskit_local", "qiskit_fake")
#: Seconds ``qdreamer resources`` waits for the providers' statuses before ranking.
STATUS_TIMEOUT = 30.0

#: The circuit ranked by ``qdreamer resources`` when no ``--circuit`` is given.
GHZ3_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

_ADDRESS_HELP = (
    "Ray cluster to join (host:port, ray://host:port, or 'auto' for one started with "
    "`ray start` on this machine)."
)


# ---------------------------------------------------------------- options shared by commands
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CpusOption = Annotated[
    float | None,
    typer.Option(
        "--cpus",
        min=0.01,
        help="CPUs reserved per pilot. Default: a pilot's default reservation "
        "(cores_per_node in conf/defaults.toml).",
    ),
]
ObjectiveOption = Annotated[
    str,
    typer.Option("--objective", help="QDREAMER objective: fidelity, speed, cost or balanced."),
]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="Logging level, e.g. INFO.")
    ] = "WARNING",
) -> None:
    _state["debug"] = debug
    from pilot.observe.logs import configure

    # conf/logging.toml (or $QDREAMER_LOGGING_CONFIG): task ids, credentials masked
    # in every record, SDKs' too.
    configure(log_level)
    quiet_ray_token_notice()


# ---------------------------------------------------------------- Ray's token notice
#: The logger of Ray's notice that a new local cluster uses token authentication.
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"
#: The start of that notice (ray/_private/authentication/authentication_token_setup.py).
RAY_TOKEN_NOTICE = "Token authentication is enabled for this Ray cluster"


class _DropRayTokenNotice(logging.Filter):
    """Drops Ray's "token authentication is enabled" notice, and only that record.

    Every command that starts or joins Ray would print it on stderr; it says
    what we want (authentication stays on) and suggests turning it off.  The
    notice that authentication is *disabled* still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(RAY_TOKEN_NOTICE)


def quiet_ray_token_notice() -> None:
    """Install :class:`_DropRayTokenNotice` on Ray's logger (before Ray starts; once)."""
    ray_logger = logging.getLogger(RAY_TOKEN_LOGGER)
    if not any(isinstance(f, _DropRayTokenNotice) for f in ray_logger.filters):
        ray_logger.addFilter(_DropRayTokenNotice())


# ---------------------------------------------------------------- helpers
def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def one_line(message: str) -> str:
    """``message`` on one line: continuation lines joined with ``; ``."""
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    out = parts[0] if parts else ""
    for part in parts[1:]:
        out += (" " if out.endswith(":") else "; ") + part
    return out


def _check_objective(objective: str) -> str:
    from dreamer.ranking import OBJECTIVES
    from pilot.errors import closest

    if objective not in OBJECTIVES:
        suggestion = closest(objective, OBJECTIVES)
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        raise typer.BadParameter(
            f"unknown objective {objective!r}{hint}; use one of {', '.join(OBJECTIVES)}",
            param_hint="'--objective'",
        )
    return objective


def read_circuit(path: Path | None) -> tuple[str, str, LoadedCircuit]:
    """``(name, text, loaded)`` for an OpenQASM 2/3 file (the built-in GHZ-3 for ``None``).

    A file that does not parse raises ``CircuitError`` naming the file and line.
    """
    from pilot.convert import load_circuit
    from pilot.errors import CircuitError

    if path is None:
        return "ghz3", GHZ3_QASM, load_circuit(GHZ3_QASM)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CircuitError(f"{path}: cannot read it: {exc}") from None
    try:
        return path.stem, text, load_circuit(text)
    except CircuitError as exc:
        raise CircuitError(
            f"{path}: {exc}", line=exc.line, source_format=exc.source_format
        ) from None


def pilot_descriptions(executors: Sequence[str], cpus: float | None) -> list[dict[str, Any]]:
    """Quantum pilot descriptions from ``--executor NAME[:DEVICE,...]`` values.

    Pilots are named after their executor (``qiskit_fake``, ``qiskit_fake-1``
    for a second one).  ``qiskit_fake`` without devices holds
    :data:`DEFAULT_FAKE_DEVICES`.  ``cpus`` (``--cpus``) becomes each pilot's
    ``cores_per_node``; ``None`` leaves the pilot's default reservation.

    Every executor's SDK is checked here, before Ray starts: a missing one is a
    ``MissingDependencyError`` with the install command.
    """
    from pilot.backends.registry import EXECUTORS, check_installed, resolve_executor
    from pilot.errors import ConfigError

    out: list[dict[str, Any]] = []
    used: dict[str, int] = {}
    for raw in executors:
        name, _, listed = raw.partition(":")
        try:
            spec = resolve_executor(name)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--executor'") from None
        check_installed(spec)
        devices = [d.strip() for d in listed.split(",") if d.strip()]
        quantum: dict[str, Any] = {"executor": spec.name}
        key = spec.device_key  # where a device named after ``executor:`` goes
        if spec.name == "qiskit_fake" and not devices:
            devices = list(DEFAULT_FAKE_DEVICES)
        if devices:
            if key is None:
                raise typer.BadParameter(
                    f"executor {spec.name!r} takes no device list (got {listed!r}); "
                    "devices can be named for "
                    + ", ".join(sorted(s.name for s in EXECUTORS.values() if s.device_key)),
                    param_hint="'--executor'",
                )
            if key != "backends" and len(devices) > 1:
                raise typer.BadParameter(
                    f"executor {spec.name!r} holds one device; got {len(devices)}: {listed!r}",
                    param_hint="'--executor'",
                )
            quantum[key] = devices if key == "backends" else devices[0]
        n = used.get(spec.name, 0)
        used[spec.name] = n + 1
        desc: dict[str, Any] = {
            "resource_type": "quantum",
            "name": spec.name if n == 0 else f"{spec.name}-{n}",
            "quantum": quantum,
        }
        if cpus is not None:
            desc["cores_per_node"] = cpus
        out.append(desc)
    return out


def check_reachable(address: str, key: str = "address") -> None:
    from pilot.runtime.cluster import check_reachable as check

    check(address, key=key)


def _ray_logging_level() -> int:
    return logging.getLogger().getEffectiveLevel()  # --log-level (default WARNING)


def _ray_init_kwargs() -> dict[str, Any]:
    """``ray.init`` arguments of every command: Ray logs at ``--log-level`` (no "Started
    a local Ray instance" line), workers' output only with ``--debug``."""
    return {"log_to_driver": _state["debug"], "logging_level": _ray_logging_level()}


@contextlib.contextmanager
def _service(address: str | None) -> Iterator[PilotComputeService]:
    """A temporary service: joins ``address`` or starts a local Ray (stopped afterwards)."""
    from pilot.runtime.service import PilotComputeService

    extra = _ray_init_kwargs()
    if address:
        check_reachable(address, key="address")
    else:
        extra["include_dashboard"] = False
    workdir = tempfile.mkdtemp(prefix="qdreamer-cli-")
    try:
        with PilotComputeService(
            working_directory=workdir, ray_address=address or None, ray_init_kwargs=extra
        ) as pcs:
            yield pcs
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _create_pilots(pcs: PilotComputeService, descriptions: Sequence[dict[str, Any]]) -> None:
    for desc in descriptions:
        with err_console.status(f"starting pilot {escape(desc['name'])}..."):
            pcs.create_pilot(desc)


def _seconds(value: float) -> str:
    if value == 0:
        return "0s"
    if value < 1:
        return f"{value:.3f}s"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _cost(row: dict[str, Any]) -> str:
    if not row["priced"]:
        return "free"
    cost = float(row["estimated_cost"])
    shown = "<0.0001" if 0 < cost < 0.0001 else f"{cost:.4f}"
    return f"{shown} {row['currency']}"


#: Columns the ``resources`` table keeps for each name and the reasons before it takes
#: its narrow layout (see :func:`ranking_table`).
NAME_ROOM = 16


def ranking_table(rows: Sequence[dict[str, Any]], title: str, width: int | None = None) -> Table:
    """The ``resources`` table of :func:`pilot.cli.views.ranking_rows`' rows.

    Numbers never wrap or get cut; resource and pilot names and the reasons
    fold when they must (the reasons first).  When a console ``width`` would
    leave them fewer than :data:`NAME_ROOM` columns each, the table takes its
    narrow layout: the qubits and queue columns are left out (the expected
    wait counts the queue), headings are shorter and a cost goes on two lines.
    """

    def build(narrow: bool, cap: int | None = None) -> Table:
        table = Table(title=escape(title))

        def number(heading: str) -> None:
            table.add_column(heading, justify="right", no_wrap=True)

        def text(heading: str) -> None:
            table.add_column(heading, overflow="fold", max_width=cap)

        number("#" if narrow else "rank")
        text("resource")
        text("pilot")
        if not narrow:
            number("qubits")
        number("est.\nfid." if narrow else "est.\nfidelity")
        if not narrow:
            number("queue")
        number("expected\nwait")
        number("est.\ncost")
        text("feasible /\nwhy not")
        for row in rows:
            queue = f"{row['queue_depth']}{'+' if row['queue_is_lower_bound'] else ''}"
            if row["status_stale"]:
                queue += " (stale)"
            cells = [
                str(row["rank"] or "-"),
                escape(row["resource"]),
                escape(row["pilot"]),
                str(row["qubits"]),
                "-" if row["fidelity_model"] == "n/a" else f"{row['estimated_fidelity']:.3f}",
                escape(queue),
                _seconds(row["expected_wait_seconds"]),
                escape(_cost(row).replace(" ", "\n") if narrow else _cost(row)),
                "[green]yes[/green]"
                if row["feasible"]
                else f"[red]no[/red]: {escape('; '.join(row['reasons']))}",
            ]
            if narrow:
                del cells[5], cells[3]  # queue, qubits
            table.add_row(*cells)
        return table

    narrow = width is not None and table_width(build(False, cap=NAME_ROOM)) > width
    return build(narrow)


def demo_table(
    results: Sequence[QuantumResult],
    scores: Sequence[float],
    shots: int,
    width: int | None = None,
) -> Table:
    """``qdreamer demo``'s table, for a console ``width`` columns wide.

    Numbers never wrap or get cut; names and counts fold when they must.  The
    path column (native or portable) is left out when the table would not fit
    ``width`` with it.
    """

    def build(with_path: bool) -> Table:
        table = Table(title=f"Bell circuit (Qiskit), {shots} shots")
        table.add_column("executor", overflow="fold")
        table.add_column("backend", overflow="fold")
        if with_path:
            table.add_column("path", no_wrap=True)
        table.add_column("counts", overflow="fold")
        table.add_column("P(00,11)", justify="right", no_wrap=True)
        table.add_column("run s", justify="right", no_wrap=True)
        for r, score in zip(results, scores, strict=True):
            counts = " ".join(f"{k}:{v}" for k, v in sorted((r.counts or {}).items()))
            names = [escape(r.executor), escape(r.backend)]
            path = [escape(r.path)] if with_path else []
            table.add_row(*names, *path, escape(counts), f"{score:.3f}", f"{r.run_seconds:.3f}")
        return table

    table = build(with_path=True)
    if width is not None and table_width(table) > width:
        table = build(with_path=False)
    return table


#: Columns the executors table leaves its summary before leaving the summary out.
SUMMARY_ROOM = 24


def executors_table(rows: Sequence[dict[str, Any]], width: int | None = None) -> Table:
    """``qdreamer executors``'s table: the summary column is left out when a
    console ``width`` columns wide would leave it fewer than :data:`SUMMARY_ROOM`."""

    def build(with_summary: bool) -> Table:
        table = Table(title="Executors")
        table.add_column("executor", overflow="fold")
        table.add_column("installed", no_wrap=True)
        if with_summary:
            table.add_column("summary", overflow="fold")
        table.add_column("install", overflow="fold")
        for row in rows:
            summary = [escape(str(row["summary"]))] if with_summary else []
            table.add_row(
                escape(str(row["executor"])),
                "yes" if row["installed"] else "no",
                *summary,
                "" if row["installed"] else escape(str(row["install"])),
            )
        return table

    table = build(with_summary=True)
    if width is not None and table_width(build(with_summary=False)) + 3 + SUMMARY_ROOM > width:
        table = build(with_summary=False)
    return table


def pilots_table(found: Sequence[Any], title: str) -> Table:
    """``qdreamer pilots``'s table of :func:`pilot.cli.views.cluster_pilots`' pilots."""
    table = Table(title=escape(title))
    table.add_column("pilot", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("holds", no_wrap=True)
    table.add_column("executor", overflow="fold")
    table.add_column("devices", overflow="fold")
    for p in found:
        table.add_row(
            escape(p.name),
            escape(p.kind),
            escape(p.state),
            escape(p.holds),
            escape(p.executor or "-"),
            escape(", ".join(p.devices)) or "-",
        )
    return table


# ---------------------------------------------------------------- commands
@app.command(cls=_Command)
def demo(
    shots: Annotated[int, typer.Option(min=1, help="Shots per circuit.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Run a Bell circuit on three executors and score it on a classical pilot.

    Example: qdreamer demo --shots 2000
    """
    from pilot.cli.demo import run_demo

    with err_console.status("starting Ray and pilots..."):
        results, scores, skipped = run_demo(shots, ray_init_kwargs=_ray_init_kwargs())
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
        _print_json({"results": rows, "skipped": skipped})
        return
    console.print(demo_table(results, scores, shots, console.width))
    for line in skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(line)}", highlight=False)


@app.command(cls=_Command)
def executors(as_json: JsonOption = False) -> None:
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
        _print_json(rows)
        return
    console.print(executors_table(rows, console.width))


@app.command(cls=_Command)
def resources(
    executor: Annotated[
        list[str] | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="NAME[:DEVICES]",
            help="A pilot to rank, NAME or NAME:DEVICE,DEVICE (repeatable). "
            "Default: qiskit_local, and qiskit_fake with fake_manila, fake_lagos and "
            "fake_perth (qiskit_fake's default here too).",
        ),
    ] = None,
    circuit: Annotated[
        Path | None,
        typer.Option(
            "--circuit",
            "-c",
            metavar="FILE.qasm",
            exists=True,
            dir_okay=False,
            help="OpenQASM 2/3 file to rank for. Default: a 3-qubit GHZ circuit.",
        ),
    ] = None,
    objective: ObjectiveOption = "fidelity",
    shots: Annotated[int, typer.Option(min=1, help="Shots (for time and cost).")] = 1000,
    cpus: CpusOption = None,
    address: Annotated[
        str | None,
        typer.Option("--address", envvar="RAY_ADDRESS", metavar="HOST:PORT", help=_ADDRESS_HELP),
    ] = None,
    as_json: JsonOption = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            dir_okay=False,
            metavar="FILE.png",
            help="Also draw the ranking: fidelity vs expected wait, marker area for cost, "
            "the chosen resource ringed (needs matplotlib; format from the suffix).",
        ),
    ] = None,
) -> None:
    """Rank quantum resources for a circuit, as QDREAMER would choose among them.

    Starts a pilot per --executor (on the cluster at --address / RAY_ADDRESS,
    else on a local Ray started for the purpose), ranks every resource for
    the circuit, prints the table, and releases the pilots.

    Example: qdreamer resources --circuit ghz.qasm --objective fidelity

    Example: qdreamer resources -e qiskit_local -e qiskit_fake:fake_kolkata --json

    Example: qdreamer resources --objective balanced --plot ranking.png
    """
    from pilot.backends.registry import check_installed, resolve_executor
    from pilot.cli.views import ranking_rows
    from pilot.errors import MissingDependencyError
    from pilot.tasks import QuantumTask

    _check_objective(objective)
    if plot is not None:
        _check_plot_path(plot)
    name, text, loaded = read_circuit(circuit)
    if executor:
        chosen = list(executor)
    else:
        chosen = []
        for exe in DEFAULT_RESOURCE_EXECUTORS:
            try:
                check_installed(resolve_executor(exe))
                chosen.append(exe)
            except MissingDependencyError as exc:
                err_console.print(f"[yellow]skipped[/yellow] {escape(str(exc))}", highlight=False)
    descriptions = pilot_descriptions(chosen, cpus)
    with _service(address) as pcs:
        _create_pilots(pcs, descriptions)
        q = pcs.initialize_dreamer(objective)
        # The providers' queues and availability before ranking (a ranking in a
        # running program never waits for them; here they are what is asked).
        q.refresh(timeout=STATUS_TIMEOUT)
        ranked = q.rank(QuantumTask(text, shots=shots, name=name), loaded)
        rows = ranking_rows(ranked)
    title = (
        f"QDREAMER ranking for {name} ({loaded.num_qubits} qubits, {shots} shots), "
        f"objective {objective}"
    )
    if plot is not None:
        from pilot.viz.plots import write_ranking_plot

        write_ranking_plot(rows, plot, title=title)
    if as_json:
        _print_json(rows)
    else:
        console.print(ranking_table(rows, title, console.width))
    if plot is not None:  # on stderr under --json: stdout stays one JSON document
        (err_console if as_json else console).print(
            f"ranking plot written to {escape(str(plot))}", highlight=False, soft_wrap=True
        )


@app.command(cls=_Command)
def pilots(
    address: Annotated[
        str | None,
        typer.Option("--address", envvar="RAY_ADDRESS", metavar="HOST:PORT", help=_ADDRESS_HELP),
    ] = None,
    include_removed: Annotated[
        bool, typer.Option("--all", help="Also list cancelled pilots Ray still remembers.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the pilots on a running Ray cluster: kind, state, CPUs/GPUs, executor, devices.

    Every service connected to the cluster counts (pilots are the placement
    groups and actors named pilot-NAME).  Needs the cluster's address:
    --address or RAY_ADDRESS.

    Example: RAY_ADDRESS=10.0.0.5:6379 qdreamer pilots --json
    """
    import ray

    from pilot.cli.views import cluster_pilots
    from pilot.errors import ConfigError

    if not address:
        raise ConfigError(
            "no Ray cluster to look at: give its address with --address HOST:PORT or "
            "RAY_ADDRESS=HOST:PORT (`ray status` on the head node shows it; 'auto' finds "
            "one started with `ray start` on this machine)",
            key="address",
        )
    check_reachable(address, key="address")
    ray.init(address=address, log_to_driver=False, logging_level=_ray_logging_level())
    try:
        # The address joined ('auto' and RAY_ADDRESS resolved), as `ray status` shows it.
        connected = ray.get_runtime_context().gcs_address or address
        found = cluster_pilots(include_removed=include_removed)
    finally:
        ray.shutdown()
    if as_json:
        _print_json([p.as_dict() for p in found])
        return
    if not found:
        console.print(f"no pilots on the Ray cluster at {escape(connected)}", highlight=False)
        return
    console.print(pilots_table(found, f"Pilots on {connected}"))


def _require_matplotlib() -> None:
    from pilot.viz.plots import require_matplotlib

    require_matplotlib("--plot")


def _check_plot_path(path: Path) -> None:
    """Before any work: matplotlib is there, the directory exists, the suffix is a format."""
    from pilot.viz.plots import supported_formats

    _require_matplotlib()
    if not path.parent.is_dir():
        raise typer.BadParameter(f"directory {path.parent} does not exist", param_hint="'--plot'")
    formats = supported_formats()
    if path.suffix.lstrip(".").lower() not in formats:
        raise typer.BadParameter(
            f"{path.name}: "
            + (f"unknown image format {path.suffix!r}" if path.suffix else "no suffix")
            + f"; end the name with one of .{', .'.join(formats)} (e.g. ranking.png)",
            param_hint="'--plot'",
        )


@app.command(cls=_Command)
def run(
    circuit: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, metavar="FILE.qasm", help="OpenQASM 2/3 file."),
    ],
    shots: Annotated[int, typer.Option(min=1, help="Shots.")] = 1000,
    objective: ObjectiveOption = "fidelity",
    executor: Annotated[
        list[str] | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="NAME[:DEVICES]",
            help="A pilot to run on, NAME or NAME:DEVICE,DEVICE (repeatable; QDREAMER "
            "picks among them). Default: qiskit_local.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Simulator seed (reproducible counts).")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            dir_okay=False,
            metavar="FILE.png",
            help="Write a histogram of the counts (needs matplotlib).",
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Outcomes shown in the table.")] = 32,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Seconds to wait for the result.")
    ] = None,
    cpus: CpusOption = None,
    address: Annotated[
        str | None,
        typer.Option("--address", envvar="RAY_ADDRESS", metavar="HOST:PORT", help=_ADDRESS_HELP),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Run one OpenQASM circuit through the service and print its counts.

    Starts a pilot per --executor (on the cluster at --address / RAY_ADDRESS,
    else on a local Ray started for the purpose), lets QDREAMER choose with
    --objective, runs the circuit and prints the counts, most frequent first.

    Example: qdreamer run bell.qasm --shots 1000

    Example: qdreamer run ghz.qasm -e qiskit_fake:fake_lagos --plot ghz.png
    """
    from pilot.tasks import QuantumTask

    _check_objective(objective)
    if plot is not None:
        _require_matplotlib()
        if not plot.parent.is_dir():
            raise typer.BadParameter(
                f"directory {plot.parent} does not exist", param_hint="'--plot'"
            )
    name, text, _loaded = read_circuit(circuit)
    descriptions = pilot_descriptions(list(executor or ["qiskit_local"]), cpus)
    if seed is not None:
        for desc in descriptions:
            desc["quantum"]["seed"] = seed
    with _service(address) as pcs:
        _create_pilots(pcs, descriptions)
        pcs.initialize_dreamer(objective)
        with err_console.status(f"running {escape(name)} ({shots} shots)..."):
            result = pcs.get_results(
                pcs.submit_quantum_task(QuantumTask(text, shots=shots, name=name)),
                timeout=timeout,
            )
    counts = dict(sorted(result.get_counts().items(), key=lambda kv: (-kv[1], kv[0])))
    selection = result.selection or {}
    breakdown = selection.get("breakdown") or {}
    if plot is not None:
        from pilot.viz.plots import write_result_plot

        write_result_plot(
            result, plot, title=f"{name}: {shots} shots on {result.backend} ({result.pilot})"
        )
    if as_json:
        _print_json(
            {
                "circuit": str(circuit),
                "shots": shots,
                "counts": counts,
                "resource": result.backend,
                "pilot": result.pilot,
                "executor": result.executor,
                "objective": objective,
                "estimated_fidelity": breakdown.get("estimated_fidelity"),
                "estimated_cost": selection.get("estimated_cost"),
                "failover": selection.get("failover", []),
                "task_id": result.task_id,
                "run_seconds": result.run_seconds,
                "plot": str(plot) if plot is not None else None,
            }
        )
        return
    fidelity = breakdown.get("estimated_fidelity")
    console.print(
        f"{escape(name)}: {shots} shots on [bold]{escape(result.backend)}[/bold] "
        f"(pilot {escape(result.pilot)}, executor {escape(result.executor)}; "
        f"objective {objective}"
        + (f", est. fidelity {fidelity:.3f}" if fidelity is not None else "")
        + f"), {result.run_seconds:.2f} s",
        highlight=False,
        soft_wrap=True,
    )
    for hop in selection.get("failover", []):
        console.print(
            f"[yellow]failed over[/yellow] from {escape(str(hop.get('resource')))}: "
            f"{escape(str(hop.get('error')))}",
            highlight=False,
        )
    table = Table()
    table.add_column("outcome", overflow="fold")  # a wide register's bit string folds
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    for key, count in list(counts.items())[:top]:
        table.add_row(escape(key), str(count), f"{count / shots:.3f}")
    console.print(table)
    if len(counts) > top:
        console.print(f"... {len(counts) - top} more outcomes (--top, or --json for all)")
    if plot is not None:
        console.print(f"histogram written to {escape(str(plot))}", highlight=False)


# ---------------------------------------------------------------- qdreamer slurm ...
slurm_app = typer.Typer(
    cls=_Group,
    help="Run a driver program inside a Slurm job, on a Ray cluster started across its allocation.",
    no_args_is_help=True,
)
app.add_typer(slurm_app, name="slurm")

JobIdArgument = Annotated[str, typer.Argument(metavar="JOBID", help="Slurm job id.")]


def _job_id(value: str) -> str:
    from pilot.batch.slurm import check_job_id

    try:
        return check_job_id(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'JOBID'") from None


@slurm_app.command("submit", cls=_Command)
def slurm_submit(
    driver: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, metavar="DRIVER.py", help="The driver program."
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(metavar="ARGS", help="Arguments for the driver (after --)."),
    ] = None,
    nodes: Annotated[int, typer.Option(min=1, help="Nodes of the allocation.")] = 1,
    cores_per_node: Annotated[
        int, typer.Option("--cores-per-node", min=1, help="Cores per node given to Ray.")
    ] = 1,
    gpus_per_node: Annotated[
        int, typer.Option("--gpus-per-node", min=0, help="GPUs per node given to Ray.")
    ] = 0,
    walltime: Annotated[int, typer.Option(min=1, help="Walltime in minutes.")] = 60,
    partition: Annotated[
        str | None, typer.Option(help="Slurm partition (sbatch --partition).")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account charged (sbatch --account).")] = None,
    qos: Annotated[str | None, typer.Option(help="Quality of service (sbatch --qos).")] = None,
    sbatch_option: Annotated[
        list[str] | None,
        typer.Option(
            "--sbatch",
            metavar="OPTION",
            help="Another sbatch option, e.g. --sbatch=--exclusive (repeatable).",
        ),
    ] = None,
    environment_setup: Annotated[
        list[str] | None,
        typer.Option(
            "--environment-setup",
            metavar="LINE",
            help="A shell line run before Ray starts, e.g. 'module load python' (repeatable).",
        ),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(
            help="Python that runs Ray and the driver on the nodes. Default: this one "
            f"({sys.executable})."
        ),
    ] = None,
    working_directory: Annotated[
        Path | None,
        typer.Option(
            "--working-directory",
            "-C",
            file_okay=False,
            help="Where the job runs and writes slurm-JOBID.out/.err and job-JOBID/. "
            "Default: the current directory.",
        ),
    ] = None,
    job_name: Annotated[
        str | None, typer.Option(help="Slurm job name. Default: qdreamer-DRIVER.")
    ] = None,
    start_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds the Ray cluster may take to come up.")
    ] = 300,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the batch script; submit nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the job id and files as JSON.")
    ] = False,
) -> None:
    """Submit DRIVER.py as a Slurm job that runs it on a Ray cluster of its own.

    The job starts a Ray head on its first node and a Ray worker on each other
    node, then runs the driver there with RAY_ADDRESS set, so the driver's
    PilotComputeService() joins that cluster.  When the driver exits, the
    job's Ray processes stop and the job ends with the driver's exit code.
    Its output goes to slurm-JOBID.out/.err in the working directory.

    Example: qdreamer slurm submit driver.py --nodes 2 --cores-per-node 4 --walltime 30

    Example: qdreamer slurm submit driver.py --partition gpu --account proj42 -- --epochs 3

    Example: qdreamer slurm submit driver.py --environment-setup 'module load python' --dry-run
    """
    from pilot.batch.slurm import DriverJob, driver_script, submit

    workdir = (working_directory or Path.cwd()).expanduser().resolve()
    job = DriverJob(
        driver=str(driver.expanduser().resolve()),
        args=tuple(args or ()),
        working_directory=str(workdir),
        nodes=nodes,
        cores_per_node=cores_per_node,
        gpus_per_node=gpus_per_node,
        walltime_minutes=walltime,
        partition=partition,
        account=account,
        qos=qos,
        scheduler_script_commands=tuple(sbatch_option or ()),
        environment_setup=tuple(environment_setup or ()),
        python=python or sys.executable,
        job_name=job_name,
        start_timeout=start_timeout,
    )
    try:
        script = driver_script(job)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if dry_run:
        typer.echo(script, nl=False)
        return
    submitted = submit(job)
    if as_json:
        _print_json(submitted.as_dict())
        return
    console.print(
        f"submitted Slurm job {submitted.job_id}: {escape(job.driver)} on {nodes} node(s) x "
        f"{cores_per_node} core(s), {walltime} min\n"
        f"output: {escape(submitted.stdout)}\n"
        f"status: qdreamer slurm status {submitted.job_id}",
        highlight=False,
        soft_wrap=True,
    )


@slurm_app.command("status", cls=_Command)
def slurm_status(job_id: JobIdArgument, as_json: JsonOption = False) -> None:
    """Show a driver job's state (PENDING, RUNNING, DONE, FAILED, CANCELED), exit code and files.

    Slurm remembers an ended job for MinJobAge (300 s by default), or longer
    with job accounting.

    Example: qdreamer slurm status 4242 --json
    """
    from pilot.batch.slurm import job_status

    status = job_status(_job_id(job_id))
    if as_json:
        _print_json(status.as_dict())
        return
    table = Table(title=f"Slurm job {status.job_id}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    exit_code = "-" if status.exit_code is None else str(status.exit_code)
    if status.signal:
        exit_code += f" (signal {status.signal})"
    for field, value in (
        ("name", status.name),
        ("state", f"{status.state} ({status.slurm_state})"),
        ("reason", status.reason),
        ("exit code", exit_code),
        ("nodes", status.nodes),
        ("run time", f"{status.run_time} of {status.time_limit}" if status.run_time else ""),
        ("stdout", status.stdout),
        ("stderr", status.stderr),
    ):
        if value:
            table.add_row(field, escape(value))
    console.print(table)


@slurm_app.command("cancel", cls=_Command)
def slurm_cancel(
    job_id: JobIdArgument,
    wait: Annotated[
        float,
        typer.Option(min=0, help="Seconds to wait for the job to leave the queue."),
    ] = 60.0,
) -> None:
    """Cancel a driver job (its Ray cluster stops with it) and wait until it leaves the queue.

    Example: qdreamer slurm cancel 4242
    """
    from pilot.batch.slurm import cancel

    job_id = _job_id(job_id)
    with err_console.status(f"cancelling Slurm job {job_id}..."):
        status, cancelled = cancel(job_id, wait=wait)
    if cancelled:
        console.print(
            f"cancelled Slurm job {job_id} ({escape(status.slurm_state)})", highlight=False
        )
    else:
        console.print(
            f"Slurm job {job_id} had already ended ({escape(status.slurm_state)}); "
            "nothing to cancel",
            highlight=False,
        )


# ---------------------------------------------------------------- entry point
#: Typer's (vendored) click exception base, found from a public subclass.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: every error as one line (``--debug``: the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args, prog_name="qdreamer", standalone_mode=False)
    except _CLICK_EXCEPTION as exc:  # usage errors: exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed
            sys.exit(2)
        message = one_line(exc.format_message())  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err_console.print(
            f"[red]error:[/red] {escape(message)}{hint}", highlight=False, soft_wrap=True
        )
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Exception as exc:
        if _state["debug"] or "--debug" in args:
            raise
        if type(exc).__name__ == "Abort":
            err_console.print("[red]error:[/red] aborted", highlight=False)
            sys.exit(1)
        err_console.print(
            f"[red]error:[/red] {type(exc).__name__}: {escape(one_line(str(exc)))}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

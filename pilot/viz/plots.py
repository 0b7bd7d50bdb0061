"""Pictures of results and rankings (matplotlib, the optional ``plot`` extra).

Two drawings, each onto a matplotlib ``Axes`` the caller may pass in:

* :func:`plot_result` (``QuantumResult.plot()``): a bar chart of a result's
  counts, or of its exact probabilities when it has no counts.  Returns the
  ``Axes``, as matplotlib's own plotting methods do.
* :func:`plot_ranking`: QDREAMER's ranking (:func:`pilot.cli.views.ranking_rows`)
  as a scatter of estimated fidelity against expected wait, marker area
  proportional to estimated cost, the chosen resource ringed.  Returns the
  ``Figure`` (the scatter carries ``gid="ranking"``, the ring ``gid="chosen"``,
  so a caller can read the plotted data back).

:func:`write_ranking_plot` draws the ranking onto a figure of its own and
saves it with the Agg canvas: no pyplot state, no display, and the user's
chosen backend is left alone.

matplotlib is imported inside the functions; without it they raise
:class:`~pilot.errors.MissingDependencyError` with the install command.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pilot.errors import MissingDependencyError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: What a missing matplotlib is answered with (the second form for installs
#: that did not come from our package, e.g. a source checkout on PYTHONPATH).
INSTALL = "pip install 'qdreamer[plot]' (or: pip install matplotlib)"

SORTS = ("bitstring", "count")


class QuantumResult(Protocol):
    """What a plot reads of a :class:`pilot.results.QuantumResult` (this layer sits
    above results, so it names the fields instead of importing the class)."""

    task_id: str
    name: str
    counts: dict[str, int] | None
    shots: int | None
    probabilities: dict[str, float] | None
    expectation_values: list[float] | None
    backend: str


#: Marker areas (points²) in the ranking: free resources, the smallest and the
#: largest priced marker.  Priced areas are proportional to cost, floored at
#: ``_AREA_MIN`` so that a cent-priced simulator stays visible next to a QPU.
_AREA_FREE = 40.0
_AREA_MIN = 60.0
_AREA_MAX = 900.0

_BLUE = "#4c72b0"
_GREEN = "#55a868"
_RED = "#c44e52"
_LABEL_SIZE = 8.0
#: Tick marks of a logarithmic wait axis: round seconds, minutes, hours, days.
_LOG_TICKS = (0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36000.0, 86400.0, 864000.0)
#: Infeasible resources listed under the ranking plot, at most.
_MAX_LISTED = 8


def require_matplotlib(what: str = "plotting") -> None:
    """Raise ``MissingDependencyError`` (with the install command) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError("", "matplotlib", INSTALL, what=what) from None


def supported_formats() -> list[str]:
    """File suffixes matplotlib can save to (``png``, ``pdf``, ``svg``...)."""
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


# ---------------------------------------------------------------- counts histogram
def plot_result(
    result: QuantumResult,
    ax: Axes | None = None,
    *,
    sort: Literal["bitstring", "count"] = "bitstring",
    top: int | None = None,
    title: str | None = None,
) -> Axes:
    """Bars of ``result``'s counts (or exact probabilities) on ``ax``; returns ``ax``.

    ``sort="bitstring"`` orders outcomes by key, ``"count"`` most frequent
    first.  ``top`` keeps the ``top`` most frequent outcomes (the title says
    how many were left out).  Without ``ax`` a new pyplot figure is made.
    Results with neither counts nor probabilities (expectation values only)
    raise ``ValueError``.
    """
    if sort not in SORTS:
        raise ValueError(f"sort={sort!r}: use one of {', '.join(SORTS)}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top={top!r}: give a positive number of outcomes, or None for all")
    values: Mapping[str, float]
    if result.counts is not None:
        values, ylabel = result.counts, "count"
        what = f"{result.shots} shots" if result.shots is not None else "counts"
    elif result.probabilities is not None:
        values, ylabel, what = result.probabilities, "probability", "exact probabilities"
    else:
        has = "expectation values" if result.expectation_values is not None else "no outcomes"
        raise ValueError(
            f"task {result.task_id} ({result.name}) has no counts or probabilities to plot "
            f"(it has {has}); plot counts by measuring the circuit, or draw "
            ".expectation_values yourself"
        )
    require_matplotlib("QuantumResult.plot()")
    by_count = sorted(values, key=lambda k: (-values[k], k))
    shown = by_count if top is None else by_count[:top]
    if sort == "bitstring":
        shown = sorted(shown)
    if title is None:
        title = f"{result.name}: {what} on {result.backend}"
    if len(shown) < len(values):
        title += f" ({len(shown)} most frequent of {len(values)} outcomes)"
    rotate = len(shown) > 8
    if ax is None:
        import matplotlib.pyplot as plt

        widest = max((len(k) for k in shown), default=1)
        _, ax = plt.subplots(
            figsize=(
                min(24.0, max(4.5, 0.35 * len(shown) + 2)),
                3.5 + (0.08 * widest if rotate else 0),
            ),
            layout="constrained",
        )
    positions = list(range(len(shown)))
    bars = ax.bar(positions, [values[k] for k in shown], color=_BLUE, gid="outcomes")
    ax.set_xticks(positions, shown, rotation=90 if rotate else 0, family="monospace")
    if len(shown) <= 16:
        ax.bar_label(bars, fmt="%d" if ylabel == "count" else "%.3f", fontsize=_LABEL_SIZE)
    ax.margins(y=0.12)
    ax.set_xlabel("outcome")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return ax


# ---------------------------------------------------------------- ranking scatter
def _seconds(value: float, _pos: object = None) -> str:
    """Tick labels: ``0``, ``0.5s``, ``30s``, ``5m``, ``1h``, ``10d``."""
    if value == 0:
        return "0"
    if abs(value) < 60:
        return f"{value:.3g}s"
    if abs(value) < 3600:
        return f"{value / 60:.3g}m"
    if abs(value) < 172800:
        return f"{value / 3600:.3g}h"
    return f"{value / 86400:.3g}d"


def _money(value: float, currency: str) -> str:
    shown = f"{value:.3g}" if value < 1 else f"{value:,.2f}"
    return f"{shown} {currency}"


def _dot(area: float, color: str, label: str) -> Any:
    """A legend entry: one marker of scatter area ``area``."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker="o",
        ls="",
        ms=math.sqrt(area),
        mfc=color,
        mec="white",
        label=label,
    )


def _area(row: Mapping[str, Any], top_cost: float) -> float:
    if not row["priced"]:
        return _AREA_FREE
    if top_cost <= 0:
        return _AREA_MIN
    return max(_AREA_MIN, _AREA_MAX * float(row["estimated_cost"]) / top_cost)


def _set_wait_scale(ax: Axes, waits: Sequence[float]) -> str:
    """Linear, log or symlog x axis for ``waits``; returns a note for the axis label.

    Logarithmic once the waits span two decades above a second (a QPU queue
    of hours next to a simulator's none); symlog, linear below one second,
    when some waits are zero (a log axis cannot show them).
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    positive = [w for w in waits if w > 0]
    top = max(waits, default=0.0)
    note = ""
    if positive and top / max(min(positive), 1.0) >= 100:
        if len(positive) < len(waits):
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
            ax.set_xlim(-0.3, top * 3)
            ax.xaxis.set_major_locator(FixedLocator([0.0, *(t for t in _LOG_TICKS if t >= 1)]))
            note = " (log scale above 1 s)"
        else:
            ax.set_xscale("log")
            ax.set_xlim(min(positive) / 2, top * 3)
            ax.xaxis.set_major_locator(FixedLocator(_LOG_TICKS))
            note = " (log scale)"
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif top > 0:
        ax.set_xlim(-0.06 * top, 1.35 * top)  # room on the right for the labels
    else:
        ax.set_xlim(-0.06, 1.35)
        ax.set_xticks([0.0])
        note = " (no queues: every wait is 0)"
    ax.xaxis.set_major_formatter(FuncFormatter(_seconds))
    return note


def _place_labels(
    ax: Axes,
    points: Sequence[tuple[float, float]],
    radii: Sequence[float],
    labels: Sequence[str],
    chosen: int | None,
) -> None:
    """Label each point beside its marker, moved up or down (or to the left) when the
    place is taken by an earlier label or a marker, or outside the axes.

    ``radii`` are the markers' radii in points.  Label extents are estimated
    from the font size; the axes must be laid out already (positions are
    taken in display space).  Points come in rank order, so the chosen
    resource keeps the place right of its marker.
    """
    scale = ax.figure.dpi / 72.0
    height = 1.3 * _LABEL_SIZE * scale
    frame = ax.bbox
    Box = tuple[float, float, float, float]
    centres = [tuple(ax.transData.transform(p)) for p in points]
    taken: list[Box] = [
        (px - r * scale, py - r * scale, px + r * scale, py + r * scale)
        for (px, py), r in zip(centres, radii, strict=True)
    ]

    def fits(box: Box, own: int) -> bool:
        x0, y0, x1, y1 = box
        if x0 < frame.x0 or x1 > frame.x1 or y0 < frame.y0 or y1 > frame.y1:
            return False
        return all(
            x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1
            for j, (a0, b0, a1, b1) in enumerate(taken)
            if j != own
        )

    steps = (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6)
    for i, ((px, py), text) in enumerate(zip(centres, labels, strict=True)):
        width = 0.62 * _LABEL_SIZE * scale * len(text) * (1.1 if i == chosen else 1.0)
        gap = radii[i] + 4  # points from the centre to the label
        choice: tuple[int, float] = (1, 0.0)
        for side, step in [(1, s) for s in steps] + [(-1, s) for s in steps]:
            x0 = px + side * gap * scale - (width if side < 0 else 0)
            cy = py + step * 1.3 * _LABEL_SIZE * scale
            box = (x0, cy - height / 2, x0 + width, cy + height / 2)
            if fits(box, i):
                choice = (side, step * 1.3 * _LABEL_SIZE)
                taken.append(box)
                break
        side, dy = choice
        ax.annotate(
            text,
            points[i],
            xytext=(side * gap, dy),
            textcoords="offset points",
            ha="left" if side > 0 else "right",
            va="center",
            fontsize=_LABEL_SIZE,
            fontweight="bold" if i == chosen else "normal",
            color=_RED if i == chosen else "black",
            arrowprops=None if dy == 0 else {"arrowstyle": "-", "color": "0.6", "lw": 0.6},
            gid="label",
            in_layout=False,
        )


def plot_ranking(
    rows: Sequence[Mapping[str, Any]], ax: Axes | None = None, *, title: str | None = None
) -> Figure:
    """Draw a ranking (rows of :func:`pilot.cli.views.ranking_rows`); returns the Figure.

    x is the expected wait before the task starts (log scale when the waits
    span more than two decades), y the estimated fidelity.  Marker area is
    proportional to the estimated cost (free resources: a small fixed green
    marker); the chosen resource (rank 1) is ringed and its label is bold.
    Each point is labelled ``rank. resource`` (with the pilot when two
    pilots hold resources of the same name).

    Infeasible resources are not plotted but listed under the axes with the
    reasons: they are not part of the trade-off, and a resource too small for
    the circuit has no fidelity estimate at all (0 would squash the others).
    The scatter's points follow the feasible rows in rank order.
    """
    require_matplotlib("plot_ranking()")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8.0, 4.8), layout="constrained")
    feasible = [r for r in rows if r["feasible"]]
    rejected = [r for r in rows if not r["feasible"]]
    names = Counter(str(r["resource"]) for r in rows)
    chosen = next((i for i, r in enumerate(feasible) if r["rank"] == 1), None)
    points = [(float(r["expected_wait_seconds"]), float(r["estimated_fidelity"])) for r in feasible]
    priced = [r for r in feasible if r["priced"]]
    top_cost = max((float(r["estimated_cost"]) for r in priced), default=0.0)
    areas = [_area(r, top_cost) for r in feasible]

    note = _set_wait_scale(ax, [x for x, _ in points])
    fidelities = [y for _, y in points] or [1.0]
    low, high = min(fidelities), max(fidelities)
    pad = 0.08 * max(high - low, 0.1)
    ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.grid(True, color="0.92", zorder=0)
    ax.set_axisbelow(True)

    ax.scatter(
        [x for x, _ in points],
        [y for _, y in points],
        s=areas,
        c=[_BLUE if r["priced"] else _GREEN for r in feasible],
        alpha=0.8,
        edgecolors="white",
        linewidths=0.8,
        zorder=2,
        gid="ranking",
    )
    ring = 0.0
    if chosen is not None:
        x, y = points[chosen]
        ring = (math.sqrt(areas[chosen]) + 9) ** 2
        ax.scatter(
            [x],
            [y],
            s=ring,
            facecolors="none",
            edgecolors=_RED,
            linewidths=2,
            zorder=3,
            gid="chosen",
        )
        # Its marker again, on top: a larger one at the same place must not hide it.
        ax.scatter(
            [x],
            [y],
            s=areas[chosen],
            c=[_BLUE if feasible[chosen]["priced"] else _GREEN],
            edgecolors="white",
            linewidths=0.8,
            zorder=3,
        )
    if not feasible:
        ax.text(0.5, 0.5, "no feasible resource", transform=ax.transAxes, ha="center", color=_RED)

    handles = [_dot(_AREA_FREE, _GREEN, "free")]
    if priced:
        currency = str(max(priced, key=lambda r: float(r["estimated_cost"]))["currency"])
        if top_cost <= 0:
            handles.append(_dot(_AREA_MIN, _BLUE, _money(0.0, currency)))
        else:
            samples = [top_cost, top_cost / 4] if len(priced) > 1 else [top_cost]
            handles += [_dot(_AREA_MAX * c / top_cost, _BLUE, _money(c, currency)) for c in samples]
        floor = top_cost * _AREA_MIN / _AREA_MAX
        if top_cost > 0 and any(float(r["estimated_cost"]) < floor for r in priced):
            handles.append(_dot(_AREA_MIN, _BLUE, f"\u2264 {_money(floor, currency)}"))
    if chosen is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                ms=13,
                mfc="none",
                mec=_RED,
                mew=2,
                label="QDREAMER's choice",
            )
        )
    ax.legend(
        handles=handles,
        title="marker area \u221d\nestimated cost",
        title_fontsize=_LABEL_SIZE,
        fontsize=_LABEL_SIZE,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        labelspacing=1.3,
        handlelength=math.sqrt(_AREA_MAX) / _LABEL_SIZE + 0.5,
        handletextpad=0.8,
        frameon=False,
    )
    ax.set_xlabel(f"expected wait before the task starts{note}")
    ax.set_ylabel("estimated fidelity")
    ax.set_title(title or "QDREAMER ranking", fontsize=10)
    if rejected:
        lines = [
            f"{r['resource']} ({r['pilot']}): {'; '.join(r['reasons'])}"
            for r in rejected[:_MAX_LISTED]
        ]
        if len(rejected) > _MAX_LISTED:
            lines.append(f"... and {len(rejected) - _MAX_LISTED} more")
        ax.annotate(
            "not feasible (not plotted):\n" + "\n".join(lines),
            (0.0, 0.0),
            xycoords=("axes fraction", ax.xaxis.label),
            xytext=(0, -6),
            textcoords="offset points",
            va="top",
            ha="left",
            fontsize=_LABEL_SIZE,
            color="0.35",
            gid="infeasible",
        )
    fig = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure: the Figure holding it
        fig = fig.figure
    # Lay the figure out (legend, footnote) first: labels are placed in display space.
    fig.draw_without_rendering()
    radii = [math.sqrt(a) / 2 for a in areas]
    if chosen is not None:
        radii[chosen] = math.sqrt(ring) / 2
    labels = [
        f"{r['rank']}. {r['resource']}"
        + (f" ({r['pilot']})" if names[str(r["resource"])] > 1 else "")
        + (" (chosen)" if i == chosen else "")
        for i, r in enumerate(feasible)
    ]
    _place_labels(ax, points, radii, labels, chosen)
    return fig


def write_result_plot(
    result: QuantumResult, path: str | Path, *, top: int | None = 64, title: str | None = None
) -> Path:
    """Draw :func:`plot_result` (the ``top`` most frequent outcomes) on a figure of its
    own and save it to ``path`` (Agg canvas: nothing shown, pyplot untouched)."""
    require_matplotlib("the counts plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = result.counts or result.probabilities or {}
    shown = min(len(values), top or len(values))
    widest = max((len(k) for k in values), default=1)
    fig = Figure(
        figsize=(min(24.0, max(4.5, 0.35 * shown + 2)), 3.5 + (0.08 * widest if shown > 8 else 0)),
        dpi=120,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    plot_result(result, fig.add_subplot(), top=top, title=title)
    path = Path(path)
    fig.savefig(path)
    logger.info("counts plot written to %s", path)
    return path


def write_ranking_plot(
    rows: Sequence[Mapping[str, Any]], path: str | Path, *, title: str | None = None
) -> Path:
    """Draw :func:`plot_ranking` on a figure of its own and save it to ``path``.

    The format follows the suffix (``.png``, ``.svg``, ``.pdf``...).  Uses the
    Agg canvas directly: nothing is shown and pyplot's state is untouched.
    """
    require_matplotlib("the ranking plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    plot_ranking(rows, fig.add_subplot(), title=title)
    path = Path(path)
    fig.savefig(path, bbox_inches="tight", pad_inches=0.15)
    logger.info("ranking plot written to %s", path)
    return path


__all__ = [
    "INSTALL",
    "plot_ranking",
    "plot_result",
    "require_matplotlib",
    "supported_formats",
    "write_ranking_plot",
    "write_result_plot",
]

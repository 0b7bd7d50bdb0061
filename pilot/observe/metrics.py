"""Qdreamer's custom metrics, exported by Ray to Prometheus and its dashboard.

Every series is a :mod:`ray.util.metrics` object created here, once per
process, on first use.  Recording is local (the core worker aggregates and
its metrics agent exports every few seconds), yet a Ray recording costs tens
of microseconds: so the task and submit paths only count in plain dicts, and
the counts reach Ray in bulk about once a second -- a pilot actor's when the
service collects its task rows (``drain_events``), QDREAMER's selections from
the service's supervisor thread (:func:`flush`).  Ray prefixes each name
with ``ray_`` and adds ``SessionName``, ``NodeAddress`` and ``WorkerId`` tags
(sum over ``WorkerId`` for a pilot with several actors).  A failure to record
is logged once at DEBUG and never reaches a task.

Per resource (tags ``pilot``, ``resource``, ``executor``, plus the extra tag
shown), recorded in the pilot actor (:class:`pilot.pilots.actor.PilotActor`) or by
QDREAMER on the driver (:mod:`pilot.selection`), all names ``qdreamer_...``:

=========================== ========= ======== ===================================
name                        type      extra    meaning
=========================== ========= ======== ===================================
``tasks_running``           gauge              tasks in this actor now (computing
                                               or waiting for its compute slot)
``tasks_finished_total``    counter   outcome  task attempts that ended here:
                                               ``done``, ``failed``, ``cancelled``,
                                               ``timeout`` (see
                                               :func:`pilot.pilots.actor.task_row`); an
                                               attempt forwarded to a fallback
                                               ends there
``tasks_failed_total``      counter   outcome  those of the attempts above whose
                                               outcome is not ``done``
``task_latency_seconds``    histogram          submission to end of each attempt
                                               (queue + run), buckets 1 ms .. 8 h
``queue_depth``             gauge              jobs ahead on the resource as
                                               QDREAMER last predicted them: the
                                               provider's queue plus our tasks it
                                               does not hold yet (remote), or the
                                               pilot's unfinished tasks per actor
                                               (local)
``estimated_fidelity``      gauge              QDREAMER's fidelity estimate for
                                               the last task it ranked, in [0, 1]
``selections_total``        counter            tasks QDREAMER assigned to it
``provider_status_calls_``  counter   outcome  status calls QDREAMER's monitor made
``total``                                      to the provider: ``ok``, ``error``
``estimated_cost_total``    counter   currency estimated cost of the tasks QDREAMER
                                               assigned (priced resources only)
``accrued_cost_total``      counter   currency estimated cost of the tasks that
                                               finished (``done``) on it
=========================== ========= ======== ===================================

Per service (no tags but Ray's; a driver normally runs one service):

=========================== ========= ======== ===================================
``status_cache_hit_ratio``  gauge              hits / lookups of QDREAMER's status
                                               cache (:class:`dreamer.cache.
                                               StatusCache` counts them)
=========================== ========= ======== ===================================

The gauges QDREAMER sets while ranking (queue depth, fidelity, hit ratio) are
published at most once a second per resource, so a burst of submissions
costs one recording per second, not one per task.  Cost is an estimate from
``conf/pricing.toml``: no provider reports what a job was billed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter as _Tally
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ray
from ray.util.metrics import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from dreamer.cache import StatusCache
    from dreamer.ranking import RankedResource
    from dreamer.selector import Candidate

logger = logging.getLogger(__name__)

#: Tag keys of the per-resource series.
RESOURCE_TAGS = ("pilot", "resource", "executor")

#: Latency buckets (seconds): a local simulator's milliseconds to a cloud queue's hours.
LATENCY_BOUNDARIES = [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
]

#: Seconds between publications of one resource's ranking gauges.
GAUGE_INTERVAL = 1.0


class _Series:
    """Every metric object of this process (made on first use, after ``ray.init``)."""

    def __init__(self) -> None:
        r = RESOURCE_TAGS
        self.running = Gauge(
            "qdreamer_tasks_running",
            "Quantum tasks in this pilot actor now (computing or waiting for its slot).",
            tag_keys=r,
        )
        self.finished = Counter(
            "qdreamer_tasks_finished_total",
            "Quantum task attempts that ended on the resource, by outcome.",
            tag_keys=(*r, "outcome"),
        )
        self.failed = Counter(
            "qdreamer_tasks_failed_total",
            "Quantum task attempts that ended on the resource without a result, by outcome.",
            tag_keys=(*r, "outcome"),
        )
        self.latency = Histogram(
            "qdreamer_task_latency_seconds",
            "Seconds from submission to the end of each quantum task attempt.",
            boundaries=LATENCY_BOUNDARIES,
            tag_keys=r,
        )
        self.queue_depth = Gauge(
            "qdreamer_queue_depth",
            "Jobs ahead on the resource as QDREAMER last saw them.",
            tag_keys=r,
        )
        self.fidelity = Gauge(
            "qdreamer_estimated_fidelity",
            "QDREAMER's estimated fidelity of the last task ranked on the resource.",
            tag_keys=r,
        )
        self.selections = Counter(
            "qdreamer_selections_total",
            "Quantum tasks QDREAMER assigned to the resource.",
            tag_keys=r,
        )
        self.status_calls = Counter(
            "qdreamer_provider_status_calls_total",
            "Status calls QDREAMER's monitor made to the resource's provider, by outcome.",
            tag_keys=(*r, "outcome"),
        )
        self.estimated_cost = Counter(
            "qdreamer_estimated_cost_total",
            "QDREAMER's estimated cost of the tasks it assigned to the resource.",
            tag_keys=(*r, "currency"),
        )
        self.accrued_cost = Counter(
            "qdreamer_accrued_cost_total",
            "Estimated cost of the quantum tasks that finished on the resource.",
            tag_keys=(*r, "currency"),
        )
        self.hit_ratio = Gauge(
            "qdreamer_status_cache_hit_ratio",
            "Hits / lookups of QDREAMER's resource status cache.",
        )


class _State:
    """This process's metric objects and what the hooks keep between calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.series: _Series | None = None
        self.running: _Tally[tuple[str, str, str]] = _Tally()
        #: Running counts changed since the last publish_running().
        self.running_dirty: set[tuple[str, str, str]] = set()
        #: Selections and estimated costs not yet handed to Ray (flush()).
        self.selections: _Tally[tuple[str, str, str]] = _Tally()
        self.costs: dict[tuple[str, str, str, str], float] = {}
        self.published: dict[str, float] = {}
        self.warned = False


_state = _State()


def _get() -> _Series | None:
    """The metric objects, or ``None`` outside Ray (nothing to export to)."""
    if _state.series is not None:
        return _state.series

    if not ray.is_initialized():
        return None
    with _state.lock:
        if _state.series is None:
            _state.series = _Series()
    return _state.series


def _failed(what: str, exc: Exception) -> None:
    """Log the first failure to record (at DEBUG: metrics never fail a task)."""
    if not _state.warned:
        _state.warned = True
        logger.debug("could not record the %s metrics", what, exc_info=exc)


def _tags(pilot: str, resource: str, executor: str) -> dict[str, str]:
    return {"pilot": pilot, "resource": resource, "executor": executor}


def _due(key: str, now: float) -> bool:
    if now - _state.published.get(key, -math.inf) < GAUGE_INTERVAL:
        return False
    _state.published[key] = now
    return True


# ------------------------------------------------------------ pilot actor
def tasks_started(pilot: str, executor: str, resources: Iterable[str]) -> None:
    """Tasks on ``resources`` (one entry per task) entered the actor."""
    _move_running(pilot, executor, resources, +1)


def tasks_ended(pilot: str, executor: str, resources: Iterable[str]) -> None:
    """Tasks on ``resources`` (one entry per task) left the actor, whatever their end."""
    _move_running(pilot, executor, resources, -1)


def _move_running(pilot: str, executor: str, resources: Iterable[str], step: int) -> None:
    """Plain counting (the task path); :func:`publish_running` hands it to Ray."""
    moved = _Tally(resources)
    with _state.lock:
        for resource, n in moved.items():
            key = (pilot, resource, executor)
            _state.running[key] = max(0, _state.running[key] + step * n)
            _state.running_dirty.add(key)


def publish_running() -> None:
    """Set the running gauges that changed (the actor's ``drain_events``, each second)."""
    try:
        m = _get()
        if m is None:
            return
        with _state.lock:
            changed = [(key, _state.running[key]) for key in _state.running_dirty]
            _state.running_dirty.clear()
        for key, value in changed:
            m.running.set(value, tags=_tags(*key))
    except Exception as exc:
        _failed("running-task", exc)


def attempts_finished(rows: Sequence[Mapping[str, Any]]) -> None:
    """Count rows of :func:`pilot.pilots.actor.task_row`: outcomes, latency, accrued cost.

    Counters are incremented once per (resource, outcome) of the batch; the
    latency histogram gets every attempt.
    """
    if not rows:
        return
    try:
        m = _get()
        if m is None:
            return
        outcomes: _Tally[tuple[str, str, str, str]] = _Tally()
        cost: dict[tuple[str, str, str, str], float] = {}
        for row in rows:
            tags = _tags(str(row["pilot"]), str(row["resource"]), str(row["executor"]))
            key = (tags["pilot"], tags["resource"], tags["executor"], str(row["outcome"]))
            outcomes[key] += 1
            latency = float(row["queue_seconds"]) + float(row["run_seconds"])
            m.latency.observe(max(0.0, latency), tags=tags)
            price = row.get("estimated_cost")
            if row["outcome"] == "done" and price:
                currency = str(row.get("currency") or "USD")
                ckey = (*key[:3], currency)
                cost[ckey] = cost.get(ckey, 0.0) + float(price)
        for (pilot, resource, executor, outcome), n in outcomes.items():
            tags = {**_tags(pilot, resource, executor), "outcome": outcome}
            m.finished.inc(n, tags=tags)
            if outcome != "done":
                m.failed.inc(n, tags=tags)
        for (pilot, resource, executor, currency), value in cost.items():
            if value > 0:
                tags = {**_tags(pilot, resource, executor), "currency": currency}
                m.accrued_cost.inc(value, tags=tags)
    except Exception as exc:
        _failed("finished-task", exc)


# ------------------------------------------------------------ QDREAMER (driver)
def selected(chosen: RankedResource | Candidate) -> None:
    """QDREAMER chose ``chosen`` for a task: count it, and add its estimated cost.

    Counted here (the submit path: a dict update); :func:`flush` hands the sums
    to Ray about once a second (the service's supervisor thread calls it)."""
    cap = chosen.resource
    key = (cap.pilot, cap.name, cap.executor)
    breakdown: Mapping[str, Any] = getattr(chosen, "breakdown", {})
    price = breakdown.get("estimated_cost")
    with _state.lock:
        _state.selections[key] += 1
        if price:
            ckey = (*key, str(breakdown.get("currency") or "USD"))
            _state.costs[ckey] = _state.costs.get(ckey, 0.0) + float(price)


def flush() -> None:
    """Record the selections and estimated costs counted since the last call."""
    with _state.lock:
        selections, costs = _state.selections, _state.costs
        _state.selections, _state.costs = _Tally(), {}
    if not selections and not costs:
        return
    try:
        m = _get()
        if m is None:
            return
        for key, n in selections.items():
            m.selections.inc(n, tags=_tags(*key))
        for (pilot, resource, executor, currency), value in costs.items():
            m.estimated_cost.inc(
                value, tags={**_tags(pilot, resource, executor), "currency": currency}
            )
    except Exception as exc:
        _failed("selection", exc)


def ranked(entries: Sequence[RankedResource], cache: StatusCache) -> None:
    """Publish what a ranking saw: queue depth and fidelity per resource, the cache's
    hit ratio; each at most once every :data:`GAUGE_INTERVAL` seconds."""
    try:
        m = _get()
        if m is None:
            return
        now = time.monotonic()
        for entry in entries:
            cap = entry.resource
            if not _due(cap.key, now):
                continue
            tags = _tags(cap.pilot, cap.name, cap.executor)
            m.queue_depth.set(float(entry.breakdown["queue_depth"]), tags=tags)
            if entry.breakdown["fidelity_model"] != "n/a":  # no estimate: it cannot run the task
                m.fidelity.set(float(entry.breakdown["estimated_fidelity"]), tags=tags)
        lookups = cache.hits + cache.misses
        if lookups and _due("\0cache", now):
            m.hit_ratio.set(cache.hits / lookups)
    except Exception as exc:
        _failed("ranking", exc)


def status_called(pilot: str, resource: str, executor: str, queue_depth: int | None) -> None:
    """The monitor asked a provider for ``resource``'s status; ``queue_depth`` is
    ``None`` when the call failed."""
    try:
        m = _get()
        if m is None:
            return
        tags = _tags(pilot, resource, executor)
        outcome = "error" if queue_depth is None else "ok"
        m.status_calls.inc(1, tags={**tags, "outcome": outcome})
        if queue_depth is not None:
            m.queue_depth.set(float(queue_depth), tags=tags)
    except Exception as exc:
        _failed("status-call", exc)

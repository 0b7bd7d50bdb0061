"""Coalescing: single submissions that arrive close together share one actor call.

A loop of ``pcs.submit_quantum_task(...)`` calls would cost one Ray actor call
per circuit (about 0.3 ms of the driver's time, and as much on the pilot),
and one SDK call per circuit on the pilot (Aer runs 2,000 circuits in one
``run`` about twice as fast as in 2,000).  Ray Serve's ``@serve.batch`` solves
the same problem on the server side; here each caller must get its Ray
``ObjectRef`` at once, before the batch exists, so the driver opens a
*window* on the actor first::

    submit #1 ............ direct: actor.run(spec)           a lone task waits for nothing
    submit #2 (soon after) open:  refs = actor.run_window      num_returns=size; the call
                                  .remote(window, size)        waits on the pilot (group
                                  -> refs[0] for #2             "windows") for its tasks
    submit #3 .. #k ...... refs[1] .. refs[k-2]
    full, or MAX_WAIT_SECONDS after opening, or the driver waits for results
                  ...... send:  actor.fill_window.remote(window, specs)
    pilot ................ run_batch(specs): one SDK call; size values returned
                           (unused slots None, dropped by the driver)

Each task keeps its own ref: it fails alone (its ``RayTaskError`` is raised
from its ref), cancels alone (``cancel_remote`` skips it) and is journaled
and resubmitted like a task of ``submit_quantum_tasks``.  A submission opens
or joins a window only when the previous one to the same pilot came less than
:data:`BURST_SECONDS` earlier, so a task submitted on its own (a VQE step, a
notebook cell) goes straight to its actor: its latency does not grow.  The
window size adapts: it doubles each time a window fills before its deadline
(up to :data:`MAX_SIZE`), and follows the number of tasks that arrived
otherwise.

Only tasks whose every argument is a plain value qualify (an ``ObjectRef``
argument would make the window wait for it), without a timeout (timed tasks
run one per call), on pilots that run their circuits locally and are not
restarted by Ray (a restarted actor would wait for a window already filled).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from pilot.pilots.actor import PilotActor
from pilot.tasks import new_task_id

logger = logging.getLogger(__name__)

#: A submission this soon after the previous one to the same pilot is part of a burst.
BURST_SECONDS = 0.002
#: A window is sent at most this long after it was opened.
MAX_WAIT_SECONDS = 0.005
#: Window sizes (the number of refs one ``run_window`` call returns).
MIN_SIZE = 16
MAX_SIZE = 512


@dataclass
class Window:
    """Tasks gathered for one ``run_window`` call."""

    id: str
    actor: Any
    pilot: str
    size: int
    refs: list[Any]
    opened: float
    specs: list[Any] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return len(self.specs) >= self.size


class Coalescer:
    """The driver's open windows, one per pilot actor (see the module docstring).

    ``submit`` returns a task's ref from a window, or ``None`` when the task
    goes straight to its actor; a thread sends windows whose time is up;
    :meth:`flush` sends every open window now (before the driver waits for
    results, cancels a task, or stops).
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._open: dict[bytes, Window] = {}
        self._last: dict[str, float] = {}
        self._size: dict[bytes, int] = {}
        self._methods: LRUCache[tuple[bytes, int, str], Any] = LRUCache(maxsize=1024)
        self._fills: dict[bytes, Any] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ submitting
    def submit(self, pilot: str, actor: Any, spec: Any) -> Any:
        """The ref for ``spec`` in a window of ``actor``, or ``None`` (send it directly)."""
        now = time.monotonic()
        key = actor._actor_id.binary()
        with self._lock:
            if self._closed:
                return None
            window = self._open.get(key)
            last = self._last.get(pilot)
            self._last[pilot] = now
            if window is None:
                if last is None or now - last > BURST_SECONDS:
                    return None
                window = self._start(key, actor, pilot, spec, now)
            ref = window.refs[len(window.specs)]
            window.specs.append(spec)
            if window.full:
                del self._open[key]
                self._size[key] = min(MAX_SIZE, window.size * 2)
            else:
                window = None
        if window is not None:
            self._send(window)
        return ref

    def _start(self, key: bytes, actor: Any, pilot: str, spec: Any, now: float) -> Window:
        """Open a window on ``actor`` (caller holds the lock)."""
        size = self._size.get(key, MIN_SIZE)
        # Named after its first task (a burst is usually one circuit submitted many
        # times): the Ray dashboard lists it as that task, as a direct call would be.
        memo = (key, size, spec.stage)
        method = self._methods.get(memo)
        if method is None:
            method = self._methods[memo] = actor.run_window.options(
                num_returns=size, concurrency_group=PilotActor.WINDOWS, name=spec.stage
            )
        window_id = new_task_id()
        refs = list(method.remote(window_id, size))
        window = Window(window_id, actor, pilot, size, refs, now)
        self._open[key] = window
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="qdreamer-coalesce", daemon=True
            )
            self._thread.start()
        self._lock.notify()
        return window

    def _send(self, window: Window) -> None:
        key = window.actor._actor_id.binary()
        fill = self._fills.get(key)
        if fill is None:
            fill = self._fills[key] = window.actor.fill_window.options(
                concurrency_group=PilotActor.CONTROL
            )
        try:
            fill.remote(window.id, window.specs)
        except Exception as exc:  # the actor is gone: its refs fail, the supervisor acts
            logger.debug("window %s: not sent: %s", window.id, exc)
        window.refs = []  # the unused slots' refs are dropped with the window

    # ------------------------------------------------------------ sending on time
    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                due = [w for w in self._open.values() if now - w.opened >= MAX_WAIT_SECONDS]
                for window in due:
                    key = window.actor._actor_id.binary()
                    del self._open[key]
                    # Sized for what arrived in its time (at least MIN_SIZE).
                    self._size[key] = max(MIN_SIZE, min(MAX_SIZE, 2 * len(window.specs)))
                if not due:
                    if self._open:
                        first = min(w.opened for w in self._open.values())
                        self._lock.wait(max(0.0, first + MAX_WAIT_SECONDS - now))
                    else:
                        self._lock.wait()
                    continue
            for window in due:
                self._send(window)

    def flush(self) -> None:
        """Send every open window now."""
        with self._lock:
            windows = list(self._open.values())
            self._open.clear()
        for window in windows:
            self._send(window)

    def close(self) -> None:
        """Send every open window and stop the thread."""
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(5)

"""Keep the status cache fresh from a daemon thread on the driver.

::

    providers() ──> {key: callable returning ResourceStatus}
          │
    monitor thread, for each key when due (every interval, or sooner on request):
          call the provider in a worker thread, wait at most timeout_seconds
            ├── value  -> cache.put(key, value); next due after interval
            └── error / timeout -> cache keeps the last value (served stale);
                                   next due after interval * 2^failures (capped,
                                   with jitter); a hung call is never stacked

``request(key)`` only wakes the thread: callers (the submit path) never wait
for a provider.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from dreamer.cache import StatusCache
from dreamer.resource import ResourceStatus

logger = logging.getLogger(__name__)

Provider = Callable[[], ResourceStatus]


class StatusMonitor:
    def __init__(
        self,
        cache: StatusCache,
        providers: Callable[[], Mapping[str, Provider]],
        interval_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        max_backoff_seconds: float = 600.0,
        max_workers: int = 8,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds!r}")
        self.cache = cache
        self.providers = providers
        self.interval = float(interval_seconds)
        self.timeout = float(timeout_seconds)
        self.max_backoff = float(max_backoff_seconds)
        self._timer = timer
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._inflight: dict[str, tuple[Future[ResourceStatus], float]] = {}
        self._requested: set[str] = set()
        self._rng = random.Random(0)

    # ------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval_seconds: float | None = None) -> None:
        if interval_seconds is not None:
            if interval_seconds <= 0:
                raise ValueError(f"interval_seconds must be > 0, got {interval_seconds!r}")
            self.interval = float(interval_seconds)
        if self.running:
            self._wake.set()
            return
        self._stop.clear()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="qdreamer-status")
        self._thread = threading.Thread(target=self._loop, name="qdreamer-monitor", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)
        self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------ requests
    def request(self, key: str) -> None:
        """Ask for a refresh of ``key`` soon; returns at once."""
        with self._lock:
            if key in self._inflight or key in self._requested:
                return
            self._requested.add(key)
        self._wake.set()

    def refresh(self, keys: list[str] | None = None, timeout: float | None = None) -> None:
        """Refresh ``keys`` (default all) now and wait for them (bounded by ``timeout``)."""
        providers = self.providers()
        keys = list(providers) if keys is None else keys
        deadline = self._timer() + (timeout if timeout is not None else self.timeout)
        futures = {k: self._call(k, providers[k]) for k in keys if k in providers}
        for key, fut in futures.items():
            self._collect(key, fut, max(0.0, deadline - self._timer()))

    # ------------------------------------------------------------ internals
    def _call(self, key: str, provider: Provider) -> Future[ResourceStatus]:
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                return running[0]
            if self._pool is None:  # refresh() before start(): a pool without the thread
                self._pool = ThreadPoolExecutor(self._max_workers, "qdreamer-status")
            pool = self._pool
            self.cache.record_call(key)
            fut = pool.submit(provider)
            self._inflight[key] = (fut, self._timer())
            self._requested.discard(key)
            return fut

    def _collect(self, key: str, fut: Future[ResourceStatus], wait: float) -> None:
        try:
            status = fut.result(timeout=wait)
        except TimeoutError:
            self._fail(key, f"no answer within {self.timeout:g} s")
            return  # stays in flight until it ends: never stack calls on a hung provider
        except Exception as exc:
            self._fail(key, f"{type(exc).__name__}: {exc}")
        else:
            self.cache.put(key, status)
            with self._lock:
                self._failures.pop(key, None)
                self._due[key] = self._timer() + self.interval
        with self._lock:
            if self._inflight.get(key, (None,))[0] is fut:
                del self._inflight[key]

    def _fail(self, key: str, message: str) -> None:
        self.cache.record_failure(key, message)
        with self._lock:
            n = self._failures[key] = self._failures.get(key, 0) + 1
            backoff = min(self.interval * 2 ** (n - 1), self.max_backoff)
            self._due[key] = self._timer() + backoff * (0.8 + 0.4 * self._rng.random())
        logger.warning("status of %s not refreshed (%s); serving the last value", key, message)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # never let the monitor die
                logger.exception("status monitor tick failed")
            with self._lock:
                upcoming = [t for k, t in self._due.items() if k not in self._inflight]
            now = self._timer()
            sleep = min([max(0.0, t - now) for t in upcoming] + [self.interval])
            if self._inflight:
                sleep = min(sleep, 0.05)
            self._wake.wait(sleep)
            self._wake.clear()

    def _tick(self) -> None:
        now = self._timer()
        providers = self.providers()
        with self._lock:
            requested = set(self._requested)
        for key, provider in providers.items():
            due = self._due.get(key, now)
            if key in self._inflight:
                continue
            if (
                key in requested
                and not self.cache.is_fresh(key)
                and self._failures.get(key, 0) == 0
            ) or due <= now:
                self._call(key, provider)
        # collect finished calls and time out slow ones
        with self._lock:
            inflight = list(self._inflight.items())
        for key, (fut, started) in inflight:
            if fut.done():
                self._collect(key, fut, 0.0)
            elif self._timer() - started > self.timeout and key not in self._failures:
                self._fail(key, f"no answer within {self.timeout:g} s")
        with self._lock:
            self._requested -= set(providers)

"""A thread-safe TTL cache of resource status that remembers the last value.

``get(key)`` answers from memory and never calls a provider:

* a value younger than the TTL is a *hit*;
* an older one is a *miss* but is still returned, marked ``stale=True``
  (better a known queue from a minute ago than none);
* a resource never observed is a miss returning ``None``.

Providers are called by :class:`dreamer.monitor.StatusMonitor`, which records
each call and failure here so that :meth:`StatusCache.info` can report them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cachetools import TTLCache

from dreamer.resource import ResourceStatus


class StatusCache:
    def __init__(
        self,
        ttl_seconds: float = 30.0,
        maxsize: int = 4096,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"cache_ttl_seconds must be > 0, got {ttl_seconds!r}")
        self.ttl = float(ttl_seconds)
        self._timer = timer
        self._fresh: TTLCache[str, ResourceStatus] = TTLCache(maxsize, self.ttl, timer=timer)
        self._last: dict[str, ResourceStatus] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self.last_refresh: dict[str, float] = {}

    def get(self, key: str) -> ResourceStatus | None:
        with self._lock:
            value = self._fresh.get(key)
            if value is not None:
                self.hits += 1
                return value
            self.misses += 1
            last = self._last.get(key)
            return replace(last, stale=True) if last is not None else None

    def is_fresh(self, key: str) -> bool:
        with self._lock:
            return key in self._fresh

    def put(self, key: str, status: ResourceStatus) -> None:
        with self._lock:
            status = replace(status, stale=False)
            self._fresh[key] = status
            self._last[key] = status
            self.last_refresh[key] = time.time()
            self.last_error.pop(key, None)

    def record_call(self, key: str) -> None:
        with self._lock:
            self.calls[key] += 1

    def record_failure(self, key: str, error: str) -> None:
        with self._lock:
            self.failures[key] += 1
            self.last_error[key] = error

    def clear(self) -> None:
        """Forget every value and counter."""
        with self._lock:
            self._fresh.clear()
            self._last.clear()
            self.hits = self.misses = 0
            self.calls.clear()
            self.failures.clear()
            self.last_error.clear()
            self.last_refresh.clear()

    def info(self) -> dict[str, Any]:
        """Hits, misses, size, TTL, provider calls and failures per resource, freshness."""
        with self._lock:
            keys = sorted(set(self._last) | set(self.calls) | set(self.failures))
            now = time.time()
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_ratio": self.hits / (self.hits + self.misses)
                if self.hits + self.misses
                else None,
                "size": len(self._fresh),
                "ttl_seconds": self.ttl,
                "resources": {
                    key: {
                        "provider_calls": self.calls.get(key, 0),
                        "failures": self.failures.get(key, 0),
                        "last_refresh": self.last_refresh.get(key),
                        "age_seconds": now - self.last_refresh[key]
                        if key in self.last_refresh
                        else None,
                        "stale": key not in self._fresh,
                        "last_error": self.last_error.get(key),
                    }
                    for key in keys
                },
            }

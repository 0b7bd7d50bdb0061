"""Status cache and background monitor: hits, staleness, one call per TTL, hung providers."""

from __future__ import annotations

import threading
import time

import pytest

from dreamer.cache import StatusCache
from dreamer.monitor import StatusMonitor
from dreamer.resource import ResourceStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hits_misses_and_stale_values() -> None:
    clock = Clock()
    cache = StatusCache(ttl_seconds=30, timer=clock)
    assert cache.get("p/dev") is None
    cache.put("p/dev", ResourceStatus(queue_depth=7))
    assert cache.get("p/dev").queue_depth == 7 and not cache.get("p/dev").stale
    clock.now += 31
    stale = cache.get("p/dev")
    assert stale.queue_depth == 7 and stale.stale  # served, marked stale
    info = cache.info()
    assert info["hits"] == 2 and info["misses"] == 2 and info["ttl_seconds"] == 30
    assert info["resources"]["p/dev"]["stale"] is True
    cache.clear()
    assert cache.get("p/dev") is None and cache.info()["hits"] == 0
    with pytest.raises(ValueError, match="cache_ttl_seconds must be > 0"):
        StatusCache(ttl_seconds=0)


def test_many_requests_inside_one_ttl_cause_one_provider_call() -> None:
    calls = []

    def provider() -> ResourceStatus:
        calls.append(time.monotonic())
        time.sleep(0.05)
        return ResourceStatus(queue_depth=3)

    cache = StatusCache(ttl_seconds=30)
    monitor = StatusMonitor(cache, lambda: {"cloud/qpu": provider}, interval_seconds=60)
    monitor.start()
    try:
        seen = []
        deadline = time.monotonic() + 5
        for _ in range(10_000):  # submissions: look up, ask for a refresh on a miss
            status = cache.get("cloud/qpu")
            if status is None or status.stale:
                monitor.request("cloud/qpu")
            seen.append(status)
            assert time.monotonic() < deadline
        while cache.get("cloud/qpu") is None:  # the one refresh lands
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        monitor.stop()
    assert len(calls) == 1
    assert cache.info()["resources"]["cloud/qpu"]["provider_calls"] == 1
    assert seen[0] is None  # the first submissions did not wait for the provider


def test_a_hanging_provider_blocks_nobody_and_the_last_value_is_served_stale() -> None:
    release = threading.Event()
    state = {"hang": False}

    def provider() -> ResourceStatus:
        if state["hang"]:
            release.wait(30)
        return ResourceStatus(queue_depth=1)

    clock = Clock()
    cache = StatusCache(ttl_seconds=10, timer=clock)
    monitor = StatusMonitor(
        cache, lambda: {"cloud/qpu": provider}, interval_seconds=10, timeout_seconds=0.2
    )
    monitor.refresh()
    assert cache.get("cloud/qpu").queue_depth == 1
    state["hang"] = True
    clock.now += 11  # the value expires
    monitor.start()
    try:
        start = time.monotonic()
        for _ in range(100):
            status = cache.get("cloud/qpu")
            monitor.request("cloud/qpu")
        assert time.monotonic() - start < 0.1  # requests return at once
        assert status.stale and status.queue_depth == 1
        deadline = time.monotonic() + 5
        while cache.info()["resources"]["cloud/qpu"]["failures"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        info = cache.info()["resources"]["cloud/qpu"]
        assert info["provider_calls"] == 2  # the hung call is not stacked
        assert "no answer within 0.2 s" in info["last_error"]
    finally:
        release.set()
        monitor.stop()


def test_failures_back_off_exponentially() -> None:
    clock = Clock()
    cache = StatusCache(ttl_seconds=10, timer=clock)

    def broken() -> ResourceStatus:
        raise ConnectionError("503 Service Unavailable")

    monitor = StatusMonitor(
        cache,
        lambda: {"cloud/qpu": broken},
        interval_seconds=10,
        max_backoff_seconds=100,
        timer=clock,
    )
    gaps = []
    for _ in range(5):
        monitor.refresh()
        gaps.append(monitor._due["cloud/qpu"] - clock.now)
        clock.now = monitor._due["cloud/qpu"]
    assert cache.info()["resources"]["cloud/qpu"]["failures"] == 5
    assert "ConnectionError: 503" in cache.info()["resources"]["cloud/qpu"]["last_error"]
    # 10, 20, 40, 80, 100 (capped), each with +-20 % jitter
    for gap, base in zip(gaps, (10, 20, 40, 80, 100), strict=True):
        assert 0.8 * base <= gap <= 1.2 * base

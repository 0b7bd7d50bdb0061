"""Our custom metrics (``pilot.observe.metrics``) as Prometheus reads them from Ray.

Two quantum pilots on the session's Ray: a local Aer simulator and Braket's
SV1 (the real SDK against the fake HTTP service, so it is priced and polled
like a cloud device).  Tasks run on both; then Ray's own metrics export on
this node (``http://<node>:<MetricsExportPort>/metrics``, what Prometheus
scrapes) is read until our series show the counts the tasks imply.  Ray
flushes metrics every few seconds, hence the polling.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from tests.helpers import bell_qiskit

SV1 = {"executor": "braket_sv1", "s3_bucket": "qdreamer-test", "poll_interval_seconds": 0.01}
#: SV1's estimate for a bell circuit: $0.075 a minute, 3-second minimum.
SV1_TASK_COST = 0.075 * 3 / 60
#: Seconds to wait for Ray to export what we recorded.
EXPORT_DEADLINE = 90.0

Samples = list[tuple[str, dict[str, str], float]]
#: urllib without the environment's proxies (the export is on this machine).
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def metrics_url() -> list[str]:
    """Ray's Prometheus export of this node (loopback first)."""
    import ray

    here = ray.util.get_node_ip_address()
    node = next(n for n in ray.nodes() if n["Alive"] and n["NodeManagerAddress"] == here)
    port = node["MetricsExportPort"]
    return [f"http://127.0.0.1:{port}/metrics", f"http://{here}:{port}/metrics"]


def scrape() -> Samples:
    """Every sample of the ``ray_qdreamer_*`` families, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    errors = []
    for url in metrics_url():
        try:
            with LOOPBACK.open(url, timeout=10) as response:
                text = response.read().decode()
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            continue
        return [
            (s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            if family.name.startswith("ray_qdreamer_")
            for s in family.samples
        ]
    raise AssertionError(f"Ray's metrics export did not answer: {errors}")


def total(samples: Samples, name: str, **labels: str) -> float | None:
    """Sum of ``name`` over the samples carrying ``labels`` (every worker), or ``None``."""
    found = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    return sum(found) if found else None


def wait_for(check: Callable[[Samples], list[str]]) -> Samples:
    """Scrape until ``check`` finds nothing missing (it returns what is), or fail."""
    deadline = time.monotonic() + EXPORT_DEADLINE
    while True:
        samples = scrape()
        missing = check(samples)
        if not missing:
            return samples
        if time.monotonic() > deadline:
            ours = sorted({(n, tuple(sorted(lab.items()))) for n, lab, _ in samples})
            raise AssertionError(f"not exported within {EXPORT_DEADLINE:g} s: {missing}; {ours}")
        time.sleep(1.0)


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, fake_braket: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        yield service


@pytest.mark.slow
def test_tasks_selections_costs_and_status_calls_are_exported(pcs: Any, fake_braket: Any) -> None:
    suffix = uuid.uuid4().hex[:6]  # this run's series only (counters live as long as Ray)
    sim, sv1 = f"msim{suffix}", f"msv1{suffix}"
    for name, quantum in ((sim, {"executor": "qiskit_local"}), (sv1, SV1)):
        pcs.create_pilot(
            {"resource_type": "quantum", "name": name, "cores_per_node": 0.25, "quantum": quantum}
        )
    q = pcs.initialize_dreamer(objective="cost", cache_ttl_seconds=60)
    q.refresh(timeout=30)  # one status call to Braket for SV1, through the pilot actor
    free = [pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100)) for _ in range(6)]
    fake_braket.fail_next_task()
    paid = [
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100, pilot=sv1)) for _ in range(4)
    ]
    assert {r.pilot for r in pcs.get_results(free)} == {sim}  # the cost objective: free first
    outcomes = []
    for ref in paid:
        try:
            outcomes.append(pcs.get_results(ref).pilot)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert sorted(outcomes).count(sv1) == 3, outcomes
    aer = {"pilot": sim, "resource": "aer_simulator", "executor": "qiskit_local"}
    brk = {"pilot": sv1, "resource": "SV1", "executor": "braket_sv1"}

    def check(s: Samples) -> list[str]:
        want: dict[str, tuple[float | None, float]] = {
            "sim done": (total(s, "ray_qdreamer_tasks_finished_total", **aer, outcome="done"), 6),
            "sv1 done": (total(s, "ray_qdreamer_tasks_finished_total", **brk, outcome="done"), 3),
            "sv1 failed": (
                total(s, "ray_qdreamer_tasks_failed_total", **brk, outcome="failed"),
                1,
            ),
            "sim selections": (total(s, "ray_qdreamer_selections_total", **aer), 6),
            "sv1 selections": (total(s, "ray_qdreamer_selections_total", **brk), 4),
            "sim latency count": (total(s, "ray_qdreamer_task_latency_seconds_count", **aer), 6),
            "sim running": (total(s, "ray_qdreamer_tasks_running", **aer), 0),
            "sv1 running": (total(s, "ray_qdreamer_tasks_running", **brk), 0),
        }
        return [f"{k}: {got} != {n}" for k, (got, n) in want.items() if got != n]

    s = wait_for(check)
    # Latency: every attempt observed, in seconds (a bell circuit on Aer: well under a minute).
    assert 0 < total(s, "ray_qdreamer_task_latency_seconds_sum", **aer) < 6 * 60
    assert total(s, "ray_qdreamer_task_latency_seconds_bucket", **aer, le="+Inf") == 6
    # Costs: estimated when chosen (4 tasks), accrued when done (3); the simulator is free.
    usd = {"currency": "USD"}
    assert total(s, "ray_qdreamer_estimated_cost_total", **brk, **usd) == pytest.approx(
        4 * SV1_TASK_COST
    )
    assert total(s, "ray_qdreamer_accrued_cost_total", **brk, **usd) == pytest.approx(
        3 * SV1_TASK_COST
    )
    assert total(s, "ray_qdreamer_estimated_cost_total", **aer) is None
    # Ranking gauges: fidelity estimates, queue depth seen; status calls for the remote one.
    for tags in (aer, brk):
        fidelity = total(s, "ray_qdreamer_estimated_fidelity", **tags)
        assert fidelity is not None and 0 < fidelity <= 1, (tags, fidelity)
        assert total(s, "ray_qdreamer_queue_depth", **tags) is not None
    calls = total(s, "ray_qdreamer_provider_status_calls_total", **brk, outcome="ok")
    assert calls is not None and calls >= 1
    assert total(s, "ray_qdreamer_provider_status_calls_total", **aer) is None  # local: none
    info = q.get_cache_info()
    assert info["hits"] + info["misses"] > 0
    ratio = total(s, "ray_qdreamer_status_cache_hit_ratio")
    assert ratio is not None and 0 <= ratio <= 1

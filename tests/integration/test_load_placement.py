"""QDREAMER under load, end to end: IBM and Braket devices whose queues grow with what we
submit and drain at a set rate (the fakes' clock mode), a burst placed by the budget.

Three QPUs behind the real SDKs: the fake Braket service's Forte-like QPU
(``tests/fakes/braket_service.py``) and two IBM devices of the fake IBM Quantum
Platform (``ibmq_manila``, ``ibm_perth``; calibrations from qiskit-ibm-runtime's
snapshots).  Each drains one job per :data:`SECONDS_PER_JOB`; QDREAMER is told the
usual ``typical_job_seconds`` (60, ``conf/defaults.toml``), so a burst's predicted
queues -- not the fakes' speed -- decide the placement, and the bounds below follow
from the rule in ``dreamer/placement.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qiskit import QuantumCircuit

from pilot import PilotComputeService, QuantumTask
from tests.fakes.ibm_service import FakeIBMQuantumPlatform

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SECONDS_PER_JOB = 0.05
BURST = 200
IBM_DEVICES = ("ibmq_manila", "ibm_perth")
#: Fast retries, so that a failing provider is given up on (and failed over) in a second.
FAST_RETRIES = {"max_attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.02}


def ghz3() -> QuantumCircuit:
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.measure(range(3), range(3))
    return qc


@pytest.fixture(scope="module")
def ibm() -> Iterator[FakeIBMQuantumPlatform]:
    with FakeIBMQuantumPlatform(token="planted-load-token-2b7e") as fake:
        yield fake


@pytest.fixture(scope="module")
def pcs(
    ray_session: None, workdir: Any, fake_braket: Any, ibm: FakeIBMQuantumPlatform
) -> Iterator[PilotComputeService]:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            name="braket",
            resource_type="quantum",
            quantum={
                "executor": "braket_qpu",
                "braket_device_arn": fake_braket.QPU_ARN,
                "s3_bucket": "qdreamer-test",
                "poll_interval_seconds": 0.01,
                "retries": FAST_RETRIES,
            },
        )
        service.create_pilot(
            name="ibm",
            resource_type="quantum",
            quantum=ibm.quantum_config(
                backends=list(IBM_DEVICES), poll_interval_seconds=0.01, retries=FAST_RETRIES
            ),
        )
        yield service


@pytest.fixture
def drained(pcs: PilotComputeService, fake_braket: Any, ibm: FakeIBMQuantumPlatform) -> Any:
    """Every device a FIFO server at SECONDS_PER_JOB; QDREAMER on, its statuses fresh."""
    fake_braket.reset()
    ibm.reset()
    fake_braket.drain(fake_braket.QPU_ARN, SECONDS_PER_JOB)
    for name in IBM_DEVICES:
        ibm.drain(name, SECONDS_PER_JOB)
    yield fake_braket, ibm
    fake_braket.reset()
    ibm.reset()


def start(pcs: PilotComputeService, **settings: Any) -> dict[str, float]:
    """QDREAMER with ``settings``, statuses fresh, no refresh during a burst; the
    estimated fidelity of GHZ-3 on each device (``pilot/name``)."""
    q = pcs.initialize_dreamer(
        objective="fidelity", monitor_interval_seconds=3600, cache_ttl_seconds=3600, **settings
    )
    q.refresh(timeout=30)
    ranked = q.rank(QuantumTask(ghz3(), shots=100))
    return {r.key: r.breakdown["estimated_fidelity"] for r in ranked if r.feasible}


def burst(pcs: PilotComputeService, n: int) -> list[Any]:
    refs = pcs.submit_quantum_tasks([QuantumTask(ghz3(), shots=100) for _ in range(n)])
    return refs


def where(results: list[Any]) -> list[str]:
    return [f"{r.pilot}/{r.backend}" for r in results]


def test_a_burst_spreads_within_the_budget_and_never_beyond(
    pcs: PilotComputeService, drained: Any
) -> None:
    fidelity = start(pcs)
    assert len(fidelity) == 3, fidelity  # the QPU and both IBM devices can run GHZ-3
    order = sorted(fidelity, key=fidelity.get, reverse=True)
    best, second, third = (fidelity[k] for k in order)
    # A budget that holds the best two and leaves the third out.
    loss = ((1 - second / best) + (1 - third / best)) / 2
    start(pcs, max_fidelity_loss=loss)
    refs = burst(pcs, BURST)

    # The providers' queues grow with what we sent (our jobs reach them as our pilots'
    # threads submit them) ...
    q = pcs.qdreamer
    deadline = time.monotonic() + 30
    while True:
        q.refresh(timeout=30)
        queued = sum(q.cache.get(key).queue_depth for key in fidelity)
        if queued > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert queued > 0
    # ... and what QDREAMER predicts counts each task once: the provider's figure plus
    # ours it does not hold yet never exceeds what we placed there and has not ended.
    for r in q.rank(QuantumTask(ghz3(), shots=100)):
        if r.key in fidelity:
            b = r.breakdown
            placed = q.ledger.placed_on(r.key)
            assert b["provider_queue_depth"] + b["ours_in_queue"] <= placed + 1, (r.key, b)

    results = pcs.get_results(refs, timeout=300)
    assert all(sum(r.counts.values()) == 100 for r in results)
    count = Counter(where(results))
    # Never beyond the budget, never all on one device ...
    assert count[order[2]] == 0 and count[order[0]] > 0 and count[order[1]] > 0, count
    # ... and spread as the rule says: every device 60 s per job (typical_job_seconds),
    # queues empty at the start, the best keeps at most its slack more (ten minutes:
    # 10 jobs, or 10 % of the other's queue), one task of rounding.
    a, b = count[order[0]], count[order[1]]
    assert 0 <= a - b <= max(10, 0.1 * b) + 1, count
    sel = results[-1].selection
    assert sel["breakdown"]["max_fidelity_loss"] == pytest.approx(loss)
    assert sel["breakdown"]["fidelity_floor"] == pytest.approx((1 - loss) * best, rel=1e-6)
    assert sel["breakdown"]["expected_wait_seconds"] > 0  # it saw the queue the burst made
    assert {alt["resource"] for alt in sel["alternatives"]} <= set(fidelity)

    # Drained: the providers report empty queues, and our count is back to zero.
    q.refresh(timeout=30)
    assert all(q.cache.get(key).queue_depth == 0 for key in fidelity)
    # (The supervisor sees each task end within a round or two of its thread.)
    deadline = time.monotonic() + 30
    while len(q.ledger) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(q.ledger) == 0


def test_no_loss_reproduces_fidelity_greedy(pcs: PilotComputeService, drained: Any) -> None:
    fidelity = start(pcs)
    greedy = where(pcs.get_results(burst(pcs, 60), timeout=300))
    start(pcs, max_fidelity_loss=0)
    budget = where(pcs.get_results(burst(pcs, 60), timeout=300))
    assert budget == greedy == [max(fidelity, key=fidelity.get)] * 60


def test_ibm_devices_that_fail_move_their_tasks_to_the_next_ranked(
    pcs: PilotComputeService, drained: Any
) -> None:
    """IBM takes part in failover as Braket does: with the QPU's queue long, ``speed``
    ranks both IBM devices first; their job submissions keep failing (HTTP 429), so
    the task moves on, device by device, to the QPU, and the path is recorded."""
    fake_braket, ibm = drained
    fake_braket.drain(fake_braket.QPU_ARN, SECONDS_PER_JOB, external_queue=50)
    start(pcs, failover_attempts=2)
    pcs.initialize_dreamer(objective="speed")
    ranked = [r.key for r in pcs.qdreamer.rank(QuantumTask(ghz3(), shots=100)) if r.feasible]
    assert {ranked[0], ranked[1]} == {f"ibm/{d}" for d in IBM_DEVICES}, ranked
    ibm.fail_next("CreateJob", 429, times=1000)  # (the SDK itself retries a POST's 5xx)
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(ghz3(), shots=100)), timeout=120)
    assert sum(result.counts.values()) == 100 and result.pilot == "braket"
    path = result.selection["failover"]
    assert [f"{hop['pilot']}/{hop['resource']}" for hop in path] == ranked[:2]
    assert all("IBMTransientError" in hop["error"] for hop in path), path

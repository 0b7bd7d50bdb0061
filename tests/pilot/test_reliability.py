"""Faults injected for real: pilot actors killed, timeouts, cancellation at the provider,
flaky and failing providers (issue 6).

Braket cloud devices run through the real SDK against the session's fake HTTP
service (``tests/fakes/braket_service.py``); nothing of ours is mocked.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from pilot.backends.jobs import RetryPolicy, retrying
from pilot.errors import TaskCancelledError, TaskTimeoutError
from pilot.states import PilotState
from tests.helpers import basis, bell_qiskit

SV1 = {"executor": "braket_sv1", "s3_bucket": "qdreamer-test", "poll_interval_seconds": 0.02}


def key(i: int, width: int = 10) -> str:
    return format(i, f"0{width}b")  # Qiskit's order: clbit 0 rightmost


@pytest.fixture
def clean_fake(fake_braket: Any) -> Any:
    fake_braket.reset()
    pending = fake_braket.pending_statuses
    yield fake_braket
    fake_braket.pending_statuses = pending
    fake_braket.reset()


# ------------------------------------------------------------------ pilot loss
@pytest.mark.slow
def test_killed_pilot_actor_loses_no_task(ray_session: None, workdir: Any) -> None:
    """1,000 tasks in flight over two pilots; one pilot's actor is killed: every task
    completes exactly once, correctly; the dead pilot is FAILED and no longer chosen."""
    import ray

    with PilotComputeService(working_directory=workdir / "kill") as pcs:
        for name in ("a", "b"):
            pcs.create_pilot(
                name=name,
                resource_type="quantum",
                cores_per_node=0.25,
                quantum={"executor": "qiskit_local", "seed": 1},
            )
        pcs.initialize_dreamer()
        victim = pcs.get_pilot("a").actors[0]
        tasks = [QuantumTask(basis(i), shots=8) for i in range(1000)]
        refs = pcs.submit_quantum_tasks(tasks, chunk_size=20)
        # QDREAMER spreads the burst over the two identical pilots (each task sees the
        # queue the ones before it made).
        sent_to_a = sum(pcs._supervisor.record(r).pilot == "a" for r in refs)
        assert 400 <= sent_to_a <= 600
        # Killed once some of its tasks finished (on a loaded machine the victim may
        # start last: waiting for any 60 could find them all on "b").
        of_a = [r for r in refs if pcs._supervisor.record(r).pilot == "a"]
        early, _ = ray.wait(of_a, num_returns=20, timeout=120, fetch_local=False)
        assert len(early) == 20, "pilot 'a' finished fewer than 20 tasks in 120 s"
        ray.kill(victim)
        results = pcs.get_results(refs, timeout=300)

        assert [r.counts for r in results] == [{key(i): 8} for i in range(1000)]
        assert len({r.task_id for r in results}) == 1000
        on_a = [r for r in results if r.pilot == "a"]
        assert 0 < len(on_a) < sent_to_a, "some tasks finished on the victim before it died"
        # Results that were ready before the kill were not run again.
        early_results = pcs.get_results(early)
        assert all(pcs._supervisor.resolve(r) is r for r in early)
        assert {r.task_id for r in early_results} <= {r.task_id for r in results}
        assert pcs._supervisor.resubmitted == sent_to_a - len(on_a)

        assert pcs.get_pilot("a").state is PilotState.FAILED
        ranked = pcs.qdreamer.rank(QuantumTask(bell_qiskit(), shots=10))
        assert {r.resource.pilot for r in ranked} == {"b"}
        after = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=50)))
        assert after.pilot == "b" and sum(after.counts.values()) == 50


@pytest.mark.slow
def test_pilot_actor_killed_by_a_signal_restarts_when_configured(
    ray_session: None, workdir: Any
) -> None:
    import ray

    with PilotComputeService(working_directory=workdir / "restart") as pcs:
        pilot = pcs.create_pilot(
            name="r",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_local", "max_restarts": 1},
        )
        pid = ray.get(pilot.actors[0].describe.remote())["pid"]
        refs = pcs.submit_quantum_tasks(
            [QuantumTask(basis(i), shots=4) for i in range(300)], chunk_size=10
        )
        ray.wait(refs, num_returns=20, fetch_local=False)
        os.kill(pid, signal.SIGKILL)
        results = pcs.get_results(refs, timeout=300)
        assert [r.counts for r in results] == [{key(i): 4} for i in range(300)]
        assert pilot.state is PilotState.RUNNING
        assert ray.get(pilot.actors[0].describe.remote())["pid"] != pid
        assert pcs._supervisor.resubmitted == 0  # Ray retried them on the restarted actor


# ------------------------------------------------------------------ timeouts and cancel
def slow_bell(seconds: float) -> Any:
    time.sleep(seconds)
    return bell_qiskit()


@pytest.mark.slow
def test_timeout_on_a_local_simulator(ray_session: None, workdir: Any) -> None:
    with PilotComputeService(working_directory=workdir / "timeout") as pcs:
        pcs.create_pilot(
            name="aer",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_local"},
        )
        start = time.monotonic()
        ref = pcs.submit_quantum_task(
            QuantumTask(slow_bell, num_qubits=2, args=(5.0,), timeout_seconds=0.5)
        )
        with pytest.raises(TaskTimeoutError, match=r"did not finish within timeout_seconds=0.5"):
            pcs.get_results(ref)
        assert time.monotonic() - start < 4
        ok = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=20)))
        assert sum(ok.counts.values()) == 20


@pytest.mark.slow
def test_cancelling_one_task_of_a_chunk_leaves_the_others(ray_session: None, workdir: Any) -> None:
    """submit_quantum_tasks sends chunks as one actor call: cancelling one of its tasks
    must not cancel the rest (ray.cancel would)."""
    with PilotComputeService(working_directory=workdir / "chunk") as pcs:
        pcs.create_pilot(
            name="aer",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_local"},
        )
        busy = pcs.submit_quantum_task(QuantumTask(slow_bell, num_qubits=2, args=(2.0,)))
        refs = pcs.submit_quantum_tasks(
            [QuantumTask(basis(i, 3), shots=10) for i in range(4)], chunk_size=4
        )
        assert pcs.cancel_task(refs[1]) == 1
        results = pcs.get_results([busy, *refs], return_exceptions=True)
        assert isinstance(results[2], TaskCancelledError)
        assert f"task {pcs._supervisor.record(refs[1]).task_id} was cancelled" in str(results[2])
        assert [results[i].counts for i in (1, 3, 4)] == [{key(i, 3): 10} for i in (0, 2, 3)], (
            "the chunk's other tasks ran"
        )


def _sv1_service(workdir: Any, name: str, **quantum: Any) -> PilotComputeService:
    pcs = PilotComputeService(working_directory=workdir / name)
    pcs.create_pilot(
        name="sv1", resource_type="quantum", cores_per_node=0.25, quantum={**SV1, **quantum}
    )
    return pcs


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.slow
def test_cancel_task_cancels_the_braket_quantum_task(
    ray_session: None, workdir: Any, clean_fake: Any
) -> None:
    clean_fake.pending_statuses = ("QUEUED",) * 100_000  # never finishes by itself
    with _sv1_service(workdir, "cancel") as pcs:
        ref = pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10))
        _wait_for(lambda: len(clean_fake.tasks) == 1)
        arn = clean_fake.tasks[0].arn
        assert pcs.cancel_task(ref) == 1
        with pytest.raises(TaskCancelledError, match=r"was cancelled; remote jobs cancelled") as e:
            pcs.get_results(ref, timeout=30)
        assert arn in str(e.value)
        assert clean_fake.cancelled == [arn]
        # Braket answers CancelQuantumTask with CANCELLING; CANCELLED follows.
        assert clean_fake.task(arn).status in ("CANCELLING", "CANCELLED")


@pytest.mark.slow
def test_timeout_cancels_the_braket_quantum_task(
    ray_session: None, workdir: Any, clean_fake: Any
) -> None:
    with _sv1_service(workdir, "braket-timeout") as pcs:
        # Warm up first (the SDK's first call can take seconds on a loaded machine).
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10)))
        clean_fake.reset()
        clean_fake.pending_statuses = ("QUEUED",) * 100_000
        ref = pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10, timeout_seconds=2))
        with pytest.raises(TaskTimeoutError, match=r"did not finish within timeout_seconds=2"):
            pcs.get_results(ref, timeout=30)
        assert len(clean_fake.tasks) == 1
        assert clean_fake.cancelled == [clean_fake.tasks[0].arn]


# ------------------------------------------------------------------ flaky providers
@pytest.mark.slow
def test_transient_errors_on_30_percent_of_calls(
    ray_session: None, workdir: Any, clean_fake: Any
) -> None:
    clean_fake.fail_randomly(0.3, seed=7)
    with _sv1_service(
        workdir,
        "flaky",
        retries={"max_attempts": 12, "backoff_seconds": 0.05, "max_backoff_seconds": 0.5},
    ) as pcs:
        refs = pcs.submit_quantum_tasks([QuantumTask(basis(i, 4), shots=5) for i in range(16)])
        results = pcs.get_results(refs, timeout=240)
    assert [r.counts for r in results] == [{key(i, 4): 5} for i in range(16)]
    assert clean_fake.random_failures > 10
    assert len(clean_fake.tasks) == 16  # none created twice


@pytest.mark.slow
def test_permanently_failing_provider_fails_over_and_is_held_offline(
    ray_session: None, workdir: Any, clean_fake: Any
) -> None:
    with PilotComputeService(working_directory=workdir / "failover") as pcs:
        pcs.create_pilot(
            name="sv1",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={
                **SV1,
                "retries": {"max_attempts": 2, "backoff_seconds": 0.01},
                "failure_hold_seconds": 8,
            },
        )
        pcs.create_pilot(
            name="fakes",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_fake", "backends": ["fake_kolkata"]},
        )
        q = pcs.initialize_dreamer(
            objective="fidelity",
            resources=["sv1/SV1", "fakes/fake_kolkata"],
            monitor_interval_seconds=0.5,
        )
        q.refresh(timeout=10)
        task = QuantumTask(bell_qiskit(), shots=100)
        assert q.select(task).key == "sv1/SV1"
        clean_fake.fail_randomly(1.0, operations=("CreateQuantumTask",))
        result = pcs.get_results(pcs.submit_quantum_task(task))
        assert result.pilot == "fakes"
        (hop,) = result.selection["failover"]
        assert hop["resource"] == "SV1" and "ServiceUnavailable" in hop["error"]
        # The driver hears of it and QDREAMER stops choosing SV1 ...
        _wait_for(lambda: q.select(task).key == "fakes/fake_kolkata", timeout=10)
        sv1 = next(r for r in q.rank(task) if r.key == "sv1/SV1")
        assert not sv1.feasible and any("offline" in why for why in sv1.reasons)
        # ... until the monitor sees it healthy again.
        clean_fake.fail_randomly(0.0)
        _wait_for(lambda: q.select(task).key == "sv1/SV1", timeout=40)
        again = pcs.get_results(pcs.submit_quantum_task(task))
        assert again.pilot == "sv1" and "failover" not in (again.selection or {})


def labelled_bell(label: int, shots_hint: int) -> Any:
    assert (label, shots_hint) == (7, 100), (label, shots_hint)  # its arguments arrived
    return bell_qiskit()


@pytest.mark.slow
def test_batch_tasks_failing_over_inside_their_pilot_keep_their_arguments(
    ray_session: None, workdir: Any, clean_fake: Any
) -> None:
    """Tasks of one submit_quantum_tasks call whose circuit is a function of its
    ``args`` move from a failing provider to the next resource with those args."""
    with PilotComputeService(working_directory=workdir / "failover-args") as pcs:
        pcs.create_pilot(
            name="sv1",
            resource_type="quantum",
            quantum={**SV1, "retries": {"max_attempts": 2, "backoff_seconds": 0.01}},
        )
        pcs.create_pilot(
            name="fakes",
            resource_type="quantum",
            quantum={"executor": "qiskit_fake", "backends": ["fake_kolkata"]},
        )
        q = pcs.initialize_dreamer(
            objective="fidelity", resources=["sv1/SV1", "fakes/fake_kolkata"]
        )
        q.refresh(timeout=10)
        tasks = [QuantumTask(labelled_bell, args=(7, 100), shots=100) for _ in range(6)]
        assert q.select(tasks[0]).key == "sv1/SV1"  # the ideal simulator ranks first
        clean_fake.fail_randomly(1.0, operations=("CreateQuantumTask",))
        results = pcs.get_results(pcs.submit_quantum_tasks(tasks), timeout=120)
        assert [r.pilot for r in results] == ["fakes"] * 6
        for r in results:
            (hop,) = r.selection["failover"]
            assert hop["resource"] == "SV1" and "ServiceUnavailable" in hop["error"]
            assert sum(r.counts.values()) == 100
            assert r.counts.get("00", 0) + r.counts.get("11", 0) > 80  # a noisy Bell pair


def test_retrying_backs_off_with_jitter_and_is_bounded() -> None:
    import random

    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 4:
            raise ConnectionResetError("connection reset by peer")
        return "ok"

    policy = RetryPolicy(max_attempts=5, backoff_seconds=0.05, max_backoff_seconds=1)
    assert retrying(flaky, policy, rng=random.Random(1)) == "ok"
    assert len(calls) == 4
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(0 <= g <= 0.05 * 2**i + 0.05 for i, g in enumerate(gaps))

    def always() -> str:
        calls.append(time.monotonic())
        raise TimeoutError("read timed out")

    calls.clear()
    with pytest.raises(TimeoutError):
        retrying(always, RetryPolicy(max_attempts=3, backoff_seconds=0.01))
    assert len(calls) == 3  # bounded count
    calls.clear()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        retrying(always, RetryPolicy(max_attempts=100, backoff_seconds=0.2, total_seconds=0.5))
    assert time.monotonic() - start < 1.5  # bounded total time

    def broken() -> str:
        calls.append(time.monotonic())
        raise ValueError("bad circuit")

    calls.clear()
    with pytest.raises(ValueError):
        retrying(broken, policy)
    assert len(calls) == 1  # not transient: not retried


def test_freed_heap_goes_back_to_the_system_on_glibc() -> None:
    """The supervisor's trim after forgetting records (bench/soak.py measures its effect)."""
    import platform

    from pilot.runtime.supervisor import _return_free_memory

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert _return_free_memory() is glibc


@pytest.mark.slow
def test_the_last_records_of_a_burst_go_once_it_is_over(ray_session: None, workdir: Any) -> None:
    """A burst smaller than PRUNE_ABOVE: its records go once no task has come for a
    prune period, not when the next burst comes; a record whose ref is still held stays
    (its result, errors and cancel still reach the service)."""
    from pilot.runtime.supervisor import PRUNE_ABOVE, PRUNE_SECONDS

    with PilotComputeService(working_directory=workdir / "burst") as pcs:
        pcs.create_pilot({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}})
        refs = pcs.submit_quantum_tasks([QuantumTask(basis(i % 4, 2), shots=10) for i in range(40)])
        assert PRUNE_ABOVE > 40
        assert [r.counts for r in pcs.get_results(refs)] == [{key(i % 4, 2): 10} for i in range(40)]
        kept = refs[7]
        task_id = pcs._supervisor.record(kept).task_id
        del refs
        deadline = time.monotonic() + 30
        while pcs._supervisor.records_held() > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pcs._supervisor.records_held() == 1
        assert pcs._supervisor.record(kept).task_id == task_id
        assert pcs.get_results(kept).counts == {key(3, 2): 10}
        # Quiet prunes that find nothing to forget come less and less often; a task
        # brings them back to every PRUNE_SECONDS.
        pcs._supervisor.prune()
        pcs._supervisor.prune()
        assert pcs._supervisor._prune_every >= 4 * PRUNE_SECONDS
        pcs.submit_quantum_task(QuantumTask(basis(1, 2), shots=10))
        assert pcs._supervisor._prune_every == PRUNE_SECONDS

"""Single submissions that arrive close together share actor calls (pilot.runtime.coalesce).

Every test uses pilots created with the defaults and plain ``submit_quantum_task``
loops, as users write them.  Results tell whether a task was coalesced:
``metadata["batch_size"]`` is the number of circuits of the backend call it was
part of, and is absent for a task its actor ran on its own.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import ray
from qiskit import QuantumCircuit

from pilot import PilotComputeService, QuantumTask, TaskCancelledError, TaskFailedError
from tests.helpers import basis, key


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {"name": "aer", "resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}
        )
        yield service


@pytest.mark.slow
def test_a_burst_of_single_submissions_shares_actor_calls(pcs: Any) -> None:
    tasks = [QuantumTask(basis(i % 1024), shots=16) for i in range(600)]
    refs = [pcs.submit_quantum_task(task) for task in tasks]
    results = pcs.get_results(refs, timeout=300)
    # Every task got its own result, in order.
    assert [r.counts for r in results] == [{key(i % 1024): 16} for i in range(600)]
    assert len({r.task_id for r in results}) == 600
    sizes = [r.metadata.get("batch_size", 1) for r in results]
    # All but the burst's first task, unless a busy machine paused the loop > 2 ms.
    assert sum(s > 1 for s in sizes) > 400, sizes
    assert max(sizes) >= 16


def test_a_task_submitted_on_its_own_goes_straight_to_its_actor(pcs: Any) -> None:
    for i in range(3):
        result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(basis(i), shots=8)))
        assert result.counts == {key(i): 8}
        assert "batch_size" not in result.metadata  # run by itself: nothing waited
        time.sleep(0.05)


def test_a_plain_ray_get_of_a_coalesced_task_returns_without_the_service(pcs: Any) -> None:
    tasks = [QuantumTask(basis(i), shots=8) for i in range(40)]
    refs = [pcs.submit_quantum_task(task) for task in tasks]
    # No get_results/wait_tasks: the window is sent when its time is up.
    results = ray.get(refs, timeout=30)
    assert [r.counts for r in results] == [{key(i): 8} for i in range(40)]
    assert sum(r.metadata.get("batch_size", 1) > 1 for r in results) >= 20

    @ray.remote(num_cpus=0)
    def top(result: Any) -> str:
        return str(result.most_frequent())

    assert ray.get([top.remote(r) for r in refs[:5]], timeout=30) == [key(i) for i in range(5)]


def failing_circuit(i: int) -> Any:
    if i == 7:
        raise ValueError("task seven has no circuit")
    return basis(i)


def test_a_failing_task_of_a_window_fails_alone(pcs: Any) -> None:
    tasks = [QuantumTask(failing_circuit, args=(i,)) for i in range(20)]
    refs = [pcs.submit_quantum_task(task) for task in tasks]
    values = pcs.get_results(refs, return_exceptions=True, timeout=120)
    assert isinstance(values[7], TaskFailedError)
    assert "task seven has no circuit" in str(values[7])
    good = [v for i, v in enumerate(values) if i != 7]
    assert [v.counts for v in good] == [{key(i): 1024} for i in range(20) if i != 7]
    assert sum(v.metadata.get("batch_size", 1) > 1 for v in good) >= 10


def slow_circuit(seconds: float) -> Any:
    time.sleep(seconds)
    return basis(1)


@pytest.mark.slow
def test_cancelling_a_task_of_a_window_cancels_only_it(pcs: Any) -> None:
    busy = pcs.submit_quantum_task(QuantumTask(slow_circuit, args=(2.0,)))  # holds the pilot
    refs = [pcs.submit_quantum_task(QuantumTask(basis(i), shots=8)) for i in range(10)]
    pcs.cancel_task(refs[4])
    values = pcs.get_results(refs, return_exceptions=True, timeout=120)
    assert isinstance(values[4], TaskCancelledError), values[4]
    assert [v.counts for i, v in enumerate(values) if i != 4] == [
        {key(i): 8} for i in range(10) if i != 4
    ]
    assert pcs.get_results(busy, timeout=60).counts == {key(1): 1024}


def test_a_circuit_changed_after_submission_runs_as_it_was_submitted(pcs: Any) -> None:
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    first = pcs.submit_quantum_task(QuantumTask(qc, shots=50))
    second = pcs.submit_quantum_task(QuantumTask(qc, shots=50))
    qc.x(0)  # the program goes on changing its circuit object...
    qc.measure(0, 0)
    third = pcs.submit_quantum_task(QuantumTask(qc, shots=50))
    results = pcs.get_results([first, second, third], timeout=60)
    assert [r.counts for r in results] == [{"0": 50}, {"0": 50}, {"1": 50}]


@pytest.mark.slow
def test_a_pilot_actor_killed_with_windows_in_flight_loses_nothing(
    ray_session: None, tmp_path: Any
) -> None:
    with PilotComputeService(working_directory=tmp_path) as pcs:
        for name in ("a", "b"):
            pcs.create_pilot(
                {"name": name, "resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}
            )
        victim = pcs.get_pilot("a").actors[0]
        refs = [
            pcs.submit_quantum_task(QuantumTask(basis(i), shots=4, pilot="a" if i < 400 else None))
            for i in range(800)
        ]
        ray.kill(victim)
        results = pcs.get_results(refs, timeout=300)
        assert [r.counts for r in results] == [{key(i): 4} for i in range(800)]
        assert len({r.task_id for r in results}) == 800
        assert {r.pilot for r in results[:400]} <= {"a", "b"}


def test_a_circuit_blob_is_reused_only_while_its_circuit_is_unchanged() -> None:
    from qiskit.circuit import Parameter
    from qiskit.circuit.library import HGate

    from pilot.tasks import CircuitBlob

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    blob = CircuitBlob.of(qc)
    assert CircuitBlob.of(qc, blob) is blob  # the same object, unchanged: no new pickle
    assert CircuitBlob.of(qc.copy(), blob).data == blob.data  # equal bytes: still shared
    qc.x(0)  # every change gives a new blob that runs what the circuit is now
    changed = CircuitBlob.of(qc, blob)
    assert changed is not blob and changed.circuit.count_ops()["x"] == 1
    qc.name = "renamed"
    assert CircuitBlob.of(qc, changed).circuit.name == "renamed"
    theta = Parameter("theta")
    rot = QuantumCircuit(1)
    rot.rx(theta, 0)
    before = CircuitBlob.of(rot)
    rot.assign_parameters({theta: 0.25}, inplace=True)
    after = CircuitBlob.of(rot, before)
    assert after is not before and float(after.circuit.data[0].operation.params[0]) == 0.25
    labelled = QuantumCircuit(1)
    labelled.append(HGate(label="mine"), [0])  # a gate object of its own: never reused
    first = CircuitBlob.of(labelled)
    assert first._snapshot is None

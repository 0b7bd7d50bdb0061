"""Hybrid DAGs: refs both ways, Ray's DAG API, decorators, failures, cancellation, sweeps."""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from pilot.errors import ConfigError, TaskFailedError


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        for i in range(2):
            service.create_pilot(
                {
                    "name": f"aer-{i}",
                    "resource_type": "quantum",
                    "quantum": {"executor": "qiskit_local", "seed": 11},
                    "cores_per_node": 0.25,
                }
            )
        service.create_pilot({"name": "cpu", "cores_per_node": 1})
        service.initialize_dreamer()
        yield service


def rotated_bell(angle: float) -> Any:
    """ry(angle) on qubit 0, then cx: angle 0 reads 00, angle pi reads 11."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2, name="rotated_bell")
    qc.ry(angle, 0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def execute(dag: Any, *args: Any) -> Any:
    # Ray 2.60 deprecates DAGNode.execute (still the documented classic-DAG entry point).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return dag.execute(*args)


# ------------------------------------------------------------------ refs both ways
@pytest.mark.slow
def test_seed_001_workflow_has_real_data_dependencies(pcs: Any) -> None:
    import ray

    @ray.remote(num_cpus=0.25)
    def classical_preprocessing(data: list[int]) -> float:
        return math.pi * (sum(data) % 2)  # odd sum -> pi -> "11"

    @ray.remote(num_cpus=0.25)
    def classical_postprocessing(result: Any) -> tuple[str, str]:
        return result.most_frequent(), result.backend

    outputs = []
    for data in ([1, 2, 4], [1, 1]):
        prep = classical_preprocessing.remote(data)
        quantum_ref = pcs.submit_quantum_task(
            QuantumTask(rotated_bell, args=(prep,), num_qubits=2, shots=200)
        )
        post = classical_postprocessing.remote(quantum_ref)
        outputs.append(ray.get(post))
    assert outputs == [("11", "aer_simulator"), ("00", "aer_simulator")]


# ------------------------------------------------------------------ Ray's DAG API
def test_dag_runs_classical_quantum_classical(pcs: Any) -> None:
    import ray
    from ray.dag import InputNode

    @pcs.task(pilot="cpu", num_cpus=0.5)
    def prep(x: float) -> float:
        return x * math.pi

    @pcs.task(num_cpus=0.5)
    def post(result: Any) -> dict[str, Any]:
        return {"key": result.most_frequent(), "chosen": result.selection["resource"]}

    quantum = pcs.quantum(rotated_bell, num_qubits=2, shots=100)
    with InputNode() as inp:
        dag = post.bind(quantum.bind(prep.bind(inp)))
    assert ray.get(execute(dag, 1.0)) == {"key": "11", "chosen": "aer_simulator"}
    assert ray.get(execute(dag, 0.0)) == {"key": "00", "chosen": "aer_simulator"}


@pytest.mark.slow
def test_quantum_node_is_placed_when_the_dag_executes(pcs: Any) -> None:
    """The DAG is built before its pilot exists: selection happens at execution time."""
    import ray
    from ray.dag import InputNode

    quantum = pcs.quantum(rotated_bell, num_qubits=2, shots=50, pilot="late")
    with InputNode() as inp:
        dag = quantum.bind(inp)
    pcs.create_pilot(
        {
            "name": "late",
            "resource_type": "quantum",
            "quantum": {"executor": "pennylane_default"},
            "cores_per_node": 0.25,
        }
    )
    try:
        result = ray.get(execute(dag, math.pi))
    finally:
        pcs.get_pilot("late").cancel()
    assert result.pilot == "late"
    assert result.counts == {"11": 50}


def test_decorators_give_remote_and_bind(pcs: Any) -> None:
    import ray

    @pcs.quantum_task(num_qubits=2, shots=64)
    def circuit(angle: float) -> Any:
        return rotated_bell(angle)

    @pcs.task(pilot="cpu")
    def double(x: float) -> float:
        return 2 * x

    ref = circuit.remote(double.remote(math.pi / 2))
    assert pcs.get_results(ref).counts == {"11": 64}
    with pytest.raises(TypeError, match=r"circuit.remote\(...\)"):
        circuit(0.0)
    with pytest.raises(TypeError, match=r"double.remote\(...\)"):
        double(1.0)
    assert ray.get(double.options(num_cpus=0.5).remote(2.0)) == 4.0


def test_bad_options_are_refused_when_declared(pcs: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'shot'.*did you mean 'shots'"):
        pcs.quantum(rotated_bell, shot=100)
    with pytest.raises(ConfigError, match=r"shots must be a positive integer"):
        pcs.quantum_task(shots=-1)(rotated_bell)
    with pytest.raises(ConfigError, match=r"unknown option 'cpus'.*did you mean 'num_cpus'"):
        pcs.task(cpus=1)(len)


# ------------------------------------------------------------------ failures
def test_failure_in_the_quantum_stage_names_it(pcs: Any) -> None:
    from ray.dag import InputNode

    @pcs.quantum_task(num_qubits=2)
    def broken(angle: float) -> Any:
        raise ValueError(f"cannot build a circuit for angle {angle}")

    @pcs.task(pilot="cpu")
    def post(result: Any) -> Any:
        return result.counts

    with InputNode() as inp:
        dag = post.bind(broken.bind(inp))
    with pytest.raises(TaskFailedError) as info:
        pcs.get_results(execute(dag, 0.5))
    message = str(info.value)
    assert "stage quantum:broken@aer_simulator" in message
    assert "ValueError: cannot build a circuit for angle 0.5" in message
    assert info.value.stage == "quantum:broken@aer_simulator"


def test_failure_in_a_classical_stage_names_it(pcs: Any) -> None:
    from ray.dag import InputNode

    @pcs.task(pilot="cpu")
    def prep(x: float) -> float:
        raise ZeroDivisionError("no data")

    quantum = pcs.quantum(rotated_bell, num_qubits=2)
    with InputNode() as inp:
        dag = quantum.bind(prep.bind(inp))
    with pytest.raises(TaskFailedError, match=r"its input, stage prep@cpu, failed: .*no data"):
        pcs.get_results(execute(dag, 1.0))


# ------------------------------------------------------------------ cancellation
def test_cancelling_the_final_ref_cancels_unneeded_upstream_work(pcs: Any) -> None:
    import ray
    from ray.dag import InputNode

    @pcs.task(pilot="cpu", num_cpus=1)
    def slow(x: float) -> float:
        time.sleep(120)
        return x

    @pcs.task(pilot="cpu", num_cpus=1)
    def post(result: Any) -> Any:
        return result.counts

    quantum = pcs.quantum(rotated_bell, num_qubits=2)
    with InputNode() as inp:
        dag = post.bind(quantum.bind(slow.bind(inp)))
    final = execute(dag, 1.0)
    time.sleep(1.0)  # let `slow` start on the pilot's only CPU
    assert pcs.cancel_task(final, force=True) == 3  # post, the quantum stage, slow
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(final, timeout=60)
    # `slow` held the pilot's CPU: the next task runs only because it was cancelled.
    assert ray.get(
        post.remote(pcs.submit_quantum_task(QuantumTask(rotated_bell(0.0), shots=10))), timeout=90
    ) == {"00": 10}


def slowish_and_post(pcs: Any) -> tuple[Any, Any]:
    """Two classical stages on pilot "cpu": a 3 s pass-through and a most-frequent reader."""

    @pcs.task(pilot="cpu", num_cpus=0.5)
    def slowish(x: float) -> float:
        time.sleep(3)
        return x

    @pcs.task(pilot="cpu", num_cpus=0.5)
    def post(result: Any) -> Any:
        return result.most_frequent()

    return slowish, post


@pytest.mark.slow
def test_cancelling_keeps_upstream_work_others_need(pcs: Any) -> None:
    import ray

    slowish, post = slowish_and_post(pcs)
    shared = slowish.remote(math.pi)
    a = pcs.quantum(rotated_bell, num_qubits=2).remote(shared)
    b = pcs.quantum(rotated_bell, num_qubits=2).remote(shared)
    del shared  # only the two quantum tasks hold it now
    final_a, final_b = post.remote(a), post.remote(b)
    del a  # b is still held by this test
    assert pcs.cancel_task(final_a) == 2  # final_a and its quantum stage; `shared` feeds b
    assert ray.get(final_b, timeout=120) == "11"
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(final_a, timeout=60)


@pytest.mark.slow
def test_cancelling_keeps_upstream_work_the_program_holds(pcs: Any) -> None:
    import ray

    slowish, post = slowish_and_post(pcs)
    upstream = slowish.remote(math.pi)
    final = post.remote(pcs.quantum(rotated_bell, num_qubits=2).remote(upstream))
    assert pcs.cancel_task(final) == 2  # post and its quantum stage: `upstream` is held here
    assert ray.get(upstream, timeout=60) == math.pi
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(final, timeout=60)


def test_cancel_task_needs_a_ref(pcs: Any) -> None:
    with pytest.raises(ConfigError, match="cancel_task takes an ObjectRef, got str"):
        pcs.cancel_task("abc")


# ------------------------------------------------------------------ sweeps
def test_sweep_is_batched_over_both_pilots_in_order(pcs: Any) -> None:
    from qiskit.circuit import Parameter

    t = Parameter("t")
    qc = rotated_bell(0.0).copy_empty_like()
    qc.ry(t, 0)
    qc.cx(0, 1)
    values = [[i * math.pi / 50] for i in range(101)]
    refs = pcs.submit_quantum_task(
        QuantumTask(qc, parameter_values=values, observables=["ZI"], shots=None)
    )
    results = pcs.get_results(refs)
    assert [r.metadata["parameter_values"] for r in results] == values
    # Z on qubit 1 (Qiskit order: rightmost is qubit 0) follows cos(t).
    assert [r.expectation_values[0] for r in results] == pytest.approx(
        [math.cos(v[0]) for v in values], abs=1e-9
    )
    assert {r.pilot for r in results} == {"aer-0", "aer-1"}
    # Batched: each chunk ran as one Ray call and one Aer job.
    assert max(r.metadata["batch_size"] for r in results) > 1
    assert sum(1 for r in results if r.pilot == "aer-0") >= 40


def test_sweep_pinned_to_a_pilot_stays_there(pcs: Any) -> None:
    from qiskit.circuit import Parameter

    t = Parameter("t")
    qc = rotated_bell(0.0).copy_empty_like()
    qc.ry(t, 0)
    results = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(
                qc, parameter_values=[[0.1]] * 20, observables=["IZ"], pilot="aer-1", shots=None
            )
        )
    )
    assert {r.pilot for r in results} == {"aer-1"}


def test_bad_parameter_values_fail_at_submission(pcs: Any) -> None:
    from qiskit.circuit import Parameter

    a, b = Parameter("a"), Parameter("b")
    qc = rotated_bell(0.0).copy_empty_like()
    qc.ry(a, 0)
    qc.rx(b, 1)
    with pytest.raises(
        ConfigError,
        match=r"parameter_values\[1\] has 1 values but the circuit has 2 parameters \(a, b\)",
    ):
        pcs.submit_quantum_task(QuantumTask(qc, parameter_values=[[1, 2], [3]]))
    with pytest.raises(
        ConfigError,
        match=r"parameter_values\[0\]: unknown c; the circuit's parameters are \(a, b\)|missing b",
    ):
        QuantumTask(qc, parameter_values=[{"a": 1, "c": 2}])
    with pytest.raises(ConfigError, match=r"parameter_values\[0\] holds nan"):
        QuantumTask(qc, parameter_values=[[1, float("nan")]])
    with pytest.raises(ConfigError, match=r"parameter_values\[0\] is a number.*wrap it"):
        QuantumTask(qc, parameter_values=[1.0, 2.0])
    with pytest.raises(ConfigError, match=r"has no free parameters"):
        QuantumTask(rotated_bell(0.0), parameter_values=[[1.0]])

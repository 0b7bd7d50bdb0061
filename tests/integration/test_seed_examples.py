"""Seed 001's usage examples, run against our API.

Adapted only where the seed needs a cloud account or has a bug in a
third-party call:

* Example 1 names ``ibmq_qasm_simulator`` with a placeholder token; here the
  same executor runs in the IBM runtime's local testing mode (``local: True``).
* Example 3 targets AWS SV1 (with a wrong ARN); here it runs on ``braket_local``,
  and ``circuit.measure([0, 1], [0, 1])`` becomes ``circuit.measure([0, 1])``:
  Braket's ``Circuit.measure`` takes one argument, so the seed's call raises
  ``TypeError`` inside the Braket SDK itself.
* The hybrid workflow passes the preprocessing ref as the circuit's argument
  (the seed's ``quantum_circuit(processed_data)`` needs it) and returns a real
  circuit instead of ``pass``.
"""

from __future__ import annotations

from typing import Any

import pytest
import ray

from pilot.dreamer import QuantumTask
from pilot.pilot_compute_service import ExecutionEngine, PilotComputeService
from tests.helpers import within_binomial


@pytest.fixture
def pcs(ray_session: None, tmp_path: Any) -> Any:
    service = PilotComputeService(
        execution_engine=ExecutionEngine.RAY, working_directory=str(tmp_path)
    )
    yield service
    service.cancel()


def qiskit_circuit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def test_example_1_qiskit_with_ibm_quantum(pcs: Any, tmp_path: Any) -> None:
    quantum_pilot_desc = {
        "resource_type": "quantum",
        "quantum": {
            "executor": "ibmq_qasm_simulator",
            "local": True,  # instead of "ibmqx_token": "your_token"
        },
        "working_directory": str(tmp_path),
        "type": "ray",
        "dreamer_enabled": True,
        "cores_per_node": 0.5,
    }
    pilot = pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
    pcs.initialize_dreamer()
    qt = QuantumTask(
        circuit=qiskit_circuit,
        num_qubits=2,
        gate_set=["h", "cx", "measure"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )
    task = pcs.submit_quantum_task(qt)
    pcs.wait_tasks([task])
    result = pcs.get_results([task])

    assert pilot.resources[0].executor == "ibm_runtime"
    (r,) = result
    assert r.executor == "ibm_runtime" and r.backend == "fake_manila"
    assert sum(r.counts.values()) == 1024
    assert r.counts.get("00", 0) + r.counts.get("11", 0) > 0.8 * 1024


def pennylane_circuit() -> Any:
    import pennylane as qml

    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def circuit() -> Any:
        qml.Hadamard(wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1))

    return circuit


def test_example_2_pennylane_lightning(pcs: Any, tmp_path: Any) -> None:
    quantum_pilot_desc = {
        "resource_type": "quantum",
        "quantum": {"executor": "pennylane_lightning"},
        "working_directory": str(tmp_path),
        "type": "ray",
        "dreamer_enabled": True,
        "cores_per_node": 0.5,
    }
    pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
    pcs.initialize_dreamer()
    qt = QuantumTask(
        circuit=pennylane_circuit,
        num_qubits=2,
        gate_set=["h", "cnot"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )
    task = pcs.submit_quantum_task(qt)
    pcs.wait_tasks([task])
    (r,) = pcs.get_results([task])

    assert r.backend == "lightning.qubit" and r.path == "native"
    # <Z0> = <Z1> = 0 for a Bell state; 1024 shots -> sd 1/32.
    assert r.expectation_values == pytest.approx([0.0, 0.0], abs=5 / 32)
    # Exact with shots=None.
    exact = pcs.get_results(pcs.submit_quantum_task(QuantumTask(pennylane_circuit, shots=None)))
    assert exact.expectation_values == pytest.approx([0.0, 0.0], abs=1e-12)


def braket_circuit() -> Any:
    from braket.circuits import Circuit

    circuit = Circuit()
    circuit.h(0)
    circuit.cnot(0, 1)
    circuit.measure([0, 1])  # the seed's measure([0, 1], [0, 1]) is a TypeError in Braket
    return circuit


def test_example_3_braket(pcs: Any, tmp_path: Any) -> None:
    quantum_pilot_desc = {
        "resource_type": "quantum",
        "quantum": {"executor": "braket_local"},
        "working_directory": str(tmp_path),
        "type": "ray",
        "dreamer_enabled": True,
        "cores_per_node": 0.5,
    }
    pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
    pcs.initialize_dreamer()
    qt = QuantumTask(
        circuit=braket_circuit,
        num_qubits=2,
        gate_set=["h", "cnot", "measure"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )
    task = pcs.submit_quantum_task(qt)
    pcs.wait_tasks([task])
    (r,) = pcs.get_results([task])
    assert r.backend == "braket_sv" and set(r.counts) == {"00", "11"}
    assert within_binomial(r.counts["00"], 1024, 0.5)


def test_cross_backend_scheduling(pcs: Any) -> None:
    pilot1 = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "qiskit_local"},
            "type": "ray",
            "dreamer_enabled": True,
            "cores_per_node": 0.5,
        }
    )
    pilot2 = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "pennylane_lightning"},
            "type": "ray",
            "dreamer_enabled": True,
            "cores_per_node": 0.5,
        }
    )
    pcs.initialize_dreamer()
    refs = [pcs.submit_quantum_task(QuantumTask(qiskit_circuit, num_qubits=2)) for _ in range(3)]
    refs.append(pcs.submit_quantum_task(QuantumTask(pennylane_circuit, pilot=pilot2.name)))
    results = pcs.get_results(refs)
    assert {r.pilot for r in results} == {pilot1.name, pilot2.name}
    assert all(set(r.counts) <= {"00", "11"} for r in results[:3])
    assert results[3].expectation_values is not None


def test_hybrid_quantum_classical_workflow(pcs: Any) -> None:
    pcs.create_pilot(
        {"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}, "cores_per_node": 0.5}
    )

    @ray.remote(num_cpus=0.25)
    def classical_preprocessing(data: list[float]) -> list[float]:
        return [x / sum(data) for x in data]

    def quantum_circuit(processed_data: list[float]) -> Any:
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(4)
        hot = [i for i, x in enumerate(processed_data) if x > 0.2]  # [1] for this data
        for i in hot:
            qc.h(i)
            qc.cx(i, (i + 1) % 4)
        qc.measure_all()
        return qc

    @ray.remote(num_cpus=0.25)
    def classical_postprocessing(quantum_result: Any) -> dict[str, Any]:
        top = quantum_result.most_frequent()
        return {
            "top": top,
            "backend": quantum_result.backend,
            "n": sum(quantum_result.counts.values()),
        }

    data = [1.0, 3.0, 0.5, 0.5]
    prep_task = classical_preprocessing.remote(data)
    quantum_task = pcs.submit_quantum_task(
        QuantumTask(
            circuit=quantum_circuit,
            num_qubits=4,
            gate_set=["h", "cnot"],
            resource_config={},
            args=(prep_task,),
        )
    )
    post_task = classical_postprocessing.remote(quantum_task)
    prep, quantum, post = ray.get([prep_task, quantum_task, post_task])

    assert prep == [1 / 5, 3 / 5, 0.1, 0.1]
    # Only qubit 1 is "hot": qubits 1 and 2 form a Bell pair (keys list qubit 3 first).
    assert set(quantum.counts) == {"0000", "0110"}
    assert post["n"] == 1024 and post["top"] in {"0000", "0110"}
    assert post["backend"] == "aer_simulator"

"""Seed 001's usage examples, run as written, all in one driver, on 2 CPUs.

No ``cores_per_node`` anywhere (the seed has none): every quantum pilot is
created with the defaults, and the seed's plain ``@ray.remote`` tasks (one CPU
each) still run beside six pilots on a 2-CPU Ray.

Changed only where the seed needs a cloud account or has a bug in a
third-party call:

* Example 1 names ``ibmq_qasm_simulator`` with a placeholder token; it runs
  here twice: on ``qiskit_local``, and on the same executor in the IBM
  runtime's local testing mode (``local: True`` instead of the token).
* Example 3 targets AWS SV1 with a wrong ARN (refused with the right one:
  ``tests/backends/test_braket_aws.py``); here it runs on ``braket_local``, and
  ``circuit.measure([0, 1], [0, 1])`` becomes ``circuit.measure([0, 1])``:
  Braket's ``Circuit.measure`` takes one argument, so the seed's call raises
  ``TypeError`` inside the Braket SDK itself.
* The hybrid workflow's placeholders (``processed_data``, ``pass``) are filled
  in, and the preprocessing ref is passed as the circuit's argument (the
  seed's ``quantum_circuit(processed_data)`` needs it).

A second test is the other thing a new user does first: one default pilot per
local executor (seven) and a Bell circuit on each, plus a plain Ray task.
"""

from __future__ import annotations

from typing import Any

import pytest
import ray

from pilot.dreamer import QuantumTask
from pilot.pilot_compute_service import ExecutionEngine, PilotComputeService
from tests.helpers import BELL_QASM, within_binomial


def qiskit_circuit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def pennylane_circuit() -> Any:
    import pennylane as qml

    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def circuit() -> Any:
        qml.Hadamard(wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1))

    return circuit


def braket_circuit() -> Any:
    from braket.circuits import Circuit

    circuit = Circuit()
    circuit.h(0)
    circuit.cnot(0, 1)
    circuit.measure([0, 1])  # the seed's measure([0, 1], [0, 1]) is a TypeError in Braket
    return circuit


@pytest.mark.slow
def test_seed_001_examples_as_written_in_one_driver(ray_session: None) -> None:
    assert ray.cluster_resources()["CPU"] == 2
    # Create quantum pilot
    pcs = PilotComputeService(execution_engine=ExecutionEngine.RAY, working_directory="/tmp")
    try:
        _examples(pcs)
    finally:
        pcs.cancel()


def _examples(pcs: Any) -> None:
    # ---------------------------------------------------------------- example 1
    results = []
    for quantum in (
        {"executor": "qiskit_local"},
        {"executor": "ibmq_qasm_simulator", "local": True},
    ):
        quantum_pilot_desc = {
            "resource_type": "quantum",
            "quantum": quantum,
            "working_directory": "/tmp",
            "type": "ray",
            "dreamer_enabled": True,
        }

        pilot = pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
        pcs.initialize_dreamer()

        # Submit quantum task
        qt = QuantumTask(
            circuit=qiskit_circuit,
            num_qubits=2,
            gate_set=["h", "cx", "measure"],
            resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
        )

        task = pcs.submit_quantum_task(qt)
        pcs.wait_tasks([task])
        result = pcs.get_results([task])
        results.append((pilot, result))

    (local_pilot, [r_local]), (ibm_pilot, [r_ibm]) = results
    assert r_local.executor == "qiskit_local" and set(r_local.counts) == {"00", "11"}
    assert within_binomial(r_local.counts["00"], 1024, 0.5)
    # QDREAMER ranks the ideal simulator above the noisy fake device for the second task.
    assert r_ibm.pilot == local_pilot.name
    assert ibm_pilot.resources[0].executor == "ibm_runtime"
    [pinned] = pcs.get_results(
        [pcs.submit_quantum_task(QuantumTask(qiskit_circuit, pilot=ibm_pilot.name))]
    )
    assert pinned.executor == "ibm_runtime" and pinned.backend == "fake_manila"
    assert sum(pinned.counts.values()) == 1024
    assert pinned.counts.get("00", 0) + pinned.counts.get("11", 0) > 0.8 * 1024

    # ---------------------------------------------------------------- example 2
    # Create quantum pilot with Pennylane Lightning
    quantum_pilot_desc = {
        "resource_type": "quantum",
        "quantum": {
            "executor": "pennylane_lightning",
        },
        "working_directory": "/tmp",
        "type": "ray",
        "dreamer_enabled": True,
    }

    pilot = pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
    pcs.initialize_dreamer()

    # Submit quantum task
    qt = QuantumTask(
        circuit=pennylane_circuit,
        num_qubits=2,
        gate_set=["h", "cnot"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )

    task = pcs.submit_quantum_task(qt)
    pcs.wait_tasks([task])
    result = pcs.get_results([task])

    [r] = result
    assert r.path == "native" and r.backend == "lightning.qubit"  # a QNode runs natively
    assert r.pilot == pilot.name
    # <Z0> = <Z1> = 0 for a Bell state; 1024 shots -> sd 1/32.
    assert r.expectation_values == pytest.approx([0.0, 0.0], abs=5 / 32)

    # ---------------------------------------------------------------- example 3
    # Create quantum pilot with AWS Braket (the local simulator: no AWS account here)
    quantum_pilot_desc = {
        "resource_type": "quantum",
        "quantum": {
            "executor": "braket_local",
        },
        "working_directory": "/tmp",
        "type": "ray",
        "dreamer_enabled": True,
    }

    pilot = pcs.create_pilot(pilot_compute_description=quantum_pilot_desc)
    pcs.initialize_dreamer()

    # Submit quantum task
    qt = QuantumTask(
        circuit=braket_circuit,
        num_qubits=2,
        gate_set=["h", "cnot", "measure"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )

    task = pcs.submit_quantum_task(qt)
    pcs.wait_tasks([task])
    result = pcs.get_results([task])

    [r] = result
    assert r.path == "native" and r.backend == "braket_sv" and set(r.counts) == {"00", "11"}
    assert within_binomial(r.counts["00"], 1024, 0.5)

    # ------------------------------------------------- cross-backend scheduling
    # Create multiple quantum pilots with different backends
    pilot1 = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "qiskit_local"},
            "type": "ray",
            "dreamer_enabled": True,
        }
    )

    pilot2 = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "pennylane_lightning"},
            "type": "ray",
            "dreamer_enabled": True,
        }
    )

    # QDREAMER will automatically select the best backend for each task
    assert len(pcs.pilots) == 6
    refs = [pcs.submit_quantum_task(QuantumTask(qiskit_circuit, num_qubits=2)) for _ in range(6)]
    refs.append(pcs.submit_quantum_task(QuantumTask(pennylane_circuit, pilot=pilot2.name)))
    got = pcs.get_results(refs)
    assert all(set(x.counts) == {"00", "11"} for x in got[:6])
    assert got[6].pilot == pilot2.name and got[6].expectation_values is not None
    assert pilot1.state == "RUNNING"

    # ---------------------------------------- hybrid quantum-classical workflow
    data = [1.0, 3.0, 0.5, 0.5]

    # Classical preprocessing
    @ray.remote
    def classical_preprocessing(data: list[float]) -> list[float]:
        processed_data = [x / sum(data) for x in data]
        return processed_data

    # Quantum computation
    def quantum_circuit(processed_data: list[float]) -> Any:
        # Quantum circuit using processed data
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(4)
        for i in [i for i, x in enumerate(processed_data) if x > 0.2]:  # [1] for this data
            qc.h(i)
            qc.cx(i, (i + 1) % 4)
        qc.measure_all()
        return qc

    # Classical post-processing
    @ray.remote
    def classical_postprocessing(quantum_result: Any) -> dict[str, Any]:
        final_result = {"top": quantum_result.most_frequent(), "n": quantum_result.shots}
        return final_result

    # Execute hybrid workflow
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

    # Wait for all tasks
    prep, quantum, post = ray.get([prep_task, quantum_task, post_task], timeout=120)

    assert prep == [1 / 5, 3 / 5, 0.1, 0.1]
    # Only qubit 1 is "hot": qubits 1 and 2 form a Bell pair (keys list qubit 3 first).
    assert set(quantum.counts) == {"0000", "0110"}
    assert post == {"top": quantum.most_frequent(), "n": 1024}

    # ----------------------------------------- resource monitoring and optimization
    # Get cache information
    cache_info = pcs.qdreamer.get_cache_info()
    assert cache_info["monitoring"] is True
    # Clear cache if needed
    pcs.qdreamer.clear_cache()
    # Monitor background queue updates
    pcs.qdreamer.start_background_monitoring(interval_seconds=30)
    assert pcs.qdreamer.get_cache_info()["monitor_interval_seconds"] == 30

    # Six idle pilots hold no CPU: a task needing both of the cluster's CPUs still runs.
    assert all(p.holds == {"CPU": 0.0, "GPU": 0.0} for p in pcs.pilots)
    assert ray.get(whole_machine.remote(), timeout=60) == "ran"


@ray.remote(num_cpus=2)
def whole_machine() -> str:
    return "ran"


#: Every executor that runs on this machine, with what its defaults need.
LOCAL_EXECUTORS: list[dict[str, Any]] = [
    {"executor": "qiskit_local"},
    {"executor": "qiskit_fake", "backends": ["fake_manila"]},
    {"executor": "ibm_runtime", "local": True},
    {"executor": "pennylane_default"},
    {"executor": "pennylane_lightning"},
    {"executor": "braket_local"},
    {"executor": "torch_statevector"},
]


@pytest.mark.slow
def test_one_default_pilot_per_local_executor_and_a_plain_ray_task(
    ray_session: None, tmp_path: Any
) -> None:
    with PilotComputeService(working_directory=tmp_path) as pcs:
        pilots = [
            pcs.create_pilot({"resource_type": "quantum", "quantum": quantum})
            for quantum in LOCAL_EXECUTORS
        ]

        @ray.remote
        def plain(x: int) -> int:
            return 2 * x

        # The user's own Ray tasks (1 CPU each, Ray's default) run beside seven idle pilots,
        # and so does one that needs the whole machine.
        assert ray.get([plain.remote(1), plain.remote(2)], timeout=60) == [2, 4]
        assert ray.get(whole_machine.remote(), timeout=60) == "ran"
        refs = [pcs.submit_quantum_task(QuantumTask(BELL_QASM, pilot=p.name)) for p in pilots]
        results = pcs.get_results(refs, timeout=300)
        assert [r.pilot for r in results] == [p.name for p in pilots]
        for r in results:
            assert sum(r.counts.values()) == 1024, r.executor
            good = r.counts.get("00", 0) + r.counts.get("11", 0)
            assert good > 0.85 * 1024, (r.executor, r.counts)  # the fake devices are noisy
        # What each pilot holds, and which Ray this is, in the report (and its repr).
        report = pcs.report()
        assert {row["pilot"]: row["holds"] for row in report.to_dict()["pilots"]} == {
            p.name: "shares the node" for p in pilots
        }
        assert report.ray is not None and report.ray.startswith("the Ray cluster this process")
        text = str(report)
        assert "shares the node" in text and "Ray: the Ray cluster this process" in text

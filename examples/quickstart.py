"""Quick start: pilots for three executors, one circuit in several formats, a hybrid step.

    python examples/quickstart.py

Starts a local Ray instance (or joins the cluster in RAY_ADDRESS), creates a
Qiskit Aer, a PennyLane lightning and a Braket local-simulator pilot plus a
classical pilot, runs a GHZ circuit written in Qiskit, OpenQASM 3 and as a
gate dict on every executor, and post-processes the results in classical Ray
tasks.  Finishes in well under a minute on a laptop.
"""

from __future__ import annotations

import logging
import tempfile

from qiskit import QuantumCircuit

from pilot.dreamer import QuantumTask
from pilot.pilot_compute_service import ExecutionEngine, PilotComputeService

GHZ_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[3] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
c = measure q;
"""

GHZ_GATEDICT = {
    "gates": [
        {"type": "h", "qubit": 0},
        {"type": "cnot", "control": 0, "target": 1},
        {"type": "cnot", "control": 1, "target": 2},
    ],
    "n_qubits": 3,
}


def ghz_qiskit(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n, name=f"ghz{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure(range(n), range(n))
    return qc


def ghz_share(result) -> float:  # runs in a classical Ray task
    counts = result.counts
    return (counts.get("000", 0) + counts.get("111", 0)) / sum(counts.values())


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with PilotComputeService(
        execution_engine=ExecutionEngine.RAY, working_directory=tempfile.mkdtemp(prefix="qdreamer-")
    ) as pcs:
        for executor in ("qiskit_local", "pennylane_lightning", "braket_local"):
            pcs.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": executor,
                    "quantum": {"executor": executor},
                    "cores_per_node": 0.5,
                }
            )
        pcs.create_pilot({"name": "cpu", "cores_per_node": 0.5})
        pcs.initialize_dreamer()

        circuits = {"qiskit": ghz_qiskit, "qasm3": GHZ_QASM3, "gatedict": GHZ_GATEDICT}
        refs, labels = [], []
        for executor in ("qiskit_local", "pennylane_lightning", "braket_local"):
            for fmt, circuit in circuits.items():
                args = (3,) if fmt == "qiskit" else ()
                refs.append(
                    pcs.submit_quantum_task(
                        QuantumTask(circuit, args=args, shots=1000, pilot=executor)
                    )
                )
                labels.append((executor, fmt))
        # Results stay in Ray's object store and feed classical tasks directly.
        shares = [
            pcs.submit_task(ghz_share, ref, pilot="cpu", resources={"num_cpus": 0.5})
            for ref in refs
        ]
        pcs.wait_tasks(refs)
        results = pcs.get_results(refs)

        print(f"{'executor':<22}{'format':<10}{'backend':<17}{'counts':<28}GHZ share")
        for (executor, fmt), result, share in zip(
            labels, results, pcs.get_results(shares), strict=True
        ):
            counts = ", ".join(f"{k}:{v}" for k, v in sorted(result.counts.items()))
            print(f"{executor:<22}{fmt:<10}{result.backend:<17}{counts:<28}{share:.3f}")


if __name__ == "__main__":
    main()

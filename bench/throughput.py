"""Throughput of quantum tasks through the service, against raw Ray and an in-process loop.

Runs N two-qubit Bell circuits at 100 shots four ways, in one process and one
Ray instance (so the machine's noise hits every variant alike):

  inproc   a plain loop calling AerSimulator.run in this process
  raw      one Ray task per circuit doing the same Aer run (simulator cached per worker)
  service  PilotComputeService.submit_quantum_task per circuit -> get_results
  batch    PilotComputeService.submit_quantum_tasks (all at once) -> get_results

and prints tasks/s and the ratios the issue sets targets for:
service/raw >= 1.0, batch/inproc >= 1.5 (stretch).

    python bench/throughput.py [--n 2000] [--cpus 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import ray
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from pilot import PilotComputeService, QuantumTask

SHOTS = 100


def bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


_SIM = None


@ray.remote(num_cpus=1)
def raw_task(qc: QuantumCircuit) -> dict:
    global _SIM  # noqa: PLW0603 - the baseline caches its simulator per worker process
    if _SIM is None:
        _SIM = AerSimulator(max_parallel_threads=1)
    return _SIM.run(qc, shots=SHOTS).result().get_counts()


def run_inproc(n: int) -> float:
    sim = AerSimulator(max_parallel_threads=1)
    qc = bell()
    t = time.perf_counter()
    out = [sim.run(qc, shots=SHOTS).result().get_counts() for _ in range(n)]
    dt = time.perf_counter() - t
    assert all(sum(c.values()) == SHOTS for c in out)
    return n / dt


def run_raw(n: int) -> float:
    qc = bell()
    ray.get([raw_task.remote(qc) for _ in range(8)])  # warm the workers
    t = time.perf_counter()
    out = ray.get([raw_task.remote(qc) for _ in range(n)])
    dt = time.perf_counter() - t
    assert all(sum(c.values()) == SHOTS for c in out)
    return n / dt


def run_service(pcs: PilotComputeService, n: int, batch: bool) -> float:
    qc = bell()
    warm = [QuantumTask(qc, shots=SHOTS) for _ in range(8)]
    pcs.get_results(
        pcs.submit_quantum_tasks(warm) if batch else [pcs.submit_quantum_task(t) for t in warm]
    )
    t = time.perf_counter()
    tasks = [QuantumTask(qc, shots=SHOTS) for _ in range(n)]
    if batch:
        refs = pcs.submit_quantum_tasks(tasks)
    else:
        refs = [pcs.submit_quantum_task(task) for task in tasks]
    results = pcs.get_results(refs)
    dt = time.perf_counter() - t
    assert all(sum(r.counts.values()) == SHOTS for r in results)
    assert set(results[0].counts) <= {"00", "11"}
    return n / dt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    rates: dict[str, list[float]] = {
        "inproc": [],
        "raw": [],
        "service": [],
        "batch": [],
        "service-nj": [],
        "batch-nj": [],
    }
    for _ in range(args.repeat):
        rates["inproc"].append(run_inproc(args.n))
        rates["raw"].append(run_raw(args.n))
        # With the task journal (the default) and without it (journal=False).
        for journal, suffix in ((True, ""), (False, "-nj")):
            with PilotComputeService(
                working_directory=f"/tmp/qdreamer-bench{suffix}", journal=journal
            ) as pcs:
                pcs.create_pilot(
                    {
                        "resource_type": "quantum",
                        "name": "aer",
                        "quantum": {"executor": "qiskit_local", "actors": args.cpus},
                        "cores_per_node": 1,
                    }
                )
                rates["service" + suffix].append(run_service(pcs, args.n, batch=False))
                rates["batch" + suffix].append(run_service(pcs, args.n, batch=True))
    ray.shutdown()

    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{args.n} Bell circuits x {SHOTS} shots, {args.cpus} CPUs, median of {args.repeat}")
    print(f"{'variant':<10}{'tasks/s':>10}   runs")
    for k, v in rates.items():
        print(f"{k:<10}{med[k]:>10.0f}   " + " ".join(f"{x:.0f}" for x in v))
    print(f"service / raw Ray     = {med['service'] / med['raw']:.2f}x  (target >= 1.0)")
    print(f"batch / in-process    = {med['batch'] / med['inproc']:.2f}x  (stretch >= 1.5)")
    print(f"service / in-process  = {med['service'] / med['inproc']:.2f}x")
    print(
        f"journal cost: service {med['service'] / med['service-nj']:.2f}x, "
        f"batch {med['batch'] / med['batch-nj']:.2f}x (with / without)"
    )


if __name__ == "__main__":
    main()

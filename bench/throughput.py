"""Throughput of quantum tasks through the service, against the strongest alternatives.

N two-qubit Bell circuits at 100 shots, in one process and one Ray instance
(so the machine's noise hits every variant alike), each variant timed from the
first submission until every result is in the driver:

  inproc-loop   a loop calling AerSimulator.run once per circuit, in this process
  inproc-batch  one AerSimulator.run of the whole list, in this process (the limit:
                no Ray, no serialization, one SDK call)
  raw-task      one Ray task per circuit doing the same Aer run (simulator cached
                per worker process)
  raw-actor     two Ray actors that each keep an AerSimulator (what a pilot is),
                one actor call per circuit, round-robin
  service       PilotComputeService.submit_quantum_task per circuit -> get_results,
                one pilot created with the defaults:
                {"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}
  batch         PilotComputeService.submit_quantum_tasks(all) -> get_results, same pilot

``-nj`` variants run the service with ``journal=False``.  Prints tasks/s (median
and every run) and the ratios the issue sets targets for, against the
strongest baseline of each kind:

  service / max(raw-task, raw-actor)   >= 2.5
  service / inproc-batch               >= 0.5 (stretch)
  batch / inproc-batch

    python bench/throughput.py [--n 2000] [--cpus 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

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


class RawActor:
    """What a pilot is, written directly against Ray: an actor keeping a simulator."""

    def __init__(self) -> None:
        self.sim = AerSimulator(max_parallel_threads=1)

    def run(self, qc: QuantumCircuit) -> dict:
        return self.sim.run(qc, shots=SHOTS).result().get_counts()


def check(counts: list[dict]) -> None:
    assert all(sum(c.values()) == SHOTS and set(c) <= {"00", "11"} for c in counts)


def run_inproc_loop(n: int) -> float:
    sim = AerSimulator(max_parallel_threads=1)
    qc = bell()
    t = time.perf_counter()
    out = [sim.run(qc, shots=SHOTS).result().get_counts() for _ in range(n)]
    dt = time.perf_counter() - t
    check(out)
    return n / dt


def run_inproc_batch(n: int) -> float:
    sim = AerSimulator(max_parallel_threads=1)
    qc = bell()
    t = time.perf_counter()
    result = sim.run([qc] * n, shots=SHOTS).result()
    out = [result.get_counts(i) for i in range(n)]
    dt = time.perf_counter() - t
    check(out)
    return n / dt


def run_raw_task(n: int) -> float:
    qc = bell()
    ray.get([raw_task.remote(qc) for _ in range(8)])  # warm the workers
    t = time.perf_counter()
    out = ray.get([raw_task.remote(qc) for _ in range(n)])
    dt = time.perf_counter() - t
    check(out)
    return n / dt


def run_raw_actor(n: int, actors: list[Any]) -> float:
    qc = bell()
    ray.get([a.run.remote(qc) for a in actors])
    t = time.perf_counter()
    out = ray.get([actors[i % len(actors)].run.remote(qc) for i in range(n)])
    dt = time.perf_counter() - t
    check(out)
    return n / dt


def run_service(pcs: PilotComputeService, n: int, batch: bool) -> float:
    qc = bell()
    warm = [QuantumTask(qc, shots=SHOTS) for _ in range(8)]
    pcs.get_results(
        pcs.submit_quantum_tasks(warm) if batch else [pcs.submit_quantum_task(t) for t in warm]
    )
    t = time.perf_counter()
    if batch:
        refs = pcs.submit_quantum_tasks([QuantumTask(qc, shots=SHOTS) for _ in range(n)])
    else:
        refs = [pcs.submit_quantum_task(QuantumTask(qc, shots=SHOTS)) for _ in range(n)]
    results = pcs.get_results(refs)
    dt = time.perf_counter() - t
    check([r.counts for r in results])
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
    names = ["inproc-loop", "inproc-batch", "raw-task", "raw-actor"]
    names += ["service", "batch", "service-nj", "batch-nj"]
    rates: dict[str, list[float]] = {k: [] for k in names}
    actor_cls = ray.remote(num_cpus=1)(RawActor)
    for _ in range(args.repeat):
        rates["inproc-loop"].append(run_inproc_loop(args.n))
        rates["inproc-batch"].append(run_inproc_batch(args.n))
        rates["raw-task"].append(run_raw_task(args.n))
        actors = [actor_cls.remote() for _ in range(args.cpus)]
        rates["raw-actor"].append(run_raw_actor(args.n, actors))
        for actor in actors:
            ray.kill(actor)
        # With the task journal (the default) and without it (journal=False).
        for journal, suffix in ((True, ""), (False, "-nj")):
            with PilotComputeService(
                working_directory=f"/tmp/qdreamer-bench{suffix}", journal=journal
            ) as pcs:
                pcs.create_pilot(
                    {"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}
                )
                rates["service" + suffix].append(run_service(pcs, args.n, batch=False))
                rates["batch" + suffix].append(run_service(pcs, args.n, batch=True))
    ray.shutdown()

    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{args.n} Bell circuits x {SHOTS} shots, {args.cpus} CPUs, median of {args.repeat}")
    print(f"{'variant':<14}{'tasks/s':>10}   runs")
    for k, v in rates.items():
        print(f"{k:<14}{med[k]:>10.0f}   " + " ".join(f"{x:.0f}" for x in v))
    raw = max(med["raw-task"], med["raw-actor"])
    strongest = "raw-task" if med["raw-task"] >= med["raw-actor"] else "raw-actor"
    print(f"service / {strongest:<9}       = {med['service'] / raw:.2f}x  (target >= 2.5)")
    print(
        f"service / inproc-batch   = {med['service'] / med['inproc-batch']:.2f}x  (stretch >= 0.5)"
    )
    print(f"batch / inproc-batch     = {med['batch'] / med['inproc-batch']:.2f}x")
    print(f"service / inproc-loop    = {med['service'] / med['inproc-loop']:.2f}x")
    print(
        f"journal cost: service {med['service'] / med['service-nj']:.2f}x, "
        f"batch {med['batch'] / med['batch-nj']:.2f}x (with / without)"
    )


if __name__ == "__main__":
    main()

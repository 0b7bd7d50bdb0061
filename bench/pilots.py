"""Pilot start-up and task throughput: local pilots against Slurm pilots.

Needs a Slurm cluster on this machine (``scripts/local-slurm.sh``).  In one
process and one Ray instance (so the shared machine's noise hits both alike):

1. ready time of a local ``qiskit_local`` quantum pilot (``create_pilot`` until
   RUNNING) and submit-to-ready time of the same pilot as a Slurm job
   (``create_pilot`` + ``pilot.wait()``: sbatch, the job starting, its Ray node
   joining, the backend actor loading); median of ``--repeat``;
2. throughput of ``--n`` Bell circuits (100 shots, ``submit_quantum_tasks``)
   on a Slurm pilot against a local pilot with the same CPUs; prints
   slurm/local (target >= 0.9).

    python bench/pilots.py [--repeat 5] [--n 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import ray

from pilot import PilotComputeService, QuantumTask
from pilot.library.templates import bell

SHOTS = 100


def description(name: str, slurm: bool) -> dict[str, Any]:
    desc: dict[str, Any] = {
        "name": name,
        "resource_type": "quantum",
        "quantum": {"executor": "qiskit_local"},
        "cores_per_node": 1,
    }
    if slurm:
        desc.update(resource="slurm://localhost", walltime=15)
    return desc


def ready_time(pcs: PilotComputeService, name: str, slurm: bool) -> float:
    t = time.perf_counter()
    pilot = pcs.create_pilot(description(name, slurm))
    pilot.wait(300)
    dt = time.perf_counter() - t
    pilot.cancel()
    return dt


def throughput(pcs: PilotComputeService, pilot: str, n: int) -> float:
    circuit = bell().circuit
    tasks = [QuantumTask(circuit, shots=SHOTS, pilot=pilot) for _ in range(n)]
    t = time.perf_counter()
    results = pcs.get_results(pcs.submit_quantum_tasks(tasks))
    dt = time.perf_counter() - t
    assert all(sum(r.counts.values()) == SHOTS for r in results)
    assert {r.pilot for r in results} == {pilot}
    return n / dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()

    # The driver's node holds the local pilot; the Slurm job's node joins with its own CPU.
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    workdir = tempfile.mkdtemp(prefix="qd-bench-", dir="/tmp")
    with PilotComputeService(working_directory=workdir) as pcs:
        local = [ready_time(pcs, f"local-{i}", False) for i in range(args.repeat)]
        slurm = [ready_time(pcs, f"slurm-{i}", True) for i in range(args.repeat)]
        print(f"pilot ready time, median of {args.repeat}:")
        print(
            f"  local quantum pilot   {statistics.median(local):6.2f} s  "
            f"(runs: {', '.join(f'{x:.2f}' for x in local)})"
        )
        print(
            f"  Slurm quantum pilot   {statistics.median(slurm):6.2f} s  "
            f"(submit to ready; runs: {', '.join(f'{x:.2f}' for x in slurm)})"
        )

        pcs.create_pilot(description("local", False))
        pcs.create_pilot(description("slurm", True)).wait(300)
        throughput(pcs, "local", 200)  # warm up both
        throughput(pcs, "slurm", 200)
        rates: dict[str, list[float]] = {"local": [], "slurm": []}
        for _ in range(3):  # interleaved
            for name, runs in rates.items():
                runs.append(throughput(pcs, name, args.n))
        loc, slu = (statistics.median(rates[k]) for k in ("local", "slurm"))
        print(f"throughput, {args.n} Bell circuits x {SHOTS} shots, 1 CPU each, median of 3:")
        print(
            f"  local pilot {loc:7.0f} tasks/s, Slurm pilot {slu:7.0f} tasks/s: "
            f"slurm/local = {slu / loc:.2f}x (target >= 0.9)"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()

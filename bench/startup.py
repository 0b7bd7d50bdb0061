"""Pilot start-up: from ``create_pilot`` to the first result, with Ray already up.

For each local executor, a pilot created with the defaults
(``{"resource_type": "quantum", "quantum": {"executor": ...}}``) runs one Bell
circuit; the time from ``create_pilot`` until its result is in the driver is
measured ``--repeat`` times (the pilot is cancelled in between), in one Ray
instance started before the clock (``ray.init(num_cpus=2)``, then a pause so
that Ray's prestarted workers are up, as they are a moment after a driver
starts).  The circuit is given as a value and as a function (seed 001's
style), whose first call on a fresh pilot also loads what the function
imports.  Baseline in the same run: a plain Ray actor that imports Aer and
runs the same circuit (what a pilot is, with nothing of ours).

    python bench/startup.py [--repeat 5] [--executors qiskit_local,pennylane_lightning,...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import ray

from pilot import PilotComputeService, QuantumTask
from pilot.cli.demo import bell

EXECUTORS = (
    "qiskit_local",
    "qiskit_fake",
    "ibm_runtime",
    "pennylane_default",
    "pennylane_lightning",
    "braket_local",
    "torch_statevector",
)
EXTRA: dict[str, dict[str, Any]] = {
    "qiskit_fake": {"backends": ["fake_manila"]},
    "ibm_runtime": {"local": True},
}


class RawActor:
    def __init__(self) -> None:
        from qiskit_aer import AerSimulator

        self.sim = AerSimulator(max_parallel_threads=1)

    def run(self, qc: Any) -> dict:
        return self.sim.run(qc, shots=100).result().get_counts()


def raw_first_result() -> float:
    t = time.perf_counter()
    actor = ray.remote(num_cpus=0)(RawActor).remote()
    counts = ray.get(actor.run.remote(bell()))
    dt = time.perf_counter() - t
    assert sum(counts.values()) == 100
    ray.kill(actor)
    return dt


def first_result(pcs: PilotComputeService, executor: str, circuit: Any) -> float:
    t = time.perf_counter()
    pilot = pcs.create_pilot(
        {"resource_type": "quantum", "quantum": {"executor": executor, **EXTRA.get(executor, {})}}
    )
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(circuit, pilot=pilot.name)))
    dt = time.perf_counter() - t
    assert sum(result.counts.values()) == 1024
    pilot.cancel()
    return dt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    args = parser.parse_args()

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    time.sleep(5)  # Ray's prestarted workers come up
    times: dict[str, list[float]] = {"raw actor (Aer)": []}
    with PilotComputeService(working_directory=tempfile.mkdtemp(prefix="qd-startup-")) as pcs:
        for _ in range(args.repeat):
            times["raw actor (Aer)"].append(raw_first_result())
            time.sleep(1)
            for executor in args.executors.split(","):
                for how, circuit in (("value", bell()), ("function", bell)):
                    times.setdefault(f"{executor} ({how})", []).append(
                        first_result(pcs, executor, circuit)
                    )
                    time.sleep(1)  # Ray replaces the worker the pilot took
    ray.shutdown()
    print(f"create_pilot -> first result, seconds (median of {args.repeat}; runs)")
    for name, values in times.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:<34}{statistics.median(values):6.2f}   {runs}")


if __name__ == "__main__":
    main()

"""``qdreamer demo``: one Bell circuit on three executors, a classical step, and a table."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from typing import Any

from pilot.backends.registry import check_installed, resolve_executor
from pilot.errors import MissingDependencyError
from pilot.results import QuantumResult
from pilot.runtime.service import PilotComputeService
from pilot.tasks import QuantumTask

logger = logging.getLogger(__name__)

#: The executors the demo runs the Bell circuit on (those whose SDK is installed).
DEMO_EXECUTORS = ("qiskit_local", "pennylane_lightning", "braket_local")


def bell() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def installed_executors() -> tuple[list[str], list[str]]:
    """``(usable, skipped)``: the demo's executors whose SDK is installed, and a line
    for each of the others, ``"<executor> (<install command>)"``.  Imports no SDK."""
    usable, skipped = [], []
    for executor in DEMO_EXECUTORS:
        try:
            check_installed(resolve_executor(executor))
        except MissingDependencyError as exc:
            skipped.append(f"{executor} ({exc.install})")
            continue
        usable.append(executor)
    return usable, skipped


def fidelity_to_bell(result: QuantumResult) -> float:
    """Share of shots in the ideal outcomes 00/11 (a classical post-processing step)."""
    counts = result.counts or {}
    return (counts.get("00", 0) + counts.get("11", 0)) / max(1, sum(counts.values()))


def run_demo(
    shots: int = 1000,
    working_directory: str | None = None,
    ray_init_kwargs: Mapping[str, Any] | None = None,
) -> tuple[list[QuantumResult], list[float], list[str]]:
    """Create pilots, run the Bell circuit on each executor, score it on a classical pilot.

    Returns the results, the classical scores, and the executors skipped
    because their SDK is not installed (with the install command); which
    those are is known before Ray starts.  ``ray_init_kwargs`` go to the
    service's ``ray.init`` when it starts a local Ray.
    """
    names, skipped = installed_executors()
    workdir = working_directory or tempfile.mkdtemp(prefix="qdreamer-demo-")
    with PilotComputeService(working_directory=workdir, ray_init_kwargs=ray_init_kwargs) as pcs:
        for executor in names:
            pcs.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": executor,
                    "quantum": {"executor": executor},
                }
            )
        pcs.create_pilot({"name": "classical", "cores_per_node": 0.5})
        refs = [
            pcs.submit_quantum_task(QuantumTask(bell(), shots=shots, pilot=name)) for name in names
        ]
        # Quantum results flow into classical tasks as ObjectRefs, with no copy through the driver.
        scores = [
            pcs.submit_task(fidelity_to_bell, ref, pilot="classical", resources={"num_cpus": 0.5})
            for ref in refs
        ]
        return pcs.get_results(refs), pcs.get_results(scores), skipped

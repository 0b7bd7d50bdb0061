"""``qdreamer demo``: one Bell circuit on three executors, a classical step, and a table."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from typing import Any

from pilot.results import QuantumResult
from pilot.service import PilotComputeService
from pilot.tasks import QuantumTask

logger = logging.getLogger(__name__)

#: (executor, module that must be importable, the extra that provides it)
DEMO_EXECUTORS = (
    ("qiskit_local", "qiskit_aer", None),
    ("pennylane_lightning", "pennylane_lightning", "pennylane"),
    ("braket_local", "braket.devices", "braket"),
)


def bell() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):
        return False


def fidelity_to_bell(result: QuantumResult) -> float:
    """Share of shots in the ideal outcomes 00/11 (a classical post-processing step)."""
    counts = result.counts or {}
    return (counts.get("00", 0) + counts.get("11", 0)) / max(1, sum(counts.values()))


def run_demo(
    shots: int = 1000, working_directory: str | None = None
) -> tuple[list[QuantumResult], list[float], list[str]]:
    """Create pilots, run the Bell circuit on each executor, score it on a classical pilot.

    Returns the results, the classical scores, and the executors skipped
    because their SDK is not installed (with the install command).
    """
    workdir = working_directory or tempfile.mkdtemp(prefix="qdreamer-demo-")
    skipped = []
    with PilotComputeService(working_directory=workdir) as pcs:
        names = []
        for executor, module, extra in DEMO_EXECUTORS:
            if not _installed(module):
                skipped.append(f"{executor} (pip install 'qdreamer[{extra}]')")
                continue
            pcs.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": executor,
                    "quantum": {"executor": executor},
                    "cores_per_node": 0.5,
                }
            )
            names.append(executor)
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

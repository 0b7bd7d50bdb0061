"""A cut task: its subexperiments run as ordinary tasks, a Ray task puts the answer back.

``submit_quantum_task(QuantumTask(circuit, observables=[...], cutting={...}))``
plans the cuts on the driver (:func:`pilot.cutting.plan_cuts`), submits every
subexperiment through ``submit_quantum_tasks`` -- so QDREAMER places each one
on any capable pilot, under load-aware placement when it is on, each with its
own failover, journal entry and resume -- and returns the ref of one
reconstruction task that takes their refs as arguments.  ``get_results`` of it
gives one :class:`~pilot.results.QuantumResult` with the reconstructed
``expectation_values``, their ``standard_errors`` and ``metadata["cutting"]``
(the cuts, the subexperiments, the sampling overhead, and where each fragment's
subexperiments ran).  Cancelling that ref cancels the subexperiments still
running, remote jobs included (they are its upstream tasks).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import ray

from pilot.cutting import CutPlan, plan_for, reconstruct
from pilot.results import QuantumResult
from pilot.tasks import QuantumTask, new_task_id


def submit_cut(
    submit_many: Callable[[list[QuantumTask]], list[Any]],
    record: Callable[[Any, tuple[Any, ...]], None],
    qt: QuantumTask,
    check_cost: Callable[[QuantumTask], None] | None = None,
    widest: int | None = None,
) -> Any:
    """Submit the subexperiments of ``qt`` (``submit_many``: ``submit_quantum_tasks``)
    and the task that reconstructs its result, recorded as their consumer (``record``:
    the dependency graph's, so that cancelling it cancels them).  ``widest``: the
    widest resource that can run them (fragments fit it: :func:`plan_for`)."""
    plan, _ = plan_for(qt, widest)
    if check_cost is not None:
        check_cost(qt)
    tasks: list[QuantumTask] = []
    index: list[tuple[Any, int]] = []
    for label, circuits in plan.subexperiments.items():
        for i, circuit in enumerate(circuits):
            tasks.append(
                QuantumTask(
                    circuit,
                    shots=qt.shots,
                    pilot=qt.pilot,
                    resource=qt.resource,
                    name=f"{qt.name}[fragment {label}, {i}]",
                    timeout_seconds=qt.timeout_seconds,
                )
            )
            index.append((label, i))
    submitted_at = time.time()
    refs = submit_many(tasks)
    light = replace(plan, subexperiments={k: range(len(v)) for k, v in plan.subexperiments.items()})
    ref = _reconstruct.options(name=f"quantum:cut@{qt.name}").remote(
        light, index, qt.name, qt.shots, submitted_at, *refs
    )
    record(ref, tuple(refs))
    return ref


@ray.remote(num_cpus=0, max_retries=0)
def _reconstruct(
    plan: CutPlan,
    index: Sequence[tuple[Any, int]],
    name: str,
    shots: int | None,
    submitted_at: float,
    *results: QuantumResult,
) -> QuantumResult:
    outcomes: dict[Any, list[Any]] = {k: [None] * len(v) for k, v in plan.subexperiments.items()}
    ran: dict[str, Counter[str]] = {}
    for (label, i), result in zip(index, results, strict=True):
        outcomes[label][i] = result.counts if shots is not None else result.probabilities
        ran.setdefault(str(label), Counter())[f"{result.pilot}/{result.backend}"] += 1
    values, errors = reconstruct(plan, outcomes, sampled=shots is not None)
    first = min((r.started_at for r in results), default=submitted_at)
    return QuantumResult(
        task_id=new_task_id(),
        name=name,
        counts=None,
        shots=shots,
        probabilities=None,
        expectation_values=[float(v) for v in values],
        backend="cut",
        executor="cutting",
        pilot=",".join(sorted({r.pilot for r in results})),
        source_format="qiskit",
        path="cutting",
        submitted_at=submitted_at,
        started_at=first,
        finished_at=time.time(),
        metadata={
            "cutting": {
                **plan.summary(),
                "where": {label: dict(c) for label, c in ran.items()},
                # Subexperiments that moved off a failing resource (each alone).
                "failovers": sum(1 for r in results if (r.selection or {}).get("failover")),
                "subexperiment_tasks": [r.task_id for r in results],
            }
        },
        standard_errors=[float(e) for e in errors],
    )

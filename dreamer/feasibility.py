"""Can a resource run a task?  Every rejection carries its reason in words."""

from __future__ import annotations

from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements


def rejection_reasons(
    req: TaskRequirements,
    cap: ResourceCapabilities,
    status: ResourceStatus | None = None,
) -> list[str]:
    """Return why ``cap`` cannot run ``req`` (an empty list means feasible).

    Gate sets are not checked here against ``cap.native_gates``: every
    executor transpiles or decomposes to its device's basis, so a gate is only
    a reason once basis translation has failed (QDREAMER's ranking adds that
    check for hardware).
    """
    reasons: list[str] = []
    if req.pilot is not None and req.pilot != cap.pilot:
        reasons.append(f"task is pinned to pilot {req.pilot!r}")
    if req.resource is not None and req.resource != cap.name:
        reasons.append(f"task is pinned to resource {req.resource!r}")
    if req.num_qubits is not None and req.num_qubits > cap.num_qubits:
        reasons.append(f"needs {req.num_qubits} qubits, has {cap.num_qubits}")
    if req.shots is None and not cap.supports_exact:
        reasons.append("exact results (shots=None) are not available; pass shots=N")
    if req.shots is not None and cap.max_shots is not None and req.shots > cap.max_shots:
        reasons.append(f"needs {req.shots} shots, allows at most {cap.max_shots}")
    if req.num_gpus > cap.num_gpus:
        reasons.append(f"needs {req.num_gpus:g} GPUs, has {cap.num_gpus:g}")
    if status is not None and not status.online:
        reasons.append(f"offline{': ' + status.message if status.message else ''}")
    return reasons

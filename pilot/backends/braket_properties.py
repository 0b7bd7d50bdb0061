"""Braket device properties and queue information -> QDREAMER's plain data.

Pure functions over the SDK's schema objects (``braket.device_schema``), so
that each calibration schema is tested directly:

* standardized v1 and v2: per-qubit ``oneQubitProperties`` (randomized-
  benchmarking and readout fidelities, T1/T2) and per-pair
  ``twoQubitProperties`` (two-qubit gate fidelities);
* standardized v3: device-level averages (``singleQubitFidelity``,
  ``twoQubitGateFidelity``, ``readoutFidelity``) and typical durations;
* IonQ's provider properties (``fidelity: {"1Q": {"mean": ...}, ...}``) when a
  device has no standardized block.

Qubit labels (``"0"``, ``"1"``... or IQM's 1-based ones) are numbered densely
in label order; couplings use the same numbering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dreamer.resource import ResourceStatus
from dreamer.workload import canonical_gate

_INT = re.compile(r"\d+")


def _label_key(label: Any) -> tuple[int, str]:
    m = _INT.search(str(label))
    return (int(m.group()) if m else 1 << 30, str(label))


def _fidelity(entries: Any, *kinds: str) -> float | None:
    """The first fidelity whose type name contains one of ``kinds``."""
    for entry in entries or []:
        ftype = getattr(entry, "fidelityType", None)
        name = str(getattr(ftype, "name", "") or "").upper()
        name = getattr(getattr(ftype, "name", None), "value", name) or name
        if any(k in str(name).upper() for k in kinds):
            return float(entry.fidelity)
    return None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def calibration(props: Any) -> dict[str, Any]:
    """Errors, couplings and durations from a Braket device's properties.

    Returns ``{"labels", "coupling", "gate_errors", "readout_errors",
    "default_errors", "durations"}`` with qubits numbered densely.
    """
    paradigm = getattr(props, "paradigm", None)
    conn = getattr(paradigm, "connectivity", None)
    graph = dict(getattr(conn, "connectivityGraph", None) or {})
    std = getattr(props, "standardized", None)
    one = dict(getattr(std, "oneQubitProperties", None) or {})
    two = dict(getattr(std, "twoQubitProperties", None) or {})
    labels = {str(q) for q in one} | {str(q) for q in graph}
    for targets in graph.values():
        labels |= {str(t) for t in targets}
    for pair in two:
        labels |= set(str(pair).split("-"))
    ordered = sorted(labels, key=_label_key)
    index = {label: i for i, label in enumerate(ordered)}
    fully = bool(getattr(conn, "fullyConnected", False)) or not graph
    coupling = (
        None
        if fully
        else tuple(sorted({(index[str(a)], index[str(b)]) for a, bs in graph.items() for b in bs}))
    )
    gate_errors: dict[tuple[str, tuple[int, ...]], float] = {}
    readout: dict[int, float] = {}
    t1s: list[float] = []
    for label, qprops in one.items():
        q = index[str(label)]
        f1 = _fidelity(getattr(qprops, "oneQubitFidelity", None), "RANDOMIZED_BENCHMARKING", "RB")
        if f1 is not None:
            gate_errors[("rx", (q,))] = 1.0 - f1
        fr = _fidelity(getattr(qprops, "oneQubitFidelity", None), "READOUT")
        if fr is not None:
            readout[q] = 1.0 - fr
        t1 = getattr(getattr(qprops, "T1", None), "value", None)
        if t1:
            t1s.append(float(t1))
    for pair, pprops in two.items():
        a, b = (index[x] for x in str(pair).split("-"))
        for entry in getattr(pprops, "twoQubitGateFidelity", None) or []:
            name = canonical_gate(str(getattr(entry, "gateName", "cz")))
            err = 1.0 - float(entry.fidelity)
            for qubits in ((a, b), (b, a)):
                key = (name, qubits)
                gate_errors[key] = max(err, gate_errors.get(key, 0.0))
    defaults: dict[str, float] = {}
    durations: dict[str, float] = {}
    # standardized v3: device-level numbers
    for field, dkey in (
        ("singleQubitFidelity", "1q"),
        ("twoQubitGateFidelity", "2q"),
        ("readoutFidelity", "readout"),
    ):
        entries = getattr(std, field, None)
        if entries:
            values = [
                float(e.fidelity) for e in entries if getattr(e, "fidelity", None) is not None
            ]
            if values:
                defaults[dkey] = 1.0 - sum(values) / len(values)
    for field, dkey in (
        ("singleQubitGateDuration", "1q"),
        ("twoQubitGateDuration", "2q"),
        ("readoutDuration", "readout"),
    ):
        dur = getattr(std, field, None)
        if dur is not None and getattr(dur, "value", None):
            durations[dkey] = _seconds(float(dur.value), str(getattr(dur, "unit", "s")))
    # IonQ provider block
    fid = getattr(getattr(props, "provider", None), "fidelity", None)
    if isinstance(fid, Mapping):
        for src, dkey in (("1Q", "1q"), ("2Q", "2q"), ("spam", "readout")):
            mean = (fid.get(src) or {}).get("mean")
            if mean is not None and dkey not in defaults:
                defaults[dkey] = 1.0 - float(mean)
    return {
        "labels": ordered,
        "coupling": coupling,
        "gate_errors": gate_errors,
        "readout_errors": readout,
        "default_errors": defaults,
        "durations": durations,
    }


def _seconds(value: float, unit: str) -> float:
    unit = getattr(unit, "value", unit)
    return value * {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}.get(str(unit).lower(), 1.0)


def queue_count(value: Any) -> tuple[int, bool]:
    """``'12'`` -> (12, False); ``'>4000'`` -> (4000, True): the bound and whether it is one."""
    text = str(value).strip()
    m = _INT.search(text)
    number = int(m.group()) if m else 0
    return number, text.startswith(">")


def status_from_metadata(
    metadata: Mapping[str, Any], typical_job_seconds: float | None
) -> ResourceStatus:
    """A ``ResourceStatus`` from a ``GetDevice`` response.

    ``deviceQueueInfo`` lists the quantum-task queues (``Normal`` and
    ``Priority``, the latter filled by hybrid jobs and run first) with sizes
    that may read ``'>4000'``: the bound is kept and flagged.
    """
    device_status = str(metadata.get("deviceStatus", "UNKNOWN"))
    normal = priority = 0
    lower_bound = False
    for entry in metadata.get("deviceQueueInfo") or []:
        if entry.get("queue") != "QUANTUM_TASKS_QUEUE":
            continue
        count, bound = queue_count(entry.get("queueSize", 0))
        lower_bound = lower_bound or bound
        if str(entry.get("queuePriority", "")).upper() == "PRIORITY":
            priority = count
        else:
            normal = count
    return ResourceStatus(
        online=device_status.upper() == "ONLINE",
        queue_depth=normal,
        priority_queue_depth=priority,
        queue_is_lower_bound=lower_bound,
        typical_job_seconds=typical_job_seconds,
        message=device_status,
    )

"""Run loaded circuits on one backend resource and report them in the user's conventions.

A circuit runs *natively* when the backend's framework is the one it was
written in (and the backend can honour the request as written); otherwise its
:class:`~pilot.convert.PortableCircuit` runs.  Expectation values of Pauli
sums are measured by grouping qubit-wise commuting terms, rotating each group
into the computational basis, and averaging parities (exactly, from
probabilities, when ``shots=None``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dreamer.feasibility import DYNAMIC_HINT
from dreamer.workload import DYNAMIC_FEATURES
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.convert.portable import LoadedCircuit, Observable, PortableCircuit
from pilot.errors import UnsupportedOperationError


@dataclass
class Outcome:
    counts: dict[str, int] | None
    probabilities: dict[str, float] | None
    expectation_values: list[float] | None
    path: str  # "native" | "portable" | "dynamic"
    metadata: dict[str, Any] = field(default_factory=dict)
    native: Any = None
    standard_errors: list[float] | None = None


def _normalise(dist: dict[str, Any]) -> dict[str, float]:
    total = float(sum(dist.values()))
    return {k: v / total for k, v in sorted(dist.items())} if total else {}


def runs_natively(circuit: LoadedCircuit, backend: QuantumBackend, shots: int | None) -> bool:
    if circuit.framework != backend.framework or circuit.observables:
        return False
    if backend.framework == "pennylane":
        return True
    if shots is None:
        return False
    if backend.framework == "qiskit":
        return any(inst.operation.name == "measure" for inst in circuit.native.data)
    return True


# ------------------------------------------------------------------ observables
Basis = dict[int, str]


def measurement_groups(
    observables: Sequence[Observable],
) -> list[tuple[Basis, list[tuple[int, int]]]]:
    """Greedy qubit-wise-commuting groups: ``[(basis, [(obs index, term index)...])...]``."""
    groups: list[tuple[Basis, list[tuple[int, int]]]] = []
    for oi, obs in enumerate(observables):
        for ti, term in enumerate(obs):
            if not term.paulis:
                continue
            for basis, members in groups:
                if all(basis.get(q, p) == p for q, p in term.paulis):
                    basis.update(dict(term.paulis))
                    members.append((oi, ti))
                    break
            else:
                groups.append((dict(term.paulis), [(oi, ti)]))
    return groups


def _rotated(body: Any, basis: Basis) -> PreparedCircuit:
    qc = body.copy()
    for q, p in sorted(basis.items()):
        if p == "X":
            qc.h(q)
        elif p == "Y":
            qc.sdg(q)
            qc.h(q)
    return PreparedCircuit(qc, tuple(sorted(basis)))


def _parity_expectation(
    dist: dict[str, float], measured: tuple[int, ...], qubits: Sequence[int]
) -> float:
    pos = [measured.index(q) for q in qubits]
    total = 0.0
    for key, p in dist.items():
        ones = sum(key[i] == "1" for i in pos)
        total += -p if ones % 2 else p
    return total


# ------------------------------------------------------------------ execution
def execute(
    backend: QuantumBackend,
    resource: str,
    circuits: Sequence[LoadedCircuit],
    shots: int | None,
    layout: Layout = None,
) -> list[Outcome]:
    """Run ``circuits`` on ``resource`` of ``backend`` (batched per path).

    ``layout`` is QDREAMER's placement (for devices with a coupling map).  An
    ``UnsupportedOperationError`` from conversion or from the SDK names this
    executor and resource.
    """
    try:
        return _execute(backend, resource, circuits, shots, layout)
    except UnsupportedOperationError as exc:
        raise exc.for_backend(f"{backend.executor} ({resource})") from exc.__cause__


def _execute(
    backend: QuantumBackend,
    resource: str,
    circuits: Sequence[LoadedCircuit],
    shots: int | None,
    layout: Layout,
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(circuits)
    native_idx = [i for i, c in enumerate(circuits) if runs_natively(c, backend, shots)]
    if native_idx:
        natives = [circuits[i].native for i in native_idx]
        outs = backend.run_native(resource, natives, shots, layout=layout)
        for i, out in zip(native_idx, outs, strict=True):
            outcomes[i] = _from_native(out)
    dynamic_idx = [i for i, c in enumerate(circuits) if outcomes[i] is None and c.dynamic]
    if dynamic_idx:
        _check_dynamic(backend, resource, [circuits[i] for i in dynamic_idx], shots)
        dynamic_dists = backend.run_dynamic(
            resource, [circuits[i].dynamic for i in dynamic_idx], shots, layout=layout
        )
        for i, dist in zip(dynamic_idx, dynamic_dists, strict=True):
            keys = circuits[i].keys
            assert keys is not None
            probs = keys.format_dist(_normalise(dist))
            counts = keys.format_dist(dist) if shots is not None else None
            outcomes[i] = Outcome(counts, probs, None, "dynamic", {"circuits_run": 1})
    portable_idx = [i for i in range(len(circuits)) if outcomes[i] is None]
    if portable_idx:
        plans = [_plan(circuits[i].portable()) for i in portable_idx]
        jobs = [job for plan in plans for job in plan[1]]
        dists: list[dict[str, Any]] = (
            backend.exact(resource, jobs, layout=layout)
            if shots is None
            else backend.sample(resource, jobs, shots, layout=layout)
        )
        pos = 0
        for i, (portable, plan_jobs, groups) in zip(portable_idx, plans, strict=True):
            mine = dists[pos : pos + len(plan_jobs)]
            pos += len(plan_jobs)
            outcomes[i] = _from_portable(portable, plan_jobs, groups, mine, shots)
    return [o for o in outcomes if o is not None]


def _check_dynamic(
    backend: QuantumBackend, resource: str, circuits: Sequence[LoadedCircuit], shots: int | None
) -> None:
    """The worker's own check (QDREAMER makes the same one before a task is sent)."""
    cap = next((c for c in backend.resources() if c.name == resource), None)
    offered = cap.dynamic if cap is not None else frozenset()
    for circuit in circuits:
        missing = sorted(circuit.needs - offered)
        if missing:
            raise UnsupportedOperationError(DYNAMIC_FEATURES[missing[0]], None, DYNAMIC_HINT)
        inexact = circuit.needs - (cap.dynamic_exact if cap is not None else frozenset())
        if shots is None and inexact:
            raise UnsupportedOperationError(
                f"shots=None for a circuit with {DYNAMIC_FEATURES[sorted(inexact)[0]]}",
                None,
                "exact results of dynamic circuits come from pennylane_default and "
                "pennylane_lightning (without branches also from qiskit_local); pass shots=N",
            )


def _from_native(out: NativeOutput) -> Outcome:
    probs = out.probabilities
    if probs is None and out.counts:
        probs = _normalise(out.counts)
    return Outcome(
        out.counts, probs, out.expectation_values, "native", dict(out.metadata), native=out.native
    )


def _plan(
    p: PortableCircuit,
) -> tuple[PortableCircuit, list[PreparedCircuit], list[tuple[Basis, list[tuple[int, int]]]]]:
    jobs: list[PreparedCircuit] = []
    if p.measured:
        jobs.append(PreparedCircuit(p.body, p.measured))
    groups = measurement_groups(p.observables)
    jobs += [_rotated(p.body, basis) for basis, _ in groups]
    return p, jobs, groups


def _from_portable(
    p: PortableCircuit,
    jobs: list[PreparedCircuit],
    groups: list[tuple[Basis, list[tuple[int, int]]]],
    dists: list[dict[str, Any]],
    shots: int | None,
) -> Outcome:
    counts = probs = None
    offset = 0
    if p.measured:
        main = dists[0]
        offset = 1
        if shots is not None and p.want_counts:
            counts = p.keys.format_dist(main)
        probs = p.keys.format_dist(_normalise(main))
    expvals = errors = None
    if p.observables:
        values = [[t.coeff if not t.paulis else 0.0 for t in obs] for obs in p.observables]
        variances = [0.0] * len(p.observables)
        for g, (_basis, members) in enumerate(groups):
            job = jobs[offset + g]
            dist = _normalise(dists[offset + g])
            for oi, ti in members:
                term = p.observables[oi][ti]
                values[oi][ti] = term.coeff * _parity_expectation(
                    dist, job.measured, [q for q, _ in term.paulis]
                )
            if shots is not None:
                for oi, var in _group_variances(p, job, members, dist).items():
                    variances[oi] += var / max(1, shots - 1)
        expvals = [float(sum(v)) for v in values]
        if shots is not None:
            errors = [math.sqrt(v) for v in variances]
    return Outcome(
        counts, probs, expvals, "portable", {"circuits_run": len(jobs)}, standard_errors=errors
    )


def _group_variances(
    p: PortableCircuit,
    job: PreparedCircuit,
    members: list[tuple[int, int]],
    dist: dict[str, float],
) -> dict[int, float]:
    """Per observable, the variance over one shot of the terms this group measured
    (each shot gives every term of the group a +-1 value, so terms measured together
    vary together: the variance of their weighted sum, not a sum of variances)."""
    by_obs: dict[int, list[tuple[float, list[int]]]] = {}
    for oi, ti in members:
        term = p.observables[oi][ti]
        pos = [job.measured.index(q) for q, _ in term.paulis]
        by_obs.setdefault(oi, []).append((float(term.coeff.real), pos))
    out = {}
    for oi, terms in by_obs.items():
        mean = square = 0.0
        for key, prob in dist.items():
            y = sum(c * (-1 if sum(key[i] == "1" for i in pos) % 2 else 1) for c, pos in terms)
            mean += prob * y
            square += prob * y * y
        out[oi] = max(0.0, square - mean * mean)
    return out

"""Hypothesis strategies: random devices, calibrations, statuses, prices, workloads."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from dreamer.pricing import Pricing
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import WorkloadProfile

errors = st.floats(min_value=1e-5, max_value=0.2, allow_nan=False)


@st.composite
def devices(draw: st.DrawFn, name: str = "dev", pilot: str = "p") -> ResourceCapabilities:
    """A noisy device with a connected random coupling map and per-qubit calibration,
    or an ideal simulator."""
    if draw(st.integers(0, 9)) == 0:  # one draw in ten: an ideal simulator
        return ResourceCapabilities(
            name=name,
            executor="qiskit_local",
            provider="local",
            pilot=pilot,
            num_qubits=draw(st.integers(2, 12)),
            supports_exact=True,
        )
    n = draw(st.integers(2, 8))
    edges = {(i, draw(st.integers(0, i - 1))) for i in range(1, n)}  # a random spanning tree
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n))
    edges |= {(a, b) for a, b in extra if a != b}
    coupling = tuple(sorted(edges | {(b, a) for a, b in edges}))
    gate_errors = {("sx", (q,)): draw(errors) for q in range(n)}
    for a, b in coupling:
        gate_errors[("cx", (a, b))] = draw(errors)
    readout = {q: draw(errors) for q in range(n)}
    resets = draw(st.none() | st.just({q: draw(errors) for q in range(n)}))
    pricing = draw(
        st.none()
        | st.builds(
            Pricing,
            per_task=st.floats(0, 1),
            per_shot=st.floats(0, 0.1),
            per_minute=st.floats(0, 1),
        )
    )
    return ResourceCapabilities(
        name=name,
        executor="qiskit_fake",
        provider=draw(st.sampled_from(["ibm", "aws"])),
        pilot=pilot,
        num_qubits=n,
        native_gates=frozenset({"rz", "sx", "cx"}),
        coupling_map=coupling,
        simulator=draw(st.booleans()),
        noisy=True,
        max_shots=draw(st.none() | st.integers(100, 100_000)),
        supports_exact=False,
        gate_errors=gate_errors,
        readout_errors=readout,
        reset_errors=resets or {},
        pricing=pricing,
    )


statuses = st.builds(
    ResourceStatus,
    # Online three times in four: an offline resource is infeasible, and the ranking
    # properties need feasible ones to compare (offline ones are drawn too).
    online=st.integers(0, 3).map(lambda i: i > 0),
    queue_depth=st.integers(0, 5000),
    typical_job_seconds=st.none() | st.floats(0.1, 600),
)


@st.composite
def workloads(draw: st.DrawFn) -> WorkloadProfile:
    k = draw(st.integers(1, 6))
    ones = {q: draw(st.integers(0, 6)) for q in range(k)}
    pairs = draw(st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), max_size=2 * k))
    interactions: dict[tuple[int, int], int] = {}
    for a, b in pairs:
        if a != b:
            key = (min(a, b), max(a, b))
            interactions[key] = interactions.get(key, 0) + draw(st.integers(1, 3))
    measured = tuple(sorted(draw(st.sets(st.integers(0, k - 1), min_size=1))))
    return WorkloadProfile(
        num_qubits=k,
        one_qubit=ones,
        interactions=interactions,
        depth=draw(st.integers(1, 40)),
        measured=measured,
        shots=draw(st.integers(1, 10_000)),
        gates=frozenset({"h", "cx"}) if interactions else frozenset({"h"}),
        # A dynamic circuit's mid-circuit measurements and resets, now and then.
        mid_measurements=draw(st.dictionaries(st.integers(0, k - 1), st.integers(1, 3))),
        resets=draw(st.dictionaries(st.integers(0, k - 1), st.integers(1, 3))),
    )


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[ResourceCapabilities], dict[str, ResourceStatus]]:
    size = draw(st.integers(2, 6))
    resources = [draw(devices(name=f"dev{i}", pilot=f"p{i % 3}")) for i in range(size)]
    return resources, {r.key: draw(statuses) for r in resources}


def worse_error(cap: ResourceCapabilities, which: int, delta: float) -> ResourceCapabilities:
    """``cap`` with one calibrated error (gate, readout or reset, by index) raised by
    ``delta``."""
    gate_keys = sorted(cap.gate_errors)
    ro, rs = dict(cap.readout_errors), dict(cap.reset_errors)
    total = len(gate_keys) + len(ro) + len(rs)
    if not total:
        return cap
    which %= total
    if which < len(gate_keys):
        key = gate_keys[which]
        errs = dict(cap.gate_errors)
        errs[key] = min(1.0, errs[key] + delta)
        return replace(cap, gate_errors=errs)
    which -= len(gate_keys)
    if which < len(ro):
        q = sorted(ro)[which]
        ro[q] = min(1.0, ro[q] + delta)
        return replace(cap, readout_errors=ro)
    q = sorted(rs)[which - len(ro)]
    rs[q] = min(1.0, rs[q] + delta)
    return replace(cap, reset_errors=rs)

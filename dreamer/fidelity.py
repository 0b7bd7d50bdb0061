"""Estimated fidelity of a workload on a device, from its calibration data.

The model is the estimated success probability (ESP): the product of
``(1 - error)`` over every physical gate the circuit needs and every readout;
a dynamic circuit's mid-circuit measurements cost a readout error each (a
wrong bit feeds the branches that read it) and its resets a reset error
each (the device's own figure, else the relaxation over its duration).
Gate counts come from the :class:`~dreamer.workload.WorkloadProfile`, already
translated to native-gate equivalents (two-qubit counts in CX equivalents,
one-qubit counts without virtual Z rotations).  A coupler counts with the
worse of its calibrated directions, so a direction marked faulty (error 1)
keeps the workload off it.

Where on the device?  For every physical qubit the candidate *region* is its
``k`` nearest qubits on the coupling map (breadth first, ties by index) -- a
choice that depends on the topology only.  Within a region, the workload's
demands are matched to the region's calibration in sorted order: the busiest
logical qubit to the best qubit, the most-used interaction to the best
coupler, measured qubits to the best readouts (mid-circuit measurements and
resets likewise, busiest first); interactions beyond what the
region's couplers can host cost SWAPs (three two-qubit gates each).  The
estimate is the best region's product.  Because regions never depend on error
rates and each part is a sorted statistic of them, raising any error rate
never raises an estimate -- the ranking's monotonicity rests on this.  It
costs O(qubits x k) per device and is memoised per workload signature.

The *layout* reported with the estimate (and used to run the circuit) is a
greedy placement inside the best region: each logical qubit, in breadth-first
order over the interaction graph, on the free qubit that keeps the product
highest.  On IBM fake devices the estimate tracks Aer's noisy simulation of
that layout within about 0.01 (``bench/selector.py``).

Ideal simulators have fidelity 1.  A noisy device without calibration data
uses its device-wide averages (``default_errors``), else typical values
(:data:`TYPICAL_ERRORS`), and says so in :attr:`FidelityEstimate.model`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from dreamer.resource import ResourceCapabilities
from dreamer.workload import VIRTUAL_GATES, WorkloadProfile

#: Used for noisy devices that publish no calibration at all.
TYPICAL_ERRORS = {"1q": 1e-3, "2q": 1e-2, "readout": 2e-2, "reset": 1e-2}

#: Two-qubit gates that count as one native entangler.
ENTANGLERS = frozenset({"cx", "cz", "ecr", "rzz", "iswap", "ms", "xy", "cp", "zz", "rxx", "ryy"})

_LOG_FLOOR = math.log(1e-12)


def _log1m(error: float) -> float:
    return math.log(1.0 - error) if error < 1.0 else _LOG_FLOOR


@dataclass(frozen=True)
class FidelityEstimate:
    """An estimate and how it was made.

    ``layout[i]`` is the physical qubit for logical qubit ``i`` (empty for
    ideal simulators); ``swaps`` counts the SWAPs the layout needs; ``model``
    is ``"ideal"``, ``"calibration"``, ``"device-average"`` or ``"typical"``.
    """

    fidelity: float
    layout: tuple[int, ...] = ()
    swaps: int = 0
    model: str = "ideal"


class DeviceModel:
    """One device's calibration, preprocessed for fast estimates."""

    def __init__(self, caps: ResourceCapabilities) -> None:
        self.caps = caps
        self.n = max(1, caps.num_qubits)
        defaults = {**TYPICAL_ERRORS, **caps.default_errors}
        calibrated = bool(caps.gate_errors or caps.readout_errors)
        self.model = (
            "calibration" if calibrated else "device-average" if caps.default_errors else "typical"
        )
        # One-qubit error per qubit: the physical (non-virtual) gates' average.
        one: dict[int, list[float]] = {}
        two: dict[tuple[int, int], float] = {}
        for (gate, qubits), err in caps.gate_errors.items():
            if len(qubits) == 1 and gate not in VIRTUAL_GATES:
                one.setdefault(qubits[0], []).append(err)
            elif len(qubits) == 2 and gate in ENTANGLERS:
                # The worst direction: a transpiler runs the gate as the circuit
                # orients it when the device offers that direction, even if that
                # direction is the bad one (e.g. a coupler calibrated as faulty).
                a, b = sorted(qubits)
                two[(a, b)] = max(err, two.get((a, b), 0.0))
        self.e1 = {q: sum(v) / len(v) for q, v in one.items()}
        self.e1_default = _mean(self.e1.values(), defaults["1q"])
        self.ro = dict(caps.readout_errors)
        self.ro_default = _mean(self.ro.values(), defaults["readout"])
        self.rs = dict(caps.reset_errors)
        self.rs_default = _mean(self.rs.values(), defaults["reset"])
        self.e2 = two
        self.e2_default = _mean(two.values(), defaults["2q"])
        if caps.coupling_map is None:
            self.adj: dict[int, tuple[int, ...]] | None = None
        else:
            adj: dict[int, set[int]] = {q: set() for q in range(self.n)}
            for a, b in caps.coupling_map:
                if a != b and a < self.n and b < self.n:
                    adj[a].add(b)
                    adj[b].add(a)
            self.adj = {q: tuple(sorted(v)) for q, v in adj.items()}
        self._memo: dict[tuple, FidelityEstimate] = {}
        self._regions: dict[int, list[tuple[int, ...]]] = {}

    # -------------------------------------------------------------- primitives
    def l1(self, q: int) -> float:
        return _log1m(self.e1.get(q, self.e1_default))

    def lro(self, q: int) -> float:
        return _log1m(self.ro.get(q, self.ro_default))

    def lrs(self, q: int) -> float:
        return _log1m(self.rs.get(q, self.rs_default))

    def l2(self, a: int, b: int) -> float:
        key = (a, b) if a < b else (b, a)
        return _log1m(self.e2.get(key, self.e2_default))

    def neighbours(self, q: int) -> tuple[int, ...]:
        if self.adj is None:
            return tuple(p for p in range(self.n) if p != q)
        return self.adj.get(q, ())

    def distance(self, a: int, b: int) -> int:
        """Hops between physical qubits (1 = adjacent), large if disconnected."""
        if self.adj is None or a == b:
            return 0 if a == b else 1
        seen = {a}
        frontier = deque([(a, 0)])
        while frontier:
            q, d = frontier.popleft()
            for p in self.adj.get(q, ()):
                if p == b:
                    return d + 1
                if p not in seen:
                    seen.add(p)
                    frontier.append((p, d + 1))
        return self.n

    # -------------------------------------------------------------- estimate
    def estimate(self, profile: WorkloadProfile) -> FidelityEstimate:
        if not self.caps.noisy:
            return FidelityEstimate(1.0)
        key = profile.signature()
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._search(profile)
        return hit

    def _search(self, profile: WorkloadProfile) -> FidelityEstimate:
        k = profile.num_qubits
        if k > self.n:
            return FidelityEstimate(0.0, model=self.model)
        logs, region = self._best_region(profile)
        layout, swaps = self._place(profile, region)
        return FidelityEstimate(math.exp(logs), layout, swaps, self.model)

    def e2_log(self) -> float:
        return _log1m(self.e2_default)

    # -------------------------------------------------------------- regions
    def regions(self, k: int) -> list[tuple[int, ...]]:
        """Candidate regions of ``k`` qubits: for each qubit, its ``k`` nearest (BFS, index ties).

        They depend on the coupling map only, never on error rates.
        """
        cached = self._regions.get(k)
        if cached is not None:
            return cached
        if self.adj is None:
            out = [tuple(range(self.n))]
        else:
            seen_regions: set[tuple[int, ...]] = set()
            out = []
            for start in range(self.n):
                ball = [start]
                seen = {start}
                frontier = deque([start])
                while frontier and len(ball) < k:
                    q = frontier.popleft()
                    for r in self.adj.get(q, ()):
                        if r not in seen and len(ball) < k:
                            seen.add(r)
                            ball.append(r)
                            frontier.append(r)
                region = tuple(sorted(ball))
                if len(region) == k and region not in seen_regions:
                    seen_regions.add(region)
                    out.append(region)
        self._regions[k] = out
        return out

    def _region_edges(self, region: tuple[int, ...]) -> list[tuple[int, int]]:
        members = set(region)
        if self.adj is None:
            return [(a, b) for i, a in enumerate(region) for b in region[i + 1 :]]
        return [(a, b) for a in region for b in self.adj.get(a, ()) if a < b and b in members]

    def _best_region(self, profile: WorkloadProfile) -> tuple[float, tuple[int, ...]]:
        """Best log-fidelity over the candidate regions, and its region.

        Within a region the estimate matches the workload's demands to the
        region's calibration in sorted order (heaviest qubit to the best
        qubit, most-used interaction to the best coupler, measured qubits to
        the best readouts): each part is a sorted statistic of error rates, so
        raising any error can only lower it.  Interactions that a region's
        couplers cannot host without cycles it lacks pay one SWAP each.
        """
        k = profile.num_qubits
        ones = sorted((profile.one_qubit.get(v, 0) for v in range(k)), reverse=True)
        n_measured = len(set(profile.measured))
        mids = sorted((profile.mid_measurements.get(v, 0) for v in range(k)), reverse=True)
        resets = sorted((profile.resets.get(v, 0) for v in range(k)), reverse=True)
        counts = sorted(profile.interactions.values(), reverse=True)
        components = _components(k, profile.interactions)
        cycles_needed = max(0, len(counts) - (k - components))
        best: tuple[float, tuple[int, ...]] = (-math.inf, ())
        for region in self.regions(k):
            q1 = sorted((self.l1(p) for p in region), reverse=True)
            ro = sorted((self.lro(p) for p in region), reverse=True)
            edges = self._region_edges(region)
            l2 = sorted((self.l2(a, b) for a, b in edges), reverse=True)
            logs = sum(c * lg for c, lg in zip(ones, q1, strict=False)) + sum(ro[:n_measured])
            if any(mids) or any(resets):  # a dynamic circuit's readouts and resets
                logs += sum(c * lg for c, lg in zip(mids, ro, strict=False))
                rs = sorted((self.lrs(p) for p in region), reverse=True)
                logs += sum(c * lg for c, lg in zip(resets, rs, strict=False))
            avg2 = sum(l2) / len(l2) if l2 else self.e2_log()
            for i, c in enumerate(counts):
                logs += c * (l2[i] if i < len(l2) else avg2)
            cycles_available = max(0, len(edges) - (k - 1))
            logs += 3 * max(0, cycles_needed - cycles_available) * avg2
            logs += 3 * max(0, len(counts) - len(l2)) * avg2
            if logs > best[0] or (logs == best[0] and region < best[1]):
                best = (logs, region)
        return best

    # -------------------------------------------------------------- layout
    def _place(
        self, profile: WorkloadProfile, region: tuple[int, ...]
    ) -> tuple[tuple[int, ...], int]:
        """A concrete layout inside ``region`` (greedy; used to run the circuit, not to rank)."""
        k = profile.num_qubits
        w: dict[int, dict[int, int]] = {q: {} for q in range(k)}
        for (a, b), count in profile.interactions.items():
            w[a][b] = w[a].get(b, 0) + count
            w[b][a] = w[b].get(a, 0) + count
        order = _bfs_order(k, w)
        measured = set(profile.measured)

        def cost(v: int, p: int) -> float:
            return (
                profile.one_qubit.get(v, 0) * self.l1(p)
                + (self.lro(p) if v in measured else 0.0)
                + profile.mid_measurements.get(v, 0) * self.lro(p)
                + profile.resets.get(v, 0) * self.lrs(p)
            )

        allowed = set(region)
        best: tuple[float, tuple[int, ...], int] | None = None
        for start in region:
            mapping, used = {order[0]: start}, {start}
            score, swaps = cost(order[0], start), 0
            for v in order[1:]:
                options = []
                for p in allowed - used:
                    gain = cost(v, p)
                    extra = 0
                    for u, c in w[v].items():
                        if u in mapping:
                            hops = self.distance(mapping[u], p)
                            gain += (
                                c * self.l2(mapping[u], p)
                                if hops <= 1
                                else (c * self.e2_log() + 3 * (hops - 1) * self.e2_log())
                            )
                            extra += max(0, hops - 1)
                    options.append((gain, -p, p, extra))
                gain, _, p, extra = max(options)
                mapping[v] = p
                used.add(p)
                score += gain
                swaps += extra
            layout = tuple(mapping[v] for v in range(k))
            if best is None or score > best[0] or (score == best[0] and layout < best[1]):
                best = (score, layout, swaps)
        assert best is not None
        return best[1], best[2]


def _components(k: int, interactions: Mapping[tuple[int, int], int]) -> int:
    parent = list(range(k))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in interactions:
        parent[find(a)] = find(b)
    return len({find(x) for x in range(k)})


def _mean(values: object, default: float) -> float:
    vals = list(values)  # type: ignore[call-overload]
    return sum(vals) / len(vals) if vals else default


def _bfs_order(k: int, weights: Mapping[int, Mapping[int, int]]) -> list[int]:
    """Logical qubits, most-connected first, then breadth-first by interaction weight."""
    remaining = set(range(k))
    order: list[int] = []
    while remaining:
        root = max(remaining, key=lambda q: (sum(weights[q].values()), -q))
        queue = deque([root])
        remaining.discard(root)
        while queue:
            v = queue.popleft()
            order.append(v)
            for u, _ in sorted(weights[v].items(), key=lambda uc: (-uc[1], uc[0])):
                if u in remaining:
                    remaining.discard(u)
                    queue.append(u)
    return order


class FidelityModels:
    """``DeviceModel`` per resource, built on first use and reused."""

    def __init__(self) -> None:
        self._models: dict[int, DeviceModel] = {}

    def get(self, caps: ResourceCapabilities) -> DeviceModel:
        model = self._models.get(id(caps))
        if model is None or model.caps is not caps:
            model = self._models[id(caps)] = DeviceModel(caps)
        return model

    def estimate(self, caps: ResourceCapabilities, profile: WorkloadProfile) -> FidelityEstimate:
        return self.get(caps).estimate(profile)

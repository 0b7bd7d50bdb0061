"""Cut a circuit too wide for any one resource into fragments, and put the answers back.

Built on ``qiskit-addon-cutting`` (Qiskit's own addon), in its documented order:
``find_cuts`` chooses gate and wire cuts so that every fragment fits
``max_fragment_qubits`` (``DeviceConstraints.qubits_per_subcircuit``),
``cut_wires`` / ``expand_observables`` / ``partition_problem`` split the circuit
and the observables, ``generate_cutting_experiments`` makes the
subexperiments of every fragment (each an ordinary circuit with two classical
registers: ``observable_measurements`` and ``qpd_measurements``), and
``reconstruct_expectation_values`` combines their outcomes with the
quasi-probability coefficients.

What this module adds is the bookkeeping a service needs to run the
subexperiments as ordinary tasks anywhere (:class:`CutPlan`: how many, how wide,
at what sampling overhead, before anything is paid for), the outcomes in the
form each run gives them -- exact probabilities (``shots=None``) or counts --
and a standard error for each reconstructed value.  The addon reports none:
for sampled outcomes it is estimated here by a parametric bootstrap (each
subexperiment's counts resampled from its own observed distribution, the
reconstruction repeated; :data:`BOOTSTRAP_SAMPLES` times), which needs no
model of how the quasi-probability terms correlate; exact outcomes have none.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import ray

from pilot.convert.load import load_circuit
from pilot.convert.observables import QISKIT_ORDER, to_pauli_sums
from pilot.errors import ConfigError

#: Resamplings behind each standard error of a reconstruction from counts.
BOOTSTRAP_SAMPLES = 200


@dataclass(frozen=True)
class CuttingOptions:
    """``QuantumTask(cutting={...})``: how a circuit may be cut.

    ``max_fragment_qubits``: the widest fragment (required).
    ``max_subexperiments``: refuse a plan with more subexperiments than this.
    ``max_sampling_overhead``: the search's bound on the sampling overhead
    (``OptimizationParameters.max_gamma``; default 1024).
    ``seed``: the cut search's seed (its results are reproducible with one).
    """

    max_fragment_qubits: int
    max_subexperiments: int | None = None
    max_sampling_overhead: int | None = None
    seed: int | None = 111

    @classmethod
    def of(cls, value: Any) -> CuttingOptions:
        if isinstance(value, CuttingOptions):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"cutting: expected a dict like {{'max_fragment_qubits': 20}}, "
                f"got {type(value).__name__}",
                key="cutting",
            )
        unknown = set(value) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(
                f"cutting: unknown key {sorted(unknown)[0]!r}; valid: "
                + ", ".join(sorted(cls.__dataclass_fields__)),
                key=f"cutting.{sorted(unknown)[0]}",
            )
        if "max_fragment_qubits" not in value:
            raise ConfigError(
                "cutting: max_fragment_qubits is required (the widest fragment, e.g. 20)",
                key="cutting.max_fragment_qubits",
            )
        for key in ("max_fragment_qubits", "max_subexperiments", "max_sampling_overhead", "seed"):
            v = value.get(key)
            if v is None and key != "max_fragment_qubits":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "seed" else 1):
                raise ConfigError(
                    f"cutting.{key}: expected a whole number >= {0 if key == 'seed' else 1}, "
                    f"got {v!r}",
                    key=f"cutting.{key}",
                )
        return cls(**dict(value))


@dataclass(frozen=True)
class CutPlan:
    """What cutting a circuit for its observables costs, and what to run.

    ``cuts``: the addon's cut list, ``(kind, index)``; ``sampling_overhead``:
    the factor by which shots must grow for the same variance;
    ``fragments``: each fragment's label and width; ``subexperiments``: the
    circuits to run per fragment; ``coefficients``: their quasi-probability
    weights; ``subobservables`` per fragment; ``paulis``: the distinct Pauli
    terms of all ``observables`` (``SparsePauliOp``), in the order the
    reconstruction returns their values.
    """

    cuts: tuple[tuple[str, int], ...]
    sampling_overhead: float
    fragments: Mapping[Hashable, int]
    subexperiments: Mapping[Hashable, Sequence[Any]]
    coefficients: Sequence[tuple[float, Any]]
    subobservables: Mapping[Hashable, Any]
    observables: tuple[Any, ...]
    paulis: Any
    num_qubits: int
    uncut: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_subexperiments(self) -> int:
        return sum(len(v) for v in self.subexperiments.values())

    def summary(self) -> dict[str, Any]:
        """Plain data for ``result.metadata["cutting"]`` and ``pcs.estimate_cost``."""
        return {
            "cuts": [list(c) for c in self.cuts],
            "num_cuts": len(self.cuts),
            "sampling_overhead": float(self.sampling_overhead),
            "fragments": {str(k): int(v) for k, v in self.fragments.items()},
            "num_subexperiments": self.num_subexperiments,
            "num_qubits": self.num_qubits,
        }


class CutEstimate(dict[str, Any]):
    """``pcs.estimate_cost`` of a cut task: a dict (the plan's summary, shots, cost,
    time and ``per_fragment``) that prints as a table."""

    def __str__(self) -> str:
        cuts = self.get("cuts", [])
        lines = [
            f"cut plan: {self['num_qubits']} qubits, {len(cuts)} cut(s) "
            f"({', '.join(f'{kind.lower()} at instruction {i}' for kind, i in cuts) or 'none'}),"
            f" sampling overhead {self['sampling_overhead']:g}",
            f"{'fragment':<10}{'qubits':>7}{'subexperiments':>16}  {'resource':<24}"
            f"{'pilot':<14}{'cost each':>12}",
        ]
        for label, f in self.get("per_fragment", {}).items():
            each = f"{f['cost_each']:.2f} {self['currency']}" if f["cost_each"] else "free"
            lines.append(
                f"{label:<10}{self['fragments'][label]:>7}{f['subexperiments']:>16}  "
                f"{f['resource']:<24}{f['pilot']:<14}{each:>12}"
            )
        shots = "exact" if self["total_shots"] is None else f"{self['total_shots']:,} shots"
        lines.append(
            f"total: {self['num_subexperiments']} subexperiments, {shots}, "
            f"{self['total_cost']:.2f} {self['currency']}, "
            f"about {self['estimated_time_minutes']:.1f} min"
        )
        return "\n".join(lines)


def _sparse_observables(observables: Sequence[Any], num_qubits: int) -> tuple[Any, ...]:
    from qiskit.quantum_info import SparsePauliOp

    out = []
    for obs in observables:
        op = obs if isinstance(obs, SparsePauliOp) else SparsePauliOp(obs)
        if op.num_qubits != num_qubits:
            raise ConfigError(
                f"observable {obs!r} acts on {op.num_qubits} qubits, the circuit has {num_qubits}",
                key="observables",
            )
        out.append(op)
    return tuple(out)


def _qiskit_observables(qt: Any, width: int, source_format: str) -> list[Any]:
    """The task's observables as ``SparsePauliOp`` (qubit 0 rightmost, Qiskit's order)."""
    from qiskit.quantum_info import SparsePauliOp

    out = []
    for terms in to_pauli_sums(qt.observables or (), width, source_format):
        labels, coeffs = [], []
        for term in terms:
            letters = ["I"] * width
            for qubit, pauli in term.paulis:
                letters[width - 1 - qubit] = pauli
            labels.append("".join(letters))
            coeffs.append(term.coeff)
        out.append(SparsePauliOp(labels, coeffs=coeffs))
    return out


def plan_for(qt: Any, widest: int | None = None) -> tuple[CutPlan, Any]:
    """The cut plan of the ``QuantumTask`` ``qt`` and its Qiskit circuit (``ConfigError``
    when it cannot be cut).

    ``widest``: the most qubits a resource that can run the subexperiments has; the
    fragments fit it too when it is narrower than ``max_fragment_qubits``.
    """
    assert qt.cutting is not None
    loaded = qt.load_on_driver()
    if loaded is None and callable(qt.circuit):
        # A circuit function (``@pcs.quantum_task(cutting=...)``): the cuts are planned
        # here, so its circuit is built here, from its arguments' values.
        if any(isinstance(v, ray.ObjectRef) for v in (*qt.args, *qt.kwargs.values())):
            raise ConfigError(
                f"cutting plans {qt.name!r} on the driver, which needs its arguments' "
                "values: pass values, not ObjectRefs (ray.get them first), or cut a "
                "circuit built beforehand",
                key="cutting",
            )
        loaded = load_circuit(qt.circuit, qt.args, qt.kwargs)
    if loaded is None or loaded.source_format not in QISKIT_ORDER:
        fmt = loaded.source_format if loaded is not None else "a circuit built on the pilot"
        raise ConfigError(
            f"cutting takes Qiskit circuits and OpenQASM (this task's circuit is {fmt}); "
            "convert it to a Qiskit QuantumCircuit first",
            key="cutting",
        )
    circuit = loaded.native
    observables = _qiskit_observables(qt, loaded.num_qubits, loaded.source_format)
    options = qt.cutting
    if widest is not None and widest < options.max_fragment_qubits:
        options = replace(options, max_fragment_qubits=max(1, widest))
    return plan_cuts(circuit, observables, options), circuit


def plan_cuts(circuit: Any, observables: Sequence[Any], options: CuttingOptions) -> CutPlan:
    """Cuts for ``circuit`` (a Qiskit circuit without measurements) so that every
    fragment fits ``options.max_fragment_qubits``, and the subexperiments to run.

    A circuit that already fits is not cut (one fragment: itself).  Raises
    ``ConfigError`` when the search finds no plan, or when the plan has more than
    ``max_subexperiments`` subexperiments (the numbers in the message).
    """
    from qiskit.quantum_info import PauliList, SparsePauliOp
    from qiskit_addon_cutting import (
        DeviceConstraints,
        OptimizationParameters,
        cut_wires,
        expand_observables,
        find_cuts,
        generate_cutting_experiments,
        partition_problem,
    )

    if circuit.num_clbits or any(i.operation.name == "measure" for i in circuit.data):
        circuit = circuit.remove_final_measurements(inplace=False)
    ops = _sparse_observables(observables, circuit.num_qubits)
    paulis = PauliList(sorted({p.to_label() for op in ops for p in op.paulis}))
    k = options.max_fragment_qubits
    if circuit.num_qubits <= k:
        labels: dict[Hashable, int] = {0: circuit.num_qubits}
        sub: dict[Hashable, Any] = {0: SparsePauliOp(paulis).paulis}
        subexp, coeffs = generate_cutting_experiments(
            circuits={0: circuit}, observables=sub, num_samples=np.inf
        )
        return CutPlan(
            (), 1.0, labels, subexp, coeffs, sub, ops, paulis, circuit.num_qubits, uncut=True
        )
    params = OptimizationParameters(
        seed=options.seed,
        **({"max_gamma": options.max_sampling_overhead} if options.max_sampling_overhead else {}),
    )
    try:
        cut, meta = find_cuts(circuit, params, DeviceConstraints(qubits_per_subcircuit=k))
    except Exception as exc:  # the search's own errors: no plan within the limits
        raise ConfigError(
            f"cutting: no cuts make every fragment fit {k} qubits: {exc}",
            key="cutting.max_fragment_qubits",
        ) from exc
    cuts = tuple((str(kind), int(index)) for kind, index in meta["cuts"])
    with_ancillas = cut_wires(cut)
    expanded = expand_observables(paulis, circuit, with_ancillas)
    problem = partition_problem(circuit=with_ancillas, observables=expanded)
    widths = {label: sc.num_qubits for label, sc in problem.subcircuits.items()}
    subexp, coeffs = generate_cutting_experiments(
        circuits=problem.subcircuits, observables=problem.subobservables, num_samples=np.inf
    )
    plan = CutPlan(
        cuts,
        float(meta["sampling_overhead"]),
        widths,
        subexp,
        coeffs,
        problem.subobservables,
        ops,
        paulis,
        circuit.num_qubits,
        details={"minimum_reached": bool(meta.get("minimum_reached", True))},
    )
    if (
        options.max_subexperiments is not None
        and plan.num_subexperiments > options.max_subexperiments
    ):
        raise ConfigError(
            f"cutting: the plan has {plan.num_subexperiments} subexperiments ({len(cuts)} "
            f"cuts, sampling overhead {plan.sampling_overhead:g}), more than "
            f"max_subexperiments={options.max_subexperiments}; allow wider fragments or "
            "more subexperiments",
            key="cutting.max_subexperiments",
        )
    return plan


def combine(plan: CutPlan, terms: Sequence[float]) -> np.ndarray:
    """Each observable's value from its Pauli terms' values (in ``plan.paulis`` order)."""
    index = {p.to_label(): i for i, p in enumerate(plan.paulis)}
    return np.array(
        [
            float(
                np.real(
                    sum(
                        c * terms[index[p.to_label()]]
                        for p, c in zip(op.paulis, op.coeffs, strict=True)
                    )
                )
            )
            for op in plan.observables
        ]
    )


def _as_int(key: Any) -> int:
    """A Qiskit counts key (registers space-separated, the last register rightmost) as
    the integer whose bit ``i`` is classical bit ``i``."""
    return key if isinstance(key, int) else int(str(key).replace(" ", ""), 2)


def _terms(
    plan: CutPlan, outcomes: Mapping[Hashable, Sequence[Mapping[Any, float]]]
) -> list[float]:
    from qiskit.primitives import SamplerResult
    from qiskit.result import QuasiDistribution
    from qiskit_addon_cutting import reconstruct_expectation_values

    results = {}
    for label, circuits in plan.subexperiments.items():
        dists = outcomes[label]
        if len(dists) != len(circuits):
            raise ValueError(
                f"fragment {label!r}: {len(dists)} outcomes for {len(circuits)} subexperiments"
            )
        quasi = []
        for dist in dists:
            total = float(sum(dist.values())) or 1.0
            quasi.append(QuasiDistribution({_as_int(k): v / total for k, v in dist.items()}))
        results[label] = SamplerResult(quasi_dists=quasi, metadata=[{} for _ in quasi])
    return [
        float(np.real(v))
        for v in reconstruct_expectation_values(results, plan.coefficients, plan.subobservables)
    ]


def reconstruct(
    plan: CutPlan,
    outcomes: Mapping[Hashable, Sequence[Mapping[Any, float]]],
    *,
    sampled: bool,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each observable's value and standard error from the subexperiments' outcomes.

    ``outcomes[label][i]`` is subexperiment ``i`` of fragment ``label``: exact
    probabilities (``sampled=False``: standard errors 0) or counts keyed as Qiskit
    keys them (``sampled=True``: standard errors by a parametric bootstrap over
    :data:`BOOTSTRAP_SAMPLES` resamplings of every subexperiment's counts).
    """
    values = combine(plan, _terms(plan, outcomes))
    if not sampled:
        return values, np.zeros_like(values)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP_SAMPLES):
        resampled: dict[Hashable, list[dict[Any, float]]] = {}
        for label, dists in outcomes.items():
            out = []
            for dist in dists:
                keys = list(dist)
                n = round(sum(dist.values()))
                p = np.array([dist[k] for k in keys], dtype=float)
                counts = rng.multinomial(n, p / p.sum()) if n > 0 else np.zeros(len(keys))
                out.append({k: float(c) for k, c in zip(keys, counts, strict=True) if c})
            resampled[label] = out
        draws.append(combine(plan, _terms(plan, resampled)))
    return values, np.std(np.array(draws), axis=0, ddof=1)

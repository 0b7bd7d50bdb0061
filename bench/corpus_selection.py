"""QDREAMER's device choice for every circuit of the corpus, against a noisy-simulation oracle.

Every circuit of ``tests/corpus`` (:func:`tests.corpus.corpus.load_corpus`:
MQT Bench circuits of 2-12 qubits, and dynamic circuits with mid-circuit
measurement, reset and feed-forward) is ranked by QDREAMER over the IBM fake
devices of ``bench/selector.py`` by the service's own code (:class:`FixedFleet`:
``QDreamer.rank`` over these devices instead of running pilots, objective
"fidelity"), every queue empty, so the choice is about fidelity alone.

The truth owes nothing to QDREAMER and is bench/selector.py's
(:func:`bench.selector.true_fidelity`): a device's true fidelity is the best
Hellinger fidelity, against the ideal distribution, of a noisy Aer simulation
(``AerSimulator.from_backend``) over ``--transpile-seeds`` transpilations at
optimization_level=3 with the transpiler's own layout and routing
(``seed_transpiler`` 0..k-1).  A device can run a circuit when it is wide
enough and the transpiler accepts the circuit for it (devices without
``if_else`` refuse feed-forward).  Regret = the best device's true fidelity
minus that of the device chosen.  Baselines, measured in the same run over the
same devices: least average two-qubit error, and round-robin (both among the
devices that can run the circuit).

Ideal distributions: static circuits exactly (Aer's statevector, the
measurements mapped onto the classical bits as Aer prints them); dynamic
circuits by a noiseless Aer run of ``--ideal-shots`` shots.  Static circuits
are simulated by the density-matrix method (one evolution, shots sampled from
it), dynamic ones shot by shot (Aer's automatic method).

Circuits wider than ``--max-qubits`` (default 10: a 12-qubit density matrix
takes a minute per transpilation) are ranked (feasibility checked) but not
simulated; circuits wider than every device are listed as "no device fits".

    python bench/corpus_selection.py [--shots 8000] [--transpile-seeds 3] [--max-qubits 10]
        [--devices all|subset|NAME,NAME...] [--jobs 2] [--only REGEX]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import sys
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.selector import DEVICES, STRATEGIES, device_caps, true_fidelity  # noqa: E402
from dreamer.ranking import RankedResource, Ranker  # noqa: E402
from dreamer.resource import ResourceCapabilities, ResourceStatus  # noqa: E402
from pilot.convert import load_circuit  # noqa: E402
from pilot.selection import QDreamer  # noqa: E402
from pilot.tasks import QuantumTask  # noqa: E402

#: Eight of the sixteen devices for ``--devices subset``: 5, 7, 16 and 27 qubits, good and
#: bad calibrations (quito, toronto, hanoi: worst two-qubit errors; lagos: worst readout),
#: five with ``if_else`` (feed-forward), three without.
SUBSET = [
    "fake_manila",
    "fake_quito",
    "fake_nairobi",
    "fake_lagos",
    "fake_guadalupe",
    "fake_toronto",
    "fake_hanoi",
    "fake_auckland",
]

#: The strategies compared (bench/selector.py's labels); queues are all empty here, so
#: "least busy" and the "balanced" objective have nothing to add.
COMPARED = {k: STRATEGIES[k] for k in ("qdreamer", "least_error", "round_robin")}

#: A choice is listed as poor when its regret exceeds this.
POOR = 0.02


# ---------------------------------------------------------------- QDREAMER's side
class FixedFleet(QDreamer):
    """``pcs.qdreamer``'s own ranking code (``QDreamer.rank``: the circuit profiled by
    ``QDreamer.profile``, the requirements from ``QuantumTask.requirements``) over fixed
    resources and statuses instead of running pilots: no Ray, no monitor."""

    def __init__(
        self,
        resources: Sequence[ResourceCapabilities],
        statuses: Mapping[str, ResourceStatus] | None = None,
        objective: str = "fidelity",
    ) -> None:
        super().__init__({})
        self.ranker = Ranker(objective)
        self.fleet = list(resources)
        self.fleet_statuses = dict(statuses) if statuses is not None else empty_queues(resources)

    def _resources(self, task: QuantumTask) -> list[ResourceCapabilities]:
        return self.fleet

    def _statuses(self, caps: Sequence[ResourceCapabilities]) -> dict[str, ResourceStatus]:
        return {cap.key: self.fleet_statuses[cap.key] for cap in caps}

    def rank_circuit(self, circuit: Any, shots: int) -> list[RankedResource]:
        """Every resource for ``circuit`` (a Qiskit circuit or OpenQASM text), best first,
        the circuit loaded by ``pilot.convert`` as the service loads a submission."""
        return self.rank(QuantumTask(circuit, shots=shots), load_circuit(circuit))


def empty_queues(resources: Iterable[ResourceCapabilities]) -> dict[str, ResourceStatus]:
    """Every resource online with nothing queued (what a local pilot reports when idle)."""
    return {cap.key: ResourceStatus(online=True, queue_depth=0) for cap in resources}


# ---------------------------------------------------------------- the oracle
def exact_ideal(qc: Any) -> dict[str, float] | None:
    """The ideal distribution of a circuit whose measurements all come last, keyed as Aer
    prints counts (registers last-first, separated by spaces); ``None`` for a dynamic one."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.quantum_info import Statevector
    from qiskit_aer import AerSimulator

    body = QuantumCircuit(qc.num_qubits)
    measure: dict[int, int] = {}  # clbit -> qubit
    for inst in qc.data:
        name = inst.operation.name
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        if name == "barrier":
            continue
        if name == "measure":
            clbit = qc.find_bit(inst.clbits[0]).index
            if clbit in measure:
                return None
            measure[clbit] = qubits[0]
        elif inst.clbits or name == "reset" or set(qubits) & set(measure.values()):
            return None
        else:
            body.append(inst.operation, qubits)
    clbits = sorted(measure)
    qubits = [measure[c] for c in clbits]
    # Aer first: quantum_info's Statevector takes minutes on grover_10's multi-controlled
    # gates (but reads the unitary gates Aer cannot assemble).
    try:
        sim = AerSimulator(method="statevector")
        saved = transpile(body, sim, optimization_level=0)  # no elided swaps: keep the order
        saved.save_probabilities(qubits)
        probs = sim.run(saved).result().data()["probabilities"]
    except Exception:
        probs = Statevector(body).probabilities(qubits)
    out: dict[str, float] = {}
    for index, p in enumerate(probs):
        if p < 1e-12:
            continue
        value = {c: (index >> k) & 1 for k, c in enumerate(clbits)}
        key = " ".join(
            "".join(str(value.get(qc.find_bit(b).index, 0)) for b in reversed(reg))
            for reg in reversed(qc.cregs)
        )
        out[key] = out.get(key, 0.0) + float(p)
    return out


def read_out(qc: Any) -> Any:
    """``qc`` as simulated: with every qubit measured at the end when it measures nothing."""
    if any(ci.operation.name == "measure" for ci in qc.data) or qc.num_clbits:
        return qc
    return qc.measure_all(inplace=False)


def ideal_distribution(qc: Any, shots: int) -> dict[str, float]:
    """Exact for a static circuit, else a noiseless Aer run of ``shots`` shots."""
    exact = exact_ideal(qc)
    if exact is not None:
        return exact
    from qiskit_aer import AerSimulator

    counts = AerSimulator().run(qc, shots=shots, seed_simulator=11).result().get_counts()
    return {k: v / shots for k, v in counts.items()}


_SIMS: dict[tuple[str, str], Any] = {}
_BACKENDS: dict[str, Any] = {}


def _init_worker() -> None:
    warnings.filterwarnings("ignore")


def device_truth(
    qc: Any, device: str, ideal: dict[str, float], seeds: int, dynamic: bool, shots: int
) -> tuple[float | None, str]:
    """``device``'s true fidelity for ``qc`` (``None`` and why when it cannot run it)."""
    from qiskit.transpiler.exceptions import TranspilerError
    from qiskit_aer import AerSimulator

    from pilot.backends.fake_devices import fake_devices

    if not _BACKENDS:
        _BACKENDS.update(fake_devices())  # builds every fake device: once per process
    backend = _BACKENDS[device]
    method = "automatic" if dynamic else "density_matrix"
    sim = _SIMS.get((device, method))
    if sim is None:
        sim = AerSimulator.from_backend(backend, method=method, max_parallel_threads=1)
        _SIMS[device, method] = sim
    try:
        return true_fidelity(backend, sim, qc, ideal, seeds, shots), ""
    except TranspilerError as exc:
        return None, str(exc).strip("'\"")


# ---------------------------------------------------------------- one circuit
@dataclass
class Outcome:
    name: str
    family: str
    dynamic: bool
    num_qubits: int
    error: str = ""  # QDREAMER's ranking raised
    pick: str = ""  # QDREAMER's choice
    estimate: dict[str, float] = field(default_factory=dict)  # QDREAMER's estimates
    refused: dict[str, list[str]] = field(default_factory=dict)  # QDREAMER's reasons
    true: dict[str, float] = field(default_factory=dict)  # the oracle
    cannot: dict[str, str] = field(default_factory=dict)  # devices the transpiler refused
    picks: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return max(self.true.values())

    def regret(self, method: str) -> float:
        return self.best - self.true[self.picks[method]]


def rank_outcome(cc: Any, fleet: FixedFleet, shots: int) -> Outcome:
    out = Outcome(cc.name, cc.family, cc.is_dynamic, cc.num_qubits)
    try:
        ranked = fleet.rank_circuit(cc.circuit, shots)
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    for r in ranked:
        out.estimate[r.resource.name] = float(r.breakdown["estimated_fidelity"])
        if not r.feasible:
            out.refused[r.resource.name] = list(r.reasons)
    first = next((r for r in ranked if r.feasible), None)
    out.pick = first.resource.name if first is not None else ""
    return out


def choose_baselines(out: Outcome, index: int, avg2: dict[str, float], order: list[str]) -> None:
    names = [d for d in order if d in out.true]  # the devices that can run it
    if out.pick:
        out.picks["qdreamer"] = out.pick
    out.picks["least_error"] = min(names, key=lambda d: avg2[d])
    out.picks["round_robin"] = names[index % len(names)]


# ---------------------------------------------------------------- report
def summary_rows(outcomes: list[Outcome]) -> list[str]:
    rows = []
    for method, label in COMPARED.items():
        scored = [o for o in outcomes if method in o.picks and o.picks[method] in o.true]
        if not scored:
            rows.append(f"   {label:<32} {'(none ranked)':>11}")
            continue
        regrets = [o.regret(method) for o in scored]
        hits = sum(o.regret(method) == 0 for o in scored)
        rows.append(
            f"   {label:<32} {statistics.mean(regrets):>11.4f} {max(regrets):>10.4f} "
            f"{hits:>6}/{len(scored):<4} {100 * hits / len(scored):>5.0f}%"
        )
    return rows


def report(outcomes: list[Outcome]) -> None:
    simulated = [o for o in outcomes if o.true]
    print(
        "\n   per family (mean regret; QDREAMER's max; circuits where QDREAMER "
        "picked the best device)"
    )
    print(
        f"   {'family':<28} {'n':>3} {'QDREAMER':>9} {'max':>7} {'best':>6} "
        f"{'least-2q':>9} {'r-robin':>8}"
    )
    families = sorted({o.family for o in simulated})
    for fam in families:
        group = [o for o in simulated if o.family == fam]
        cells = []
        for method in COMPARED:
            scored = [o.regret(method) for o in group if method in o.picks]
            cells.append(f"{statistics.mean(scored):.4f}" if scored else "raised")
        mine = [o.regret("qdreamer") for o in group if "qdreamer" in o.picks]
        top = f"{max(mine):.4f}" if mine else "-"
        hits = f"{sum(r == 0 for r in mine)}/{len(mine)}"
        print(
            f"   {fam:<28} {len(group):>3} {cells[0]:>9} {top:>7} {hits:>6} "
            f"{cells[1]:>9} {cells[2]:>8}"
        )
    for title, group in (
        ("static circuits", [o for o in simulated if not o.dynamic]),
        ("dynamic circuits", [o for o in simulated if o.dynamic]),
        ("all circuits", simulated),
    ):
        print(f"\n   {title} ({len(group)} simulated)")
        print(
            f"   {'strategy':<32} {'mean regret':>11} {'max regret':>10} "
            f"{'best picked':>11} {'share':>6}"
        )
        for row in summary_rows(group):
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shots", type=int, default=8000, help="per noisy simulation")
    parser.add_argument("--ideal-shots", type=int, default=40_000, help="dynamic circuits")
    parser.add_argument("--transpile-seeds", type=int, default=3)
    parser.add_argument("--max-qubits", type=int, default=10, help="widest circuit simulated")
    parser.add_argument(
        "--devices", default="all", help="all (16), subset (8: see SUBSET) or NAME,NAME..."
    )
    parser.add_argument("--jobs", type=int, default=2, help="simulation processes")
    parser.add_argument("--only", default="", help="regular expression on circuit names")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from tests.corpus.corpus import load_corpus

    started = time.perf_counter()
    names = {"all": DEVICES, "subset": SUBSET}.get(args.devices) or args.devices.split(",")
    caps = device_caps(names)
    width = max(c.num_qubits for c in caps.values())
    avg2 = {
        n: statistics.mean(e for (_, q), e in c.gate_errors.items() if len(q) == 2)
        for n, c in caps.items()
    }
    corpus = [c for c in load_corpus() if re.search(args.only, c.name)]
    too_wide = [c for c in corpus if c.num_qubits > width]
    fits = [c for c in corpus if c.num_qubits <= width]
    print(
        f"QDREAMER over the corpus: {len(corpus)} circuits "
        f"({sum(c.is_dynamic for c in corpus)} dynamic), {len(caps)} IBM fake devices "
        f'({args.devices}), objective "fidelity", every queue empty'
    )
    print(
        f"truth per device: best Hellinger fidelity of a noisy Aer simulation ({args.shots} "
        f"shots) over {args.transpile_seeds} transpilations (optimization_level=3, "
        f"seed_transpiler 0..{args.transpile_seeds - 1}, the transpiler's own layout); "
        f"circuits of up to {args.max_qubits} qubits simulated"
    )
    fleet = FixedFleet(list(caps.values()))
    outcomes = [rank_outcome(c, fleet, args.shots) for c in fits]
    ranked_at = time.perf_counter()
    sim = [(c, o) for c, o in zip(fits, outcomes, strict=True) if c.num_qubits <= args.max_qubits]
    circuits = [read_out(c.circuit) for c, _ in sim]
    # spawn, not fork: a forked child inherits Qiskit's Rust thread pools dead and can hang.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=spawn, initializer=_init_worker) as pool:
        ideals = list(pool.map(ideal_distribution, circuits, [args.ideal_shots] * len(sim)))
        jobs: list[dict[str, Future]] = [
            {
                d: pool.submit(
                    device_truth, qc, d, ideal, args.transpile_seeds, c.is_dynamic, args.shots
                )
                for d in names
                if caps[d].num_qubits >= c.num_qubits
            }
            for (c, _), qc, ideal in zip(sim, circuits, ideals, strict=True)
        ]
        print(
            f"\n   {'circuit':<30} {'q':>2} {'best device':<15} {'best':>6}  "
            f"{'QDREAMER pick':<15} {'est':>6} {'true':>6} {'regret':>7}  "
            f"{'least-2q':>8} {'r-robin':>8}"
        )
        for index, ((c, out), futures) in enumerate(zip(sim, jobs, strict=True)):
            for d, fut in futures.items():
                value, why = fut.result()
                if value is None:
                    out.cannot[d] = why
                else:
                    out.true[d] = value
            if not out.true:
                print(f"   {c.name:<30} no device can run it: {out.cannot}")
                continue
            choose_baselines(out, index, avg2, names)
            best_dev = max(out.true, key=lambda d: out.true[d])
            if out.pick and out.pick in out.true:
                mine = (
                    f"{out.pick:<15} {out.estimate[out.pick]:>6.3f} "
                    f"{out.true[out.pick]:>6.3f} {out.regret('qdreamer'):>7.4f}"
                )
            else:
                mine = f"{(out.pick or '-'):<15} {'raised' if out.error else 'cannot run':>22}"
            print(
                f"   {c.name + (' (dyn)' if c.is_dynamic else ''):<30} {c.num_qubits:>2} "
                f"{best_dev:<15} {out.best:>6.3f}  {mine}  "
                f"{out.regret('least_error'):>8.4f} {out.regret('round_robin'):>8.4f}",
                flush=True,
            )
    report(outcomes)

    raised = [o for o in outcomes if o.error]
    print(f"\n   ranking raised: {len(raised)} of {len(outcomes)} circuits that fit")
    for o in raised:
        print(f"     {o.name}: {o.error}")
    no_feasible = [o for o in outcomes if not o.error and not o.pick]
    print(f"   no feasible resource (QDREAMER): {len(no_feasible)}")
    for o in no_feasible:
        print(f"     {o.name}: {o.refused}")
    print(f"   no device fits (wider than {width} qubits): {len(too_wide)}")
    for c in too_wide:
        print(f"     {c.name} ({c.num_qubits} qubits)")
    print(f"   ranked only (wider than --max-qubits {args.max_qubits}): {len(fits) - len(sim)}")
    wrong = [o for o in outcomes if o.true and o.pick and o.pick not in o.true]
    print(f"   QDREAMER chose a device the transpiler refuses: {len(wrong)}")
    for o in wrong:
        print(f"     {o.name}: {o.pick}: {o.cannot.get(o.pick, 'too narrow')}")
    disagree = [
        (o.name, d)
        for o in outcomes
        if o.true
        for d in o.estimate
        if (d in o.true) == (d in o.refused) and (d in o.true or d in o.cannot)
    ]
    print(f"   QDREAMER's feasibility differs from the transpiler's: {len(disagree)}")
    for name, d in disagree[:20]:
        print(f"     {name} on {d}")
    poor = sorted(
        (o for o in outcomes if "qdreamer" in o.picks and o.regret("qdreamer") > POOR),
        key=lambda o: -o.regret("qdreamer"),
    )
    print(f"   poor choices (regret > {POOR}): {len(poor)}")
    for o in poor:
        best_dev = max(o.true, key=lambda d: o.true[d])
        print(
            f"     {o.name}: chose {o.pick} (est {o.estimate[o.pick]:.3f}, true "
            f"{o.true[o.pick]:.3f}), best {best_dev} (est {o.estimate[best_dev]:.3f}, "
            f"true {o.true[best_dev]:.3f})"
        )
    end = time.perf_counter()
    print(
        f"\n   time: {end - started:.0f} s ({ranked_at - started:.1f} s to rank "
        f"{len(outcomes)} circuits, the rest simulating, {args.jobs} processes)"
    )
    print("   target: QDREAMER mean regret <= 0.005, none raising")


if __name__ == "__main__":
    main()

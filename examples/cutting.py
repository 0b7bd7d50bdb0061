"""Circuit cutting: a 40-qubit circuit on simulators that hold at most 29 qubits.

    python examples/cutting.py                      # exact values, plot in ./cutting.png
    python examples/cutting.py --shots 4000         # sampled as well, with standard errors
    python examples/cutting.py --plot where.png --pilots 3

Creates a PilotComputeService with ``--pilots`` Qiskit Aer pilots (it starts a
local Ray instance, or joins the one this process is connected to or
RAY_ADDRESS names).  A statevector of 40 qubits would need 16 TiB, and Aer's
resource here is as wide as half the machine's memory allows (29 qubits on 24
GiB), so no pilot can run the circuit whole.  The circuit is two 20-qubit
blocks of random single-qubit Cliffords and CX/CZ layers, joined by two CX
gates; being Clifford, its exact expectation values come from
``qiskit.quantum_info.StabilizerState`` on the driver, to compare with.

1. ``pcs.estimate_cost(task)`` prints the plan before anything runs: the cuts
   (two gate cuts, one per joining CX), fragments of at most 20 qubits, the
   number of subexperiments and the sampling overhead;
2. the task runs exactly (``shots=None``): every subexperiment is an ordinary
   task that QDREAMER places on one of the pilots, Aer simulates it with its
   stabilizer method, and a Ray task reconstructs the values -- equal to the
   stabilizer state's within 1e-6;
3. with ``--shots N`` it runs again sampled (N shots per subexperiment): the
   values come with standard errors, and each lies within 4 of them;
4. ``--plot`` draws where the fragments ran: per fragment, how many
   subexperiments each pilot/resource took (``result.metadata["cutting"]["where"]``).

Needs matplotlib for the plot (``pip install 'qdreamer[plot]'``).  Well under a
minute on a laptop: 12 s here (2 shared cores, Ray's start included), 31 s with
``--shots 4000`` (a subexperiment that measures mid-circuit is simulated shot by
shot).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Clifford, Pauli, StabilizerState, random_clifford

from pilot import PilotComputeService, QuantumTask

logger = logging.getLogger("examples.cutting")

#: Each block's width, and the widest fragment a cut may leave.
BLOCK = 20
#: The CX gates joining the blocks (control, target): what the plan has to cut.
JOINS = ((19, 20), (5, 33))
#: Reconstructed exact values must match the stabilizer state's this closely.
TOLERANCE = 1e-6


def two_blocks(n: int = BLOCK, joins: Sequence[tuple[int, int]] = JOINS, seed: int = 7) -> Any:
    """A Clifford circuit of two ``n``-qubit blocks joined by a few CX gates (``joins``),
    random single-qubit Cliffords around every layer."""
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(2 * n, name=f"two_blocks_{2 * n}")

    def layer() -> None:
        for q in range(2 * n):
            one = random_clifford(1, seed=int(rng.integers(1 << 30)))
            qc.append(one.to_instruction(), [q])

    layer()
    for block in (0, n):
        for i in range(0, n - 1, 2):
            qc.cx(block + i, block + i + 1)
    layer()
    for block in (0, n):
        for i in range(1, n - 1, 2):
            qc.cz(block + i, block + i + 1)
    layer()
    for a, b in joins:
        qc.cx(a, b)
    layer()
    return qc.decompose()


def stabilizer_observables(qc: Any, qubits: Sequence[int], seed: int = 3) -> list[str]:
    """Pauli strings (Qiskit's order: qubit 0 rightmost) whose values on ``qc``'s state
    are +-1 -- ``Z`` on each of ``qubits`` carried through the circuit, signs dropped,
    and two products of neighbours -- and three random ones of weight 3 (mostly 0)."""
    n = qc.num_qubits
    clifford = Clifford(qc)
    stabilizers = []
    for q in qubits:
        z = Pauli("I" * (n - 1 - q) + "Z" + "I" * q)
        stabilizers.append(z.evolve(clifford, frame="s"))
    products = [a.compose(b) for a, b in itertools.pairwise(stabilizers)]
    rng = np.random.default_rng(seed)
    random = []
    for _ in range(3):
        letters = ["I"] * n
        for q in rng.choice(n, 3, replace=False):
            letters[int(q)] = "XYZ"[int(rng.integers(3))]
        random.append("".join(letters))
    labels = [p.to_label().lstrip("-+i") for p in stabilizers + products[:2]]
    return labels + random


def plot_where(where: Mapping[str, Mapping[str, int]], path: str | Path, title: str) -> Path:
    """A grouped bar chart: per fragment, the subexperiments each pilot/resource ran."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fragments = sorted(where, key=str)
    places = sorted({place for per in where.values() for place in per})
    fig = Figure(figsize=(7.0, 4.0), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(len(places), 1)
    x = np.arange(len(fragments))
    for i, place in enumerate(places):
        heights = [where[f].get(place, 0) for f in fragments]
        bars = ax.bar(x + (i - (len(places) - 1) / 2) * width, heights, width, label=place)
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_xticks(x, [f"fragment {f}" for f in fragments])
    ax.set_ylabel("subexperiments")
    top = max((n for per in where.values() for n in per.values()), default=1)
    ax.set_ylim(0, top * 1.35)  # room for the labels and the legend
    ax.set_title(title)
    ax.legend(title="pilot/resource", fontsize=8, loc="upper left")
    path = Path(path)
    fig.savefig(path)
    return path


def show_plan(qc: Any, observables: int, pilots: int, plan: Mapping[str, Any]) -> None:
    print(f"{qc.num_qubits} qubits, {qc.size()} gates, {observables} observables, {pilots} pilots")
    print(
        f"plan: {plan['num_cuts']} cuts {plan['cuts']}, fragments {plan['fragments']}, "
        f"{plan['num_subexperiments']} subexperiments, sampling overhead "
        f"{plan['sampling_overhead']:g}, cost {plan['total_cost']} {plan['currency']}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pilots", type=int, default=2, help="qiskit_local pilots (2 or more)")
    parser.add_argument(
        "--shots", type=int, default=None, help="also run sampled, N shots per subexperiment"
    )
    parser.add_argument("--plot", default="cutting.png", help="where the bar chart goes")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Cut, run and check; returns the plan, the values and where the fragments ran."""
    args = parse_args(argv)
    qc = two_blocks()
    observables = stabilizer_observables(qc, [0, 7, 19, 20, 26, 39])
    state = StabilizerState(qc)
    exact = np.array([state.expectation_value(Pauli(o)) for o in observables])
    cutting = {"max_fragment_qubits": BLOCK}

    start = time.perf_counter()
    with PilotComputeService(working_directory=tempfile.mkdtemp(prefix="qdreamer-cut-")) as pcs:
        for i in range(args.pilots):
            pcs.create_pilot(
                name=f"aer-{i}", resource_type="quantum", quantum={"executor": "qiskit_local"}
            )
        pcs.initialize_dreamer()
        task = QuantumTask(qc, shots=None, observables=observables, cutting=cutting)
        plan = pcs.estimate_cost(task)  # the plan and its price, before anything runs
        show_plan(qc, len(observables), args.pilots, plan)
        t = time.perf_counter()
        result = pcs.get_results(pcs.submit_quantum_task(task), timeout=600)
        exact_seconds = time.perf_counter() - t
        values = np.array(result.expectation_values)
        where = result.metadata["cutting"]["where"]  # {fragment: {"pilot/resource": count}}
        diff = float(np.max(np.abs(values - exact)))
        sampled: dict[str, Any] | None = None
        if args.shots:
            t = time.perf_counter()
            task = QuantumTask(qc, shots=args.shots, observables=observables, cutting=cutting)
            out = pcs.get_results(pcs.submit_quantum_task(task), timeout=600)
            errors = np.array(out.standard_errors)
            deviation = np.abs(np.array(out.expectation_values) - exact)
            sampled = {
                "values": out.expectation_values,
                "standard_errors": out.standard_errors,
                "within": bool(np.all(deviation <= 4 * errors + 1e-9)),
                "seconds": time.perf_counter() - t,
            }

    print(f"\n{'observable (qubit 0 rightmost)':44s} {'exact':>6s} {'cut':>9s}", end="")
    print(f" {'sampled':>9s} {'SE':>6s}" if sampled else "")
    for i, label in enumerate(observables):
        short = "".join(f"{p}{len(label) - 1 - q}" for q, p in enumerate(label) if p != "I")
        row = f"{short[:44]:44s} {exact[i]:6.2f} {values[i]:9.6f}"
        if sampled:
            row += f" {sampled['values'][i]:9.4f} {sampled['standard_errors'][i]:6.4f}"
        print(row)
    print(f"\nexact: max |cut - StabilizerState| = {diff:.1e} ({exact_seconds:.1f} s)")
    if sampled:
        print(
            f"sampled ({args.shots} shots per subexperiment): every value within 4 standard "
            f"errors: {sampled['within']} ({sampled['seconds']:.1f} s)"
        )
    for fragment, per in sorted(where.items()):
        print(f"fragment {fragment} ran on: " + ", ".join(f"{k} x{v}" for k, v in per.items()))
    path = plot_where(where, args.plot, f"{qc.num_qubits}-qubit circuit cut in two: where it ran")
    print(f"plot: {path}")
    ok = diff <= TOLERANCE and (sampled is None or sampled["within"])
    print(f"{'OK' if ok else 'MISMATCH'} in {time.perf_counter() - start:.1f} s")
    return {
        "plan": plan,
        "exact": exact.tolist(),
        "values": values.tolist(),
        "max_difference": diff,
        "sampled": sampled,
        "where": where,
        "plot": str(path),
        "ok": ok,
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(0 if main()["ok"] else 1)

"""Circuit cutting: wall time against monolithic Aer, and error against the shot budget.

Part A -- wall time to the expectation values of one circuit, too wide to be
cheap as a whole.  The circuit (:func:`two_block_ansatz`) is two blocks of
``n/2`` qubits, each ``--layers`` hardware-efficient layers (RY and RZ of
random angles on every qubit, then a brick of CX inside each block), joined
after the middle layer by ``--joins`` RZZ gates; random angles, so not
Clifford and the statevector is really computed.  Observables
(:func:`observables`): Z on both ends of both blocks, ZZ across the join and
between the far ends, XX across the join (two measurement bases: 144
subexperiments for two cuts); ``--chain`` adds the mean of Z_i Z_{i+1} over the
whole chain, which measures every qubit of every fragment (see below).  Rows,
all in this run, on one Ray instance (``ray.init(num_cpus=--cpus)``):

  monolithic          Aer ``EstimatorV2`` (``method="statevector"``,
                      ``max_parallel_threads=--cpus``, ``precision=0``: exact) on
                      the whole circuit, in this process -- the strongest fair
                      single-machine alternative (Aer fuses gates and computes
                      every observable from one statevector).  Run only when
                      its statevector (16 B x 2^n) is at most ``--max-gib`` and
                      fits in MemAvailable with 2 GiB to spare; otherwise the
                      memory it would need is printed.
  monolithic mps      the same estimator with Aer's ``matrix_product_state``
                      method (no truncation beyond Aer's default 1e-16): no
                      statevector, so it runs at every width.  This family is a
                      chain of shallow blocks, a tensor network's best case:
                      shown so that nobody mistakes "cut beats statevector" for
                      "cut beats every simulator".
  cut, exact          ``QuantumTask(shots=None, cutting={"max_fragment_qubits":
                      n/2})`` through ``submit_quantum_task`` -> ``get_results``:
                      the plan (on the driver), the subexperiments placed by
                      QDREAMER over ``--pilots`` default ``qiskit_local`` pilots
                      (one Aer thread each), the reconstruction in a Ray task.
  cut, sampled        the same with ``shots=--shots`` per subexperiment (the
                      reconstruction includes the bootstrap of the standard errors).
  in-process cut      the same work without Ray or the service, in this process
                      (``--cpus`` Aer threads): plan, every subexperiment in one
                      Aer run (exact: deferred measurement + saved probabilities,
                      as the pilot does; sampled: counts), reconstruction with the
                      bootstrap, each step timed (printed as "in-process steps").
                      service / in-process = what the service costs.
  clifford            (with ``--clifford``) the same family with Clifford gates
                      (H, S, SX, ... for the rotations, CZ joins): monolithic with
                      Aer's stabilizer method against the cut, exact (its
                      fragments also go to the stabilizer method) -- where
                      cutting cannot win.

Every variant of one width runs ``--repeat`` times, interleaved; medians are
printed with the runs, and ratios cut / monolithic (below 1: the cut is faster).
Before the clock: one cut task per mode at ``--warm-qubits`` (actors' first
Aer runs) and one small monolithic run (Aer's start-up in this process).

The sampled mode's cost is Aer's: a subexperiment measures mid-circuit, so Aer
simulates it shot by shot (14-47 us a shot here at 11-15 qubits, whatever the
width), and the bootstrap repeats the reconstruction 200 times, which costs in
proportion to the distinct outcomes and Pauli terms (``--chain`` shows both).

Part B -- error against the sampling budget: a ``--budget-qubits`` (<= 20)
circuit of the same family with ``--budget-joins`` joins (default 1: one cut,
24 subexperiments, so 16,000 shots each stay short), run ``--budget-runs`` times at each of
``--budget-shots`` shots per subexperiment.  Per shot count: the mean and RMS
of |reconstructed - exact| over runs and observables, the mean reported
standard error, RMS error / mean standard error (1 when the errors are honest),
mean standard error x sqrt(shots) (constant when it falls as 1/sqrt(shots)),
and the fitted slopes of log error against log shots (-0.5 expected).

    python bench/cutting.py               # widths 26, 28, 30 (30: no statevector), part B: ~25 min
    python bench/cutting.py --sizes 26,30 --clifford --skip-budget   # 8 min here
    python bench/cutting.py --sizes 29 --repeat 1 --skip-budget      # 8 GiB statevector: 6 min
    python bench/cutting.py --skip-timing --budget-runs 10           # part B only: 7 min
    python bench/cutting.py --quick       # 2 min: widths 22 and 30, part B at 12 qubits
    python bench/cutting.py --sizes 22 --chain --shots 1000 --repeat 1 --skip-budget
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import ray
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import SparsePauliOp

from pilot import PilotComputeService, QuantumTask
from pilot.convert.dynamic import deferred
from pilot.cutting import CuttingOptions, plan_cuts, reconstruct

GIB = 1 << 30


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="26,28,30", help="comma-separated circuit widths")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--joins", type=int, default=2, help="RZZ gates joining the blocks")
    parser.add_argument("--pilots", type=int, default=2, help="qiskit_local pilots")
    parser.add_argument("--cpus", type=int, default=2, help="ray.init(num_cpus=...)")
    parser.add_argument("--shots", type=int, default=4000, help="part A's sampled mode")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-gib", type=float, default=12.0, help="largest monolithic state")
    parser.add_argument("--warm-qubits", type=int, default=16)
    parser.add_argument("--clifford", action="store_true", help="add the Clifford rows")
    parser.add_argument(
        "--chain", action="store_true", help="add the mean of Z_i Z_i+1 (measures every qubit)"
    )
    parser.add_argument("--skip-sampled", action="store_true", help="part A: exact mode only")
    parser.add_argument("--skip-budget", action="store_true", help="leave out part B")
    parser.add_argument("--skip-timing", action="store_true", help="leave out part A")
    parser.add_argument("--budget-qubits", type=int, default=16)
    parser.add_argument("--budget-shots", default="250,1000,4000,16000")
    parser.add_argument("--budget-joins", type=int, default=1)
    parser.add_argument("--budget-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="the circuits' angles")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="widths 22 and 30, one repeat, 1000 shots; budget: 12 qubits, 250-4000 shots, 3 runs",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeat, args.shots, args.warm_qubits = "22,30", 1, 1000, 12
        args.budget_qubits, args.budget_shots, args.budget_runs = 12, "250,1000,4000", 3
    if args.budget_qubits > 20:
        parser.error("--budget-qubits: at most 20 (part B compares with the exact statevector)")
    return args


# ------------------------------------------------------------------ the workload
def two_block_ansatz(
    n: int, layers: int = 4, joins: int = 2, seed: int = 0, clifford: bool = False
) -> QuantumCircuit:
    """Two blocks of ``n // 2`` qubits, hardware-efficient layers in each, joined by
    ``joins`` RZZ gates after the middle layer (qubits ``h-1-2j`` and ``h+2j``).

    ``clifford``: the same structure with Clifford gates that Aer's stabilizer method
    knows by name -- each RY, RZ a random one of H, S, SX, S^dagger, X, Y, Z; each
    join a CZ."""
    rng = np.random.default_rng(seed)
    h = n // 2
    qc = QuantumCircuit(n, name=f"two_blocks_{n}{'_clifford' if clifford else ''}")
    cliffords = (qc.h, qc.s, qc.sx, qc.sdg, qc.x, qc.y, qc.z)

    def rotations() -> None:
        for q in range(n):
            if clifford:
                cliffords[int(rng.integers(len(cliffords)))](q)
                cliffords[int(rng.integers(len(cliffords)))](q)
            else:
                qc.ry(float(rng.uniform(0, math.pi)), q)
                qc.rz(float(rng.uniform(0, math.pi)), q)

    for layer in range(layers):
        rotations()
        for block in (0, h):
            for i in range(layer % 2, h - 1, 2):
                qc.cx(block + i, block + i + 1)
        if layer == max(layers // 2 - 1, 0):
            for j in range(joins):
                if clifford:
                    qc.cz(h - 1 - 2 * j, h + 2 * j)
                else:
                    qc.rzz(float(rng.uniform(0.2, 0.6)), h - 1 - 2 * j, h + 2 * j)
    rotations()
    return qc


def observables(n: int, chain: bool = False) -> list[SparsePauliOp]:
    """Z at both ends of both blocks, ZZ across the join and between the far ends, XX
    across the join; with ``chain``, the mean of Z_i Z_{i+1} over the chain too."""
    h = n // 2

    def op(paulis: str, qubits: Sequence[int]) -> SparsePauliOp:
        return SparsePauliOp.from_sparse_list([(paulis, list(qubits), 1.0)], n)

    out = [
        op("Z", [0]),
        op("Z", [h - 1]),
        op("Z", [h]),
        op("Z", [n - 1]),
        op("ZZ", [h - 1, h]),
        op("ZZ", [0, n - 1]),
        op("XX", [h - 1, h]),
    ]
    if chain:
        terms = [("ZZ", [q, q + 1], 1.0 / (n - 1)) for q in range(n - 1)]
        out.append(SparsePauliOp.from_sparse_list(terms, n))
    return out


# ------------------------------------------------------------------ variants
class Monolithic:
    """Aer ``EstimatorV2``, exact, on the whole circuit in this process."""

    def __init__(self, threads: int, method: str = "statevector") -> None:
        from qiskit_aer.primitives import EstimatorV2

        self.estimator = EstimatorV2(
            options={"backend_options": {"method": method, "max_parallel_threads": threads}}
        )

    def __call__(self, qc: QuantumCircuit, ops: list[SparsePauliOp]) -> np.ndarray:
        result = self.estimator.run([(qc, ops)], precision=0.0).result()
        return np.asarray(result[0].data.evs, dtype=float)


def in_process_cut(
    qc: QuantumCircuit, ops: list[SparsePauliOp], shots: int | None, threads: int
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The cut task's work without Ray or the service: plan, one Aer run of every
    subexperiment (exact: deferred measurement and saved probabilities, as the pilot
    runs them), reconstruction (with the bootstrap when sampled); and each step's time."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.library import SaveProbabilities

    started = time.perf_counter()
    plan = plan_cuts(qc, ops, CuttingOptions(max_fragment_qubits=qc.num_qubits // 2))
    planned = time.perf_counter()
    sim = AerSimulator(max_parallel_threads=threads)
    outcomes: dict[Any, list[dict[Any, float]]] = {}
    for label, circuits in plan.subexperiments.items():
        if shots is None:
            runs = []
            for circuit in circuits:
                flat, holders = deferred(circuit)
                flat.append(SaveProbabilities(len(holders)), holders)
                runs.append(flat)
            result = sim.run(transpile(runs, sim, optimization_level=0)).result()
            outcomes[label] = [
                {k: float(p) for k, p in enumerate(result.data(i)["probabilities"]) if p > 1e-15}
                for i in range(len(runs))
            ]
        else:
            result = sim.run(
                transpile(list(circuits), sim, optimization_level=0), shots=shots
            ).result()
            outcomes[label] = [dict(result.get_counts(i)) for i in range(len(circuits))]
    simulated = time.perf_counter()
    values, errors = reconstruct(plan, outcomes, sampled=shots is not None)
    steps = {
        "plan": planned - started,
        "aer": simulated - planned,
        "reconstruct" + (" + bootstrap" if shots is not None else ""): time.perf_counter()
        - simulated,
    }
    return values, errors, steps


def service_cut(
    pcs: PilotComputeService, qc: QuantumCircuit, ops: list[SparsePauliOp], shots: int | None
) -> Any:
    task = QuantumTask(
        qc, shots=shots, observables=ops, cutting={"max_fragment_qubits": qc.num_qubits // 2}
    )
    return pcs.get_results(pcs.submit_quantum_task(task), timeout=1800)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def mem_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 if unreadable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def statevector_bytes(n: int) -> int:
    return 16 * (1 << n)


def fmt_runs(times: Sequence[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


# ------------------------------------------------------------------ part A
def part_a(args: argparse.Namespace, pcs: PilotComputeService) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    modes: list[tuple[str, int | None]] = [("exact", None)]
    if not args.skip_sampled:
        modes.append(("sampled", args.shots))
    mono = Monolithic(args.cpus)
    mps = Monolithic(args.cpus, method="matrix_product_state")
    stab = Monolithic(args.cpus, method="stabilizer")

    # Warm-up, outside the clock: Aer in this process, each pilot's first Aer runs.
    warm = two_block_ansatz(args.warm_qubits, args.layers, args.joins, args.seed)
    warm_ops = observables(args.warm_qubits, args.chain)
    first = {
        "monolithic": timed(lambda: mono(warm, warm_ops))[0],
        "monolithic mps": timed(lambda: mps(warm, warm_ops))[0],
    }
    for mode, shots in modes:
        few = shots and 100
        first[f"cut {mode}"] = timed(partial(service_cut, pcs, warm, warm_ops, few))[0]
    print(
        f"warm-up at {args.warm_qubits} qubits (not counted): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in first.items())
    )

    summary: list[str] = []
    for n in sizes:
        qc = two_block_ansatz(n, args.layers, args.joins, args.seed)
        ops = observables(n, args.chain)
        need = statevector_bytes(n)
        avail = mem_available()
        plan = plan_cuts(qc, ops, CuttingOptions(max_fragment_qubits=n // 2))
        estimate = pcs.estimate_cost(
            QuantumTask(qc, shots=None, observables=ops, cutting={"max_fragment_qubits": n // 2})
        )
        print(
            f"\n=== {n} qubits: {qc.size()} gates, depth {qc.depth()}, {len(ops)} observables; "
            f"plan: {plan.summary()['num_cuts']} cuts {[c[0] for c in plan.cuts]}, fragments "
            f"{dict(plan.summary()['fragments'])}, {plan.num_subexperiments} subexperiments, "
            f"sampling overhead {plan.sampling_overhead:.2f}; estimate_cost: "
            f"{estimate.get('estimated_time_minutes', 0) * 60:.2f} s, "
            f"{estimate.get('total_cost')} {estimate.get('currency')}"
        )
        print(
            f"monolithic statevector: {need / GIB:.2f} GiB (complex128); "
            f"MemAvailable now {avail / GIB:.1f} GiB; limit --max-gib {args.max_gib:g}"
        )
        run_mono = need <= args.max_gib * GIB and need + 2 * GIB <= avail
        if not run_mono:
            why = (
                f"needs {need / GIB:.1f} GiB > --max-gib {args.max_gib:g}"
                if need > args.max_gib * GIB
                else f"needs {need / GIB:.1f} GiB + 2 GiB spare > {avail / GIB:.1f} GiB available"
            )
            print(f"monolithic NOT RUN: {why}")

        variants: dict[str, Callable[[], Any]] = {}
        if run_mono:
            variants["monolithic"] = partial(mono, qc, ops)
        variants["monolithic mps"] = partial(mps, qc, ops)
        for mode, shots in modes:
            variants[f"cut {mode}"] = partial(service_cut, pcs, qc, ops, shots)
            variants[f"in-process cut {mode}"] = partial(in_process_cut, qc, ops, shots, args.cpus)
        if args.clifford:
            cq = two_block_ansatz(n, args.layers, args.joins, args.seed, clifford=True)
            variants["clifford monolithic"] = partial(stab, cq, ops)
            variants["clifford cut exact"] = partial(service_cut, pcs, cq, ops, None)

        times: dict[str, list[float]] = {k: [] for k in variants}
        outputs: dict[str, Any] = {}
        for _ in range(args.repeat):
            for name, fn in variants.items():
                dt, out = timed(fn)
                times[name].append(dt)
                outputs[name] = out
        med = {k: statistics.median(v) for k, v in times.items()}

        # Values: the exact reference is the monolithic one, else the exact cut.
        values: dict[str, np.ndarray] = {}
        errors: dict[str, np.ndarray] = {}
        for name, out in outputs.items():
            if isinstance(out, np.ndarray):
                values[name] = out
            elif isinstance(out, tuple):
                values[name], errors[name], steps = out
                print(
                    f"in-process steps ({name}, last run): "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
                )
            else:
                values[name] = np.array(out.expectation_values)
                errors[name] = np.array(out.standard_errors)
        ref_name = "monolithic" if "monolithic" in values else "cut exact"
        ref = values[ref_name]
        print(f"\n{'variant':26s} {'median s':>9s}  {'runs (s)':22s}  max |value - {ref_name}|")
        for name in variants:
            if name.startswith("clifford"):
                diff = float(np.abs(values[name] - values["clifford monolithic"]).max())
                note = f"{diff:.1e} (vs clifford monolithic)"
            else:
                diff = float(np.abs(values[name] - ref).max())
                note = f"{diff:.1e}"
                if name in errors and np.any(errors[name] > 0):
                    z = float(np.max(np.abs(values[name] - ref) / errors[name]))
                    note += f"; mean SE {errors[name].mean():.4f}; max |diff|/SE {z:.1f}"
            print(f"{name:26s} {med[name]:9.2f}  ({fmt_runs(times[name]):20s})  {note}")
        cut = outputs["cut exact"]
        print(f"where the exact cut ran: {cut.metadata['cutting']['where']}")

        print("ratios (median time; below 1 = the cut is faster):")
        for mode, _ in modes:
            if "monolithic" in med:
                r = med[f"cut {mode}"] / med["monolithic"]
                print(f"  cut {mode} / monolithic: {r:.3f}x")
                summary.append(f"{n} qubits: cut {mode} / monolithic = {r:.3f}x")
            r = med[f"cut {mode}"] / med["monolithic mps"]
            print(f"  cut {mode} / monolithic mps: {r:.1f}x")
            summary.append(f"{n} qubits: cut {mode} / mps = {r:.1f}x")
            r = med[f"cut {mode}"] / med[f"in-process cut {mode}"]
            print(f"  cut {mode} (service) / in-process cut {mode}: {r:.2f}x")
            summary.append(f"{n} qubits: cut {mode} service / in-process = {r:.2f}x")
        if args.clifford:
            r = med["clifford cut exact"] / med["clifford monolithic"]
            print(f"  clifford cut exact / clifford monolithic (stabilizer): {r:.1f}x")
            summary.append(f"{n} qubits: clifford cut / stabilizer monolithic = {r:.1f}x")
        if "monolithic" not in med:
            print(
                f"  monolithic not run: {need / GIB:.1f} GiB of statevector; the exact cut "
                f"took {med['cut exact']:.2f} s with {plan.num_subexperiments} subexperiments "
                f"of at most {max(plan.fragments.values())} qubits"
            )
    print("\nsummary (part A):")
    for line in summary:
        print(f"  {line}")


# ------------------------------------------------------------------ part B
def part_b(args: argparse.Namespace, pcs: PilotComputeService) -> None:
    n = args.budget_qubits
    qc = two_block_ansatz(n, args.layers, args.budget_joins, args.seed)
    ops = observables(n)
    exact = Monolithic(args.cpus)(qc, ops)
    plan = plan_cuts(qc, ops, CuttingOptions(max_fragment_qubits=n // 2))
    cut_exact = np.array(service_cut(pcs, qc, ops, None).expectation_values)
    print(
        f"\n=== error against the shot budget: {n} qubits, {len(ops)} observables, "
        f"{plan.summary()['num_cuts']} cuts, {plan.num_subexperiments} subexperiments, "
        f"sampling overhead {plan.sampling_overhead:.2f}; {args.budget_runs} runs per shot count; "
        f"exact cut vs statevector: max |diff| {np.abs(cut_exact - exact).max():.1e}"
    )
    shot_counts = [int(s) for s in args.budget_shots.split(",")]
    rows = []
    for shots in shot_counts:
        diffs, ses, walls = [], [], []
        for _ in range(args.budget_runs):
            dt, result = timed(partial(service_cut, pcs, qc, ops, shots))
            diffs.append(np.array(result.expectation_values) - exact)
            ses.append(np.array(result.standard_errors))
            walls.append(dt)
        d, s = np.abs(np.array(diffs)), np.array(ses)
        rows.append(
            {
                "shots": shots,
                "total": shots * plan.num_subexperiments,
                "mean_abs": float(d.mean()),
                "rms": float(np.sqrt((d**2).mean())),
                "max_abs": float(d.max()),
                "mean_se": float(s.mean()),
                "wall": statistics.median(walls),
            }
        )
    print(
        f"\n{'shots/subexp':>12s} {'total shots':>12s} {'mean |err|':>10s} {'RMS err':>9s} "
        f"{'max |err|':>9s} {'mean SE':>9s} {'RMS/SE':>7s} {'SE*sqrt(s)':>10s} "
        f"{'|err| / prev':>12s} {'SE / prev':>9s} {'median s':>8s}"
    )
    for i, r in enumerate(rows):
        prev = rows[i - 1] if i else None
        err_ratio = f"{r['mean_abs'] / prev['mean_abs']:.2f}" if prev else "--"
        se_ratio = f"{r['mean_se'] / prev['mean_se']:.2f}" if prev else "--"
        print(
            f"{r['shots']:12d} {r['total']:12,d} {r['mean_abs']:10.4f} {r['rms']:9.4f} "
            f"{r['max_abs']:9.4f} {r['mean_se']:9.4f} {r['rms'] / r['mean_se']:7.2f} "
            f"{r['mean_se'] * math.sqrt(r['shots']):10.3f} {err_ratio:>12s} {se_ratio:>9s} "
            f"{r['wall']:8.2f}"
        )
    logs = np.log([r["shots"] for r in rows])
    if len(rows) >= 2:
        slope_rms = np.polyfit(logs, np.log([r["rms"] for r in rows]), 1)[0]
        slope_se = np.polyfit(logs, np.log([r["mean_se"] for r in rows]), 1)[0]
        step = shot_counts[1] / shot_counts[0] if len(shot_counts) > 1 else 0
        print(
            f"fitted slope of log error against log shots: RMS error {slope_rms:.3f}, mean SE "
            f"{slope_se:.3f} (1/sqrt(shots): -0.5; each step x{step:g} shots: x"
            f"{step**-0.5:.2f} expected)"
        )


def main() -> None:
    args = parse()
    load = os.getloadavg()
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}; {cpu}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB; load "
        f"{load[0]:.1f}; python {platform.python_version()}, qiskit {version('qiskit')}, "
        f"qiskit-aer {version('qiskit-aer')}, qiskit-addon-cutting "
        f"{version('qiskit-addon-cutting')}, ray {version('ray')}"
    )
    print(f"command: {' '.join(sys.argv)}")
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    with PilotComputeService(
        working_directory=tempfile.mkdtemp(prefix="qdreamer-cutbench-")
    ) as pcs:
        for i in range(args.pilots):
            pcs.create_pilot(
                name=f"aer-{i}", resource_type="quantum", quantum={"executor": "qiskit_local"}
            )
        pcs.initialize_dreamer()
        if not args.skip_timing:
            part_a(args, pcs)
        if not args.skip_budget:
            part_b(args, pcs)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""torch_statevector against Aer and lightning.qubit: exact expectation values of a batch.

A batch of ``--batch`` parameter sets of one hardware-efficient circuit
(``--qubits`` qubits, ``--layers`` x (RY, RZ on every qubit, CX chain)),
observables Z_i on every qubit plus the sum of X_i X_{i+1}, exact
(``shots=None``), in this process, each simulator given ``--threads`` threads:

  torch      ``TorchCircuit.expectations`` on the whole batch at once
             (complex64 and complex128), on the CPU; again on CUDA when
             ``torch.cuda.is_available()``
  aer        Aer ``EstimatorV2`` (statevector), one call binding every row
  lightning  PennyLane ``lightning.qubit``, three ways, each running the whole
             batch through one call (the device then runs one tape after
             another: it has no native broadcasting, ``broadcast_expand``
             splits a broadcast tape into one tape per row and its
             ``execute`` loops over the tapes; OpenMP threads only inside a gate):
               broadcast  one QNode (``diff_method=None``) called once with
                          every gate angle a (batch,) vector
               execute    ``qml.execute`` of one tape per row, in one call
               device     ``device.execute`` of the same tapes (lightning's batch
                          ``execute`` without PennyLane's transform pipeline)
             tape/QNode construction is timed with the run.  Each way runs
             at every OpenMP thread count of ``--lightning-threads`` (default
             1 and ``--threads``): lightning's expectation values are OpenMP
             loops over the state, and at 12 qubits on a shared machine a
             second thread makes them wait at every barrier (measured
             2026-12-07: the same batch took 1.0-1.4 s on one thread and
             11-25 s on two).  The ratios use the fastest lightning median of
             all of these ("lightning best").

What is timed: the torch circuit is compiled once (``TorchCircuit(qc)``:
translate + fuse; no ``torch.compile``, no JIT) outside the timings, and that
compile time is printed on its own.  Every variant then runs once as a
warm-up (torch builds its fixed block tensors per device and dtype there;
lightning and Aer load and build theirs) - that first call is printed on its
own too.  The medians and the headline ratios count neither; the "cold"
ratios count torch's compile plus every variant's first call (lightning's
fastest first call, which may have reused what an earlier lightning variant
loaded).

Each variant runs ``--repeat`` times, interleaved (the machine is shared:
noise hits each alike); prints the median seconds, aer/torch and
lightning/torch, the device and the largest difference between the results.

    python bench/torch_sv.py [--qubits 12] [--layers 4] [--batch 256] [--threads 2] [--repeat 3]
                             [--lightning-threads 1,2]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=12)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--lightning-threads",
        default=None,
        help="comma-separated OpenMP thread counts to run lightning at (default: 1 and --threads)",
    )
    return parser.parse_args()


ARGS = parse()
# Before torch, Aer and lightning load their thread pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import ParameterVector  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402

from pilot.convert.observables import to_pauli_sums  # noqa: E402
from pilot.sim.torch_statevector import TorchCircuit, device_name  # noqa: E402


def ansatz(n: int, layers: int) -> QuantumCircuit:
    w = ParameterVector("w", 2 * n * layers)
    qc = QuantumCircuit(n, name="hea")
    k = 0
    for _ in range(layers):
        for q in range(n):
            qc.ry(w[k], q)
            qc.rz(w[k + 1], q)
            k += 2
        for q in range(n - 1):
            qc.cx(q, q + 1)
    return qc


def observables(n: int) -> list[SparsePauliOp]:
    """Z_i for each qubit, then Σ X_i X_{i+1}."""
    out = [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], num_qubits=n) for q in range(n)]
    out.append(SparsePauliOp.from_sparse_list([("XX", [q, q + 1], 1.0) for q in range(n - 1)], n))
    return out


def run_torch(
    compiled: TorchCircuit, sums: Any, rows: np.ndarray, dtype: torch.dtype, device: str
) -> np.ndarray:
    theta = torch.tensor(rows, device=device)
    with torch.no_grad():
        values = compiled.expectations(theta, sums, dtype=dtype)
    if device != "cpu":
        torch.cuda.synchronize()
    return np.asarray(values.double().cpu().numpy())


def make_aer(qc: QuantumCircuit, ops: list[SparsePauliOp]) -> Callable[[np.ndarray], np.ndarray]:
    from qiskit_aer.primitives import EstimatorV2

    estimator = EstimatorV2(
        options={"backend_options": {"method": "statevector", "max_parallel_threads": ARGS.threads}}
    )

    def run(rows: np.ndarray) -> np.ndarray:
        pub = (qc, [ops], rows[:, None, :])
        return np.asarray(estimator.run([pub], precision=0.0).result()[0].data.evs)

    return run


@contextlib.contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` OpenMP threads in every OpenMP runtime of this process.

    lightning.qubit's kernels are OpenMP loops; its ``GOMP_*`` calls bind to the first
    libgomp loaded globally (torch's here), so ``torch.set_num_threads`` and an
    ``omp_set_num_threads`` on each libgomp mapped (Linux) cover both cases.
    """
    libs: list[Any] = []
    with contextlib.suppress(OSError):
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "libgomp" in line})
        libs = [ctypes.CDLL(path) for path in paths]
    before = [lib.omp_get_max_threads() for lib in libs]
    torch_before = torch.get_num_threads()
    torch.set_num_threads(n)
    for lib in libs:
        lib.omp_set_num_threads(n)
    try:
        yield
    finally:
        for lib, count in zip(libs, before, strict=True):
            lib.omp_set_num_threads(count)
        torch.set_num_threads(torch_before)


def lightning_threads() -> list[int]:
    if ARGS.lightning_threads:
        return [int(t) for t in ARGS.lightning_threads.split(",")]
    return sorted({1, ARGS.threads})


def with_threads(n: int, fn: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
    with omp_threads(n):
        return fn(rows)


def make_lightning(
    qc: QuantumCircuit, ops: list[SparsePauliOp]
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The three ways of running the batch on lightning.qubit (see the module docstring)."""
    import pennylane as qml

    n = qc.num_qubits
    dev = qml.device("lightning.qubit", wires=n)
    observables_ = [qml.Z(q) for q in range(n)]
    observables_.append(qml.sum(*(qml.X(q) @ qml.X(q + 1) for q in range(n - 1))))
    measurements = [qml.expval(o) for o in observables_]
    column = {p: k for k, p in enumerate(qc.parameters)}
    # The circuit's structure, read once: (gate, parameter column or None, wires).
    structure: list[tuple[Any, int | None, list[int]]] = []
    for inst in qc.data:
        wires = [qc.find_bit(b).index for b in inst.qubits]
        name = inst.operation.name
        if name == "cx":
            structure.append((qml.CNOT, None, wires))
        else:
            gate = qml.RY if name == "ry" else qml.RZ
            structure.append((gate, column[inst.operation.params[0]], wires))
    fixed = {tuple(w): gate(w) for gate, k, w in structure if k is None}  # shared CNOTs

    def tapes(rows: np.ndarray) -> list[Any]:
        out = []
        for row in rows:
            ops_ = [
                fixed[tuple(w)] if k is None else gate(row[k], wires=w[0])
                for gate, k, w in structure
            ]
            out.append(qml.tape.QuantumScript(ops_, measurements))
        return out

    @qml.qnode(dev, diff_method=None)
    def broadcast(angles: np.ndarray) -> list[Any]:  # angles: (parameters, batch)
        for gate, k, w in structure:
            if k is None:
                gate(w)
            else:
                gate(angles[k], wires=w[0])
        return [qml.expval(o) for o in observables_]

    return {
        "lightning broadcast": lambda rows: np.array(broadcast(rows.T), dtype=float).T,
        "lightning execute": lambda rows: np.array(
            qml.execute(tapes(rows), dev, diff_method=None), dtype=float
        ),
        "lightning device": lambda rows: np.array(dev.execute(tapes(rows)), dtype=float),
    }


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    n = ARGS.qubits
    qc = ansatz(n, ARGS.layers)
    ops = observables(n)
    rows = np.random.default_rng(0).uniform(-np.pi, np.pi, (ARGS.batch, qc.num_parameters))
    started = time.perf_counter()
    compiled = TorchCircuit(qc)  # the compile: translate + fuse (no torch.compile, no JIT)
    compile_s = time.perf_counter() - started
    sums = to_pauli_sums(ops, n, "qiskit")

    aer = make_aer(qc, ops)
    variants: dict[str, Callable[[], np.ndarray]] = {
        "torch complex64 (cpu)": lambda: run_torch(compiled, sums, rows, torch.complex64, "cpu"),
        "torch complex128 (cpu)": lambda: run_torch(compiled, sums, rows, torch.complex128, "cpu"),
        "aer statevector": lambda: aer(rows),
    }
    lightning = make_lightning(qc, ops)
    for threads in lightning_threads():
        for name, run in lightning.items():
            label = f"{name} ({threads} thr)"
            variants[label] = functools.partial(with_threads, threads, run, rows)
    if torch.cuda.is_available():
        variants["torch complex64 (cuda)"] = lambda: run_torch(
            compiled, sums, rows, torch.complex64, "cuda"
        )
        variants["torch complex128 (cuda)"] = lambda: run_torch(
            compiled, sums, rows, torch.complex128, "cuda"
        )
    cpu = torch.device("cpu")
    print(
        f"{ARGS.batch} circuits x {n} qubits, {ARGS.layers} layers ({len(compiled.gates)} gates, "
        f"{len(compiled.blocks)} fused blocks, {qc.num_parameters} parameters), "
        f"{len(ops)} observables, exact; {ARGS.threads} threads (lightning: OpenMP threads "
        f"{lightning_threads()}); python {sys.version.split()[0]}, "
        f"torch {torch.__version__}, pennylane {version('pennylane')}, "
        f"pennylane_lightning {version('pennylane_lightning')}, qiskit-aer {version('qiskit-aer')}"
    )
    print(
        f"devices: {device_name(cpu)}"
        + (
            f", {device_name(torch.device('cuda', 0))}"
            if torch.cuda.is_available()
            else ", no CUDA"
        )
    )
    print(
        f"torch_statevector compile (TorchCircuit: translate + fuse; no torch.compile): "
        f"{compile_s:.3f} s - NOT counted in the medians or headline ratios"
    )

    values: dict[str, np.ndarray] = {}
    first: dict[str, float] = {}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for name, fn in variants.items():  # warm-up: imports, per-dtype tensors, caches
        t = time.perf_counter()
        values[name] = fn()
        first[name] = time.perf_counter() - t
    for _ in range(ARGS.repeat):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    median = {k: statistics.median(v) for k, v in times.items()}

    ref = values["aer statevector"]
    print(
        f"\n{'variant':28s} {'median s':>9s}  {'runs (s)':24s}  {'first call s':>12s}  "
        f"max |diff| vs aer"
    )
    for name in variants:
        runs = ", ".join(f"{t:.3f}" for t in times[name])
        diff = float(np.abs(values[name] - ref).max())
        print(f"{name:28s} {median[name]:9.3f}  ({runs:22s})  {first[name]:12.3f}  {diff:.1e}")
    lightning_names = [k for k in variants if k.startswith("lightning")]
    best = min(lightning_names, key=median.__getitem__)
    diff = max(float(np.abs(values[a] - values[b]).max()) for a in variants for b in variants)
    print(f"largest difference between any two variants' results: {diff:.1e}")
    print(f"\nlightning best = {best} (the fastest lightning median)")
    print("warm (medians; torch's compile and every variant's first call not counted):")
    torch_names = [k for k in variants if k.startswith("torch")]
    for base in ("aer statevector", best):
        for name in torch_names:
            ratio = median[base] / median[name]
            print(f"  {base} / {name}: {ratio:.2f}x ({plainly(ratio)})")
    print("cold (first calls; torch's compile counted once):")
    best_first = min(lightning_names, key=first.__getitem__)
    for base in ("aer statevector", best_first):
        for name in torch_names:
            ratio = first[base] / (first[name] + compile_s)
            print(f"  {base} / {name}: {ratio:.2f}x ({plainly(ratio)})")


def plainly(ratio: float) -> str:
    """A baseline/torch time ratio in words."""
    if ratio >= 1:
        return f"torch {ratio:.2f}x faster"
    return f"torch {1 / ratio:.2f}x SLOWER than the baseline"


if __name__ == "__main__":
    main()

"""torch_statevector against Aer and lightning.qubit: exact expectation values of a batch.

A batch of ``--batch`` parameter sets of one hardware-efficient circuit
(``--qubits`` qubits, ``--layers`` x (RY, RZ on every qubit, CX chain)),
observables Z_i on every qubit plus the sum of X_i X_{i+1}, exact
(``shots=None``), in this process, each simulator given ``--threads`` threads:

  torch      ``TorchCircuit.expectations`` on the whole batch at once
             (complex64 and complex128), on the CPU; again on CUDA when
             ``torch.cuda.is_available()``
  aer        Aer ``EstimatorV2`` (statevector), one call binding every row
  lightning  PennyLane ``lightning.qubit``: ``qml.execute`` of one tape per row

Each variant runs ``--repeat`` times, interleaved (the machine is shared:
noise hits each alike); prints the median seconds, aer/torch and
lightning/torch, the device and the largest difference between the results.

    python bench/torch_sv.py [--qubits 12] [--layers 4] [--batch 256] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=12)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
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

from pilot.backends.torch_sv import TorchCircuit, device_name  # noqa: E402
from pilot.convert.observables import to_pauli_sums  # noqa: E402


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


def make_lightning(
    qc: QuantumCircuit, ops: list[SparsePauliOp]
) -> Callable[[np.ndarray], np.ndarray]:
    import pennylane as qml

    n = qc.num_qubits
    dev = qml.device("lightning.qubit", wires=n)
    measurements = [qml.expval(qml.Z(q)) for q in range(n)]
    measurements.append(qml.expval(qml.sum(*(qml.X(q) @ qml.X(q + 1) for q in range(n - 1)))))
    params = list(qc.parameters)

    def tape(row: np.ndarray) -> Any:
        values = dict(zip(params, row, strict=True))
        ops_: list[Any] = []
        for inst in qc.data:
            q = [qc.find_bit(b).index for b in inst.qubits]
            name = inst.operation.name
            if name == "cx":
                ops_.append(qml.CNOT(q))
            else:
                angle = float(values[inst.operation.params[0]])
                ops_.append((qml.RY if name == "ry" else qml.RZ)(angle, q[0]))
        return qml.tape.QuantumScript(ops_, measurements)

    def run(rows: np.ndarray) -> np.ndarray:
        return np.array(qml.execute([tape(r) for r in rows], dev), dtype=float)

    return run


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    n = ARGS.qubits
    qc = ansatz(n, ARGS.layers)
    ops = observables(n)
    rows = np.random.default_rng(0).uniform(-np.pi, np.pi, (ARGS.batch, qc.num_parameters))
    started = time.perf_counter()
    compiled = TorchCircuit(qc)
    compile_s = time.perf_counter() - started
    sums = to_pauli_sums(ops, n, "qiskit")

    variants: dict[str, Callable[[], np.ndarray]] = {
        "torch complex64 (cpu)": lambda: run_torch(compiled, sums, rows, torch.complex64, "cpu"),
        "torch complex128 (cpu)": lambda: run_torch(compiled, sums, rows, torch.complex128, "cpu"),
        "aer statevector": lambda: aer(rows),
        "lightning.qubit": lambda: lightning(rows),
    }
    aer = make_aer(qc, ops)
    lightning = make_lightning(qc, ops)
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
        f"{len(ops)} observables, exact; {ARGS.threads} threads; python {sys.version.split()[0]}, "
        f"torch {torch.__version__}"
    )
    print(
        f"devices: {device_name(cpu)}"
        + (
            f", {device_name(torch.device('cuda', 0))}"
            if torch.cuda.is_available()
            else ", no CUDA"
        )
    )
    print(f"torch_statevector compile (translate + fuse): {compile_s:.3f} s")

    values: dict[str, np.ndarray] = {}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for name, fn in variants.items():  # warm-up: imports, JIT, caches
        values[name] = fn()
    for _ in range(ARGS.repeat):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    median = {k: statistics.median(v) for k, v in times.items()}

    ref = values["aer statevector"]
    print(f"\n{'variant':26s} {'median s':>9s}  runs (s)                  max |diff| vs aer")
    for name in variants:
        runs = ", ".join(f"{t:.3f}" for t in times[name])
        diff = float(np.abs(values[name] - ref).max())
        print(f"{name:26s} {median[name]:9.3f}  ({runs:22s})  {diff:.1e}")
    print()
    for base in ("aer statevector", "lightning.qubit"):
        for name in variants:
            if name.startswith("torch"):
                print(f"{base} / {name}: {median[base] / median[name]:.2f}x")


if __name__ == "__main__":
    main()

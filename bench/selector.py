"""QDREAMER benchmarks: rank latency, provider calls, and selection quality.

Three measurements, each against a baseline measured in the same run:

1. Rank latency for one task over 10 / 100 / 1,000 resources, statuses from
   the cache (median and p99).  Resources are copies of real IBM fake-device
   capabilities under new names.
2. Provider status calls for 10,000 submissions spread over ``--seconds``
   seconds (default 60) with the real cache and background monitor, against
   calling the provider once per submission.
3. Selection quality: for GHZ, random and QFT circuits of 2-7 qubits over
   >= 8 IBM fake devices, the fidelity regret of QDREAMER's top choice against
   the best device by noisy Aer simulation, next to the baselines round-robin,
   least average two-qubit error, and least busy.  Every device runs the
   circuit the way the service would (QDREAMER's layout for that device).

    python bench/selector.py [--seconds 60] [--skip-quality]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings
from dataclasses import replace

from qiskit import QuantumCircuit

from dreamer.cache import StatusCache
from dreamer.fidelity import FidelityModels
from dreamer.monitor import StatusMonitor
from dreamer.ranking import Ranker
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements
from pilot.backends.qiskit import capabilities_from_target, fake_devices
from pilot.profile import profile_circuit

DEVICES = [
    "fake_manila",
    "fake_lima",
    "fake_belem",
    "fake_quito",
    "fake_nairobi",
    "fake_lagos",
    "fake_perth",
    "fake_jakarta",
    "fake_guadalupe",
    "fake_toronto",
    "fake_montreal",
    "fake_kolkata",
    "fake_hanoi",
    "fake_mumbai",
    "fake_auckland",
    "fake_cairo",
]


def device_caps(names: list[str]) -> dict[str, ResourceCapabilities]:
    devs = fake_devices()
    return {
        n: capabilities_from_target(
            devs[n].target,
            name=n,
            executor="qiskit_fake",
            provider="ibm-fake",
            pilot="bench",
            simulator=True,
            noisy=True,
            max_shots=100_000,
            supports_exact=True,
        )
        for n in names
    }


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, name=f"ghz{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    return qc


def random_circuit(n: int, seed: int) -> QuantumCircuit:
    rng = random.Random(seed)
    qc = QuantumCircuit(n, name=f"rand{n}")
    for _ in range(2 * n):
        a, b = rng.sample(range(n), 2)
        qc.ry(rng.random() * 3, a)
        qc.cx(a, b)
    return qc


def qft(n: int) -> QuantumCircuit:
    from qiskit.circuit.library import QFTGate

    qc = QuantumCircuit(n, name=f"qft{n}")
    qc.x(0)
    qc.h(range(n))
    qc.append(QFTGate(n), range(n))
    return qc.decompose()


# ---------------------------------------------------------------- 1. latency
def bench_latency(caps: dict[str, ResourceCapabilities]) -> None:
    base = list(caps.values())
    prof = profile_circuit(ghz(4), (0, 1, 2, 3), 1000)
    req = TaskRequirements(name="ghz4", num_qubits=4, shots=1000)
    print("1. rank latency, one 4-qubit task, statuses from the cache")
    print(f"   {'resources':>9} {'median ms':>10} {'p99 ms':>8} {'cold ms':>8}")
    for n in (10, 100, 1000):
        resources = [
            replace(base[i % len(base)], name=f"dev{i}", pilot=f"p{i % 7}") for i in range(n)
        ]
        statuses = {r.key: ResourceStatus(queue_depth=i % 13) for i, r in enumerate(resources)}
        ranker = Ranker("balanced")
        t = time.perf_counter()
        ranker.rank(req, prof, resources, statuses)
        cold = time.perf_counter() - t
        times = []
        for _ in range(300 if n < 1000 else 60):
            t = time.perf_counter()
            ranker.rank(req, prof, resources, statuses)
            times.append(time.perf_counter() - t)
        times.sort()
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(
            f"   {n:>9} {statistics.median(times) * 1e3:>10.3f} {p99 * 1e3:>8.3f} "
            f"{cold * 1e3:>8.1f}"
        )
    print("   target: <= 1 ms median at 100 resources")


# ---------------------------------------------------------------- 2. provider calls
def bench_provider_calls(
    seconds: float, submissions: int = 10_000, remote: int = 10, provider_latency: float = 0.05
) -> None:
    calls = 0

    def provider(i: int):
        def call() -> ResourceStatus:
            nonlocal calls
            calls += 1
            time.sleep(provider_latency)
            return ResourceStatus(queue_depth=i)

        return call

    keys = [f"cloud/dev{i}" for i in range(remote)]
    cache = StatusCache(ttl_seconds=30)
    monitor = StatusMonitor(
        cache,
        lambda: {k: provider(i) for i, k in enumerate(keys)},
        interval_seconds=60,
        timeout_seconds=10,
    )
    monitor.start()
    gap = seconds / submissions
    start = time.perf_counter()
    waits = []
    for s in range(submissions):
        t = time.perf_counter()
        for key in keys:  # what the submit path does for each remote resource
            status = cache.get(key)
            if status is None or status.stale:
                monitor.request(key)
        waits.append(time.perf_counter() - t)
        target = start + (s + 1) * gap
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.perf_counter() - start
    monitor.stop()
    per_task = submissions * remote
    waits.sort()
    print(
        f"2. provider status calls: {submissions} submissions over {elapsed:.0f} s, "
        f"{remote} remote resources, each call {provider_latency * 1e3:.0f} ms"
    )
    print(
        f"   QDREAMER cache + monitor: {calls} calls ({calls / remote:.1f} per resource); "
        f"per-task status: {per_task} calls"
    )
    print(
        f"   ratio: {per_task / max(calls, 1):.0f}x fewer calls (target >= 1000x); "
        f"submit-path status lookup p99 {waits[int(0.99 * len(waits))] * 1e6:.0f} us "
        f"(per-task status would wait {provider_latency * remote * 1e3:.0f} ms)"
    )
    info = cache.info()
    print(f"   cache: hits {info['hits']}, misses {info['misses']}, ttl {info['ttl_seconds']} s")


# ---------------------------------------------------------------- 3. quality
def bench_quality(caps: dict[str, ResourceCapabilities]) -> None:
    from qiskit.quantum_info import Statevector, hellinger_fidelity
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator

    devs = fake_devices()
    circuits = (
        [ghz(n) for n in range(2, 8)] + [random_circuit(n, n) for n in range(3, 7)] + [qft(4)]
    )
    models = FidelityModels()
    avg2 = {
        n: statistics.mean(e for (_, q), e in c.gate_errors.items() if len(q) == 2)
        for n, c in caps.items()
    }
    regrets: dict[str, list[float]] = {
        "qdreamer": [],
        "least_error": [],
        "round_robin": [],
        "least_busy": [],
    }
    sims: dict[str, AerSimulator] = {}
    print(
        f"3. selection quality over {len(caps)} IBM fake devices (Hellinger fidelity of "
        "noisy Aer simulation, 8000 shots)"
    )
    print(
        f"   {'circuit':<8} {'best device':<16} {'best':>6}  {'QDREAMER pick':<16} "
        f"{'true':>6} {'regret':>7}"
    )
    for ci, body in enumerate(circuits):
        n = body.num_qubits
        ideal = Statevector(body).probabilities_dict()
        prof = profile_circuit(body, tuple(range(n)), 8000)
        measured = body.copy()
        measured.measure_all()
        true: dict[str, float] = {}
        est: dict[str, float] = {}
        for name, cap in caps.items():
            if cap.num_qubits < n:
                continue
            e = models.estimate(cap, prof)
            pm = generate_preset_pass_manager(
                optimization_level=1,
                backend=devs[name],
                seed_transpiler=3,
                initial_layout=list(e.layout),
            )
            try:
                isa = pm.run(measured)
            except Exception:
                pm = generate_preset_pass_manager(
                    optimization_level=1,
                    backend=devs[name],
                    seed_transpiler=3,
                    initial_layout=list(e.layout),
                    translation_method="synthesis",
                )
                isa = pm.run(measured)
            sim = sims.setdefault(name, AerSimulator.from_backend(devs[name]))
            counts = sim.run(isa, shots=8000, seed_simulator=5).result().get_counts()
            true[name] = hellinger_fidelity(ideal, {k: v / 8000 for k, v in counts.items()})
            est[name] = e.fidelity
        best = max(true.values())
        names = list(true)
        picks = {
            "qdreamer": max(est, key=lambda d: (est[d], d)),
            "least_error": min(names, key=lambda d: avg2[d]),
            "round_robin": names[ci % len(names)],
            "least_busy": names[0],  # fake devices all report an empty queue: the first one
        }
        for method, dev in picks.items():
            regrets[method].append(best - true[dev])
        q = picks["qdreamer"]
        print(
            f"   {body.name:<8} {max(true, key=true.get):<16} {best:>6.3f}  {q:<16} "
            f"{true[q]:>6.3f} {best - true[q]:>7.4f}"
        )
    print(f"   {'method':<12} {'mean regret':>11} {'max regret':>10}")
    for method, values in regrets.items():
        print(f"   {method:<12} {statistics.mean(values):>11.4f} {max(values):>10.4f}")
    print("   target: QDREAMER mean regret <= 0.02, clearly below every baseline")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    caps = device_caps(DEVICES)
    bench_latency(caps)
    bench_provider_calls(args.seconds)
    if not args.skip_quality:
        bench_quality(caps)


if __name__ == "__main__":
    main()

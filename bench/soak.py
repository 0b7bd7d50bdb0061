"""Long runs: driver memory and journal size per task over many rounds.

One driver, one default ``qiskit_local`` pilot, ``--rounds`` rounds of
``--n`` two-qubit Bell tasks (100 shots).  Each round submits, fetches every
result and drops them (``--single``: one ``submit_quantum_task`` per task,
else ``submit_quantum_tasks``); after it, the driver's resident memory (RSS,
after ``gc.collect()``) and the journal's size on disk (``journal.sqlite3``
after a flush and a checkpoint) are read.

The first ``--warmup`` rounds (3: 30,000 tasks) are the driver reaching its
working size: imports, caches, Ray's worker, and the memory the allocator and
Ray keep for a round's 10,000 tasks in flight.  That step is printed on its
own; growth is then measured over the rounds after it (6: 60,000 tasks), per
10,000 tasks, end to end and as a least-squares trend through every reading:

* memory growth per 10,000 tasks (target <= 2 MiB across 60,000),
* journal bytes per task (target <= 500 for results with few outcomes).

``--raw`` runs the same rounds with no service at all -- one plain Ray actor
holding an ``AerSimulator``, one actor call per circuit -- as the baseline of
what Ray itself (and the allocator) adds to a driver over the same work.

    python bench/soak.py [--n 10000] [--warmup 3] [--rounds 6] [--single | --raw]
                         [--no-journal] [--trim] [--trace]

``--trace`` prints the top tracemalloc growth sites between round 1 and the
last round (slower; for finding what grows).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import psutil
import ray
from qiskit import QuantumCircuit

from pilot import PilotComputeService, QuantumTask
from pilot.cli.demo import bell

SHOTS = 100
MIB = 1 << 20


def journal_bytes(directory: Path) -> int:
    """The journal file's size once its write-ahead log is folded in (a checkpoint
    from a second connection, as SQLite allows beside the writer): what the run
    keeps.  The WAL itself is bounded (``pilot.journal.store.CHECKPOINT_BYTES``) and
    truncated when the service closes."""
    path = directory / "journal.sqlite3"
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="tasks per round")
    parser.add_argument(
        "--warmup", type=int, default=3, help="rounds before growth is measured (>= 1)"
    )
    parser.add_argument("--rounds", type=int, default=6, help="rounds measured after the warm-up")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--single", action="store_true", help="submit_quantum_task per task")
    parser.add_argument("--raw", action="store_true", help="plain Ray actor calls, no service")
    parser.add_argument("--no-journal", action="store_true")
    parser.add_argument("--trace", action="store_true", help="tracemalloc growth sites")
    parser.add_argument(
        "--trim",
        action="store_true",
        help="call glibc's malloc_trim(0) before reading RSS: what remains is memory in "
        "use, not memory the allocator keeps for reuse",
    )
    args = parser.parse_args()
    if args.warmup < 1 or args.rounds < 1:
        parser.error("--warmup and --rounds must be at least 1")
    args.total = args.warmup + args.rounds

    workdir = Path(tempfile.mkdtemp(prefix="qdreamer-soak-"))
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    proc = psutil.Process()
    if args.trace:
        import tracemalloc

        tracemalloc.start(12)
    rss: list[int] = []
    sizes: list[int] = []
    snapshots = []
    qc = bell()
    try:
        if args.raw:
            raw_rounds(args, proc, rss)
            sizes = [0] * len(rss)
            args.no_journal = True
        else:
            service_rounds(args, workdir, proc, rss, sizes, snapshots, qc)
    finally:
        ray.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, rss, sizes, snapshots)


class RawActor:
    def __init__(self) -> None:
        from qiskit_aer import AerSimulator

        self.sim = AerSimulator(max_parallel_threads=1)

    def run(self, qc: QuantumCircuit) -> dict:
        return self.sim.run(qc, shots=SHOTS).result().get_counts()


def raw_rounds(args: argparse.Namespace, proc: psutil.Process, rss: list[int]) -> None:
    actor = ray.remote(num_cpus=0)(RawActor).remote()
    qc = bell()
    for r in range(args.total):
        t = time.perf_counter()
        out = ray.get([actor.run.remote(qc) for _ in range(args.n)])
        assert all(sum(c.values()) == SHOTS for c in out)
        dt = time.perf_counter() - t
        del out
        time.sleep(1.5)
        gc.collect()
        trim(args)
        rss.append(proc.memory_info().rss)
        print(
            f"round {r + 1}: {args.n / dt:7.0f} tasks/s  rss {rss[-1] / MIB:8.1f} MiB", flush=True
        )


def service_rounds(
    args: argparse.Namespace,
    workdir: Path,
    proc: psutil.Process,
    rss: list[int],
    sizes: list[int],
    snapshots: list,
    qc: QuantumCircuit,
) -> None:
    held: list[str] = []
    with PilotComputeService(working_directory=workdir, journal=not args.no_journal) as pcs:
        pcs.create_pilot({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}})
        for r in range(args.total):
            t = time.perf_counter()
            tasks = [QuantumTask(qc, shots=SHOTS) for _ in range(args.n)]
            if args.single:
                refs = [pcs.submit_quantum_task(task) for task in tasks]
            else:
                refs = pcs.submit_quantum_tasks(tasks)
            results = pcs.get_results(refs)
            assert all(sum(x.counts.values()) == SHOTS for x in results)
            dt = time.perf_counter() - t
            del tasks, refs, results
            settle(pcs)
            if pcs.journal is not None:
                pcs.journal.flush()
            gc.collect()
            trim(args)
            rss.append(proc.memory_info().rss)
            sizes.append(journal_bytes(workdir))
            held.append(what_is_held(pcs))
            if args.trace and r in (args.warmup - 1, args.total - 1):
                import tracemalloc

                snapshots.append(tracemalloc.take_snapshot())
            print(
                f"round {r + 1}: {args.n / dt:7.0f} tasks/s  rss {rss[-1] / MIB:8.1f} MiB  "
                f"journal {sizes[-1] / MIB:7.2f} MiB  held: {held[-1]}",
                flush=True,
            )


def settle(pcs: PilotComputeService, timeout: float = 15.0) -> None:
    """Wait (bounded) until the service has let go of the round's tasks: a finished
    task's ref is kept until a ping of its pilot confirms it (a couple of seconds),
    and RSS read before that counts their results too."""
    worker = ray._private.worker.global_worker
    deadline = time.monotonic() + timeout
    time.sleep(1.5)  # the supervisor and the journal writer catch up
    while time.monotonic() < deadline:
        if not worker.core_worker.get_all_reference_counts() and not (
            pcs._supervisor.records_held()
        ):
            return
        time.sleep(0.25)


def trim(args: argparse.Namespace) -> None:
    if args.trim:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def what_is_held(pcs: PilotComputeService) -> str:
    """What the driver still holds after a round: Ray's object references in this
    process and the service's per-task records (all should be 0 once results are
    dropped)."""
    worker = ray._private.worker.global_worker
    refs = len(worker.core_worker.get_all_reference_counts())
    return f"{refs} refs, {pcs._supervisor.records_held()} task records"


def report(args: argparse.Namespace, rss: list[int], sizes: list[int], snapshots: list) -> None:
    w = args.warmup
    measured = args.n * args.rounds
    base = rss[w - 1]  # the end of the warm-up
    print(
        f"\nwarm-up: {rss[0] / MIB:.1f} MiB after round 1, {base / MIB:.1f} MiB after round {w} "
        f"({(base - rss[0]) / MIB:+.1f} MiB over {args.n * (w - 1):,} tasks)"
    )
    growth = (rss[-1] - base) / MIB * 10_000 / measured
    print(
        f"memory growth: {growth:.2f} MiB per 10,000 tasks (target <= 2) over the "
        f"{measured:,} tasks after the warm-up"
    )
    if args.rounds >= 2:
        # The trend through every reading from the end of the warm-up (least squares): one
        # noisy reading moves it less than it moves the end-to-end difference above.
        ys = rss[w - 1 :]
        xs = [args.n * i for i in range(len(ys))]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        print(f"  fitted trend over those rounds: {slope / MIB * 10_000:.2f} MiB per 10,000 tasks")
        print(f"  band: {min(ys) / MIB:.1f} - {max(ys) / MIB:.1f} MiB")
    if w >= 2:
        since_one = (rss[-1] - rss[0]) / MIB * 10_000 / (args.n * (args.total - 1))
        print(f"  counted from the end of round 1 instead: {since_one:.2f} MiB per 10,000 tasks")
    if not args.no_journal:
        per_task = (sizes[-1] - sizes[0]) / (args.n * (args.total - 1))
        print(f"journal: {per_task:.0f} bytes per task (target <= 500), rounds 2-{args.total}")
    if args.trace and len(snapshots) == 2:
        print("\ntop growth sites (tracemalloc, end of the warm-up -> last round):")
        for stat in snapshots[1].compare_to(snapshots[0], "traceback")[:12]:
            print(f"{stat.size_diff / 1024:9.1f} KiB  {stat.count_diff:+7d} blocks")
            for line in stat.traceback.format()[-6:]:
                print("    " + line)
    os._exit(0)


if __name__ == "__main__":
    main()

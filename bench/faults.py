"""Fault scenarios: tasks submitted, completed, lost, duplicated, and the time against a
fault-free run of the same work, measured in the same process (issue 6).

Scenarios (each against its own fault-free baseline, on one Ray instance):

* ``actor-kill``: ``--n`` circuits over two ``qiskit_local`` pilots; one pilot's
  actor is killed (``ray.kill``) after 10 % of the results are in.
* ``transient-30``: ``--n-cloud`` circuits on Braket SV1 through the real SDK and
  the fake Braket HTTP service, 30 % of all HTTP calls answered 503; botocore's
  own retries are off (``AWS_MAX_ATTEMPTS=1``), so only our retries absorb them.
* ``failover``: the same on SV1 whose task creation always fails: every task
  fails over to a second resource.
* ``monitor-hang``: 200 submissions while QDREAMER's status call to SV1 hangs
  (the fake holds ``GetDevice`` for 10 s): submission time against a healthy run.
* ``slurm-scancel``: ``--n-classical`` 1-second classical tasks on a Slurm pilot
  whose job is cancelled with ``scancel`` mid-run; they move to a local pilot
  (skipped without Slurm).
* ``driver-kill``: a driver process running ``--n`` circuits is killed with
  SIGKILL when a third of the results are journaled, and run again with
  ``resume=True``: journaled results come back, the rest run once more.

    python bench/faults.py [--n 1000] [--n-cloud 60] [--n-classical 8]

"Duplicated" counts results computed twice: a task resubmitted although it
had finished, or a Braket task created twice.  Lost tasks (no result) are the
ones a pilot took down with no other pilot to go to.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import basis  # noqa: E402  (after the sys.path line above)

ROWS: list[dict[str, Any]] = []


def expect(i: int, width: int = 10) -> str:
    return format(i % 2**width, f"0{width}b")


def report(
    name: str, submitted: int, results: list[Any], good: int, dup: int, t: float, base: float
) -> None:
    ROWS.append(
        {
            "scenario": name,
            "submitted": submitted,
            "completed": good,
            "lost": submitted - len([r for r in results if r is not None and r is not False]),
            "duplicated": dup,
            "seconds": t,
            "baseline": base,
        }
    )
    print(
        f"{name:15s} submitted {submitted:5d}  completed {good:5d}  "
        f"lost {ROWS[-1]['lost']:3d}  duplicated {dup:3d}  "
        f"{t:7.2f} s vs {base:6.2f} s fault-free: x{t / base:.2f}",
        flush=True,
    )


# ------------------------------------------------------------------ scenarios
def quantum_pilots(pcs: Any, names: tuple[str, ...]) -> None:
    for name in names:
        pcs.create_pilot(
            name=name,
            resource_type="quantum",
            cores_per_node=0.5,
            quantum={"executor": "qiskit_local", "seed": 1},
        )


def actor_kill(workdir: Path, n: int) -> None:
    import ray

    from pilot import PilotComputeService, QuantumTask

    def run(kill: bool, tag: str) -> tuple[float, list[Any], int]:
        with PilotComputeService(working_directory=workdir / tag, journal=False) as pcs:
            quantum_pilots(pcs, ("a", "b"))
            pcs.initialize_dreamer()
            tasks = [QuantumTask(basis(i), shots=8) for i in range(n)]
            t = time.perf_counter()
            refs = pcs.submit_quantum_tasks(tasks, chunk_size=20)
            if kill:
                ray.wait(refs, num_returns=max(1, n // 10), fetch_local=False)
                ray.kill(pcs.get_pilot("a").actors[0])
            results = pcs.get_results(refs, return_exceptions=True, timeout=600)
            dt = time.perf_counter() - t
            return dt, results, pcs._supervisor.resubmitted

    base, _, _ = run(False, "kill-base")
    dt, results, resubmitted = run(True, "kill")
    good = sum(
        1
        for i, r in enumerate(results)
        if not isinstance(r, Exception) and r.counts == {expect(i): 8}
    )
    ids = [r.task_id for r in results if not isinstance(r, Exception)]
    report("actor-kill", n, results, good, len(ids) - len(set(ids)), dt, base)
    print(f"{'':15s} (resubmitted {resubmitted} tasks that were in flight on the dead actor)")


def cloud(workdir: Path, fake: Any, n: int) -> None:
    from pilot import PilotComputeService, QuantumTask

    sv1 = {
        "executor": "braket_sv1",
        "s3_bucket": "qdreamer-bench",
        "poll_interval_seconds": 0.02,
        "retries": {"backoff_seconds": 0.05, "max_backoff_seconds": 1.0},
    }
    # The failing pilot gives up after 3 attempts: how long a provider is tried
    # before its tasks fail over is its retry budget (default 8: about a minute).
    failing = {**sv1, "retries": {"max_attempts": 3}}

    def run(
        tag: str, rate: float, create_only: bool = False, pin: str | None = None
    ) -> tuple[float, list[Any], int]:
        fake.reset()
        with PilotComputeService(working_directory=workdir / tag, journal=False) as pcs:
            pcs.create_pilot(
                name="sv1",
                resource_type="quantum",
                cores_per_node=0.25,
                quantum=failing if create_only else sv1,
            )
            if create_only:  # fails over to a fake IBM device (SV1 ranks first: ideal)
                pcs.create_pilot(
                    name="fakes",
                    resource_type="quantum",
                    cores_per_node=0.25,
                    quantum={"executor": "qiskit_fake", "backends": ["fake_kolkata"]},
                )
                q = pcs.initialize_dreamer(resources=["sv1/SV1", "fakes/fake_kolkata"])
                q.refresh(timeout=10)
            ops = ("CreateQuantumTask",) if create_only else ("*",)
            fake.fail_randomly(rate, operations=ops, seed=11)
            tasks = [QuantumTask(basis(i, 4), shots=10, pilot=pin) for i in range(n)]
            t = time.perf_counter()
            results = pcs.get_results(
                pcs.submit_quantum_tasks(tasks), return_exceptions=True, timeout=900
            )
            dt = time.perf_counter() - t
            fake.fail_randomly(0.0)
            return dt, results, len(fake.tasks)

    run("cloud-warm", 0.0)  # first actor start-up and SDK imports
    before, _, _ = run("cloud-base", 0.0)
    dt, results, created = run("cloud-flaky", 0.3)
    failures = fake.random_failures
    after, _, _ = run("cloud-base-2", 0.0)
    base = (before + after) / 2  # fault-free runs on both sides: the machine drifts
    good = sum(
        1
        for i, r in enumerate(results)
        if not isinstance(r, Exception) and r.counts == {expect(i, 4): 10}
    )
    report("transient-30", n, results, good, max(0, created - n), dt, base)
    for r in results:
        if isinstance(r, Exception):
            print(f"{'':15s} failed: {str(r)[:300]}")
    print(
        f"{'':15s} ({failures} HTTP calls failed; {created} Braket tasks created; "
        f"fault-free runs {before:.2f} s and {after:.2f} s)"
    )
    # Baseline: the same tasks sent straight to the fallback device (a noisy
    # simulation, slower than SV1's).
    direct, _, _ = run("cloud-direct", 0.0, create_only=True, pin="fakes")
    dt, results, created = run("cloud-failover", 1.0, create_only=True)
    good = sum(  # a noisy device: the expected outcome is the most frequent one
        1
        for i, r in enumerate(results)
        if not isinstance(r, Exception) and max(r.counts, key=r.counts.get) == expect(i, 4)
    )
    moved = sum(
        1 for r in results if not isinstance(r, Exception) and (r.selection or {}).get("failover")
    )
    report("failover", n, results, good, max(0, created - n), dt, direct)
    backends = sorted({r.backend for r in results if not isinstance(r, Exception)})
    print(f"{'':15s} ({moved} failed over, to {', '.join(backends)})")
    for r in results:
        if isinstance(r, Exception):
            print(f"{'':15s} failed: {str(r)[:300]}")


def monitor_hang(workdir: Path, fake: Any, n: int) -> None:
    """Submitting while the monitor's provider call hangs: time to submit ``n`` tasks."""
    from pilot import PilotComputeService, QuantumTask

    fake.reset()
    with PilotComputeService(working_directory=workdir / "hang", journal=False) as pcs:
        pcs.create_pilot(
            name="sv1",
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "braket_sv1", "s3_bucket": "qdreamer-bench"},
        )
        quantum_pilots(pcs, ("aer",))
        q = pcs.initialize_dreamer(objective="balanced", cache_ttl_seconds=1)

        def submit() -> tuple[float, list[Any]]:
            tasks = [QuantumTask(basis(i, 4), shots=10, pilot="aer") for i in range(n)]
            t = time.perf_counter()
            refs = [pcs.submit_quantum_task(task) for task in tasks]
            dt = time.perf_counter() - t
            return dt, pcs.get_results(refs, return_exceptions=True, timeout=600)

        q.refresh(timeout=30)
        base, _ = submit()
        time.sleep(1.1)  # the cached status expires
        fake.delay_next("GetDevice", 10, times=10)  # the provider hangs
        dt, results = submit()
        stale = q.cache.get("sv1/SV1")
        good = sum(
            1
            for i, r in enumerate(results)
            if not isinstance(r, Exception) and r.counts == {expect(i, 4): 10}
        )
        report("monitor-hang", n, results, good, 0, dt, base)
        print(f"{'':15s} (submission only; SV1's status served stale: {stale.stale})")


def slow(i: int) -> int:
    time.sleep(1.0)
    return i


def slurm_scancel(workdir: Path, n: int) -> None:
    import ray

    from pilot import PilotComputeService

    if shutil.which("sinfo") is None:
        print("slurm-scancel   skipped: no Slurm here (scripts/local-slurm.sh)")
        return

    def run(kill: bool, tag: str) -> tuple[float, list[Any]]:
        with PilotComputeService(working_directory=workdir / tag, journal=False) as pcs:
            slurm = pcs.create_pilot(name="s", resource="slurm://localhost", walltime=10)
            pcs.create_pilot(name="local", cores_per_node=0.5)
            slurm.wait(300)
            t = time.perf_counter()
            refs = [pcs.submit_task(slow, i, pilot="s") for i in range(n)]
            if kill:
                time.sleep(1.5)
                ray.wait(refs, num_returns=len(refs), timeout=0)
                subprocess.run(["scancel", str(slurm.job_id)], check=True, timeout=30)
            results = pcs.get_results(refs, return_exceptions=True, timeout=600)
            return time.perf_counter() - t, results

    base, _ = run(False, "slurm-base")
    dt, results = run(True, "slurm")
    good = sum(1 for i, r in enumerate(results) if r == i)
    report("slurm-scancel", n, results, good, 0, dt, base)


DRIVER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from bench.faults import basis
    from pilot import PilotComputeService, QuantumTask

    n, resume = int(sys.argv[1]), sys.argv[2] == "resume"
    with PilotComputeService(working_directory={workdir!r}, resume=resume) as pcs:
        pcs.create_pilot(name="aer", resource_type="quantum", cores_per_node=1,
                         quantum={{"executor": "qiskit_local"}})
        refs = [pcs.submit_quantum_task(QuantumTask(basis(i), shots=8)) for i in range(n)]
        results = pcs.get_results(refs)
        print("RESULTS", sum(r.counts == {{format(i, "010b"): 8}} for i, r in enumerate(results)),
              "RESUMED", sum(bool(r.metadata.get("resumed")) for r in results), flush=True)
    """
)


def driver_kill(workdir: Path, n: int) -> None:
    import sqlite3

    work = workdir / "driver"
    script = workdir / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT), workdir=str(work)))
    import ray

    env = dict(os.environ)  # the drivers join this process's Ray cluster
    env.update(RAY_ADDRESS=ray.get_runtime_context().gcs_address, RAY_AUTH_MODE="token")

    def drive(mode: str) -> tuple[float, str]:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(script), str(n), mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=True,
        )
        return time.perf_counter() - t, out.stdout

    base, _ = drive("fresh")
    shutil.rmtree(work)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), str(n), "fresh"], env=env)
    journal = work / "journal.sqlite3"
    done = 0
    while proc.poll() is None and done < n // 3:
        time.sleep(0.1)
        if journal.exists():
            try:
                with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
                    done = db.execute("select count(*) from tasks where state = 'DONE'").fetchone()[
                        0
                    ]
            except sqlite3.Error:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = time.perf_counter() - t
    second, out = drive("resume")
    words = out.split()
    good = int(words[words.index("RESULTS") + 1])
    resumed = int(words[words.index("RESUMED") + 1])
    report("driver-kill", n, [True] * good, good, 0, first + second, base)
    print(f"{'':15s} (killed with {done} journaled; {resumed} came back from the journal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-cloud", type=int, default=60)
    parser.add_argument("--n-classical", type=int, default=8)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()

    from tests.fakes.braket_service import start_fake_braket

    fake = start_fake_braket()
    fake.export_env()
    os.environ["AWS_MAX_ATTEMPTS"] = "1"  # botocore's retries off: ours alone
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    workdir = Path(tempfile.mkdtemp(prefix="qdr-faults-"))
    only = set(args.only or ["actor-kill", "cloud", "monitor-hang", "slurm-scancel", "driver-kill"])
    try:
        if "actor-kill" in only:
            actor_kill(workdir, args.n)
        if "cloud" in only:
            cloud(workdir, fake, args.n_cloud)
        if "monitor-hang" in only:
            monitor_hang(workdir, fake, 200)
        if "slurm-scancel" in only:
            slurm_scancel(workdir, args.n_classical)
        if "driver-kill" in only:
            driver_kill(workdir, args.n)
    finally:
        ray.shutdown()
        fake.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("| scenario | submitted | completed | lost | duplicated | time / fault-free |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in ROWS:
        print(
            f"| {row['scenario']} | {row['submitted']} | {row['completed']} | {row['lost']} | "
            f"{row['duplicated']} | {row['seconds']:.2f} s / {row['baseline']:.2f} s = "
            f"**{row['seconds'] / row['baseline']:.2f}x** |"
        )


if __name__ == "__main__":
    main()

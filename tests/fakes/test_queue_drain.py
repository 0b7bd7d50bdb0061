"""The fakes' queues on a clock (``tests/fakes/drain.py``), read through the real SDKs.

A drained device is one FIFO server: ``OUTSIDE`` outside jobs ahead, then ours,
``SECONDS`` each.  The Braket side is read with ``AwsDevice.queue_depth()``,
``AwsQuantumTask.queue_position()``/``state()``/``result()`` (boto3 underneath);
the IBM side with ``QiskitRuntimeService(...).backend(name).status().pending_jobs``
and ``RuntimeJobV2.status()``/``result()``.  No Ray.

Each provider has two tests: one on a hand-driven clock, which checks the exact
figures (the queue grows with each submission, drains in order at one job per
``SECONDS``, no status moves however often it is polled, a cancelled queued job
leaves the queue and the ones behind it move up), and one on the wall clock,
which polls a real drain and checks every answer against the schedule at the
instants bracketing its request, and that no job finished before its turn.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.braket_service import FakeBraketService
from tests.fakes.drain import EPSILON, Drain, Slot
from tests.fakes.ibm_service import FakeIBMQuantumPlatform

# verify=False is needed for the TLS the IBM fake terminates (IAM only); urllib3 says so.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

SECONDS = 0.2
OUTSIDE = 3
#: Both providers, step by step (one SECONDS each) after OUTSIDE outside jobs and our
#: four, the third cancelled while queued: the reported queue ...
DEPTHS = [5, 4, 2, 1, 0, 0, 0]


def expected_states(q: str, r: str, c: str, x: str) -> list[list[str]]:
    """... and our four jobs' states, in each provider's words for queued, running,
    completed and cancelled."""
    return [
        [q, q, x, q],
        [q, q, x, q],
        [r, q, x, q],
        [c, r, x, q],
        [c, c, x, r],
        [c, c, x, c],
        [c, c, x, c],
    ]


SHOTS = 100
QPU = FakeBraketService.QPU_ARN
IBM_DEVICE = "ibmq_manila"
#: The order of phases a job goes through (a cancelled one is off the schedule).
PHASES = ("queued", "running", "done")


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Seen:
    """An answer and the clock readings just before and just after its request."""

    before: float
    after: float
    value: Any


def observe(ask: Callable[[], Any]) -> Seen:
    before = time.monotonic()
    value = ask()
    return Seen(before, time.monotonic(), value)


def watch(
    depth: Callable[[], int],
    states: Sequence[Callable[[], str]],
    final: set[str],
    timeout: float = 8.0,
) -> tuple[list[Seen], list[list[Seen]]]:
    """Poll the queue and each job's state every 20 ms until every job is final."""
    depths: list[Seen] = []
    seen: list[list[Seen]] = [[] for _ in states]
    end = time.monotonic() + timeout
    while True:
        pending = [i for i, s in enumerate(seen) if not s or s[-1].value not in final]
        for i in pending:
            seen[i].append(observe(states[i]))
        depths.append(observe(depth))
        if all(s and s[-1].value in final for s in seen):
            return depths, seen
        assert time.monotonic() < end, "the queue did not drain in time"
        time.sleep(0.02)


class Schedule:
    """The drain's schedule for recorded jobs (fake ``FakeTask``/``FakeIBMJob`` records)."""

    def __init__(self, drain: Drain, records: Sequence[Any]) -> None:
        self.drain = drain
        self.records = records

    def slots(self) -> list[Slot | None]:
        return self.drain.slots((r.queued_at, r.cancelled_at) for r in self.records)

    def depth(self, now: float) -> int:
        return self.drain.queue(now, self.slots())

    def phase(self, index: int, now: float) -> str:
        cancelled_at = self.records[index].cancelled_at
        if cancelled_at is not None and now + EPSILON >= cancelled_at:
            return "cancelled"
        slot = self.slots()[index]
        return "queued" if slot is None else slot.phase(now)

    def check_depth(self, seen: Seen) -> None:
        """Between submissions the queue only shrinks: the answer lies between the
        figures at the two ends of its request."""
        assert self.depth(seen.after) <= seen.value <= self.depth(seen.before), seen

    def check_phase(self, index: int, seen: Seen, phase: str) -> None:
        first, last = self.phase(index, seen.before), self.phase(index, seen.after)
        if "cancelled" in (first, last, phase):
            assert phase in (first, last), (index, seen, phase)
            return
        assert PHASES.index(first) <= PHASES.index(phase) <= PHASES.index(last), (
            index,
            seen,
            phase,
        )


def check_drained(
    schedule: Schedule,
    depths: list[Seen],
    seen: list[list[Seen]],
    phase_of: dict[str, str],
    cancelled: int | None,
) -> None:
    """What a wall-clock drain must show, whatever the machine's load (``cancelled``:
    the job cancelled, if the cancellation came before its end)."""
    drain = schedule.drain
    for d in depths:
        schedule.check_depth(d)
    values = [d.value for d in depths]
    assert values == sorted(values, reverse=True), values  # nothing was submitted meanwhile
    assert values[-1] == 0
    for i, states in enumerate(seen):
        for s in states:
            schedule.check_phase(i, s, phase_of[s.value])
    served = [i for i in range(len(seen)) if i != cancelled]
    done_at = {}
    for turn, i in enumerate(served):
        # Its turn comes after the outside jobs and ours ahead of it, not earlier,
        # however often it was polled before (check_phase: each answer is the clock's).
        due = drain.since + (OUTSIDE + turn + 1) * SECONDS
        done_at[i] = next(s.after for s in seen[i] if phase_of[s.value] == "done")
        assert done_at[i] >= due - 1e-6, (i, seen[i], due)
    for ahead, behind in itertools.pairwise(served):
        # Once one was seen done, the one ahead of it is never seen unfinished.
        later = [s for s in seen[ahead] if s.before >= done_at[behind]]
        assert all(phase_of[s.value] == "done" for s in later), (ahead, seen[ahead])
    if cancelled is not None:
        assert [phase_of[s.value] for s in seen[cancelled]] == ["cancelled"]


def check_cancel(schedule: Schedule, index: int, before: Seen, after: Seen) -> None:
    """A job cancelled while queued left the queue (the figure after the cancellation
    is at least one below the one before: the queue only shrinks meanwhile)."""
    schedule.check_depth(after)
    if schedule.slots()[index] is None:
        assert after.value <= before.value - 1, (before, after)


def assert_bell(counts: dict[str, int]) -> None:
    assert set(counts) <= {"00", "11"}, counts  # the fakes simulate without noise
    assert sum(counts.values()) == SHOTS


# ------------------------------------------------------------------ the rules
def test_the_server_serves_outside_jobs_then_ours_in_order() -> None:
    drain = Drain(SECONDS, OUTSIDE, since=10.0)
    assert drain.free_from == pytest.approx(10.6)
    # Outside jobs leave one per SECONDS, the first at since + SECONDS.
    assert [drain.external_waiting(10.0 + k * SECONDS) for k in range(5)] == [3, 2, 1, 0, 0]
    assert drain.external_waiting(10.19) == 3
    # Ours: A, B queued at 10.0 and 10.1; C at 10.1, cancelled while queued (10.3);
    # D at 10.2, cancelled while running (11.1); E at 11.5, when the server is idle.
    jobs = [(10.0, None), (10.1, None), (10.1, 10.3), (10.2, 11.1)]
    slots = drain.slots(jobs)
    spans = [None if s is None else (s.start, s.end) for s in slots]
    assert spans[2] is None
    assert [spans[i] for i in (0, 1, 3)] == [
        pytest.approx((10.6, 10.8)),
        pytest.approx((10.8, 11.0)),
        pytest.approx((11.0, 11.1)),
    ]
    (*_, idle) = drain.slots([*jobs, (11.5, None)])
    assert idle is not None and (idle.start, idle.end) == pytest.approx((11.5, 11.7))
    # The queue: outside jobs waiting + ours not started; positions count both.
    assert drain.queue(10.5, slots) == 1 + 3
    assert [drain.position(10.5, slots, i) for i in range(4)] == [2, 3, None, 4]
    assert drain.queue(10.7, slots) == 2
    assert [drain.position(10.7, slots, i) for i in range(4)] == [None, 1, None, 2]
    assert [drain.queue(t, slots) for t in (10.9, 11.05, 11.2)] == [1, 0, 0]
    assert [s.phase(10.8) for s in slots if s is not None] == ["done", "running", "queued"]
    with pytest.raises(ValueError, match="seconds_per_job"):
        Drain(0.0)


# ------------------------------------------------------------------ Braket
BRAKET_PHASES = {
    "QUEUED": "queued",
    "RUNNING": "running",
    "COMPLETED": "done",
    "CANCELLING": "cancelled",
    "CANCELLED": "cancelled",
}


@pytest.fixture(scope="module")
def _braket_server() -> Iterator[FakeBraketService]:
    with FakeBraketService() as fake:
        yield fake


@pytest.fixture
def braket(_braket_server: FakeBraketService, monkeypatch: pytest.MonkeyPatch) -> FakeBraketService:
    """The module's fake, reset, with its ``env`` set for the test (and restored)."""
    _braket_server.reset()
    for name in _braket_server.unset_env:
        monkeypatch.delenv(name, raising=False)
    for name, value in _braket_server.env.items():
        monkeypatch.setenv(name, value)
    return _braket_server


def braket_depth(device: Any) -> int:
    """The Normal quantum-task queue of ``GetDevice``, as the SDK parses it."""
    from braket.aws.queue_information import QueueType

    return int(device.queue_depth().quantum_tasks[QueueType.NORMAL])


def braket_run(device: Any) -> Any:
    from braket.circuits import Circuit

    bell = Circuit().h(0).cnot(0, 1)
    return device.run(bell, ("qdreamer-test", "drain"), shots=SHOTS, poll_interval_seconds=0.01)


def test_braket_queue_follows_the_clock_not_the_polls(braket: FakeBraketService) -> None:
    from braket.aws import AwsDevice

    clock = ManualClock()
    braket.clock = clock
    braket.drain(QPU, SECONDS, external_queue=OUTSIDE)
    device = AwsDevice(QPU)
    assert braket_depth(device) == OUTSIDE

    # Each submission joins the queue behind the outside tasks and ours.
    tasks = []
    for n in range(1, 5):
        tasks.append(braket_run(device))
        assert braket_depth(device) == OUTSIDE + n
        assert tasks[-1].queue_position().queue_position == str(OUTSIDE + n)
    for _ in range(5):  # polls alone move nothing
        assert [t.state() for t in tasks] == ["QUEUED"] * 4
    assert braket_depth(device) == OUTSIDE + 4
    assert not [key for _, key in braket.objects if key.endswith("results.json")]

    # A queued task cancelled leaves the queue; the one behind it moves up.
    tasks[2].cancel()
    assert tasks[2].state() == "CANCELLED"
    assert braket_depth(device) == OUTSIDE + 3
    assert tasks[3].queue_position().queue_position == str(OUTSIDE + 3)

    # The outside tasks drain first, one per SECONDS; then ours, in order.
    depths, states = [], []
    for _ in range(7):
        clock.advance(SECONDS)
        depths.append(braket_depth(device))
        states.append([t.state() for t in tasks])
    assert depths == DEPTHS
    assert states == expected_states("QUEUED", "RUNNING", "COMPLETED", "CANCELLED"), states
    done = tasks[1].queue_position()
    assert done.queue_position is None and "COMPLETED" in str(done.message)

    for task in (tasks[0], tasks[1], tasks[3]):
        assert_bell(dict(task.result().measurement_counts))
    record = braket.task(tasks[3].id)
    assert record.status == "COMPLETED" and record.ended_at is not None
    assert (record.bucket, record.results_key) in braket.objects
    assert tasks[2].result() is None
    assert braket.cancelled == [tasks[2].id]


def test_braket_queue_drains_on_the_wall_clock(braket: FakeBraketService) -> None:
    from botocore.exceptions import ClientError
    from braket.aws import AwsDevice

    device = AwsDevice(QPU)
    drain = braket.drain(QPU, SECONDS, external_queue=OUTSIDE)
    assert drain is not None
    records: list[Any] = []
    schedule = Schedule(drain, records)
    tasks = []
    for _ in range(4):
        tasks.append(braket_run(device))
        records.append(braket.task(tasks[-1].id))
        queued = observe(lambda: braket_depth(device))
        schedule.check_depth(queued)
    cancelled: int | None = 2
    try:
        tasks[2].cancel()
    except ClientError as exc:  # a machine so loaded that its turn came and went
        assert exc.response["Error"]["Code"] == "ConflictException"
        assert schedule.phase(2, time.monotonic()) == "done"
        cancelled = None
    check_cancel(schedule, 2, queued, observe(lambda: braket_depth(device)))

    depths, seen = watch(
        lambda: braket_depth(device),
        [t.state for t in tasks],
        final={"COMPLETED", "CANCELLED", "FAILED"},
    )
    check_drained(schedule, depths, seen, BRAKET_PHASES, cancelled)
    for i in range(4):
        if i != cancelled:
            assert_bell(dict(tasks[i].result().measurement_counts))


# ------------------------------------------------------------------ IBM
IBM_PHASES = {"QUEUED": "queued", "RUNNING": "running", "DONE": "done", "CANCELLED": "cancelled"}


@pytest.fixture(scope="module")
def _ibm_platform() -> Iterator[FakeIBMQuantumPlatform]:
    with FakeIBMQuantumPlatform() as fake:
        yield fake


@pytest.fixture(scope="module")
def ibm_backend(_ibm_platform: FakeIBMQuantumPlatform) -> Any:
    """``QiskitRuntimeService(...).backend(IBM_DEVICE)``, signed in once for the module."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    return QiskitRuntimeService(**_ibm_platform.service_kwargs()).backend(IBM_DEVICE)


@pytest.fixture
def ibm(_ibm_platform: FakeIBMQuantumPlatform) -> FakeIBMQuantumPlatform:
    _ibm_platform.reset()
    return _ibm_platform


@pytest.fixture(scope="module")
def ibm_bell(ibm_backend: Any) -> Any:
    """A Bell circuit transpiled for the device."""
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return generate_preset_pass_manager(optimization_level=1, backend=ibm_backend).run(qc)


def ibm_run(backend: Any, circuit: Any) -> Any:
    from qiskit_ibm_runtime.executor_sampler import Sampler

    return Sampler(mode=backend).run([circuit], shots=SHOTS)


def ibm_counts(job: Any) -> dict[str, int]:
    return dict(job.result()[0].join_data().get_counts())


def test_ibm_queue_follows_the_clock_not_the_polls(
    ibm: FakeIBMQuantumPlatform, ibm_backend: Any, ibm_bell: Any
) -> None:
    from qiskit_ibm_runtime import QiskitRuntimeService

    clock = ManualClock()
    ibm.clock = clock
    ibm.drain(IBM_DEVICE, SECONDS, external_queue=OUTSIDE)
    assert ibm_backend.status().pending_jobs == OUTSIDE
    # GET /backends reports the same queue: the least busy device is the other one.
    assert QiskitRuntimeService(**ibm.service_kwargs()).least_busy().name == "ibm_perth"

    # Each submission joins the queue behind the outside jobs and ours.
    jobs = []
    for n in range(1, 5):
        jobs.append(ibm_run(ibm_backend, ibm_bell))
        assert ibm_backend.status().pending_jobs == OUTSIDE + n
    for _ in range(5):  # polls alone move nothing
        assert [j.status() for j in jobs] == ["QUEUED"] * 4
    assert ibm_backend.status().pending_jobs == OUTSIDE + 4
    assert all(ibm.job(j.job_id()).result_json is None for j in jobs)  # nothing ran yet

    # A queued job cancelled leaves the queue (the ones behind it move up).
    jobs[2].cancel()
    assert jobs[2].status() == "CANCELLED"
    assert ibm_backend.status().pending_jobs == OUTSIDE + 3

    # The outside jobs drain first, one per SECONDS; then ours, in order.
    depths, states = [], []
    for _ in range(7):
        clock.advance(SECONDS)
        depths.append(ibm_backend.status().pending_jobs)
        states.append([j.status() for j in jobs])
    assert depths == DEPTHS
    assert states == expected_states("QUEUED", "RUNNING", "DONE", "CANCELLED"), states
    for i in (0, 1, 3):
        assert_bell(ibm_counts(jobs[i]))
    assert ibm.cancelled == [jobs[2].job_id()]
    assert ibm.jobs[jobs[2].job_id()].result_json is None  # it never ran


def test_ibm_queue_drains_on_the_wall_clock(
    ibm: FakeIBMQuantumPlatform, ibm_backend: Any, ibm_bell: Any
) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

    drain = ibm.drain(IBM_DEVICE, SECONDS, external_queue=OUTSIDE)
    assert drain is not None
    records: list[Any] = []
    schedule = Schedule(drain, records)
    jobs = []
    for _ in range(4):
        jobs.append(ibm_run(ibm_backend, ibm_bell))
        records.append(ibm.job(jobs[-1].job_id()))
        queued = observe(lambda: ibm_backend.status().pending_jobs)
        schedule.check_depth(queued)
    cancelled: int | None = 2
    try:
        jobs[2].cancel()
    except RuntimeInvalidStateError:  # a machine so loaded that its turn came and went
        assert schedule.phase(2, time.monotonic()) == "done"
        cancelled = None
    check_cancel(schedule, 2, queued, observe(lambda: ibm_backend.status().pending_jobs))

    depths, seen = watch(
        lambda: ibm_backend.status().pending_jobs,
        [j.status for j in jobs],
        final={"DONE", "CANCELLED", "ERROR"},
    )
    check_drained(schedule, depths, seen, IBM_PHASES, cancelled)
    for i in range(4):
        if i != cancelled:
            assert_bell(ibm_counts(jobs[i]))

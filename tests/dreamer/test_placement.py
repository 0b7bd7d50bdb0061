"""Load-aware placement: our own tasks in the predicted queue, bursts spread within a
fidelity budget, and the budget's two ends (0: fidelity-greedy; low load: best fidelity)."""

from __future__ import annotations

from collections import Counter

import pytest

from dreamer import ResourceCapabilities, ResourceStatus
from dreamer.errors import NoFeasibleResourceError
from dreamer.load import LoadLedger
from dreamer.placement import (
    MEAN_WINDOW,
    FidelityBudget,
    check_fidelity_loss,
    place,
    slack_seconds,
)
from dreamer.ranking import Constraints, Ranker
from dreamer.timing import expected_wait_seconds, predicted_queue
from dreamer.workload import TaskRequirements, WorkloadProfile

PROFILE = WorkloadProfile.unknown(4, 1000)
REQ = TaskRequirements(name="burst", num_qubits=4, shots=1000)
#: Short runs (one job's run time is small next to the provider's 60 s per queued job).
FAST = {"task_overhead": 1.0, "shot_overhead": 1e-5, "1q": 1e-8, "2q": 1e-7, "readout": 1e-7}


def device(name: str, error_2q: float) -> ResourceCapabilities:
    return ResourceCapabilities(
        name=name,
        executor="braket_qpu",
        provider="aws",
        num_qubits=20,
        pilot="cloud",
        simulator=False,
        noisy=True,
        default_errors={"1q": error_2q / 10, "2q": error_2q, "readout": error_2q},
        durations=FAST,
    )


#: a and b are within 2 % of each other's estimated fidelity, c is not.
FLEET = [device("a", 0.004), device("b", 0.0045), device("c", 0.03)]


def statuses(queues: dict[str, int], job_seconds: float = 60.0) -> dict[str, ResourceStatus]:
    return {
        f"cloud/{n}": ResourceStatus(queue_depth=q, typical_job_seconds=job_seconds)
        for n, q in queues.items()
    }


def placed(objective: str, loss: float | None, count: int, queues: dict[str, int]) -> list[str]:
    ranker = Ranker(objective)
    ranked = ranker.rank(REQ, PROFILE, FLEET, statuses(queues))
    return [r.resource.name for r in place(ranker, REQ, PROFILE, ranked, count, loss)]


def test_the_fleet_is_what_the_tests_assume() -> None:
    ranked = Ranker("fidelity").rank(REQ, PROFILE, FLEET, statuses({"a": 0, "b": 0, "c": 0}))
    fid = {r.resource.name: r.breakdown["estimated_fidelity"] for r in ranked}
    assert fid["a"] > fid["b"] >= 0.98 * fid["a"] > fid["c"]


# ---------------------------------------------------------------- the ledger
def test_ledger_counts_what_the_provider_figure_does_not_hold() -> None:
    ledger = LoadLedger()
    for task in ("t1", "t2", "t3", "t4"):
        ledger.placed(task, "cloud/a")
    assert ledger.ours("cloud/a") == 4 and ledger.ours("cloud/a", counted_since=100.0) == 4
    ledger.submitted("t1", "job-1", at=90.0)  # before the provider was asked at 100: in its figure
    ledger.submitted("t2", "job-2", at=110.0)  # after: not yet
    ledger.submitted("t3", "job-2", at=110.0)  # the same job (coalesced): one in its queue
    assert ledger.ours("cloud/a", counted_since=100.0) == 1 + 1  # t4 waiting, job-2
    assert ledger.ours("cloud/a", counted_since=120.0) == 1  # asked again: only t4
    assert ledger.ours("cloud/a") == 4  # (a local resource counts every unfinished task)
    ledger.ended("t4")
    ledger.ended("t4")  # twice is harmless
    assert ledger.ours("cloud/a", counted_since=120.0) == 0 and ledger.placed_on("cloud/a") == 3
    ledger.renamed("t3", "t3-old")  # resumed under its journaled id
    ledger.renamed("nope", "x")  # (an id never placed: nothing happens)
    assert ledger.placed_on("cloud/a") == 3
    ledger.ended("t3-old")
    ledger.placed("t3", "cloud/a")
    ledger.placed("t1", "cloud/b")  # moved (resubmitted elsewhere)
    assert (ledger.placed_on("cloud/a"), ledger.placed_on("cloud/b")) == (2, 1)
    for task in ("t1", "t2", "t3"):
        ledger.ended(task)
    assert len(ledger) == 0 and ledger.ours("cloud/b") == 0


def test_predicted_queue_adds_ours_over_the_servers() -> None:
    status = ResourceStatus(queue_depth=3, priority_queue_depth=1, ours=6, servers=2)
    assert predicted_queue(status) == 3 + 1 + 3
    assert expected_wait_seconds(status, run_seconds=2.0) == 7 * 2.0
    assert expected_wait_seconds(ResourceStatus(ours=2, typical_job_seconds=60), 1.0) == 120.0
    assert predicted_queue(None) == 0


# ---------------------------------------------------------------- placement
def test_fidelity_greedy_herds_a_burst_onto_one_device() -> None:
    assert set(placed("fidelity", None, 300, {"a": 0, "b": 0, "c": 0})) == {"a"}


def test_a_budget_spreads_a_burst_within_it_and_never_beyond() -> None:
    where = Counter(placed("fidelity", 0.02, 300, {"a": 0, "b": 0, "c": 0}))
    # Equal job times: a keeps its slack more than b (ten minutes: 10 jobs, or 10 %).
    assert set(where) == {"a", "b"} and where["a"] >= where["b"]
    assert where["a"] - where["b"] <= max(10, 0.1 * where["b"]) + 1
    # An outside queue on a: b takes what a's queue costs, then they alternate.
    where = Counter(placed("fidelity", 0.02, 300, {"a": 40, "b": 0, "c": 0}))
    assert where["c"] == 0 and where["b"] >= 40
    assert 0 <= (where["a"] + 40) - where["b"] <= max(10, 0.1 * where["b"]) + 1


def test_at_low_load_a_budget_keeps_the_best_fidelity() -> None:
    assert placed("fidelity", 0.02, 1, {"a": 0, "b": 0, "c": 0}) == ["a"]
    # A queue shorter than the slack (ten minutes: 10 jobs of 60 s) does not move a task.
    assert placed("fidelity", 0.02, 1, {"a": 10, "b": 0, "c": 0}) == ["a"]
    assert placed("fidelity", 0.02, 1, {"a": 11, "b": 0, "c": 0}) == ["b"]


@pytest.mark.parametrize("queues", [{"a": 0, "b": 0, "c": 0}, {"a": 50, "b": 3, "c": 0}])
def test_no_loss_is_fidelity_greedy(queues: dict[str, int]) -> None:
    assert placed("fidelity", 0.0, 200, queues) == placed("fidelity", None, 200, queues)


def test_the_speed_objective_sees_the_queue_its_own_tasks_made() -> None:
    where = Counter(placed("speed", None, 300, {"a": 0, "b": 0, "c": 0}))
    assert len(where) == 3 and max(where.values()) - min(where.values()) <= 2


def test_placements_record_their_wait_and_budget() -> None:
    ranker = Ranker("fidelity")
    ranked = ranker.rank(REQ, PROFILE, FLEET, statuses({"a": 0, "b": 0, "c": 0}))
    out = place(ranker, REQ, PROFILE, ranked, 6, 0.02)
    waits = [r.breakdown["expected_wait_seconds"] for r in out if r.resource.name == "a"]
    assert waits == sorted(waits) and waits[0] == 0 and waits[-1] > 0
    first = out[0].breakdown
    assert first["max_fidelity_loss"] == 0.02
    assert first["fidelity_floor"] == pytest.approx(0.98 * first["best_fidelity"])
    assert [r.breakdown["ours_in_queue"] for r in out if r.resource.name == "a"][:2] == [0, 1]


def test_a_deadline_stops_a_queue_that_grew_past_it() -> None:
    ranker = Ranker("fidelity", Constraints(deadline_seconds=150))
    ranked = ranker.rank(REQ, PROFILE, FLEET[:1], statuses({"a": 0}))
    assert len(place(ranker, REQ, PROFILE, ranked, 2)) == 2  # waits 0 and 60 s
    with pytest.raises(NoFeasibleResourceError, match="after the deadline"):
        place(ranker, REQ, PROFILE, ranked, 4)  # the fourth would wait 180 s


def test_slack_and_budget_values() -> None:
    assert slack_seconds(10) == 600 and slack_seconds(60_000) == 6000
    assert check_fidelity_loss(None) is None and check_fidelity_loss(0) == 0.0
    for bad in (-0.1, 1, 1.5, "0.02", True, float("nan")):
        with pytest.raises(ValueError, match="max_fidelity_loss must be a number from 0"):
            check_fidelity_loss(bad)


def test_a_budget_on_average_spends_it_where_a_per_task_one_cannot() -> None:
    """d is 4.4 % below a: outside a 2 % budget per task, inside one on average (a
    task may lose up to 10 %), for at most 0.02 / 0.044 of the tasks."""
    fleet = [device("a", 0.004), device("d", 0.010)]
    ranker = Ranker("fidelity")
    ranked = ranker.rank(REQ, PROFILE, fleet, statuses({"a": 30, "d": 0}))
    per_task = place(ranker, REQ, PROFILE, ranked, 300, FidelityBudget(0.02))
    assert {r.resource.name for r in per_task} == {"a"}
    budget = FidelityBudget(0.02, mean=True)
    mean = place(ranker, REQ, PROFILE, ranked, 300, budget)
    fid = [r.breakdown["estimated_fidelity"] for r in mean]
    best = mean[0].breakdown["best_fidelity"]
    on_d = sum(r.resource.name == "d" for r in mean)
    assert 0 < on_d <= 0.02 / (1 - fid_of(ranked, "d") / best) * 300 + 1
    assert sum(best - f for f in fid) <= 0.02 * best * len(fid) + 1e-9  # the average holds
    assert mean[0].breakdown["fidelity_budget"] == "mean"
    # One account: the next burst starts from what this one left (less than one move
    # to d, plus its own share).
    assert budget.credit(best) < (0.02 + (1 - fid_of(ranked, "d") / best)) * best


def fid_of(ranked: list, name: str) -> float:
    return next(r.breakdown["estimated_fidelity"] for r in ranked if r.resource.name == name)


def test_the_average_is_over_a_window_and_never_refuses_the_best() -> None:
    budget = FidelityBudget(0.02, mean=True)
    assert budget.task_cap == pytest.approx(0.10)
    for _ in range(5 * MEAN_WINDOW):  # a long quiet spell on the best device...
        budget.spend(1.0, 1.0)
    assert budget.credit(1.0) == pytest.approx(0.10)  # ... lets a task lose at most the cap
    spent = []
    for _ in range(3 * MEAN_WINDOW):  # a long burst spends all it may
        spent.append(budget.credit(1.0))
        budget.spend(1.0, 1.0 - spent[-1])
        # Every window of the last MEAN_WINDOW tasks keeps the average.
        assert sum(spent[-MEAN_WINDOW:]) <= 0.02 * MEAN_WINDOW + 1e-9
    # Long after the quiet spell left the window, the burst runs at the budget.
    assert sum(spent[-MEAN_WINDOW:]) == pytest.approx(0.02 * MEAN_WINDOW, rel=1e-3)
    budget.spend(1.0, 0.5)  # a task placed elsewhere beyond the budget
    assert budget.credit(1.0) == 0.0  # overspent: only the best resource is allowed
    assert FidelityBudget(0.02).credit(0.5) == pytest.approx(0.01)  # per task: always x

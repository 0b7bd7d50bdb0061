"""Ranking properties (hypothesis) and the behaviour each objective promises."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamer import NoFeasibleResourceError, ResourceCapabilities, ResourceStatus
from dreamer.fidelity import FidelityModels
from dreamer.pricing import Pricing
from dreamer.ranking import OBJECTIVES, Constraints, Ranker, Weights, weights_for
from dreamer.workload import TaskRequirements, WorkloadProfile
from tests.dreamer.strategies import fleets, workloads, worse_error

OBJECTIVE_NAMES = sorted(OBJECTIVES)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def position(ranked: list, key: str) -> int:
    return [r.key for r in ranked].index(key)


def req_for(profile: WorkloadProfile) -> TaskRequirements:
    return TaskRequirements(name="t", num_qubits=profile.num_qubits, shots=profile.shots)


@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    objective=st.sampled_from(OBJECTIVE_NAMES),
    pick=st.integers(0, 10),
    extra=st.integers(1, 10_000),
)
def test_a_longer_queue_never_improves_rank(fleet, profile, objective, pick, extra) -> None:
    resources, statuses = fleet
    target = resources[pick % len(resources)]
    ranker = Ranker(objective)
    before = position(ranker.rank(req_for(profile), profile, resources, statuses), target.key)
    worse = dict(statuses)
    worse[target.key] = replace(
        statuses[target.key], queue_depth=statuses[target.key].queue_depth + extra
    )
    after = position(ranker.rank(req_for(profile), profile, resources, worse), target.key)
    assert after >= before


@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    objective=st.sampled_from(OBJECTIVE_NAMES),
    pick=st.integers(0, 10),
    which=st.integers(0, 200),
    delta=st.floats(1e-4, 0.5, allow_nan=False),
)
def test_a_higher_error_rate_never_improves_rank(
    fleet, profile, objective, pick, which, delta
) -> None:
    resources, statuses = fleet
    i = pick % len(resources)
    ranker = Ranker(objective)
    before = position(ranker.rank(req_for(profile), profile, resources, statuses), resources[i].key)
    worse = list(resources)
    worse[i] = worse_error(resources[i], which, delta)
    after = position(ranker.rank(req_for(profile), profile, worse, statuses), resources[i].key)
    assert after >= before


@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    objective=st.sampled_from(OBJECTIVE_NAMES),
    pick=st.integers(0, 10),
    per_shot=st.floats(0, 1),
    per_task=st.floats(0, 5),
)
def test_a_higher_price_never_improves_rank(
    fleet, profile, objective, pick, per_shot, per_task
) -> None:
    resources, statuses = fleet
    i = pick % len(resources)
    ranker = Ranker(objective)
    before = position(ranker.rank(req_for(profile), profile, resources, statuses), resources[i].key)
    old = resources[i].pricing or Pricing()
    worse = list(resources)
    worse[i] = replace(
        resources[i],
        pricing=replace(old, per_shot=old.per_shot + per_shot, per_task=old.per_task + per_task),
    )
    after = position(ranker.rank(req_for(profile), profile, worse, statuses), resources[i].key)
    assert after >= before


@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    which=st.integers(0, 200),
    delta=st.floats(1e-4, 0.5, allow_nan=False),
    pick=st.integers(0, 10),
)
def test_the_fidelity_estimate_is_monotone_in_every_error(
    fleet, profile, which, delta, pick
) -> None:
    resources, _ = fleet
    cap = resources[pick % len(resources)]
    if profile.num_qubits > cap.num_qubits:
        return
    before = FidelityModels().estimate(cap, profile).fidelity
    after = FidelityModels().estimate(worse_error(cap, which, delta), profile).fidelity
    assert after <= before + 1e-12


@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    objective=st.sampled_from(OBJECTIVE_NAMES),
    max_cost=st.none() | st.floats(0, 2),
    min_fidelity=st.none() | st.floats(0, 1),
    deadline=st.none() | st.floats(0, 3600),
)
def test_an_infeasible_resource_is_never_selected(
    fleet, profile, objective, max_cost, min_fidelity, deadline
) -> None:
    resources, statuses = fleet
    ranker = Ranker(
        objective,
        Constraints(max_cost=max_cost, min_fidelity=min_fidelity, deadline_seconds=deadline),
    )
    ranked = ranker.rank(req_for(profile), profile, resources, statuses)
    feasible = [r for r in ranked if r.feasible]
    assert all(r.feasible for r in ranked[: len(feasible)])  # feasible ones come first
    assert all(r.reasons for r in ranked if not r.feasible)  # every rejection says why
    if feasible:
        chosen = ranker.select(req_for(profile), profile, resources, statuses)
        assert chosen.feasible and chosen.key == feasible[0].key
    else:
        with pytest.raises(NoFeasibleResourceError) as info:
            ranker.select(req_for(profile), profile, resources, statuses)
        assert set(info.value.rejections) == {r.key for r in ranked}


@pytest.mark.slow
@PROPERTY
@given(
    fleet=fleets(),
    profile=workloads(),
    objective=st.sampled_from(OBJECTIVE_NAMES),
    seed=st.integers(0, 10**6),
)
def test_ranking_is_deterministic_whatever_the_input_order(fleet, profile, objective, seed) -> None:
    resources, statuses = fleet
    first = [
        (r.key, r.score)
        for r in Ranker(objective).rank(req_for(profile), profile, resources, statuses)
    ]
    shuffled = list(resources)
    random.Random(seed).shuffle(shuffled)
    again = [
        (r.key, r.score)
        for r in Ranker(objective).rank(req_for(profile), profile, shuffled, statuses)
    ]
    assert again == first


# ---------------------------------------------------------------- objectives
def device(name: str, **kw: object) -> ResourceCapabilities:
    base = dict(
        executor="qiskit_fake",
        provider="ibm",
        pilot="p",
        num_qubits=5,
        noisy=True,
        simulator=False,
        coupling_map=((0, 1), (1, 0), (1, 2), (2, 1)),
        gate_errors={("cx", (0, 1)): 0.01, ("cx", (1, 2)): 0.01},
    )
    base.update(kw)
    return ResourceCapabilities(name=name, **base)  # type: ignore[arg-type]


BELL = WorkloadProfile(
    num_qubits=2,
    one_qubit={0: 1},
    interactions={(0, 1): 1},
    depth=2,
    measured=(0, 1),
    shots=1000,
    gates=frozenset({"h", "cx"}),
)


def test_speed_moves_a_long_queue_down_and_fidelity_does_not_care() -> None:
    good = device("good", gate_errors={("cx", (0, 1)): 0.005, ("cx", (1, 2)): 0.005})
    busy_statuses = {
        good.key: ResourceStatus(queue_depth=500, typical_job_seconds=60),
        "p/fast": ResourceStatus(queue_depth=0),
    }
    fast = device("fast")
    req = req_for(BELL)
    assert Ranker("speed").select(req, BELL, [good, fast], busy_statuses).resource.name == "fast"
    assert Ranker("fidelity").select(req, BELL, [good, fast], busy_statuses).resource.name == "good"


def test_cost_prefers_a_free_simulator_when_it_is_feasible() -> None:
    qpu = device("qpu", pricing=Pricing(per_task=0.3, per_shot=0.01))
    sim = ResourceCapabilities(
        name="sim",
        executor="qiskit_local",
        provider="local",
        pilot="p",
        num_qubits=30,
        supports_exact=True,
    )
    req = req_for(BELL)
    ranked = Ranker("cost").rank(req, BELL, [qpu, sim])
    assert ranked[0].resource.name == "sim"
    assert ranked[1].breakdown["estimated_cost"] == pytest.approx(0.3 + 0.01 * 1000)
    small = replace(sim, num_qubits=1)  # infeasible: the QPU wins despite its price
    assert Ranker("cost").select(req, BELL, [qpu, small]).resource.name == "qpu"


def test_constraints_reject_with_reasons() -> None:
    qpu = device("qpu", pricing=Pricing(per_task=0.3, per_shot=0.01))
    ranker = Ranker(
        "balanced",
        Constraints(
            max_cost=1.0, min_fidelity=0.999, deadline_seconds=10, providers=frozenset({"aws"})
        ),
    )
    (entry,) = ranker.rank(
        req_for(BELL),
        BELL,
        [qpu],
        {qpu.key: ResourceStatus(queue_depth=10, typical_job_seconds=60)},
    )
    text = "; ".join(entry.reasons)
    assert not entry.feasible
    assert "estimated cost 10.3000 exceeds max_cost 1.0000" in text
    assert "below min_fidelity 0.999" in text
    assert "after the deadline (10 s)" in text
    assert "provider 'ibm' is not allowed" in text


def test_translation_feasibility_after_basis_translation() -> None:
    ecr = device("ecr", native_gates=frozenset({"rz", "sx", "x", "ecr", "measure"}))
    no_entangler = device("lonely", native_gates=frozenset({"rz", "sx", "x"}))
    no_rotation = device("clifford", native_gates=frozenset({"cx", "h"}))
    ranked = {
        r.resource.name: r
        for r in Ranker().rank(req_for(BELL), BELL, [ecr, no_entangler, no_rotation])
    }
    assert ranked["ecr"].feasible  # h/cx translate to rz/sx/ecr
    assert ranked["clifford"].feasible  # its own gates
    assert "no entangling two-qubit gate" in ranked["lonely"].reasons[0]
    rotation = replace(BELL, gates=frozenset({"ry", "cx"}))
    (entry,) = Ranker().rank(req_for(rotation), rotation, [no_rotation])
    assert "cannot translate ['ry']" in entry.reasons[0]
    assert "no universal single-qubit set" in entry.reasons[0]


def test_explicit_weights_and_errors() -> None:
    assert weights_for({"fidelity": 2, "time": 0}) == Weights(fidelity=2.0, time=0.0, cost=0.1)
    with pytest.raises(ValueError, match="unknown objective 'fastest'"):
        weights_for("fastest")
    with pytest.raises(ValueError, match="unknown weight 'speed'"):
        weights_for({"speed": 1})
    with pytest.raises(ValueError, match="'time' must be a number >= 0"):
        Weights(time=-1)


def test_tie_break_is_documented_order() -> None:
    a = ResourceCapabilities(
        name="a", executor="qiskit_local", provider="local", pilot="p2", num_qubits=5
    )
    b = replace(a, name="b", pilot="p1")
    ranked = Ranker().rank(req_for(BELL), BELL, [a, b])
    assert [r.key for r in ranked] == ["p1/b", "p2/a"]  # equal in all else: by key

"""Cutting plans and reconstruction (``pilot.cutting``, on ``qiskit-addon-cutting``), in
process: subexperiments run on Aer, values checked against the statevector."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import transpile
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

from pilot.cutting import CuttingOptions, plan_cuts, reconstruct
from pilot.errors import ConfigError
from tests.helpers import exact_expectations, ladder

OBSERVABLES = [SparsePauliOp(["ZZZZZZ", "ZIIIIZ"], coeffs=[1.0, 0.5]), "XIIIII", "IIZZII"]


def run_counts(plan, shots: int, seed: int) -> dict:
    sim = AerSimulator(method="statevector", seed_simulator=seed)
    out = {}
    for label, circuits in plan.subexperiments.items():
        result = sim.run(transpile(list(circuits), sim), shots=shots).result()
        out[label] = [result.get_counts(i) for i in range(len(circuits))]
    return out


def test_a_plan_fits_every_fragment_and_says_what_it_costs() -> None:
    plan = plan_cuts(ladder(), OBSERVABLES, CuttingOptions.of({"max_fragment_qubits": 3}))
    summary = plan.summary()
    assert summary["num_cuts"] >= 1 and summary["sampling_overhead"] >= 3
    assert all(w <= 3 for w in plan.fragments.values()) and sum(plan.fragments.values()) >= 6
    assert summary["num_subexperiments"] == sum(len(v) for v in plan.subexperiments.values())
    assert all(c.num_qubits <= 3 for v in plan.subexperiments.values() for c in v)


def test_reconstructed_values_match_the_statevector_within_their_standard_errors() -> None:
    qc = ladder()
    plan = plan_cuts(qc, OBSERVABLES, CuttingOptions.of({"max_fragment_qubits": 3}))
    values, errors = reconstruct(plan, run_counts(plan, 20_000, seed=5), sampled=True, seed=1)
    assert np.all(errors > 0) and np.all(errors < 0.05)
    assert np.all(np.abs(values - exact_expectations(qc, OBSERVABLES)) <= 4 * errors), (
        values,
        exact_expectations(qc, OBSERVABLES),
        errors,
    )


def test_a_circuit_that_fits_is_not_cut() -> None:
    qc = ladder()
    plan = plan_cuts(qc, OBSERVABLES, CuttingOptions.of({"max_fragment_qubits": 6}))
    assert plan.uncut and plan.cuts == () and plan.sampling_overhead == 1.0
    values, errors = reconstruct(plan, run_counts(plan, 20_000, seed=2), sampled=True, seed=1)
    assert np.all(np.abs(values - exact_expectations(qc, OBSERVABLES)) <= 4 * errors)


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        ({}, "cutting.max_fragment_qubits", "max_fragment_qubits is required"),
        ({"max_fragment_qubits": 0}, "cutting.max_fragment_qubits", "whole number >= 1"),
        ({"max_fragment_qubits": 3, "max_fragments": 2}, "cutting.max_fragments", "unknown key"),
        ({"max_fragment_qubits": True}, "cutting.max_fragment_qubits", "whole number"),
    ],
)
def test_bad_cutting_options_are_config_errors(options: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        CuttingOptions.of(options)
    assert info.value.key == key


def test_a_plan_over_the_subexperiment_limit_is_refused_with_its_numbers() -> None:
    options = CuttingOptions.of({"max_fragment_qubits": 2, "max_subexperiments": 10})
    words = r"the plan has \d+ subexperiments .*max_subexperiments=10"
    with pytest.raises(ConfigError, match=words):
        plan_cuts(ladder(), OBSERVABLES, options)


@pytest.mark.slow
def test_standard_errors_are_honest_over_many_seeds() -> None:
    """Coverage: over 40 independent runs (simulator seeds far apart, so no two runs
    share a random stream), the reconstructed values fall within one reported standard
    error of the exact ones about 68 % of the time and within two about 95 %."""
    qc = ladder()
    plan = plan_cuts(qc, OBSERVABLES, CuttingOptions.of({"max_fragment_qubits": 3}))
    exact = exact_expectations(qc, OBSERVABLES)
    sim = AerSimulator(method="statevector")
    circuits = {label: transpile(list(c), sim) for label, c in plan.subexperiments.items()}
    z, errors = [], []
    for run in range(40):
        outcomes = {}
        for label, batch in circuits.items():
            result = sim.run(batch, shots=1000, seed_simulator=100_000 * (run + 1)).result()
            outcomes[label] = [result.get_counts(i) for i in range(len(batch))]
        values, se = reconstruct(plan, outcomes, sampled=True, seed=run)
        z.append(np.abs(values - exact) / se)
        errors.append(se)
    z_all = np.concatenate(z)
    within_one, within_two = np.mean(z_all <= 1), np.mean(z_all <= 2)
    assert 0.55 <= within_one <= 0.80, within_one
    assert within_two >= 0.88, within_two
    # The errors shrink as 1/sqrt(shots): 1000 shots, sampling overhead 9.
    assert np.all(np.mean(errors, axis=0) < 0.05)

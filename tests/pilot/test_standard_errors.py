"""Standard errors of expectation values estimated from shots (in process, on Aer):
honest over many seeds, zero-free for exact runs, and kept through JSON."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit

from pilot import QuantumTask
from pilot.config import parse_description
from pilot.pilots.actor import QuantumWorker
from pilot.pilots.execution import execute
from pilot.results import QuantumResult
from tests.helpers import exact_expectations

#: A sum whose terms are measured together (ZZI, IZZ: one basis) and apart (XII).
OBSERVABLES = [{"ZZI": 1.0, "IZZ": 0.5, "XII": 0.3}, "IIX", {"ZII": 2.0}]


def circuit() -> QuantumCircuit:
    qc = QuantumCircuit(3)
    qc.ry(0.7, 0)
    qc.cx(0, 1)
    qc.rx(0.4, 2)
    qc.cx(1, 2)
    return qc


def run(seed: int, shots: int | None) -> object:
    description = parse_description(
        {"resource_type": "quantum", "quantum": {"executor": "qiskit_local", "seed": seed}}
    )
    worker = QuantumWorker(description.quantum, pilot="p", num_cpus=1)
    loaded = QuantumTask(circuit(), shots=shots, observables=OBSERVABLES).load_on_driver()
    (outcome,) = execute(worker.backend, "aer_simulator", [loaded], shots)
    return outcome


def test_sampled_expectation_values_carry_honest_standard_errors() -> None:
    """Over 150 seeds (far apart), within one standard error ~68 % of the time and
    within two ~95 %, for a sum of correlated terms as for a single Pauli."""
    exact = exact_expectations(circuit(), OBSERVABLES)
    z = []
    for i in range(150):
        outcome = run(100_000 * (i + 1), 500)
        z.append(np.abs(np.array(outcome.expectation_values) - exact) / outcome.standard_errors)
    z_all = np.array(z)
    within_one, within_two = np.mean(z_all <= 1, axis=0), np.mean(z_all <= 2, axis=0)
    assert np.all((within_one >= 0.58) & (within_one <= 0.78)), within_one
    assert np.all(within_two >= 0.90), within_two


def test_exact_values_have_no_standard_errors_and_json_keeps_them() -> None:
    assert run(1, None).standard_errors is None
    sampled = run(2, 1000)
    errors = sampled.standard_errors
    assert errors is not None and len(errors) == len(OBSERVABLES) and min(errors) > 0
    result = QuantumResult(
        "t",
        "t",
        None,
        1000,
        None,
        sampled.expectation_values,
        "aer_simulator",
        "qiskit_local",
        "p",
        "qiskit",
        "portable",
        0.0,
        0.0,
        0.0,
        standard_errors=errors,
    )
    assert QuantumResult.from_json(result.to_json()).standard_errors == errors
    legacy = {k: v for k, v in json_fields(result).items() if k != "standard_errors"}
    assert QuantumResult.from_json(legacy).standard_errors is None  # written before the field


def json_fields(result: QuantumResult) -> dict:
    import json

    return json.loads(result.to_json())

"""Cut tasks through the service: subexperiments placed by QDREAMER on two pilots,
one result with reconstructed expectation values and honest standard errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import ray
from qiskit.quantum_info import Pauli, StabilizerState

from pilot import ConfigError, PilotComputeService, QuantumTask
from tests.helpers import exact_expectations, ladder, stabilizer_observables, two_blocks

pytestmark = pytest.mark.slow

OBSERVABLES = [{"ZZZZZZ": 1.0, "ZIIIIZ": 0.5}, "XIIIII", "IIZZII"]


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Iterator[PilotComputeService]:
    with PilotComputeService(working_directory=workdir) as service:
        for name in ("aer-a", "aer-b"):
            service.create_pilot(
                name=name, resource_type="quantum", quantum={"executor": "qiskit_local"}
            )
        service.initialize_dreamer()
        yield service


def test_a_cut_task_reconstructs_within_its_standard_errors(pcs: PilotComputeService) -> None:
    qc = ladder()
    task = QuantumTask(
        qc, shots=20_000, observables=OBSERVABLES, cutting={"max_fragment_qubits": 3}
    )
    result = pcs.get_results(pcs.submit_quantum_task(task), timeout=300)
    values = np.array(result.expectation_values)
    errors = np.array(result.standard_errors)
    assert np.all(errors > 0) and np.all(errors < 0.05)
    assert np.all(np.abs(values - exact_expectations(qc, OBSERVABLES)) <= 4 * errors), (
        values,
        exact_expectations(qc, OBSERVABLES),
        errors,
    )
    cut = result.metadata["cutting"]
    assert cut["num_cuts"] >= 1 and cut["sampling_overhead"] >= 3
    assert all(width <= 3 for width in cut["fragments"].values())
    assert cut["num_subexperiments"] == len(cut["subexperiment_tasks"])
    ran = {where for per in cut["where"].values() for where in per}
    assert ran <= {"aer-a/aer_simulator", "aer-b/aer_simulator"} and len(ran) == 2  # both pilots
    assert sum(sum(per.values()) for per in cut["where"].values()) == cut["num_subexperiments"]


def test_a_circuit_that_fits_runs_uncut(pcs: PilotComputeService) -> None:
    qc = ladder()
    task = QuantumTask(
        qc, shots=20_000, observables=OBSERVABLES, cutting={"max_fragment_qubits": 6}
    )
    result = pcs.get_results(pcs.submit_quantum_task(task), timeout=300)
    assert result.metadata["cutting"]["num_cuts"] == 0
    assert np.all(
        np.abs(np.array(result.expectation_values) - exact_expectations(qc, OBSERVABLES))
        <= 4 * np.array(result.standard_errors)
    )


def test_cutting_needs_observables_and_a_plan_within_its_limits(pcs: PilotComputeService) -> None:
    with pytest.raises(ConfigError, match="cutting reconstructs expectation values") as info:
        QuantumTask(ladder(), shots=100, cutting={"max_fragment_qubits": 3})
    assert info.value.key == "cutting"
    task = QuantumTask(
        ladder(),
        shots=100,
        observables=OBSERVABLES,
        cutting={"max_fragment_qubits": 2, "max_subexperiments": 10},
    )
    with pytest.raises(ConfigError, match=r"subexperiments .*max_subexperiments=10"):
        pcs.submit_quantum_task(task)


def test_a_plan_is_priced_before_paying_and_refused_over_the_cost_limit(
    pcs: PilotComputeService, fake_braket: Any
) -> None:
    task = QuantumTask(
        ladder(), shots=1000, observables=OBSERVABLES, cutting={"max_fragment_qubits": 3}
    )
    estimate = pcs.estimate_cost(task)
    assert estimate["num_subexperiments"] >= 2 and estimate["sampling_overhead"] >= 3
    assert estimate["total_shots"] == 1000 * estimate["num_subexperiments"]
    assert estimate["total_cost"] == 0.0  # local simulators are free
    assert {f["pilot"] for f in estimate["per_fragment"].values()} <= {"aer-a", "aer-b"}
    # On a priced device (the fake Braket SV1), over max_cost_per_task: refused at once.
    pcs.create_pilot(
        name="sv1",
        resource_type="quantum",
        quantum={
            "executor": "braket_sv1",
            "s3_bucket": "qdreamer-test",
            "poll_interval_seconds": 0.01,
        },
    )
    try:
        pcs.initialize_dreamer(max_cost_per_task=0.001)
        priced = QuantumTask(
            ladder(),
            shots=1000,
            observables=OBSERVABLES,
            cutting={"max_fragment_qubits": 3},
            pilot="sv1",
        )
        cost = pcs.estimate_cost(priced)
        assert cost["total_cost"] > 0.001 and cost["currency"] == "USD"
        with pytest.raises(
            ConfigError, match=r"cost an estimated [\d.]+ USD, over max_cost_per_task=0.001"
        ) as info:
            pcs.submit_quantum_task(priced)
        assert info.value.key == "max_cost_per_task"
    finally:
        pcs.initialize_dreamer()
        pcs.get_pilot("sv1").cancel()


def test_exact_cut_values_equal_the_statevector(pcs: PilotComputeService) -> None:
    """shots=None: every subexperiment's exact distribution (its mid-circuit measurements
    deferred on Aer), so the reconstruction is exact too."""
    qc = ladder()
    task = QuantumTask(qc, shots=None, observables=OBSERVABLES, cutting={"max_fragment_qubits": 3})
    result = pcs.get_results(pcs.submit_quantum_task(task), timeout=300)
    assert result.metadata["cutting"]["num_cuts"] >= 1
    exact = exact_expectations(qc, OBSERVABLES)
    assert np.max(np.abs(np.array(result.expectation_values) - exact)) <= 1e-6
    assert result.standard_errors == [0.0] * len(OBSERVABLES)


def test_a_40_qubit_clifford_circuit_cut_in_two_matches_its_stabilizer_state(
    pcs: PilotComputeService,
) -> None:
    """Wider than any pilot here (Aer's resources stop at 30 qubits on this machine):
    two 20-qubit blocks joined by two CX gates, cut into fragments of at most 20."""
    qc = two_blocks()
    observables = stabilizer_observables(qc, [0, 7, 19, 20, 26, 39])
    state = StabilizerState(qc)
    exact = np.array([state.expectation_value(Pauli(o)) for o in observables])
    assert np.count_nonzero(exact) >= 8  # not a test of zeros
    task = QuantumTask(qc, shots=None, observables=observables, cutting={"max_fragment_qubits": 20})
    result = pcs.get_results(pcs.submit_quantum_task(task), timeout=600)
    cut = result.metadata["cutting"]
    assert cut["num_qubits"] == 40 and max(cut["fragments"].values()) <= 20
    assert np.max(np.abs(np.array(result.expectation_values) - exact)) <= 1e-6
    # With shots: within 4 standard errors of the same values.
    sampled = QuantumTask(
        qc, shots=4000, observables=observables, cutting={"max_fragment_qubits": 20}
    )
    result = pcs.get_results(pcs.submit_quantum_task(sampled), timeout=600)
    values, errors = np.array(result.expectation_values), np.array(result.standard_errors)
    assert np.all(np.abs(values - exact) <= 4 * errors + 1e-9), (values, exact, errors)


def test_ordinary_sampled_expectation_values_have_standard_errors(
    pcs: PilotComputeService,
) -> None:
    qc = ladder()
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(qc, shots=4000, observables=OBSERVABLES))
    )
    errors = np.array(result.standard_errors)
    assert errors.shape == (len(OBSERVABLES),) and np.all(errors > 0)
    exact = exact_expectations(qc, OBSERVABLES)
    assert np.all(np.abs(np.array(result.expectation_values) - exact) <= 4 * errors)
    exact_run = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(qc, shots=None, observables=OBSERVABLES))
    )
    assert exact_run.standard_errors is None


def rotated_ladder(scale: float) -> Any:
    qc = ladder()
    for q in range(qc.num_qubits):
        qc.rz(scale * (q + 1), q)
    return qc


def test_a_decorated_circuit_function_is_cut_and_its_plan_prints(
    pcs: PilotComputeService,
) -> None:
    options = {"shots": None, "observables": OBSERVABLES, "cutting": {"max_fragment_qubits": 3}}
    decorated = pcs.quantum_task(**options)(rotated_ladder)
    result = pcs.get_results(decorated.remote(0.1), timeout=300)
    exact = exact_expectations(rotated_ladder(0.1), OBSERVABLES)
    assert result.metadata["cutting"]["num_cuts"] >= 1
    assert np.max(np.abs(np.array(result.expectation_values) - exact)) <= 1e-6
    # pcs.quantum takes it too; the estimate of its task prints as a plan.
    task = pcs.quantum(rotated_ladder, **options).task(0.1)
    estimate = pcs.estimate_cost(task)
    text = str(estimate)
    assert text.startswith("cut plan: 6 qubits, 1 cut(s) (gate cut at instruction"), text
    assert f"total: {estimate['num_subexperiments']} subexperiments, exact, 0.00 USD" in text
    assert "aer_simulator" in text and "free" in text
    with pytest.raises(ConfigError, match="pass values, not ObjectRefs"):
        pcs.submit_quantum_task(decorated.task(ray.put(0.1)))


def test_fragments_also_fit_the_widest_resource_that_can_run_them(
    pcs: PilotComputeService,
) -> None:
    """Pinned to a 5-qubit device, a 6-qubit circuit allowed fragments of 20 is cut
    anyway: every fragment fits the device."""
    pcs.create_pilot(
        name="manila",
        resource_type="quantum",
        quantum={"executor": "qiskit_fake", "backends": ["fake_manila"], "seed": 5},
    )
    try:
        task = QuantumTask(
            ladder(),
            shots=1000,
            observables=OBSERVABLES,
            cutting={"max_fragment_qubits": 20},
            pilot="manila",
        )
        assert max(pcs.estimate_cost(task)["fragments"].values()) <= 5
        result = pcs.get_results(pcs.submit_quantum_task(task), timeout=300)
        cut = result.metadata["cutting"]
        assert cut["num_cuts"] >= 1 and max(cut["fragments"].values()) <= 5
        assert set(cut["where"]["0"]) == {"manila/fake_manila"}
        exact = exact_expectations(ladder(), OBSERVABLES)
        assert np.all(np.abs(np.array(result.expectation_values) - exact) < 0.5)  # noisy
    finally:
        pcs.get_pilot("manila").cancel()

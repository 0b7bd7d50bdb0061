"""The fidelity estimate on hand-made devices: what it counts and where it places qubits."""

from __future__ import annotations

import math

import pytest

from dreamer.fidelity import TYPICAL_ERRORS, FidelityModels
from dreamer.resource import ResourceCapabilities
from dreamer.workload import WorkloadProfile

# A 4-qubit line 0-1-2-3 where the 2-3 coupler is best and qubit 0 reads out badly.
LINE = ResourceCapabilities(
    name="line",
    executor="qiskit_fake",
    provider="ibm",
    num_qubits=4,
    noisy=True,
    simulator=False,
    coupling_map=((0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)),
    gate_errors={("sx", (q,)): 0.001 for q in range(4)}
    | {
        ("cx", (0, 1)): 0.02,
        ("cx", (1, 2)): 0.02,
        ("cx", (2, 3)): 0.005,
        ("cx", (1, 0)): 0.02,
        ("cx", (2, 1)): 0.02,
        ("cx", (3, 2)): 0.005,
    },
    readout_errors={0: 0.2, 1: 0.01, 2: 0.01, 3: 0.01},
)
BELL = WorkloadProfile(
    num_qubits=2, one_qubit={0: 1}, interactions={(0, 1): 1}, depth=2, measured=(0, 1)
)


def test_esp_counts_gates_and_readouts_on_the_best_qubits() -> None:
    est = FidelityModels().estimate(LINE, BELL)
    assert set(est.layout) == {2, 3} and est.swaps == 0 and est.model == "calibration"
    expected = (1 - 0.001) * (1 - 0.005) * (1 - 0.01) ** 2
    assert est.fidelity == pytest.approx(expected)


def test_mid_circuit_readouts_and_resets_cost_their_own_errors() -> None:
    from dataclasses import replace

    caps = replace(LINE, reset_errors={0: 0.3, 1: 0.02, 2: 0.02, 3: 0.04})
    dynamic = replace(BELL, mid_measurements={1: 2}, resets={0: 1})
    est = FidelityModels().estimate(caps, dynamic)
    # On 2-3: two more readouts on the best readout (0.01), one reset on the best reset (0.02).
    assert set(est.layout) == {2, 3}
    expected = (1 - 0.001) * (1 - 0.005) * (1 - 0.01) ** 2 * (1 - 0.01) ** 2 * (1 - 0.02)
    assert est.fidelity == pytest.approx(expected)
    # A device without reset figures charges the typical reset error.
    est = FidelityModels().estimate(LINE, replace(BELL, resets={0: 1}))
    plain = (1 - 0.001) * (1 - 0.005) * (1 - 0.01) ** 2
    assert est.fidelity == pytest.approx(plain * (1 - TYPICAL_ERRORS["reset"]))


def test_a_faulty_direction_keeps_the_layout_off_that_coupler() -> None:
    broken = LINE.__class__(
        **{**LINE.__dict__, "gate_errors": {**LINE.gate_errors, ("cx", (3, 2)): 1.0}}
    )
    est = FidelityModels().estimate(broken, BELL)
    assert set(est.layout) == {1, 2}
    assert est.fidelity == pytest.approx((1 - 0.001) * (1 - 0.02) * (1 - 0.01) ** 2)


def test_interactions_beyond_the_couplers_cost_swaps() -> None:
    triangle = WorkloadProfile(
        num_qubits=3, interactions={(0, 1): 1, (1, 2): 1, (0, 2): 1}, measured=(0, 1, 2)
    )
    chain = WorkloadProfile(num_qubits=3, interactions={(0, 1): 1, (1, 2): 1}, measured=(0, 1, 2))
    models = FidelityModels()
    # a line has no cycle: the triangle's third interaction needs a SWAP (3 more CX)
    ratio = models.estimate(LINE, triangle).fidelity / models.estimate(LINE, chain).fidelity
    assert ratio < (1 - 0.005) ** 3


def test_ideal_simulators_and_uncalibrated_devices() -> None:
    ideal = ResourceCapabilities(
        name="aer", executor="qiskit_local", provider="local", num_qubits=30
    )
    assert FidelityModels().estimate(ideal, BELL).fidelity == 1.0
    bare = ResourceCapabilities(
        name="qpu", executor="braket_qpu", provider="aws", num_qubits=5, noisy=True, simulator=False
    )
    est = FidelityModels().estimate(bare, BELL)
    assert est.model == "typical"
    expected = (
        (1 - TYPICAL_ERRORS["1q"])
        * (1 - TYPICAL_ERRORS["2q"])
        * (1 - TYPICAL_ERRORS["readout"]) ** 2
    )
    assert est.fidelity == pytest.approx(expected)
    averaged = ResourceCapabilities(
        name="ion",
        executor="braket_qpu",
        provider="aws",
        num_qubits=5,
        noisy=True,
        simulator=False,
        default_errors={"1q": 0.0005, "2q": 0.004, "readout": 0.003},
    )
    est = FidelityModels().estimate(averaged, BELL)
    assert est.model == "device-average"
    assert est.fidelity == pytest.approx(0.9995 * 0.996 * 0.997**2)


def test_too_wide_and_memoised() -> None:
    wide = WorkloadProfile(num_qubits=5)
    models = FidelityModels()
    assert models.estimate(LINE, wide).fidelity == 0.0
    a = models.estimate(LINE, BELL)
    assert models.estimate(LINE, BELL) is a  # memoised per workload signature
    assert math.isclose(
        a.fidelity,
        models.estimate(
            LINE,
            WorkloadProfile(
                num_qubits=2, one_qubit={0: 1}, interactions={(0, 1): 1}, depth=2, measured=(0, 1)
            ),
        ).fidelity,
    )

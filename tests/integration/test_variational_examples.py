"""The variational examples reach their exact answers (issue 4).

``examples/vqe.py`` and ``examples/qaoa_maxcut.py`` are imported from their
files and their ``main()`` runs in this process: each creates its own
service, which joins this session's Ray and leaves it running.  Two checks
of the examples' math run without the service, in milliseconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import ray

ROOT = Path(__file__).resolve().parents[2]

#: H2 / STO-3G at 0.735 angstrom: full-CI electronic energy and total energy (hartree).
H2_ELECTRONIC = -1.857275030202
H2_TOTAL = -1.137306035753


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"examples_{name}", ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vqe() -> ModuleType:
    return load_example("vqe")


@pytest.fixture(scope="module")
def qaoa() -> ModuleType:
    return load_example("qaoa_maxcut")


def test_parameter_shift_gradient_is_exact(vqe: ModuleType) -> None:
    from qiskit.quantum_info import SparsePauliOp, Statevector

    ansatz = vqe.hardware_efficient_ansatz(2, 2)
    matrix = SparsePauliOp.from_list(list(vqe.H2_PARITY_2Q.items())).to_matrix()

    def energies(sets: np.ndarray) -> np.ndarray:
        states = [Statevector(ansatz.assign_parameters(row)).data for row in sets]
        return np.array([np.real(np.vdot(s, matrix @ s)) for s in states])

    theta = np.random.default_rng(3).uniform(-np.pi, np.pi, ansatz.num_parameters)
    energy, grad = vqe.energy_and_gradient(energies, theta)
    h = 1e-6
    steps = np.eye(len(theta)) * h
    central = (energies(theta + steps) - energies(theta - steps)) / (2 * h)
    assert energy == pytest.approx(energies(theta[None, :])[0], abs=1e-12)
    np.testing.assert_allclose(grad, central, atol=1e-8)


def test_both_h2_hamiltonians_have_the_full_ci_ground_energy(vqe: ModuleType) -> None:
    assert vqe.exact_ground_energy(vqe.H2_PARITY_2Q) == pytest.approx(H2_ELECTRONIC, abs=1e-9)
    assert vqe.exact_ground_energy(vqe.H2_JW_4Q) == pytest.approx(H2_ELECTRONIC, abs=1e-9)


def test_cost_hamiltonian_diagonal_is_the_cut_of_each_counts_key(qaoa: ModuleType) -> None:
    from qiskit.quantum_info import SparsePauliOp

    n = qaoa.NUM_NODES
    cost = SparsePauliOp.from_list(list(qaoa.cost_hamiltonian(n, qaoa.EDGES).items()))
    diagonal = np.real(np.diag(cost.to_matrix()))
    for index, value in enumerate(diagonal):
        key = format(index, f"0{n}b")  # Qiskit: basis index bit i = qubit i = rightmost char i
        assert value == qaoa.cut_value(qaoa.bits_of_key(key, n), qaoa.EDGES)
    assert qaoa.bits_of_key("000001", n) == (1, 0, 0, 0, 0, 0)


@pytest.mark.slow
def test_vqe_reaches_the_exact_ground_energy(ray_session: None, vqe: ModuleType) -> None:
    out = vqe.main(["--shots", "1000000"])
    assert out["exact_energy"] == pytest.approx(H2_ELECTRONIC, abs=1e-9)
    assert vqe.TOLERANCE == 1e-4
    assert abs(out["energy"] - out["exact_energy"]) <= vqe.TOLERANCE
    # The optimum's energy estimated from samples is within chemical accuracy.
    assert abs(out["sampled_energy"] - out["exact_energy"]) <= vqe.CHEMICAL_ACCURACY
    assert out["total_energy"] == pytest.approx(H2_TOTAL, abs=vqe.TOLERANCE)
    assert out["within_tolerance"]
    # One quantum task per optimiser evaluation, each a sweep of 2P + 1 parameter sets.
    assert out["num_parameters"] == 12
    assert out["circuits"] == out["tasks"] * (2 * 12 + 1)
    assert out["iterations"] <= out["tasks"] <= 200
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2


@pytest.mark.slow
def test_qaoa_samples_the_brute_force_maxcut(ray_session: None, qaoa: ModuleType) -> None:
    out = qaoa.main([])
    assert out["optimum"] == 8
    assert sorted(out["optimal_assignments"]) == [(0, 1, 0, 0, 1, 1), (1, 0, 1, 1, 0, 0)]
    assert out["best_sampled_cut"] == out["optimum"]
    assert out["best_assignment"] in out["optimal_assignments"]
    assert qaoa.MIN_APPROXIMATION_RATIO == 0.85
    assert out["approximation_ratio"] >= qaoa.MIN_APPROXIMATION_RATIO
    assert out["expected_cut"] == pytest.approx(out["approximation_ratio"] * 8)
    assert sum(out["counts"].values()) == 2048
    # The optimum (probability about 0.5 at p = 2) dominates the samples.
    assert out["optimal_fraction"] > 0.3
    assert out["optimal"]
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2

"""``torch_statevector``: the PyTorch simulator against Aer, its sampling, precision,
gradients, and a pilot running it through the service.

Layers: the backend class directly (no Ray) against Aer's statevector and
``EstimatorV2`` and PennyLane; autograd against the parameter-shift rule;
then a real ``torch_statevector`` pilot through ``PilotComputeService``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp

import pilot.sim.torch_statevector as torch_sv
from pilot import ConfigError, PilotComputeService, QuantumTask
from pilot.backends.base import PreparedCircuit
from pilot.backends.torch_sv import TorchStatevectorBackend, expectations
from pilot.config import parse_description
from pilot.convert.observables import to_pauli_sums
from pilot.errors import UnsupportedOperationError
from pilot.ml import ParameterShiftCircuit, QuantumLayer
from pilot.pilots.actor import QuantumWorker
from pilot.sim.torch_statevector import (
    BASIS_GATES,
    ROTATION_GATES,
    TorchCircuit,
    UnsupportedInstruction,
    pauli_expectations,
    pilot_device,
    rotation_coefficients,
)
from pilot.tasks import TaskSpec
from tests.helpers import bell_qiskit, within_binomial

RESOURCE = "torch_statevector"


def config(**quantum: Any) -> Any:
    return parse_description(
        {"resource_type": "quantum", "quantum": {"executor": "torch_statevector", **quantum}}
    ).quantum


@pytest.fixture(scope="module")
def single() -> TorchStatevectorBackend:
    return TorchStatevectorBackend(config(seed=5), pilot="p")


@pytest.fixture(scope="module")
def double() -> TorchStatevectorBackend:
    return TorchStatevectorBackend(config(seed=5, precision="complex128"), pilot="p")


def aer_probabilities(qc: QuantumCircuit) -> np.ndarray:
    """Aer statevector probabilities over all qubits, Qiskit's little-endian index."""
    from qiskit_aer import AerSimulator

    prepared = qc.copy()
    prepared.save_probabilities()
    sim = AerSimulator(method="statevector")
    from qiskit import transpile

    result = sim.run(transpile(prepared, sim, optimization_level=0)).result()
    return np.asarray(result.data(0)["probabilities"])


def as_vector(dist: dict[str, float], width: int) -> np.ndarray:
    """Ordered keys over qubits 0..n-1 (qubit 0 leftmost) -> little-endian vector."""
    out = np.zeros(2**width)
    for key, p in dist.items():
        out[int(key[::-1], 2)] = p
    return out


def hardware_efficient(n: int, layers: int) -> tuple[QuantumCircuit, ParameterVector]:
    w = ParameterVector("w", 2 * n * layers)
    qc = QuantumCircuit(n, name="hea")
    k = 0
    for _ in range(layers):
        for q in range(n):
            qc.ry(w[k], q)
            qc.rz(w[k + 1], q)
            k += 2
        for q in range(n - 1):
            qc.cx(q, q + 1)
    return qc, w


# -- gates and capabilities -----------------------------------------------------------


@pytest.mark.parametrize("name", ROTATION_GATES)
def test_rotation_matrices_equal_qiskits_at_any_angle(name: str) -> None:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    gate_cls = type(get_standard_gate_name_mapping()[name])
    coeffs = rotation_coefficients(name)
    for angle in np.random.default_rng(1).uniform(-7, 7, 6):
        feats = torch_sv._features_np(np.array(angle))
        np.testing.assert_allclose(
            np.tensordot(feats, coeffs, axes=1), gate_cls(angle).to_matrix(), atol=1e-12
        )


def test_capabilities_and_status_report_device_and_precision(
    single: TorchStatevectorBackend, double: TorchStatevectorBackend
) -> None:
    (cap,) = single.resources()
    assert cap.name == RESOURCE and cap.executor == "torch_statevector" and cap.pilot == "p"
    assert cap.native_gates == frozenset(BASIS_GATES) and cap.coupling_map is None
    assert cap.supports_exact and cap.simulator and not cap.noisy
    # complex64 needs half the memory of complex128: one more qubit fits.
    assert cap.num_qubits == double.resources()[0].num_qubits + 1 >= 20
    assert single.status(RESOURCE).message == "device cpu, complex64"
    assert double.status(RESOURCE).message == "device cpu, complex128"
    # Outside a Ray actor with a GPU the pilot has none: CPU, whatever the machine has.
    assert pilot_device() == torch.device("cpu") == pilot_device(0)
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert pilot_device(1) == expected


def test_bad_precision_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        config(precision="complex32")
    assert info.value.key == "quantum.precision"
    assert "'complex32' is not allowed; expected 'complex64' or 'complex128'" in str(info.value)
    with pytest.raises(ConfigError, match=r"did you mean 'precision'") as info:
        config(precison="complex64")
    assert info.value.key == "quantum.precison"
    assert config().precision == "complex64"  # conf/defaults.toml
    assert config(executor="torch_sv").executor == "torch_statevector"
    with pytest.raises(ConfigError, match=r"quantum\.precision is for 'torch_statevector'") as info:
        parse_description(
            {
                "resource_type": "quantum",
                "quantum": {"executor": "qiskit_local", "precision": "complex128"},
            }
        )
    assert info.value.key == "quantum.precision"


# -- correctness against Aer ----------------------------------------------------------


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 12])
def test_random_circuits_match_aer(
    single: TorchStatevectorBackend, double: TorchStatevectorBackend, width: int
) -> None:
    """Qiskit's random circuits (every standard gate, up to 3 operands) on all qubits."""
    for seed in range(3):
        qc = random_circuit(width, 10, max_operands=min(3, width), seed=100 * width + seed)
        ref = aer_probabilities(qc)
        job = PreparedCircuit(qc, tuple(range(width)))
        (p64,) = single.exact(RESOURCE, [job])
        (p128,) = double.exact(RESOURCE, [job])
        np.testing.assert_allclose(as_vector(p64, width), ref, atol=1e-5)
        np.testing.assert_allclose(as_vector(p128, width), ref, atol=1e-12)


def test_gates_are_fused_into_few_blocks() -> None:
    """The 12-qubit benchmark circuit: 140 gates, a few dozen passes over the state."""
    qc, _ = hardware_efficient(12, 4)
    compiled = TorchCircuit(qc)
    assert len(compiled.gates) == 140 and len(compiled.blocks) <= 140 // 5
    assert max(len(b.qubits) for b in compiled.blocks) == torch_sv.FUSION_WIDTH
    assert sorted(g for b in compiled.blocks for g, _ in b.items) == list(range(140))


def test_measured_subset_in_order(double: TorchStatevectorBackend) -> None:
    """Marginals over measured qubits, the first measured leftmost (the contract's order)."""
    qc = QuantumCircuit(4)
    qc.x(3)
    qc.ry(2 * math.asin(math.sqrt(0.3)), 1)  # P(q1 = 1) = 0.3
    (dist,) = double.exact(RESOURCE, [PreparedCircuit(qc, (3, 1))])
    assert dist == pytest.approx({"10": 0.7, "11": 0.3}, abs=1e-12)
    (dist,) = double.exact(RESOURCE, [PreparedCircuit(qc, (1, 0, 3))])
    assert dist == pytest.approx({"001": 0.7, "101": 0.3}, abs=1e-12)


def test_pauli_expectations_match_aer_estimator(
    single: TorchStatevectorBackend, double: TorchStatevectorBackend
) -> None:
    """A sweep of a 10-qubit circuit in one batch, both expectation paths (one weight
    matrix per group of terms, or term by term), against Aer's EstimatorV2."""
    from qiskit_aer.primitives import EstimatorV2

    n = 10
    qc, w = hardware_efficient(n, 3)
    qc.crx(w[0] * 2, 9, 0)
    qc.rzz(w[1] + 0.5, 2, 7)
    observables = [
        "Z" + "I" * (n - 1),
        {"XX" + "I" * (n - 2): 0.5, "I" * (n - 2) + "YZ": -1.5, "I" * n: 0.25},
        SparsePauliOp.from_list([("Y" * n, 1.0), ("X" + "Z" * (n - 1), 0.3)]),
    ]
    rows = np.random.default_rng(2).uniform(-math.pi, math.pi, (16, len(w)))
    sums = to_pauli_sums(observables, n, "qiskit")
    ops = [
        SparsePauliOp(observables[0]),
        SparsePauliOp.from_list(list(observables[1].items())),
        observables[2],
    ]
    # Aer binds each row itself: qiskit-aer 0.18.2 runs a *parameterised* crx as the
    # identity (parameter_binds and EstimatorV2 alike), bound angles are right.
    pubs = [(qc.assign_parameters(row), ops) for row in rows]
    ref = np.array([r.data.evs for r in EstimatorV2().run(pubs, precision=0.0).result()])
    got64 = np.array(single.estimate(RESOURCE, qc, rows.tolist(), sums, None))
    got128 = np.array(double.estimate(RESOURCE, qc, rows.tolist(), sums, None))
    assert got64.shape == ref.shape == (16, 3)
    np.testing.assert_allclose(got64, ref, atol=1e-5)
    np.testing.assert_allclose(got128, ref, atol=1e-10)
    assert single.estimate(RESOURCE, qc, rows.tolist(), sums, 100) is None  # sampled: portable
    # Term by term (the path of Pauli sums too big for one weight matrix).
    for dtype, atol in ((torch.complex64, 1e-5), (torch.complex128, 1e-10)):
        state = TorchCircuit(qc).statevector(torch.tensor(rows), dtype=dtype)
        by_term = pauli_expectations(state, sums, weight_elements=0).numpy()
        np.testing.assert_allclose(by_term, ref, atol=atol)


def test_expectations_match_pennylane() -> None:
    """Y and X conventions against a third simulator (PennyLane counts wires left to right)."""
    import pennylane as qml

    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.rx(a, 1)
    qc.cry(b, 0, 2)
    qc.ryy(a - b, 1, 2)
    dev = qml.device("default.qubit", wires=3)

    @qml.qnode(dev)
    def circuit(x: float, y: float) -> Any:
        qml.Hadamard(0)
        qml.RX(x, 1)
        qml.CRY(y, wires=[0, 2])
        qml.IsingYY(x - y, wires=[1, 2])
        return [qml.expval(qml.Y(1) @ qml.X(2)), qml.expval(qml.Z(0) @ qml.Y(2))]

    values = expectations(qc, torch.tensor([[0.7, -1.2]], dtype=torch.float64), ["XYI", "YIZ"])
    np.testing.assert_allclose(values[0].numpy(), np.array(circuit(0.7, -1.2)), atol=1e-12)


# -- sampling ---------------------------------------------------------------------


def test_shots_are_sampled_from_the_exact_distribution(single: TorchStatevectorBackend) -> None:
    qc = QuantumCircuit(3)
    qc.ry(2 * math.asin(math.sqrt(0.2)), 0)
    qc.h(1)
    qc.cx(1, 2)
    shots = 20_000
    (counts,) = single.sample(RESOURCE, [PreparedCircuit(qc, (0, 1, 2))], shots)
    assert sum(counts.values()) == shots
    assert set(counts) == {"000", "011", "100", "111"}
    expected = {"000": 0.4, "011": 0.4, "100": 0.1, "111": 0.1}
    for key, p in expected.items():
        assert within_binomial(counts[key], shots, p), (key, counts)
    # quantum.seed makes the draws reproducible.
    again = TorchStatevectorBackend(config(seed=5), pilot="p")
    assert again.sample(RESOURCE, [PreparedCircuit(qc, (0, 1, 2))], shots) == [counts]


def test_native_qiskit_counts_and_refused_operations(single: TorchStatevectorBackend) -> None:
    worker = QuantumWorker(config(seed=3), pilot="p")

    def run(circuit: Any, shots: int | None = 500) -> Any:
        spec = TaskSpec(
            task_id="t",
            name="t",
            circuit=circuit,
            shots=shots,
            pilot="p",
            resource=RESOURCE,
            num_qubits=None,
            gate_set=None,
            submitted_at=time.time(),
        )
        return worker.run(spec)

    qc = QuantumCircuit(3, 2)
    qc.x(2)
    qc.measure(2, 0)  # clbit 0 <- qubit 2: Qiskit's key puts clbit 0 rightmost
    assert run(qc).counts == {"01": 500}
    bell = run(bell_qiskit(), shots=1000)
    assert bell.path == "native" and set(bell.counts) == {"00", "11"}

    reset = QuantumCircuit(1, 1)
    reset.h(0)
    reset.reset(0)
    reset.measure(0, 0)
    with pytest.raises(UnsupportedOperationError) as info:
        run(reset)
    assert "'reset' is not supported by torch_statevector (torch_statevector)" in str(info.value)
    assert "run this circuit on qiskit_local" in str(info.value)
    mid = QuantumCircuit(1, 1)
    mid.measure(0, 0)
    mid.x(0)
    with pytest.raises(UnsupportedOperationError, match="'x after measure on qubit 0'"):
        run(mid)
    with pytest.raises(UnsupportedInstruction, match="'reset': torch_statevector simulates"):
        TorchCircuit(reset.remove_final_measurements(inplace=False))  # the engine's own error


# -- autograd -----------------------------------------------------------------------------


def test_autograd_gradient_equals_parameter_shift() -> None:
    """dE/dθ by backpropagation through the simulator vs the two-term shift rule,
    both exact (complex128), on a circuit with repeated, scaled and nonlinear parameters."""
    x, w = ParameterVector("x", 2), ParameterVector("w", 3)
    qc = QuantumCircuit(3)
    qc.h(2)
    qc.rx(2 * w[0], 0)
    qc.ry(w[0] ** 2, 1)
    qc.crx(w[1], 0, 1)
    qc.u(x[0], w[2], 0.3, 2)
    qc.rzz(x[1] * w[0], 1, 2)
    qc.cx(2, 0)
    qc.rxx(x[0] + w[2], 0, 1)
    qc.p(w[1].sin(), 2)
    params = [*x, *w]
    observables = ["ZII", {"XZY": 0.8, "IIX": 0.4}, "YYI"]
    sums = to_pauli_sums(observables, 3, "qiskit")
    theta = np.random.default_rng(7).uniform(-2, 2, (5, 5))

    compiled = TorchCircuit(qc, params)
    assert compiled._nonlinear  # θ², θ·x and sin θ go through sympy's torch printer
    t = torch.tensor(theta, requires_grad=True)
    values = compiled.expectations(t, sums, dtype=torch.complex128)
    auto = torch.stack(
        [torch.autograd.grad(values[:, o].sum(), t, retain_graph=True)[0] for o in range(3)],
        dim=1,
    ).numpy()

    shift = ParameterShiftCircuit(qc, params)
    gate_level = TorchCircuit(shift.circuit)  # φ in circuit.parameters order

    def evaluate(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = gate_level.expectations(torch.tensor(rows), sums, dtype=torch.complex128)
        return np.asarray(out.numpy())

    np.testing.assert_allclose(
        values.detach().numpy(), shift.expectation(theta, evaluate), atol=1e-12
    )
    np.testing.assert_allclose(auto, shift.gradient(theta, evaluate), atol=1e-10)


def test_expectations_run_in_the_params_precision_and_check_shapes() -> None:
    qc, w = hardware_efficient(3, 1)
    single = expectations(qc, torch.zeros(2, len(w)), ["ZZZ"])
    assert single.dtype == torch.float32 and single.shape == (2, 1)
    double = expectations(qc, torch.zeros(len(w), dtype=torch.float64), ["ZZZ"])
    assert double.dtype == torch.float64 and double.shape == (1, 1)
    assert expectations(qc, torch.zeros(1, len(w)), ["ZZZ"], precision="complex128").dtype == (
        torch.float64
    )
    with pytest.raises(ConfigError, match=r"shape \(batch, 6\).*got \(2, 5\)"):
        expectations(qc, torch.zeros(2, 5), ["ZZZ"])
    with pytest.raises(ConfigError, match="unknown precision 'complex32'"):
        expectations(qc, torch.zeros(1, 6), ["ZZZ"], precision="complex32")


# -- a pilot through the service -----------------------------------------------------------


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "tsv",
                "quantum": {"executor": "torch_statevector", "precision": "complex128", "seed": 1},
                "cores_per_node": 0.5,
            }
        )
        yield service


@pytest.mark.slow
def test_pilot_runs_circuits_and_sweeps_through_the_service(pcs: Any) -> None:
    import ray

    pilot = pcs.get_pilot("tsv")
    assert [r.name for r in pilot.resources] == [RESOURCE]
    status = ray.get(pilot.actors[0].status.remote(RESOURCE))
    assert status.message == "device cpu, complex128"  # no GPU in the pilot: the CPU

    bell = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=400)))
    assert bell.executor == "torch_statevector" and bell.pilot == "tsv"
    assert sum(bell.counts.values()) == 400 and set(bell.counts) <= {"00", "11"}

    qc, w = hardware_efficient(6, 2)
    rows = np.random.default_rng(3).uniform(-math.pi, math.pi, (12, len(w)))
    refs = pcs.submit_quantum_task(
        QuantumTask(qc, parameter_values=rows, observables=["ZIIIII", "XXIIII"], shots=None)
    )
    results = pcs.get_results(refs)
    values = np.array([r.expectation_values for r in results])
    expected = expectations(qc, torch.tensor(rows), ["ZIIIII", "XXIIII"]).numpy()
    np.testing.assert_allclose(values, expected, atol=1e-10)
    assert all(r.metadata.get("estimator") for r in results)  # one batched call per chunk


def test_quantum_layer_uses_backprop_on_torch_pilots_and_agrees_with_parameter_shift(
    pcs: Any,
) -> None:
    """auto -> backprop in-process; parameter-shift on the pilot: same values and
    gradients within 1e-6 (both exact)."""
    x, w = ParameterVector("x", 3), ParameterVector("w", 6)
    qc = QuantumCircuit(3)
    for q in range(3):
        qc.ry(x[q], q)
        qc.rz(w[q], q)
    qc.cx(0, 1)
    qc.crx(w[3] * 2, 1, 2)
    qc.ry(w[4] ** 2, 0)
    qc.rzz(w[5], 0, 2)
    obs = ["IIZ", {"XYI": 0.5, "ZIX": -0.7}]
    init = np.random.default_rng(4).uniform(-2, 2, 6)

    def layer(method: str) -> QuantumLayer:
        return QuantumLayer(
            pcs, qc, obs, input_params=x, weight_params=w, initial_weights=init, diff_method=method
        ).double()

    auto, shifted = layer("auto"), layer("parameter-shift")
    assert auto.resolved_diff_method() == "backprop"
    assert shifted.resolved_diff_method() == "parameter-shift"
    xs = np.random.default_rng(5).uniform(-2, 2, (4, 3))
    grads = []
    for lay in (auto, shifted):
        xt = torch.tensor(xs, requires_grad=True)
        out = lay(xt)
        (out * torch.tensor([[1.0, -2.0]], dtype=torch.float64)).sum().backward()
        grads.append((out.detach().numpy(), xt.grad.numpy(), lay.weights.grad.numpy()))
    for a, b in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert auto.last_forward.method == "backprop" and auto.last_forward.pilots == {}
    assert auto.last_backward.circuits == 0  # autograd: no shifted circuits
    assert shifted.last_backward.circuits > 0 and set(shifted.last_backward.pilots) == {"tsv"}
    jx_a, jw_a = auto.jacobian(torch.tensor(xs))
    jx_s, jw_s = shifted.jacobian(torch.tensor(xs))
    np.testing.assert_allclose(jx_a.numpy(), jx_s.numpy(), atol=1e-6)
    np.testing.assert_allclose(jw_a.numpy(), jw_s.numpy(), atol=1e-6)
    # Pinned elsewhere, or sampling: parameter shift on the pilots.
    assert layer("auto").resolved_diff_method() == "backprop"
    pinned = QuantumLayer(
        pcs, qc, obs, input_params=x, weight_params=w, task_options={"pilot": "x"}
    )
    assert pinned.resolved_diff_method() == "parameter-shift"
    sampled = QuantumLayer(pcs, qc, obs, input_params=x, weight_params=w, shots=100)
    assert sampled.resolved_diff_method() == "parameter-shift"

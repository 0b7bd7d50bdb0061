"""``pilot.ml``: QuantumLayer values and parameter-shift gradients against PennyLane.

Two layers of tests:

* the shift-rule math (:class:`ParameterShiftCircuit`) on a local
  ``Statevector``, against finite differences of the template and against
  PennyLane's backprop gradient (milliseconds, no Ray);
* the layer through a real service with two Aer pilots: forward values,
  Jacobians and autograd gradients equal PennyLane's within 1e-6 with exact
  simulation, agree statistically with shots, and the gradient circuits run
  on both pilots;
* ``diff_method="backprop"`` (the torch_statevector simulator in-process,
  differentiated by autograd) against PennyLane and the parameter-shift layer.
  (``diff_method="auto"`` on torch_statevector pilots: tests/backends/test_torch_sv.py.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pennylane as qml
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import SparsePauliOp, Statevector

from pilot import CircuitError, ConfigError, PilotComputeService
from pilot.ml import ParameterShiftCircuit, QuantumLayer

N_QUBITS = 3

# -- circuits, built twice: in Qiskit and in PennyLane ----------------------------------


def hybrid_circuit(layers: int = 2) -> tuple[QuantumCircuit, ParameterVector, ParameterVector]:
    """Angle encoding, then ``layers`` x (RY, RZ on every qubit, CX chain, CX ring)."""
    x = ParameterVector("x", N_QUBITS)
    w = ParameterVector("w", 2 * N_QUBITS * layers)
    qc = QuantumCircuit(N_QUBITS, name="hybrid")
    for q in range(N_QUBITS):
        qc.ry(x[q], q)
    k = 0
    for _ in range(layers):
        for q in range(N_QUBITS):
            qc.ry(w[k], q)
            qc.rz(w[k + 1], q)
            k += 2
        for q in range(N_QUBITS - 1):
            qc.cx(q, q + 1)
        qc.cx(N_QUBITS - 1, 0)
    qc.measure_all()  # ignored: the observables say what is measured
    return qc, x, w


def hybrid_pennylane(inputs: Any, weights: Any, layers: int = 2) -> None:
    for q in range(N_QUBITS):
        qml.RY(inputs[q], wires=q)
    k = 0
    for _ in range(layers):
        for q in range(N_QUBITS):
            qml.RY(weights[k], wires=q)
            qml.RZ(weights[k + 1], wires=q)
            k += 2
        for q in range(N_QUBITS - 1):
            qml.CNOT(wires=[q, q + 1])
        qml.CNOT(wires=[N_QUBITS - 1, 0])


# Qiskit convention: the rightmost character is qubit 0.
HYBRID_OBSERVABLES: list[Any] = ["IIZ", "ZZI", {"XIX": 0.5, "IYI": -0.3}]


def hybrid_pennylane_observables() -> list[Any]:
    return [
        qml.Z(0),
        qml.Z(1) @ qml.Z(2),
        0.5 * (qml.X(0) @ qml.X(2)) - 0.3 * qml.Y(1),
    ]


def tricky_circuit() -> tuple[QuantumCircuit, ParameterVector, ParameterVector]:
    """A weight used three times (``2θ``, ``θ²``, ``θ·x``), controlled rotations, a phase."""
    x = ParameterVector("x", 2)
    w = ParameterVector("w", 3)
    qc = QuantumCircuit(2, name="tricky")
    qc.h(1)
    qc.rx(2 * w[0], 0)
    qc.ry(w[0] ** 2, 1)
    qc.crx(w[1], 0, 1)
    qc.ry(x[0], 0)
    qc.rz(x[1] * w[0], 1)
    qc.cx(0, 1)
    qc.crx(x[0] + w[2], 1, 0)
    qc.p(w[2], 1)
    qc.cry(0.7, 0, 1)
    qc.rx(x[1], 1)
    return qc, x, w


def tricky_pennylane(inputs: Any, weights: Any) -> None:
    qml.Hadamard(wires=1)
    qml.RX(2 * weights[0], wires=0)
    qml.RY(weights[0] ** 2, wires=1)
    qml.CRX(weights[1], wires=[0, 1])
    qml.RY(inputs[0], wires=0)
    qml.RZ(inputs[1] * weights[0], wires=1)
    qml.CNOT(wires=[0, 1])
    qml.CRX(inputs[0] + weights[2], wires=[1, 0])
    qml.PhaseShift(weights[2], wires=1)
    qml.CRY(0.7, wires=[0, 1])
    qml.RX(inputs[1], wires=1)


TRICKY_OBSERVABLES: list[Any] = ["ZI", "XZ", SparsePauliOp.from_list([("YY", 0.8), ("IX", 0.4)])]


def tricky_pennylane_observables() -> list[Any]:
    return [qml.Z(1), qml.Z(0) @ qml.X(1), 0.8 * (qml.Y(0) @ qml.Y(1)) + 0.4 * qml.X(0)]


def pennylane_reference(
    body: Callable[[Any, Any], None],
    observables: Callable[[], list[Any]],
    wires: int,
    x: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PennyLane's values ``(B, O)`` and backprop Jacobians ``(B, O, n_x)``, ``(B, O, n_w)``."""
    dev = qml.device("default.qubit", wires=wires)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(inputs: Any, weights: Any) -> Any:
        body(inputs, weights)
        return [qml.expval(o) for o in observables()]

    def f(xb: Any, wb: Any) -> Any:
        return torch.stack(list(circuit(xb, wb)))

    values, jx, jw = [], [], []
    wt = torch.tensor(w, dtype=torch.float64)
    for row in x:
        xt = torch.tensor(row, dtype=torch.float64)
        values.append(f(xt, wt).detach().numpy())
        dx, dw = torch.autograd.functional.jacobian(f, (xt, wt))
        jx.append(dx.numpy())
        jw.append(dw.numpy())
    return np.array(values), np.array(jx), np.array(jw)


def statevector_evaluator(
    shift: ParameterShiftCircuit, observables: list[Any]
) -> Callable[[np.ndarray], np.ndarray]:
    ops = [
        SparsePauliOp.from_list(list(o.items())) if isinstance(o, dict) else o for o in observables
    ]
    ops = [SparsePauliOp(o) if isinstance(o, str) else o for o in ops]

    def evaluate(rows: np.ndarray) -> np.ndarray:
        out = []
        for row in rows:
            bound = shift.circuit.assign_parameters(
                dict(zip(shift.circuit.parameters, row, strict=True))
            )
            sv = Statevector(bound)
            out.append([sv.expectation_value(op).real for op in ops])
        return np.array(out)

    return evaluate


# -- the shift-rule math, on a local Statevector (no service) ------------------------------


def test_gate_level_circuit_holds_only_shiftable_rotations() -> None:
    qc, x, w = tricky_circuit()
    shift = ParameterShiftCircuit(qc, [*x, *w])
    parameterised = [
        inst.operation.name for inst in shift.circuit.data if inst.operation.is_parameterized()
    ]
    assert set(parameterised) <= {"rx", "ry", "rz"}
    assert len(parameterised) == shift.num_gates
    # One fresh parameter per rotation: w[0] alone feeds three of them.
    assert shift.circuit.num_parameters == shift.num_gates
    assert sum(2 in dep for dep in shift.depends) >= 3
    assert shift.circuit.global_phase == 0
    assert not any(inst.operation.name == "measure" for inst in shift.circuit.data)


@pytest.mark.parametrize("which", ["hybrid", "tricky"])
def test_shift_rule_matches_pennylane_backprop_on_a_statevector(which: str) -> None:
    rng = np.random.default_rng(4)
    if which == "hybrid":
        qc, x, w = hybrid_circuit()
        obs, body, pl_obs, wires = (
            HYBRID_OBSERVABLES,
            hybrid_pennylane,
            hybrid_pennylane_observables,
            3,
        )
    else:
        qc, x, w = tricky_circuit()
        obs, body, pl_obs, wires = (
            TRICKY_OBSERVABLES,
            tricky_pennylane,
            tricky_pennylane_observables,
            2,
        )
    shift = ParameterShiftCircuit(qc, [*x, *w])
    xs = rng.uniform(-math.pi, math.pi, (3, len(x)))
    ws = rng.uniform(-math.pi, math.pi, len(w))
    theta = np.concatenate([xs, np.broadcast_to(ws, (3, len(w)))], axis=1)
    evaluate = statevector_evaluator(shift, obs)

    values = shift.expectation(theta, evaluate)
    grad = shift.gradient(theta, evaluate)
    ref_values, ref_jx, ref_jw = pennylane_reference(body, pl_obs, wires, xs, ws)
    np.testing.assert_allclose(values, ref_values, atol=1e-10)
    np.testing.assert_allclose(grad[:, :, : len(x)], ref_jx, atol=1e-10)
    np.testing.assert_allclose(grad[:, :, len(x) :], ref_jw, atol=1e-10)


def test_shift_rule_matches_finite_differences_for_decomposed_gates() -> None:
    """u, rzz, rxx, cp, crz and a sin(): gates PennyLane spells differently."""
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    qc = QuantumCircuit(2)
    qc.u(a, b, 0.3, 1)
    qc.rzz(a * c, 0, 1)
    qc.rxx(b - 0.5, 0, 1)
    qc.cp(c, 0, 1)
    qc.crz(a.sin(), 1, 0)
    qc.ryy(c / 3, 0, 1)
    params = [a, b, c]
    shift = ParameterShiftCircuit(qc, params)
    obs = ["ZZ", "XI", {"YX": 1.5, "ZI": -0.5}]
    evaluate = statevector_evaluator(shift, obs)
    ops = [
        SparsePauliOp("ZZ"),
        SparsePauliOp("XI"),
        SparsePauliOp.from_list([("YX", 1.5), ("ZI", -0.5)]),
    ]

    def direct(theta: np.ndarray) -> np.ndarray:
        return np.array(
            [
                [
                    Statevector(qc.assign_parameters(dict(zip(params, t, strict=True))))
                    .expectation_value(o)
                    .real
                    for o in ops
                ]
                for t in theta
            ]
        )

    theta = np.random.default_rng(0).uniform(-2, 2, (4, 3))
    np.testing.assert_allclose(shift.expectation(theta, evaluate), direct(theta), atol=1e-12)
    h = 1e-6
    fd = np.stack(
        [(direct(theta + h * e) - direct(theta - h * e)) / (2 * h) for e in np.eye(3)], axis=-1
    )
    np.testing.assert_allclose(shift.gradient(theta, evaluate), fd, atol=1e-8)


def test_only_rotations_that_need_a_gradient_are_shifted() -> None:
    qc, x, w = hybrid_circuit(layers=1)
    shift = ParameterShiftCircuit(qc, [*x, *w])
    n_x = len(x)
    assert len(shift.active_gates(range(n_x))) == N_QUBITS  # the encoding rotations
    assert len(shift.active_gates(range(n_x, n_x + len(w)))) == len(w)
    rows = shift.shifted(np.zeros((2, shift.num_gates)), shift.active_gates(range(n_x)))
    assert rows.shape == (2 * N_QUBITS * 2, shift.num_gates)
    assert rows[0, 0] == pytest.approx(math.pi / 2) and rows[1, 0] == pytest.approx(-math.pi / 2)


# -- configuration errors (raised before anything reaches a service) -------------------------


def test_layer_configuration_errors() -> None:
    qc, x, w = hybrid_circuit(layers=1)
    with pytest.raises(ConfigError, match=r"neither input_params nor weight_params"):
        QuantumLayer(None, qc, ["IIZ"], input_params=x, weight_params=list(w)[1:])
    with pytest.raises(ConfigError, match=r"both input_params and weight_params"):
        QuantumLayer(None, qc, ["IIZ"], input_params=[*x, w[0]], weight_params=w)
    with pytest.raises(ConfigError, match=r"not in circuit"):
        QuantumLayer(None, qc, ["IIZ"], input_params=x, weight_params=[*w, Parameter("z")])
    with pytest.raises(
        ConfigError, match=r"observables\[1\].*acts on 2 qubits but the circuit has 3"
    ):
        QuantumLayer(None, qc, ["IIZ", "ZZ"], input_params=x, weight_params=w)
    with pytest.raises(ConfigError, match=r"observables\[0\].*not a Pauli observable"):
        QuantumLayer(None, qc, ["IQZ"], input_params=x, weight_params=w)
    with pytest.raises(ConfigError, match=r"at least one observable"):
        QuantumLayer(None, qc, [], input_params=x, weight_params=w)
    with pytest.raises(ConfigError, match=r"initial_weights must have shape \(6,\)"):
        QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w, initial_weights=[0.1])
    with pytest.raises(ConfigError, match=r"shots must be a positive integer"):
        QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w, shots=0)
    with pytest.raises(ConfigError, match=r"task_options may not set \['shots'\]"):
        QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w, task_options={"shots": 5})
    layer = QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w)
    with pytest.raises(ConfigError, match=r"expects inputs of shape \(\.\.\., 3\).*got \(4, 2\)"):
        layer(torch.zeros(4, 2))
    with pytest.raises(ConfigError, match=r"no PilotComputeService"):
        layer(torch.zeros(4, 3))

    mid = QuantumCircuit(1, 1)
    theta = Parameter("t")
    mid.ry(theta, 0)
    mid.measure(0, 0)
    mid.rx(theta, 0)
    with pytest.raises(CircuitError, match=r"mid-circuit 'measure'"):
        QuantumLayer(None, mid, "Z", weight_params=[theta])


def test_missing_torch_names_the_extra() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['torch'] = None; import pilot.ml"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 1
    assert "MissingDependencyError" in out.stderr
    assert "module 'pilot.ml' needs the Python package that provides 'torch'" in out.stderr
    assert "pip install 'qdreamer[torch]'" in out.stderr


# -- through the service: two Aer pilots --------------------------------------------------------


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        for i in range(2):
            service.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": f"aer-{i}",
                    "quantum": {"executor": "qiskit_local"},
                    "cores_per_node": 0.5,
                }
            )
        yield service


def hybrid_layer(pcs: Any, shots: int | None = None, seed: int = 7) -> QuantumLayer:
    qc, x, w = hybrid_circuit()
    weights = np.random.default_rng(seed).uniform(-math.pi, math.pi, len(w))
    return QuantumLayer(
        pcs,
        qc,
        HYBRID_OBSERVABLES,
        input_params=x,
        weight_params=w,
        shots=shots,
        initial_weights=weights,
    )


@pytest.mark.slow
def test_layer_values_and_gradients_match_pennylane(pcs: Any) -> None:
    layer = hybrid_layer(pcs)
    xs = np.random.default_rng(1).uniform(-math.pi, math.pi, (5, N_QUBITS))
    ws = layer.weights.detach().double().numpy()
    ref_values, ref_jx, ref_jw = pennylane_reference(
        hybrid_pennylane, hybrid_pennylane_observables, N_QUBITS, xs, ws
    )

    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    layer.double()
    out = layer(x)
    assert out.shape == (5, 3) and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), ref_values, atol=1e-6)
    assert layer.last_forward.circuits == 5

    cotangent = torch.tensor(np.random.default_rng(2).normal(size=(5, 3)))
    (out * cotangent).sum().backward()
    c = cotangent.numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.einsum("bo,boi->bi", c, ref_jx), atol=1e-6)
    np.testing.assert_allclose(
        layer.weights.grad.numpy(), np.einsum("bo,bow->w", c, ref_jw), atol=1e-6
    )
    # 5 samples x 2 shifts x (3 encoding + 12 weight rotations), in one sweep.
    assert layer.last_backward.circuits == 5 * 2 * 15

    jx, jw = layer.jacobian(x)
    np.testing.assert_allclose(jx.numpy(), ref_jx, atol=1e-6)
    np.testing.assert_allclose(jw.numpy(), ref_jw, atol=1e-6)


def test_input_gradients_are_skipped_when_not_needed(pcs: Any) -> None:
    layer = hybrid_layer(pcs)
    x = torch.rand(4, N_QUBITS)  # float32, no grad
    out = layer(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert layer.weights.grad is not None and layer.weights.grad.dtype == torch.float32
    assert layer.last_backward.circuits == 4 * 2 * 12  # only the weight rotations


def test_nonlinear_repeated_and_controlled_parameters_match_pennylane(pcs: Any) -> None:
    qc, x, w = tricky_circuit()
    layer = QuantumLayer(
        pcs,
        qc,
        TRICKY_OBSERVABLES,
        input_params=x,
        weight_params=w,
        initial_weights=[0.9, -1.3, 2.1],
    ).double()
    ws = layer.weights.detach().numpy()  # float32-rounded, like every nn.Parameter by default
    xs = np.random.default_rng(3).uniform(-2, 2, (4, 2))
    ref_values, ref_jx, ref_jw = pennylane_reference(
        tricky_pennylane, tricky_pennylane_observables, 2, xs, ws
    )
    xt = torch.tensor(xs, requires_grad=True)
    out = layer(xt)
    np.testing.assert_allclose(out.detach().numpy(), ref_values, atol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), ref_jx.sum(axis=1), atol=1e-6)
    np.testing.assert_allclose(layer.weights.grad.numpy(), ref_jw.sum(axis=(0, 1)), atol=1e-6)

    single = layer(torch.tensor(xs[0]))  # one sample, 1-D
    assert single.shape == (3,)
    np.testing.assert_allclose(single.detach().numpy(), ref_values[0], atol=1e-6)


def test_gradients_with_shots_agree_statistically(pcs: Any) -> None:
    shots = 20_000
    exact = hybrid_layer(pcs).double()
    noisy = hybrid_layer(pcs, shots=shots).double()
    xs = torch.tensor(np.random.default_rng(5).uniform(-math.pi, math.pi, (3, N_QUBITS)))
    jx, jw = exact.jacobian(xs)
    sx, sw = noisy.jacobian(xs)
    values, noisy_values = exact(xs).detach().numpy(), noisy(xs).detach().numpy()

    # Each shifted value of a Pauli sum Σ c_i P_i has a standard error of at most
    # Σ|c_i| / sqrt(shots); dE/dθ_j = Σ_k a_kj (E+ - E-)/2 then has at most
    # sqrt(Σ_k a_kj² / 2) times that.
    scale = np.array([1.0, 1.0, 0.8])[None, :, None] / math.sqrt(shots)
    theta = exact._theta(xs, exact.weights)
    a = exact.shift.gate_jacobian(theta)  # (B, K, P)
    se = scale * np.sqrt((a**2).sum(axis=1) / 2)[:, None, :]  # (B, O, P)
    n_x = N_QUBITS
    assert np.all(np.abs(sx.numpy() - jx.numpy()) <= 5 * se[:, :, :n_x] + 1e-9)
    assert np.all(np.abs(sw.numpy() - jw.numpy()) <= 5 * se[:, :, n_x:] + 1e-9)
    assert np.all(np.abs(noisy_values - values) <= 5 * scale[:, :, 0])
    assert not np.allclose(sw.numpy(), jw.numpy(), atol=1e-6)  # really sampled


def test_gradient_circuits_spread_over_both_pilots(pcs: Any) -> None:
    layer = hybrid_layer(pcs)
    x = torch.rand(16, N_QUBITS, requires_grad=True)
    layer(x).pow(2).sum().backward()
    stats = layer.last_backward
    assert stats.circuits == 16 * 2 * 15
    assert set(stats.pilots) == {"aer-0", "aer-1"}, stats
    assert sum(stats.pilots.values()) == stats.circuits


def test_a_layer_without_inputs(pcs: Any) -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(1)
    qc.rx(theta, 0)
    layer = QuantumLayer(pcs, qc, ["Z", "Y"], weight_params=[theta], initial_weights=[0.4]).double()
    angle = layer.weights.item()
    out = layer()
    assert out.shape == (2,)
    np.testing.assert_allclose(out.detach().numpy(), [math.cos(angle), -math.sin(angle)], atol=1e-9)
    out[0].backward()
    assert layer.weights.grad.item() == pytest.approx(-math.sin(angle), abs=1e-9)


# -- diff_method="backprop": in-process torch_statevector + autograd ---------------------------


def test_backprop_layer_matches_pennylane_and_the_parameter_shift_layer(pcs: Any) -> None:
    qc, x, w = tricky_circuit()
    init = [0.9, -1.3, 2.1]

    def layer(service: Any, method: str) -> QuantumLayer:
        return QuantumLayer(
            service,
            qc,
            TRICKY_OBSERVABLES,
            input_params=x,
            weight_params=w,
            initial_weights=init,
            diff_method=method,
        ).double()

    back = layer(None, "backprop")  # no service: nothing runs on a pilot
    shifted = layer(pcs, "auto")  # Aer pilots: auto means parameter shift
    assert (back.resolved_diff_method(), shifted.resolved_diff_method()) == (
        "backprop",
        "parameter-shift",
    )
    ws = back.weights.detach().numpy()
    xs = np.random.default_rng(8).uniform(-2, 2, (4, 2))
    ref_values, ref_jx, ref_jw = pennylane_reference(
        tricky_pennylane, tricky_pennylane_observables, 2, xs, ws
    )
    cotangent = torch.tensor(np.random.default_rng(9).normal(size=(4, 3)))
    found = []
    for lay in (back, shifted):
        xt = torch.tensor(xs, requires_grad=True)
        out = lay(xt)
        (out * cotangent).sum().backward()
        found.append((out.detach().numpy(), xt.grad.numpy(), lay.weights.grad.numpy()))
    c = cotangent.numpy()
    expected = (
        ref_values,
        np.einsum("bo,boi->bi", c, ref_jx),
        np.einsum("bo,bow->w", c, ref_jw),
    )
    for got_b, got_s, want in zip(found[0], found[1], expected, strict=True):
        np.testing.assert_allclose(got_b, want, atol=1e-10)
        np.testing.assert_allclose(got_b, got_s, atol=1e-6)
    assert back.last_forward.method == "backprop" and back.last_forward.circuits == 4
    assert back.last_backward.circuits == 0 and shifted.last_backward.circuits > 0
    jx, jw = back.jacobian(torch.tensor(xs))
    np.testing.assert_allclose(jx.numpy(), ref_jx, atol=1e-10)
    np.testing.assert_allclose(jw.numpy(), ref_jw, atol=1e-10)

    single = layer(None, "backprop").float()  # float32 layer: complex64 amplitudes
    out32 = single(torch.tensor(xs, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.detach().numpy(), ref_values, atol=1e-5)


def test_diff_method_errors() -> None:
    qc, x, w = hybrid_circuit(layers=1)
    with pytest.raises(ConfigError, match=r"diff_method must be one of.*did you mean 'backprop'"):
        QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w, diff_method="backprob")
    with pytest.raises(ConfigError, match=r"'backprop' differentiates exact.*shots=100") as info:
        QuantumLayer(
            None, qc, "IIZ", input_params=x, weight_params=w, shots=100, diff_method="backprop"
        )
    assert info.value.key == "diff_method"
    auto = QuantumLayer(None, qc, "IIZ", input_params=x, weight_params=w)
    assert auto.resolved_diff_method() == "parameter-shift"  # no service, no torch pilots

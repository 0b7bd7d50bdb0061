"""PyTorch quantum layers whose circuits run on the pilots (extra ``torch``).

::

    from qiskit.circuit import ParameterVector
    from pilot.ml import QuantumLayer

    x, w = ParameterVector("x", 2), ParameterVector("w", 4)
    qc = QuantumCircuit(2)
    qc.ry(x[0], 0); qc.ry(x[1], 1); qc.cx(0, 1)
    qc.ry(w[0], 0); qc.ry(w[1], 1); qc.rz(w[2], 0); qc.rz(w[3], 1)
    layer = QuantumLayer(pcs, qc, ["IZ", "ZI"], input_params=x, weight_params=w)
    model = nn.Sequential(nn.Linear(4, 2), nn.Tanh(), layer, nn.Linear(2, 3))

:class:`QuantumLayer` is to the service what qiskit-machine-learning's
``EstimatorQNN`` + ``TorchConnector`` are to an Estimator: a template circuit
with input and weight ``Parameter``\\ s, a list of observables, and an output
of shape ``(batch, len(observables))``.  Both passes send ONE parameter sweep
(a :class:`~pilot.tasks.QuantumTask` with ``parameter_values``) to the
service, which splits it into chunks over every pilot holding the resource,
so the many circuits of a gradient spread over the pilots.

How the gradient is computed (:class:`ParameterShiftCircuit`)
-------------------------------------------------------------

1. The template is transpiled once to single-parameter Pauli rotations
   (``rx``, ``ry``, ``rz``) and fixed gates.  Each rotation
   ``R(φ) = exp(-iφP/2)`` obeys the two-term shift rule
   ``dE/dφ = (E(φ + π/2) - E(φ - π/2)) / 2`` exactly.
2. Every parameterised rotation k gets its own Parameter ``φ_k``, whose value
   is the transpiled angle ``expr_k(θ)`` (``θ`` = inputs and weights): ``2·θ``,
   ``θ/2 + π`` from a decomposed ``crx`` or ``u``, or something nonlinear like
   ``θ²``.  A parameter used by several gates becomes several ``φ``.
3. forward: one row ``φ = expr(θ)`` per sample.
   backward: rows ``φ ± π/2·e_k`` per sample and per rotation k that depends
   on a parameter torch wants a gradient for, then the chain rule
   ``dE/dθ_j = Σ_k ∂expr_k/∂θ_j · (E(φ + π/2·e_k) - E(φ - π/2·e_k)) / 2``,
   with ``∂expr_k/∂θ_j`` from ``ParameterExpression.gradient``.

The result is the analytic gradient (up to shot noise when ``shots`` is set),
for any circuit Qiskit can unroll to those gates.

Backpropagation (``diff_method``)
---------------------------------

``diff_method="backprop"`` simulates the template with the
``torch_statevector`` simulator (:mod:`pilot.backends.torch_sv`) *in the
layer's own process*, on the device of the layer's weights (``layer.to("cuda")``
moves it), and lets autograd differentiate it: the forward pass is one batched
simulation and the backward pass autograd's, instead of ``2 · batch · K``
shifted circuits.  An autograd graph cannot cross processes, so these passes
do not go to the pilots.  The default ``"auto"`` chooses backprop when
``shots`` is ``None`` and every pilot the layer's sweeps may run on (after
``task_options``' ``pilot``/``resource``) runs ``torch_statevector``: the same
simulator, one pass instead of many.  Amplitudes are ``complex128`` when the
layer's tensors are float64 or those pilots set ``quantum.precision =
"complex128"``, else ``complex64``.  ``"parameter-shift"`` always sends the
circuits to the pilots, as above.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import RXGate, RYGate, RZGate
from qiskit.quantum_info import Pauli, SparsePauliOp

from pilot.errors import CircuitError, ConfigError, MissingDependencyError, PilotError, closest

try:
    import torch
    from torch import nn
    from torch.autograd.function import once_differentiable
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "pilot.ml", "torch", "pip install 'qdreamer[torch]'", what="module 'pilot.ml'"
    ) from exc

logger = logging.getLogger(__name__)

#: Rotations with the two-term shift rule; the only gates left holding parameters.
ROTATIONS: dict[str, type[RXGate] | type[RYGate] | type[RZGate]] = {
    "rx": RXGate,
    "ry": RYGate,
    "rz": RZGate,
}
#: What the template is unrolled to: the rotations plus fixed gates every
#: simulator runs natively (so the service has nothing left to translate).
BASIS_GATES = (
    *ROTATIONS,
    "cx",
    "cz",
    "swap",
    "h",
    "x",
    "y",
    "z",
    "s",
    "sdg",
    "t",
    "tdg",
    "sx",
    "sxdg",
)
#: Non-gate instructions that may stay in the gate-level circuit.
_PASS_THROUGH = frozenset({"barrier", "delay"})

#: ``QuantumLayer(diff_method=...)``: how gradients are computed (see the module docstring).
DIFF_METHODS = ("auto", "backprop", "parameter-shift")
#: The executor whose pilots ``diff_method="auto"`` replaces with in-process backprop.
BACKPROP_EXECUTOR = "torch_statevector"

#: An evaluator: rows of gate angles ``(N, K)`` -> expectation values ``(N, O)``.
Evaluator = Callable[[np.ndarray], np.ndarray]


def _numeric(value: Any, what: str) -> float:
    """A real number from a float, int, complex or parameter-free expression."""
    if isinstance(value, ParameterExpression):
        if value.parameters:
            raise CircuitError(f"{what} still depends on {sorted(map(str, value.parameters))}")
        value = value.numeric()
    number = complex(value)
    if abs(number.imag) > 1e-12:
        raise CircuitError(f"{what} is complex ({number}); rotation angles must be real")
    return number.real


def _parameter_list(params: Iterable[Parameter] | None, key: str) -> list[Parameter]:
    if params is None:
        return []
    if isinstance(params, Parameter):
        params = [params]
    out = list(params)
    for p in out:
        if not isinstance(p, Parameter):
            raise ConfigError(
                f"{key} must hold qiskit Parameters (or be a ParameterVector), got {p!r}", key=key
            )
    dup = sorted({str(p) for p in out if out.count(p) > 1})
    if dup:
        raise ConfigError(f"{key} lists {dup} more than once", key=key)
    return out


class ParameterShiftCircuit:
    """A template circuit as parameter-shift rows: the math of :class:`QuantumLayer`.

    Pure NumPy/Qiskit (no torch, no service): ``evaluate`` callbacks turn rows
    of gate angles into expectation values, so the same code runs on the
    service, on a local ``Statevector`` in tests, or anywhere else.

    Args:
        circuit: a ``QuantumCircuit`` whose unbound parameters are exactly
            ``parameters``.  Final measurements are dropped (the observables
            say what is measured); mid-circuit measurements and resets are
            refused, since the shift rule does not hold through them.
        parameters: the order of ``θ`` in every ``theta`` array below.

    Attributes:
        circuit: the gate-level circuit; its parameters are ``φ_0 … φ_{K-1}``
            (one per parameterised rotation), in ``circuit.parameters`` order.
        num_gates: ``K``.
        parameters: ``θ``'s parameters, in order.
    """

    def __init__(self, circuit: QuantumCircuit, parameters: Sequence[Parameter]) -> None:
        if not isinstance(circuit, QuantumCircuit):
            raise ConfigError(
                f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}",
                key="circuit",
            )
        self.parameters = list(parameters)
        self.template = circuit
        body = circuit.remove_final_measurements(inplace=False)
        assert body is not None
        for inst in body.data:
            if inst.operation.name in ("measure", "reset") or inst.clbits:
                raise CircuitError(
                    f"circuit {circuit.name!r} has a mid-circuit {inst.operation.name!r}; "
                    "a QuantumLayer needs a unitary circuit (the observables say what is "
                    "measured)"
                )
        unrolled = transpile(body, basis_gates=list(BASIS_GATES), optimization_level=0)
        self._build(unrolled, circuit.name)

    def _build(self, unrolled: QuantumCircuit, name: str) -> None:
        index = self._index = {p: j for j, p in enumerate(self.parameters)}
        exprs: list[ParameterExpression] = []
        gates: list[tuple[str, Any, Any]] = []
        for inst in unrolled.data:
            op = inst.operation
            symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
            if not symbolic:
                if op.name not in BASIS_GATES and op.name not in _PASS_THROUGH:
                    raise CircuitError(
                        f"circuit {name!r}: {op.name!r} cannot be part of a QuantumLayer "
                        f"(it unrolls to {', '.join(BASIS_GATES)} only)"
                    )
                gates.append(("fixed", op, inst))
                continue
            if op.name not in ROTATIONS:
                raise CircuitError(
                    f"circuit {name!r}: parameterised {op.name!r} did not unroll to a "
                    "single-parameter rotation (rx, ry, rz), so it has no two-term shift rule"
                )
            exprs.append(symbolic[0])
            gates.append((op.name, None, inst))

        self.num_gates = len(exprs)
        phi = ParameterVector("_phi", self.num_gates)
        gate_level = unrolled.copy_empty_like(name=f"{name}_shift")
        # The transpiled global phase may depend on θ (e.g. p(θ) -> rz(θ) and
        # phase θ/2).  A global phase never changes an expectation value, and
        # leaving it would keep θ in a circuit that must depend on φ only.
        gate_level.global_phase = 0
        k = 0
        for kind, op, inst in gates:
            if kind == "fixed":
                gate_level.append(op, inst.qubits, inst.clbits, copy=False)
            else:
                gate_level.append(ROTATIONS[kind](phi[k]), inst.qubits, copy=False)
                k += 1
        self.circuit = gate_level
        position = {p: i for i, p in enumerate(phi)}
        #: column order of the service's rows: ``circuit.parameters`` (Qiskit's sorted order).
        self._order = np.array([position[p] for p in gate_level.parameters], dtype=int)

        # φ = A θ + b where every ∂expr_k/∂θ_j is a constant (the usual case,
        # vectorised); the other gates are evaluated symbolically per sample.
        p_count = len(self.parameters)
        self._matrix = np.zeros((self.num_gates, p_count))
        self._offset = np.zeros(self.num_gates)
        self._nonlinear: dict[int, list[tuple[int, Any]]] = {}
        self._exprs = exprs
        #: for each gate, the θ indices it depends on
        self.depends: list[frozenset[int]] = []
        for k, expr in enumerate(exprs):
            unknown = [str(p) for p in expr.parameters if p not in index]
            if unknown:
                raise ConfigError(
                    f"circuit {name!r} uses parameter(s) {sorted(unknown)} that are neither "
                    "input_params nor weight_params",
                    key="circuit",
                )
            self.depends.append(frozenset(index[p] for p in expr.parameters))
            grads = [(index[p], expr.gradient(p)) for p in expr.parameters]
            if all(not isinstance(g, ParameterExpression) or not g.parameters for _, g in grads):
                for j, g in grads:
                    self._matrix[k, j] = _numeric(g, f"d{expr}/d{self.parameters[j]}")
                zero = {p: 0.0 for p in expr.parameters}
                self._offset[k] = _numeric(expr.bind(zero), f"{expr} at 0")
            else:
                self._nonlinear[k] = grads
        logger.debug(
            "%s: %d parameterised rotations (%d nonlinear) over %d parameters",
            name,
            self.num_gates,
            len(self._nonlinear),
            p_count,
        )

    # -- θ -> φ ---------------------------------------------------------------

    def _check_theta(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.ndim != 2 or theta.shape[1] != len(self.parameters):
            raise ConfigError(
                f"theta must have shape (batch, {len(self.parameters)}), got {theta.shape}",
                key="theta",
            )
        return theta

    def _bind(self, expr: Any, theta_row: np.ndarray) -> float:
        if not isinstance(expr, ParameterExpression):
            return _numeric(expr, "gradient")
        values = {p: float(theta_row[self._index[p]]) for p in expr.parameters}
        return _numeric(expr.bind(values), str(expr))

    def gate_values(self, theta: np.ndarray) -> np.ndarray:
        """``φ`` for each row of ``theta``: shape ``(batch, K)``."""
        theta = self._check_theta(theta)
        phi = theta @ self._matrix.T + self._offset
        for k in self._nonlinear:
            expr = self._exprs[k]
            phi[:, k] = [self._bind(expr, row) for row in theta]
        return phi

    def gate_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """``∂φ_k/∂θ_j`` for each row: shape ``(batch, K, P)`` (a read-only view when linear)."""
        theta = self._check_theta(theta)
        shape = (theta.shape[0], *self._matrix.shape)
        if not self._nonlinear:
            return np.broadcast_to(self._matrix, shape)
        jac = np.array(np.broadcast_to(self._matrix, shape))
        for k, grads in self._nonlinear.items():
            for j, g in grads:
                jac[:, k, j] = [self._bind(g, row) for row in theta]
        return jac

    def active_gates(self, wanted: Iterable[int]) -> np.ndarray:
        """Rotations depending on any θ index in ``wanted`` (the ones worth shifting)."""
        wanted = frozenset(wanted)
        return np.array([k for k, dep in enumerate(self.depends) if dep & wanted], dtype=int)

    # -- rows -------------------------------------------------------------------

    def service_rows(self, phi: np.ndarray) -> np.ndarray:
        """``phi`` with its columns in ``circuit.parameters`` order (what the service binds)."""
        return np.ascontiguousarray(phi[:, self._order])

    @staticmethod
    def shifted(phi: np.ndarray, gates: np.ndarray) -> np.ndarray:
        """Rows ``φ_b + π/2·e_k`` and ``φ_b - π/2·e_k`` for each sample b and each k in
        ``gates``, ordered ``(b, k, ±)``: shape ``(batch · len(gates) · 2, K)``."""
        batch, width = phi.shape
        rows = np.repeat(phi[:, None, None, :], len(gates), axis=1).repeat(2, axis=2)
        idx = np.arange(len(gates))
        rows[:, idx, 0, gates] += math.pi / 2
        rows[:, idx, 1, gates] -= math.pi / 2
        return rows.reshape(batch * len(gates) * 2, width)

    @staticmethod
    def combine(values: np.ndarray, jac: np.ndarray, gates: np.ndarray) -> np.ndarray:
        """``dE/dθ`` of shape ``(batch, O, P)`` from the expectation values of the
        :meth:`shifted` rows (``(batch · len(gates) · 2, O)``) and :meth:`gate_jacobian`."""
        batch = jac.shape[0]
        pairs = values.reshape(batch, len(gates), 2, -1)
        d_phi = (pairs[:, :, 0, :] - pairs[:, :, 1, :]) / 2  # (batch, gates, O)
        return np.einsum("bko,bkp->bop", d_phi, jac[:, gates, :])

    # -- both passes, given an evaluator -------------------------------------------

    def expectation(self, theta: np.ndarray, evaluate: Evaluator) -> np.ndarray:
        """Expectation values ``(batch, O)`` at ``theta``."""
        return evaluate(self.service_rows(self.gate_values(theta)))

    def gradient(
        self,
        theta: np.ndarray,
        evaluate: Evaluator,
        wanted: Iterable[int] | None = None,
        num_observables: int | None = None,
    ) -> np.ndarray:
        """``dE/dθ`` of shape ``(batch, O, P)`` by the parameter-shift rule.

        Only rotations depending on a θ index in ``wanted`` (default: all) are
        shifted; columns outside ``wanted`` may then be incomplete.
        """
        theta = self._check_theta(theta)
        gates = self.active_gates(range(len(self.parameters)) if wanted is None else wanted)
        jac = self.gate_jacobian(theta)
        if len(gates) == 0:
            return np.zeros((theta.shape[0], num_observables or 0, len(self.parameters)))
        rows = self.shifted(self.gate_values(theta), gates)
        return self.combine(evaluate(self.service_rows(rows)), jac, gates)


def _observable(obs: Any, num_qubits: int, i: int) -> SparsePauliOp:
    key = f"observables[{i}]"
    try:
        if isinstance(obs, SparsePauliOp):
            op = obs
        elif isinstance(obs, (Pauli, str)):
            op = SparsePauliOp(obs)
        elif isinstance(obs, Mapping):
            if not obs:
                raise ConfigError(f"{key} is an empty Pauli sum", key=key)
            op = SparsePauliOp.from_list([(str(k), v) for k, v in obs.items()])
        else:
            raise ConfigError(
                f"{key}: expected a Pauli string like 'ZI', a dict {{pauli string: "
                f"coefficient}} or a SparsePauliOp, got {type(obs).__name__}",
                key=key,
            )
    except ConfigError:
        raise
    except Exception as exc:  # qiskit's own message says which character is wrong
        raise ConfigError(f"{key}: {obs!r} is not a Pauli observable ({exc})", key=key) from None
    if op.num_qubits != num_qubits:
        raise ConfigError(
            f"{key}: {obs!r} acts on {op.num_qubits} qubits but the circuit has {num_qubits} "
            "(one Pauli per qubit, rightmost = qubit 0, as in Qiskit)",
            key=key,
        )
    if np.any(np.abs(np.imag(op.coeffs)) > 1e-12):
        raise ConfigError(f"{key}: {obs!r} has complex coefficients; it must be Hermitian", key=key)
    return op


@dataclass
class PassStats:
    """What one forward or backward pass sent to the service."""

    #: circuits (parameter sets) in the sweep
    circuits: int = 0
    #: wall time from submission to the last result
    seconds: float = 0.0
    #: circuits per pilot that ran them
    pilots: dict[str, int] = field(default_factory=dict)
    #: "parameter-shift" (circuits on the pilots) or "backprop" (in-process, autograd)
    method: str = "parameter-shift"


class QuantumLayer(nn.Module):
    """A ``torch.nn.Module`` whose output is the expectation values of a circuit.

    Args:
        pcs: the :class:`~pilot.runtime.service.PilotComputeService` that runs the
            circuits (it needs at least one quantum pilot).
        circuit: a Qiskit ``QuantumCircuit`` template; its parameters must be
            exactly the union of ``input_params`` and ``weight_params``.  Any gate Qiskit can
            unroll to ``rx/ry/rz`` and fixed gates is fine (``crx``, ``u``,
            ``rzz``, angles like ``2*x`` or ``x**2``); final measurements are
            ignored.
        observables: one per output feature: Pauli strings in Qiskit's
            convention (rightmost character = qubit 0, so ``"IZ"`` is Z on
            qubit 0), dicts ``{pauli string: coefficient}`` or
            ``SparsePauliOp``\\ s.  A single one may be given bare.
        input_params: the circuit parameters fed by the input tensor, in the
            order of its last dimension (a ``ParameterVector`` or list).
        weight_params: the circuit parameters trained as ``self.weights``.
        shots: samples per circuit; ``None`` (exact expectation values on
            simulators) gives gradients exact to machine precision.
        initial_weights: starting weights; default uniform in ``[-π, π)``
            drawn from torch's generator (so ``torch.manual_seed`` fixes it).
        task_options: extra :class:`~pilot.tasks.QuantumTask` arguments for
            every sweep, e.g. ``{"resource": "aer_simulator"}`` or ``{"pilot": ...}``.
        timeout: seconds to wait for a sweep's results (``None``: no limit).
        name: task name shown in results and the Ray dashboard.
        diff_method: ``"parameter-shift"`` (circuits on the pilots),
            ``"backprop"`` (the ``torch_statevector`` simulator in this process,
            differentiated by autograd; needs ``shots=None``, no service needed)
            or ``"auto"`` (backprop when every pilot the sweeps may use runs
            ``torch_statevector`` and ``shots`` is ``None``); see the module
            docstring.  :meth:`resolved_diff_method` says which applies now.

    Input shape ``(..., len(input_params))`` (a single sample may be 1-D; with
    no input parameters the input may be omitted); output shape
    ``(..., len(observables))``, in the input's dtype (float64 inside).

    Each forward pass is one sweep of ``batch`` circuits; each backward pass
    one sweep of ``2 · batch · K`` circuits, ``K`` the number of rotations
    that depend on a parameter needing a gradient (input gradients are
    skipped when the input does not require them).  ``last_forward`` and
    ``last_backward`` (:class:`PassStats`) say how many circuits ran, how
    long it took, on which pilots, and by which method (a backprop forward
    pass counts its batch, its backward pass runs no circuits).
    """

    def __init__(
        self,
        pcs: Any,
        circuit: QuantumCircuit,
        observables: Any,
        input_params: Iterable[Parameter] | None = None,
        weight_params: Iterable[Parameter] | None = None,
        *,
        shots: int | None = None,
        initial_weights: Any = None,
        task_options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        name: str = "QuantumLayer",
        diff_method: str = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(circuit, QuantumCircuit):
            raise ConfigError(
                f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}",
                key="circuit",
            )
        if shots is not None and (
            isinstance(shots, bool) or not isinstance(shots, int) or shots < 1
        ):
            raise ConfigError(
                f"shots must be a positive integer, or None for exact results; got {shots!r}",
                key="shots",
            )
        if diff_method not in DIFF_METHODS:
            raise ConfigError(
                f"diff_method must be one of {', '.join(map(repr, DIFF_METHODS))}, "
                f"got {diff_method!r}",
                key="diff_method",
                suggestion=closest(str(diff_method), DIFF_METHODS),
            )
        if diff_method == "backprop" and shots is not None:
            raise ConfigError(
                f"diff_method='backprop' differentiates exact expectation values; it cannot "
                f"with shots={shots}. Pass shots=None, or diff_method='parameter-shift'",
                key="diff_method",
            )
        inputs = _parameter_list(input_params, "input_params")
        weights = _parameter_list(weight_params, "weight_params")
        both = sorted(str(p) for p in set(inputs) & set(weights))
        if both:
            raise ConfigError(
                f"{both} are both input_params and weight_params; each parameter is one or "
                "the other",
                key="input_params",
            )
        in_circuit = set(circuit.parameters)
        missing = sorted(str(p) for p in in_circuit - set(inputs) - set(weights))
        if missing:
            raise ConfigError(
                f"circuit {circuit.name!r} has parameter(s) {missing} that are neither "
                "input_params nor weight_params",
                key="circuit",
            )
        extra = sorted(str(p) for p in (*inputs, *weights) if p not in in_circuit)
        if extra:
            raise ConfigError(
                f"parameter(s) {extra} are not in circuit {circuit.name!r}",
                key="weight_params" if set(extra) <= {str(w) for w in weights} else "input_params",
            )
        if observables is None or isinstance(observables, (str, Mapping, SparsePauliOp, Pauli)):
            observables = [] if observables is None else [observables]
        observables = list(observables)
        if not observables:
            raise ConfigError("a QuantumLayer needs at least one observable", key="observables")
        self.observables = [
            _observable(o, circuit.num_qubits, i) for i, o in enumerate(observables)
        ]
        options = dict(task_options or {})
        reserved = {"circuit", "parameter_values", "observables", "shots"} & set(options)
        if reserved:
            raise ConfigError(
                f"task_options may not set {sorted(reserved)}; the layer sets them",
                key="task_options",
            )

        self.pcs = pcs
        self.input_params = inputs
        self.weight_params = weights
        self.shots = shots
        self.task_options = options
        self.timeout = timeout
        self.name = name
        self.diff_method = diff_method
        self.shift = ParameterShiftCircuit(circuit, [*inputs, *weights])
        self._torch_circuit: Any = None  # compiled on the first backprop pass
        self._pauli_sums: Any = None
        self.weights = nn.Parameter(self._initial(initial_weights))
        self.last_forward = PassStats()
        self.last_backward = PassStats()

    def _initial(self, initial: Any) -> torch.Tensor:
        n = len(self.weight_params)
        if initial is None:
            return torch.empty(n).uniform_(-math.pi, math.pi)
        values = torch.as_tensor(initial, dtype=torch.get_default_dtype()).detach().clone()
        if values.shape != (n,):
            raise ConfigError(
                f"initial_weights must have shape ({n},) (one per weight parameter), "
                f"got {tuple(values.shape)}",
                key="initial_weights",
            )
        return values

    @property
    def num_inputs(self) -> int:
        return len(self.input_params)

    @property
    def num_outputs(self) -> int:
        return len(self.observables)

    def extra_repr(self) -> str:
        return (
            f"qubits={self.shift.circuit.num_qubits}, inputs={self.num_inputs}, "
            f"weights={len(self.weight_params)}, outputs={self.num_outputs}, "
            f"rotations={self.shift.num_gates}, shots={self.shots}, "
            f"diff_method={self.diff_method!r}"
        )

    # -- choosing the method ------------------------------------------------------

    def resolved_diff_method(self) -> str:
        """``"backprop"`` or ``"parameter-shift"``: what the next pass uses.

        ``"auto"`` is decided at each pass from the service's running pilots,
        so pilots created after the layer count.
        """
        if self.diff_method != "auto":
            return self.diff_method
        if self.shots is not None:
            return "parameter-shift"
        pilots = self._candidate_pilots()
        if pilots and all(p.executor == BACKPROP_EXECUTOR for p in pilots):
            return "backprop"
        return "parameter-shift"

    def _candidate_pilots(self) -> list[Any]:
        """Running quantum pilots the layer's sweeps may be sent to."""
        from pilot.states import PilotState

        if self.pcs is None:
            return []
        pinned = self.task_options.get("pilot")
        resource = self.task_options.get("resource")
        return [
            p
            for p in self.pcs.pilots
            if getattr(p, "resource_type", None) == "quantum"
            and p.state is PilotState.RUNNING
            and (pinned is None or p.name == pinned)
            and (resource is None or any(cap.name == resource for cap in p.resources))
        ]

    def _backprop_precision(self, dtype: torch.dtype) -> str:
        if dtype == torch.float64:
            return "complex128"
        configs = [p.config.quantum for p in self._candidate_pilots()]
        if any(getattr(q, "precision", None) == "complex128" for q in configs):
            return "complex128"
        return "complex64"

    # -- backprop (in-process torch_statevector) ------------------------------------

    def _compiled(self) -> Any:
        if self._torch_circuit is None:
            from pilot.backends.torch_sv import as_pauli_sums, library_errors
            from pilot.sim.torch_statevector import TorchCircuit

            body = self.shift.template.remove_final_measurements(inplace=False)
            assert body is not None
            with library_errors():
                params = [*self.input_params, *self.weight_params]
                self._torch_circuit = TorchCircuit(body, params)
            self._pauli_sums = as_pauli_sums(self.observables, body.num_qubits)
        return self._torch_circuit

    def _backprop(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Expectation values ``(batch, O)`` with an autograd graph back to ``x`` and ``w``."""
        from pilot.backends.torch_sv import library_errors, precision_dtype

        started = time.perf_counter()
        compiled = self._compiled()
        dtype = torch.promote_types(x.dtype, w.dtype)
        theta = torch.cat(
            [x.to(device=w.device, dtype=dtype), w.to(dtype).expand(x.shape[0], -1)], dim=1
        )
        with library_errors():
            values = compiled.expectations(
                theta, self._pauli_sums, dtype=precision_dtype(self._backprop_precision(dtype))
            )
        self.last_forward = PassStats(
            circuits=x.shape[0], seconds=time.perf_counter() - started, method="backprop"
        )
        self.last_backward = PassStats(method="backprop")
        out: torch.Tensor = values.to(dtype=x.dtype, device=x.device)
        return out

    def _backprop_jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """``dE/dθ`` ``(batch, O, P)`` by autograd (float64, complex128)."""
        w = self.weights.detach().to(torch.float64)
        theta = torch.cat(
            [x.detach().to(device=w.device, dtype=torch.float64), w.expand(x.shape[0], -1)],
            dim=1,
        ).requires_grad_(True)
        values = self._compiled().expectations(theta, self._pauli_sums, dtype=torch.complex128)
        # Samples are independent, so d(Σ_b E_bo)/dθ_b = dE_bo/dθ_b: one backward per output.
        rows = []
        for o in range(self.num_outputs):
            keep = o < self.num_outputs - 1
            rows.append(torch.autograd.grad(values[:, o].sum(), theta, retain_graph=keep)[0])
        return torch.stack(rows, dim=1).cpu()

    # -- running sweeps -------------------------------------------------------

    def _evaluate(self, rows: np.ndarray, stats: PassStats, kind: str) -> np.ndarray:
        """Expectation values ``(N, O)`` of ``rows`` (gate angles, service order): one sweep."""
        from pilot.tasks import QuantumTask

        started = time.perf_counter()
        if len(rows) == 0:
            return np.empty((0, self.num_outputs))
        if self.pcs is None:
            raise ConfigError(
                f"{self.name} has no PilotComputeService to run its circuits; pass one as pcs",
                key="pcs",
            )
        task = QuantumTask(
            self.shift.circuit,
            parameter_values=rows,
            observables=self.observables,
            shots=self.shots,
            name=f"{self.name}:{kind}",
            **self.task_options,
        )
        refs = self.pcs.submit_quantum_task(task)
        results = self.pcs.get_results(
            refs if isinstance(refs, list) else [refs], timeout=self.timeout
        )
        missing = [i for i, r in enumerate(results) if r.expectation_values is None]
        if missing:
            raise PilotError(
                f"{self.name}: {len(missing)} of {len(rows)} circuits of the {kind} sweep came "
                f"back without expectation values (backend {results[missing[0]].backend!r})"
            )
        values = np.array([r.expectation_values for r in results], dtype=float)
        if values.shape != (len(rows), self.num_outputs):
            raise PilotError(
                f"{self.name}: the {kind} sweep of {len(rows)} circuits returned expectation "
                f"values of shape {values.shape}, expected {(len(rows), self.num_outputs)}"
            )
        stats.circuits += len(rows)
        stats.seconds += time.perf_counter() - started
        pilots = Counter(stats.pilots)
        pilots.update(r.pilot for r in results)
        stats.pilots = dict(pilots)
        logger.debug(
            "%s %s: %d circuits in %.2f s on %s", self.name, kind, len(rows), stats.seconds, pilots
        )
        return values

    def _theta(self, x: torch.Tensor, w: torch.Tensor) -> np.ndarray:
        x64 = x.detach().to(torch.float64).cpu().numpy()
        w64 = w.detach().to(torch.float64).cpu().numpy()
        return np.concatenate([x64, np.broadcast_to(w64, (x64.shape[0], w64.shape[0]))], axis=1)

    def _forward_values(self, x: torch.Tensor, w: torch.Tensor) -> np.ndarray:
        self.last_forward = PassStats()
        return self.shift.expectation(
            self._theta(x, w), lambda rows: self._evaluate(rows, self.last_forward, "forward")
        )

    def _gradient(
        self, x: torch.Tensor, w: torch.Tensor, inputs: bool, weights: bool
    ) -> np.ndarray:
        """``dE/dθ`` ``(batch, O, inputs + weights)``; columns not asked for are not valid."""
        self.last_backward = PassStats()
        n_in = self.num_inputs
        wanted = [
            *(range(n_in) if inputs else ()),
            *(range(n_in, n_in + len(self.weight_params)) if weights else ()),
        ]
        return self.shift.gradient(
            self._theta(x, w),
            lambda rows: self._evaluate(rows, self.last_backward, "backward"),
            wanted,
            self.num_outputs,
        )

    # -- torch ------------------------------------------------------------------

    def _as_batch(self, x: torch.Tensor | None) -> tuple[torch.Tensor, tuple[int, ...]]:
        if x is None:
            if self.num_inputs:
                raise ConfigError(
                    f"{self.name} needs an input of width {self.num_inputs}", key="input"
                )
            return torch.zeros((1, 0), dtype=self.weights.dtype), ()
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x, dtype=self.weights.dtype)
        if not x.is_floating_point():
            x = x.to(self.weights.dtype)
        if x.ndim == 0 or x.shape[-1] != self.num_inputs:
            names = ", ".join(str(p) for p in self.input_params[:4])
            more = ", ..." if self.num_inputs > 4 else ""
            raise ConfigError(
                f"{self.name} expects inputs of shape (..., {self.num_inputs}) "
                f"(input_params {names}{more}), got {tuple(x.shape)}",
                key="input",
            )
        lead = tuple(x.shape[:-1])
        return x.reshape(-1, self.num_inputs), lead

    def forward(self, x: torch.Tensor | None = None) -> torch.Tensor:
        batch, lead = self._as_batch(x)
        if batch.shape[0] == 0:
            out = batch.new_zeros((0, self.num_outputs))
        elif self.resolved_diff_method() == "backprop":
            out = self._backprop(batch, self.weights)
        else:
            out = _ShiftFunction.apply(batch, self.weights, self)
        return out.reshape(*lead, self.num_outputs)

    def jacobian(self, x: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dE/dx, dE/dw)`` of shapes ``(..., O, inputs)`` and ``(..., O, weights)``,
        by one parameter-shift sweep, or autograd with backprop (float64, no autograd
        graph)."""
        batch, lead = self._as_batch(x)
        n_in = self.num_inputs
        if self.resolved_diff_method() == "backprop":
            jac = self._backprop_jacobian(batch)
        else:
            jac = torch.from_numpy(self._gradient(batch, self.weights, True, True))
        return (
            jac[:, :, :n_in].reshape(*lead, self.num_outputs, n_in),
            jac[:, :, n_in:].reshape(*lead, self.num_outputs, len(self.weight_params)),
        )


class _ShiftFunction(torch.autograd.Function):
    """Expectation values forward, parameter-shift vector-Jacobian product backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, layer: QuantumLayer) -> torch.Tensor:
        ctx.layer = layer
        ctx.save_for_backward(x, w)
        values = layer._forward_values(x, w)
        return torch.from_numpy(values).to(dtype=x.dtype, device=x.device)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w = ctx.saved_tensors
        layer: QuantumLayer = ctx.layer
        want_x, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if not (want_x or want_w):
            return None, None, None
        grad = layer._gradient(x, w, want_x, want_w)  # (batch, O, P)
        g = grad_out.detach().to(torch.float64).cpu().numpy()
        n_in = layer.num_inputs
        grad_x = grad_w = None
        if want_x:
            gx = np.einsum("bo,bop->bp", g, grad[:, :, :n_in])
            grad_x = torch.from_numpy(gx).to(dtype=x.dtype, device=x.device)
        if want_w:
            gw = np.einsum("bo,bop->p", g, grad[:, :, n_in:])
            grad_w = torch.from_numpy(gw).to(dtype=w.dtype, device=w.device)
        return grad_x, grad_w, None


__all__ = ["BASIS_GATES", "DIFF_METHODS", "ParameterShiftCircuit", "PassStats", "QuantumLayer"]

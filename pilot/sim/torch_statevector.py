"""A batched statevector simulator written with torch tensor operations.

The engine behind the ``torch_statevector`` executor
(:mod:`pilot.backends.torch_sv`) and the torch layer (:mod:`pilot.ml`).  It
imports nothing from ``pilot``: it takes Qiskit circuits and Pauli sums (any
objects with ``coeff`` and ``paulis``) and raises its own errors
(:class:`SimulatorError`), which its two callers turn into the library's.

How a circuit runs
------------------
1. Qiskit's transpiler (``optimization_level=0``, no layout) translates the
   circuit to :data:`BASIS_GATES` when it uses anything else (``u``, ``cu``,
   ``mcx``, ``unitary``...).  Only unitary gates are accepted: ``reset``,
   mid-circuit measurements and classical control are refused with
   :class:`UnsupportedInstruction`.  The circuit's global phase is dropped
   (no probability or expectation value depends on it).
2. Every gate becomes a torch matrix.  A gate with fixed angles uses Qiskit's
   own ``to_matrix()``.  A rotation whose angle depends on parameters
   (:data:`ROTATION_GATES`) is the trigonometric polynomial
   ``M(φ) = C0 + C1 cos(φ/2) + C2 sin(φ/2) + C3 cos φ + C4 sin φ``, its
   coefficient matrices solved from Qiskit's matrices once (exact for every
   rotation in the table; checked when fitted and in the tests).
3. Angles are functions of the circuit's parameters ``θ``: linear ones
   (``2θ``, ``θ/2 + π``) as one matrix product ``A θ + b``, others
   (``θ²``, ``sin θ``) through sympy's torch printer.  All of it is torch
   arithmetic, so expectation values are differentiable in ``θ`` (autograd).
4. Consecutive gates are fused into blocks of up to :data:`FUSION_WIDTH`
   qubits (:func:`fuse`); a block without parameters is multiplied out once,
   a parameterised one per batch.
5. The state is a tensor of shape ``(batch, 2, ..., 2)``, one row per parameter
   set, qubit ``q`` on axis ``n - q`` (flattened, that is Qiskit's
   little-endian index).  A block moves its qubits' axes next to the batch
   axis and multiplies once (a ``(d, d)`` or batched ``(batch, d, d)``
   matmul; a diagonal block, one broadcast product without moving axes).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

logger = logging.getLogger(__name__)


class SimulatorError(Exception):
    """Something the simulator cannot do with what it was given."""


class UnsupportedInstruction(SimulatorError):
    """An instruction it cannot simulate (``operation``), and what to do (``hint``)."""

    def __init__(self, operation: str, hint: str) -> None:
        super().__init__(f"{operation!r}: {hint}")
        self.operation, self.hint = operation, hint


class InvalidInput(SimulatorError, ValueError):
    """A wrong argument; ``key`` names it (``"circuit"``, ``"parameter_values"``...)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class PauliTermLike(Protocol):
    """A term of a Pauli sum: ``coeff * P_q0 P_q1 ...`` (``paulis = ((qubit, "X"), ...)``)."""

    @property
    def coeff(self) -> float: ...

    @property
    def paulis(self) -> tuple[tuple[int, str], ...]: ...


#: A Pauli sum: the observables :meth:`TorchCircuit.expectations` takes.
Observable = tuple[PauliTermLike, ...]


def memory_qubit_limit(bytes_per_amplitude: int = 16, cap: int = 30) -> int:
    """Largest statevector width that fits in half of this machine's memory."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 26
    n = 1
    while bytes_per_amplitude * 2 ** (n + 1) <= mem // 2 and n < cap:
        n += 1
    return n


#: ``quantum.precision`` -> amplitude dtype.
PRECISIONS: dict[str, torch.dtype] = {"complex64": torch.complex64, "complex128": torch.complex128}
DEFAULT_PRECISION = "complex64"
#: Exact probabilities below this are rounding noise of the precision, not results.
_PROBABILITY_FLOOR = {torch.complex64: 1e-12, torch.complex128: 1e-15}

#: Gates applied with Qiskit's matrix (their angles, if any, are numbers).
FIXED_GATES = (
    "id",
    "x",
    "y",
    "z",
    "h",
    "s",
    "sdg",
    "t",
    "tdg",
    "sx",
    "sxdg",
    "cx",
    "cy",
    "cz",
    "ch",
    "swap",
    "iswap",
    "ecr",
    "ccx",
    "cswap",
)
#: One-angle gates whose angle may depend on parameters.
ROTATION_GATES = ("rx", "ry", "rz", "p", "cp", "crx", "cry", "crz", "rxx", "ryy", "rzz")
#: What every circuit is translated to before it runs.
BASIS_GATES = FIXED_GATES + ROTATION_GATES
#: Widest fused block (qubits): 3 ran fastest on 12-qubit batches (fewer passes over the
#: state than 2; 4 and 5 no faster on the CPU).  A wider gate is its own block.
FUSION_WIDTH = 3
#: Instructions with no effect on the state.
_SKIP = frozenset({"barrier", "delay", "global_phase"})
#: Bytes of work space per amplitude: the state, its reordered copy, the matmul result.
_WORK_COPIES = 4
#: A batch is simulated in chunks of at most this many bytes of state.
_CHUNK_BYTES = 1 << 30
HINT = (
    "torch_statevector simulates unitary circuits with final measurements; run this "
    "circuit on qiskit_local (Aer)"
)


# ------------------------------------------------------------------ devices
def assigned_gpus() -> float:
    """GPUs Ray assigned to this process's actor or task (0 outside a Ray worker).

    Ray >= 2.50 no longer hides GPUs from actors that asked for none, so
    ``torch.cuda.is_available()`` alone does not say whether the pilot holds one.
    """
    try:
        import ray

        if not ray.is_initialized():
            return 0.0
        return float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    except (ImportError, AssertionError):  # AssertionError: called from a driver
        return 0.0


def pilot_device(gpus: float | None = None) -> torch.device:
    """``cuda`` when this pilot holds a GPU and CUDA works, else ``cpu``.

    ``gpus`` defaults to :func:`assigned_gpus`.  Ray points ``CUDA_VISIBLE_DEVICES``
    at an actor's own GPUs, so CUDA device 0 is the pilot's.
    """
    gpus = assigned_gpus() if gpus is None else gpus
    if gpus > 0 and torch.cuda.is_available():
        return torch.device("cuda", 0)
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def qubit_limit(device: torch.device, dtype: torch.dtype) -> int:
    """Widest state that fits, with work space, in half of the device's memory."""
    per_amplitude = _WORK_COPIES * torch.empty((), dtype=dtype).element_size()
    if device.type != "cuda":
        return memory_qubit_limit(bytes_per_amplitude=per_amplitude)
    memory = int(torch.cuda.get_device_properties(device).total_memory)
    n = 1
    while per_amplitude * 2 ** (n + 1) <= memory // 2 and n < 30:
        n += 1
    return n


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.complex128 else torch.float32


# ------------------------------------------------------------------ gate matrices
#: Angles at which a rotation's matrix is sampled to solve for its coefficients.
_FIT_ANGLES = (0.3, 1.1, 2.0, 3.7, 5.2)
_CHECK_ANGLE = 4.4


def _features_np(angles: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            np.ones_like(angles),
            np.cos(angles / 2),
            np.sin(angles / 2),
            np.cos(angles),
            np.sin(angles),
        ],
        axis=-1,
    )


def _features(angles: torch.Tensor) -> torch.Tensor:
    """``(batch,)`` angles -> ``(batch, 5)``: 1, cos φ/2, sin φ/2, cos φ, sin φ."""
    half = angles / 2
    return torch.stack(
        [
            torch.ones_like(angles),
            torch.cos(half),
            torch.sin(half),
            torch.cos(angles),
            torch.sin(angles),
        ],
        dim=-1,
    )


@functools.cache
def rotation_coefficients(name: str) -> np.ndarray:
    """``(5, d, d)``: Qiskit's matrix of rotation ``name`` at φ is ``Σ_f features(φ)_f C_f``."""
    from qiskit.circuit.library import get_standard_gate_name_mapping

    gate_cls = type(get_standard_gate_name_mapping()[name])
    angles = np.array(_FIT_ANGLES)
    mats = np.stack([gate_cls(float(a)).to_matrix() for a in angles])
    coeffs = np.linalg.solve(_features_np(angles), mats.reshape(len(angles), -1))
    coeffs = coeffs.reshape(mats.shape)
    check = np.tensordot(_features_np(np.array(_CHECK_ANGLE)), coeffs, axes=1)
    if not np.allclose(check, gate_cls(_CHECK_ANGLE).to_matrix(), atol=1e-12):  # pragma: no cover
        raise AssertionError(f"{name} is not a trigonometric polynomial of degree 1 in φ/2")
    return coeffs


def _is_diagonal(mat: np.ndarray) -> bool:
    d = mat.shape[-1]
    off = mat * (1 - np.eye(d))
    return not np.any(np.abs(off) > 1e-15)


@dataclass(frozen=True)
class _Gate:
    """One gate after translation.

    ``qubits`` in Qiskit's qarg order (``qubits[0]`` is the least significant
    bit of the matrix index).  ``matrix``: ``(d, d)`` for a fixed gate,
    ``(5, d, d)`` coefficients for a rotation (``angle`` is its column in the
    angle table); only the diagonals when ``diagonal``.
    """

    name: str
    qubits: tuple[int, ...]
    matrix: np.ndarray
    diagonal: bool
    angle: int | None = None


@dataclass
class _Block:
    """Consecutive gates fused into one matrix on ``qubits`` (little-endian, as a gate's).

    ``items``: ``(gate index, positions of the gate's qubits in qubits)`` in order.
    """

    qubits: tuple[int, ...]
    items: list[tuple[int, tuple[int, ...]]]
    diagonal: bool = False
    parameterised: bool = False


def fuse(gates: Sequence[_Gate], width: int = FUSION_WIDTH) -> list[_Block]:
    """Group consecutive gates into blocks of at most ``width`` qubits.

    A gate joins the last block touching its qubits when that block is the
    last on all of them and covers them (the gates in between act on other
    qubits, so it commutes back).  Otherwise it opens a block that absorbs
    the last blocks of its qubits that are last on all their own qubits
    (they commute forward), as long as the block stays within ``width``.  A
    hardware-efficient layer (``ry``, ``rz`` on every qubit, a ``cx`` chain)
    becomes one three-qubit block per two ``cx``: each block costs one pass
    over the state instead of one per gate.
    """
    blocks: list[_Block | None] = []
    last: dict[int, int] = {}
    for gi, gate in enumerate(gates):
        qs = gate.qubits
        wanted = set(qs)
        owners = {last.get(q) for q in qs}
        if len(owners) == 1:
            (idx,) = owners
            found = blocks[idx] if idx is not None else None
            if found is not None and wanted <= set(found.qubits):
                found.items.append((gi, tuple(found.qubits.index(q) for q in qs)))
                continue
        qubits = list(qs)
        absorbed: list[int] = []
        for idx in sorted({last[q] for q in qs if q in last}):
            old = blocks[idx]
            assert old is not None
            extra = [p for p in old.qubits if p not in qubits]
            if len(qubits) + len(extra) <= max(width, len(qs)) and all(
                last[p] == idx for p in old.qubits
            ):
                qubits += extra
                absorbed.append(idx)
        items: list[tuple[int, tuple[int, ...]]] = []
        for idx in absorbed:
            old = blocks[idx]
            assert old is not None
            items += [(g, tuple(qubits.index(old.qubits[p]) for p in pos)) for g, pos in old.items]
            blocks[idx] = None
        items.append((gi, tuple(range(len(qs)))))
        blocks.append(_Block(tuple(qubits), items))
        for q in qubits:
            last[q] = len(blocks) - 1
    out = [b for b in blocks if b is not None]
    for b in out:
        b.diagonal = all(gates[g].diagonal for g, _ in b.items)
        b.parameterised = any(gates[g].angle is not None for g, _ in b.items)
    return out


# ------------------------------------------------------------------ compiled circuits
class TorchCircuit:
    """A gate-only Qiskit circuit compiled to torch operations (see the module docstring).

    Args:
        circuit: a Qiskit ``QuantumCircuit`` without measurements (final ones:
            ``circuit.remove_final_measurements(inplace=False)``).
        parameters: the order of ``θ``'s columns; default ``circuit.parameters``
            (Qiskit's sorted order).  Must include every parameter of the circuit.
    """

    def __init__(
        self, circuit: QuantumCircuit, parameters: Sequence[Parameter] | None = None
    ) -> None:
        from qiskit import QuantumCircuit

        if not isinstance(circuit, QuantumCircuit):
            raise InvalidInput(
                f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}",
                key="circuit",
            )
        self.name = circuit.name
        self.num_qubits = int(circuit.num_qubits)
        self.parameters: list[Parameter] = (
            list(circuit.parameters) if parameters is None else list(parameters)
        )
        missing = sorted(str(p) for p in set(circuit.parameters) - set(self.parameters))
        if missing:
            raise InvalidInput(
                f"circuit {circuit.name!r} has parameter(s) {missing} missing from parameters",
                key="parameters",
            )
        self._exprs: list[Any] = []
        self.gates = self._build(_translate(circuit))
        self.blocks = fuse(self.gates)
        self._angle_map()
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[list[Any], list[Any]]] = {}

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)

    def __repr__(self) -> str:
        return (
            f"TorchCircuit({self.name!r}, qubits={self.num_qubits}, gates={len(self.gates)}, "
            f"blocks={len(self.blocks)}, parameters={self.num_parameters})"
        )

    def _build(self, qc: QuantumCircuit) -> list[_Gate]:
        from qiskit.circuit import ParameterExpression

        gates = []
        for inst in qc.data:
            op = inst.operation
            if op.name in _SKIP:
                continue
            if (
                op.name in ("measure", "reset")
                or inst.clbits
                or getattr(op, "condition", None) is not None
            ):
                raise UnsupportedInstruction(op.name, HINT)
            qubits = tuple(qc.find_bit(q).index for q in inst.qubits)
            symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
            if symbolic:
                if op.name not in ROTATION_GATES or len(op.params) != 1:
                    raise UnsupportedInstruction(
                        f"{op.name} with a parameterised angle",
                        f"parameterised angles are supported in {', '.join(ROTATION_GATES)}",
                    )
                coeffs = rotation_coefficients(op.name)
                diagonal = all(_is_diagonal(c) for c in coeffs)
                matrix = np.stack([np.diag(c) for c in coeffs]) if diagonal else coeffs
                gates.append(_Gate(op.name, qubits, matrix, diagonal, len(self._exprs)))
                self._exprs.append(symbolic[0])
                continue
            try:
                mat = np.asarray(op.to_matrix(), dtype=complex)
            except Exception as exc:
                raise UnsupportedInstruction(
                    op.name, f"it has no unitary matrix ({exc}); {HINT}"
                ) from None
            diagonal = _is_diagonal(mat)
            gates.append(_Gate(op.name, qubits, np.diag(mat) if diagonal else mat, diagonal))
        return gates

    def _angle_map(self) -> None:
        """``φ = A θ + b`` for linear angle expressions; sympy functions for the others."""
        from qiskit.circuit import ParameterExpression

        index = {p: j for j, p in enumerate(self.parameters)}
        k_count, p_count = len(self._exprs), len(self.parameters)
        self._matrix = np.zeros((k_count, p_count))
        self._offset = np.zeros(k_count)
        self._nonlinear: list[tuple[int, Callable[..., Any], list[int]]] = []
        for k, expr in enumerate(self._exprs):
            grads = [(index[p], expr.gradient(p)) for p in expr.parameters]
            if all(not isinstance(g, ParameterExpression) or not g.parameters for _, g in grads):
                for j, g in grads:
                    self._matrix[k, j] = _real(g, f"d({expr})/d{self.parameters[j]}")
                self._offset[k] = _real(
                    expr.bind({p: 0.0 for p in expr.parameters}), f"{expr} at 0"
                )
                continue
            import sympy

            sym = expr.sympify()
            names = {p.name: j for j, p in enumerate(self.parameters)}
            symbols = sorted(sym.free_symbols, key=str)
            fn = sympy.lambdify(symbols, sym, modules="torch", dummify=True)
            self._nonlinear.append((k, fn, [names[str(s)] for s in symbols]))
        logger.debug(
            "%s: %d gates in %d blocks, %d parameterised angles (%d nonlinear), %d parameters",
            self.name,
            len(self.gates),
            len(self.blocks),
            k_count,
            len(self._nonlinear),
            p_count,
        )

    # -- evaluation ------------------------------------------------------------------

    def angles(self, theta: torch.Tensor) -> torch.Tensor:
        """Gate angles ``(batch, K)`` for parameter rows ``theta`` ``(batch, P)``."""
        if not self._exprs:
            return theta.new_zeros((theta.shape[0], 0))
        a = torch.as_tensor(self._matrix, dtype=theta.dtype, device=theta.device)
        b = torch.as_tensor(self._offset, dtype=theta.dtype, device=theta.device)
        phi = theta @ a.T + b
        if self._nonlinear:
            phi = phi.clone()
            for k, fn, cols in self._nonlinear:
                value = fn(*(theta[:, j] for j in cols))
                value = torch.as_tensor(value, device=theta.device)
                if value.is_complex():
                    value = value.real
                phi[:, k] = value.to(theta.dtype)
        return phi

    def _tensors(self, device: torch.device, dtype: torch.dtype) -> tuple[list[Any], list[Any]]:
        """Gate tensors, and each block's tensor when it has no parameter (else ``None``)."""
        key = (device, dtype)
        if key not in self._cache:
            gates = [torch.tensor(g.matrix, dtype=dtype, device=device) for g in self.gates]
            fixed = [
                None if b.parameterised else self._block_tensor(b, gates, None, dtype)
                for b in self.blocks
            ]
            self._cache[key] = (gates, fixed)
        return self._cache[key]

    def _block_tensor(
        self,
        block: _Block,
        gates: list[torch.Tensor],
        feats: torch.Tensor | None,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """The block's matrix ``(batch|1, d, d)`` (its diagonal ``(batch|1, d)`` if diagonal)."""
        m = len(block.qubits)
        d = 2**m
        device = gates[0].device
        if block.diagonal:  # a "state" of m qubits, multiplied gate by gate
            acc = torch.ones((1,) + (2,) * m, dtype=dtype, device=device)
        else:  # the identity's columns as m-qubit states
            acc = torch.eye(d, dtype=dtype, device=device).reshape((1,) + (2,) * m + (d,))
        for gi, pos in block.items:
            gate = self.gates[gi]
            tensor = gates[gi]
            if gate.angle is not None:
                assert feats is not None
                tensor = torch.tensordot(feats[:, gate.angle], tensor, dims=1)  # (batch, d[, d])
            acc = _apply(acc, tuple(m - p for p in reversed(pos)), tensor, gate.diagonal)
        return acc.reshape(acc.shape[0], d) if block.diagonal else acc.reshape(acc.shape[0], d, d)

    def check_theta(self, theta: Any, device: torch.device | None = None) -> torch.Tensor:
        """``theta`` as a real ``(batch, P)`` tensor (a single row may be 1-D)."""
        if not isinstance(theta, torch.Tensor):
            theta = torch.as_tensor(np.asarray(theta, dtype=float), device=device)
        if theta.ndim == 1:
            theta = theta.unsqueeze(0)
        if theta.ndim != 2 or theta.shape[1] != self.num_parameters:
            raise InvalidInput(
                f"parameter values must have shape (batch, {self.num_parameters}) for circuit "
                f"{self.name!r}, got {tuple(theta.shape)}",
                key="parameter_values",
            )
        if theta.is_complex():
            raise InvalidInput("parameter values must be real", key="parameter_values")
        if not theta.is_floating_point():
            theta = theta.to(torch.float64)
        return theta

    def statevector(
        self,
        theta: Any = None,
        *,
        dtype: torch.dtype = PRECISIONS[DEFAULT_PRECISION],
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """States ``(batch, 2, ..., 2)`` (qubit ``q`` on axis ``n - q``), one per row of ``theta``.

        ``theta`` may be omitted for a circuit without parameters (batch 1).
        The computation runs on ``theta``'s device (or ``device``).
        """
        theta = self._theta(theta, device)
        real = _real_dtype(dtype)
        batch, n = theta.shape[0], self.num_qubits
        phi = self.angles(theta.to(torch.promote_types(theta.dtype, real)))
        # cos/sin of every angle at once: one small op per gate costs more than the gate
        feats = _features(phi.to(real)).to(dtype)  # (batch, K, 5)
        gates, fixed = self._tensors(theta.device, dtype)
        state = torch.zeros((batch, 2**n), dtype=dtype, device=theta.device)
        state[:, 0] = 1
        state = state.reshape(batch, *([2] * n))
        for block, cached in zip(self.blocks, fixed, strict=True):
            tensor = (
                cached if cached is not None else self._block_tensor(block, gates, feats, dtype)
            )
            if block.diagonal:
                state = _apply_diagonal(state, block.qubits, tensor)
            else:
                if tensor.shape[0] == 1:
                    tensor = tensor[0]
                state = _apply(state, tuple(n - q for q in reversed(block.qubits)), tensor, False)
        return state

    def probabilities(
        self,
        theta: Any = None,
        qubits: Sequence[int] | None = None,
        *,
        dtype: torch.dtype = PRECISIONS[DEFAULT_PRECISION],
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``(batch, 2**k)``: probabilities over ``qubits`` (default all), ``qubits[0]`` the
        most significant bit of the index (so ``format(i, "0kb")`` is the ordered key)."""
        qubits = list(range(self.num_qubits)) if qubits is None else list(qubits)
        out = [
            marginal(self.statevector(chunk, dtype=dtype, device=device), qubits)
            for chunk in self._chunks(theta, dtype, device)
        ]
        return torch.cat(out)

    def expectations(
        self,
        theta: Any,
        observables: Sequence[Observable],
        *,
        dtype: torch.dtype = PRECISIONS[DEFAULT_PRECISION],
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``(batch, O)`` expectation values of Pauli sums, differentiable in ``theta``."""
        out = [
            pauli_expectations(self.statevector(chunk, dtype=dtype, device=device), observables)
            for chunk in self._chunks(theta, dtype, device)
        ]
        return torch.cat(out)

    def _theta(self, theta: Any, device: torch.device | str | None) -> torch.Tensor:
        dev = torch.device(device) if device is not None else None
        if theta is None:
            if self.num_parameters:
                names = ", ".join(str(p) for p in self.parameters[:4])
                raise InvalidInput(
                    f"circuit {self.name!r} has parameters ({names}...); give their values",
                    key="parameter_values",
                )
            theta = torch.zeros((1, 0), dtype=torch.float64, device=dev)
        theta = self.check_theta(theta, dev)
        return theta.to(dev) if dev is not None and theta.device != dev else theta

    def _chunks(
        self, theta: Any, dtype: torch.dtype, device: torch.device | str | None
    ) -> list[torch.Tensor]:
        """``theta`` split so that each chunk's states take at most ``_CHUNK_BYTES``."""
        theta = self._theta(theta, device)
        per_row = _WORK_COPIES * 2**self.num_qubits * torch.empty((), dtype=dtype).element_size()
        size = max(1, _CHUNK_BYTES // per_row)
        return list(theta.split(size)) if theta.shape[0] > size else [theta]


def _real(value: Any, what: str) -> float:
    from qiskit.circuit import ParameterExpression

    if isinstance(value, ParameterExpression):
        value = value.numeric()
    number = complex(value)
    if abs(number.imag) > 1e-12:
        raise InvalidInput(f"{what} is complex ({number}); angles must be real", key="circuit")
    return number.real


def _translate(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` in :data:`BASIS_GATES` (translated by Qiskit only when needed)."""
    names = set()
    for inst in circuit.data:
        op = inst.operation
        if op.name in ("measure", "reset") or getattr(op, "condition", None) is not None:
            raise UnsupportedInstruction(op.name, HINT)
        if op.name in ("if_else", "while_loop", "for_loop", "switch_case", "box"):
            raise UnsupportedInstruction(op.name, HINT)
        names.add(op.name)
    if names <= set(BASIS_GATES) | _SKIP:
        return circuit
    from qiskit import transpile

    try:
        return transpile(circuit, basis_gates=list(BASIS_GATES), optimization_level=0)
    except Exception as exc:  # TranspilerError, QiskitError: nothing to translate to
        missing = sorted(names - set(BASIS_GATES) - _SKIP)
        raise UnsupportedInstruction(
            missing[0] if missing else circuit.name,
            f"no translation into torch_statevector gates ({type(exc).__name__}: {exc})",
        ) from None


def _apply(
    state: torch.Tensor, axes: tuple[int, ...], tensor: torch.Tensor, diagonal: bool
) -> torch.Tensor:
    """A ``(d, d)`` or ``(batch, d, d)`` matrix (``(d,)``/``(batch, d)`` diagonal) on ``axes``.

    The axes move next to the batch axis (the first one: the most significant
    bit of the matrix index), the rest of the state flattens behind them, and
    one matmul (or product) applies the gate.  Axes after the qubit axes (the
    columns of a block matrix being built) are carried along.
    """
    k = len(axes)
    front = tuple(range(1, k + 1))
    moved = state.movedim(axes, front) if axes != front else state
    shape = moved.shape
    flat = moved.reshape(shape[0], 2**k, -1)
    flat = flat * tensor.unsqueeze(-1) if diagonal else tensor @ flat
    out = flat.reshape((flat.shape[0], *shape[1:]))
    return out.movedim(front, axes) if axes != front else out


def _apply_diagonal(
    state: torch.Tensor, qubits: tuple[int, ...], diag: torch.Tensor
) -> torch.Tensor:
    """A diagonal ``(batch|1, d)`` on ``qubits`` (little-endian): one broadcast product."""
    n = state.ndim - 1
    m = len(qubits)
    table = diag.reshape((diag.shape[0],) + (2,) * m)  # axis 1 + i: qubits[m - 1 - i]
    placed = sorted((n - qubits[p], 1 + (m - 1 - p)) for p in range(m))
    table = table.permute(0, *(t for _, t in placed))
    shape = [table.shape[0]] + [1] * n
    for axis, _ in placed:
        shape[axis] = 2
    return state * table.reshape(shape)


def marginal(state: torch.Tensor, qubits: Sequence[int]) -> torch.Tensor:
    """``(batch, 2**k)`` probabilities of ``qubits`` (``qubits[0]`` the most significant bit)."""
    n = state.ndim - 1
    probs = state.real**2 + state.imag**2
    axes = [n - q for q in qubits]
    rest = [a for a in range(1, n + 1) if a not in axes]
    return probs.permute(0, *axes, *rest).reshape(state.shape[0], 2 ** len(axes), -1).sum(-1)


#: Pauli sums over at most this many (amplitudes x terms) use one weight matrix.
WEIGHT_ELEMENTS = 1 << 22


def _term_weights(
    paulis: tuple[tuple[int, str], ...], n: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``w(x)`` with ``<ψ|P|ψ> = Σ_x conj(ψ(x)) ψ(x ⊕ flips) w(x)``, broadcastable to
    ``(batch, 2, ..., 2)``: Z gives ``(-1)^x_q``, Y gives ``-i`` at ``x_q = 0`` and ``i`` at 1."""
    w = torch.ones([1] * (n + 1), dtype=dtype, device=device)
    for q, pauli in paulis:
        if pauli == "X":
            continue
        values = [1, -1] if pauli == "Z" else [-1j, 1j]
        shape = [1] * (n + 1)
        shape[n - q] = 2
        w = w * torch.tensor(values, dtype=dtype, device=device).reshape(shape)
    return w


def pauli_expectations(
    state: torch.Tensor,
    observables: Sequence[Observable],
    *,
    weight_elements: int = WEIGHT_ELEMENTS,
) -> torch.Tensor:
    """``(batch, O)``: ``<ψ|H_o|ψ>`` for each Pauli sum ``H_o`` (differentiable).

    Terms are grouped by the qubits their X and Y flip: each group costs one
    flipped copy of the state and one matmul against its terms' weights
    (``|ψ|²`` and ±1 weights for the Z-only group) when the weights hold at
    most ``weight_elements`` numbers, else one weighted sum per term.
    """
    n = state.ndim - 1
    batch = state.shape[0]
    real = state.real.dtype
    device = state.device
    groups: dict[tuple[int, ...], list[tuple[int, float, tuple[tuple[int, str], ...]]]] = {}
    constants = torch.zeros(len(observables), dtype=real, device=device)
    for o, obs in enumerate(observables):
        for term in obs:
            if not term.paulis:
                constants[o] += term.coeff
                continue
            flips = tuple(sorted(q for q, p in term.paulis if p in ("X", "Y")))
            groups.setdefault(flips, []).append((o, float(term.coeff), term.paulis))
    total = constants.expand(batch, -1)
    dims = tuple(range(1, n + 1))
    for flips, terms in groups.items():
        if flips:
            rho = state.conj() * state.flip([n - q for q in flips])
            kind = state.dtype
        else:
            rho = state.real**2 + state.imag**2
            kind = real
        weights = [_term_weights(paulis, n, kind, device) for _, _, paulis in terms]
        if 2**n * len(terms) <= weight_elements:
            full = torch.stack([w.expand((1,) + (2,) * n).reshape(-1) for w in weights], dim=1)
            values = rho.reshape(batch, -1) @ full
        else:
            values = torch.stack([(rho * w).sum(dim=dims) for w in weights], dim=1)
        if values.is_complex():
            values = values.real
        mix = torch.zeros((len(terms), len(observables)), dtype=real, device=device)
        for t, (o, coeff, _) in enumerate(terms):
            mix[t, o] += coeff
        total = total + values @ mix
    return total

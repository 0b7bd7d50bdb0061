"""``torch_statevector``: the executor of the batched torch statevector simulator.

The simulator itself is :mod:`pilot.sim.torch_statevector` (how a circuit runs,
gate fusion, autograd); this adapter gives it a pilot's device and precision,
turns its errors into the library's, and reports it to QDREAMER.

Device and precision
--------------------
A pilot's actor computes on CUDA when Ray gave it a GPU (the pilot's
``gpus_per_node > 0``) and ``torch.cuda.is_available()``, else on the CPU
(its threads capped by the actor's ``OMP_NUM_THREADS``).  Amplitudes are
``complex64`` unless ``quantum.precision = "complex128"``.  The device and
precision are reported by :meth:`TorchStatevectorBackend.status`.

Exact results (``shots=None``) are computed from the state; counts are drawn
from the exact distribution with NumPy's multinomial sampler (seeded by
``quantum.seed``).  Sweeps of one parameterised circuit
(:meth:`~pilot.backends.base.QuantumBackend.estimate`) run as one batch.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dreamer.resource import ResourceCapabilities, ResourceStatus
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.convert.portable import Observable, PauliTerm
from pilot.errors import ConfigError, MissingDependencyError, UnsupportedOperationError

try:
    import torch

    from pilot.sim.torch_statevector import (
        _PROBABILITY_FLOOR,
        BASIS_GATES,
        DEFAULT_PRECISION,
        FIXED_GATES,
        HINT,
        PRECISIONS,
        ROTATION_GATES,
        InvalidInput,
        TorchCircuit,
        UnsupportedInstruction,
        device_name,
        pilot_device,
        qubit_limit,
    )
except ImportError as exc:  # pragma: no cover - the registry checks for torch first
    raise MissingDependencyError("torch_statevector", "torch", "pip install torch==2.13.0") from exc

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def library_errors() -> Iterator[None]:
    """The simulator's errors as the library's: ``ConfigError`` for a wrong argument,
    ``UnsupportedOperationError`` for an instruction it cannot simulate."""
    try:
        yield
    except UnsupportedInstruction as exc:
        raise UnsupportedOperationError(exc.operation, None, exc.hint) from exc
    except InvalidInput as exc:
        raise ConfigError(str(exc), key=exc.key) from exc


def precision_dtype(precision: str | None) -> torch.dtype:
    """The amplitude dtype of ``quantum.precision`` (``None``: the default)."""
    name = precision or DEFAULT_PRECISION
    if name not in PRECISIONS:
        raise ConfigError.unknown("precision", "quantum.precision", str(name), PRECISIONS)
    return PRECISIONS[name]


def as_pauli_sums(observables: Sequence[Any], num_qubits: int) -> tuple[Observable, ...]:
    """Portable Pauli sums from Pauli strings (Qiskit order: the rightmost character is
    qubit 0), ``{pauli: coeff}`` dicts, ``SparsePauliOp``\\ s, or portable sums as they are."""
    from pilot.convert.observables import to_pauli_sums

    if all(isinstance(o, tuple) and all(isinstance(t, PauliTerm) for t in o) for o in observables):
        return tuple(observables)
    return to_pauli_sums(list(observables), num_qubits, "qiskit")


def expectations(
    circuit: QuantumCircuit | TorchCircuit,
    params: Any,
    observables: Sequence[Any],
    *,
    parameters: Sequence[Parameter] | None = None,
    precision: str | None = None,
) -> torch.Tensor:
    """Expectation values ``(batch, len(observables))``, differentiable in ``params``.

    Args:
        circuit: a parameterised Qiskit circuit (final measurements are dropped)
            or a :class:`TorchCircuit` compiled once and reused.
        params: ``(batch, P)`` (or ``(P,)``) real tensor of parameter values in
            ``parameters`` order; the simulation runs on its device.
        observables: Pauli strings (rightmost character = qubit 0, as Qiskit),
            ``{pauli: coeff}`` dicts, ``SparsePauliOp``\\ s or portable Pauli sums.
        parameters: ``θ``'s order for a Qiskit circuit (default ``circuit.parameters``).
        precision: ``"complex64"`` or ``"complex128"``; default ``complex128`` for
            float64 ``params``, ``complex64`` otherwise.

    The result's dtype is the precision's real dtype (float32 or float64).
    """
    with library_errors():
        if not isinstance(circuit, TorchCircuit):
            body = circuit.remove_final_measurements(inplace=False)
            assert body is not None
            circuit = TorchCircuit(body, parameters)
        theta = circuit.check_theta(params)
        if precision is None:
            dtype = torch.complex128 if theta.dtype == torch.float64 else torch.complex64
        else:
            dtype = precision_dtype(precision)
        sums = as_pauli_sums(observables, circuit.num_qubits)
        return circuit.expectations(theta, sums, dtype=dtype)


# ------------------------------------------------------------------ the executor
def _fingerprint(qc: QuantumCircuit, parameters: Sequence[Any]) -> tuple[Any, ...]:
    """What a compiled circuit depends on (compiled circuits are cached by it)."""
    return (
        qc.num_qubits,
        tuple(str(p) for p in parameters),
        tuple(
            (
                inst.operation.name,
                tuple(qc.find_bit(q).index for q in inst.qubits),
                tuple(str(p) for p in inst.operation.params),
            )
            for inst in qc.data
        ),
    )


class TorchStatevectorBackend(QuantumBackend):
    """``torch_statevector``: one resource, a batched torch statevector simulator."""

    framework = "qiskit"
    RESOURCE = "torch_statevector"
    #: Compiled circuits kept per backend (a sweep compiles its circuit once).
    CACHE_SIZE = 64

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        self.precision = getattr(config, "precision", None) or DEFAULT_PRECISION
        self.dtype = precision_dtype(self.precision)
        self.device = pilot_device()
        self._rng = np.random.default_rng(config.seed)
        self._compiled: OrderedDict[tuple[Any, ...], TorchCircuit] = OrderedDict()
        self._caps = ResourceCapabilities(
            name=self.RESOURCE,
            executor=self.executor,
            provider="local",
            pilot=pilot,
            num_qubits=qubit_limit(self.device, self.dtype),
            native_gates=frozenset(BASIS_GATES),
            coupling_map=None,
            simulator=True,
            noisy=False,
            supports_exact=True,
        )
        logger.info(
            "pilot %s: torch_statevector on %s, %s, up to %d qubits",
            pilot,
            device_name(self.device),
            self.precision,
            self._caps.num_qubits,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return [self._caps]

    def status(self, resource: str) -> ResourceStatus:
        self.check_resource(resource)
        return ResourceStatus(
            online=True, message=f"device {device_name(self.device)}, {self.precision}"
        )

    def _compile(self, qc: QuantumCircuit, parameters: Sequence[Any] = ()) -> TorchCircuit:
        key = _fingerprint(qc, parameters)
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
            return found
        with library_errors():
            compiled = TorchCircuit(qc, list(parameters))
        self._compiled[key] = compiled
        if len(self._compiled) > self.CACHE_SIZE:
            self._compiled.popitem(last=False)
        return compiled

    def _distribution(self, job: PreparedCircuit) -> np.ndarray:
        """Exact probabilities of ``job.measured`` (float64, ``measured[0]`` most significant)."""
        compiled = self._compile(job.body)
        with torch.no_grad(), library_errors():
            probs = compiled.probabilities(
                None, list(job.measured), dtype=self.dtype, device=self.device
            )
        return np.asarray(probs[0].to(torch.float64).cpu().numpy())

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        self.check_resource(resource)
        out = []
        for pc in prepared:
            probs = self._distribution(pc)
            probs = np.clip(probs, 0.0, None)
            counts = self._rng.multinomial(shots, probs / probs.sum())
            width = len(pc.measured)
            out.append({_key(int(i), width): int(counts[i]) for i in np.flatnonzero(counts)})
        return out

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        self.check_resource(resource)
        floor = _PROBABILITY_FLOOR[self.dtype]
        out = []
        for pc in prepared:
            probs = self._distribution(pc)
            width = len(pc.measured)
            out.append(
                {_key(int(i), width): float(probs[i]) for i in np.flatnonzero(probs > floor)}
            )
        return out

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        """Qiskit circuits with final measurements: counts in Qiskit's convention."""
        from pilot.convert.qiskit import portable_from_qiskit

        self.check_resource(resource)
        if shots is None:
            raise NotImplementedError  # exact results go through the portable path
        out = []
        for qc in circuits:
            try:
                portable = portable_from_qiskit(qc)
            except UnsupportedOperationError as exc:
                raise UnsupportedOperationError(exc.operation, None, HINT) from None
            (ordered,) = self.sample(
                resource, [PreparedCircuit(portable.body, portable.measured)], shots
            )
            out.append(
                NativeOutput(
                    counts=portable.keys.format_dist(ordered),
                    metadata={"device": str(self.device), "precision": self.precision},
                )
            )
        return out

    def estimate(
        self,
        resource: str,
        circuit: Any,
        parameter_rows: Sequence[Sequence[float]],
        observables: Sequence[Any],
        shots: int | None,
    ) -> list[list[float]] | None:
        """Exact sweeps as one batch: every parameter row is a row of the state tensor."""
        if shots is not None:
            return None  # sampled sweeps take the portable path
        self.check_resource(resource)
        parameters = list(circuit.parameters)
        compiled = self._compile(circuit, parameters)
        rows = np.asarray(parameter_rows, dtype=float).reshape(len(parameter_rows), len(parameters))
        theta = torch.as_tensor(rows, device=self.device)
        with torch.no_grad(), library_errors():
            values = compiled.expectations(theta, list(observables), dtype=self.dtype)
        return [[float(v) for v in row] for row in values.to(torch.float64).cpu().tolist()]


def _key(index: int, width: int) -> str:
    return format(index, f"0{width}b") if width else ""


__all__ = [
    "BASIS_GATES",
    "FIXED_GATES",
    "PRECISIONS",
    "ROTATION_GATES",
    "TorchCircuit",
    "TorchStatevectorBackend",
    "expectations",
    "pilot_device",
]

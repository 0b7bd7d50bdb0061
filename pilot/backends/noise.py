"""``quantum.noise`` for Aer-based pilots: Aer's noise model and the error rates QDREAMER sees.

Two kinds, never mixed (:class:`pilot.config.NoiseConfig` checks):

* **parametric** -- the same noise on every qubit.  Circuits are translated
  (optimisation level 0: run as written) to :data:`NOISY_BASIS`, as on an IBM
  device: every ``sx``, ``x`` and ``id`` carries the one-qubit error (``id``
  stands for an idle slot of one one-qubit gate time), every ``cx`` the
  two-qubit error, every measurement the readout error; ``rz`` is virtual
  and error-free.  A gate's error is Aer's ``depolarizing_error`` followed
  by ``thermal_relaxation_error`` over the gate's time (on each qubit of a
  two-qubit gate).  QDREAMER sees the average gate infidelity of each
  channel (computed by ``qiskit.quantum_info.average_gate_fidelity``, not
  by hand) as the resource's device-wide error rates (``default_errors``);
  its estimate counts gates, not idles, so noise on ``id`` gates goes unseen.
* **from_backend** -- an IBM fake device's calibration snapshot:
  ``NoiseModel.from_backend`` (what ``qiskit_fake`` simulates), circuits
  transpiled to the device, and the device ``Target``'s per-gate errors as
  the capabilities.

Exact results (``shots=None``) under noise come from a density-matrix
simulation with the readout confusion matrices applied to its
probabilities (:meth:`AerNoise.confusions`), so they are the distribution
that sampling draws from.  A density matrix needs 16 * 4**n bytes: about
half the width that sampling (noisy trajectories of a statevector) reaches;
Aer's "insufficient memory" failure says so when a circuit is too wide.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pilot.backends.fake_devices import device_name, fake_devices

if TYPE_CHECKING:
    from pilot.backends.options import NoiseConfig

logger = logging.getLogger(__name__)

#: Gates a noisy (parametric) simulator runs; circuits are translated to them.
NOISY_BASIS = ("id", "rz", "sx", "x", "cx")
#: Gates that carry the one-qubit error (``rz`` is virtual, as on hardware).
ONE_QUBIT_NOISY = ("id", "sx", "x")
TWO_QUBIT_NOISY = ("cx",)
#: Seconds per gate when ``gate_time_1q`` / ``gate_time_2q`` are not given
#: (typical of superconducting devices: ``sx`` ~ 36-60 ns, ``cx``/``ecr`` ~ 300-660 ns).
DEFAULT_GATE_TIMES = {"1q": 5e-8, "2q": 3e-7}


@dataclass(frozen=True)
class AerNoise:
    """A built ``quantum.noise``: Aer's model and what the resource reports.

    ``errors`` holds the device-wide averages ``{"1q", "2q", "readout"}``
    (parametric noise; empty for ``from_backend``, whose capabilities come
    from the device's ``Target``).  ``confusion`` maps a qubit to its
    readout matrix ``P(read | prepared)`` (row = prepared state);
    ``default_confusion`` serves qubits not listed (``None``: perfect
    readout).  ``device`` is the fake device for ``from_backend``.
    """

    model: Any
    errors: dict[str, float] = field(default_factory=dict)
    confusion: dict[int, Any] = field(default_factory=dict)
    default_confusion: Any = None
    device: Any = None

    def confusions(self, qubits: Sequence[int]) -> list[Any]:
        """Readout matrices for ``qubits``, in order (identity where readout is perfect)."""
        import numpy as np

        identity = np.eye(2)
        default = identity if self.default_confusion is None else self.default_confusion
        return [self.confusion.get(q, default) for q in qubits]


def build_noise(noise: NoiseConfig) -> AerNoise:
    """The Aer noise model for a validated ``quantum.noise``."""
    if noise.from_backend is not None:
        return _device_noise(noise.from_backend)
    return _parametric_noise(noise)


def _device_noise(name: str) -> AerNoise:
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device import basic_device_readout_errors

    device = fake_devices()[device_name(name)]
    model = NoiseModel.from_backend(device)
    confusion = {
        int(qubits[0]): err.probabilities
        for qubits, err in basic_device_readout_errors(target=device.target)
    }
    logger.info("noise model of %s: %s", name, sorted(model.noise_instructions))
    return AerNoise(model=model, confusion=confusion, device=device)


def _parametric_noise(noise: NoiseConfig) -> AerNoise:
    from qiskit.quantum_info import average_gate_fidelity
    from qiskit_aer.noise import (
        NoiseModel,
        QuantumError,
        ReadoutError,
        depolarizing_error,
        thermal_relaxation_error,
    )

    model = NoiseModel(basis_gates=list(NOISY_BASIS))

    def relaxation(seconds: float) -> QuantumError | None:
        if noise.t1 is None or noise.t2 is None or seconds <= 0:
            return None
        return thermal_relaxation_error(noise.t1, noise.t2, seconds)

    def gate_error(p: float | None, relax: QuantumError | None, n: int) -> QuantumError | None:
        error = depolarizing_error(p, n) if p else None
        if relax is not None:
            relax_n = relax if n == 1 else relax.expand(relax)
            error = relax_n if error is None else error.compose(relax_n)
        return error

    g1 = DEFAULT_GATE_TIMES["1q"] if noise.gate_time_1q is None else noise.gate_time_1q
    g2 = DEFAULT_GATE_TIMES["2q"] if noise.gate_time_2q is None else noise.gate_time_2q
    errors = {"1q": 0.0, "2q": 0.0, "readout": 0.0}
    for key, n, gates, p, seconds in (
        ("1q", 1, ONE_QUBIT_NOISY, noise.depolarizing_1q, g1),
        ("2q", 2, TWO_QUBIT_NOISY, noise.depolarizing_2q, g2),
    ):
        error = gate_error(p, relaxation(seconds), n)
        if error is not None:
            model.add_all_qubit_quantum_error(error, list(gates))
            errors[key] = max(0.0, 1.0 - float(average_gate_fidelity(error.to_quantumchannel())))
    confusion = None
    if noise.readout is not None:
        p10, p01 = noise.readout
        confusion = [[1.0 - p10, p10], [p01, 1.0 - p01]]
        model.add_all_qubit_readout_error(ReadoutError(confusion))
        errors["readout"] = (p10 + p01) / 2
    logger.info("parametric noise model: average errors %s", errors)
    return AerNoise(model=model, errors=errors, default_confusion=confusion)

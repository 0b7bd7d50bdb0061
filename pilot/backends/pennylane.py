"""``pennylane_default`` (``default.qubit``) and ``pennylane_lightning`` (``lightning.qubit``).

Tapes written in PennyLane run as written (any operation the device
supports, every measurement type); portable circuits are rebuilt as PennyLane
operations.  The QNode's own device is not used: the pilot's device is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dreamer.resource import ResourceCapabilities
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.qiskit import memory_qubit_limit
from pilot.convert.pennylane import to_pennylane_ops
from pilot.errors import CircuitError, UnsupportedOperationError

if TYPE_CHECKING:
    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

DEVICES = {"pennylane_default": "default.qubit", "pennylane_lightning": "lightning.qubit"}
#: The dynamic-circuit features both devices run, sampled and exact (deferred).
PENNYLANE_DYNAMIC = frozenset(
    {
        "mid_circuit_measurement",
        "reset",
        "classical_control",
        "measurement_in_branch",
        "pennylane_mcm",
    }
)


def _bitstring(key: Any) -> str:
    return str(key)


def _probs_dict(probs: Any) -> dict[str, float]:
    import numpy as np

    probs = np.asarray(probs, dtype=float).ravel()
    width = max(round(float(np.log2(len(probs)))), 1)
    return {format(i, f"0{width}b"): float(p) for i, p in enumerate(probs) if p > 1e-15}


def _counts_from_samples(samples: Any) -> dict[str, int]:
    import numpy as np

    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    out: dict[str, int] = {}
    for row in arr:
        key = "".join(str(int(b)) for b in row)
        out[key] = out.get(key, 0) + 1
    return out


def _analytic(tape: Any) -> Any:
    """The tape without shots; ``counts``/``sample`` over wires become exact ``probs``.

    ``shots=None`` means exact results on every executor, so a circuit that asks
    for counts gets its exact distribution instead of PennyLane's "needs shots".
    """
    import pennylane as qml

    measurements = [
        (qml.probs(op=mp.mv) if mp.mv is not None else qml.probs(wires=mp.wires))
        if type(mp).__name__ in ("CountsMP", "SampleMP") and mp.obs is None
        else mp
        for mp in tape.measurements
    ]
    return qml.tape.QuantumScript(tape.operations, measurements, shots=None)


#: Widest circuit (qubits plus one wire per mid-circuit measurement) run with
#: PennyLane's deferred measurement; wider dynamic circuits sample shot by shot.
DEFERRED_WIRES = 20


def _mcm_method(tape: Any) -> str | None:
    """How a PennyLane tape's mid-circuit measurements are simulated: ``"deferred"``
    (one extra wire each, one simulation for all shots) while the widened circuit
    stays within :data:`DEFERRED_WIRES`; else PennyLane's own choice (``None``), which
    for shots is one simulation per shot.  Postselecting tapes keep PennyLane's
    choice too: one-shot drops the shots that fail the postselection, deferred does
    not, and the user chose those semantics by writing the tape."""
    from pennylane.ops import MidMeasure

    mids = [op for op in tape.operations if isinstance(op, MidMeasure)]
    if not mids or tape.shots.total_shots is None:
        return None  # no mid-circuit measurement, or exact: PennyLane defers already
    if any(op.postselect is not None for op in mids):
        return None
    return "deferred" if len(tape.wires) + len(mids) <= DEFERRED_WIRES else None


def _over_clbits(dist: dict[str, Any], written: list[int], num_clbits: int) -> dict[str, Any]:
    """Keys over the clbits ``written`` (in that order) -> keys over every clbit (0 first)."""
    out: dict[str, Any] = {}
    for key, value in dist.items():
        bits = ["0"] * num_clbits
        for pos, clbit in enumerate(written):
            bits[clbit] = key[pos]
        k = "".join(bits)
        out[k] = out.get(k, 0) + value
    return out


class PennyLaneBackend(QuantumBackend):
    framework = "pennylane"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        import pennylane as qml

        self.device_name = config.device or DEVICES.get(self.executor, "default.qubit")
        kwargs: dict[str, Any] = {}
        if config.seed is not None:
            kwargs["seed"] = config.seed
        try:
            self._dev = qml.device(self.device_name, **kwargs)
        except Exception as exc:
            raise CircuitError(
                f"cannot create PennyLane device {self.device_name!r}: {exc}"
            ) from exc
        self._caps = ResourceCapabilities(
            name=self.device_name,
            executor=self.executor,
            provider="local",
            pilot=pilot,
            num_qubits=memory_qubit_limit(),
            simulator=True,
            noisy=False,
            supports_exact=True,
            dynamic=PENNYLANE_DYNAMIC,
            dynamic_exact=PENNYLANE_DYNAMIC,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return [self._caps]

    def _execute(self, tapes: list[Any], mcm_method: str | None = None) -> Any:
        import pennylane as qml

        return qml.execute(tapes, self._dev, mcm_method=mcm_method)

    def run_dynamic(
        self,
        resource: str,
        circuits: Sequence[Any],
        shots: int | None,
        layout: Layout = None,
    ) -> list[dict[str, Any]]:
        """Dynamic Qiskit circuits through PennyLane's mid-circuit measurements.

        ``deferred`` (one extra wire per measurement, exact probabilities
        possible) while the widened circuit stays small; ``one-shot`` (one
        simulation per shot) beyond that.
        """
        from pennylane.ops import MidMeasure

        from pilot.convert.pennylane import pennylane_tape

        out = []
        for qc in circuits:
            tape, written = pennylane_tape(qc, self.device_name, shots)
            extra = sum(isinstance(op, MidMeasure) for op in tape.operations)
            small = len(tape.wires) + extra <= DEFERRED_WIRES
            if shots is None and not small:
                raise UnsupportedOperationError(
                    f"exact results of a dynamic circuit of {qc.num_qubits} qubits and "
                    f"{extra} mid-circuit measurements",
                    f"{self.executor} resource {resource!r}",
                    f"deferred measurement needs one wire each (at most {DEFERRED_WIRES} in "
                    "all); pass shots=N",
                )
            (result,) = self._execute([tape], mcm_method="deferred" if small else "one-shot")
            dist = (
                _probs_dict(result)
                if shots is None
                else {_bitstring(k): int(v) for k, v in result.items()}
            )
            out.append(_over_clbits(dist, written, qc.num_clbits))
        return out

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        tapes = [_analytic(t) if shots is None else t.copy(shots=shots) for t in circuits]
        # Tapes with mid-circuit measurements run as one group per method (see _mcm_method).
        groups: dict[str | None, list[int]] = {}
        for i, tape in enumerate(tapes):
            groups.setdefault(_mcm_method(tape), []).append(i)
        results: list[Any] = [None] * len(tapes)
        for method, idx in groups.items():
            for i, result in zip(idx, self._execute([tapes[i] for i in idx], method), strict=True):
                results[i] = result
        return [self._native_output(t, r) for t, r in zip(tapes, results, strict=True)]

    def _native_output(self, tape: Any, result: Any) -> NativeOutput:
        values = result if len(tape.measurements) > 1 else (result,)
        out = NativeOutput(native=result)
        expvals: list[float] = []
        extra: dict[str, Any] = {}
        for mp, value in zip(tape.measurements, values, strict=True):
            kind = type(mp).__name__
            if kind == "ExpectationMP":
                expvals.append(float(value))
            elif kind == "CountsMP" and out.counts is None:
                out.counts = {_bitstring(k): int(v) for k, v in value.items()}
            elif kind == "SampleMP" and out.counts is None:
                out.counts = _counts_from_samples(value)
            elif kind == "ProbabilityMP" and out.probabilities is None:
                out.probabilities = _probs_dict(value)
            else:
                extra.setdefault(kind.removesuffix("MP").lower(), []).append(value)
        out.expectation_values = expvals or None
        out.metadata = extra
        return out

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        import pennylane as qml

        tapes = [
            qml.tape.QuantumScript(
                to_pennylane_ops(pc.body, self.device_name),
                [qml.counts(wires=list(pc.measured))],
                shots=shots,
            )
            for pc in prepared
        ]
        return [{_bitstring(k): int(v) for k, v in r.items()} for r in self._execute(tapes)]

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        import pennylane as qml

        tapes = [
            qml.tape.QuantumScript(
                to_pennylane_ops(pc.body, self.device_name),
                [qml.probs(wires=list(pc.measured))],
            )
            for pc in prepared
        ]
        return [_probs_dict(r) for r in self._execute(tapes)]

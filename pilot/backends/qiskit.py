"""Qiskit Aer: the simulator (``qiskit_local``) and IBM fake devices (``qiskit_fake``).

``qiskit_local`` is ideal unless ``quantum.noise`` gives it a noise model
(:mod:`pilot.backends.noise`).

Fake devices from ``qiskit_ibm_runtime.fake_provider`` carry real calibration
snapshots (coupling map, per-instruction and readout errors); circuits are
transpiled to each device and simulated with its noise model in Aer.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dreamer.resource import ResourceCapabilities
from dreamer.workload import VIRTUAL_GATES, canonical_gate
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.fake_devices import fake_devices, normalise_fake_name
from pilot.convert.dynamic import DEFERRABLE, circuit_needs, deferred
from pilot.convert.qiskit import bits_from_qiskit_key, measured_circuit
from pilot.errors import ConfigError, TaskFailedError, UnsupportedOperationError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.backends.noise import AerNoise
    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

#: Target operations that are not gates.
_NOT_GATES = {
    "measure",
    "delay",
    "reset",
    "if_else",
    "for_loop",
    "while_loop",
    "switch_case",
    "barrier",
    "store",
    "box",
}


#: Extra qubits (one per mid-circuit measurement or reset) up to which a dynamic
#: circuit without branches is sampled from its deferred form in one simulation.
DEFERRED_EXTRA = 8


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


def relaxation_error(duration: float | None, t1: float | None, t2: float | None) -> float:
    """Average gate infidelity of T1/T2 relaxation over ``duration`` (one qubit).

    A gate can be no better than this: Aer's device noise model (and the
    physics) add relaxation for each gate's duration, so a reported error
    below it underestimates the gate.
    """
    if not duration or not t1:
        return 0.0
    t2 = min(t2 or 2 * t1, 2 * t1)
    return 0.5 - (math.exp(-duration / t1) + 2 * math.exp(-duration / t2)) / 6


def capabilities_from_target(
    target: Any,
    *,
    name: str,
    executor: str,
    provider: str,
    pilot: str,
    simulator: bool,
    noisy: bool,
    max_shots: int | None,
    supports_exact: bool,
) -> ResourceCapabilities:
    """Static capabilities from a Qiskit ``Target`` (calibration data included)."""
    gate_errors: dict[tuple[str, tuple[int, ...]], float] = {}
    readout: dict[int, float] = {}
    resets: dict[int, float] = {}
    native = set()
    for op_name in target.operation_names:
        if op_name in _NOT_GATES:
            continue
        native.add(canonical_gate(op_name))
    for op_name in target.operation_names:
        if op_name in ("delay", "barrier") or op_name not in target:
            continue
        props_map = target[op_name]
        if not props_map:
            continue
        for qargs, props in props_map.items():
            if qargs is None or props is None:
                continue
            if op_name == "reset":  # IBM reports a duration, no error: the relaxation over it
                resets[int(qargs[0])] = (
                    float(props.error)
                    if props.error is not None
                    else relaxation_error(props.duration, *_t1_t2(target, int(qargs[0])))
                )
                continue
            if props.error is None:
                continue
            if op_name == "measure":
                readout[int(qargs[0])] = float(props.error)
            elif op_name not in _NOT_GATES:
                relax = 1.0 - math.prod(
                    1.0 - relaxation_error(props.duration, *_t1_t2(target, q)) for q in qargs
                )
                gate_errors[(canonical_gate(op_name), tuple(int(q) for q in qargs))] = max(
                    float(props.error), relax
                )
    durations = _target_durations(target)
    coupling = None
    try:
        cmap = target.build_coupling_map()
        if cmap is not None:
            coupling = tuple((int(a), int(b)) for a, b in cmap.get_edges())
    except Exception:  # ideal targets have no coupling map
        coupling = None
    return ResourceCapabilities(
        name=name,
        executor=executor,
        provider=provider,
        pilot=pilot,
        num_qubits=int(target.num_qubits or 0),
        native_gates=frozenset(native),
        coupling_map=coupling,
        simulator=simulator,
        noisy=noisy,
        max_shots=max_shots,
        supports_exact=supports_exact,
        gate_errors=gate_errors,
        readout_errors=readout,
        durations=durations,
        dynamic=dynamic_features(target),
        reset_errors=resets,
    )


def aer_operations(target: Any) -> dict[str, type]:
    """Aer's instructions by name, with the class each name stands for."""
    out = {}
    for name in target.operation_names:
        op = target.operation_from_name(name)
        out[name] = op if isinstance(op, type) else type(op)
    return out


def runs_as_is(qc: QuantumCircuit, ops: dict[str, type]) -> bool:
    """Aer runs every instruction of ``qc`` (inside its branches too) as written: each
    name is Aer's and stands for Aer's class (a user's gate *named* ``unitary`` is not)."""
    for inst in qc.data:
        op = inst.operation
        cls = ops.get(op.name)
        if cls is None or not isinstance(op, cls):
            return False
        for block in getattr(op, "blocks", ()):
            if not runs_as_is(block, ops):
                return False
    return True


def without_impostors(qc: QuantumCircuit, ops: dict[str, type]) -> QuantumCircuit:
    """``qc`` with every gate that bears an Aer instruction's name without being one (an
    OpenQASM 2 ``gate unitary ...``) replaced by its definition: the transpiler goes by
    names and would hand it to Aer as Aer's own."""
    if not any(
        inst.operation.name in ops and not isinstance(inst.operation, ops[inst.operation.name])
        for inst in qc.data
    ):
        return qc
    out = qc.copy_empty_like()
    for inst in qc.data:
        op = inst.operation
        if op.name in ops and not isinstance(op, ops[op.name]) and op.definition is not None:
            inner = without_impostors(op.definition, ops)
            out.compose(inner, qubits=inst.qubits, clbits=inst.clbits, inplace=True)
        else:
            out.append(inst)
    return out


def dynamic_features(target: Any) -> frozenset[str]:
    """The dynamic-circuit features a ``Target`` offers: ``reset`` and ``if_else`` as
    instructions; mid-circuit measurement where it can branch on a result or reset."""
    ops = set(target.operation_names)
    out = set()
    if "reset" in ops:
        out.add("reset")
    if "if_else" in ops:
        out.update({"classical_control", "measurement_in_branch"})
    if "while_loop" in ops:
        out.add("while_loop")
    if "measure" in ops and out:
        out.add("mid_circuit_measurement")
    return frozenset(out)


def _target_durations(target: Any) -> dict[str, float]:
    """Mean gate and readout durations (seconds) from a ``Target``."""
    sums: dict[str, list[float]] = {"1q": [], "2q": [], "readout": []}
    for op_name in target.operation_names:
        if op_name in ("delay", "barrier", "reset") or op_name not in target:
            continue
        for qargs, props in (target[op_name] or {}).items():
            if qargs is None or props is None or not props.duration:
                continue
            if op_name == "measure":
                sums["readout"].append(float(props.duration))
            elif canonical_gate(op_name) not in VIRTUAL_GATES and op_name not in _NOT_GATES:
                sums["1q" if len(qargs) == 1 else "2q"].append(float(props.duration))
    return {k: sum(v) / len(v) for k, v in sums.items() if v}


def _t1_t2(target: Any, qubit: int) -> tuple[float | None, float | None]:
    props = target.qubit_properties
    if not props or qubit >= len(props) or props[qubit] is None:
        return None, None
    return getattr(props[qubit], "t1", None), getattr(props[qubit], "t2", None)


def counts_from_result(result: Any, index: int) -> dict[str, int]:
    """Qiskit-convention counts for experiment ``index`` (registers separated by spaces)."""
    try:
        counts = result.get_counts(index)
    except Exception:  # no measurements -> no counts
        return {}
    return {str(key): int(value) for key, value in counts.items()}


def _ordered_probabilities(probs: Any, width: int) -> dict[str, float]:
    """Aer ``save_probabilities`` (little-endian over the listed qubits) -> ordered keys."""
    out = {}
    for index, p in enumerate(probs):
        if p > 1e-15:
            out[format(index, f"0{width}b")[::-1]] = float(p)
    return out


class _AerRunner(QuantumBackend):
    """Shared Aer plumbing: ``_simulator(resource)`` and ``_prepare(resource, qc)``."""

    framework = "qiskit"

    def _simulator(self, resource: str, exact: bool = False) -> Any:
        raise NotImplementedError

    def _prepare(self, resource: str, qc: QuantumCircuit, layout: Layout = None) -> QuantumCircuit:
        raise NotImplementedError

    def _run(
        self,
        resource: str,
        circuits: list[QuantumCircuit],
        shots: int | None,
        exact: bool = False,
        layout: Layout = None,
    ) -> Any:
        sim = self._simulator(resource, exact)
        prepared = [self._prepare(resource, qc, layout) for qc in circuits]
        opts: dict[str, Any] = {} if shots is None else {"shots": shots}
        result = sim.run(prepared, **opts).result()
        if not result.success:  # Aer reports its failures here instead of raising
            raise TaskFailedError(f"{resource}: the simulation failed: {result.status}")
        return result

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is None:
            raise NotImplementedError  # exact results go through the portable path
        circuits = list(circuits)
        result = self._run(resource, circuits, shots, layout=layout)
        return [
            NativeOutput(
                counts=counts_from_result(result, i),
                native=result.results[i],
                metadata={"transpiled": self._transpiles},
            )
            for i in range(len(circuits))
        ]

    _transpiles = False

    def run_dynamic(
        self,
        resource: str,
        circuits: Sequence[QuantumCircuit],
        shots: int | None,
        layout: Layout = None,
    ) -> list[dict[str, Any]]:
        """Dynamic circuits written elsewhere (PennyLane's ``qml.measure``), run by Aer."""
        if shots is None:
            return super().run_dynamic(resource, circuits, shots, layout)
        result = self._run(resource, list(circuits), shots, layout=layout)
        return [
            {key.replace(" ", "")[::-1]: n for key, n in counts_from_result(result, i).items()}
            for i in range(len(circuits))
        ]

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [measured_circuit(j.body, j.measured) for j in prepared]
        result = self._run(resource, circuits, shots, layout=layout)
        out = []
        for i, pc in enumerate(prepared):
            counts = counts_from_result(result, i)
            out.append({bits_from_qiskit_key(k, len(pc.measured)): v for k, v in counts.items()})
        return out

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        from qiskit_aer.library import SaveProbabilities

        circuits, physicals = [], []
        for pc in prepared:
            qc = self._prepare(resource, pc.body, layout).copy()
            physical = _physical_qubits(qc, pc.measured)
            qc.append(SaveProbabilities(len(physical)), physical)
            circuits.append(qc)
            physicals.append(physical)
        result = self._simulator(resource, exact=True).run(circuits).result()
        if not result.success:  # e.g. a density matrix too wide for this machine's memory
            raise TaskFailedError(f"{resource}: the exact simulation failed: {result.status}")
        out = []
        for i, (pc, physical) in enumerate(zip(prepared, physicals, strict=True)):
            probs = self._with_readout(resource, result.data(i)["probabilities"], physical)
            out.append(_ordered_probabilities(probs, len(pc.measured)))
        return out

    def _with_readout(self, resource: str, probs: Any, physical: list[int]) -> Any:
        """Measurement noise on exact probabilities (none for ideal simulators)."""
        return probs


def _apply_readout(probs: Any, confusions: list[Any]) -> Any:
    """Apply per-qubit confusion matrices ``P(read | prepared)`` to a probability vector.

    ``probs`` is little-endian over the listed qubits (Aer's ``save_probabilities``);
    ``confusions[j]`` belongs to the j-th listed qubit.
    """
    import numpy as np

    n = len(confusions)
    tensor = np.asarray(probs, dtype=float).reshape([2] * n)  # axis 0 = last listed qubit
    for j, matrix in enumerate(confusions):
        axis = n - 1 - j
        tensor = np.moveaxis(
            np.tensordot(np.asarray(matrix).T, tensor, axes=([1], [axis])), 0, axis
        )
    return tensor.reshape(-1)


def _physical_qubits(qc: QuantumCircuit, qubits: Sequence[int]) -> list[int]:
    """Where the transpiler put virtual ``qubits`` (identity when not transpiled)."""
    if qc.layout is None:
        return list(qubits)
    final = qc.layout.final_index_layout()
    return [final[q] for q in qubits]


class QiskitDevices:
    """Mixin for backends holding named Qiskit ``BackendV2`` devices (``_devices``).

    Circuits are transpiled to a device with a preset pass manager built on
    first use and kept for the backend's life.
    """

    config: QuantumConfig
    executor: str
    _devices: dict[str, Any]
    _pms: dict[tuple[str, Layout, bool], Any]

    def _device(self, resource: str) -> Any:
        try:
            return self._devices[resource]
        except KeyError:
            raise ConfigError.unknown("resource", "resource", resource, self._devices) from None

    def _pass_manager(self, resource: str, layout: Layout, synthesis: bool) -> Any:
        key = (resource, layout, synthesis)
        pm = self._pms.get(key)
        if pm is None:
            from qiskit.transpiler import generate_preset_pass_manager

            if len(self._pms) > 256:  # layouts vary per workload: keep the cache bounded
                self._pms.clear()
            pm = self._pms[key] = generate_preset_pass_manager(
                optimization_level=self.config.optimization_level,
                backend=self._device(resource),
                seed_transpiler=self.config.seed,
                initial_layout=list(layout) if layout else None,
                translation_method="synthesis" if synthesis else None,
            )
        return pm

    def _transpile(
        self, resource: str, qc: QuantumCircuit, layout: Layout = None
    ) -> QuantumCircuit:
        """``qc`` for ``resource``, placed on ``layout`` when given (QDREAMER's choice).

        Some device snapshots mix directed ``cx`` and ``ecr`` couplers, where
        Qiskit's gate-direction pass gives up ("would be supported ... if the
        direction was swapped"); unitary synthesis respects the direction, so
        the circuit is retried with it.
        """
        if layout is not None and len(layout) != qc.num_qubits:
            layout = None
        try:
            try:
                return self._pass_manager(resource, layout, False).run(qc)
            except Exception as exc:
                if "direction" not in str(exc):
                    raise
                return self._pass_manager(resource, layout, True).run(qc)
        except Exception as exc:
            raise UnsupportedOperationError(
                qc.name, f"{self.executor} resource {resource!r}", f"transpilation failed: {exc}"
            ) from exc


class AerBackend(QiskitDevices, _AerRunner):
    """``qiskit_local``: the ``AerSimulator``, ideal unless ``quantum.noise`` is given.

    With noise (:mod:`pilot.backends.noise`) the resource is renamed, so that
    results, pinning (``resource=...``) and rankings never confuse it with
    an ideal ``aer_simulator``: parametric noise gives
    ``aer_simulator_noisy`` (circuits translated to ``id/rz/sx/x/cx``);
    ``from_backend`` gives ``aer_simulator_<device>`` (circuits transpiled to
    the fake device, its coupling map and calibration reported as
    capabilities).  Exact results with noise come from a density matrix with
    the readout confusion applied.
    """

    RESOURCE = "aer_simulator"
    NOISY_RESOURCE = "aer_simulator_noisy"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        from qiskit_aer import AerSimulator

        opts: dict[str, Any] = {"max_parallel_threads": self.threads}
        if config.seed is not None:
            opts["seed_simulator"] = config.seed
        self._devices: dict[str, Any] = {}
        self._pms: dict[Any, Any] = {}
        self._noise: AerNoise | None = None
        if config.noise is not None:
            from pilot.backends.noise import build_noise  # (noise.py imports this module)

            self._noise = build_noise(config.noise)
            self._caps = self._noisy(self._noise, opts)
            return
        self._sim = AerSimulator(method=config.method or "automatic", **opts)
        self._exact_sim = AerSimulator(method="statevector", **opts)
        self._target = self._sim.target
        self._ops = aer_operations(self._target)
        self._caps = ResourceCapabilities(
            name=self.RESOURCE,
            executor=self.executor,
            provider="local",
            pilot=pilot,
            num_qubits=min(int(self._sim.num_qubits), memory_qubit_limit()),
            simulator=True,
            noisy=False,
            supports_exact=True,
            dynamic=dynamic_features(self._sim.target),
            dynamic_exact=DEFERRABLE,
        )

    def _noisy(self, noise: AerNoise, opts: dict[str, Any]) -> ResourceCapabilities:
        """Simulators and capabilities of a noisy resource."""
        from qiskit_aer import AerSimulator

        from pilot.backends.noise import NOISY_BASIS

        method = {"method": self.config.method} if self.config.method else {}
        if noise.device is not None:
            name = f"{self.RESOURCE}_{noise.device.name}"
            self._devices[name] = noise.device
            self._transpiles = True
            self._sim = AerSimulator.from_backend(
                noise.device, noise_model=noise.model, **method, **opts
            )
            self._exact_sim = AerSimulator.from_backend(
                noise.device, noise_model=noise.model, method="density_matrix", **opts
            )
            self._target = self._sim.target
            self._ops = aer_operations(self._target)
            return capabilities_from_target(
                noise.device.target,
                name=name,
                executor=self.executor,
                provider="local",
                pilot=self.pilot,
                simulator=True,
                noisy=True,
                max_shots=None,
                supports_exact=True,
            )
        self._sim = AerSimulator(
            method=self.config.method or "automatic", noise_model=noise.model, **opts
        )
        self._exact_sim = AerSimulator(method="density_matrix", noise_model=noise.model, **opts)
        self._target = self._sim.target
        self._ops = aer_operations(self._target)
        return ResourceCapabilities(
            name=self.NOISY_RESOURCE,
            executor=self.executor,
            provider="local",
            pilot=self.pilot,
            num_qubits=min(int(self._sim.num_qubits), memory_qubit_limit()),
            native_gates=frozenset(canonical_gate(g) for g in NOISY_BASIS),
            simulator=True,
            noisy=True,
            supports_exact=True,
            default_errors=dict(noise.errors),
            dynamic=dynamic_features(self._sim.target),
        )

    def resources(self) -> list[ResourceCapabilities]:
        return [self._caps]

    def _simulator(self, resource: str, exact: bool = False) -> Any:
        return self._exact_sim if exact else self._sim

    def _prepare(self, resource: str, qc: QuantumCircuit, layout: Layout = None) -> QuantumCircuit:
        if self._devices:  # from_backend: placed and routed on the device, like qiskit_fake
            return self._transpile(resource, qc, layout)
        if runs_as_is(qc, self._ops):
            return qc
        from qiskit import transpile

        return transpile(
            without_impostors(qc, self._ops), target=self._target, optimization_level=0
        )

    def _with_readout(self, resource: str, probs: Any, physical: list[int]) -> Any:
        if self._noise is None:
            return probs
        return _apply_readout(probs, self._noise.confusions(physical))

    def run_dynamic(
        self,
        resource: str,
        circuits: Sequence[QuantumCircuit],
        shots: int | None,
        layout: Layout = None,
    ) -> list[dict[str, Any]]:
        """Sampled as any dynamic circuit; exact (``shots=None``, ideal simulator only)
        by deferred measurement (:func:`pilot.convert.dynamic.deferred`): a measurement
        mid-way becomes a CX onto an ancilla, a reset a fresh ancilla, and one
        simulation gives the classical bits' exact distribution (Aer's automatic
        method: a stabilizer simulation for Clifford circuits, so a cut's
        subexperiments of a wide Clifford circuit stay cheap)."""
        if self._noise is not None:
            return super().run_dynamic(resource, circuits, shots, layout)
        if shots is not None:
            return self._sample_deferred(resource, circuits, shots, layout)
        from qiskit_aer.library import SaveProbabilities

        runs, widths = [], []
        for qc in circuits:
            try:
                flat, holders = deferred(qc)
            except ValueError as exc:
                raise UnsupportedOperationError(
                    "shots=None for a circuit with classical control",
                    f"{self.executor} resource {resource!r}",
                    "exact results of branches come from pennylane_default and "
                    "pennylane_lightning; pass shots=N",
                ) from exc
            flat.append(SaveProbabilities(len(holders)), holders)
            runs.append(self._prepare(resource, flat))
            widths.append(len(holders))
        result = self._sim.run(runs).result()
        if not result.success:  # e.g. a statevector too wide with its ancillas
            raise TaskFailedError(f"{resource}: the exact simulation failed: {result.status}")
        return [
            _ordered_probabilities(result.data(i)["probabilities"], width)
            for i, width in enumerate(widths)
        ]

    def _sample_deferred(
        self, resource: str, circuits: Sequence[QuantumCircuit], shots: int, layout: Layout
    ) -> list[dict[str, Any]]:
        """Counts of dynamic circuits (clbit 0 first), those without branches sampled
        from one simulation of their deferred form (:meth:`_deferred_measured`)."""
        runs = [self._deferred_measured(qc) or qc for qc in circuits]
        return super().run_dynamic(resource, runs, shots, layout)

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is not None and self._noise is None:
            circuits = [self._deferred_measured(qc) or qc for qc in circuits]
        return super().run_native(resource, circuits, shots, layout)

    def _deferred_measured(self, qc: QuantumCircuit) -> QuantumCircuit | None:
        """``qc``, when it measures or resets mid-way without branches, as its deferred
        form (:func:`~pilot.convert.dynamic.deferred`) measured at the end into the same
        classical registers: the same distribution, but Aer samples every shot from
        one final state instead of simulating shot by shot (a cut's subexperiments
        measure mid-circuit).  ``None`` for other circuits, and when the deferred form
        needs more than :data:`DEFERRED_EXTRA` extra qubits or more than this
        simulator holds."""
        needs = circuit_needs(qc)
        if not needs or needs - DEFERRABLE:
            return None
        flat, holders = deferred(qc)
        if flat.num_qubits - qc.num_qubits > DEFERRED_EXTRA or (
            flat.num_qubits > self._caps.num_qubits
        ):
            return None
        from qiskit import QuantumCircuit as QC
        from qiskit import QuantumRegister

        measured = QC(QuantumRegister(flat.num_qubits, "q"), *qc.cregs, name=qc.name)
        if measured.num_clbits != qc.num_clbits:  # bits outside registers: as it is
            return None
        measured.compose(flat, measured.qubits, inplace=True)
        for clbit, qubit in zip(qc.clbits, holders, strict=True):
            measured.measure(qubit, clbit)
        return measured

    def estimate(
        self,
        resource: str,
        circuit: Any,
        parameter_rows: Sequence[Sequence[float]],
        observables: Sequence[Any],
        shots: int | None,
    ) -> list[list[float]] | None:
        """Exact sweeps through Aer's ``EstimatorV2``: one Aer job binds every row.

        Only for ``shots=None``: Aer's estimator emulates finite shots by adding
        Gaussian noise to the exact value, not by sampling, so sampled sweeps
        take the portable path; so does a noisy simulator (the estimator is ideal).
        """
        if shots is not None or self._noise is not None:
            return None  # (noisy: the portable path's exact() simulates the noise)
        import numpy as np
        from qiskit.quantum_info import SparsePauliOp

        if self._estimator is None:
            from qiskit_aer.primitives import EstimatorV2

            self._estimator = EstimatorV2(
                options={"backend_options": {"max_parallel_threads": self.threads}}
            )
        n = circuit.num_qubits
        ops = [
            SparsePauliOp.from_sparse_list(
                [("".join(p for _, p in t.paulis), [q for q, _ in t.paulis], t.coeff) for t in obs],
                num_qubits=n,
            )
            for obs in observables
        ]
        values = np.asarray(parameter_rows, dtype=float).reshape(len(parameter_rows), 1, -1)
        prepared = self._prepare(resource, circuit)
        if any(
            inst.operation.name in AER_MISBOUND and inst.operation.is_parameterized()
            for inst in prepared.data
        ):
            prepared = prepared.decompose(gates_to_decompose=sorted(AER_MISBOUND))
        pub = (prepared, [ops], values)
        evs = np.asarray(self._estimator.run([pub], precision=0.0).result()[0].data.evs)
        return [[float(v) for v in row] for row in evs.reshape(len(parameter_rows), len(ops))]

    _estimator: Any = None


#: Controlled rotations that qiskit-aer 0.18 applies as the identity when their angle is
#: a parameter bound by the estimator (or ``parameter_binds``): decomposed first.
AER_MISBOUND = frozenset({"crx", "cry", "crz", "cp"})


class FakeBackend(QiskitDevices, _AerRunner):
    """``qiskit_fake``: IBM fake devices, transpiled and simulated with their noise."""

    _transpiles = True

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        available = fake_devices()
        wanted = config.backends or ((config.backend,) if config.backend else tuple(available))
        self._devices: dict[str, Any] = {}
        for raw in wanted:
            name = normalise_fake_name(raw)
            if name not in available:
                raise ConfigError.unknown("fake backend", "quantum.backends", str(raw), available)
            self._devices[name] = available[name]
        self._sims: dict[tuple[str, bool], Any] = {}
        self._readout: dict[str, dict[int, Any]] = {}
        self._pms: dict[Any, Any] = {}
        self._caps = [self._capabilities(n, d) for n, d in self._devices.items()]

    def _capabilities(self, name: str, dev: Any) -> ResourceCapabilities:
        try:
            max_shots = int(dev.configuration().max_shots)
        except Exception:
            max_shots = None
        return capabilities_from_target(
            dev.target,
            name=name,
            executor=self.executor,
            provider="ibm-fake",
            pilot=self.pilot,
            simulator=True,
            noisy=True,
            max_shots=max_shots,
            supports_exact=True,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def _simulator(self, resource: str, exact: bool = False) -> Any:
        key = (resource, exact)
        if key not in self._sims:
            from qiskit_aer import AerSimulator

            opts: dict[str, Any] = {"max_parallel_threads": self.threads}
            if self.config.seed is not None:
                opts["seed_simulator"] = self.config.seed
            if exact:
                opts["method"] = "density_matrix"
            self._sims[key] = AerSimulator.from_backend(self._device(resource), **opts)
        return self._sims[key]

    def _prepare(self, resource: str, qc: QuantumCircuit, layout: Layout = None) -> QuantumCircuit:
        return self._transpile(resource, qc, layout)

    def _with_readout(self, resource: str, probs: Any, physical: list[int]) -> Any:
        """Exact noisy results include readout error, as sampling does.

        Aer's saved probabilities are taken before measurement, where its
        device model puts readout error; apply that model's confusion matrices.
        """
        from qiskit_aer.noise.device import basic_device_readout_errors

        if resource not in self._readout:
            self._readout[resource] = {
                qubits[0]: err.probabilities
                for qubits, err in basic_device_readout_errors(target=self._device(resource).target)
            }
        table = self._readout[resource]
        import numpy as np

        identity = np.eye(2)
        return _apply_readout(probs, [table.get(q, identity) for q in physical])

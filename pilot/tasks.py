"""``QuantumTask``: a circuit, how to run it, and what it needs.

The constructor validates everything it can without running user code; what
only the circuit can tell (its width and gates) is checked on the driver when
the circuit is a value, and on the worker when it is a callable.
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
import random
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ray

from dreamer.workload import NON_GATES, TaskRequirements, canonical_gates
from pilot.convert import ACCEPTED, is_circuit_object, load_circuit
from pilot.convert.load import bind_values, is_qiskit_circuit, parameter_names
from pilot.convert.observables import check_observables, with_observables
from pilot.convert.qiskit import standard_only
from pilot.cutting import CuttingOptions
from pilot.errors import CircuitError, ConfigError, closest

if TYPE_CHECKING:
    from pilot.convert.portable import LoadedCircuit

#: Keys accepted in ``resource_config`` (as QTAU programs write it).
RESOURCE_CONFIG_KEYS = ("num_qpus", "num_gpus", "memory")

#: Shots of one task at most: beyond what any device takes (cloud QPUs and
#: simulators allow 10^4..10^6), and what SDKs store in 32 bits (Aer, given more,
#: fails or overflows).  A device's own lower limit is checked at submission.
MAX_SHOTS = 2**31 - 1

#: The longest ``timeout_seconds`` (a year; thread waits cannot take ~10^10 s).
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class QuantumTask:
    """A quantum circuit to run on a quantum pilot.

    Args:
        circuit: a Qiskit ``QuantumCircuit``, an OpenQASM 2/3 string, a gate
            dict (seed 002), a Braket ``Circuit``, a PennyLane QNode or quantum
            function, or a callable returning one of these.  A callable runs on
            the worker with ``args`` and ``kwargs`` (which may hold ObjectRefs).
        num_qubits: qubits the task needs; inferred when omitted, and when
            given checked to be at least the circuit's width.
        gate_set: gates the circuit may use (any framework's spelling); when
            given, a circuit using another gate is refused.
        shots: samples per circuit; ``None`` asks for exact probabilities and
            expectation values (ideal simulators only).
        resource_config: ``{"num_qpus": 1, "num_gpus": 0,
            "memory": None}``.  ``num_qpus`` must be 1 (a task runs on one
            device); ``num_gpus`` needs a pilot with GPUs; ``memory`` (bytes)
            must fit on a node.
        args, kwargs: arguments of a circuit callable.
        pilot, resource: pin the task to a pilot name and/or a resource name
            (``"fake_lagos"``, ``"aer_simulator"``...).
        name: shown in results and the Ray dashboard (defaults to the
            circuit's name).
        parameter_values: a sweep: a list of parameter sets (rows of numbers,
            or dicts by parameter name).  A Qiskit circuit's rows follow
            ``circuit.parameters``; a Braket circuit's its free parameters
            sorted by name; a callable receives each row as one extra last
            positional argument (a numpy array).  Submitting the task gives
            one result per set, in order.
        observables: expectation values to report, in order: Pauli strings,
            ``{pauli: coeff}`` sums or SDK observables (see
            :mod:`pilot.convert.observables` for the qubit order).
        timeout_seconds: the task must finish within this many seconds of
            its submission, else it is cancelled (remote jobs at their
            provider) and its result raises ``TaskTimeoutError``.  A local
            simulator cannot be interrupted: it finishes in the background
            and its result is dropped.
        keep_native: also return the SDK's own result object
            (``QuantumResult.native``: an Aer ``ExperimentResult``, a Braket
            task result...).  Off by default: pickling it costs the pilot about
            as much as simulating a small circuit, and it triples what a
            result weighs (and what the journal keeps).
        cutting: cut the circuit into fragments of at most
            ``{"max_fragment_qubits": k}`` qubits (``pilot.cutting.CuttingOptions``:
            also ``max_subexperiments``, ``max_sampling_overhead``, ``seed``);
            each subexperiment runs as an ordinary task wherever QDREAMER places
            it, and the result holds the reconstructed ``expectation_values``,
            their ``standard_errors`` and ``metadata["cutting"]``.  Needs
            ``observables``; a circuit that fits runs uncut.
    """

    def __init__(
        self,
        circuit: Any,
        num_qubits: int | None = None,
        gate_set: Iterable[str] | None = None,
        shots: int | None = 1024,
        resource_config: Mapping[str, Any] | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        pilot: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        *,
        parameter_values: Any = None,
        observables: Any = None,
        timeout_seconds: float | None = None,
        keep_native: bool = False,
        cutting: Mapping[str, Any] | None = None,
    ) -> None:
        if circuit is None:
            raise ConfigError("QuantumTask needs a circuit", key="circuit")

        if not callable(circuit) and not is_circuit_object(circuit):
            raise CircuitError(
                f"cannot run a {type(circuit).__name__} as a circuit; expected {ACCEPTED}"
            )
        if num_qubits is not None and (not _is_int(num_qubits) or num_qubits < 1):
            raise ConfigError(
                f"num_qubits must be a positive integer, got {num_qubits!r}", key="num_qubits"
            )
        if shots is not None and (not _is_int(shots) or shots < 1):
            raise ConfigError(
                f"shots must be a positive integer, or None for exact results; got {shots!r}",
                key="shots",
            )
        if shots is not None and shots > MAX_SHOTS:
            raise ConfigError(
                f"shots={shots} is more than any device or simulator takes (at most "
                f"{MAX_SHOTS:,}); run several tasks and add up their counts",
                key="shots",
            )
        if gate_set is not None:
            if isinstance(gate_set, str) or not all(isinstance(g, str) for g in gate_set):
                raise ConfigError(
                    f"gate_set must be a list of gate names like ['h', 'cx'], got {gate_set!r}",
                    key="gate_set",
                )
            gate_set = list(gate_set)
        for key, value in (("pilot", pilot), ("resource", resource), ("name", name)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{key} must be a string, got {value!r}", key=key)
        # Compared before any float(): 10**400 must be an error, not an OverflowError;
        # NaN fails the comparison.  Past MAX_TIMEOUT_SECONDS, waits overflow time_t.
        if timeout_seconds is not None and (
            not _is_number(timeout_seconds) or not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS
        ):
            raise ConfigError(
                f"timeout_seconds must be a number of seconds > 0 and at most "
                f"{MAX_TIMEOUT_SECONDS} (a year), or None for no limit; got {timeout_seconds!r}",
                key="timeout_seconds",
            )
        if not isinstance(keep_native, bool):
            raise ConfigError(
                f"keep_native must be True or False, got {keep_native!r}", key="keep_native"
            )
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ConfigError(f"kwargs must be a dict, got {type(kwargs).__name__}", key="kwargs")
        if kwargs is not None and not all(isinstance(k, str) for k in kwargs):
            bad = next(k for k in kwargs if not isinstance(k, str))
            raise ConfigError(
                f"kwargs keys are argument names (strings), got {bad!r}", key="kwargs"
            )
        if isinstance(args, (str, bytes)) or not isinstance(args, Iterable):
            raise ConfigError(
                f"args must be a tuple or list, got {type(args).__name__}", key="args"
            )
        self.circuit = circuit
        self.num_qubits = num_qubits
        self.gate_set = gate_set
        self.shots = shots
        self.resource_config = self._resource_config(resource_config)
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.pilot = pilot
        self.resource = resource
        self.name = name or _circuit_name(circuit)
        self.timeout_seconds = float(timeout_seconds) if timeout_seconds is not None else None
        self.keep_native = keep_native
        self.observables = check_observables(observables) if observables is not None else None
        self.parameter_values = (
            self._parameter_values(parameter_values) if parameter_values is not None else None
        )
        self.cutting = CuttingOptions.of(cutting) if cutting is not None else None
        if self.cutting is not None and self.observables is None:
            raise ConfigError(
                "cutting reconstructs expectation values: give observables=[...] (Pauli "
                "strings, {pauli: coeff} sums or SparsePauliOp)",
                key="cutting",
            )
        if self.cutting is not None and self.parameter_values is not None:
            raise ConfigError(
                "cutting takes one circuit, not a sweep: bind the parameters (one cut task "
                "per parameter set)",
                key="cutting",
            )

    def _parameter_values(self, values: Any) -> list[Any]:
        if hasattr(values, "tolist"):  # numpy arrays
            values = values.tolist()
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise ConfigError(
                f"parameter_values must be a list of parameter sets, got {type(values).__name__}",
                key="parameter_values",
            )
        rows = [v.tolist() if hasattr(v, "tolist") else v for v in values]
        if not rows:
            raise ConfigError(
                "parameter_values is empty; give at least one parameter set",
                key="parameter_values",
            )
        names = parameter_names(self.circuit)
        for i, row in enumerate(rows):
            where = f"parameter_values[{i}]"
            if _is_number(row):
                raise ConfigError(
                    f"{where} is a number; parameter_values is a list of sets, one row per "
                    f"run: wrap it, parameter_values=[{list(rows)!r}]",
                    key="parameter_values",
                )
            items = list(row.values()) if isinstance(row, Mapping) else row
            if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
                raise ConfigError(
                    f"{where} must be a list of numbers or a dict by parameter name, "
                    f"got {type(row).__name__}",
                    key="parameter_values",
                )
            bad = [v for v in items if not _is_number(v) or not math.isfinite(float(v))]
            if bad:
                raise ConfigError(
                    f"{where} holds {bad[0]!r}; parameter values must be finite numbers",
                    key="parameter_values",
                )
            if names is not None:
                bind_values(names, row, where)
        return rows

    @property
    def num_runs(self) -> int:
        """How many results the task gives (one per parameter set)."""
        return 1 if self.parameter_values is None else len(self.parameter_values)

    @staticmethod
    def _resource_config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
        if cfg is not None and not isinstance(cfg, Mapping):
            raise ConfigError(
                f"resource_config must be a dict like {{'num_qpus': 1, 'num_gpus': 0}}, "
                f"got {type(cfg).__name__}",
                key="resource_config",
            )
        cfg = dict(cfg or {})
        for key in cfg:
            if key not in RESOURCE_CONFIG_KEYS:
                raise ConfigError(
                    f"unknown key 'resource_config.{key}'; "
                    f"valid: {', '.join(RESOURCE_CONFIG_KEYS)}",
                    key=f"resource_config.{key}",
                    suggestion=closest(str(key), RESOURCE_CONFIG_KEYS),
                )
        qpus = cfg.get("num_qpus", 1)
        if qpus is None:
            qpus = 1
        if not _is_int(qpus) or qpus not in (0, 1):
            raise ConfigError(
                f"resource_config.num_qpus={qpus!r}: a QuantumTask runs on one quantum device; "
                "submit several tasks to use several",
                key="resource_config.num_qpus",
            )
        gpus = cfg.get("num_gpus") or 0
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
            raise ConfigError(
                f"resource_config.num_gpus must be a number >= 0, got {gpus!r}",
                key="resource_config.num_gpus",
            )
        memory = cfg.get("memory")
        if memory is not None and (not _is_int(memory) or memory < 0):
            raise ConfigError(
                f"resource_config.memory must be bytes (an integer) or None, got {memory!r}",
                key="resource_config.memory",
            )
        return {"num_qpus": 1, "num_gpus": float(gpus), "memory": memory}

    def load_on_driver(self) -> LoadedCircuit | None:
        """The circuit loaded here, when it is a value with known arguments; else ``None``.

        A callable builds its circuit on the worker, and ObjectRef arguments
        resolve there: then only the worker can load it.
        """
        if not is_circuit_object(self.circuit):
            return None

        if any(isinstance(v, ray.ObjectRef) for v in (*self.args, *self.kwargs.values())):
            return None
        first = self.parameter_values[0] if self.parameter_values is not None else None
        loaded = load_circuit(self.circuit, self.args, self.kwargs, parameters=first)
        return with_observables(loaded, self.observables) if self.observables else loaded

    def requirements(
        self, num_qubits: int | None = None, needs: frozenset[str] = frozenset()
    ) -> TaskRequirements:
        """What the task needs, with ``num_qubits`` (and the dynamic features ``needs``)
        from the circuit when known."""
        need = self.num_qubits if self.num_qubits is not None else num_qubits
        return TaskRequirements(
            name=f"task {self.name!r}",
            num_qubits=need,
            gate_set=canonical_gates(self.gate_set) if self.gate_set is not None else None,
            shots=self.shots,
            num_gpus=self.resource_config["num_gpus"],
            pilot=self.pilot,
            resource=self.resource,
            needs=needs,
        )

    def __repr__(self) -> str:
        return (
            f"QuantumTask(name={self.name!r}, num_qubits={self.num_qubits}, shots={self.shots}, "
            f"pilot={self.pilot!r}, resource={self.resource!r})"
        )


def _circuit_name(circuit: Any) -> str:
    for attr in ("__name__", "name"):
        value = getattr(circuit, attr, None)
        if isinstance(value, str) and value:
            return value
    func = getattr(circuit, "func", None)  # a QNode
    if func is not None and getattr(func, "__name__", None):
        return str(func.__name__)
    if isinstance(circuit, str):
        return "qasm"
    if isinstance(circuit, dict):
        return str(circuit.get("name", "gatedict"))
    return type(circuit).__name__


@dataclass(frozen=True)
class TaskSpec:
    """What travels to the pilot actor for one task (arguments travel beside it, or
    inside it for batches and windows).  Frozen: a changed task is a new spec
    (``dataclasses.replace``), and it holds names, never live actor handles."""

    task_id: str
    name: str
    circuit: Any
    shots: int | None
    pilot: str
    resource: str
    num_qubits: int | None
    gate_set: tuple[str, ...] | None
    submitted_at: float
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: QDREAMER's placement on the device (logical i -> physical layout[i]).
    layout: tuple[int, ...] | None = None
    #: What QDREAMER decided and why (copied into the result).
    selection: dict[str, Any] | None = None
    #: Next-ranked resources (``pilot.pilots.failover.Fallback``: pilot, resource and the
    #: names of its actors) if this one is unavailable.
    fallbacks: tuple[Any, ...] = ()
    #: One parameter set of a sweep (bound into the circuit on the worker).
    parameters: Any = None
    #: Observables whose expectation values the task reports.
    observables: tuple[Any, ...] = ()
    #: ``QuantumTask.timeout_seconds``, and the wall-clock time (``time.time()``) it ends.
    timeout: float | None = None
    deadline: float | None = None
    #: Remote job ids a resumed driver re-attaches to instead of submitting again.
    attach_jobs: tuple[str, ...] = ()
    #: ``QuantumTask.keep_native``: return the SDK's own result object too.
    keep_native: bool = False

    @property
    def stage(self) -> str:
        return f"quantum:{self.name}@{self.resource}"


#: Task ids: 64 random bits each, from a generator seeded once from the OS (uuid4 asks
#: the OS for every id, which costs ~40 us on some virtual machines).
_IDS = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(32)))


def new_task_id() -> str:
    """A new task id: 16 hex digits."""
    return f"{_IDS.getrandbits(64):016x}"


class CircuitBlob:
    """A Qiskit circuit pickled when its task is submitted.

    The bytes are taken at submission, so what runs is the circuit as it was
    then (a program may change its circuit object and submit it again), and
    they travel to the pilot as bytes: the standard pickle takes ~40 us for a
    small circuit where Ray's cloudpickle of the object takes ~300 us.  The
    pilot unpickles it once per blob (:attr:`circuit`); tasks sharing a blob
    share the unpickled circuit.

    A loop submitting one circuit object again and again pays the pickle once:
    the blob keeps a copy of the circuit's instruction data (Qiskit's
    ``CircuitData``, copied and compared in Rust in ~1-3 us) and is reused
    while the object still compares equal to it -- for circuits of standard
    instructions only, whose operations cannot change without the data
    changing.
    """

    __slots__ = ("_circuit", "_name", "_snapshot", "_source", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._circuit: Any = None
        self._source: Any = None  # weakref to the circuit object pickled
        self._snapshot: Any = None
        self._name: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (CircuitBlob, (self.data,))

    #: One unpickling at a time: a pilot's threads share the blob of a batch's repeated
    #: circuit, and Qiskit circuits unpickled concurrently in several threads crashed
    #: a pilot's process (SIGSEGV in the allocator; tests/integration/test_load_placement.py).
    _LOADING = threading.Lock()

    @property
    def circuit(self) -> Any:
        if self._circuit is None:
            with CircuitBlob._LOADING:
                if self._circuit is None:
                    self._circuit = pickle.loads(self.data)
        return self._circuit

    def _unchanged(self, circuit: Any) -> bool:
        """``circuit`` is the object this blob was made from, and it has not changed."""
        if self._snapshot is None or self._source is None or self._source() is not circuit:
            return False
        try:
            return bool(
                circuit.name == self._name
                and not circuit.metadata
                and circuit._data == self._snapshot
            )
        except Exception:  # another Qiskit's internals: pickle again
            return False

    def _remember(self, circuit: Any) -> None:
        """Keep what :meth:`_unchanged` compares, when the circuit allows it."""
        try:
            if circuit.metadata or not standard_only(circuit):
                return
            self._source = weakref.ref(circuit)
            self._snapshot = circuit._data.copy()
            self._name = circuit.name
        except Exception:  # another Qiskit's internals: no shortcut
            self._snapshot = None

    @classmethod
    def of(cls, circuit: Any, previous: CircuitBlob | None = None) -> Any:
        """``circuit`` as a blob (``previous`` when it is the same circuit, unchanged, or
        its bytes are the same); anything that is not a Qiskit circuit, or that the
        standard pickle cannot carry (a class defined in the script), is returned as
        it is."""
        if not is_qiskit_circuit(circuit):
            return circuit
        if previous is not None and previous._unchanged(circuit):
            return previous
        try:
            data = pickle.dumps(circuit, protocol=5)
        except Exception:  # something only cloudpickle can carry
            return circuit
        if b"__main__" in data:  # a gate class defined in the script: cloudpickle, by value
            return circuit
        if previous is not None and previous.data == data:
            return previous
        blob = cls(data)
        blob._remember(circuit)
        return blob

    def __repr__(self) -> str:
        return f"CircuitBlob(<{len(self.data)} bytes>)"


def circuit_of(obj: Any) -> Any:
    """The circuit a spec carries (unpickled when it travels as a :class:`CircuitBlob`)."""
    return obj.circuit if isinstance(obj, CircuitBlob) else obj


def check_declared(
    num_qubits: int | None,
    gate_set: Iterable[str] | None,
    width: int,
    gates: frozenset[str],
    name: str,
) -> None:
    """Refuse a circuit wider than ``num_qubits`` or using gates outside ``gate_set``."""
    if num_qubits is not None and width > num_qubits:
        raise CircuitError(
            f"task {name!r} declares num_qubits={num_qubits} but its circuit uses {width} qubits; "
            f"declare num_qubits={width} or omit it"
        )
    if gate_set is not None:
        allowed = canonical_gates(gate_set)
        extra = sorted(g for g in gates - allowed if g not in NON_GATES)
        if extra:
            raise CircuitError(
                f"task {name!r} declares gate_set={sorted(gate_set)} but its circuit also uses "
                f"{extra}; add them to gate_set or omit gate_set"
            )

"""The contract every executor family implements.

A backend lives inside a pilot's Ray actor (``pilot.pilots.actor.QuantumWorker``)
and is a plain class, so it is tested without Ray.  Its lifecycle, all on the
actor::

    __init__(config, pilot=..., num_cpus=...)
        │  connect, load devices; raise CredentialsError / MissingDependencyError /
        │  ConfigError with a message that says how to fix it
        ▼
    resources() ──> [ResourceCapabilities]      one per device held (fixed for life)
        │
        ├── run_native(resource, circuits, shots, layout=None) ─> [NativeOutput]
        │       circuits written for this backend's own framework, run as-is;
        │       counts keys already in that framework's convention
        ├── sample(resource, jobs, shots, layout=None) ─> [{ordered bits: count}]
        │       portable gate-only circuits; measure job.measured in order;
        │       keys list measured qubits in that order, the first leftmost
        ├── exact(resource, jobs, layout=None) ─> [{ordered bits: probability}]
        │       same, without sampling (only if capabilities say supports_exact)
        ├── run_dynamic(resource, circuits, shots, layout=None) ─> [{clbits: n}]
        │       Qiskit circuits with mid-circuit measurements, resets, branches
        │       (only if capabilities declare ``dynamic`` features)
        ├── status(resource) ─> ResourceStatus
        ▼
    close()

``sample``, ``exact`` and ``run_native`` take lists so that a backend can run
a batch in one SDK call (Aer runs a list of circuits in one job, Braket has
``run_batch``).  ``layout`` (logical qubit i -> physical qubit ``layout[i]``)
is QDREAMER's placement on a device with a coupling map; backends that
transpile to such a device use it as the initial layout, others ignore it.
A subclass sets ``framework`` (checked when the class is defined) and
implements ``resources`` and ``sample``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dreamer.resource import ResourceCapabilities, ResourceStatus
from pilot.errors import ConfigError, UnsupportedOperationError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

FRAMEWORKS = ("qiskit", "pennylane", "braket")

#: QDREAMER's placement: logical qubit i -> physical qubit layout[i].
Layout = tuple[int, ...] | None


@dataclass
class NativeOutput:
    """What a native run produced, in the circuit's own conventions."""

    counts: dict[str, int] | None = None
    probabilities: dict[str, float] | None = None
    expectation_values: list[float] | None = None
    native: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedCircuit:
    """A portable circuit prepared for a backend: its gates, then a measurement of the
    ``measured`` qubits in order.  (A *job* is what a provider runs: see backends/jobs.py.)"""

    body: QuantumCircuit
    measured: tuple[int, ...]


class QuantumBackend(ABC):
    """Base class of executor families (see the module docstring for the contract)."""

    #: The SDK whose circuits this backend runs natively.
    framework: ClassVar[str]
    #: Executor name (``config.executor``, already resolved from aliases).
    executor: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None):
            return  # an intermediate base
        if getattr(cls, "framework", None) not in FRAMEWORKS:
            raise TypeError(f"{cls.__name__}.framework must be one of {FRAMEWORKS}")

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        self.config = config
        self.executor = config.executor
        self.pilot = pilot
        self.num_cpus = num_cpus
        self.threads = max(1, int(num_cpus))

    def __repr__(self) -> str:
        # Never the config: it may hold a token.
        return f"{type(self).__name__}(executor={self.executor!r}, pilot={self.pilot!r})"

    # ------------------------------------------------------------- contract
    @abstractmethod
    def resources(self) -> list[ResourceCapabilities]:
        """Capabilities of every device this backend holds (fixed for its life)."""

    @abstractmethod
    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        """Run prepared circuits; counts keyed by ordered bit strings."""

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        """Exact probabilities keyed by ordered bit strings."""
        raise UnsupportedOperationError(
            "shots=None",
            f"{self.executor} resource {resource!r}",
            "exact probabilities need an ideal simulator; pass shots=N",
        )

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        """Run circuits of this backend's own framework as written."""
        raise NotImplementedError

    def run_dynamic(
        self,
        resource: str,
        circuits: Sequence[QuantumCircuit],
        shots: int | None,
        layout: Layout = None,
    ) -> list[dict[str, Any]]:
        """Run dynamic Qiskit circuits (mid-circuit measurement, reset, branches).

        Returns counts (or, ``shots=None``, probabilities) keyed by the circuit's
        classical bits, clbit 0 first.  Only for backends whose capabilities
        declare ``dynamic`` features: QDREAMER refuses the others at submission.
        """
        raise UnsupportedOperationError(
            "dynamic circuit",
            f"{self.executor} resource {resource!r}",
            "mid-circuit measurement, reset and classical control need a Qiskit or "
            "PennyLane executor",
        )

    def estimate(
        self,
        resource: str,
        circuit: Any,
        parameter_rows: Sequence[Sequence[float]],
        observables: Sequence[Any],
        shots: int | None,
    ) -> list[list[float]] | None:
        """Expectation values of a sweep in one SDK call, or ``None`` when not offered.

        ``circuit`` is a native, unmeasured, parameterised circuit of this
        backend's framework; ``parameter_rows`` follow its parameter order;
        ``observables`` are :data:`~pilot.convert.portable.Observable` Pauli
        sums.  Returns one row of values per parameter row.  The default
        (``None``) runs the sweep circuit by circuit through ``exact``/``sample``.
        """
        return None

    def status(self, resource: str) -> ResourceStatus:
        return ResourceStatus(online=True)

    def close(self) -> None:  # noqa: B027 - an optional hook; most backends hold nothing
        """Release connections (default: nothing to release)."""

    # ------------------------------------------------------------- helpers
    def resource_names(self) -> list[str]:
        return [r.name for r in self.resources()]

    def check_resource(self, resource: str) -> None:
        names = self.resource_names()
        if resource not in names:
            raise ConfigError.unknown("resource", "resource", resource, names)

"""What a quantum resource *is* (static capabilities) and how it *is doing* (status).

Capabilities change when a device is recalibrated; status changes every few
seconds.  Keeping them apart lets the selector cache capabilities for the life
of a pilot and refresh status from a monitor.

Both are plain frozen dataclasses: adapters in ``pilot.backends`` build them
from SDK objects (Qiskit ``Target``, Braket device properties, PennyLane
devices); nothing here knows about those SDKs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dreamer.pricing import Pricing


@dataclass(frozen=True)
class ResourceCapabilities:
    """Static description of one quantum resource (a device or simulator).

    Attributes:
        name: the backend's own name (``"aer_simulator"``, ``"fake_lagos"``,
            ``"lightning.qubit"``, ``"SV1"``).
        executor: the executor that reaches it (``"qiskit_fake"``).
        provider: who operates it (``"local"``, ``"ibm"``, ``"aws"``).
        pilot: name of the pilot that holds it.
        num_qubits: the largest circuit width it accepts.
        native_gates: gate names in canonical (Qiskit) spelling; empty means
            "any gate the framework can decompose" (ideal simulators).
        coupling_map: directed two-qubit edges, or ``None`` for all-to-all.
        simulator: ``True`` for simulators (local or managed).
        noisy: ``True`` when results carry device noise (fake backends, QPUs).
        max_shots: upper bound on shots per circuit, ``None`` for no limit.
        supports_exact: whether ``shots=None`` (exact probabilities) works.
        num_gpus: GPUs the resource's actor holds (0 for CPU simulators).
        gate_errors: ``{(gate, qubits): error}`` from calibration, if known.
        readout_errors: ``{qubit: error}`` from calibration, if known.
        default_errors: device-wide averages ``{"1q": e, "2q": e, "readout": e}``
            used where per-qubit data is missing (e.g. Braket's device-level
            calibration schema).
        durations: typical seconds ``{"1q": t, "2q": t, "readout": t,
            "shot_overhead": t, "task_overhead": t}`` for run-time estimates.
        pricing: list price (from ``conf/pricing.toml``); ``None`` means free.
        dynamic: the :data:`~dreamer.workload.DYNAMIC_FEATURES` it runs
            (mid-circuit measurement, reset, classical control); empty: only
            circuits whose measurements come last.
        dynamic_exact: the dynamic features whose circuits it gives exact
            probabilities of (``shots=None``); empty: sampled only.
        reset_errors: ``{qubit: error}`` of a reset, if known.
    """

    name: str
    executor: str
    provider: str
    num_qubits: int
    pilot: str = ""
    native_gates: frozenset[str] = frozenset()
    coupling_map: tuple[tuple[int, int], ...] | None = None
    simulator: bool = True
    noisy: bool = False
    max_shots: int | None = None
    supports_exact: bool = False
    num_gpus: float = 0.0
    gate_errors: dict[tuple[str, tuple[int, ...]], float] = field(default_factory=dict)
    readout_errors: dict[int, float] = field(default_factory=dict)
    default_errors: dict[str, float] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    pricing: Pricing | None = None
    dynamic: frozenset[str] = frozenset()
    dynamic_exact: frozenset[str] = frozenset()
    reset_errors: dict[int, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``"pilot/name"``: unique across a service."""
        return f"{self.pilot}/{self.name}"


@dataclass(frozen=True)
class ResourceStatus:
    """Dynamic state of a resource at ``observed_at`` (seconds since the epoch).

    ``queue_depth`` counts jobs ahead of a new one (normal plus priority
    queues) as the provider reported it; ``queue_is_lower_bound`` is set when
    the provider only said e.g. ``'>4000'``.  ``typical_job_seconds`` is how
    long one queued job takes, when the provider or configuration knows.
    ``stale`` marks a value served after a failed refresh.

    ``ours`` is what the provider's figure does not hold yet: this service's
    own tasks placed on the resource and not yet counted there
    (:class:`dreamer.load.LoadLedger`); ``servers`` is how many jobs the
    resource runs at once (a local pilot's actors; 1 for a device).  The
    predicted queue ahead of a new task is ``queue_depth +
    priority_queue_depth + ours / servers`` (:func:`dreamer.timing.predicted_queue`).

    ``queue_seconds`` is the provider's own estimate of how long a new job
    waits (Azure Quantum's ``averageQueueTime``), for providers that report a
    wait rather than a queue length; when set, the expected wait is it plus our
    own uncounted tasks (:func:`dreamer.timing.expected_wait_seconds`).
    """

    online: bool = True
    queue_depth: int = 0
    typical_job_seconds: float | None = None
    observed_at: float = field(default_factory=time.time)
    message: str = ""
    priority_queue_depth: int = 0
    queue_is_lower_bound: bool = False
    stale: bool = False
    ours: int = 0
    servers: int = 1
    #: Our jobs open on the resource when it was asked, ``(task_id, job_id, at)``
    #: (``at``: submitted, seconds since the epoch), as the pilot that asked knew
    #: them: the service's count learns from it which of its tasks the provider's
    #: figure may already hold, before the pilot's own reports arrive.
    submitted: tuple[tuple[str, str, float], ...] = ()
    #: The provider's estimate of the seconds a new job waits in its queue, if it gives one.
    queue_seconds: float | None = None

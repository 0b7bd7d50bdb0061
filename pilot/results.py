"""``QuantumResult``: what a quantum task returns (picklable, plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class QuantumResult:
    """The outcome of one quantum task.

    ``counts`` keys follow the convention of the framework the circuit was
    written in, whichever backend ran it (see the README, "Counts keys"), and
    are sorted.
    ``probabilities`` are exact when ``shots`` is ``None``, else ``counts / shots``.
    ``expectation_values`` are filled for circuits that ask for expectations
    (a QNode returning ``qml.expval``, a Braket circuit with ``expectation``).

    ``backend`` is the resource's own name (``aer_simulator``, ``fake_lagos``,
    ``lightning.qubit``, ``braket_sv``, ``SV1``); ``executor`` and ``pilot`` say
    how it was reached.  ``path`` is ``"native"`` when the circuit ran in its
    own framework, ``"portable"`` when it was translated.  Times are seconds
    since the epoch.  ``selection`` records QDREAMER's choice: the resource,
    its score and breakdown (estimated fidelity, expected wait, estimated
    cost, layout...), and any failover it took.
    """

    task_id: str
    name: str
    counts: dict[str, int] | None
    shots: int | None
    probabilities: dict[str, float] | None
    expectation_values: list[float] | None
    backend: str
    executor: str
    pilot: str
    source_format: str
    path: str
    submitted_at: float
    started_at: float
    finished_at: float
    native_bytes: bytes | None = field(default=None, repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None

    @property
    def native(self) -> Any:
        """The SDK's own result for this circuit (Aer ``ExperimentResult``, a Runtime
        ``SamplerPubResult``, a Braket task result...), or ``None`` when it does not pickle.

        It travels as bytes and is unpickled on first access: most callers never
        read it, and unpickling thousands of SDK objects would slow every result.
        """
        if self.native_bytes is None:
            return None
        cached = self.__dict__.get("_native")
        if cached is None:
            import cloudpickle

            cached = self.__dict__["_native"] = cloudpickle.loads(self.native_bytes)
        return cached

    @property
    def estimated_cost(self) -> float | None:
        """QDREAMER's cost estimate for this task (``None`` before ``initialize_dreamer``)."""
        return None if self.selection is None else self.selection.get("estimated_cost")

    @property
    def queue_seconds(self) -> float:
        """Time between submission on the driver and start on the pilot."""
        return max(0.0, self.started_at - self.submitted_at)

    @property
    def run_seconds(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    def get_counts(self) -> dict[str, int]:
        """Counts (Qiskit-style accessor); raises when the task produced none."""
        if self.counts is None:
            raise ValueError(
                f"task {self.task_id} has no counts (shots={self.shots}); "
                "use .probabilities or .expectation_values"
            )
        return self.counts

    def most_frequent(self) -> str:
        counts = self.get_counts()
        return max(sorted(counts), key=lambda k: counts[k])

    def __repr__(self) -> str:
        shown = self.counts if self.counts is not None else self.expectation_values
        return (
            f"QuantumResult(task_id={self.task_id!r}, backend={self.backend!r}, "
            f"pilot={self.pilot!r}, shots={self.shots}, "
            f"{'counts' if self.counts is not None else 'expectation_values'}={shown})"
        )

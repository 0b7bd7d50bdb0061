"""``QuantumResult``: what a quantum task returns (picklable, plain data)."""

from __future__ import annotations

import json
import math
import pickle
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

import cloudpickle

from pilot.viz.plots import plot_result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: ``"schema"`` of :meth:`QuantumResult.to_json` documents.
JSON_SCHEMA = "qdreamer.result/1"


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
    own framework, ``"portable"`` when it was translated, ``"dynamic"`` when a
    dynamic circuit ran through PennyLane's mid-circuit measurements.  Times are seconds
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
    #: One per expectation value where it was estimated from samples: Pauli
    #: observables measured with ``shots`` (the spread of each measured term over the
    #: shots, terms measured together counted with their correlation), and a cut
    #: task's reconstruction (a bootstrap).  ``None`` where not estimated (exact
    #: values, and values a framework computed itself, such as a QNode's).
    standard_errors: list[float] | None = None

    @property
    def native(self) -> Any:
        """The SDK's own result for this circuit (Aer ``ExperimentResult``, a Runtime
        ``SamplerPubResult``, a Braket task result...) when the task asked for it
        (``QuantumTask(..., keep_native=True)``), else ``None`` (also when it does not
        pickle).

        It travels as bytes and is unpickled on first access: most callers never
        read it, and unpickling thousands of SDK objects would slow every result.
        """
        if self.native_bytes is None:
            return None
        cached = self.__dict__.get("_native")
        if cached is None:
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

    def to_json(self, **extra: Any) -> str:
        """This result as one JSON object (``extra`` keys added at the top level).

        Every field but ``native_bytes`` (an SDK object's pickle: unpickling it
        from a shared bucket would run whatever it holds), plus ``"schema"``.
        :meth:`from_json` reads it back.  Counts, probabilities, expectation
        values, names and times come back equal; in ``metadata`` and
        ``selection``, tuples and numpy arrays come back as lists, numpy scalars
        as numbers, keys as strings, and other objects as their ``str``.
        """
        data: dict[str, Any] = {"schema": JSON_SCHEMA}
        for f in fields(self):
            if f.name != "native_bytes":
                data[f.name] = _jsonable(getattr(self, f.name))
        data.update(_jsonable(extra))
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> QuantumResult:
        """A result from :meth:`to_json`'s text (or its parsed object); keys that are
        not fields (``"schema"``, a store's ``"run_id"``...) are ignored."""
        data = json.loads(text) if isinstance(text, str | bytes) else dict(text)
        if not isinstance(data, dict):
            raise ValueError(
                f"a QuantumResult JSON document is an object, not {type(data).__name__}"
            )
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in data
            and f.name not in ("native_bytes", "metadata", "selection", "standard_errors")
        ]
        if missing:
            raise ValueError(f"not a QuantumResult JSON document: no {', '.join(missing)}")
        counts, probabilities = data["counts"], data["probabilities"]
        expectations = data["expectation_values"]
        return cls(
            task_id=str(data["task_id"]),
            name=str(data["name"]),
            counts=None if counts is None else {str(k): int(v) for k, v in counts.items()},
            shots=None if data["shots"] is None else int(data["shots"]),
            probabilities=(
                None
                if probabilities is None
                else {str(k): float(v) for k, v in probabilities.items()}
            ),
            expectation_values=None if expectations is None else [float(v) for v in expectations],
            backend=str(data["backend"]),
            executor=str(data["executor"]),
            pilot=str(data["pilot"]),
            source_format=str(data["source_format"]),
            path=str(data["path"]),
            submitted_at=float(data["submitted_at"]),
            started_at=float(data["started_at"]),
            finished_at=float(data["finished_at"]),
            metadata=dict(data.get("metadata") or {}),
            selection=data.get("selection"),
            standard_errors=(
                None
                if data.get("standard_errors") is None
                else [float(v) for v in data["standard_errors"]]
            ),
        )

    def plot(
        self,
        ax: Axes | None = None,
        *,
        sort: Literal["bitstring", "count"] = "bitstring",
        top: int | None = None,
        title: str | None = None,
    ) -> Axes:
        """A bar chart of the counts (exact probabilities when there are none); returns the Axes.

        Draws on ``ax`` (a new figure without one).  ``sort`` orders the bars
        by ``"bitstring"`` or by ``"count"``; ``top`` keeps the most frequent
        outcomes.  Needs matplotlib (``pip install 'qdreamer[plot]'``); raises
        ``ValueError`` for results with expectation values only.  See
        :func:`pilot.viz.plots.plot_result`.
        """
        return plot_result(self, ax, sort=sort, top=top, title=title)

    def __repr__(self) -> str:
        shown = self.counts if self.counts is not None else self.expectation_values
        return (
            f"QuantumResult(task_id={self.task_id!r}, backend={self.backend!r}, "
            f"pilot={self.pilot!r}, shots={self.shots}, "
            f"{'counts' if self.counts is not None else 'expectation_values'}={shown})"
        )


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (see :meth:`QuantumResult.to_json`)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # NaN/inf have no JSON spelling that every reader accepts.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return _jsonable(tolist())
    return str(value)


# ---------------------------------------------------------------- compact records
#: Tag of a compact result record (:func:`encode_outcome`); anything else is a pickle.
#: A new record layout or dictionary gets a new tag, and the old ones stay readable.
RECORD_TAG = b"Q1"
_RECORD_FIELDS = tuple(f.name for f in fields(QuantumResult))


def _record_dictionary() -> bytes:
    """The preset DEFLATE dictionary of ``Q1`` records: a typical record, pickled.

    Records share most of their bytes with it (field values such as the
    executor and backend names, the keys of QDREAMER's breakdown), so each
    stores only what differs.  Frozen with the tag: never edit, add a ``Q2``.
    """
    breakdown = {
        "estimated_fidelity": 1.0,
        "expected_wait_seconds": 0.0,
        "estimated_run_seconds": 0.001,
        "expected_completion_seconds": 0.001,
        "estimated_cost": 0.0,
        "currency": "USD",
        "queue_depth": 0,
        "queue_is_lower_bound": False,
        "status_stale": False,
        "layout": (0, 1),
        "swaps": 0,
        "fidelity_model": "ideal",
    }
    selection = {
        "resource": "aer_simulator",
        "pilot": "qiskit_local-0",
        "score": 0.0,
        "objective": "fidelity",
        "breakdown": breakdown,
        "estimated_cost": 0.0,
        "failover": [],
    }
    typical = (
        "0123456789abcdef",
        "circuit",
        {"00": 512, "11": 512},
        1024,
        None,
        None,
        "aer_simulator",
        "qiskit_local",
        "qiskit_local-0",
        "qiskit",
        "native",
        1.7e9,
        1.7e9,
        1.7e9,
        None,
        {"batch_size": 16, "transpiled": False, "parameter_values": [0.0]},
        selection,
    )
    words = (
        b"pennylane_default pennylane_lightning default.qubit lightning.qubit braket_local "
        b"braket_sv braket_dm qiskit_fake fake_ ibm_runtime torch_statevector portable "
        b"braket pennylane qasm gatedict first-feasible speed cost balanced estimator "
    )
    return words + pickle.dumps(typical, protocol=5)


_DICTIONARY = _record_dictionary()


def encode_outcome(value: Any) -> bytes:
    """What the task journal keeps of a task's outcome, as bytes.

    A :class:`QuantumResult` becomes a compact record: its fields pickled as
    one tuple, then DEFLATE-compressed against a preset dictionary of a
    typical record -- about 100-150 bytes for a result with a few outcomes
    (the SDK's own result, ``native_bytes``, is kept only when the task asked
    for it).  Anything else (a classical task's value) is cloudpickled.
    :func:`decode_outcome` reads both.
    """
    if type(value) is QuantumResult:
        try:
            body = pickle.dumps(tuple(getattr(value, n) for n in _RECORD_FIELDS), protocol=5)
        except Exception:  # metadata only cloudpickle can carry
            pass
        else:
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_DICTIONARY)
            return RECORD_TAG + deflate.compress(body) + deflate.flush()

    return bytes(cloudpickle.dumps(value))


def decode_outcome(data: bytes) -> Any:
    """The value :func:`encode_outcome` encoded (also a plain pickle, as older
    journals hold)."""
    if data[:2] == RECORD_TAG:
        inflate = zlib.decompressobj(-15, zdict=_DICTIONARY)
        values = pickle.loads(inflate.decompress(data[2:]) + inflate.flush())
        if len(values) > len(_RECORD_FIELDS):
            raise ValueError(f"a result record with {len(values)} fields, from a newer version")
        # (Records written before a field was added end earlier: it takes its default.)
        return QuantumResult(**dict(zip(_RECORD_FIELDS, values, strict=False)))

    return cloudpickle.loads(data)

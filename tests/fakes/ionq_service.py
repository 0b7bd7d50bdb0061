"""A local IonQ Quantum Cloud API (v0.4) for testing the real ``qiskit-ionq`` client.

``FakeIonQService`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 (an OS-chosen
port) in a daemon thread; its :attr:`~FakeIonQService.url` (``http://127.0.0.1:<port>/v0.4``)
is what the client is given as IonQ's base URL (``quantum.ionq_url``, or
``IONQ_API_URL``: :attr:`~FakeIonQService.env`).  Requests are built, sent and
parsed by the unmodified SDK (``IonQProvider``, ``IonQBackend``, ``IonQJob``,
``IonQClient``); only the network ends here.

What it serves (the shapes of IonQ's published v0.4 reference,
https://docs.ionq.com/api-reference/v0.4, and what qiskit-ionq 1.x reads):

* ``GET /backends``: one entry per device, ``{"backend", "status", "qubits",
  "average_queue_time" (ms), "last_updated", "characterization_id",
  "degraded"}``, the simulator with its ``noise_models``; ``GET
  /backends/<name>`` one of them.  Public, as IonQ's are (no key needed).
* ``GET /backends/<qpu>/characterizations`` (``{"characterizations": [...]}``,
  newest first; ``limit`` honoured) and ``.../characterizations/<id>``:
  ``{"id", "backend", "date", "qubits", "connectivity", "fidelity": {"1q",
  "2q", "spam": {"mean", "median"}}, "timing": {"1q", "2q", "readout",
  "reset", "t1", "t2"}}`` (seconds).  404 for the simulator.
* ``GET /jobs`` (``{"jobs": [...]}``); ``POST /jobs`` (an ``ionq.circuit.v1``
  job, QIS gate set: ``{"id", "status": "ready", "request"}``); ``GET
  /jobs/<id>``: the job document, whose ``status`` advances one step per call
  through :attr:`pending_statuses` (``ready``, then ``started``) to
  ``completed`` (or ``failed``, with ``failure: {"code", "error"}``, for a job
  :meth:`fail_next_job` doomed); while :attr:`hold_jobs` is set it stays
  ``ready``.  A completed job's ``results.probabilities.url`` is
  ``/v0.4/jobs/<id>/results/probabilities``: ``{"<state>": p}``, the state an
  integer whose bit q is qubit q.  ``PUT /jobs/<id>/status/cancel`` makes an
  unfinished job ``canceled`` (recorded in :attr:`cancelled`); a finished one
  is left as it is (IonQ's cancel is then a no-op).

Every route but the backend list and characterizations needs ``Authorization:
apiKey <key>``: another key gets 401 ``{"statusCode": 401, "error":
"Unauthorized", "message": ...}`` (IonQ's error shape).

Simulation: the circuit is rebuilt in Qiskit from the job's JSON and its
exact probabilities computed with ``Statevector``.  The ideal simulator
returns them as they are (the SDK samples counts from them, seeded by the
job's ``sampler_seed``).  A noise model (``noise.model``, e.g. ``aria-1``) or
a QPU mixes them with the uniform distribution by the circuit's error from the
device's characterization (1 - the product of its gates' and readouts'
fidelities), then samples ``shots`` with the job's seed (or :attr:`seed`) and
returns counts / shots, as IonQ's noisy results are.

Fault injection: :meth:`fail_next` answers the next call(s) of an operation
(:data:`OPERATIONS`) with an HTTP status (429 with a ``Retry-After`` header
when ``retry_after`` is given), or drops the connection (``status="reset"``).
Every request is logged in :attr:`requests` as ``(operation, status)``;
:meth:`calls` counts them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

__all__ = ["OPERATIONS", "FakeIonQDevice", "FakeIonQJob", "FakeIonQService"]

OPERATIONS = (
    "ListBackends",
    "GetBackend",
    "ListCharacterizations",
    "GetCharacterization",
    "ListJobs",
    "CreateJob",
    "GetJob",
    "GetJobProbabilities",
    "CancelJob",
)
#: Operations that need no key (IonQ's backend list and characterizations are public).
PUBLIC = frozenset({"ListBackends", "GetBackend", "ListCharacterizations", "GetCharacterization"})
DEFAULT_PENDING_STATUSES: tuple[str, ...] = ("ready", "started")
FINAL = frozenset({"completed", "failed", "canceled"})
RESET = "reset"
API = "v0.4"


def _iso(when: float | None = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------- model
@dataclass
class FakeIonQDevice:
    """A backend of the list.  Change ``status``, ``average_queue_time`` (ms) or
    ``degraded`` to test status reports; ``fidelity``/``timing`` are its
    characterization (``None``: it has none, as the simulator)."""

    name: str
    qubits: int
    status: str = "available"
    average_queue_time: int = 0
    degraded: bool = False
    fidelity: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    noise_models: tuple[str, ...] = ()
    characterization_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def entry(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "backend": self.name,
            "status": self.status,
            "qubits": self.qubits,
            "average_queue_time": self.average_queue_time,
            "last_updated": _iso(),
            "degraded": self.degraded,
        }
        if self.fidelity is not None:
            doc["characterization_id"] = self.characterization_id
        if self.noise_models:
            doc["noise_models"] = list(self.noise_models)
        return doc

    def characterization(self) -> dict[str, Any]:
        return {
            "id": self.characterization_id,
            "backend": self.name,
            "date": _iso(),
            "qubits": self.qubits,
            "connectivity": [[a, b] for a in range(self.qubits) for b in range(a + 1, self.qubits)],
            "fidelity": self.fidelity,
            "timing": self.timing,
        }


def _device(
    name: str, qubits: int, f1: float, f2: float, spam: float, t2q: float
) -> FakeIonQDevice:
    return FakeIonQDevice(
        name,
        qubits,
        average_queue_time=0,
        fidelity={
            "1q": {"mean": f1, "median": f1},
            "2q": {"mean": f2, "median": f2},
            "spam": {"mean": spam, "median": spam},
        },
        timing={"1q": 135e-6, "2q": t2q, "readout": 300e-6, "reset": 20e-6, "t1": 100.0, "t2": 1.0},
    )


def default_devices() -> dict[str, FakeIonQDevice]:
    """The simulator and two QPUs, with fidelities of the order IonQ publishes."""
    devices = [
        FakeIonQDevice("simulator", 29, noise_models=("ideal", "aria-1", "forte-1")),
        _device("qpu.aria-1", 25, 0.9995, 0.986, 0.9961, 600e-6),
        _device("qpu.forte-1", 36, 0.9998, 0.9952, 0.9965, 970e-6),
    ]
    return {d.name: d for d in devices}


@dataclass
class FakeIonQJob:
    """What one ``POST /jobs`` sent, and the job's state."""

    id: str
    backend: str
    request: dict[str, Any]
    submitted: float
    status: str = "ready"
    steps: int = 0
    get_calls: int = 0
    failure: dict[str, str] | None = None
    #: Set by ``fail_next_job``: the job ends ``failed`` with this failure.
    doom: dict[str, str] | None = None
    probabilities: dict[str, float] | None = None
    completed: float | None = None

    @property
    def shots(self) -> int:
        return int(self.request.get("shots") or 0)

    @property
    def noise_model(self) -> str:
        return str((self.request.get("noise") or {}).get("model") or "ideal")

    def document(self) -> dict[str, Any]:
        circuit = (self.request.get("input") or {}).get("circuit") or []
        twoq = sum(1 for g in circuit if len(g.get("targets", [])) + len(g.get("controls", [])) > 1)
        doc: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "type": self.request.get("type", "ionq.circuit.v1"),
            "backend": self.backend,
            "dry_run": False,
            "name": self.request.get("name"),
            "metadata": self.request.get("metadata"),
            "shots": self.shots,
            "noise": self.request.get("noise") or {"model": "ideal"},
            "settings": self.request.get("settings") or {"compilation": {}},
            "submitted_at": _iso(self.submitted),
            "started_at": None,
            "completed_at": _iso(self.completed) if self.completed else None,
            "execution_duration_ms": 12 if self.status == "completed" else None,
            "predicted_wait_time_ms": None,
            "failure": self.failure,
            "child_job_ids": None,
            "parent_job_id": None,
            "session_id": None,
            "stats": {
                "qubits": int((self.request.get("input") or {}).get("qubits") or 0),
                "circuits": 1,
                "gate_counts": {"1q": len(circuit) - twoq, "2q": twoq},
            },
            "results": None,
            "output": {},
        }
        if self.status == "completed":
            url = f"/{API}/jobs/{self.id}/results/probabilities"
            doc["results"] = {"probabilities": {"url": url}}
        return doc


@dataclass
class _Fault:
    operation: str
    status: int | str
    times: int
    retry_after: float | None = None


class _Reply(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}


class _Drop(Exception):
    pass


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# ---------------------------------------------------------------- the service
class FakeIonQService(LoopbackServer):
    """IonQ's v0.4 API on loopback (see the module docstring).

    Attributes:
        key: the API key it accepts.
        devices: ``{backend: FakeIonQDevice}``.
        jobs: ``{job id: FakeIonQJob}`` in creation order.
        cancelled: ids of the jobs ``PUT .../status/cancel`` cancelled, in order.
        requests: ``(operation, status)`` of every request (0: dropped).
        hold_jobs: while set, jobs stay ``ready``.
        seed: sampling seed of noisy jobs that name none.
    """

    DEFAULT_KEY = "fake-ionq-apikey-qdreamer-0123456789abcdef"

    def __init__(
        self,
        *,
        key: str = DEFAULT_KEY,
        pending_statuses: tuple[str, ...] = DEFAULT_PENDING_STATUSES,
        seed: int = 1234,
    ) -> None:
        self.key = key
        self.pending_statuses = tuple(pending_statuses)
        self.seed = seed
        self.devices: dict[str, FakeIonQDevice] = default_devices()
        self.jobs: dict[str, FakeIonQJob] = {}
        self.cancelled: list[str] = []
        self.requests: list[tuple[str, int]] = []
        self.injected: list[tuple[str, int | str]] = []
        self.hold_jobs = False
        self._failures: list[dict[str, str]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeIonQService:
        if self._server is None:
            self._serve(_Handler, "fake-ionq")
        return self

    @property
    def url(self) -> str:
        """IonQ's base URL for the client (``quantum.ionq_url`` / ``IONQ_API_URL``)."""
        if self._server is None:
            raise RuntimeError("FakeIonQService is not started; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/{API}"

    @property
    def env(self) -> dict[str, str]:
        """The environment that points the ``ionq`` executor (and qiskit-ionq) here."""
        return {"IONQ_API_KEY": self.key, "IONQ_API_URL": self.url}

    def quantum_config(self, **extra: Any) -> dict[str, Any]:
        """A pilot description's ``quantum`` dict (``ionq``) that reaches this fake."""
        return {"executor": "ionq", "ionq_api_key": self.key, "ionq_url": self.url, **extra}

    def reset(self) -> None:
        """Forget jobs, cancellations, faults and the request log; restore the devices."""
        with self._lock:
            self.devices = default_devices()
            self.jobs.clear()
            self.cancelled.clear()
            self.requests.clear()
            self.injected.clear()
            self._faults.clear()
            self._failures.clear()
            self.hold_jobs = False

    # ------------------------------------------------------------ test helpers
    def fail_next(
        self,
        operation: str,
        status: int | str = 503,
        times: int = 1,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` (``"*"``: any) with ``status``
        (``"reset"``: drop the connection); ``retry_after`` adds that header."""
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
        with self._lock:
            self._faults.append(_Fault(operation, status, int(times), retry_after))

    def fail_next_job(self, code: str = "QuantumComputerError", error: str = "injected") -> None:
        """Accept the next ``POST /jobs`` but let that job end ``failed``."""
        with self._lock:
            self._failures.append({"code": code, "error": error})

    def calls(self, operation: str) -> int:
        with self._lock:
            return sum(1 for op, _ in self.requests if op == operation)

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    self.injected.append((operation, fault.status))
                    return fault
        return None

    # ------------------------------------------------------------ routing
    @staticmethod
    def operation_of(method: str, parts: list[str]) -> str:
        if not parts or parts[0] != API:
            return "Unknown"
        rest = parts[1:]
        routes = {
            ("GET", ("backends",)): "ListBackends",
            ("GET", ("backends", "*")): "GetBackend",
            ("GET", ("backends", "*", "characterizations")): "ListCharacterizations",
            ("GET", ("backends", "*", "characterizations", "*")): "GetCharacterization",
            ("GET", ("jobs",)): "ListJobs",
            ("POST", ("jobs",)): "CreateJob",
            ("GET", ("jobs", "*")): "GetJob",
            ("GET", ("jobs", "*", "results", "probabilities")): "GetJobProbabilities",
            ("PUT", ("jobs", "*", "status", "cancel")): "CancelJob",
        }
        for (m, shape), op in routes.items():
            if (
                m == method
                and len(shape) == len(rest)
                and all(s == "*" or s == p for s, p in zip(shape, rest, strict=True))
            ):
                return op
        return "Unknown"

    def serve(
        self,
        operation: str,
        parts: list[str],
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
    ) -> tuple[int, Any]:
        rest = parts[1:]
        if operation == "Unknown":
            raise _Reply(404, f"the fake IonQ API does not serve {'/'.join(parts)!r}")
        key = headers.get("Authorization", "")
        if operation not in PUBLIC and key != f"apiKey {self.key}":
            raise _Reply(401, "Invalid key provided")
        with self._lock:
            if operation == "ListBackends":
                return 200, [d.entry() for d in self.devices.values()]
            if operation == "GetBackend":
                return 200, self._find_device(rest[1]).entry()
            if operation in ("ListCharacterizations", "GetCharacterization"):
                device = self._find_device(rest[1])
                if device.fidelity is None:
                    raise _Reply(404, f"no characterizations for backend {device.name}")
                if operation == "GetCharacterization":
                    if rest[3] != device.characterization_id:
                        raise _Reply(404, f"characterization {rest[3]} not found")
                    return 200, device.characterization()
                return 200, {"characterizations": [device.characterization()]}
            if operation == "ListJobs":
                return 200, {"jobs": [j.document() for j in self.jobs.values()], "next": None}
            if operation == "CreateJob":
                return 200, self._create(body)
            job = self._find_job(rest[1])
            if operation == "CancelJob":
                if job.status not in FINAL:
                    job.status = "canceled"
                    self.cancelled.append(job.id)
                return 200, {"id": job.id, "status": job.status}
            if operation == "GetJob":
                return 200, self._advance(job).document()
        # GetJobProbabilities (simulated outside the lock)
        if job.status != "completed" or job.probabilities is None:
            raise _Reply(400, f"job {job.id} has no results: it is {job.status}")
        return 200, job.probabilities

    def _find_device(self, name: str) -> FakeIonQDevice:
        device = self.devices.get(name)
        if device is None:
            raise _Reply(404, f"backend {name!r} not found")
        return device

    def _find_job(self, job_id: str) -> FakeIonQJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise _Reply(404, f"job {job_id} not found")
        return job

    def _create(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise _Reply(400, "request body is not JSON") from None
        kind = request.get("type")
        if kind != "ionq.circuit.v1":
            raise _Reply(400, f"the fake runs ionq.circuit.v1 jobs only, not {kind!r}")
        backend = str(request.get("backend"))
        device = self._find_device(backend)
        qubits = int((request.get("input") or {}).get("qubits") or 0)
        if qubits > device.qubits:
            raise _Reply(400, f"{qubits} qubits exceed {backend}'s {device.qubits}")
        shots = int(request.get("shots") or 0)
        if not backend.startswith("simulator") and not 1 <= shots <= 10_000:
            raise _Reply(400, f"shots must be between 1 and 10000 on {backend}, got {shots}")
        model = str((request.get("noise") or {}).get("model") or "ideal")
        if backend == "simulator" and model != "ideal" and f"qpu.{model}" not in self.devices:
            raise _Reply(400, f"unknown noise model {model!r}")
        _circuit(request)  # 400 for a gate the fake does not know
        job = FakeIonQJob(
            id=str(uuid.uuid4()), backend=backend, request=request, submitted=time.time()
        )
        if self._failures:
            job.doom = self._failures.pop(0)
        self.jobs[job.id] = job
        return {"id": job.id, "status": job.status, "request": int(job.submitted)}

    def _advance(self, job: FakeIonQJob) -> FakeIonQJob:
        job.get_calls += 1
        if job.status in FINAL or self.hold_jobs:
            return job
        sequence = [*self.pending_statuses, "completed"]
        job.steps += 1
        status = sequence[min(job.steps, len(sequence)) - 1]
        if status == "completed":
            if job.doom is not None:
                job.status, job.failure = "failed", job.doom
                return job
            job.probabilities = self._simulate(job)
            job.completed = time.time()
        job.status = status
        return job

    # ------------------------------------------------------------ simulation
    def _simulate(self, job: FakeIonQJob) -> dict[str, float]:
        from qiskit.quantum_info import Statevector

        qc = _circuit(job.request)
        probs = Statevector(qc).probabilities()
        ideal = job.backend == "simulator" and job.noise_model == "ideal"
        if ideal:
            return {str(i): float(p) for i, p in enumerate(probs) if p > 1e-12}
        qpu = job.backend if job.backend.startswith("qpu.") else f"qpu.{job.noise_model}"
        fid = self.devices[qpu].fidelity or {}
        ones = sum(1 for g in job.request["input"]["circuit"] if _arity(g) == 1)
        twos = sum(1 for g in job.request["input"]["circuit"] if _arity(g) > 1)
        success = (
            fid["1q"]["mean"] ** ones
            * fid["2q"]["mean"] ** twos
            * fid["spam"]["mean"] ** qc.num_qubits
        )
        noisy = [success * p + (1 - success) / len(probs) for p in probs]
        seed = (job.request.get("noise") or {}).get("seed")
        rng = random.Random(self.seed if seed is None else int(seed))
        shots = max(1, job.shots)
        counts: dict[int, int] = {}
        for state in rng.choices(range(len(noisy)), weights=noisy, k=shots):
            counts[state] = counts.get(state, 0) + 1
        return {str(s): n / shots for s, n in sorted(counts.items())}


def _arity(gate: dict[str, Any]) -> int:
    return len(gate.get("targets", [])) + len(gate.get("controls", []))


_ONE = {"x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "si": "sdg", "t": "t", "ti": "tdg",
        "v": "sx", "vi": "sxdg", "rx": "rx", "ry": "ry", "rz": "rz", "not": "x"}  # fmt: skip
_TWO = {"xx": "rxx", "yy": "ryy", "zz": "rzz", "swap": "swap"}


def _circuit(request: dict[str, Any]) -> Any:
    """The job's ``ionq.circuit.v1`` input as a Qiskit circuit (400 for what it cannot read)."""
    from qiskit import QuantumCircuit

    data = request.get("input") or {}
    if data.get("gateset", "qis") != "qis":
        raise _Reply(400, "the fake runs the qis gate set only")
    qc = QuantumCircuit(max(1, int(data.get("qubits") or 0)))
    for gate in data.get("circuit") or []:
        name = str(gate.get("gate"))
        targets = [int(t) for t in gate.get("targets", [])]
        controls = [int(c) for c in gate.get("controls", [])]
        angle = gate.get("rotation")
        if name in _ONE and not controls:
            method = getattr(qc, _ONE[name])
            method(*([float(angle)] if angle is not None else []), targets[0])
        elif name in _ONE and len(controls) == 1 and angle is None and name in ("x", "y", "z", "h"):
            getattr(qc, "c" + name)(controls[0], targets[0])
        elif name in _TWO and len(targets) == 2 and not controls:
            method = getattr(qc, _TWO[name])
            method(*([float(angle)] if angle is not None else []), targets[0], targets[1])
        else:
            raise _Reply(400, f"the fake does not run gate {gate!r}")
    return qc


# ------------------------------------------------------------------ handler
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeIonQ/1.0"

    @property
    def fake(self) -> FakeIonQService:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        query = parse_qs(split.query, keep_blank_values=True)
        operation = fake.operation_of(self.command, parts)
        headers: dict[str, str] = {}
        try:
            fault = fake._take_fault(operation)
            if fault is not None and fault.status == RESET:
                raise _Drop
            if fault is not None:
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
                status = int(fault.status)
                raise _Reply(status, _REASONS.get(status, "injected fault"), extra)
            status, payload = fake.serve(operation, parts, query, self.headers, body)
        except _Drop:
            with fake._lock:
                fake.requests.append((operation, 0))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
            return
        except _Reply as reply:
            status, headers = reply.status, reply.headers
            payload = {
                "statusCode": reply.status,
                "error": _REASONS.get(reply.status, "Error"),
                "message": reply.message,
            }
        except Exception as exc:  # a bug in the fake: answer 500, as a service would
            status = 500
            payload = {"statusCode": 500, "error": "Internal Server Error", "message": repr(exc)}
        with fake._lock:
            fake.requests.append((operation, status))
        data = json.dumps(payload).encode()
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

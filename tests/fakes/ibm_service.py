"""A local IBM Quantum Platform for testing the real ``qiskit-ibm-runtime`` client.

``FakeIBMQuantumPlatform`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 (an
OS-chosen port) in a daemon thread.  The real client reaches it as its HTTP(S)
*proxy*: every request the SDK makes for IBM Cloud goes to the fake, which
answers for the host the SDK asked for.  Nothing of the client is patched.

Why a proxy
-----------
qiskit-ibm-runtime 0.51 derives every endpoint from the ``url`` argument by
prefixing its host name and dropping its port (``accounts/utils.py``:
``iam.<host>``, ``api.global-search-tagging.<host>``,
``globalcatalog.<host>/api/v1``; ``api/utils.py``: ``[<region>.]quantum.<host>/api/v1``
for an instance CRN), and its request signer (``api/auth.py`` ``CloudAuth``)
always exchanges the API key at ``https://iam.cloud.ibm.com`` (only the
``IAM_URL`` environment variable overrides that).  A server on
``127.0.0.1:<port>`` cannot be reached by such names without DNS, so the fake
is the client's proxy instead, through the SDK's own ``proxies`` argument
(``quantum.proxy`` for ``ibm_runtime``), and the client is given
``url="http://cloud.ibm.com"`` (see :meth:`FakeIBMQuantumPlatform.service_kwargs`):

* Absolute-form requests (``GET http://quantum.cloud.ibm.com/api/v1/...``)
  are served as the host they name: every endpoint derived from ``url``
  travels as plain HTTP through the proxy.
* ``CONNECT iam.cloud.ibm.com:443`` (``CloudAuth``'s fixed HTTPS URL) is
  accepted and TLS is terminated with a self-signed certificate made on first
  use with ``cryptography``, so the client needs ``verify=False``.  The SDK
  passes that to the IAM token manager per request; its ``requests`` session
  for the Quantum API would let ``REQUESTS_CA_BUNDLE`` (set on this machine)
  override it, which is why ``url`` is plain HTTP rather than HTTPS.

Hosts answered, for ``<base>`` ``cloud.ibm.com`` or another one such as
staging's ``test.cloud.ibm.com`` (see :attr:`hosts`):

* ``iam.<base>`` / ``iam.cloud.ibm.com``: ``POST /identity/token`` (IAM
  ``apikey`` grant) returns an unsigned-but-well-formed JWT access token for
  the right API key; 400 ``BXNIM0415E`` otherwise.
* ``api.global-search-tagging.<base>``: ``POST /v3/resources/search`` lists
  the account's Quantum instances (:attr:`instances`).
* ``globalcatalog.<base>``: ``GET /api/v1/<plan id>`` (plan name, pricing type).
* ``[<region>.]quantum.<base>`` under ``/api/v1`` (the Quantum Compute API,
  bearer token and ``Service-CRN`` checked):
  ``GET /backends``, ``GET /backends/<name>/{configuration,properties,status}``
  (the real snapshots of qiskit-ibm-runtime's fake devices, so the client
  builds a real ``Target``), ``GET /instances/usage``, ``POST /jobs``,
  ``GET /jobs/<id>``, ``GET /jobs/<id>/results``, ``POST /jobs/<id>/cancel``,
  ``POST /sessions``, ``GET /sessions/<id>``, ``PATCH /sessions/<id>``,
  ``DELETE /sessions/<id>/close``.

Jobs
----
``POST /jobs`` accepts the ``executor`` program (what
``qiskit_ibm_runtime.executor_sampler.Sampler`` submits).  Its params are
decoded with the runtime's own schema (``ibm_quantum_schemas`` ``ParamsModel``
v2.0 and ``quantum_program_from_2_0``), run by the runtime's own local runner
(``fake_provider.executor.run_quantum_program``) on Aer (ideal by default, or
with the device's noise when ``noisy=True``), and the result is encoded as a
``QuantumProgramResultModel`` v2.0 document, which the client's
``ExecutorResultDecoder`` + ``ClientSideSamplerResultDecoder`` turn into a
``PrimitiveResult``.  ``GET /jobs/<id>`` reports :attr:`pending_statuses`
(``Queued``, then ``Running``), one per call, then ``Completed`` (the
simulation runs then; ``Failed`` if it raised).  While :attr:`hold_jobs` is
set, jobs stay ``Queued``; :meth:`fail_next_job` lets the next job end
``Failed`` (its ``/results`` is then the error text, as the service's is).
``POST /jobs/<id>/cancel`` (204) makes the job
``Cancelled`` and records its id in :attr:`cancelled`; 409 for a job already
final.

Queues on a clock
-----------------
By default a device's ``length_queue`` (backend status, read by the client as
``backend.status().pending_jobs``; ``queue_length`` in ``GET /backends``) is the
settable :attr:`FakeIBMDevice.queue_length`.  :meth:`FakeIBMQuantumPlatform.drain`
makes a device a single FIFO server on :attr:`FakeIBMQuantumPlatform.clock` instead
(the rules are in ``tests/fakes/drain.py``)::

    fake.drain("ibmq_manila", seconds_per_job=0.2, external_queue=3)

Three outside jobs are then ahead, leaving one every 0.2 s; each job created
afterwards enters the queue at ``POST /jobs``, runs 0.2 s once the server is
free, and ``GET /jobs/<id>`` reports ``Queued``, ``Running``, then ``Completed``
(simulated then, as above; ``Failed`` for a job ``fail_next_job`` doomed) from
the clock, however often it is asked (:attr:`hold_jobs` does not apply).
``length_queue`` is the outside jobs still waiting plus ours not yet started.
Cancelling a queued job (alone, or with its session) takes it out of the queue
(the jobs behind it move up); cancelling a running one frees the server.
``drain(name, None)`` turns it off for jobs created afterwards.

Sessions and batches
--------------------
``POST /sessions`` (what ``Session``/``Batch`` send: ``mode`` ``dedicated`` or
``batch``, ``backend``, ``instance``, ``max_ttl``) opens a :class:`FakeIBMSession`
in :attr:`sessions`, unless its mode is not in :attr:`session_modes` (403, as
for an Open Plan instance and a session).  A job created with a ``session_id``
is recorded in the session's ``jobs``; one for an unknown session is refused
(404), one for a session not accepting jobs too (400).  ``PATCH`` with
``{"accepting_jobs": false}`` (``Session.close``) stops it accepting jobs (it
reads ``closed`` once its jobs are final); ``DELETE .../close``
(``Session.cancel``) cancels its unfinished jobs and closes it.
:meth:`end_session` ends one as the service does when its ``max_ttl`` passes.

Fault injection (the operation names are in :data:`OPERATIONS`)
----------------------------------------------------------------
* :meth:`fail_next` answers the next call(s) of an operation with an HTTP
  error (``503``, ``429``...) or, with ``status="reset"``, drops the
  connection without an answer (a TCP reset).
* :meth:`fail_randomly` fails a fraction of calls, drawn from a seeded RNG.
* :meth:`delay_next` holds the next call(s) before answering.

Every request is logged in :attr:`requests` as ``(host, operation, status)``
(status 0 for a dropped connection); :meth:`calls` counts them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import random
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.drain import Drain, Slot
from tests.fakes.loopback import LoopbackServer

__all__ = [
    "OPERATIONS",
    "FakeIBMDevice",
    "FakeIBMJob",
    "FakeIBMQuantumPlatform",
    "FakeIBMSession",
    "FakeInstance",
]

#: Every operation name the fake logs, for ``fail_next``/``delay_next``/``calls``.
OPERATIONS = (
    "IAMToken",
    "SearchResources",
    "GetCatalogEntry",
    "ListBackends",
    "GetBackendConfiguration",
    "GetBackendProperties",
    "GetBackendStatus",
    "GetUsage",
    "CreateJob",
    "GetJob",
    "GetJobResults",
    "CancelJob",
    "CreateSession",
    "GetSession",
    "CloseSession",
    "CancelSession",
)
#: Operations of the Quantum Compute API (what ``fail_randomly`` targets by default).
RUNTIME_OPERATIONS = OPERATIONS[3:]

DEFAULT_PENDING_STATUSES: tuple[str, ...] = ("Queued", "Running")
_FINAL = frozenset({"Completed", "Failed", "Cancelled"})
RESET = "reset"


def _iso(when: float | None = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------------- model
@dataclass
class FakeInstance:
    """An IBM Quantum service instance of the account (a CRN and its plan)."""

    crn: str
    name: str
    plan_id: str = "fake-open-plan"
    plan: str = "Open"
    pricing_type: str = "free"
    tags: list[str] = field(default_factory=list)


@dataclass
class FakeIBMDevice:
    """A device the Quantum Compute API serves, from a qiskit-ibm-runtime fake's snapshot.

    Change ``online``, ``status_msg`` or ``queue_length`` to test status reports.
    ``jobs_until_offline``: accept that many more jobs, then go offline (maintenance
    that starts in the middle of a run; the device's status says so from then on).
    ``drain`` (set with :meth:`FakeIBMQuantumPlatform.drain`) makes its queue a
    FIFO server on the fake's clock, reported instead of ``queue_length``.
    """

    name: str
    configuration: dict[str, Any]
    properties: dict[str, Any] | None
    fake: Any  # the FakeBackendV2 whose snapshot this is (noisy simulation)
    online: bool = True
    status_msg: str = "active"
    queue_length: int = 0
    drain: Drain | None = None
    jobs_until_offline: int | None = None

    @classmethod
    def from_fake(cls, fake: Any) -> FakeIBMDevice:
        base = Path(fake.dirname)
        conf = json.loads((base / fake.conf_filename).read_text())
        props = (
            json.loads((base / fake.props_filename).read_text())
            if getattr(fake, "props_filename", None)
            else None
        )
        return cls(name=str(conf["backend_name"]), configuration=conf, properties=props, fake=fake)

    @property
    def qubits(self) -> int:
        return int(self.configuration["n_qubits"])

    def summary(self) -> dict[str, Any]:
        """One entry of ``GET /backends`` (``devices``)."""
        return {
            "name": self.name,
            "status": {
                "name": "online" if self.online else "offline",
                "reason": "available" if self.online else "maintenance",
            },
            "qubits": self.qubits,
            "physical_qubits": self.qubits,
            "queue_length": self.queue_length,
            "processor_type": {"family": "Falcon", "revision": 5},
            "performance_metrics": {},
            "clops": {},
            "wait_time_seconds": {},
        }


@dataclass
class FakeIBMJob:
    """What the client sent in one ``POST /jobs``, and the job's state."""

    id: str
    program_id: str
    backend: str
    instance: str
    params: dict[str, Any]
    created: str
    status: str = "Queued"
    reason: str | None = None
    get_calls: int = 0
    #: ``GET /jobs/<id>`` calls that advanced the status (not while ``hold_jobs``).
    steps: int = 0
    #: Set by ``fail_next_job``: the job ends ``Failed`` with this reason.
    fail_reason: str | None = None
    result_json: str | None = None
    tags: list[str] = field(default_factory=list)
    session_id: str | None = None
    #: The device's drain when the job was created (``None``: one status per poll).
    drain: Drain | None = None
    #: Clock readings: when it entered the device's queue, when it was cancelled.
    queued_at: float = 0.0
    cancelled_at: float | None = None

    def document(self, *, with_params: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "state": {"status": self.status, "reason": self.reason},
            "status": self.status,
            "program": {"id": self.program_id},
            "created": self.created,
            "runtime": "",
            "session_id": self.session_id,
            "tags": list(self.tags),
            "private": False,
            "user_id": "fake-user",
        }
        if with_params:
            doc["params"] = self.params
        return doc


@dataclass
class FakeIBMSession:
    """A session or batch opened with ``POST /sessions``, and the jobs created in it."""

    id: str
    mode: str  # "dedicated" (a Session) or "batch"
    backend: str
    instance: str
    max_ttl: int | None
    created: str
    accepting_jobs: bool = True
    #: Set when it ended: cancelled, or its max_ttl passed (``end_session``).
    ended: bool = False
    jobs: list[str] = field(default_factory=list)

    def state(self, jobs: dict[str, FakeIBMJob]) -> str:
        if self.ended:
            return "closed"
        if not self.accepting_jobs and all(
            jobs[j].status in _FINAL for j in self.jobs if j in jobs
        ):
            return "closed"
        return "active" if self.jobs else "open"

    def document(self, jobs: dict[str, FakeIBMJob]) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend_name": self.backend,
            "mode": self.mode,
            "state": self.state(jobs),
            "accepting_jobs": self.accepting_jobs and not self.ended,
            "max_ttl": self.max_ttl or 28800,
            "interactive_ttl": 60,
            "active_ttl": None,
            "started_at": self.created,
            "closed_at": None,
            "elapsed_time": 0,
            "timestamps": [],
        }


@dataclass
class _Fault:
    operation: str
    status: int | str
    times: int


class _Reply(Exception):
    """Raised inside a handler to answer with an error document."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.code = code or str(status)


class _Drop(Exception):
    """Raised inside a handler to drop the connection without an answer."""


# ---------------------------------------------------------------- the service
class FakeIBMQuantumPlatform(LoopbackServer):
    """IBM Cloud IAM + Global Search/Catalog + Quantum Compute API (see the module docstring).

    Attributes:
        token: the API key the account accepts.
        instances: the account's instances (:class:`FakeInstance`).
        devices: ``{name: FakeIBMDevice}`` served by every instance.
        jobs: ``{job id: FakeIBMJob}`` in creation order.
        sessions: ``{session id: FakeIBMSession}`` (sessions and batches) in creation order.
        session_modes: the modes ``POST /sessions`` accepts (``dedicated``, ``batch``).
        cancelled: ids of the jobs ``POST /jobs/<id>/cancel`` cancelled, in order.
        requests: ``(host, operation, status)`` for every request (0: dropped).
        pending_statuses: what ``GET /jobs/<id>`` reports before ``Completed``.
        hold_jobs: while set, jobs stay ``Queued`` (not on a drained device).
        clock: what drained devices (:meth:`drain`) read the time from
            (``time.monotonic`` unless given; ``reset`` restores it).
    """

    DEFAULT_TOKEN = "fake-ibm-apikey-qdreamer-0123456789abcdef"
    DEFAULT_CRN = (
        "crn:v1:bluemix:public:quantum-computing:us-east:a/fakeaccount0001:fakeinstance0001::"
    )

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        devices: tuple[str, ...] = ("FakeManilaV2", "FakePerth"),
        instances: list[FakeInstance] | None = None,
        pending_statuses: tuple[str, ...] = DEFAULT_PENDING_STATUSES,
        noisy: bool = False,
        seed: int | None = 1234,
        base_host: str = "cloud.ibm.com",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.pending_statuses = tuple(pending_statuses)
        self.noisy = noisy
        self.seed = seed
        self.base_host = base_host
        self.clock = self._clock = clock
        self._device_classes = tuple(devices)
        self.instances = instances or [FakeInstance(self.DEFAULT_CRN, "qdreamer-test")]
        self.devices: dict[str, FakeIBMDevice] = {}
        self.jobs: dict[str, FakeIBMJob] = {}
        self.sessions: dict[str, FakeIBMSession] = {}
        self.session_modes: set[str] = {"dedicated", "batch"}
        self.cancelled: list[str] = []
        self.requests: list[tuple[str, str, int]] = []
        self.hold_jobs = False
        #: Failure reasons for the next created jobs (see ``fail_next_job``).
        self.job_failures: list[str] = []
        self.access_tokens: set[str] = set()
        self.injected: list[tuple[str, int | str]] = []
        self._faults: list[_Fault] = []
        self._delays: list[list[Any]] = []
        self._random: tuple[float, tuple[int | str, ...], frozenset[str], random.Random] | None = (
            None
        )
        self._lock = threading.RLock()
        self._sim_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._certdir: str | None = None
        self._tls: ssl.SSLContext | None = None
        self._add_default_devices()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeIBMQuantumPlatform:
        if self._server is not None:
            return self
        self._tls = self._tls_context()
        self._serve(_Handler, "fake-ibm-quantum")
        return self

    @property
    def url(self) -> str:
        """The proxy URL to give the client (``proxies={"urls": {"https": url, "http": url}}``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cloud_url(self) -> str:
        """The client's ``url``: IBM Cloud over plain HTTP (see the module docstring)."""
        return f"http://{self.base_host}"

    @property
    def crn(self) -> str:
        return self.instances[0].crn

    @property
    def hosts(self) -> dict[str, str]:
        """``{host: service}`` for the default base host (other bases are derived alike)."""
        base = self.base_host
        return {
            f"iam.{base}": "iam",
            f"api.global-search-tagging.{base}": "search",
            f"globalcatalog.{base}": "catalog",
            f"quantum.{base}": "quantum",
        }

    def service_kwargs(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``QiskitRuntimeService`` that reach this fake."""
        return {
            "channel": "ibm_quantum_platform",
            "token": self.token,
            "instance": self.crn,
            "url": self.cloud_url,
            "proxies": {"urls": {"http": self.url, "https": self.url}},
            "verify": False,
            **extra,
        }

    def quantum_config(self, **extra: Any) -> dict[str, Any]:
        """A pilot description's ``quantum`` dict (``ibm_runtime``) that reaches this fake."""
        return {
            "executor": "ibm_runtime",
            "token": self.token,
            "instance": self.crn,
            "url": self.cloud_url,
            "proxy": self.url,
            "verify": False,
            **extra,
        }

    def reset(self) -> None:
        """Forget jobs, cancellations, faults, delays and the request log; restore devices
        (no drains) and the clock."""
        with self._lock:
            self.clock = self._clock
            self.jobs.clear()
            self.sessions.clear()
            self.session_modes = {"dedicated", "batch"}
            self.cancelled.clear()
            self.requests.clear()
            self.injected.clear()
            self._faults.clear()
            self._delays.clear()
            self._random = None
            self.hold_jobs = False
            self.job_failures.clear()
            self._add_default_devices()

    def _add_default_devices(self) -> None:
        from qiskit_ibm_runtime import fake_provider

        self.devices.clear()
        for cls_name in self._device_classes:
            device = FakeIBMDevice.from_fake(getattr(fake_provider, cls_name)())
            self.devices[device.name] = device

    # ------------------------------------------------------------ test helpers
    def fail_next(self, operation: str, status: int | str = 503, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``operation`` (``"*"``: any) with ``status``.

        ``status`` is an HTTP status (``503``, ``429``, ``500``...) or ``"reset"``
        (the connection is dropped without an answer).
        """
        self._check_operation(operation)
        with self._lock:
            self._faults.append(_Fault(operation, status, int(times)))

    def fail_randomly(
        self,
        rate: float,
        *,
        statuses: tuple[int | str, ...] = (503, 429, RESET),
        operations: tuple[str, ...] = RUNTIME_OPERATIONS,
        seed: int = 0,
    ) -> None:
        """Fail each call of ``operations`` with probability ``rate`` (0 stops it).

        The failure is drawn from ``statuses`` with a ``random.Random(seed)``:
        the same seed and the same sequence of calls give the same faults.
        """
        for op in operations:
            self._check_operation(op)
        with self._lock:
            self._random = (
                None
                if rate <= 0
                else (float(rate), tuple(statuses), frozenset(operations), random.Random(seed))
            )

    def delay_next(self, operation: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``operation`` for ``seconds`` before answering."""
        self._check_operation(operation)
        with self._lock:
            self._delays.append([operation, float(seconds), int(times)])

    def fail_next_job(self, reason: str = "Job failed (injected)") -> None:
        """Accept the next ``POST /jobs`` but let that job end ``Failed`` with ``reason``."""
        with self._lock:
            self.job_failures.append(reason)

    def drain(
        self, name: str, seconds_per_job: float | None, *, external_queue: int = 0
    ) -> Drain | None:
        """Make device ``name`` a FIFO server taking ``seconds_per_job`` per job, with
        ``external_queue`` outside jobs ahead from now (see "Queues on a clock" in the
        module docstring); ``None`` turns it off.  Jobs created before keep the drain
        they were created under."""
        with self._lock:
            device = self.devices[name]
            device.drain = Drain.on(seconds_per_job, external_queue, self.clock())
            return device.drain

    def end_session(self, session_id: str) -> None:
        """End a session or batch as the service does when its ``max_ttl`` passes."""
        with self._lock:
            self.sessions[session_id].ended = True

    def calls(self, operation: str) -> int:
        """Requests of ``operation`` served so far (any status, dropped ones included)."""
        self._check_operation(operation)
        with self._lock:
            return sum(1 for _, op, _ in self.requests if op == operation)

    def job(self, job_id: str) -> FakeIBMJob:
        with self._lock:
            return self.jobs[job_id]

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")

    def _take_fault(self, operation: str) -> int | str | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    self.injected.append((operation, fault.status))
                    return fault.status
            if self._random is not None:
                rate, statuses, ops, rng = self._random
                if operation in ops and rng.random() < rate:
                    status = rng.choice(statuses)
                    self.injected.append((operation, status))
                    return status
        return None

    def _take_delay(self, operation: str) -> float:
        with self._lock:
            for entry in self._delays:
                if entry[0] in (operation, "*") and entry[2] > 0:
                    entry[2] -= 1
                    if entry[2] == 0:
                        self._delays.remove(entry)
                    return float(entry[1])
        return 0.0

    def _log(self, host: str, operation: str, status: int) -> None:
        with self._lock:
            self.requests.append((host, operation, status))

    # ------------------------------------------------------------ TLS
    def _tls_context(self) -> ssl.SSLContext:
        """A server context with a self-signed certificate for the IBM Cloud hosts."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        base = self.base_host
        names = [
            base,
            f"*.{base}",
            f"*.quantum.{base}",
            f"api.global-search-tagging.{base}",
            "cloud.ibm.com",
            "*.cloud.ibm.com",
        ]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake IBM Cloud (tests)")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in dict.fromkeys(names)]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        self._certdir = tempfile.mkdtemp(prefix="fake-ibm-tls-")
        cert_path = Path(self._certdir, "cert.pem")
        key_path = Path(self._certdir, "key.pem")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_path), str(key_path))
        return context

    # ------------------------------------------------------------ routing
    def service_of(self, host: str) -> str:
        """``iam``, ``search``, ``catalog`` or ``quantum`` for a host; 502 for others."""
        host = host.lower()
        if host.startswith("iam.") and host.endswith("cloud.ibm.com"):
            return "iam"
        if host.startswith("api.global-search-tagging."):
            return "search"
        if host.startswith("globalcatalog."):
            return "catalog"
        labels = host.split(".")
        if "quantum" in labels[:2] and host.endswith("cloud.ibm.com"):
            return "quantum"
        raise _Reply(502, f"the fake IBM Cloud does not serve host {host!r}", "BadGateway")

    @staticmethod
    def operation_of(service: str, method: str, parts: list[str]) -> str:
        """The operation name of a request (``Unknown`` when not served)."""
        if service == "iam":
            return "IAMToken" if (method, parts) == ("POST", ["identity", "token"]) else "Unknown"
        if service == "search":
            return "SearchResources" if method == "POST" else "Unknown"
        if service == "catalog":
            return "GetCatalogEntry" if method == "GET" else "Unknown"
        if parts[:2] != ["api", "v1"]:
            return "Unknown"
        rest = parts[2:]
        table = {
            ("GET", 1, "backends"): "ListBackends",
            ("GET", 2, "instances"): "GetUsage",
            ("POST", 1, "jobs"): "CreateJob",
            ("GET", 2, "jobs"): "GetJob",
            ("POST", 1, "sessions"): "CreateSession",
            ("GET", 2, "sessions"): "GetSession",
            ("PATCH", 2, "sessions"): "CloseSession",
        }
        op = table.get((method, len(rest), rest[0] if rest else ""))
        if op is not None:
            return op
        if len(rest) == 3 and rest[0] == "backends" and method == "GET":
            return {
                "configuration": "GetBackendConfiguration",
                "properties": "GetBackendProperties",
                "status": "GetBackendStatus",
            }.get(rest[2], "Unknown")
        if len(rest) == 3 and rest[0] == "jobs":
            if (method, rest[2]) == ("GET", "results"):
                return "GetJobResults"
            if (method, rest[2]) == ("POST", "cancel"):
                return "CancelJob"
        if len(rest) == 3 and rest[0] == "sessions" and (method, rest[2]) == ("DELETE", "close"):
            return "CancelSession"
        return "Unknown"

    def serve(
        self,
        service: str,
        operation: str,
        parts: list[str],
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
    ) -> tuple[int, Any]:
        """Answer one request: ``(status, JSON document or str or None)``."""
        if operation == "Unknown":
            raise _Reply(404, f"the fake IBM Cloud does not serve {'/'.join(parts)!r}", "NotFound")
        if service == "iam":
            return 200, self._iam_token(body)
        self._check_bearer(headers)
        if service == "search":
            return 200, self._search(body)
        if service == "catalog":
            return 200, self._catalog(parts[-1])
        instance = self._check_instance(headers)
        rest = parts[2:]
        if operation == "ListBackends":
            devices = [
                {**d.summary(), "queue_length": self._queue_length(d)}
                for d in self.devices.values()
            ]
            return 200, {"devices": devices}
        if operation == "GetUsage":
            return 200, {
                "instance_id": instance,
                "plan_id": "fake-open-plan",
                "usage_consumed_seconds": 0,
                "usage_limit_seconds": 600,
                "usage_limit_reached": False,
            }
        if operation.startswith("GetBackend"):
            device = self._device(rest[1])
            if operation == "GetBackendConfiguration":
                return 200, json.loads(json.dumps(device.configuration))
            if operation == "GetBackendProperties":
                return 200, json.loads(json.dumps(device.properties or {}))
            return 200, {
                "state": device.online,
                "status": device.status_msg if device.online else "maintenance",
                "message": "available" if device.online else "device offline",
                "length_queue": self._queue_length(device),
                "backend_version": str(device.configuration.get("backend_version", "1.0.0")),
            }
        if operation == "CreateJob":
            return 200, self._create_job(instance, body)
        if operation == "CreateSession":
            return 200, self._create_session(instance, body)
        if operation.endswith("Session"):
            return self._session_call(operation, rest[1], body)
        job = self._find_job(rest[1])
        if operation == "GetJob":
            with_params = (query.get("exclude_params") or ["false"])[0] != "true"
            return 200, self._get_job(job, with_params=with_params)
        if operation == "GetJobResults":
            return self._results(job)
        return self._cancel(job)

    # ------------------------------------------------------------ IAM / search / catalog
    def _iam_token(self, body: bytes) -> dict[str, Any]:
        form = parse_qs(body.decode(), keep_blank_values=True)
        grant = (form.get("grant_type") or [""])[0]
        apikey = (form.get("apikey") or [""])[0]
        if grant != "urn:ibm:params:oauth:grant-type:apikey":
            raise _Reply(400, f"unsupported grant_type {grant!r}", "BXNIM0103E")
        if apikey != self.token:
            raise _Reply(400, "Provided API key could not be found.", "BXNIM0415E")
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "fake"}).encode())
        claims = {
            "iam_id": "IBMid-fake",
            "sub": "qdreamer-test@example.invalid",
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        token = f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(b'not-signed')}"
        with self._lock:
            self.access_tokens.add(token)
        return {
            "access_token": token,
            "refresh_token": "not_supported",
            "token_type": "Bearer",
            "expires_in": 3600,
            "expiration": now + 3600,
            "scope": "ibm openid",
        }

    def _check_bearer(self, headers: Any) -> None:
        auth = headers.get("Authorization", "")
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or token not in self.access_tokens:
            raise _Reply(401, "Invalid or expired bearer token", "Unauthorized")

    def _check_instance(self, headers: Any) -> str:
        crn = headers.get("Service-CRN", "")
        if crn not in {i.crn for i in self.instances}:
            raise _Reply(403, f"instance {crn!r} is not accessible with this API key", "Forbidden")
        return str(crn)

    def _search(self, body: bytes) -> dict[str, Any]:
        query = json.loads(body or b"{}").get("query", "")
        if "quantum-computing" not in query:
            return {"items": [], "limit": 100}
        return {
            "items": [
                {
                    "crn": inst.crn,
                    "name": inst.name,
                    "service_plan_unique_id": inst.plan_id,
                    "tags": list(inst.tags),
                    "doc": {"extensions": {"backends": sorted(self.devices)}},
                }
                for inst in self.instances
            ],
            "limit": 100,
        }

    def _catalog(self, plan_id: str) -> dict[str, Any]:
        for inst in self.instances:
            if inst.plan_id == plan_id:
                return {
                    "id": plan_id,
                    "overview_ui": {"en": {"display_name": inst.plan}},
                    "metadata": {"pricing": {"type": inst.pricing_type}},
                }
        raise _Reply(404, f"no catalog entry {plan_id!r}", "NotFound")

    # ------------------------------------------------------------ jobs
    def _device(self, name: str) -> FakeIBMDevice:
        try:
            return self.devices[name]
        except KeyError:
            raise _Reply(404, f"backend {name!r} not found", "1216") from None

    def _queue_length(self, device: FakeIBMDevice) -> int:
        with self._lock:
            drain = device.drain
            if drain is None:
                return device.queue_length
            return drain.queue(self.clock(), list(self._schedule(drain).values()))

    def _schedule(self, drain: Drain) -> dict[str, Slot | None]:
        """``{job id: slot}`` of the jobs created under ``drain``, in creation order."""
        jobs = [j for j in self.jobs.values() if j.drain is drain]
        slots = drain.slots((j.queued_at, j.cancelled_at) for j in jobs)
        return {j.id: slot for j, slot in zip(jobs, slots, strict=True)}

    def _sync(self, job: FakeIBMJob) -> None:
        """Set a job of a drained device's status from its slot at the clock's time."""
        drain = job.drain
        if drain is None or job.status in _FINAL:
            return
        slot = self._schedule(drain)[job.id]
        assert slot is not None  # a job cancelled before it started is Cancelled
        job.status = {"queued": "Queued", "running": "Running", "done": "Completed"}[
            slot.phase(self.clock())
        ]

    def _cancelled(self, job: FakeIBMJob, reason: str) -> None:
        job.status, job.reason = "Cancelled", reason
        job.cancelled_at = self.clock()  # out of the queue (or off the server)
        self.cancelled.append(job.id)

    def _find_job(self, job_id: str) -> FakeIBMJob:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise _Reply(404, f"Job not found: {job_id}", "1291")
        return job

    def _create_job(self, instance: str, body: bytes) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        program = request.get("program_id")
        if program != "executor":
            raise _Reply(400, f"the fake runs the 'executor' program only, not {program!r}")
        device = self._device(str(request.get("backend")))
        with self._lock:
            if device.jobs_until_offline is not None:
                device.online = device.jobs_until_offline > 0
                device.jobs_until_offline = max(0, device.jobs_until_offline - 1)
        if not device.online:
            # IBM's error code registry: 1004, "The Backend is not available."
            raise _Reply(400, f"The Backend is not available: {device.name}", "1004")
        params = request.get("params") or {}
        self._decode_params(params)  # validate now, as the service does (400 otherwise)
        session_id = request.get("session_id")
        if session_id is not None:
            self._check_session_accepts(str(session_id), device.name)
        job = FakeIBMJob(
            id="d" + uuid.uuid4().hex[:19],
            program_id=program,
            backend=device.name,
            instance=instance,
            params=params,
            created=_iso(),
            tags=list(request.get("tags") or []),
            session_id=request.get("session_id"),
        )
        with self._lock:
            if self.job_failures:
                job.fail_reason = self.job_failures.pop(0)
            job.drain, job.queued_at = device.drain, self.clock()
            self.jobs[job.id] = job
            if session_id is not None:
                self.sessions[str(session_id)].jobs.append(job.id)
        return {"id": job.id, "backend": job.backend, "session_id": job.session_id}

    # ------------------------------------------------------------ sessions
    def _create_session(self, instance: str, body: bytes) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        mode = str(request.get("mode") or "dedicated")
        device = self._device(str(request.get("backend")))
        if mode not in self.session_modes:
            raise _Reply(403, f"this instance's plan does not allow {mode!r} sessions", "Forbidden")
        max_ttl = request.get("max_ttl")
        session = FakeIBMSession(
            id="s" + uuid.uuid4().hex[:19],
            mode=mode,
            backend=device.name,
            instance=instance,
            max_ttl=int(max_ttl) if max_ttl is not None else None,
            created=_iso(),
        )
        with self._lock:
            self.sessions[session.id] = session
        return {"id": session.id}

    def _find_session(self, session_id: str) -> FakeIBMSession:
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise _Reply(404, f"Session not found: {session_id}", "NotFound")
        return session

    def _check_session_accepts(self, session_id: str, backend: str) -> None:
        session = self._find_session(session_id)
        with self._lock:
            if session.ended or not session.accepting_jobs:
                raise _Reply(
                    400, f"Session {session_id} is closed and accepts no jobs", "BadRequest"
                )
            if session.backend != backend:
                raise _Reply(400, f"Session {session_id} runs on {session.backend}", "BadRequest")

    def _session_call(self, operation: str, session_id: str, body: bytes) -> tuple[int, Any]:
        session = self._find_session(session_id)
        with self._lock:
            if operation == "GetSession":
                return 200, session.document(self.jobs)
            if operation == "CloseSession":
                if json.loads(body or b"{}").get("accepting_jobs") is False:
                    session.accepting_jobs = False
                return 204, None
            # CancelSession: its unfinished jobs are cancelled and it ends.
            for job_id in session.jobs:
                job = self.jobs[job_id]
                self._sync(job)
                if job.status not in _FINAL:
                    self._cancelled(job, "Session cancelled")
            session.accepting_jobs, session.ended = False, True
            return 204, None

    @staticmethod
    def _decode_params(params: dict[str, Any]) -> tuple[Any, Any]:
        """``(QuantumProgram, ExecutorOptions)`` with the runtime's own decoder."""
        from qiskit_ibm_runtime.quantum_program.params_converters import (
            QUANTUM_PROGRAM_PARAMS_CONVERTERS,
        )

        version = params.get("schema_version")
        converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS.get(str(version))
        if converter is None:
            raise _Reply(400, f"unsupported executor schema_version {version!r}")
        try:
            return converter.decoder(converter.model.model_validate(params))
        except Exception as exc:
            raise _Reply(400, f"invalid executor params: {exc}") from None

    def _get_job(self, job: FakeIBMJob, *, with_params: bool) -> dict[str, Any]:
        with self._lock:
            job.get_calls += 1
            if job.drain is not None:
                self._sync(job)
            elif job.status not in _FINAL and not self.hold_jobs:
                sequence = [*self.pending_statuses, "Completed"]
                job.steps += 1
                job.status = sequence[min(job.steps, len(sequence)) - 1]
            run = job.status == "Completed" and job.result_json is None
        if run:
            self._simulate(job)
        with self._lock:
            return job.document(with_params=with_params)

    def _simulate(self, job: FakeIBMJob) -> None:
        """Run the job's quantum program with the runtime's local runner; keep its result."""
        try:
            if job.fail_reason is not None:
                raise RuntimeError(job.fail_reason)
            result = self._run_program(job)
        except Exception as exc:
            with self._lock:
                job.status = "Failed"
                job.reason = job.fail_reason or f"{type(exc).__name__}: {exc}"
                job.result_json = ""
            return
        with self._lock:
            job.result_json = result

    def _run_program(self, job: FakeIBMJob) -> str:
        from ibm_quantum_schemas.common import CompressedTensorModel
        from ibm_quantum_schemas.executor.version_2_0 import (
            ItemMetadataModel,
            MetadataModel,
            QuantumProgramResultItemModel,
            QuantumProgramResultModel,
        )
        from ibm_quantum_schemas.executor.version_2_0.models import ChunkSpan
        from qiskit_aer import AerSimulator
        from qiskit_ibm_runtime.fake_provider.executor.run_quantum_program import (
            run_quantum_program,
        )
        from qiskit_ibm_runtime.options_models.simulator import SimulatorOptions
        from qiskit_ibm_runtime.quantum_program.converters.converters_2_0 import (
            passthrough_data_to_2_0,
        )

        program, _options = self._decode_params(job.params)
        device = self._device(job.backend)
        target = device.fake if self.noisy else AerSimulator()
        start = time.time()
        with self._sim_lock:
            result = run_quantum_program(
                target, program, SimulatorOptions(seed_simulator=self.seed)
            )
        stop = time.time()
        model = QuantumProgramResultModel(
            data=[
                QuantumProgramResultItemModel(
                    results={
                        name: CompressedTensorModel.from_numpy(value)
                        for name, value in item.items()
                    },
                    metadata=ItemMetadataModel(),
                )
                for item in result
            ],
            metadata=MetadataModel(
                chunk_timing=[
                    ChunkSpan(
                        start=dt.datetime.fromtimestamp(start, dt.UTC),
                        stop=dt.datetime.fromtimestamp(stop, dt.UTC),
                        parts=[],
                    )
                ]
            ),
            passthrough_data=passthrough_data_to_2_0(result.passthrough_data),
            semantic_role=getattr(program, "_semantic_role", None),
        )
        return model.model_dump_json()

    def _results(self, job: FakeIBMJob) -> tuple[int, Any]:
        with self._lock:  # a drained job the clock finished since its last GET
            self._sync(job)
            run = job.drain is not None and job.status == "Completed" and job.result_json is None
        if run:
            self._simulate(job)
        with self._lock:
            status, text = job.status, job.result_json
        if status == "Failed":  # the service serves a failed job's error text here
            return 200, f"Traceback (most recent call last):\nRuntimeError: {job.reason}"
        if status != "Completed" or not text:
            raise _Reply(409, f"results of job {job.id} are not available: job is {status}")
        return 200, text

    def _cancel(self, job: FakeIBMJob) -> tuple[int, Any]:
        with self._lock:
            self._sync(job)  # the clock may have finished it
            if job.status in _FINAL:
                raise _Reply(409, f"job {job.id} is {job.status} and cannot be cancelled", "1222")
            self._cancelled(job, "Cancelled by the user")
        return 204, None


# ------------------------------------------------------------------ handler
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeIBMCloud/1.0"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    #: Host served inside a CONNECT tunnel (``None``: not tunnelled).
    tunnel_host: str | None = None

    @property
    def fake(self) -> FakeIBMQuantumPlatform:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0]
        try:
            self.fake.service_of(host)
        except _Reply as reply:
            self._send(reply.status, {"error": reply.message}, close=True)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        assert self.fake._tls is not None
        try:
            tls = self.fake._tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        self.connection = tls
        self.rfile = tls.makefile("rb", self.rbufsize)  # type: ignore[assignment]
        self.wfile = tls.makefile("wb", self.wbufsize)  # type: ignore[assignment]
        self.tunnel_host = host
        self.close_connection = False

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        if split.scheme:  # absolute form: a plain-http request through the proxy
            host = split.hostname or ""
        else:
            host = self.tunnel_host or self.headers.get("Host", "").rsplit(":", 1)[0]
        body = self._read_body()
        parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        query = parse_qs(split.query, keep_blank_values=True)
        operation = "Unknown"
        try:
            service = fake.service_of(host)
            operation = fake.operation_of(service, self.command, parts)
            delay = fake._take_delay(operation)
            if delay:
                time.sleep(delay)
            fault = fake._take_fault(operation)
            if fault == RESET:
                raise _Drop
            if fault is not None:
                raise _Reply(int(fault), _REASONS.get(int(fault), "injected fault"), "injected")
            status, payload = fake.serve(service, operation, parts, query, self.headers, body)
        except _Drop:
            fake._log(host, operation, 0)
            self._drop()
            return
        except _Reply as reply:
            status = reply.status
            payload = {
                "errors": [{"code": reply.code, "message": reply.message}],
                "error": {"code": reply.code, "message": reply.message},
                "errorCode": reply.code,
                "errorMessage": reply.message,
                "trace": uuid.uuid4().hex,
            }
        except Exception as exc:  # a bug in the fake: answer 500, as a service would
            status = 500
            payload = {"error": {"code": "500", "message": f"fake error: {exc!r}"}}
        fake._log(host, operation, status)
        with contextlib.suppress(OSError):
            self._send(status, payload)

    def _drop(self) -> None:
        """Close the connection with a TCP reset, without answering."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            raw = self.connection
            if isinstance(raw, ssl.SSLSocket):
                raw = socket.socket(fileno=raw.detach())
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        self.wfile = _Sink()  # type: ignore[assignment]  # finish() flushes it

    def _send(self, status: int, payload: Any, *, close: bool = False) -> None:
        if payload is None:
            data = b""
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Date", self.date_time_string())
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if data:
            self.wfile.write(data)
        self.wfile.flush()


class _Sink:
    """A write end that discards (the connection was dropped)."""

    closed = False

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


_REASONS = {
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

"""A local Azure Quantum workspace for testing the real ``azure-quantum`` client.

``FakeAzureQuantum`` runs one HTTPS server on 127.0.0.1 (an OS-chosen port)
in a daemon thread.  The real SDK reaches every part of it through
configuration alone; nothing of the client or of ours is patched:

* **Credentials**: azure-identity's ``DefaultAzureCredential`` (what the
  executor uses) finds an App Service managed identity from the standard
  ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` variables and asks
  ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<scope>`` with
  the header ``X-IDENTITY-HEADER`` (MSAL's managed-identity client).  The fake
  answers with an opaque bearer token bound to that scope (400 for a wrong
  header, as App Service does).
* **Azure Resource Manager**: ``Workspace(resource_id=..., arm_endpoint=...)``
  (the executor's ``quantum.url``) reads the workspace resource,
  ``GET /subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Quantum/workspaces/<w>``,
  for its ``location`` and ``properties.endpointUri``; the fake names itself
  as the data-plane endpoint.  Tokens must carry the ARM scope.
* **The workspace data plane** (``api-version`` 2026-01-15-preview, tokens of
  the ``https://quantum.microsoft.com`` scope), under the same path prefix:
  ``GET .../providerStatus`` (providers, their targets' ``currentAvailability``,
  ``averageQueueTime`` in seconds, ``numQubits``, ``targetProfile``),
  ``POST .../storage/sasUri`` (a SAS URL for a container or blob),
  ``PUT .../jobs/<id>`` (create), ``GET .../jobs/<id>``, ``GET .../jobs``
  (list), ``POST .../jobs/<id>:cancel``, ``GET .../quotas``.
* **Blob storage**: IP-style URLs (``https://127.0.0.1:<port>/<account>/<container>/<blob>?<sas>``,
  as the Azurite emulator uses), which azure-storage-blob parses as such:
  container create/properties, blob upload, download and properties.

Bearer tokens need TLS (azure-core refuses them over plain HTTP), so the
server speaks HTTPS with a certificate for 127.0.0.1 made on first use with
``cryptography``; :meth:`FakeAzureQuantum.env` gives ``REQUESTS_CA_BUNDLE``, a
bundle of the system's CAs plus that certificate, which ``requests`` (under
every azure-core transport) honours.

Jobs
----
``PUT jobs/<id>`` stores the job as ``Waiting``.  ``GET jobs/<id>`` reports
:attr:`FakeAzureQuantum.pending_statuses` (``Waiting``, then ``Executing``),
one per call, then ``Succeeded``: the job's input blob (QIR, which the
SDK's Qiskit backends submit) is then run by Microsoft's own QIR simulator
(``qdk.simulation.run_qir``) and its shots are written as a
``microsoft.quantum-results.v2`` document to the job's output blob.  While
:attr:`hold_jobs` is set jobs stay ``Waiting``; :meth:`fail_next_job` lets
the next job end ``Failed`` with ``errorData``.  ``POST jobs/<id>:cancel``
makes a job ``Cancelled`` (409 when it is already final) and records its id
in :attr:`cancelled`.  A target made ``Unavailable`` (:meth:`set_target`)
refuses new jobs with 400 ``InvalidJobDefinition``.

Faults
------
:meth:`fail_next` answers the next call(s) of an operation (:data:`OPERATIONS`)
with an HTTP error (401, 404, 429 with ``Retry-After``, 5xx).  Every request is
logged in :attr:`requests` as ``(operation, status)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

__all__ = ["OPERATIONS", "FakeAzureJob", "FakeAzureQuantum", "FakeTarget"]

OPERATIONS = (
    "ManagedIdentityToken",
    "GetWorkspace",
    "ProviderStatus",
    "GetSasUri",
    "CreateJob",
    "GetJob",
    "ListJobs",
    "CancelJob",
    "GetQuotas",
    "CreateContainer",
    "GetContainer",
    "PutBlob",
    "GetBlob",
    "GetBlobProperties",
)
ARM_SCOPE = "https://management.azure.com"
DATA_SCOPE = "https://quantum.microsoft.com"
FINAL = frozenset({"Succeeded", "Failed", "Cancelled"})
WORKSPACE_PATH = "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Quantum/workspaces/{w}"


def _iso(when: float | None = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class FakeTarget:
    """One target of a provider, as ``providerStatus`` reports it."""

    id: str
    provider: str
    num_qubits: int
    availability: str = "Available"  # "Available" | "Degraded" | "Unavailable"
    average_queue_time: int = 0  # seconds
    target_profile: str = "Base"

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "currentAvailability": self.availability,
            "averageQueueTime": self.average_queue_time,
            "statusPage": f"https://status.example/{self.provider}",
            "numQubits": self.num_qubits,
            "targetProfile": self.target_profile,
        }


#: Targets of the default workspace (ids as Azure Quantum names them).
DEFAULT_TARGETS = (
    FakeTarget("ionq.simulator", "ionq", 29, average_queue_time=3),
    FakeTarget("ionq.qpu.aria-1", "ionq", 25, average_queue_time=5400),
    FakeTarget("quantinuum.sim.h2-1e", "quantinuum", 56, average_queue_time=60),
    FakeTarget("quantinuum.qpu.h2-1", "quantinuum", 56, average_queue_time=86400),
    FakeTarget("rigetti.sim.qvm", "rigetti", 20, average_queue_time=1),
    FakeTarget("rigetti.qpu.ankaa-3", "rigetti", 84, average_queue_time=1800),
)


@dataclass
class FakeAzureJob:
    """A job as ``PUT jobs/<id>`` created it, and its state."""

    id: str
    body: dict[str, Any]
    status: str = "Waiting"
    steps: int = 0
    get_calls: int = 0
    fail_reason: str | None = None
    error: dict[str, str] | None = None
    created: str = field(default_factory=_iso)
    end: str | None = None
    cancellation: str | None = None

    @property
    def target(self) -> str:
        return str(self.body.get("target"))

    def document(self) -> dict[str, Any]:
        doc = dict(self.body)
        doc.update(
            {
                "id": self.id,
                "itemType": "Job",
                "jobType": "QuantumComputing",
                "status": self.status,
                "creationTime": self.created,
                "beginExecutionTime": self.created if self.status != "Waiting" else None,
                "endExecutionTime": self.end,
                "cancellationTime": self.cancellation,
                "errorData": self.error,
            }
        )
        return {k: v for k, v in doc.items() if v is not None}


@dataclass
class _Fault:
    operation: str
    status: int
    times: int
    retry_after: str | None


class _Reply(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class FakeAzureQuantum(LoopbackServer):
    """An Azure Quantum workspace, its ARM resource, storage and managed identity."""

    SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
    RESOURCE_GROUP = "qdreamer-rg"
    WORKSPACE = "qdreamer-ws"
    LOCATION = "eastus"
    ACCOUNT = "qdreamerstore"
    #: The App Service managed identity's secret header (a credential: never logged).
    DEFAULT_IDENTITY_HEADER = "planted-identity-header-5c2e9a7b1d3f4e6a8b0c"

    def __init__(
        self,
        *,
        identity_header: str = DEFAULT_IDENTITY_HEADER,
        targets: tuple[FakeTarget, ...] = DEFAULT_TARGETS,
        pending_statuses: tuple[str, ...] = ("Waiting", "Executing"),
        seed: int | None = 1234,
    ) -> None:
        self.identity_header = identity_header
        self._default_targets = targets
        self.pending_statuses = tuple(pending_statuses)
        self.seed = seed
        self.targets: dict[str, FakeTarget] = {}
        self.jobs: dict[str, FakeAzureJob] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.containers: set[str] = set()
        self.cancelled: list[str] = []
        self.requests: list[tuple[str, int]] = []
        self.request_times: list[tuple[str, int, float]] = []
        self.hold_jobs = False
        self.job_failures: list[str] = []
        self.tokens: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._sim_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._certdir: str | None = None
        self.reset()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeAzureQuantum:
        if self._server is not None:
            return self
        context = self._tls_context()
        self._serve(
            _Handler,
            "fake-azure-quantum",
            lambda sock: context.wrap_socket(sock, server_side=True),
        )
        return self

    @property
    def url(self) -> str:
        """The server's base URL: ARM endpoint, data-plane endpoint and blob host at once."""
        return f"https://127.0.0.1:{self.port}/"

    @property
    def resource_id(self) -> str:
        return WORKSPACE_PATH.format(s=self.SUBSCRIPTION, rg=self.RESOURCE_GROUP, w=self.WORKSPACE)

    @property
    def ca_bundle(self) -> str:
        assert self._certdir is not None
        return str(Path(self._certdir, "bundle.pem"))

    @property
    def env(self) -> dict[str, str]:
        """The standard variables that point the SDK's credential chain and TLS at the fake."""
        return {
            "IDENTITY_ENDPOINT": f"{self.url}msi/token",
            "IDENTITY_HEADER": self.identity_header,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
        }

    def export_env(self, environ: Any = None) -> dict[str, str | None]:
        """Set :attr:`env` in ``environ`` (``os.environ``); return the old values."""
        environ = os.environ if environ is None else environ
        previous = {name: environ.get(name) for name in self.env}
        environ.update(self.env)
        return previous

    def quantum_config(self, **extra: Any) -> dict[str, Any]:
        """A pilot description's ``quantum`` dict (``azure_quantum``) that reaches this fake."""
        return {
            "executor": "azure_quantum",
            "resource_id": self.resource_id,
            "location": self.LOCATION,
            "url": self.url,
            **extra,
        }

    def reset(self) -> None:
        """Forget jobs, blobs, cancellations, faults and the request log; restore targets."""
        with self._lock:
            self.targets = {t.id: FakeTarget(**vars(t)) for t in self._default_targets}
            self.jobs.clear()
            self.blobs.clear()
            self.containers.clear()
            self.cancelled.clear()
            self.requests.clear()
            self.request_times.clear()
            self.hold_jobs = False
            self.job_failures.clear()
            self._faults.clear()

    # ------------------------------------------------------------ test helpers
    def set_target(self, target: str, **changes: Any) -> None:
        """Change a target's ``availability`` or ``average_queue_time``."""
        with self._lock:
            for key, value in changes.items():
                setattr(self.targets[target], key, value)

    def fail_next(
        self, operation: str, status: int = 503, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with ``status`` (and a
        ``Retry-After`` header when given, as Azure sends with 429)."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {OPERATIONS}")
        with self._lock:
            self._faults.append(_Fault(operation, int(status), int(times), retry_after))

    def fail_next_job(self, reason: str = "Job failed (injected)") -> None:
        with self._lock:
            self.job_failures.append(reason)

    def calls(self, operation: str) -> int:
        with self._lock:
            return sum(1 for op, _ in self.requests if op == operation)

    def statuses(self, operation: str) -> Counter[int]:
        with self._lock:
            return Counter(status for op, status in self.requests if op == operation)

    # ------------------------------------------------------------ serving
    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _log(self, operation: str, status: int) -> None:
        with self._lock:
            self.requests.append((operation, status))
            self.request_times.append((operation, status, time.monotonic()))

    def route(self, method: str, parts: list[str]) -> str:
        """The operation a request is (``_Reply`` 404 when it is none)."""
        if parts[:2] == ["msi", "token"]:
            return "ManagedIdentityToken"
        if parts and parts[0] == "subscriptions":
            prefix = WORKSPACE_PATH.format(
                s=self.SUBSCRIPTION, rg=self.RESOURCE_GROUP, w=self.WORKSPACE
            ).strip("/")
            path = "/".join(parts)
            if not path.lower().startswith(prefix.lower()):
                raise _Reply(404, "ResourceNotFound", f"no workspace at /{path}")
            rest = parts[len(prefix.split("/")) :]
            if not rest and method == "GET":
                return "GetWorkspace"
            if rest == ["providerStatus"] and method == "GET":
                return "ProviderStatus"
            if rest == ["storage", "sasUri"] and method == "POST":
                return "GetSasUri"
            if rest == ["quotas"] and method == "GET":
                return "GetQuotas"
            if rest == ["jobs"] and method == "GET":
                return "ListJobs"
            if len(rest) == 2 and rest[0] == "jobs":
                if rest[1].endswith(":cancel") and method == "POST":
                    return "CancelJob"
                if method == "PUT":
                    return "CreateJob"
                if method == "GET":
                    return "GetJob"
            raise _Reply(404, "NotFound", f"{method} /{path} is not an operation")
        if parts and parts[0] == self.ACCOUNT:
            if len(parts) == 2:
                return "CreateContainer" if method == "PUT" else "GetContainer"
            if len(parts) >= 3:
                return {"PUT": "PutBlob", "HEAD": "GetBlobProperties"}.get(method, "GetBlob")
        raise _Reply(404, "NotFound", f"{method} /{'/'.join(parts)}")

    def _check_bearer(self, headers: Any, scope: str) -> None:
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if not auth.startswith("Bearer ") or token not in self.tokens:
            raise _Reply(
                401, "InvalidAuthenticationToken", "the access token is missing or invalid"
            )
        if not self.tokens[token].startswith(scope):
            raise _Reply(401, "InvalidAuthenticationTokenAudience", "wrong audience")

    def _check_sas(self, query: dict[str, list[str]]) -> None:
        if query.get("sig") != ["fake-signature"]:
            raise _Reply(403, "AuthenticationFailed", "Server failed to authenticate the request")

    def serve(
        self, operation: str, method: str, parts: list[str], query: Any, headers: Any, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if operation == "ManagedIdentityToken":
            return self._token(query, headers)
        if operation == "GetWorkspace":
            self._check_bearer(headers, ARM_SCOPE)
            return 200, self._workspace(), {}
        if operation in (
            "CreateContainer",
            "GetContainer",
            "PutBlob",
            "GetBlob",
            "GetBlobProperties",
        ):
            self._check_sas(query)
            return self._blob(operation, parts, headers, body)
        self._check_bearer(headers, DATA_SCOPE)
        if operation == "ProviderStatus":
            return 200, self._provider_status(), {}
        if operation == "GetSasUri":
            request = json.loads(body or b"{}")
            return 200, {"sasUri": self._sas(request["containerName"], request.get("blobName"))}, {}
        if operation == "GetQuotas":
            return 200, {"value": []}, {}
        if operation == "ListJobs":
            with self._lock:
                docs = [j.document() for j in self.jobs.values()]
            return 200, {"value": docs, "nextLink": None}, {}
        job_id = parts[-1].removesuffix(":cancel")
        if operation == "CreateJob":
            return 201, self._create_job(job_id, body), {}
        job = self._find_job(job_id)
        if operation == "CancelJob":
            return 200, self._cancel(job), {}
        return 200, self._get_job(job), {}

    # ------------------------------------------------------------ identity, ARM
    def _token(self, query: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        if headers.get("X-IDENTITY-HEADER") != self.identity_header:
            raise _Reply(400, "invalid_request", "The X-IDENTITY-HEADER is missing or wrong")
        resource = (query.get("resource") or [""])[0]
        token = "fake-access-" + uuid.uuid4().hex
        with self._lock:
            self.tokens[token] = resource
        return (
            200,
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
            },
            {},
        )

    def _workspace(self) -> dict[str, Any]:
        return {
            "id": self.resource_id,
            "name": self.WORKSPACE,
            "type": "microsoft.quantum/workspaces",
            "location": self.LOCATION,
            "properties": {
                "provisioningState": "Succeeded",
                "endpointUri": self.url,
                "storageAccount": f"/subscriptions/{self.SUBSCRIPTION}/resourceGroups/"
                f"{self.RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/{self.ACCOUNT}",
                "providers": [{"providerId": p} for p in sorted(self._providers())],
            },
        }

    def _providers(self) -> dict[str, list[FakeTarget]]:
        out: dict[str, list[FakeTarget]] = {}
        with self._lock:
            for target in self.targets.values():
                out.setdefault(target.provider, []).append(target)
        return out

    def _provider_status(self) -> dict[str, Any]:
        value = []
        for provider, targets in self._providers().items():
            states = {t.availability for t in targets}
            overall = "Available" if "Available" in states else "Degraded"
            value.append(
                {
                    "id": provider,
                    "currentAvailability": overall,
                    "targets": [t.document() for t in targets],
                }
            )
        return {"value": value, "nextLink": None}

    # ------------------------------------------------------------ storage
    def _sas(self, container: str, blob: str | None = None) -> str:
        expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            self.containers.add(container)  # the service creates it
        path = f"{self.url}{self.ACCOUNT}/{container}" + (f"/{blob}" if blob else "")
        return (
            f"{path}?sv=2023-11-03&sr={'b' if blob else 'c'}&sp=racw&se={expiry}&sig=fake-signature"
        )

    def _blob(
        self, operation: str, parts: list[str], headers: Any, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        container = parts[1]
        name = "/".join(parts[2:])
        now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        common = {"ETag": f'"0x{uuid.uuid4().hex[:16].upper()}"', "Last-Modified": now}
        if operation == "CreateContainer":
            with self._lock:
                if container in self.containers:
                    raise _Reply(
                        409, "ContainerAlreadyExists", "The specified container already exists."
                    )
                self.containers.add(container)
            return 201, None, common
        if operation == "GetContainer":
            if container not in self.containers:
                raise _Reply(404, "ContainerNotFound", "The specified container does not exist.")
            return 200, None, common
        if operation == "PutBlob":
            with self._lock:
                self.blobs[(container, name)] = body
            return 201, None, {**common, "Content-MD5": "", "x-ms-request-server-encrypted": "true"}
        with self._lock:
            data = self.blobs.get((container, name))
        if data is None:
            raise _Reply(404, "BlobNotFound", "The specified blob does not exist.")
        headers_out = {
            **common,
            "x-ms-blob-type": "BlockBlob",
            "Content-Type": "application/octet-stream",
            "x-ms-creation-time": now,
            "Accept-Ranges": "bytes",
        }
        if operation == "GetBlobProperties":
            return 200, ("HEAD", len(data)), headers_out
        wanted = headers.get("x-ms-range") or headers.get("Range")
        if wanted:
            start, _, stop = wanted.removeprefix("bytes=").partition("-")
            first = int(start)
            last = min(int(stop) if stop else len(data) - 1, len(data) - 1)
            chunk = data[first : last + 1]
            headers_out["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return 206, chunk, headers_out
        return 200, data, headers_out

    # ------------------------------------------------------------ jobs
    def _find_job(self, job_id: str) -> FakeAzureJob:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise _Reply(404, "JobNotFound", f"Job {job_id} does not exist")
        return job

    def _create_job(self, job_id: str, body: bytes) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        target = self.targets.get(str(request.get("target")))
        if target is None:
            raise _Reply(
                400, "InvalidJobDefinition", f"target {request.get('target')!r} is unknown"
            )
        if target.availability == "Unavailable":
            raise _Reply(
                400, "InvalidJobDefinition", f"target {target.id} is unavailable; try again later"
            )
        for key in ("containerUri", "inputDataFormat", "providerId"):
            if not request.get(key):
                raise _Reply(400, "InvalidJobDefinition", f"{key} is required")
        job = FakeAzureJob(id=job_id, body=request)
        with self._lock:
            if job_id in self.jobs:
                raise _Reply(409, "JobAlreadyExists", f"Job {job_id} already exists")
            if self.job_failures:
                job.fail_reason = self.job_failures.pop(0)
            self.jobs[job_id] = job
        return job.document()

    def _get_job(self, job: FakeAzureJob) -> dict[str, Any]:
        with self._lock:
            job.get_calls += 1
            if job.status not in FINAL and not self.hold_jobs:
                sequence = [*self.pending_statuses, "Succeeded"]
                job.steps += 1
                job.status = sequence[min(job.steps, len(sequence)) - 1]
                finish = job.status == "Succeeded"
            else:
                finish = False
        if finish:
            self._finish(job)
        with self._lock:
            return job.document()

    def _cancel(self, job: FakeAzureJob) -> dict[str, Any]:
        with self._lock:
            if job.status in FINAL:
                raise _Reply(409, "InvalidJobState", f"Job {job.id} is {job.status}")
            job.status = "Cancelled"
            job.cancellation = _iso()
            self.cancelled.append(job.id)
            return job.document()

    def _finish(self, job: FakeAzureJob) -> None:
        """Run the job's QIR and write its results blob (or fail it)."""
        try:
            if job.fail_reason is not None:
                raise RuntimeError(job.fail_reason)
            document = self._run(job)
        except Exception as exc:
            with self._lock:
                job.status = "Failed"
                job.error = {"code": "ExecutionFailed", "message": str(exc)}
                job.end = _iso()
            return
        container = _container_of(job.body["containerUri"])
        with self._lock:
            self.blobs[(container, "rawOutputData")] = json.dumps(document).encode()
            job.body["outputDataUri"] = self._sas(container, "rawOutputData")
            job.end = _iso()

    def _run(self, job: FakeAzureJob) -> dict[str, Any]:
        from qdk.simulation import run_qir

        container = _container_of(job.body["containerUri"])
        blob = urlsplit(job.body["inputDataUri"]).path.rstrip("/").rsplit("/", 1)[-1]
        qir = self.blobs[(container, blob)].decode()
        params = job.body.get("inputParams") or {}
        shots = int(params.get("shots") or params.get("count") or 500)
        with self._sim_lock:
            seed = None if self.seed is None else self.seed + len(self.jobs)
            shots_out = run_qir(qir, shots=shots, seed=seed)
        encoded = [_encode(shot) for shot in shots_out]
        histogram: dict[str, tuple[Any, int]] = {}
        for shot in encoded:
            display = _display(shot)
            outcome, count = histogram.get(display, (shot, 0))
            histogram[display] = (outcome, count + 1)
        return {
            "DataFormat": "microsoft.quantum-results.v2",
            "Results": [
                {
                    "Histogram": [
                        {"Outcome": outcome, "Display": display, "Count": count}
                        for display, (outcome, count) in histogram.items()
                    ],
                    "Shots": encoded,
                }
            ],
        }

    # ------------------------------------------------------------ TLS
    def _tls_context(self) -> ssl.SSLContext:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake Azure Quantum (tests)")])
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
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        self._certdir = tempfile.mkdtemp(prefix="fake-azure-tls-")
        pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_path = Path(self._certdir, "cert.pem")
        key_path = Path(self._certdir, "key.pem")
        cert_path.write_bytes(pem)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        system = ""
        for candidate in (os.environ.get("REQUESTS_CA_BUNDLE"), _certifi_bundle()):
            if candidate and Path(candidate).is_file():
                system = Path(candidate).read_text()
                break
        Path(self._certdir, "bundle.pem").write_text(system + "\n" + pem.decode())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_path), str(key_path))
        return context


def _certifi_bundle() -> str | None:
    try:
        import certifi

        return str(certifi.where())
    except ImportError:
        return None


def _container_of(uri: str) -> str:
    return urlsplit(uri).path.strip("/").split("/")[1]


def _encode(value: Any) -> Any:
    """A QIR simulator result in the results document's JSON shape: Result -> 0/1,
    arrays -> lists, tuples -> {"Item1": ..., "Item2": ...}."""
    if isinstance(value, tuple):
        return {f"Item{i + 1}": _encode(v) for i, v in enumerate(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return 1 if str(value).endswith("One") else 0


def _display(value: Any) -> str:
    """How the service displays an outcome: ``[0, 1]``, ``([0, 1], [1])``."""
    if isinstance(value, dict):
        items = [_display(value[f"Item{i + 1}"]) for i in range(len(value))]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_display(v) for v in value) + "]"
    return str(value)


# ------------------------------------------------------------------ handler
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAzureQuantum/1.0"

    @property
    def fake(self) -> FakeAzureQuantum:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        query = parse_qs(split.query, keep_blank_values=True)
        operation = "Unknown"
        headers: dict[str, str] = {}
        try:
            operation = fake.route(self.command, parts)
            fault = fake._take_fault(operation)
            if fault is not None:
                if fault.retry_after is not None:
                    headers["Retry-After"] = fault.retry_after
                raise _Reply(fault.status, _CODES.get(fault.status, "Injected"), "injected fault")
            status, payload, headers = fake.serve(
                operation, self.command, parts, query, self.headers, body
            )
        except _Reply as reply:
            status = reply.status
            payload = {"error": {"code": reply.code, "message": reply.message}}
            if operation in ("CreateContainer", "GetContainer", "PutBlob", "GetBlob"):
                headers["x-ms-error-code"] = reply.code
        except Exception as exc:  # a bug in the fake: answer 500, as a service would
            status = 500
            payload = {"error": {"code": "InternalServerError", "message": f"fake: {exc!r}"}}
        fake._log(operation, status)
        with contextlib.suppress(OSError, ssl.SSLError):
            self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        head_only = isinstance(payload, tuple) and payload[0] == "HEAD"
        if head_only:
            data, length = b"", payload[1]
        elif payload is None:
            data, length = b"", 0
        elif isinstance(payload, bytes):
            data, length = payload, len(payload)
        else:
            data = json.dumps(payload).encode()
            length = len(data)
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        self.send_response(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-version", "2025-01-05")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()


_CODES = {
    401: "InvalidAuthenticationToken",
    404: "NotFound",
    408: "RequestTimeout",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

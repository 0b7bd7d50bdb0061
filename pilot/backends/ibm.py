"""``ibm_runtime``: IBM Quantum Runtime through the client-side ``Sampler``.

With a token (``quantum.ibmqx_token``, ``IBM_QUANTUM_TOKEN``, the seed's
``IBMQX_TOKEN``, the SDK's ``QISKIT_IBM_TOKEN``) or an account saved with
``QiskitRuntimeService.save_account``, it uses the real service.  With
``quantum.local: true`` it uses the runtime's local testing mode: ``Sampler``
given a fake backend as its mode runs the same client code locally in Aer.
Without either it refuses, and never falls back silently.

Reaching the service
--------------------
``QiskitRuntimeService(channel, token, instance, url=quantum.url,
proxies={"urls": {"http": quantum.proxy, "https": quantum.proxy}},
verify=quantum.verify)``.  The SDK derives every endpoint from ``url``
(``iam.<host>``, ``api.global-search-tagging.<host>``,
``[<region>.]quantum.<host>/api/v1``) and its request signer always exchanges
the key at ``https://iam.cloud.ibm.com`` (the SDK's ``IAM_URL`` environment
variable overrides that), so a different deployment is reached through
``url`` and, where the network needs one, ``proxy``.  ``verify = false``
reaches IAM and Global Search, but the SDK sets it on a ``requests``
session, where ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` win over it: behind
a TLS-intercepting proxy, point those at the proxy's CA instead.  The tests
reach a fake platform on loopback through ``proxy`` (``tests/fakes/ibm_service.py``).

Remote jobs
-----------
Each run is one job, created and awaited through the task's job context
(:mod:`pilot.backends.jobs`)::

    ctx.submit(create=sampler.run(pubs), attach=service.job(id))
        │   the job id reaches the driver as soon as the job exists; a resumed
        │   task re-attaches to the id its journal recorded instead of paying twice
        ▼
    poll job.status() every poll_interval_seconds (retried when transient)
        ├── ctx cancelled (pcs.cancel_task)   the context called job.cancel()
        │                                     -> TaskCancelledError
        ├── ctx.remaining() reached 0          ctx.cancel("timed out") -> job.cancel()
        │                                     -> TaskTimeoutError (task id, job id)
        ├── CANCELLED at the provider          -> TaskCancelledError
        └── DONE / ERROR                       job.result() (retried when transient;
                                              a failed job raises the SDK's error)

Execution modes
---------------
``quantum.mode`` chooses how a pilot's jobs are grouped at IBM Quantum (IBM's
*execution modes*, https://quantum.cloud.ibm.com/docs/guides/execution-modes)::

    "job"      each job on its own: Sampler(mode=device).  The default.
    "session"  one Runtime Session per device the pilot holds, opened by its
               first job and used by every later one: the consecutive jobs of
               an optimiser loop keep the QPU between iterations.
    "batch"    one Runtime Batch per device, likewise: independent jobs (a
               sweep) whose classical pre-processing the service runs in
               parallel and whose quantum execution it packs together.

    first job ──> Session/Batch(backend=device, max_time=quantum.session_max_time)
        │            (opened under a lock: one per device, whatever the threads)
        ├── every job: Sampler(mode=session_or_batch).run(...)
        ├── a job refused because the service ended it (max_time reached,
        │   closed elsewhere: its details say closed) -> a new one, the job again
        ▼
    close() (the pilot is cancelled) ──> session.close(): it accepts no more
        jobs; jobs already queued still run to completion

A mode lives as long as its pilot (more exactly its actor: each of
``quantum.actors`` holds its own).  A batch per pilot rather than per sweep:
IBM's guidance is to submit a batch's jobs at once and then close it, but a
backend here never sees a sweep whole (the service sends it to the actor in
chunks, run on several threads and actors), so a batch closed after one call
would split the sweep; and a batch costs nothing while idle (IBM bills a
batch the QPU time of its jobs, a session the wall time while active: the
SDK's ``Session.usage``).  ``quantum.session_max_time`` bounds either.

Each result's ``metadata`` records ``execution_mode`` and, in a session or
batch, ``session_id`` or ``batch_id`` (IBM's id, which jobs carry as their
``session_id``).  In local testing mode the SDK accepts a Session or Batch but
gives it no id and runs every job locally as in job mode, so QDREAMER names it
``local-session-<hex>`` / ``local-batch-<hex>``: results still show which jobs
shared one.  Sessions need a paid plan; the service's refusal to open one is a
``ConfigError`` naming ``quantum.mode``.

Provider calls that are safe to repeat (status, results, backend metadata,
signing in) go through :func:`pilot.backends.jobs.retrying`; job creation
through ``ctx.submit``, which retries it.  The SDK's errors for HTTP
408/429/5xx and dropped connections are raised as :class:`IBMTransientError`
(a ``ConnectionError``, so they are retried, and a
:class:`~pilot.errors.BackendUnavailableError`, so QDREAMER fails over once
retries are spent); the SDK's own HTTP session also retries 5xx answers and
broken connections by itself (urllib3, backoff 0.5 s).  The token (and a proxy's credentials) never
appear in errors or logs: :func:`scrub`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from dreamer.resource import ResourceCapabilities, ResourceStatus
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.errors import UNAVAILABLE_STATUS, is_transient
from pilot.backends.fake_devices import fake_devices, normalise_fake_name
from pilot.backends.jobs import RetryPolicy, current_job, retrying, submit
from pilot.backends.qiskit import QiskitDevices, capabilities_from_target
from pilot.convert.qiskit import (
    bits_from_qiskit_key,
    measured_circuit,
    register_sizes,
    spaced_counts,
)
from pilot.errors import (
    BackendUnavailableError,
    ConfigError,
    CredentialsError,
    PilotStartError,
    TaskCancelledError,
    TaskTimeoutError,
)
from pilot.redaction import IBM_TOKEN_ENV, remember

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

#: ibm_cloud_sdk_core's client logger.  When it is enabled for DEBUG as a client is
#: built, the SDK switches on http.client's wire dump for the whole process (every
#: request header, the bearer token among them, for every HTTP client: botocore's
#: too) and replaces ``http.client.print`` with a shim that raises on some responses.
SDK_HTTP_LOGGER = "ibm-cloud-sdk-core"


def keep_wire_dump_off() -> None:
    """Keep ibm_cloud_sdk_core from turning on http.client's wire dump (see
    :data:`SDK_HTTP_LOGGER`), and undo it if it already did."""
    from http import client

    sdk = logging.getLogger(SDK_HTTP_LOGGER)
    if sdk.getEffectiveLevel() < logging.INFO:
        sdk.setLevel(logging.INFO)
    shim = client.__dict__.get("print")
    if shim is not None and getattr(shim, "__module__", "") == "ibm_cloud_sdk_core.base_service":
        delattr(client, "print")
        client.HTTPConnection.debuglevel = 0


T = TypeVar("T")

#: Environment variables searched for a token, in order.
TOKEN_ENV = IBM_TOKEN_ENV

#: How the SDK words failures that mean "not now" when it has dropped the HTTP
#: status (``RequestsApiError(..., -1)``, ``IBMRuntimeError("Failed to run program: ...")``).
TRANSIENT_TEXT = (
    "Connection aborted",
    "Connection reset",
    "RemoteDisconnected",
    "Max retries exceeded",
    "Read timed out",
    "timed out",
    "maintenance mode",
    "Too Many Requests",
    "Service Unavailable",
    "Bad Gateway",
    "Gateway Timeout",
    "Internal Server Error",
    "ProxyError",
)
#: ... unless the text says the failure is for good.
PERMANENT_TEXT = ("CERTIFICATE_VERIFY_FAILED", "SSLCertVerificationError", "WRONG_VERSION_NUMBER")
#: SDK errors that are never retried, whatever their text (a failed job's reason may say
#: "Internal Server Error": repeating ``job.result()`` would not change it).
PERMANENT_TYPES = frozenset(
    {
        "RuntimeJobFailureError",
        "RuntimeJobMaxTimeoutError",
        "RuntimeInvalidStateError",
        "IBMNotAuthorizedError",
        "IBMInputValueError",
        "InvalidAccountError",
    }
)


#: Retries of closing a session or batch when the pilot shuts down (it must not wait long).
CLOSE_RETRY = RetryPolicy(max_attempts=3, backoff_seconds=0.5, total_seconds=10.0)


@dataclass(frozen=True)
class ExecutionMode:
    """An open Runtime Session or Batch of one device (see "Execution modes" above)."""

    kind: str  # "session" | "batch"
    resource: str
    handle: Any  # qiskit_ibm_runtime.Session or Batch
    #: IBM's session id, or ``local-<kind>-<hex>`` in local testing mode.
    id: str


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with each of ``secrets`` replaced (SDK errors sometimes echo request data)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class IBMTransientError(BackendUnavailableError, ConnectionError):
    """An IBM Cloud call failed in a way worth repeating: HTTP 408/429/5xx or a
    dropped connection.  Retried (it is a ``ConnectionError``); once retries are
    spent, the resource is unavailable (a ``BackendUnavailableError``: QDREAMER
    fails the task over).  ``status_code`` is the HTTP status when known."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


def is_ibm_transient(exc: BaseException) -> tuple[bool, int | None]:
    """Is ``exc`` (or an error it was raised from) an IBM Cloud "not now"? And its status.

    True for what :func:`~pilot.backends.errors.is_transient` says, an SDK or
    IAM error carrying HTTP status 408/429/5xx, and the SDK's wrapped network
    failures (:data:`TRANSIENT_TEXT`).  False for authentication, certificate
    and validation errors.
    """
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (TaskCancelledError, TaskTimeoutError)):
            return False, None
        if type(err).__name__ in PERMANENT_TYPES and err is exc:
            return False, None
        status = getattr(err, "status_code", None)
        status = status if isinstance(status, int) and status > 0 else None
        if is_transient(err) or status in UNAVAILABLE_STATUS:
            return True, status
        text = str(err)
        if any(t in text for t in TRANSIENT_TEXT) and not any(p in text for p in PERMANENT_TEXT):
            return True, status
        err = err.__cause__
    return False, None


#: IBM Quantum's error codes that say the device cannot take the job now, so another
#: may (https://quantum.cloud.ibm.com/docs/errors): 1004 "The Backend is not available."
IBM_UNAVAILABLE_CODES = frozenset({"1004"})


def ibm_unavailable(exc: BaseException) -> bool:
    """Does the SDK's error carry one of :data:`IBM_UNAVAILABLE_CODES` ("Error code: N")?"""
    match = re.search(r"Error code: (\d+)", str(exc))
    return match is not None and match.group(1) in IBM_UNAVAILABLE_CODES


class IBMRuntimeBackend(QiskitDevices, QuantumBackend):
    framework = "qiskit"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        remember(config.token)  # unpickled here, so not seen by QuantumConfig's validator
        keep_wire_dump_off()
        self._service: Any = None
        self._token: str | None = None
        self._devices: dict[str, Any] = {}
        self._pms: dict[Any, Any] = {}
        #: Open sessions or batches by device (``quantum.mode`` "session"/"batch").
        self._modes: dict[str, ExecutionMode] = {}
        self._modes_lock = threading.Lock()
        self._closed = False
        if config.local:
            self._init_local(config)
        else:
            self._init_service(config)
        self._caps = [self._capabilities(name, b) for name, b in self._devices.items()]

    # ------------------------------------------------------------ connecting
    def _init_local(self, config: QuantumConfig) -> None:
        available = fake_devices()
        names = config.backends or (config.backend or config.local_backend or "fake_manila",)
        for raw in names:
            name = normalise_fake_name(raw)
            if name not in available:
                raise ConfigError.unknown(
                    "fake backend for local mode", "quantum.backend", str(raw), available
                )
            self._devices[name] = available[name]

    def _init_service(self, config: QuantumConfig) -> None:
        from qiskit_ibm_runtime import QiskitRuntimeService

        token = config.token or next((os.environ[v] for v in TOKEN_ENV if os.environ.get(v)), None)
        self._token = token
        channel = config.channel or "ibm_quantum_platform"
        if token is None and not _saved_account(channel):
            raise CredentialsError(
                f"executor {self.executor!r} needs IBM Quantum credentials: set "
                "IBM_QUANTUM_TOKEN (or quantum.ibmqx_token), or save an account with "
                "QiskitRuntimeService.save_account(...). To run the same client code locally "
                "on fake backends, set quantum.local = true."
            )
        kwargs: dict[str, Any] = {"channel": channel, "token": token, "instance": config.instance}
        if config.url:
            kwargs["url"] = config.url
        if config.proxy:
            kwargs["proxies"] = {"urls": {"http": config.proxy, "https": config.proxy}}
        if not config.verify:
            kwargs["verify"] = False
        where = config.url or "https://cloud.ibm.com"
        try:
            self._service = self._retrying("sign-in", lambda: QiskitRuntimeService(**kwargs))
            if config.backends or config.backend:
                for name in config.backends or (str(config.backend),):
                    self._devices[name] = self._lookup(name)
            else:
                backend = self._retrying(
                    "least busy backend",
                    lambda: self._service.least_busy(operational=True, simulator=False),
                )
                self._devices[backend.name] = backend
        except ConfigError:
            raise
        except Exception as exc:
            raise PilotStartError(
                f"could not connect to IBM Quantum ({channel} at {where}): {self._text(exc)}"
            ) from None
        logger.info(
            "pilot %s: IBM Quantum %s at %s, devices %s",
            self.pilot,
            channel,
            where,
            ", ".join(self._devices),
        )

    def _lookup(self, name: str) -> Any:
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        try:
            return self._retrying(f"backend {name}", lambda: self._service.backend(name))
        except QiskitBackendNotFoundError:
            available = self._retrying(
                "backends", lambda: [b.name for b in self._service.backends()]
            )
        if name not in available:
            raise ConfigError.unknown("IBM Quantum backend", "quantum.backend", name, available)
        # Listed now: the first lookup's listing failed (see _provider's ``held``).
        return self._retrying(f"backend {name}", lambda: self._service.backend(name), held=True)

    # ------------------------------------------------------------ provider calls
    def _text(self, exc: BaseException) -> str:
        """``Type: message`` of ``exc`` with the token and proxy credentials removed."""
        proxy = self.config.proxy
        userinfo = urlsplit(proxy).netloc.rpartition("@")[0] if proxy else ""
        return scrub(f"{type(exc).__name__}: {exc}", self._token, userinfo or None)

    def _provider(self, what: str, call: Callable[[], T], *, held: bool = False) -> Callable[[], T]:
        """``call`` with transient SDK errors raised as :class:`IBMTransientError`.

        ``held``: the call names a device this backend already holds.  The SDK
        answers "no backend matches" when its listing of the instance's
        devices failed (it logs "Invalid instance" and swallows the HTTP
        error), so for a held device that counts as transient too: a device
        that is really gone ends, after the retries, as unavailable.
        """
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        def guarded() -> T:
            try:
                return call()
            except (TaskCancelledError, TaskTimeoutError, BackendUnavailableError):
                raise
            except Exception as exc:
                if ibm_unavailable(exc):  # no retry brings it back: fail over at once
                    raise BackendUnavailableError(
                        f"IBM Quantum {what} failed: {self._text(exc)}"
                    ) from None
                transient, status = is_ibm_transient(exc)
                if transient or (held and isinstance(exc, QiskitBackendNotFoundError)):
                    raise IBMTransientError(
                        f"IBM Quantum {what} failed: {self._text(exc)}", status_code=status
                    ) from None
                raise

        return guarded

    def _retrying(self, what: str, call: Callable[[], T], *, held: bool = False) -> T:
        """``call`` retried on transient errors (the task's policy inside a job context)."""
        # ctx passed explicitly: retrying() picks its policy before looking the context up.
        ctx = current_job()
        guarded = self._provider(what, call, held=held)
        return retrying(guarded, what=f"IBM Quantum {what}", ctx=ctx)

    # ------------------------------------------------------------ contract
    def _capabilities(self, name: str, backend: Any) -> ResourceCapabilities:
        try:
            max_shots = int(backend.configuration().max_shots)
        except Exception:
            max_shots = None
        return capabilities_from_target(
            backend.target,
            name=name,
            executor=self.executor,
            provider="ibm-local" if self.config.local else "ibm",
            pilot=self.pilot,
            simulator=bool(self.config.local),
            noisy=True,
            max_shots=max_shots,
            supports_exact=False,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def status(self, resource: str) -> ResourceStatus:
        device = self._device(resource)
        st = self._retrying(f"status of {resource}", device.status)
        return ResourceStatus(
            online=bool(st.operational),
            queue_depth=int(st.pending_jobs),
            typical_job_seconds=self.config.typical_job_seconds,
            message=str(getattr(st, "status_msg", "") or ""),
        )

    # ------------------------------------------------------------ jobs
    def _sample(
        self, resource: str, circuits: list[QuantumCircuit], shots: int, layout: Layout = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Run ``circuits`` as one job; their pub results and the metadata results record."""
        isa = [self._transpile(resource, qc, layout) for qc in circuits]
        used: list[ExecutionMode | None] = [None]

        def run() -> Any:
            mode = used[0] = self._mode_for(resource)
            try:
                return self._sampler(resource, mode).run(isa, shots=shots)
            except Exception as exc:
                if mode is None or not self._ended(mode, exc):
                    raise
            mode = used[0] = self._mode_for(resource)  # the service ended it: a new one, once
            return self._sampler(resource, mode).run(isa, shots=shots)

        job = submit(
            create=self._provider(f"job submission to {resource}", run, held=True),
            attach=lambda job_id: self._attach(job_id, run),
            job_id=lambda j: str(j.job_id()),
        )
        job_id = str(job.job_id())
        metadata: dict[str, Any] = {"job_id": job_id, "execution_mode": self.config.mode}
        if self.config.mode != "job":
            mode = used[0]
            if mode is not None:
                metadata[f"{mode.kind}_id"] = mode.id
            elif not self.config.local:  # a re-attached job: the service knows its session
                metadata[f"{self.config.mode}_id"] = self._retrying(
                    f"session of job {job_id}", lambda: job.session_id
                )
        ctx = current_job()
        logger.info(
            "task %s: IBM Quantum job %s on %s: %d pub(s), %d shots%s",
            ctx.task_id if ctx is not None else "-",
            job_id,
            resource,
            len(isa),
            shots,
            f" in {used[0].kind} {used[0].id}" if used[0] is not None else "",
        )
        return list(self._wait(resource, job, job_id)), metadata

    def _sampler(self, resource: str, mode: ExecutionMode | None) -> Any:
        """A ``Sampler`` whose mode is ``mode``'s session or batch, else the device (job mode)."""
        sampler = _sampler_class()(mode=mode.handle if mode is not None else self._device(resource))
        if self.config.local and self.config.seed is not None:
            sampler.options.simulator.seed_simulator = self.config.seed
        return sampler

    # ------------------------------------------------------------ execution modes
    def _mode_for(self, resource: str) -> ExecutionMode | None:
        """The open session or batch of ``resource``, opened now if it has none
        (``None`` in job mode)."""
        kind = self.config.mode
        if kind == "job":
            return None
        with self._modes_lock:
            if self._closed:
                raise BackendUnavailableError(
                    f"pilot {self.pilot!r} is shutting down: its IBM Quantum {kind}s are closed"
                )
            mode = self._modes.get(resource)
            if mode is None:
                mode = self._modes[resource] = self._open(resource, kind)
        return mode

    def _open(self, resource: str, kind: str) -> ExecutionMode:
        from qiskit_ibm_runtime import Batch, Session

        cls = Session if kind == "session" else Batch
        try:
            handle = cls(backend=self._device(resource), max_time=self.config.session_max_time)
        except Exception as exc:
            if is_ibm_transient(exc)[0]:
                raise  # the job context's retries open it again
            hint = (
                "; Open Plan instances cannot open sessions: use quantum.mode 'batch' or 'job'"
                if kind == "session"
                else ""
            )
            raise ConfigError(
                f"quantum.mode = {kind!r}: IBM Quantum did not open a {kind} on {resource}: "
                f"{self._text(exc)}{hint}",
                key="quantum.mode",
            ) from None
        ident = handle.session_id or f"local-{kind}-{uuid.uuid4().hex[:16]}"
        logger.info("pilot %s: opened IBM Quantum %s %s on %s", self.pilot, kind, ident, resource)
        return ExecutionMode(kind, resource, handle, str(ident))

    def _ended(self, mode: ExecutionMode, exc: BaseException) -> bool:
        """Was a job refused (``exc``) because the service ended ``mode``?  If so it is
        forgotten, and the next job opens a new one."""
        if self.config.local or is_ibm_transient(exc)[0]:
            return False  # local modes never end by themselves
        try:
            details = mode.handle.details() or {}
        except Exception:
            return False
        if details.get("state") != "closed" and details.get("accepting_jobs") is not False:
            return False
        with self._modes_lock:
            if self._modes.get(mode.resource) is mode:
                del self._modes[mode.resource]
        logger.info(
            "pilot %s: IBM Quantum %s %s on %s has ended (%s); opening a new one",
            self.pilot,
            mode.kind,
            mode.id,
            mode.resource,
            self._text(exc),
        )
        return True

    def execution_modes(self) -> dict[str, str]:
        """``{device: id}`` of the sessions or batches open now."""
        with self._modes_lock:
            return {name: mode.id for name, mode in self._modes.items()}

    def close(self) -> None:
        """Close every open session or batch: no more jobs; queued ones still run."""
        with self._modes_lock:
            self._closed = True
            modes, self._modes = list(self._modes.values()), {}
        for mode in modes:
            try:
                retrying(
                    self._provider(f"closing {mode.kind} {mode.id}", mode.handle.close),
                    CLOSE_RETRY,
                    what=f"IBM Quantum closing {mode.kind} {mode.id}",
                )
            except Exception as exc:
                logger.warning(
                    "pilot %s: could not close IBM Quantum %s %s on %s: %s",
                    self.pilot,
                    mode.kind,
                    mode.id,
                    mode.resource,
                    self._text(exc),
                )
            else:
                logger.info(
                    "pilot %s: closed IBM Quantum %s %s on %s",
                    self.pilot,
                    mode.kind,
                    mode.id,
                    mode.resource,
                )

    def _attach(self, job_id: str, create: Callable[[], Any]) -> Any:
        """The job ``job_id`` of the service (a resumed task), else a new one.

        Local-mode jobs ran in the process that created them and cannot be
        found again; a job the service no longer knows cannot be paid twice:
        both are created anew.
        """
        if self.config.local:
            logger.info("local job %s cannot be re-attached; running it again", job_id)
            return create()
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        try:
            return self._retrying(f"job {job_id}", lambda: self._service.job(job_id))
        except RuntimeJobNotFound:
            ctx = current_job()
            logger.warning(
                "task %s: IBM Quantum job %s is not known to the service; submitting anew",
                ctx.task_id if ctx is not None else "-",
                job_id,
            )
            return self._retrying(f"job resubmission for {job_id}", create, held=True)

    def _wait(self, resource: str, job: Any, job_id: str) -> Any:
        """The job's result, waiting as the task's job context allows (module docstring)."""
        ctx = current_job()
        poll = max(0.1, float(self.config.poll_interval_seconds))
        while True:
            if ctx is not None:
                ctx.check()
            if self._retrying(f"status of job {job_id}", job.in_final_state):
                break
            left = ctx.remaining() if ctx is not None else None
            if ctx is not None and left is not None and left <= 0:
                ctx.cancel("timed out")
                raise TaskTimeoutError(
                    f"task {ctx.task_id}: IBM Quantum job {job_id} on {resource} did not "
                    "finish before the task's timeout; the job was cancelled"
                )
            pause = poll if left is None else min(poll, left)
            if ctx is not None:
                ctx.cancelled.wait(pause)
            else:
                time.sleep(pause)
        if ctx is not None:
            ctx.check()
        if self._retrying(f"status of job {job_id}", job.cancelled):
            where = f"task {ctx.task_id}: " if ctx is not None else ""
            raise TaskCancelledError(
                f"{where}IBM Quantum job {job_id} on {resource} was cancelled at the provider"
            )
        return self._retrying(f"result of job {job_id}", job.result)

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is None:
            raise NotImplementedError
        circuits = list(circuits)
        pubs, metadata = self._sample(resource, circuits, shots, layout)
        return [
            NativeOutput(
                counts=spaced_counts(pub.join_data().get_counts(), register_sizes(qc)),
                native=pub,
                metadata=metadata,
            )
            for pub, qc in zip(pubs, circuits, strict=True)
        ]

    def run_dynamic(
        self,
        resource: str,
        circuits: Sequence[Any],
        shots: int | None,
        layout: Layout = None,
    ) -> list[dict[str, Any]]:
        """Dynamic circuits written elsewhere (PennyLane's ``qml.measure``), through the Sampler."""
        if shots is None:
            return super().run_dynamic(resource, circuits, shots, layout)
        pubs, _ = self._sample(resource, list(circuits), shots, layout)
        return [{k[::-1]: int(v) for k, v in pub.join_data().get_counts().items()} for pub in pubs]

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [measured_circuit(j.body, j.measured) for j in prepared]
        pubs, _ = self._sample(resource, circuits, shots, layout)
        return [
            {
                bits_from_qiskit_key(k, len(pc.measured)): v
                for k, v in pub.join_data().get_counts().items()
            }
            for pub, pc in zip(pubs, prepared, strict=True)
        ]


def _sampler_class() -> Any:
    """The client-side ``Sampler`` (qiskit-ibm-runtime >= 0.50), else the legacy ``SamplerV2``."""
    try:
        from qiskit_ibm_runtime.executor_sampler import Sampler
    except ImportError:  # older runtimes
        from qiskit_ibm_runtime import SamplerV2 as Sampler
    return Sampler


def _saved_account(channel: str) -> bool:
    try:
        from qiskit_ibm_runtime.accounts import AccountManager

        return AccountManager.get(channel=channel) is not None
    except Exception:
        return False

"""``ionq``: IonQ Quantum Cloud through ``qiskit-ionq`` (IonQ's own Qiskit provider).

Resources
---------
``quantum.backends`` (or ``quantum.backend``) names IonQ backends as IonQ's API
does; the default is the ideal cloud simulator::

    "simulator"            the ideal cloud simulator: exact probabilities (shots=None
                           works); counts are sampled from them on the client (the SDK)
    "simulator.<model>"    the cloud simulator with the noise model of a QPU, e.g.
                           "simulator.aria-1", "simulator.forte-1" (the SDK's
                           ``noise_model`` option); reported with that QPU's
                           characterization, so QDREAMER ranks it like the device, free
    "qpu.<name>"           a QPU, e.g. "qpu.aria-1", "qpu.forte-1"

(qiskit-ionq's spellings ``ionq_simulator`` and ``ionq_qpu.aria-1`` are accepted.)
Names are checked against IonQ's backend list (``GET /backends``) when the
pilot starts; an unknown one is a ``ConfigError`` naming the valid ones.

Credentials and endpoint
------------------------
The API key comes from ``quantum.ionq_api_key``, else ``IONQ_API_KEY`` (or the
two other variables qiskit-ionq reads, :data:`~pilot.redaction.IONQ_KEY_ENV`).
It is masked like the IBM token: remembered by :mod:`pilot.redaction` (logs),
never in a repr, scrubbed from every error (:func:`scrub`).  Without a key, or
when IonQ answers 401/403, the pilot fails with a ``CredentialsError`` that
names ``IONQ_API_KEY``.  ``quantum.ionq_url`` (else ``IONQ_API_URL``, else
https://api.ionq.co/v0.4) is the API's base URL; the tests point it at a fake
on loopback (``tests/fakes/ionq_service.py``).

Capabilities and status come from IonQ's API, read with the SDK's client:
the backend list (status, qubits, ``average_queue_time``) and each QPU's
latest characterization (``GET /backends/<qpu>/characterizations``: mean 1q,
2q and SPAM fidelities, gate and readout times).  IonQ devices are all-to-all
(no coupling map); circuits are transpiled to the QIS gates qiskit-ionq sends
(:data:`QIS_GATES`).  Status reports the average queue time as the provider's
own wait (``ResourceStatus.queue_seconds``, as for Azure Quantum), not as a
number of jobs.

Remote jobs
-----------
One IonQ job per circuit, created through the task's job context
(:mod:`pilot.backends.jobs`), so that its id is journalled, a resumed task
re-attaches to it (``backend.retrieve_job(id)``; a job IonQ no longer knows,
404, is submitted anew), and ``pcs.cancel_task`` reaches it
(``PUT /jobs/<id>/status/cancel``)::

    ctx.submit(create=backend.run(circuit), attach=backend.retrieve_job(id))
        ▼
    poll job.status() every poll_interval_seconds   (ready -> started -> completed)
        ├── cancelled / deadline       the job is cancelled at IonQ -> TaskCancelledError /
        │                              TaskTimeoutError
        ├── failed                     -> TaskFailedError with IonQ's failure code and text
        └── completed                  job.result() (GET .../results/probabilities)

Errors
------
qiskit-ionq's client retries 429 and 5xx answers by itself, without bound for
reads (``@retry(tries=-1)``) and without honouring ``Retry-After``; here its
calls are made once each (:func:`_client_class`) and retried by
:func:`pilot.backends.jobs.retrying` under ``quantum.retries``: HTTP
408/429/5xx and dropped connections become :class:`IonQTransientError` (a
``ConnectionError``: retried, waiting at least the answer's ``Retry-After``;
a ``BackendUnavailableError``: QDREAMER fails over once retries are spent).
401/403 are ``CredentialsError``; other answers (400, 404...) are errors of
the task.

Not supported here: mid-circuit measurement and reset (qiskit-ionq sends such
circuits as OpenQASM 3, which this adapter does not declare; QDREAMER refuses
dynamic circuits for ``ionq`` up front), IonQ's native gate set (``gpi``,
``gpi2``, ``ms``, ``zz``; circuits go as QIS gates and IonQ compiles them),
sessions, and multi-circuit jobs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from dreamer.feasibility import DYNAMIC_HINT
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import DYNAMIC_FEATURES, canonical_gates
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.errors import UNAVAILABLE_STATUS, is_transient
from pilot.backends.jobs import current_job, retrying, submit
from pilot.convert.dynamic import circuit_needs
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
    TaskFailedError,
    TaskTimeoutError,
    UnsupportedOperationError,
)
from pilot.redaction import IONQ_KEY_ENV, remember

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: IonQ's API when neither ``quantum.ionq_url`` nor ``IONQ_API_URL`` says otherwise.
DEFAULT_URL = "https://api.ionq.co/v0.4"
SIMULATOR = "simulator"
#: The environment variable that names another API URL (qiskit-ionq reads it too).
URL_ENV = "IONQ_API_URL"
#: The variable a ``CredentialsError`` tells the user to set.
KEY_ENV = IONQ_KEY_ENV[0]

#: Qiskit gates circuits are transpiled to: gates qiskit-ionq serialises to IonQ's
#: "qis" gate set one for one.  (Its ``p``/``cp``/``mcphase`` go out re-aliased as
#: ``z``/``cz`` with a rotation, which this adapter does not rely on.)
QIS_GATES = (
    "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry", "rz",
    "cx", "cy", "cz", "swap", "rxx", "ryy", "rzz",
)  # fmt: skip
#: Seconds a queued job typically takes, when ``quantum.typical_job_seconds`` is unset.
TYPICAL_JOB_SECONDS = 60.0
#: Shots per job on a QPU (IonQ's limit; qiskit-ionq's ``IonQQPUBackend.max_shots``).
QPU_MAX_SHOTS = 10_000
#: Backend statuses in which IonQ runs no jobs (``calibrating`` and ``reserved`` still
#: accept them: IonQ queues them for later).
OFFLINE_STATUSES = frozenset({"unavailable", "offline", "retired"})


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class IonQTransientError(BackendUnavailableError, ConnectionError):
    """An IonQ call failed in a way worth repeating: HTTP 408/429/5xx or a dropped
    connection.  Retried (a ``ConnectionError``; at least ``retry_after`` seconds
    later when IonQ said so); once retries are spent, the resource is unavailable
    (a ``BackendUnavailableError``: QDREAMER fails the task over)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class _Device:
    """One resource: its name, the IonQ backend it runs on, and the SDK backend."""

    name: str
    api_backend: str  # "simulator" or "qpu.<name>"
    noise_model: str  # "ideal" for QPUs and the ideal simulator
    sdk: Any  # qiskit_ionq IonQSimulatorBackend / IonQQPUBackend

    @property
    def simulator(self) -> bool:
        return self.api_backend == SIMULATOR

    @property
    def ideal(self) -> bool:
        return self.simulator and self.noise_model == "ideal"


def normalise_name(raw: str) -> str:
    """``ionq_simulator`` -> ``simulator``, ``ionq_qpu.aria-1`` -> ``qpu.aria-1``;
    ``simulator:aria-1`` / ``simulator-aria-1`` -> ``simulator.aria-1``."""
    name = str(raw).strip().lower()
    name = name.removeprefix("ionq_").removeprefix("ionq.")
    for sep in (":", "-"):
        if name.startswith(SIMULATOR + sep):
            name = SIMULATOR + "." + name[len(SIMULATOR) + 1 :]
    return name


_SDK_URL_LOCK = threading.Lock()


@contextlib.contextmanager
def _sdk_url(url: str) -> Iterator[None]:
    """While qiskit-ionq builds backends, ``IONQ_API_URL`` names our URL.

    The SDK sizes each backend with ``GET <url>/backends/<name>`` where ``url``
    is read from the environment, not from the provider it was given
    (``helpers.get_n_qubits``): without this it would ask https://api.ionq.co
    whatever ``quantum.ionq_url`` says.  Its warnings there (a failed lookup, a
    transpiler level it advises against) are logged, not raised.
    """
    with _SDK_URL_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = os.environ.get(URL_ENV)
        os.environ[URL_ENV] = url
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(URL_ENV, None)
            else:
                os.environ[URL_ENV] = old
    for w in caught:
        logger.debug("qiskit-ionq: %s", w.message)


def _client_class() -> type:
    """qiskit-ionq's ``IonQClient`` whose calls are each made once.

    The SDK decorates them with ``retry``: 429/502/503/504 are retried five times
    with no pause when submitting, and *without bound* (``tries=-1``, at most a
    minute apart) when reading a job, its results or a characterization, never
    looking at ``Retry-After``.  The undecorated methods (``__wrapped__``) are
    used instead, and :func:`pilot.backends.jobs.retrying` retries them under
    ``quantum.retries``.
    """
    from qiskit_ionq.ionq_client import IonQClient

    class OnceClient(IonQClient):
        submit_job = IonQClient.submit_job.__wrapped__
        retrieve_job = IonQClient.retrieve_job.__wrapped__
        cancel_job = IonQClient.cancel_job.__wrapped__
        get_calibration_data = IonQClient.get_calibration_data.__wrapped__
        get_results = IonQClient.get_results.__wrapped__

    return OnceClient


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(0.0, float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class IonQBackend(QuantumBackend):
    """``ionq``: IonQ's cloud simulator and QPUs (see the module docstring)."""

    framework = "qiskit"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        key = config.ionq_key or next(
            (os.environ[v] for v in IONQ_KEY_ENV if os.environ.get(v)), None
        )
        remember(key)  # unpickled here, so not seen by QuantumConfig's validator
        if not key:
            raise CredentialsError(
                f"executor {self.executor!r} needs an IonQ API key: set {KEY_ENV} "
                "(or quantum.ionq_api_key); create one at https://cloud.ionq.com/settings/keys"
            )
        self._key = key
        self._url = (config.ionq_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        self._devices: dict[str, _Device] = {}
        self._caps: list[ResourceCapabilities] = []
        try:
            from qiskit_ionq import IonQProvider

            self._client = _client_class()(key, self._url, None)
            with _sdk_url(self._url):
                self._provider = IonQProvider(token=key, url=self._url)
            listing = self._backend_list()
            # The backend list is public; this read of the account's jobs is not: a
            # refused key fails here, when the pilot starts, not at its first task.
            self._retrying("key check", lambda: self._get("jobs", params={"limit": 1}))
            names = config.backends or ((config.backend,) if config.backend else (SIMULATOR,))
            for raw in names:
                device = self._open(normalise_name(raw), listing)
                self._devices[device.name] = device
            self._caps = [self._capabilities(d, listing) for d in self._devices.values()]
        except (ConfigError, CredentialsError):
            raise
        except Exception as exc:
            raise PilotStartError(
                f"could not connect to IonQ at {self._url}: {self._text(exc)}"
            ) from None
        logger.info(
            "pilot %s: IonQ at %s, resources %s", self.pilot, self._url, ", ".join(self._devices)
        )

    def __repr__(self) -> str:
        return f"IonQBackend(pilot={self.pilot!r}, url={self._url!r})"

    # ------------------------------------------------------------ provider calls
    def _text(self, exc: BaseException) -> str:
        """``Type: message`` of ``exc`` without the key (SDK errors echo answers)."""
        message = getattr(exc, "message", None) or str(exc)
        status = getattr(exc, "status_code", None)
        where = f" (HTTP {status})" if isinstance(status, int) else ""
        return scrub(f"{type(exc).__name__}{where}: {message}", self._key)

    def _translate(self, what: str, exc: BaseException) -> BaseException | None:
        """Our error for an SDK error (``None``: raise it as it is)."""
        from qiskit_ionq.exceptions import IonQAPIError, IonQRetriableError

        if isinstance(exc, (TaskCancelledError, TaskTimeoutError, BackendUnavailableError)):
            return None
        cause: BaseException = exc
        if isinstance(exc, IonQRetriableError):  # the SDK's wrapper of 429/5xx, network
            cause = getattr(exc, "_cause", None) or exc
        status = getattr(cause, "status_code", None)
        if isinstance(cause, IonQAPIError) and status in (401, 403):
            return CredentialsError(
                f"IonQ refused the API key ({what}: HTTP {status}: "
                f"{scrub(str(cause.message), self._key)}); set {KEY_ENV} (or "
                "quantum.ionq_api_key) to a valid key from https://cloud.ionq.com/settings/keys"
            )
        import requests

        if (
            isinstance(exc, IonQRetriableError)
            or status in UNAVAILABLE_STATUS
            or is_transient(cause)
            or isinstance(cause, (requests.ConnectionError, requests.Timeout))
        ):
            headers = getattr(cause, "headers", None)
            return IonQTransientError(
                f"IonQ {what} failed: {self._text(cause)}",
                status_code=status if isinstance(status, int) else None,
                retry_after=_retry_after(headers),
            )
        return None

    def _provider_call(self, what: str, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` with SDK errors translated (:meth:`_translate`)."""

        def guarded() -> T:
            try:
                return call()
            except Exception as exc:
                ours = self._translate(what, exc)
                if ours is None:
                    raise
                raise ours from None

        return guarded

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """``call`` retried on transient errors (the task's policy inside a job context)."""
        ctx = current_job()
        return retrying(self._provider_call(what, call), what=f"IonQ {what}", ctx=ctx)

    def _get(self, *path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET <url>/<path>`` with the SDK client's headers and error handling."""
        from qiskit_ionq.exceptions import IonQAPIError

        client = self._client
        res = client.get_with_retry(client.make_path(*path), params, client.api_headers)
        IonQAPIError.raise_for_status(res)
        return res.json()

    def _backend_list(self) -> dict[str, dict[str, Any]]:
        """``{backend: entry}`` of IonQ's backend list."""
        entries = self._retrying("backend list", lambda: self._get("backends"))
        if isinstance(entries, dict):  # some deployments wrap it
            entries = entries.get("backends") or []
        return {str(e.get("backend")): e for e in entries if isinstance(e, dict)}

    # ------------------------------------------------------------ devices
    def _open(self, name: str, listing: dict[str, dict[str, Any]]) -> _Device:
        base, _, model = name.partition(".") if name.startswith(SIMULATOR) else (name, "", "")
        valid = self._valid_names(listing)
        if name not in valid or (base not in listing):
            raise ConfigError.unknown("IonQ backend", "quantum.backends", name, valid)
        with _sdk_url(self._url):
            sdk = self._provider.get_backend(base, gateset="qis")
        sdk._client = self._client  # one client for every backend: see _client_class
        noise = model or "ideal"
        options: dict[str, Any] = {"noise_model": noise} if base == SIMULATOR else {}
        if self.config.seed is not None:
            options["sampler_seed"] = int(self.config.seed) % 2**32
        if options:
            sdk.set_options(**options)
        return _Device(name, base, noise, sdk)

    @staticmethod
    def _valid_names(listing: dict[str, dict[str, Any]]) -> list[str]:
        """Backends the list names, and the simulator with each noise model it offers
        (its ``noise_models`` when listed, else one per QPU family in the list)."""
        names = list(listing)
        sim = listing.get(SIMULATOR)
        if sim is not None:
            models = sim.get("noise_models") or [
                n.removeprefix("qpu.") for n in listing if n.startswith("qpu.")
            ]
            names += [f"{SIMULATOR}.{m}" for m in models if m != "ideal"]
        return names

    def _device(self, resource: str) -> _Device:
        try:
            return self._devices[resource]
        except KeyError:
            raise ConfigError.unknown("resource", "resource", resource, self._devices) from None

    def _characterization(self, qpu: str) -> Any:
        """The latest characterization of ``qpu`` (``None`` if IonQ has none)."""
        from qiskit_ionq.exceptions import IonQAPIError

        try:
            return self._retrying(
                f"characterization of {qpu}", lambda: self._client.get_latest_calibration(qpu)
            )
        except IonQAPIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def _capabilities(
        self, device: _Device, listing: dict[str, dict[str, Any]]
    ) -> ResourceCapabilities:
        entry = listing.get(device.api_backend, {})
        qubits = int(entry.get("qubits") or device.sdk.num_qubits)
        errors: dict[str, float] = {}
        durations: dict[str, float] = {}
        if not device.ideal:
            qpu = device.api_backend if not device.simulator else f"qpu.{device.noise_model}"
            cal = self._characterization(qpu)
            if cal is not None:
                errors, durations = characterization_data(cal.fidelity, cal.timing)
        return ResourceCapabilities(
            name=device.name,
            executor=self.executor,
            provider="ionq",
            pilot=self.pilot,
            num_qubits=qubits,
            native_gates=canonical_gates(QIS_GATES),
            coupling_map=None,  # all-to-all
            simulator=device.simulator,
            noisy=not device.ideal,
            max_shots=None if device.simulator else QPU_MAX_SHOTS,
            supports_exact=device.ideal,
            default_errors=errors,
            durations=durations,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def status(self, resource: str) -> ResourceStatus:
        """From IonQ's backend list: ``status`` and ``average_queue_time`` (ms)."""
        device = self._device(resource)
        entry = self._backend_list().get(device.api_backend)
        if entry is None:
            return ResourceStatus(online=False, message=f"{device.api_backend} is not listed")
        state = str(entry.get("status") or "available")
        wait = float(entry.get("average_queue_time") or 0) / 1000.0
        typical = self.config.typical_job_seconds or TYPICAL_JOB_SECONDS
        message = state + (", degraded" if entry.get("degraded") else "")
        if wait > 0:
            message += f", average queue time {wait:.0f} s"
        return ResourceStatus(
            online=state not in OFFLINE_STATUSES,
            queue_seconds=wait,
            typical_job_seconds=typical,
            message=message,
        )

    # ------------------------------------------------------------ jobs
    def _transpile(self, resource: str, qc: QuantumCircuit) -> QuantumCircuit:
        from qiskit import transpile

        try:
            return transpile(
                qc,
                basis_gates=[*QIS_GATES, "measure"],
                optimization_level=self.config.optimization_level,
                seed_transpiler=self.config.seed,
            )
        except Exception as exc:
            raise UnsupportedOperationError(
                qc.name, f"{self.executor} resource {resource!r}", f"transpilation failed: {exc}"
            ) from exc

    def _jobs(self, resource: str, circuits: Sequence[QuantumCircuit], shots: int) -> list[Any]:
        """One finished IonQ job per circuit: all created (or re-attached), then awaited."""
        device = self._device(resource)
        isa = [self._transpile(resource, qc) for qc in circuits]
        created = [self._create(device, qc, shots) for qc in isa]
        return [self._wait(device, job) for job in created]

    def _create(self, device: _Device, qc: QuantumCircuit, shots: int) -> Any:
        def create() -> Any:
            return device.sdk.run(qc, shots=shots)

        job = submit(
            create=self._provider_call(f"job submission to {device.name}", create),
            attach=lambda job_id: self._attach(device, job_id, create),
            job_id=lambda j: str(j.job_id()),
        )
        ctx = current_job()
        logger.info(
            "task %s: IonQ job %s on %s (%d qubits, %d shots)",
            ctx.task_id if ctx is not None else "-",
            job.job_id(),
            device.name,
            qc.num_qubits,
            shots,
        )
        return job

    def _attach(self, device: _Device, job_id: str, create: Callable[[], Any]) -> Any:
        """The job ``job_id`` (a resumed task), else -- IonQ no longer knows it -- a new one."""
        from qiskit_ionq.exceptions import IonQAPIError, IonQJobFailureError

        try:
            return self._retrying(f"job {job_id}", lambda: device.sdk.retrieve_job(job_id))
        except IonQJobFailureError as exc:  # retrieve_job reads the status: a failed job
            raise TaskFailedError(
                f"IonQ job {job_id} on {device.name} failed: {self._text(exc)}"
            ) from None
        except IonQAPIError as exc:
            if exc.status_code != 404:
                raise
            ctx = current_job()
            logger.warning(
                "task %s: IonQ job %s is not known to IonQ; submitting anew",
                ctx.task_id if ctx is not None else "-",
                job_id,
            )
            return self._retrying(f"job resubmission for {job_id}", create)

    def _wait(self, device: _Device, job: Any) -> Any:
        """The job once final, waiting as the task's job context allows."""
        from qiskit.providers import JobStatus
        from qiskit_ionq.exceptions import IonQJobFailureError

        ctx = current_job()
        job_id = str(job.job_id())
        poll = max(0.05, float(self.config.poll_interval_seconds))
        while True:
            if ctx is not None:
                ctx.check()
            try:
                status = self._retrying(f"status of job {job_id}", job.status)
            except IonQJobFailureError as exc:
                raise TaskFailedError(
                    f"IonQ job {job_id} on {device.name} failed: {self._text(exc)}"
                ) from None
            if status in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR):
                break
            left = ctx.remaining() if ctx is not None else None
            if ctx is not None and left is not None and left <= 0:
                ctx.cancel("timed out")
                raise TaskTimeoutError(
                    f"task {ctx.task_id}: IonQ job {job_id} on {device.name} did not finish "
                    "before the task's timeout; the job was cancelled"
                )
            pause = poll if left is None else min(poll, left)
            if ctx is not None:
                ctx.cancelled.wait(pause)
            else:
                time.sleep(pause)
        if ctx is not None:
            ctx.check()
        if status is JobStatus.CANCELLED:
            where = f"task {ctx.task_id}: " if ctx is not None else ""
            raise TaskCancelledError(
                f"{where}IonQ job {job_id} on {device.name} was cancelled at IonQ"
            )
        return job

    def _counts(self, job: Any) -> dict[str, int]:
        """Qiskit counts of a finished job (keys over clbits, no spaces)."""
        job_id = str(job.job_id())
        result = self._retrying(f"results of job {job_id}", job.result)
        return {k.replace(" ", ""): int(v) for k, v in result.get_counts().items()}

    def _probabilities(self, job: Any) -> dict[int, float]:
        """IonQ's probabilities of a finished job: ``{state: p}``, qubit 0 the lowest bit.

        Read with the SDK's client rather than ``job.get_probabilities()``, which
        keeps only the states its client-side sampling happened to draw."""
        job_id = str(job.job_id())
        doc = self._retrying(f"job {job_id}", lambda: self._client.retrieve_job(job_id))
        url = ((doc.get("results") or {}).get("probabilities") or {}).get("url")
        if not url:
            raise TaskFailedError(f"IonQ job {job_id} has no probabilities to read")
        data = self._retrying(f"results of job {job_id}", lambda: self._client.get_results(url))
        return {int(k): float(v) for k, v in data.items()}

    def _metadata(self, job: Any, device: _Device) -> dict[str, Any]:
        return {"job_id": str(job.job_id()), "ionq_backend": device.api_backend,
                "noise_model": device.noise_model}  # fmt: skip

    # ------------------------------------------------------------ contract
    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is None:
            raise NotImplementedError  # exact results go through the portable path
        device = self._device(resource)
        circuits = list(circuits)
        for qc in circuits:  # qiskit-ionq would send these as OpenQASM 3: not declared here
            needs = sorted(circuit_needs(qc))
            if needs:
                raise UnsupportedOperationError(DYNAMIC_FEATURES[needs[0]], None, DYNAMIC_HINT)
        out = []
        for qc, job in zip(circuits, self._jobs(resource, circuits, shots), strict=True):
            counts = self._counts(job)
            out.append(
                NativeOutput(
                    counts=spaced_counts(counts, register_sizes(qc)),
                    metadata=self._metadata(job, device),
                )
            )
        return out

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [measured_circuit(pc.body, pc.measured) for pc in prepared]
        jobs = self._jobs(resource, circuits, shots)
        out = []
        for pc, job in zip(prepared, jobs, strict=True):
            width = len(pc.measured)
            counts: dict[str, int] = {}
            for key, value in self._counts(job).items():
                k = bits_from_qiskit_key(key, width)
                counts[k] = counts.get(k, 0) + value
            out.append(counts)
        return out

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        """Exact probabilities: IonQ's ideal simulator returns them (shots matter only to
        the SDK's client-side sampling, not used here)."""
        if not self._device(resource).ideal:
            return super().exact(resource, prepared)
        circuits = [measured_circuit(pc.body, pc.measured) for pc in prepared]
        jobs = self._jobs(resource, circuits, 1)
        out = []
        for pc, job in zip(prepared, jobs, strict=True):
            dist: dict[str, float] = {}
            for state, p in self._probabilities(job).items():
                key = "".join(str((state >> q) & 1) for q in pc.measured)
                dist[key] = dist.get(key, 0.0) + p
            out.append(dist)
        return out


def characterization_data(
    fidelity: dict[str, Any], timing: dict[str, Any]
) -> tuple[dict[str, float], dict[str, float]]:
    """``(default_errors, durations)`` from an IonQ characterization's ``fidelity`` and
    ``timing`` blocks (``{"1q": {"mean": f}, "2q": {...}, "spam": {...}}``; seconds)."""

    def error(kind: str) -> float | None:
        block = fidelity.get(kind) or {}
        value = block.get("mean", block.get("median")) if isinstance(block, dict) else block
        return None if value is None else max(0.0, 1.0 - float(value))

    errors = {
        name: e
        for name, e in (("1q", error("1q")), ("2q", error("2q")), ("readout", error("spam")))
        if e is not None
    }
    durations = {
        name: float(timing[key])
        for name, key in (("1q", "1q"), ("2q", "2q"), ("readout", "readout"))
        if timing.get(key) is not None
    }
    return errors, durations

"""``azure_quantum``: an Azure Quantum workspace's gate-model targets through
``azure-quantum``'s Qiskit provider (``AzureQuantumProvider``).

Connecting
----------
::

    DefaultAzureCredential(exclude_interactive_browser_credential=True)
        │   azure-identity's chain: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET
        │   (a service principal; or a certificate / workload identity), a managed identity
        │   (IMDS, App Service's IDENTITY_ENDPOINT + IDENTITY_HEADER), `az login`, ...
        │   asked once for a data-plane token: none found or refused -> CredentialsError
        ▼
    Workspace(resource_id=quantum.resource_id, location=quantum.location,
              credential=..., arm_endpoint=quantum.url)
        │   the SDK reads the workspace from Azure Resource Manager (its location and
        │   data-plane endpoint); without quantum.resource_id it takes the SDK's own
        │   AZURE_QUANTUM_SUBSCRIPTION_ID / _WORKSPACE_RG / _WORKSPACE_NAME variables
        ▼
    AzureQuantumProvider(workspace).get_backend(target)   one per target held
        quantum.backends / quantum.backend name targets ("ionq.simulator",
        "quantinuum.qpu.h2-1", "rigetti.sim.qvm"); unset: every IonQ, Quantinuum
        and Rigetti target the workspace lists (``providerStatus``), syntax checkers
        (``*sc``, which return zeros) left out

The credential never leaves the SDK: this module logs and raises only
``scrub``-bed text, and a backend's ``repr`` holds no configuration.

Capabilities and status
-----------------------
Static capabilities come from the SDK's backend for each target (its Qiskit
``Target``: the gates the SDK accepts and translates to QIR, the qubit count;
the shot limit of its configuration) and the workspace's ``providerStatus``
(``numQubits``).  Azure publishes no calibration data, so QPUs carry none.
``status(target)`` is one ``providerStatus`` call: ``currentAvailability``
("Unavailable" is offline, so QDREAMER ranks the target out and fails tasks
over) and ``averageQueueTime``, which becomes ``ResourceStatus.queue_seconds``
(the provider's own estimate of the wait, used instead of a queue length).

Remote jobs
-----------
A target runs one circuit per job (the SDK's ``max_circuits`` is 1), so a
batch of circuits is created job by job, each through the task's job context
(:mod:`pilot.backends.jobs`), then awaited::

    ctx.submit(create=backend.run(circuit, shots), attach=provider.get_job(id))
        │   the SDK uploads the QIR to the workspace's blob storage (a SAS URL from
        │   storage/sasUri) and PUTs jobs/<id>; a resumed task re-attaches by id
        ▼
    poll job.status() every poll_interval_seconds (GET jobs/<id>, retried when transient)
        ├── ctx cancelled (pcs.cancel_task)   the context called job.cancel()
        │                                     (POST jobs/<id>:cancel) -> TaskCancelledError
        ├── ctx.remaining() reached 0          ctx.cancel("timed out") -> TaskTimeoutError
        ├── Cancelled at the provider          -> TaskCancelledError
        ├── Failed                             -> TaskFailedError with errorData
        └── Succeeded                          job.result(): the results blob, read

azure-core retries HTTP 408/429/5xx by itself (honouring ``Retry-After``);
what still fails that way, or a dropped connection, is raised as
:class:`AzureTransientError` (a ``ConnectionError``, retried by the job
context, and a :class:`~pilot.errors.BackendUnavailableError`, so QDREAMER
fails the task over once retries are spent).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import canonical_gate
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.errors import UNAVAILABLE_STATUS, is_transient
from pilot.backends.jobs import current_job, retrying, submit
from pilot.convert.qiskit import (
    bits_from_qiskit_key,
    measured_circuit,
    portable_from_qiskit,
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
)
from pilot.redaction import redact

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The scope of the workspace's data plane (what the credential is first asked for).
DATA_PLANE_SCOPE = "https://quantum.microsoft.com/.default"
#: A service principal for azure-identity's EnvironmentCredential (named in errors).
CREDENTIALS_ENV = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
#: The workspace, when quantum.resource_id is unset (read by the SDK itself).
WORKSPACE_ENV = (
    "AZURE_QUANTUM_SUBSCRIPTION_ID",
    "AZURE_QUANTUM_WORKSPACE_RG",
    "AZURE_QUANTUM_WORKSPACE_NAME",
    "AZURE_QUANTUM_WORKSPACE_LOCATION",
)
#: Providers whose targets a pilot holds when it names none (gate-model QPUs and simulators).
DEFAULT_PROVIDERS = ("ionq", "quantinuum", "rigetti")
#: Gates that are not gates to QDREAMER.
_NOT_GATES = {"measure", "reset", "barrier", "delay"}


def scrub(text: str) -> str:
    """``text`` with every known secret masked (SDK errors may echo request data)."""
    return redact(text)


class AzureTransientError(BackendUnavailableError, ConnectionError):
    """An Azure call failed in a way worth repeating (HTTP 408/429/5xx after the SDK's own
    retries, a dropped connection).  Retried by the job context (a ``ConnectionError``);
    then the target is unavailable (QDREAMER fails the task over)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


def is_azure_transient(exc: BaseException) -> tuple[bool, int | None]:
    """Is ``exc`` (or an error it was raised from) an Azure "not now"? And its HTTP status."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ServiceRequestError,
        ServiceResponseError,
    )

    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (TaskCancelledError, TaskTimeoutError, ClientAuthenticationError)):
            return False, None
        status = getattr(err, "status_code", None)
        status = status if isinstance(status, int) and status > 0 else None
        if isinstance(err, (ServiceRequestError, ServiceResponseError)):
            return True, status
        if status in UNAVAILABLE_STATUS or is_transient(err):
            return True, status
        err = err.__cause__
    return False, None


def _availability(target: Any) -> str:
    value = getattr(target, "current_availability", "") or ""
    return str(getattr(value, "value", value))


class AzureQuantumBackend(QuantumBackend):
    framework = "qiskit"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        self._credential = self._sign_in()
        self._workspace = self._connect(config)
        from azure.quantum.qiskit import AzureQuantumProvider

        self._provider = AzureQuantumProvider(self._workspace)
        listed = self._retrying("targets", self._workspace.get_targets)
        listed = listed if isinstance(listed, list) else [listed]
        statuses = {str(t.name): t for t in listed}
        names = config.backends or ((config.backend,) if config.backend else None)
        if names is None:
            names = tuple(n for n, t in statuses.items() if _default_target(n, t.provider_id))
            if not names:
                raise ConfigError(
                    f"executor {self.executor!r}: the workspace lists no IonQ, Quantinuum or "
                    f"Rigetti target ({', '.join(sorted(statuses)) or 'none'}); name targets "
                    "in quantum.backends",
                    key="quantum.backends",
                )
        self._backends: dict[str, Any] = {}
        for name in names:
            if name not in statuses:
                raise ConfigError.unknown(
                    "Azure Quantum target", "quantum.backend", str(name), sorted(statuses)
                )
            self._backends[name] = self._retrying(
                f"target {name}", functools.partial(self._provider.get_backend, name)
            )
        self._caps = [self._capabilities(n, b, statuses[n]) for n, b in self._backends.items()]

    # ------------------------------------------------------------ connecting
    def _sign_in(self) -> Any:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        try:
            credential.get_token(DATA_PLANE_SCOPE)
        except ClientAuthenticationError as exc:
            raise CredentialsError(
                f"executor {self.executor!r} needs Azure credentials (azure-identity's "
                "DefaultAzureCredential found none that worked): set "
                f"{', '.join(CREDENTIALS_ENV)} for a service principal with access to the "
                "workspace, or run where a managed identity is assigned (IMDS, or App "
                "Service's IDENTITY_ENDPOINT and IDENTITY_HEADER), or sign in with `az login`. "
                f"Azure said: {_first_lines(scrub(str(exc)))}"
            ) from None
        return credential

    def _connect(self, config: QuantumConfig) -> Any:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
        from azure.quantum import Workspace

        if not config.resource_id and not all(os.environ.get(v) for v in WORKSPACE_ENV[:3]):
            raise ConfigError(
                f"executor {self.executor!r} needs its workspace: set quantum.resource_id "
                "('/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Quantum/"
                f"Workspaces/<name>') or the variables {', '.join(WORKSPACE_ENV[:3])}",
                key="quantum.resource_id",
            )
        kwargs: dict[str, Any] = {"credential": self._credential}
        if config.resource_id:
            kwargs["resource_id"] = config.resource_id
        if config.location:
            kwargs["location"] = config.location
        if config.url:
            kwargs["arm_endpoint"] = config.url
        try:
            return self._retrying("workspace", lambda: Workspace(**kwargs))
        except (ClientAuthenticationError, HttpResponseError) as exc:
            if not _refused(exc):
                raise PilotStartError(
                    f"could not read the Azure Quantum workspace: {_first_lines(scrub(str(exc)))}"
                ) from None
            raise CredentialsError(
                f"executor {self.executor!r}: Azure refused the credential for the workspace: "
                f"{_first_lines(scrub(str(exc)))}; check that its identity has a role on the "
                f"workspace, or set {', '.join(CREDENTIALS_ENV)}"
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"quantum.resource_id / quantum.location: {_first_lines(scrub(str(exc)))}",
                key="quantum.resource_id",
            ) from None
        except (AzureTransientError, RuntimeError, OSError) as exc:
            raise PilotStartError(
                f"could not connect to Azure Quantum workspace: {_first_lines(scrub(str(exc)))}"
            ) from None

    # ------------------------------------------------------------ provider calls
    def _provider_call(self, what: str, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` with transient SDK errors raised as :class:`AzureTransientError`."""

        def guarded() -> T:
            try:
                return call()
            except (TaskCancelledError, TaskTimeoutError, BackendUnavailableError):
                raise
            except Exception as exc:
                transient, status = is_azure_transient(exc)
                if transient:
                    http = f" (HTTP {status})" if status else ""
                    raise AzureTransientError(
                        f"Azure Quantum {what} failed{http}: {type(exc).__name__}: "
                        f"{_first_lines(scrub(str(exc)))}",
                        status_code=status,
                    ) from None
                raise

        return guarded

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        ctx = current_job()
        return retrying(self._provider_call(what, call), what=f"Azure Quantum {what}", ctx=ctx)

    # ------------------------------------------------------------ contract
    def _capabilities(self, name: str, backend: Any, target: Any) -> ResourceCapabilities:
        # AzureBackendBase.configuration() is deprecated (it warns) in azure-quantum 3.x;
        # ``_config`` is the AzureBackendConfig it returns.
        sdk_config = getattr(backend, "_config", None)
        simulator = bool(getattr(sdk_config, "simulator", ".sim" in name))
        max_shots = getattr(sdk_config, "max_shots", None)
        qubits = int(getattr(target, "num_qubits", None) or backend.num_qubits or 0)
        native = frozenset(
            canonical_gate(op) for op in backend.target.operation_names if op not in _NOT_GATES
        )
        return ResourceCapabilities(
            name=name,
            executor=self.executor,
            provider="azure",
            pilot=self.pilot,
            num_qubits=qubits,
            native_gates=native,
            coupling_map=None,  # the provider compiles to its device
            simulator=simulator,
            # Quantinuum's emulators run the device's noise model.
            noisy=not simulator or name.startswith("quantinuum.sim."),
            max_shots=int(max_shots) if max_shots else None,
            supports_exact=False,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def status(self, resource: str) -> ResourceStatus:
        self.check_resource(resource)
        found = self._retrying(
            f"status of {resource}", lambda: self._workspace.get_targets(name=resource)
        )
        target = found[0] if isinstance(found, list) and found else found
        if not target:
            return ResourceStatus(online=False, message="the workspace no longer lists it")
        availability = _availability(target)
        queue = target.average_queue_time
        return ResourceStatus(
            online=availability != "Unavailable",
            queue_depth=0,
            queue_seconds=float(queue) if queue is not None else None,
            typical_job_seconds=self.config.typical_job_seconds,
            message="" if availability == "Available" else availability,
        )

    # ------------------------------------------------------------ jobs
    def _transpile(self, resource: str, qc: QuantumCircuit) -> QuantumCircuit:
        """``qc`` in the gates the target's QIR translation takes (width kept: the
        provider places qubits itself)."""
        from qiskit import transpile

        basis = sorted(set(self._backends[resource].target.operation_names) - {"reset"})
        isa = transpile(qc, basis_gates=basis, optimization_level=self.config.optimization_level)
        return _pad_unmeasured(isa)

    def _run(self, resource: str, circuits: list[QuantumCircuit], shots: int) -> list[Any]:
        """Counts (Qiskit keys) of each circuit, one job each: all created, then awaited."""
        backend = self._backends[resource]
        ctx = current_job()
        name = f"qdreamer-{ctx.task_id}" if ctx is not None else "qdreamer"
        created = []
        for qc in (self._transpile(resource, c) for c in circuits):

            def create(qc: QuantumCircuit = qc) -> Any:
                return backend.run(qc, shots=shots, job_name=name)

            job = submit(
                create=self._provider_call(f"job submission to {resource}", create),
                attach=functools.partial(self._attach, create=create),
                job_id=lambda j: str(j.id()),
            )
            logger.info(
                "task %s: Azure Quantum job %s on %s: %d shots",
                ctx.task_id if ctx is not None else "-",
                job.id(),
                resource,
                shots,
            )
            created.append(job)
        return [self._wait(resource, job) for job in created]

    def _attach(self, job_id: str, create: Callable[[], Any]) -> Any:
        """The workspace's job ``job_id`` (a resumed task), else a new one."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._retrying(f"job {job_id}", lambda: self._provider.get_job(job_id))
        except ResourceNotFoundError:
            ctx = current_job()
            logger.warning(
                "task %s: Azure Quantum job %s is not known to the workspace; submitting anew",
                ctx.task_id if ctx is not None else "-",
                job_id,
            )
            return self._retrying(f"job resubmission for {job_id}", create)

    def _wait(self, resource: str, job: Any) -> dict[str, int]:
        """The job's counts, waiting as the task's job context allows (module docstring)."""
        from qiskit.providers import JobStatus

        ctx = current_job()
        job_id = str(job.id())
        poll = max(0.05, float(self.config.poll_interval_seconds))
        final = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)
        while True:
            if ctx is not None:
                ctx.check()
            state = self._retrying(f"status of job {job_id}", job.status)
            if state in final:
                break
            left = ctx.remaining() if ctx is not None else None
            if ctx is not None and left is not None and left <= 0:
                ctx.cancel("timed out")
                raise TaskTimeoutError(
                    f"task {ctx.task_id}: Azure Quantum job {job_id} on {resource} did not "
                    "finish before the task's timeout; the job was cancelled"
                )
            pause = poll if left is None else min(poll, left)
            if ctx is not None:
                ctx.cancelled.wait(pause)
            else:
                time.sleep(pause)
        if ctx is not None:
            ctx.check()
        where = f"task {ctx.task_id}: " if ctx is not None else ""
        if state == JobStatus.CANCELLED:
            raise TaskCancelledError(
                f"{where}Azure Quantum job {job_id} on {resource} was cancelled at the provider"
            )
        if state == JobStatus.ERROR:
            error = job._azure_job.details.error_data
            reason = f"{error.code}: {error.message}" if error is not None else "no error data"
            raise TaskFailedError(
                f"{where}Azure Quantum job {job_id} on {resource} failed: {scrub(reason)}"
            )
        result = self._retrying(f"result of job {job_id}", job.result)
        return {str(k): int(v) for k, v in result.get_counts().items()}

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is None:
            raise NotImplementedError
        circuits = list(circuits)
        for qc in circuits:
            # Final measurements only (capabilities declare no dynamic features): the
            # portable reading refuses a reset, a mid-circuit measurement or a branch,
            # naming it; the circuit itself is then sent as written.
            portable_from_qiskit(qc)
        counts = self._run(resource, circuits, shots)
        return [
            NativeOutput(
                counts=spaced_counts(
                    {k.replace(" ", ""): v for k, v in c.items()}, register_sizes(qc)
                ),
                metadata={"target": resource},
            )
            for c, qc in zip(counts, circuits, strict=True)
        ]

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [measured_circuit(pc.body, pc.measured) for pc in prepared]
        out = []
        for counts, pc in zip(self._run(resource, circuits, shots), prepared, strict=True):
            ordered: dict[str, int] = {}
            for key, value in counts.items():
                bits = bits_from_qiskit_key(key, len(pc.measured))
                ordered[bits] = ordered.get(bits, 0) + value
            out.append(ordered)
        return out

    def close(self) -> None:
        try:
            self._workspace.close()
        except Exception as exc:  # already closed
            logger.debug("pilot %s: closing the Azure workspace client: %s", self.pilot, exc)


def _refused(exc: BaseException) -> bool:
    """Did Azure refuse the credential (401/403, or azure-core's ClientAuthenticationError)?"""
    from azure.core.exceptions import ClientAuthenticationError

    return isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", None) in (
        401,
        403,
    )


def _pad_unmeasured(qc: QuantumCircuit) -> QuantumCircuit:
    """``qc`` with every classical bit no measurement writes measured from a fresh qubit.

    The SDK's QIR translation refuses an output bit nothing was measured into
    ("ensure all output registers have been measured into"); Qiskit reads such
    a bit as 0, and so does a fresh qubit measured into it.
    """
    written = {bit for inst in qc.data if inst.operation.name == "measure" for bit in inst.clbits}
    missing = [bit for bit in qc.clbits if bit not in written]
    if not missing:
        return qc
    from qiskit import QuantumRegister

    out = qc.copy()
    pad = QuantumRegister(len(missing), "qdreamer_pad")
    out.add_register(pad)
    for qubit, bit in zip(pad, missing, strict=True):
        out.measure(qubit, bit)
    return out


def _default_target(name: str, provider_id: str | None) -> bool:
    """Held when a pilot names no target: gate-model providers, without syntax checkers."""
    provider = str(provider_id or "").lower()
    return provider in DEFAULT_PROVIDERS and not name.lower().endswith("sc")


def _first_lines(text: str, lines: int = 3) -> str:
    """The first lines of a long SDK message (DefaultAzureCredential's lists every try)."""
    parts = [p.strip() for p in text.strip().splitlines() if p.strip()]
    return " ".join(parts[:lines]) + (" ..." if len(parts) > lines else "")

"""Every executor, registered in one place.

An executor name (as written in a pilot description's ``quantum.executor``)
maps to a backend class that is imported only when a pilot needs it, so a
missing SDK matters only to the executor that uses it, and its error carries
the exact install command (:func:`pilot.backends.loader.backend_class`).
This table is data: it imports no adapter, so configuration checks executor
names -- and the ``quantum`` keys each executor takes -- against it without
loading an SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from pilot.errors import ConfigError, MissingDependencyError


@dataclass(frozen=True)
class ExecutorSpec:
    name: str
    backend: str  # "module:Class"
    module: str  # import name whose presence means the SDK is installed
    install: str
    summary: str
    aliases: tuple[str, ...] = ()
    #: I/O-bound (remote jobs): the actor serves several tasks at once.
    remote: bool = False
    #: The ``quantum`` key that names its device (``"backends"``: a list of devices),
    #: or ``None`` when it holds one fixed device.
    device_key: str | None = None
    #: The ``quantum`` keys this executor takes beyond :data:`COMMON_OPTIONS`
    #: (field names of :class:`pilot.backends.options.QuantumConfig`); any other
    #: key in its description is a ``ConfigError`` (as a Qiskit backend's
    #: ``_default_options()`` or a PennyLane device's documented keyword set).
    options: tuple[str, ...] = ()

    def takes(self, key: str) -> bool:
        """Whether a description for this executor may set ``quantum.<key>``."""
        return key in COMMON_OPTIONS or key in self.options


#: ``quantum`` keys every executor takes: how many actors, their threads, and
#: what the service does when one fails.
COMMON_OPTIONS = ("executor", "actors", "max_concurrency", "failure_hold_seconds", "max_restarts")

# What a remote executor's adapter polls and retries by.
_REMOTE = ("poll_interval_seconds", "typical_job_seconds", "retries")
_IBM = (
    "backends", "backend", "ibmqx_token", "channel", "instance", "url", "proxy", "verify",
    "local", "local_backend", "mode", "session_max_time", "optimization_level", "seed",
)  # fmt: skip
_IONQ = ("backends", "backend", "ionq_api_key", "ionq_url", "seed", "optimization_level")
_BRAKET_AWS = ("braket_device_arn", "s3_bucket", "s3_prefix", "aws_region", *_REMOTE)
_AZURE = ("backends", "backend", "resource_id", "location", "url", "optimization_level", *_REMOTE)

_SPECS = (
    ExecutorSpec(
        "qiskit_local",
        "pilot.backends.qiskit:AerBackend",
        "qiskit_aer",
        "pip install qdreamer",
        "ideal Qiskit Aer simulator",
        aliases=("qiskit_aer", "aer", "qiskit_simulator", "qasm_simulator"),
        options=("method", "seed", "noise", "optimization_level"),
    ),
    ExecutorSpec(
        "qiskit_fake",
        "pilot.backends.qiskit:FakeBackend",
        "qiskit_ibm_runtime",
        "pip install 'qdreamer[ibm]'",
        "IBM fake devices (real calibration snapshots), noisy Aer simulation",
        device_key="backends",
        options=("backends", "backend", "method", "seed", "optimization_level"),
    ),
    ExecutorSpec(
        "ibm_runtime",
        "pilot.backends.ibm:IBMRuntimeBackend",
        "qiskit_ibm_runtime",
        "pip install 'qdreamer[ibm]'",
        "IBM Quantum Runtime SamplerV2 (quantum.local=true: local testing mode)",
        aliases=("ibmq", "ibm_quantum"),
        remote=True,
        device_key="backends",
        options=(*_IBM, *_REMOTE),
    ),
    ExecutorSpec(
        "pennylane_default",
        "pilot.backends.pennylane:PennyLaneBackend",
        "pennylane",
        "pip install 'qdreamer[pennylane]'",
        "PennyLane default.qubit",
        device_key="device",
        options=("device", "seed"),
    ),
    ExecutorSpec(
        "pennylane_lightning",
        "pilot.backends.pennylane:PennyLaneBackend",
        "pennylane_lightning",
        "pip install 'qdreamer[pennylane]'",
        "PennyLane lightning.qubit",
        device_key="device",
        options=("device", "seed"),
    ),
    ExecutorSpec(
        "torch_statevector",
        "pilot.backends.torch_sv:TorchStatevectorBackend",
        "torch",
        "pip install torch==2.13.0",
        "batched PyTorch statevector simulator (CUDA when the pilot has a GPU)",
        aliases=("torch_sv",),
        options=("precision", "seed"),
    ),
    ExecutorSpec(
        "braket_local",
        "pilot.backends.braket:BraketLocalBackend",
        "braket.devices",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket LocalSimulator",
        device_key="device",
        options=("device", "backend"),
    ),
    ExecutorSpec(
        "braket_sv1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket SV1 (AWS)",
        remote=True,
        options=_BRAKET_AWS,
    ),
    ExecutorSpec(
        "braket_dm1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket DM1 (AWS)",
        remote=True,
        options=_BRAKET_AWS,
    ),
    ExecutorSpec(
        "braket_tn1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket TN1 (AWS)",
        remote=True,
        options=_BRAKET_AWS,
    ),
    ExecutorSpec(
        "braket_qpu",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "an Amazon Braket QPU named by quantum.braket_device_arn (AWS)",
        remote=True,
        device_key="braket_device_arn",
        options=_BRAKET_AWS,
    ),
    ExecutorSpec(
        "ionq",
        "pilot.backends.ionq:IonQBackend",
        "qiskit_ionq",
        "pip install 'qdreamer[ionq]'",
        "IonQ Quantum Cloud (qiskit-ionq): the cloud simulator, ideal or with a QPU's noise "
        "model, and the QPUs",
        remote=True,
        device_key="backends",
        options=(*_IONQ, *_REMOTE),
    ),
    ExecutorSpec(
        "azure_quantum",
        "pilot.backends.azure_quantum:AzureQuantumBackend",
        "azure.quantum",
        "pip install 'qdreamer[azure]'",
        "an Azure Quantum workspace's targets (IonQ, Quantinuum, Rigetti) via azure-quantum",
        aliases=("azure",),
        remote=True,
        device_key="backends",
        options=_AZURE,
    ),
)

EXECUTORS: dict[str, ExecutorSpec] = {s.name: s for s in _SPECS}
ALIASES: dict[str, str] = {a: s.name for s in _SPECS for a in s.aliases}


def resolve_executor(name: str) -> ExecutorSpec:
    """The spec for an executor name or alias (``ibmq_*`` means ``ibm_runtime``)."""
    key = str(name).strip().lower()
    if key in EXECUTORS:
        return EXECUTORS[key]
    if key in ALIASES:
        return EXECUTORS[ALIASES[key]]
    if key.startswith("ibmq_"):
        return EXECUTORS["ibm_runtime"]
    raise ConfigError.unknown("executor", "quantum.executor", str(name), EXECUTORS)


def executors_taking(key: str) -> list[str]:
    """The executors whose descriptions may set ``quantum.<key>`` (for error messages)."""
    return [s.name for s in _SPECS if key in s.options]


def check_installed(spec: ExecutorSpec) -> None:
    """Raise ``MissingDependencyError`` with the install command if the SDK is absent."""
    try:
        found = importlib.util.find_spec(spec.module) is not None
    except (ModuleNotFoundError, ValueError):  # ValueError: a module blocked in sys.modules
        found = False
    if not found:
        raise MissingDependencyError(spec.name, spec.module, spec.install)

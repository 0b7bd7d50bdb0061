"""Every executor, registered in one place.

An executor name (as written in a pilot description's ``quantum.executor``)
maps to a backend class that is imported only when a pilot needs it, so a
missing SDK matters only to the executor that uses it, and its error carries
the exact install command (:func:`pilot.backends.loader.backend_class`).
This table is data: it imports no adapter, so configuration checks executor
names against it without loading an SDK.
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


_SPECS = (
    ExecutorSpec(
        "qiskit_local",
        "pilot.backends.qiskit:AerBackend",
        "qiskit_aer",
        "pip install qdreamer",
        "ideal Qiskit Aer simulator",
        aliases=("qiskit_aer", "aer", "qiskit_simulator", "qasm_simulator"),
    ),
    ExecutorSpec(
        "qiskit_fake",
        "pilot.backends.qiskit:FakeBackend",
        "qiskit_ibm_runtime",
        "pip install 'qdreamer[ibm]'",
        "IBM fake devices (real calibration snapshots), noisy Aer simulation",
        device_key="backends",
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
    ),
    ExecutorSpec(
        "pennylane_default",
        "pilot.backends.pennylane:PennyLaneBackend",
        "pennylane",
        "pip install 'qdreamer[pennylane]'",
        "PennyLane default.qubit",
        device_key="device",
    ),
    ExecutorSpec(
        "pennylane_lightning",
        "pilot.backends.pennylane:PennyLaneBackend",
        "pennylane_lightning",
        "pip install 'qdreamer[pennylane]'",
        "PennyLane lightning.qubit",
        device_key="device",
    ),
    ExecutorSpec(
        "torch_statevector",
        "pilot.backends.torch_sv:TorchStatevectorBackend",
        "torch",
        "pip install torch==2.13.0",
        "batched PyTorch statevector simulator (CUDA when the pilot has a GPU)",
        aliases=("torch_sv",),
    ),
    ExecutorSpec(
        "braket_local",
        "pilot.backends.braket:BraketLocalBackend",
        "braket.devices",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket LocalSimulator",
        device_key="device",
    ),
    ExecutorSpec(
        "braket_sv1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket SV1 (AWS)",
        remote=True,
    ),
    ExecutorSpec(
        "braket_dm1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket DM1 (AWS)",
        remote=True,
    ),
    ExecutorSpec(
        "braket_tn1",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "Amazon Braket TN1 (AWS)",
        remote=True,
    ),
    ExecutorSpec(
        "braket_qpu",
        "pilot.backends.braket:BraketAwsBackend",
        "braket.aws",
        "pip install 'qdreamer[braket]'",
        "an Amazon Braket QPU named by quantum.braket_device_arn (AWS)",
        remote=True,
        device_key="braket_device_arn",
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


def check_installed(spec: ExecutorSpec) -> None:
    """Raise ``MissingDependencyError`` with the install command if the SDK is absent."""
    try:
        found = importlib.util.find_spec(spec.module) is not None
    except (ModuleNotFoundError, ValueError):  # ValueError: a module blocked in sys.modules
        found = False
    if not found:
        raise MissingDependencyError(spec.name, spec.module, spec.install)

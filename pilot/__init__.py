"""Qdreamer: hybrid quantum-classical workloads on Ray.

from pilot import PilotComputeService, ExecutionEngine, QuantumTask

with PilotComputeService() as pcs:
    pcs.create_pilot({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}})
    ref = pcs.submit_quantum_task(QuantumTask(circuit, shots=1000))
    print(pcs.get_results(ref).counts)
"""

import logging

from pilot.errors import (
    CircuitError,
    ConfigError,
    CredentialsError,
    MissingDependencyError,
    NoFeasibleResourceError,
    PilotError,
    PilotLostError,
    PilotStartError,
    PilotWaitWarning,
    SchedulingError,
    ServiceClosedError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
    UnsupportedOperationError,
)
from pilot.pilots.pilot import ClassicalPilot, Pilot, QuantumPilot
from pilot.redaction import install_log_redaction
from pilot.results import QuantumResult
from pilot.runtime.service import ExecutionEngine, PilotComputeService
from pilot.states import TERMINAL_STATES, PilotState
from pilot.tasks import QuantumTask

logging.getLogger(__name__).addHandler(logging.NullHandler())
install_log_redaction()  # secrets masked in every pilot/dreamer log record

__version__ = "0.1.0"

__all__ = [
    "TERMINAL_STATES",
    "CircuitError",
    "ClassicalPilot",
    "ConfigError",
    "CredentialsError",
    "ExecutionEngine",
    "MissingDependencyError",
    "NoFeasibleResourceError",
    "Pilot",
    "PilotComputeService",
    "PilotError",
    "PilotLostError",
    "PilotStartError",
    "PilotState",
    "PilotWaitWarning",
    "QuantumPilot",
    "QuantumResult",
    "QuantumTask",
    "SchedulingError",
    "ServiceClosedError",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnsupportedOperationError",
]

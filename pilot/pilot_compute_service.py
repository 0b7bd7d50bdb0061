"""The import path QTAU programs use.

``from pilot.pilot_compute_service import PilotComputeService, ExecutionEngine``
"""

from pilot.runtime.service import ExecutionEngine, PilotComputeService

__all__ = ["ExecutionEngine", "PilotComputeService"]

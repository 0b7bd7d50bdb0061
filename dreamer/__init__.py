"""QDREAMER: choose quantum resources for tasks.  Pure Python.

This package never imports ray or a quantum SDK (``tests/test_layering.py``
checks it): adapters in ``pilot.backends`` turn SDK objects into the plain data
defined here, so selection logic is testable in milliseconds.
"""

import logging

from dreamer.errors import DreamerError, NoFeasibleResourceError
from dreamer.feasibility import rejection_reasons
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.selector import Candidate, first_feasible, judge
from dreamer.workload import (
    GATE_ALIASES,
    NON_GATES,
    TaskRequirements,
    canonical_gate,
    canonical_gates,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "GATE_ALIASES",
    "NON_GATES",
    "Candidate",
    "DreamerError",
    "NoFeasibleResourceError",
    "ResourceCapabilities",
    "ResourceStatus",
    "TaskRequirements",
    "canonical_gate",
    "canonical_gates",
    "first_feasible",
    "judge",
    "rejection_reasons",
]

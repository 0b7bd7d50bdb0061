"""The import path QTAU programs use: ``from pilot.dreamer import QuantumTask``.

The QDREAMER selection logic itself lives in the top-level ``dreamer`` package.
"""

from pilot.results import QuantumResult
from pilot.selection import QDreamer
from pilot.tasks import QuantumTask

__all__ = ["QDreamer", "QuantumResult", "QuantumTask"]

"""Executor families: one adapter per SDK, registered in :mod:`pilot.backends.registry`."""

from pilot.backends.base import NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.registry import EXECUTORS, ExecutorSpec, resolve_executor

__all__ = [
    "EXECUTORS",
    "ExecutorSpec",
    "NativeOutput",
    "PreparedCircuit",
    "QuantumBackend",
    "resolve_executor",
]

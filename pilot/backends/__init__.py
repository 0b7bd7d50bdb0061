"""Executor families: one adapter per SDK, registered in :mod:`pilot.backends.registry`."""

from pilot.backends.base import Job, NativeOutput, QuantumBackend
from pilot.backends.registry import EXECUTORS, ExecutorSpec, resolve_executor

__all__ = ["EXECUTORS", "ExecutorSpec", "Job", "NativeOutput", "QuantumBackend", "resolve_executor"]

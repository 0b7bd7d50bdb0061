"""An executor's backend class, imported when a pilot's actor starts it."""

from __future__ import annotations

import importlib

from pilot.backends.base import QuantumBackend
from pilot.backends.registry import ExecutorSpec, check_installed


def backend_class(spec: ExecutorSpec) -> type[QuantumBackend]:
    """The class named by ``spec.backend`` (``"module:Class"``); a missing SDK raises
    ``MissingDependencyError`` with its install command."""
    check_installed(spec)
    module_name, cls_name = spec.backend.split(":")
    cls: type[QuantumBackend] = getattr(importlib.import_module(module_name), cls_name)
    return cls

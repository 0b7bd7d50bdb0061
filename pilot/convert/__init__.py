"""Circuit formats: load any of them, run the result anywhere.

See :mod:`pilot.convert.portable` for the counts-key conventions.
"""

from pilot.convert.load import ACCEPTED, is_circuit_object, load_circuit
from pilot.convert.portable import (
    KeyFormat,
    LoadedCircuit,
    Observable,
    PauliTerm,
    PortableCircuit,
)

__all__ = [
    "ACCEPTED",
    "KeyFormat",
    "LoadedCircuit",
    "Observable",
    "PauliTerm",
    "PortableCircuit",
    "is_circuit_object",
    "load_circuit",
]

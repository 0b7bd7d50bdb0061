"""Load any supported circuit format into a :class:`LoadedCircuit`.

Accepted: a Qiskit ``QuantumCircuit``; an OpenQASM 2 or 3 string; the seed-002
gate dict; a Braket ``Circuit``; a PennyLane QNode, quantum function or tape;
or a callable returning any of these (called with the task's ``args`` and
``kwargs``).  A plain function is a PennyLane quantum function when calling it
queues PennyLane operations; otherwise it must return a circuit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pilot.convert.braket import from_braket
from pilot.convert.gatedict import from_gatedict
from pilot.convert.pennylane import (
    call_quantum_function,
    from_pennylane,
    is_pennylane_object,
    tape_from,
    tape_from_queue,
)
from pilot.convert.portable import LoadedCircuit
from pilot.convert.qiskit import from_qasm, from_qiskit, looks_like_qasm
from pilot.errors import CircuitError

ACCEPTED = (
    "a Qiskit QuantumCircuit, an OpenQASM 2/3 string, a gate dict "
    "({'gates': [...], 'n_qubits': n}), a Braket Circuit, a PennyLane QNode or "
    "quantum function, or a callable returning one of these"
)


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def is_qiskit_circuit(obj: Any) -> bool:
    if not _module(obj).startswith("qiskit"):
        return False
    from qiskit import QuantumCircuit

    return isinstance(obj, QuantumCircuit)


def is_braket_circuit(obj: Any) -> bool:
    return _module(obj).startswith("braket.circuits") and type(obj).__name__ == "Circuit"


def is_circuit_object(obj: Any) -> bool:
    """A circuit value (not a callable that builds one)."""
    if isinstance(obj, (str, dict)) or is_qiskit_circuit(obj) or is_braket_circuit(obj):
        return True
    return is_pennylane_object(obj) and _is_pennylane_circuit(obj)


def _is_pennylane_circuit(obj: Any) -> bool:
    import pennylane as qml

    return isinstance(obj, (qml.QNode, qml.tape.QuantumScript))


def load_circuit(
    obj: Any, args: tuple = (), kwargs: dict | None = None, *, _depth: int = 0
) -> LoadedCircuit:
    """Load ``obj`` (see the module docstring); raise ``CircuitError`` otherwise."""
    kwargs = kwargs or {}
    if is_qiskit_circuit(obj):
        return from_qiskit(obj)
    if isinstance(obj, str):
        if not looks_like_qasm(obj):
            preview = obj.strip().splitlines()[0][:60] if obj.strip() else "(empty)"
            raise CircuitError(
                f"string circuit is not OpenQASM (no 'OPENQASM 2.0;'/'OPENQASM 3.0;' "
                f"header or qubit declaration); it starts with: {preview!r}",
                line=1,
                source_format="qasm",
            )
        return from_qasm(obj)
    if isinstance(obj, dict):
        return from_gatedict(obj)
    if is_braket_circuit(obj):
        return from_braket(obj)
    if is_pennylane_object(obj) and _is_pennylane_circuit(obj):
        name = getattr(getattr(obj, "func", None), "__name__", "pennylane_circuit")
        return from_pennylane(tape_from(obj, args, kwargs), name)
    if callable(obj):
        if _depth > 3:
            raise CircuitError(f"circuit callables nest too deeply; expected {ACCEPTED}")
        return _load_callable(obj, args, kwargs, _depth)
    raise CircuitError(f"cannot run a {type(obj).__name__} as a circuit; expected {ACCEPTED}")


def _load_callable(fn: Callable[..., Any], args: tuple, kwargs: dict, depth: int) -> LoadedCircuit:
    name = getattr(fn, "__name__", type(fn).__name__)
    out, queue = call_quantum_function(fn, args, kwargs)
    if out is not None and (is_circuit_object(out) or callable(out)):
        return load_circuit(out, _depth=depth + 1)
    if queue is not None and (len(queue) or out is not None):
        try:
            tape = tape_from_queue(queue, out)
        except Exception as exc:
            raise CircuitError(
                f"circuit callable {name!r} returned {type(out).__name__}; expected {ACCEPTED}"
            ) from exc
        if tape.operations or tape.measurements:
            return from_pennylane(tape, name)
    raise CircuitError(
        f"circuit callable {name!r} returned {type(out).__name__ if out is not None else 'None'}; "
        f"it must return {ACCEPTED}"
    )

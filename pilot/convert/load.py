"""Load any supported circuit format into a :class:`LoadedCircuit`.

Accepted: a Qiskit ``QuantumCircuit``; an OpenQASM 2 or 3 string; the seed-002
gate dict; a Braket ``Circuit``; a PennyLane QNode, quantum function or tape;
or a callable returning any of these (called with the task's ``args`` and
``kwargs``).  A plain function is a PennyLane quantum function when calling it
queues PennyLane operations; otherwise it must return a circuit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
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
from pilot.errors import CircuitError, ConfigError, closest

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
    obj: Any,
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    parameters: Any = None,
    _depth: int = 0,
) -> LoadedCircuit:
    """Load ``obj`` (see the module docstring); raise ``CircuitError`` otherwise.

    ``parameters`` is one parameter set of a sweep (``QuantumTask(...,
    parameter_values=[...])``), bound into the circuit: see :func:`bind_values`.
    """
    kwargs = kwargs or {}
    if parameters is not None:
        return _load_bound(obj, args, kwargs, parameters)
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


def parameter_names(obj: Any) -> list[str] | None:
    """The circuit's parameters in ``parameter_values`` order, or ``None`` if only the
    worker can tell (a callable receives each set as its last positional argument)."""
    if is_qiskit_circuit(obj):
        return [p.name for p in obj.parameters]
    if is_braket_circuit(obj):
        return sorted(p.name for p in obj.parameters)
    if isinstance(obj, dict):
        return []
    return None


def bind_values(names: list[str], values: Any, where: str) -> dict[str, float]:
    """One parameter set (a sequence in ``names`` order, or a mapping by name) by name."""
    if not names:
        raise ConfigError(
            f"{where}: the circuit has no free parameters to bind; drop parameter_values "
            "or give a circuit with parameters",
            key="parameter_values",
        )
    if isinstance(values, Mapping):
        given = {str(getattr(k, "name", k)): v for k, v in values.items()}
        missing = [n for n in names if n not in given]
        unknown = [n for n in given if n not in names]
        if missing or unknown:
            raise ConfigError(
                f"{where}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unknown {', '.join(unknown)}" if unknown else "",
                    )
                    if part
                )
                + f"; the circuit's parameters are ({', '.join(names)})",
                key="parameter_values",
                suggestion=closest(unknown[0], names) if unknown else None,
            )
        return {n: float(given[n]) for n in names}
    flat = list(values)
    if len(flat) != len(names):
        raise ConfigError(
            f"{where} has {len(flat)} values but the circuit has {len(names)} parameters "
            f"({', '.join(names)}), in this order",
            key="parameter_values",
        )
    return {n: float(v) for n, v in zip(names, flat, strict=True)}


def _load_bound(obj: Any, args: tuple, kwargs: dict, values: Any) -> LoadedCircuit:
    if is_qiskit_circuit(obj):
        bound = bind_values([p.name for p in obj.parameters], values, "parameter set")
        return from_qiskit(obj.assign_parameters([bound[p.name] for p in obj.parameters]))
    if isinstance(obj, str) and looks_like_qasm(obj):
        return from_qasm(obj, lambda qc: _load_bound(qc, (), {}, values).native)
    if is_braket_circuit(obj):
        names = sorted(p.name for p in obj.parameters)
        return from_braket(obj.make_bound_circuit(bind_values(names, values, "parameter set")))
    if isinstance(obj, dict):
        bind_values([], values, "parameter set")
    if callable(obj) and not isinstance(obj, type):
        import numpy as np

        return load_circuit(obj, (*args, np.asarray(values, dtype=float)), kwargs)
    raise CircuitError(
        f"cannot bind parameter_values into a {type(obj).__name__}; give a Qiskit circuit "
        "with Parameters, a Braket circuit with FreeParameters, OpenQASM 3 with inputs, or "
        "a function/QNode taking the parameter set as its last argument"
    )


def _load_callable(fn: Callable[..., Any], args: tuple, kwargs: dict, depth: int) -> LoadedCircuit:
    name = getattr(fn, "__name__", type(fn).__name__)
    if "pennylane" not in sys.modules:
        # Without PennyLane loaded, the function cannot be a PennyLane quantum function
        # (its operations would need it): call it as it is, and do not import PennyLane
        # (seconds) to record what it queues -- unless it imported PennyLane itself
        # and returned no circuit, which is then recorded by calling it again.
        out = fn(*args, **kwargs)
        if out is not None and (is_circuit_object(out) or callable(out)):
            return load_circuit(out, _depth=depth + 1)
        if "pennylane" not in sys.modules:
            raise CircuitError(
                f"circuit callable {name!r} returned "
                f"{type(out).__name__ if out is not None else 'None'}; it must return {ACCEPTED}"
            )
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

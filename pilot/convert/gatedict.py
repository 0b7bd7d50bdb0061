"""The gate dict of seed 002.

::

    {"gates": [{"type": "h", "qubit": 0},
               {"type": "cx", "control": 0, "target": 1},
               {"type": "ry", "qubit": 0, "angle": 0.785}],
     "n_qubits": 2,
     "measure": [0, 1]}           # optional; default: every qubit in order

Gate ``type`` takes any spelling in :data:`dreamer.GATE_ALIASES` (``cnot``,
``CNOT``, ``hadamard``...).  Qubits are given as ``qubit``, ``qubits``/``wires``
(a list), or ``control``/``controls`` + ``target``/``targets``; angles as
``angle``, ``angles``, ``params`` or ``parameters``.  Counts keys list the
measured qubits in order, qubit 0 leftmost by default.
"""

from __future__ import annotations

import math
from typing import Any

from dreamer.workload import canonical_gate
from pilot.convert.gates import GATES
from pilot.convert.portable import MAX_QUBITS, KeyFormat, LoadedCircuit, PortableCircuit
from pilot.errors import CircuitError, closest

_QUBIT_KEYS = ("qubit", "qubits", "wires", "control", "controls", "target", "targets")
_ANGLE_KEYS = ("angle", "angles", "params", "parameters", "theta")
_KNOWN_KEYS = frozenset(("type", "name", *_QUBIT_KEYS, *_ANGLE_KEYS))
_TOP_KEYS = frozenset(
    ("gates", "n_qubits", "num_qubits", "measure", "measurements", "name", "parameters", "shots")
)


def _err(msg: str) -> CircuitError:
    return CircuitError(f"gate dict: {msg}", source_format="gatedict")


def _as_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _err(f"{where}: expected a non-negative integer qubit index, got {value!r}")
    if value >= MAX_QUBITS:
        # Refused before a circuit that wide is built (memory and time without bound).
        raise _err(
            f"{where}: qubit {value} is beyond the {MAX_QUBITS} qubits circuits are read up to "
            "(more than any device or simulator offers)"
        )
    return value


def _float(value: Any, where: str) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _err(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _err(f"{where}: expected a finite angle, got {value!r}")
    return number


def from_gatedict(spec: dict[str, Any]) -> LoadedCircuit:
    from qiskit import QuantumCircuit

    unknown = set(spec) - _TOP_KEYS
    if unknown:
        key = sorted(unknown, key=str)[0]  # keys may be of any hashable type
        hint = closest(str(key), _TOP_KEYS)
        raise _err(f"unknown key {key!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
    gates = spec.get("gates")
    if not isinstance(gates, (list, tuple)):
        raise _err("'gates' must be a list of {'type': ..., 'qubit': ...} entries")
    ops: list[tuple[str, list[int], list[float]]] = []
    measure: list[int] = []
    for i, g in enumerate(gates):
        where = f"gates[{i}]"
        if not isinstance(g, dict):
            raise _err(f"{where}: expected a dict, got {type(g).__name__}")
        bad = set(g) - _KNOWN_KEYS
        if bad:
            key = sorted(bad, key=str)[0]
            hint = closest(str(key), _KNOWN_KEYS)
            raise _err(
                f"{where}: unknown key {key!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            )
        raw = g.get("type", g.get("name"))
        if not isinstance(raw, str):
            raise _err(f"{where}: missing gate 'type'")
        name = canonical_gate(raw)
        qubits: list[int] = []
        for key in ("control", "controls", "qubit", "qubits", "wires", "target", "targets"):
            if key in g:
                qubits += [_int(q, f"{where}.{key}") for q in _as_list(g[key], where)]
        if name == "measure":
            measure += [q for q in qubits if q not in measure]
            continue
        if name == "barrier":
            continue
        gspec = GATES.get(name)
        if gspec is None:
            hint = closest(name, GATES)
            raise _err(
                f"{where}: unknown gate type {raw!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f"; known: {', '.join(sorted(GATES))}"
            )
        if len(qubits) != gspec.num_qubits:
            raise _err(f"{where}: {name} acts on {gspec.num_qubits} qubit(s), got {qubits}")
        if len(set(qubits)) != len(qubits):
            raise _err(f"{where}: {name} repeats a qubit: {qubits}")
        angles: list[float] = []
        for key in _ANGLE_KEYS:
            if key in g:
                angles += [_float(a, f"{where}.{key}") for a in _as_list(g[key], where)]
        if len(angles) != gspec.num_params:
            raise _err(f"{where}: {name} takes {gspec.num_params} angle(s), got {len(angles)}")
        ops.append((name, qubits, angles))
    used = [q for _, qs, _ in ops for q in qs] + measure
    size_key = "n_qubits" if "n_qubits" in spec else "num_qubits"
    declared = spec.get(size_key)
    width = max(used) + 1 if used else 1
    if declared is not None:
        if isinstance(declared, bool) or not isinstance(declared, int) or declared < 0:
            raise _err(f"{size_key}: expected a non-negative integer, got {declared!r}")
        if declared > MAX_QUBITS:
            raise _err(
                f"{size_key}={declared}: circuits are read up to {MAX_QUBITS} qubits (more than "
                "any device or simulator offers)"
            )
        if declared < width:
            raise _err(f"{size_key}={declared} but gates use qubit {width - 1}")
        width = max(declared, 1)
    for key in ("measure", "measurements"):
        if key in spec:
            measure = [_int(q, key) for q in _as_list(spec[key], key)]
            if any(q >= width for q in measure):
                raise _err(f"{key}: qubit index out of range for {width} qubits")
    explicit = bool(measure)
    if not measure:
        measure = list(range(width))

    body = QuantumCircuit(width, name=str(spec.get("name", "gatedict")))
    for name, qubits, angles in ops:
        getattr(body, name)(*angles, *qubits)
    portable = PortableCircuit(body=body, measured=tuple(measure), keys=KeyFormat(None))
    return LoadedCircuit(
        source_format="gatedict",
        native=body,
        num_qubits=width,
        gates=frozenset(name for name, _, _ in ops),
        name=body.name,
        to_portable=lambda: portable,
        measures=explicit,
    )

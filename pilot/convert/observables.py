"""Observables given to ``QuantumTask(..., observables=[...])``, as Pauli sums.

Each entry is one observable whose expectation value the task reports:

* a Pauli string, one character per qubit from ``I X Y Z`` (e.g. ``"ZZ"``);
* a dict ``{pauli string: real coefficient}``, a Pauli sum such as a Hamiltonian;
* an SDK object: Qiskit ``SparsePauliOp`` / ``Pauli``, a PennyLane operator
  made of Pauli words (``qml.Z(0) @ qml.Z(1)``, ``qml.Hamiltonian``,
  ``qml.dot``, sums), or a Braket ``Observable`` spanning every qubit.

Strings follow the convention of the framework the circuit was written in,
as counts keys do: for Qiskit circuits and OpenQASM the *rightmost* character
is qubit 0 (Qiskit's ``Pauli("ZI")`` is Z on qubit 1); for PennyLane, Braket
and gate-dict circuits the *leftmost* character is qubit (wire) 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pilot.convert.braket import _observable
from pilot.convert.pennylane import pauli_sum
from pilot.convert.portable import LoadedCircuit, Observable, PauliTerm
from pilot.errors import ConfigError, UnsupportedOperationError

#: Source formats whose Pauli strings put qubit 0 on the right.
QISKIT_ORDER = frozenset({"qiskit", "qasm2", "qasm3"})


def check_observables(observables: Any) -> tuple[Any, ...]:
    """Validate what can be checked without the circuit (types, characters, coefficients)."""
    if isinstance(observables, (str, Mapping)) or not isinstance(observables, Sequence):
        if _is_sdk_observable(observables) or isinstance(observables, (str, Mapping)):
            raise ConfigError(
                f"observables must be a list, one entry per expectation value; "
                f"wrap it: observables=[{observables!r}]",
                key="observables",
            )
        raise ConfigError(
            f"observables must be a list of Pauli strings, {{pauli: coeff}} dicts or SDK "
            f"observables, got {type(observables).__name__}",
            key="observables",
        )
    if not observables:
        raise ConfigError("observables is empty; omit it or list at least one", key="observables")
    for i, obs in enumerate(observables):
        if isinstance(obs, str):
            _check_word(obs, i)
        elif isinstance(obs, Mapping):
            if not obs:
                raise ConfigError(f"observables[{i}] is an empty Pauli sum", key="observables")
            for word, coeff in obs.items():
                if not isinstance(word, str):
                    raise ConfigError(
                        f"observables[{i}]: keys must be Pauli strings, got {word!r}",
                        key="observables",
                    )
                _check_word(word, i)
                _coefficient(coeff, i, word)
        elif not _is_sdk_observable(obs):
            raise ConfigError(
                f"observables[{i}] is a {type(obs).__name__}; expected a Pauli string like "
                "'ZZ', a {pauli: coeff} dict, a Qiskit SparsePauliOp/Pauli, a PennyLane "
                "operator or a Braket Observable",
                key="observables",
            )
    return tuple(observables)


def _check_word(word: str, i: int) -> None:
    bad = sorted(set(word.upper()) - set("IXYZ"))
    if not word or bad:
        raise ConfigError(
            f"observables[{i}]={word!r} is not a Pauli string: use one of I, X, Y, Z per qubit"
            + (f" (found {', '.join(map(repr, bad))})" if bad else ""),
            key="observables",
        )


def _coefficient(coeff: Any, i: int, word: str) -> float:
    def wrong() -> ConfigError:
        return ConfigError(
            f"observables[{i}]: coefficient of {word!r} must be a finite number, got {coeff!r}",
            key="observables",
        )

    if isinstance(coeff, (str, bytes, bool)):
        raise wrong()
    try:
        value = complex(coeff) if not isinstance(coeff, (int, float)) else float(coeff)
    except (TypeError, ValueError, OverflowError):
        raise wrong() from None
    if isinstance(value, complex):
        if abs(value.imag) > 1e-12:
            raise ConfigError(
                f"observables[{i}]: coefficient of {word!r} is {coeff!r}; an observable "
                "needs real coefficients",
                key="observables",
            )
        value = value.real
    if not math.isfinite(value):
        raise wrong()
    return float(value)


def _is_sdk_observable(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith(("qiskit", "pennylane", "braket"))


def with_observables(loaded: LoadedCircuit, observables: tuple[Any, ...]) -> LoadedCircuit:
    """``loaded``, also reporting ``observables`` (converted and checked against its width now)."""
    if loaded.needs:
        raise UnsupportedOperationError(
            "observables of a dynamic circuit",
            None,
            "a circuit with mid-circuit measurements, resets or branches reports counts; "
            "drop observables=... (or measure only at the end)",
        )
    sums = to_pauli_sums(observables, loaded.num_qubits, loaded.source_format, loaded.wires)
    return replace(loaded, observables=observables, observable_sums=sums, _portable=None)


def to_pauli_sums(
    observables: Sequence[Any],
    width: int,
    source_format: str,
    wires: Mapping[Any, int] | None = None,
) -> tuple[Observable, ...]:
    """Each observable as a Pauli sum over qubits ``0..width-1``.

    ``wires`` maps PennyLane wire labels to qubit indices (identity when omitted).
    """
    return tuple(_one(obs, i, width, source_format, wires) for i, obs in enumerate(observables))


def _one(
    obs: Any, i: int, width: int, source_format: str, wires: Mapping[Any, int] | None
) -> Observable:
    reverse = source_format in QISKIT_ORDER
    if isinstance(obs, str):
        return (_word_term(obs, 1.0, i, width, reverse),)
    if isinstance(obs, Mapping):
        return tuple(
            _word_term(w, _coefficient(c, i, w), i, width, reverse) for w, c in obs.items()
        )
    module = type(obs).__module__ or ""
    if module.startswith("qiskit"):
        return _from_qiskit(obs, i, width)
    if module.startswith("pennylane"):
        wmap = dict(wires) if wires is not None else {q: q for q in range(width)}
        try:
            terms = pauli_sum(obs, _Wires(wmap, i, width))
        except _WireError as exc:
            raise ConfigError(exc.args[0], key="observables") from None
        return terms
    if module.startswith("braket"):
        count = int(getattr(obs, "qubit_count", 0) or 0)
        if count != width:
            raise ConfigError(
                f"observables[{i}]: the Braket observable acts on {count} qubits but the "
                f"circuit has {width}; give a tensor product over all {width} qubits (use "
                "Observable.I() for the others)",
                key="observables",
            )
        return _observable(obs, list(range(width)))
    raise ConfigError(f"observables[{i}]: unsupported {type(obs).__name__}", key="observables")


def _word_term(word: str, coeff: float, i: int, width: int, reverse: bool) -> PauliTerm:
    if len(word) != width:
        order = "rightmost character is qubit 0" if reverse else "leftmost character is qubit 0"
        raise ConfigError(
            f"observables[{i}]={word!r} has {len(word)} characters but the circuit has "
            f"{width} qubits; give one Pauli per qubit ({order})",
            key="observables",
        )
    letters = word.upper()[::-1] if reverse else word.upper()
    return PauliTerm(coeff, tuple((q, p) for q, p in enumerate(letters) if p != "I"))


def _from_qiskit(obs: Any, i: int, width: int) -> Observable:
    from qiskit.quantum_info import Pauli, SparsePauliOp

    if isinstance(obs, Pauli):
        obs = SparsePauliOp(obs)
    if not isinstance(obs, SparsePauliOp):
        raise ConfigError(
            f"observables[{i}]: a Qiskit {type(obs).__name__} is not supported; "
            "use SparsePauliOp or Pauli",
            key="observables",
        )
    if obs.num_qubits != width:
        raise ConfigError(
            f"observables[{i}] acts on {obs.num_qubits} qubits but the circuit has {width}",
            key="observables",
        )
    terms = []
    for label, coeff in obs.to_list():
        # Pauli labels may carry a phase prefix only for non-Hermitian products.
        terms.append(_word_term(label, _coefficient(coeff, i, label), i, width, True))
    return tuple(terms)


class _WireError(KeyError):
    pass


class _Wires(dict[Any, int]):
    """A wire map that names a missing wire (PennyLane observables on unknown wires)."""

    def __init__(self, wmap: Mapping[Any, int], i: int, width: int) -> None:
        super().__init__(wmap)
        self._i = i
        self._width = width

    def __missing__(self, wire: Any) -> int:
        raise _WireError(
            f"observables[{self._i}] acts on wire {wire!r}, which the circuit does not use "
            f"(its wires: {sorted(self, key=str)})"
        )

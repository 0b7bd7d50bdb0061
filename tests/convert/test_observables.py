"""Observables as Pauli sums: conventions per framework, SDK objects, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from pilot import QuantumTask
from pilot.convert.observables import check_observables, to_pauli_sums
from pilot.convert.portable import PauliTerm
from pilot.errors import ConfigError


def one_qubit_circuit() -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3)
    qc.x(0)
    return qc


def test_qiskit_strings_put_qubit_0_on_the_right() -> None:
    assert to_pauli_sums(["IXZ"], 3, "qiskit") == ((PauliTerm(1.0, ((0, "Z"), (1, "X"))),),)
    assert to_pauli_sums(["IXZ"], 3, "qasm3") == ((PauliTerm(1.0, ((0, "Z"), (1, "X"))),),)


@pytest.mark.parametrize("fmt", ["pennylane", "braket", "gatedict"])
def test_other_strings_put_qubit_0_on_the_left(fmt: str) -> None:
    assert to_pauli_sums(["IXZ"], 3, fmt) == ((PauliTerm(1.0, ((1, "X"), (2, "Z"))),),)


def test_pauli_sums_keep_coefficients_and_identity() -> None:
    (obs,) = to_pauli_sums([{"ZZ": 0.5, "II": -1.0, "xi": 2}], 2, "pennylane")
    assert obs == (
        PauliTerm(0.5, ((0, "Z"), (1, "Z"))),
        PauliTerm(-1.0, ()),
        PauliTerm(2.0, ((0, "X"),)),
    )


def test_sdk_observables_convert() -> None:
    import pennylane as qml
    from braket.circuits import Observable
    from qiskit.quantum_info import Pauli, SparsePauliOp

    assert to_pauli_sums([SparsePauliOp(["XZ"], [0.5])], 2, "qiskit") == (
        (PauliTerm(0.5, ((0, "Z"), (1, "X"))),),
    )
    assert to_pauli_sums([Pauli("ZI")], 2, "qiskit") == ((PauliTerm(1.0, ((1, "Z"),)),),)
    ((term,),) = to_pauli_sums([2.0 * (qml.X(0) @ qml.Z(1))], 2, "pennylane")
    assert term == PauliTerm(2.0, ((0, "X"), (1, "Z")))
    assert to_pauli_sums([Observable.X() @ Observable.Z()], 2, "braket") == (
        (PauliTerm(1.0, ((0, "X"), (1, "Z"))),),
    )


@pytest.mark.parametrize(
    ("observables", "message"),
    [
        ("ZZ", r"observables must be a list.*wrap it: observables=\['ZZ'\]"),
        ({"ZZ": 1}, r"observables must be a list.*wrap it"),
        ([], r"observables is empty"),
        (["ZQ"], r"observables\[0\]='ZQ' is not a Pauli string.*found 'Q'"),
        ([{"ZZ": 1j}], r"coefficient of 'ZZ' is 1j; an observable needs real coefficients"),
        ([{"ZZ": float("inf")}], r"coefficient of 'ZZ' must be a finite number"),
        ([3], r"observables\[0\] is a int; expected a Pauli string"),
        ([{}], r"observables\[0\] is an empty Pauli sum"),
    ],
)
def test_bad_observables_are_refused_at_construction(observables: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        QuantumTask(one_qubit_circuit(), observables=observables)
    with pytest.raises(ConfigError, match=message):
        check_observables(observables)


def test_width_mismatches_name_the_observable_and_the_order() -> None:
    task = QuantumTask(one_qubit_circuit(), observables=["ZZZ", "ZZ"], shots=None)
    with pytest.raises(
        ConfigError,
        match=r"observables\[1\]='ZZ' has 2 characters but the circuit has 3 qubits.*"
        r"rightmost character is qubit 0",
    ):
        task.load_on_driver()


def test_sdk_width_mismatches_are_refused() -> None:
    import pennylane as qml
    from braket.circuits import Observable
    from qiskit.quantum_info import SparsePauliOp

    with pytest.raises(ConfigError, match=r"acts on 2 qubits but the circuit has 3"):
        to_pauli_sums([SparsePauliOp("ZZ")], 3, "qiskit")
    with pytest.raises(ConfigError, match=r"acts on wire 5, which the circuit does not use"):
        to_pauli_sums([qml.Z(5)], 3, "pennylane", {0: 0, 1: 1, 2: 2})
    with pytest.raises(ConfigError, match=r"Braket observable acts on 1 qubits .* has 3"):
        to_pauli_sums([Observable.Z()], 3, "braket")

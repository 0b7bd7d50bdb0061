"""Loading every circuit format: widths, gates, measurement layout, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from pilot.convert import load_circuit
from pilot.errors import CircuitError, UnsupportedOperationError


def test_qiskit_circuit_gates_and_keys() -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3, 2)
    qc.h(0)
    qc.cx(0, 2)
    qc.measure(2, 0)
    qc.measure(0, 1)
    loaded = load_circuit(qc)
    assert loaded.source_format == "qiskit" and loaded.framework == "qiskit"
    assert loaded.num_qubits == 3 and loaded.gates == {"h", "cx"}
    p = loaded.portable()
    assert p.measured == (2, 0)
    assert p.keys.format("10") == "01"  # qubit 2 -> clbit 0 (rightmost), qubit 0 -> clbit 1


def test_qiskit_without_measurements_measures_everything() -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    qc.x(1)
    p = load_circuit(qc).portable()
    assert p.measured == (0, 1) and p.keys.format("01") == "10"


def test_mid_circuit_measurement_is_native_only() -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(1, 2)
    qc.measure(0, 0)
    qc.x(0)
    qc.measure(0, 1)
    loaded = load_circuit(qc)
    with pytest.raises(
        UnsupportedOperationError, match=r"x after measure on qubit 0.*Qiskit executors"
    ):
        loaded.portable()


def test_unbound_parameters() -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1)
    qc.rx(Parameter("theta"), 0)
    with pytest.raises(CircuitError, match=r"unbound parameters \(theta\).*assign_parameters"):
        load_circuit(qc)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nx q[0];\n', "qasm2"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nx q[0];\n', "qasm3"),
        ("// a comment first\nOPENQASM 3;\nqubit[1] q;\nx q[0];\n", "qasm3"),
        ("qubit[1] q;\nx q[0];\n", "qasm3"),  # OpenQASM 3 allows omitting the version line
    ],
)
def test_qasm_versions(text: str, fmt: str) -> None:
    loaded = load_circuit(text)
    assert loaded.source_format == fmt and loaded.gates == {"x"} and loaded.num_qubits == 1


def test_braket_flavoured_qasm_keeps_line_numbers() -> None:
    text = (
        "OPENQASM 3.0;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n"
        "phaseshift(0.5) q[1];\nbogus q[0];\n"
    )
    with pytest.raises(CircuitError) as info:
        load_circuit(text)
    assert info.value.line == 6 and "bogus" in str(info.value)
    ok = load_circuit(text.replace("bogus q[0];\n", ""))
    assert ok.gates == {"h", "cx", "p"}


QASM2_HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
QASM3_HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
#: Braket-flavoured OpenQASM 3 gets definitions added on its header line: lines must stay.
BRAKET_HEAD = "OPENQASM 3.0;\nqubit[2] q;\nbit[2] c;\ncnot q[0], q[1];\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            QASM2_HEAD + "h q[0]\ncx q[0],q[1];\nmeasure q -> c;\n",
            5,
            "OpenQASM 2 line 5: needed ';' at the end of this statement, but instead saw an "
            "identifier on line 6\n    5 | h q[0]",
        ),
        (
            QASM3_HEAD + "h q[0]\ncx q[0], q[1];\nc = measure q;\n",
            5,
            "OpenQASM 3 line 5: missing ';' at the end of this statement (the next token is "
            "'cx' on line 6)\n    5 | h q[0]",
        ),
        (  # blank lines and comments between the statement and the next
            QASM3_HEAD + "h q[0]\n\n// next: a CX\n/* block\n comment */\ncx q[0], q[1];\n",
            5,
            "OpenQASM 3 line 5: missing ';' at the end of this statement (the next token is "
            "'cx' on line 10)\n    5 | h q[0]",
        ),
        (
            QASM2_HEAD.replace("qreg q[2];", "qreg q[2]") + "h q[0];\n",
            3,
            "OpenQASM 2 line 3: needed ';' at the end of this statement, but instead saw creg "
            "on line 4\n    3 | qreg q[2]",
        ),
        (
            BRAKET_HEAD + "h q[0]\nsi q[1];\n",
            5,
            "OpenQASM 3 line 5: missing ';' at the end of this statement (the next token is "
            "'si' on line 6)\n    5 | h q[0]",
        ),
        (  # the last statement, with a comment after it
            QASM3_HEAD + "h q[0];\nc = measure q\n\n// done\n",
            6,
            "OpenQASM 3 line 6: missing ';' at the end of this statement (the program ends "
            "after it)\n    6 | c = measure q",
        ),
        (
            QASM2_HEAD + "h q[0];\nmeasure q\n  -> c\n// done\n",
            7,
            "OpenQASM 2 line 7: needed ';' at the end of this statement, but the program ends "
            "after it\n    7 | -> c",
        ),
        (  # on the statement's own line, the parser's own words
            QASM3_HEAD + "h q[0] cx q[0], q[1];\n",
            5,
            "OpenQASM 3 line 5: missing ';' at 'cx'\n    5 | h q[0] cx q[0], q[1];",
        ),
    ],
)
def test_missing_semicolon_names_the_statement_that_lacks_it(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(CircuitError) as info:
        load_circuit(text)
    assert info.value.line == line
    assert str(info.value) == message


def test_unsupported_qasm_version() -> None:
    with pytest.raises(CircuitError, match="OpenQASM 4 is not supported"):
        load_circuit("OPENQASM 4.0;\nqubit q;\n")


def test_braket_measure_order_and_result_types() -> None:
    from braket.circuits import Circuit, Observable

    circ = Circuit().h(0).cnot(0, 1).x(2).measure([2, 0, 1])
    p = load_circuit(circ).portable()
    assert p.measured == (2, 0, 1) and p.keys.clbit_sources is None
    rt = Circuit().h(0).cnot(0, 1).expectation(Observable.Z() @ Observable.Z(), target=[0, 1])
    p2 = load_circuit(rt).portable()
    assert [[(t.coeff, t.paulis) for t in obs] for obs in p2.observables] == [
        [(1.0, ((0, "Z"), (1, "Z")))]
    ]
    assert p2.measured == (0, 1)


def test_braket_free_parameters() -> None:
    from braket.circuits import Circuit, FreeParameter

    with pytest.raises(CircuitError, match=r"free parameters \(alpha\).*make_bound_circuit"):
        load_circuit(Circuit().rx(0, FreeParameter("alpha")))


def test_pennylane_quantum_function_vs_factory() -> None:
    import pennylane as qml

    def qfunc(theta: float) -> Any:
        qml.RX(theta, wires="a")
        qml.CNOT(wires=["a", "b"])
        return qml.probs(wires=["b", "a"])

    loaded = load_circuit(qfunc, (0.3,))
    assert loaded.source_format == "pennylane" and loaded.gates == {"rx", "cx"}
    p = loaded.portable()
    assert p.measured == (1, 0)  # wires numbered in tape order: a -> 0, b -> 1
    assert p.want_counts is False

    def factory() -> Any:
        from qiskit import QuantumCircuit

        return QuantumCircuit(2)

    assert load_circuit(factory).source_format == "qiskit"


def test_pennylane_qnode_with_arguments_and_hamiltonian() -> None:
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit", wires=2))
    def circuit(x: float) -> Any:
        qml.RY(x, wires=0)
        return qml.expval(0.5 * qml.PauliZ(0) @ qml.PauliX(1) - 2.0 * qml.PauliY(1))

    p = load_circuit(circuit, (0.1,)).portable()
    (obs,) = p.observables
    assert sorted((t.coeff, t.paulis) for t in obs) == [
        (-2.0, ((1, "Y"),)),
        (0.5, ((0, "Z"), (1, "X"))),
    ]


def test_pennylane_state_is_not_portable() -> None:
    import pennylane as qml

    def qfunc() -> Any:
        qml.Hadamard(0)
        return qml.state()

    with pytest.raises(UnsupportedOperationError, match="'state' is not supported"):
        load_circuit(qfunc).portable()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {"gates": [{"type": "hadamard", "qubit": 0}], "n_qubit": 1},
            "unknown key 'n_qubit' (did you mean 'n_qubits'?)",
        ),
        ({"gates": [{"type": "hadamrd", "qubit": 0}]}, "gates[0]: unknown gate type 'hadamrd'"),
        ({"gates": [{"type": "cx", "qubit": 0}]}, "gates[0]: cx acts on 2 qubit(s), got [0]"),
        ({"gates": [{"type": "ry", "qubit": 0}]}, "gates[0]: ry takes 1 angle(s), got 0"),
        (
            {"gates": [{"type": "ry", "qubit": 0, "angle": "pi"}]},
            "gates[0].angle: expected a number",
        ),
        (
            {"gates": [{"type": "x", "qubit": -1}]},
            "gates[0].qubit: expected a non-negative integer",
        ),
        ({"gates": [{"type": "x", "qubit": 3}], "n_qubits": 2}, "n_qubits=2 but gates use qubit 3"),
        (
            {"gates": [{"type": "x", "qbit": 0}]},
            "gates[0]: unknown key 'qbit' (did you mean 'qubit'?)",
        ),
        ({"gates": "h 0"}, "'gates' must be a list"),
        ({"gates": [{"type": "swap", "qubits": [1, 1]}]}, "repeats a qubit"),
    ],
)
def test_gate_dict_errors(spec: dict, fragment: str) -> None:
    with pytest.raises(CircuitError) as info:
        load_circuit(spec)
    assert fragment in str(info.value)


def test_gate_dict_seed_002_example() -> None:
    import numpy as np

    circuit = {
        "gates": [
            {"type": "h", "qubit": 0},
            {"type": "cx", "control": 0, "target": 1},
            {"type": "ry", "qubit": 0, "angle": np.pi / 4},
        ],
        "n_qubits": 2,
    }
    loaded = load_circuit(circuit)
    assert loaded.num_qubits == 2 and loaded.gates == {"h", "cx", "ry"}
    assert loaded.portable().measured == (0, 1)
    measured = load_circuit({**circuit, "measure": [1]}).portable()
    assert measured.measured == (1,)


def test_callable_errors() -> None:
    with pytest.raises(CircuitError, match="'nothing' returned None"):

        def nothing() -> None:
            return None

        load_circuit(nothing)
    with pytest.raises(CircuitError, match="returned int"):
        load_circuit(lambda: 3)


LOAD_IN_A_FRESH_PROCESS = """
import json, sys
from pilot.convert import load_circuit

def qiskit_bell():
    from qiskit import QuantumCircuit
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc

def pennylane_quantum_function():
    import pennylane as qml  # imported by the function itself, which returns no circuit
    qml.Hadamard(wires=0)
    qml.CNOT(wires=[0, 1])
    return qml.probs(wires=[0, 1])

qiskit = load_circuit(qiskit_bell)
after_qiskit = "pennylane" in sys.modules
quantum_function = load_circuit(pennylane_quantum_function)
print(json.dumps([qiskit.source_format, after_qiskit, quantum_function.source_format,
                  sorted(quantum_function.gates)]))
"""


@pytest.mark.slow
def test_a_circuit_function_does_not_import_pennylane_unless_it_is_one() -> None:
    """Loading a Qiskit circuit function in a fresh process (a pilot's) leaves PennyLane
    unimported (seconds saved on the first task); a PennyLane quantum function that
    imports PennyLane itself and returns no circuit is still recorded."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", LOAD_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    fmt, after_qiskit, pl_fmt, gates = json.loads(out.stdout.strip().splitlines()[-1])
    assert (fmt, after_qiskit) == ("qiskit", False)
    assert pl_fmt == "pennylane" and {"h", "cx"} <= set(gates)

"""QuantumTask validation (no Ray, no circuit execution)."""

from __future__ import annotations

import pytest

from pilot import CircuitError, ConfigError, QuantumTask
from pilot.tasks import check_declared


def test_seed_arguments_are_accepted() -> None:
    qt = QuantumTask(
        circuit=lambda: None,
        num_qubits=2,
        gate_set=["h", "cx", "measure"],
        resource_config={"num_qpus": 1, "num_gpus": 0, "memory": None},
    )
    assert qt.shots == 1024 and qt.resource_config == {
        "num_qpus": 1,
        "num_gpus": 0.0,
        "memory": None,
    }
    req = qt.requirements()
    assert req.num_qubits == 2 and req.gate_set == frozenset({"h", "cx", "measure"})


@pytest.mark.parametrize(
    ("kwargs", "key", "fragment"),
    [
        ({"num_qubits": 0}, "num_qubits", "positive integer"),
        ({"num_qubits": True}, "num_qubits", "positive integer"),
        ({"shots": 0}, "shots", "positive integer, or None"),
        ({"shots": 1.5}, "shots", "positive integer"),
        ({"gate_set": "h,cx"}, "gate_set", "list of gate names"),
        ({"resource_config": {"num_qpu": 1}}, "resource_config.num_qpu", "did you mean 'num_qpus'"),
        ({"resource_config": {"num_qpus": 2}}, "resource_config.num_qpus", "one quantum device"),
        ({"resource_config": {"num_gpus": -1}}, "resource_config.num_gpus", ">= 0"),
        ({"resource_config": {"memory": "4GB"}}, "resource_config.memory", "bytes"),
        ({"pilot": 3}, "pilot", "must be a string"),
        ({"args": "abc"}, "args", "tuple or list"),
        ({"kwargs": [1]}, "kwargs", "must be a dict"),
    ],
)
def test_bad_task_arguments(kwargs: dict, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        QuantumTask("OPENQASM 3.0; qubit q;", **kwargs)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_missing_circuit() -> None:
    with pytest.raises(ConfigError, match="needs a circuit"):
        QuantumTask(None)


def test_declared_width_and_gates_are_checked() -> None:
    check_declared(3, ["h", "CNOT"], 2, frozenset({"h", "cx"}), "t")  # wider declaration is fine
    with pytest.raises(CircuitError, match="declares num_qubits=1 but its circuit uses 2 qubits"):
        check_declared(1, None, 2, frozenset(), "t")
    with pytest.raises(CircuitError, match=r"also uses \['rz'\]"):
        check_declared(None, ["h", "cnot"], 2, frozenset({"h", "cx", "rz", "measure"}), "t")

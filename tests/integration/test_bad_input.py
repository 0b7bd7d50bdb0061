"""Bad input through the service.

Typed errors that name the problem, raised early; the service stays usable.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pilot import (
    CircuitError,
    ConfigError,
    CredentialsError,
    MissingDependencyError,
    NoFeasibleResourceError,
    PilotComputeService,
    QuantumTask,
    TaskFailedError,
    UnsupportedOperationError,
)
from tests.helpers import bell_qiskit

MALFORMED_QASM2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0],q[1];\n'
MALFORMED_QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\nfoo q[1];\n'


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "quantum": {"executor": "qiskit_local"},
                "cores_per_node": 0.25,
            }
        )
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "manila",
                "quantum": {"executor": "qiskit_fake", "backends": ["fake_manila"]},
                "cores_per_node": 0.25,
            }
        )
        yield service


def still_works(pcs: Any) -> None:
    r = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=64, pilot="aer")))
    assert set(r.counts) <= {"00", "11"}


def test_unknown_executor_suggests_the_closest(pcs: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown executor 'braket_locl'.*did you mean 'braket_local'"
    ):
        pcs.create_pilot({"resource_type": "quantum", "quantum": {"executor": "braket_locl"}})
    still_works(pcs)


def test_typo_in_description_through_create_pilot(pcs: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown key 'dreamer_enable'.*did you mean 'dreamer_enabled'"
    ):
        pcs.create_pilot(
            {
                "resource_type": "quantum",
                "quantum": {"executor": "qiskit_local"},
                "dreamer_enable": True,
            }
        )
    still_works(pcs)


def test_unknown_fake_backend_is_a_config_error_from_the_actor(pcs: Any) -> None:
    with pytest.raises(ConfigError, match=r"fake_lagoss.*did you mean 'fake_lagos'"):
        pcs.create_pilot(
            {
                "resource_type": "quantum",
                "name": "typo",
                "quantum": {"executor": "qiskit_fake", "backends": ["fake_lagoss"]},
                "cores_per_node": 0.25,
            }
        )
    assert "typo" not in {p.name for p in pcs.pilots}
    still_works(pcs)


def test_ibm_runtime_without_token_or_local_mode_refuses(pcs: Any) -> None:
    # The actor inherits the raylet's environment, which has no IBM token; the
    # SDK's saved-account file is looked up under HOME.
    with pytest.raises(CredentialsError, match=r"IBM_QUANTUM_TOKEN.*quantum\.local = true"):
        pcs.create_pilot(
            {
                "resource_type": "quantum",
                "name": "ibm",
                "quantum": {"executor": "ibm_runtime"},
                "cores_per_node": 0.25,
            }
        )
    still_works(pcs)


def test_too_many_qubits_for_every_pilot(pcs: Any) -> None:
    from qiskit import QuantumCircuit

    wide = QuantumCircuit(40)
    wide.h(0)
    wide.measure_all()
    start = time.monotonic()
    with pytest.raises(NoFeasibleResourceError) as info:
        pcs.submit_quantum_task(QuantumTask(wide))
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "aer/aer_simulator: needs 40 qubits" in msg
    assert "manila/fake_manila: needs 40 qubits, has 5" in msg
    # A callable's width is unknown on the driver: the declared num_qubits is used.
    with pytest.raises(NoFeasibleResourceError, match="needs 35 qubits"):
        pcs.submit_quantum_task(QuantumTask(lambda: wide, num_qubits=35))
    still_works(pcs)


def test_more_shots_than_the_device_allows(pcs: Any) -> None:
    with pytest.raises(
        NoFeasibleResourceError,
        match="manila/fake_manila: needs 200000 shots, allows at most 100000",
    ):
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=200000, pilot="manila"))


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (MALFORMED_QASM2, 5, "needed ';'"),
        (MALFORMED_QASM3, 5, "foo"),
        ("OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncnot q[0], q[1];\n", 4, "missing ';'"),
    ],
)
def test_malformed_qasm_names_the_line(pcs: Any, text: str, line: int, fragment: str) -> None:
    with pytest.raises(CircuitError) as info:
        pcs.submit_quantum_task(QuantumTask(text))
    assert info.value.line == line
    assert f"line {line}" in str(info.value) and fragment in str(info.value)
    still_works(pcs)


def test_malformed_qasm_from_a_callable_fails_on_the_worker_with_the_line(pcs: Any) -> None:
    with pytest.raises(TaskFailedError, match="OpenQASM 2 line 5") as info:
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(lambda: MALFORMED_QASM2, pilot="aer")))
    assert isinstance(info.value.__cause__, CircuitError)


def test_not_a_circuit(pcs: Any) -> None:
    with pytest.raises(CircuitError, match="not OpenQASM"):
        pcs.submit_quantum_task(QuantumTask("hello world"))
    with pytest.raises(CircuitError, match="cannot run a int as a circuit"):
        pcs.submit_quantum_task(QuantumTask(42))
    with pytest.raises(TaskFailedError, match="returned None"):
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(lambda: None, pilot="aer")))
    with pytest.raises(ConfigError, match="takes a QuantumTask"):
        pcs.submit_quantum_task(bell_qiskit())


def test_gate_set_mismatch_is_refused_before_submission(pcs: Any) -> None:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(1, 1)
    qc.rz(0.3, 0)
    qc.measure(0, 0)
    with pytest.raises(CircuitError, match=r"also uses \['rz'\]"):
        pcs.submit_quantum_task(QuantumTask(qc, gate_set=["h", "cx", "measure"]))


def test_unsupported_operation_names_it_and_the_backend(pcs: Any) -> None:
    from braket.circuits import Circuit

    noisy = Circuit().h(0).bit_flip(0, 0.1)
    with pytest.raises(TaskFailedError) as info:
        pcs.get_results(pcs.submit_quantum_task(QuantumTask(noisy, pilot="aer")))
    cause = info.value.__cause__
    assert isinstance(cause, UnsupportedOperationError)
    assert "'BitFlip' is not supported by qiskit_local (aer_simulator)" in str(cause)


def test_unknown_pilot_pin_suggests(pcs: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown quantum pilot 'arr'.*did you mean 'aer'"):
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), pilot="arr"))


def test_missing_sdk_gives_the_install_command() -> None:
    from pilot.backends.registry import ExecutorSpec, check_installed

    spec = ExecutorSpec(
        "future_qpu",
        "nowhere:Nothing",
        "qdreamer_no_such_sdk",
        "pip install 'qdreamer[future]'",
        "a backend whose SDK is absent",
    )
    with pytest.raises(
        MissingDependencyError, match=r"install it with: pip install 'qdreamer\[future\]'"
    ):
        check_installed(spec)
    with pytest.raises(ImportError):
        check_installed(spec)

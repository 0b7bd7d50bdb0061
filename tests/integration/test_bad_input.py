"""Bad input through the service.

Typed errors that name the problem, raised early; the service stays usable.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
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


@pytest.mark.slow
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
    # More than any device takes is refused by the task itself.
    with pytest.raises(ConfigError, match=r"shots=4294967296 is more than any device") as info:
        QuantumTask(bell_qiskit(), shots=2**32)
    assert info.value.key == "shots"


@pytest.mark.slow
def test_oversized_requests_for_a_cloud_qpu_never_reach_the_provider(
    pcs: Any, fake_braket: Any
) -> None:
    """The fake IonQ QPU (36 qubits, shotsRange 1..5000) through the real Braket SDK:
    too many shots or qubits are refused at submission, and no CreateQuantumTask
    request reaches the (fake) AWS endpoint."""
    from qiskit import QuantumCircuit

    qpu = pcs.create_pilot(
        {
            "resource_type": "quantum",
            "name": "ionq",
            "cores_per_node": 0.25,
            "quantum": {
                "executor": "braket_qpu",
                "braket_device_arn": fake_braket.QPU_ARN,
                "s3_bucket": "qdreamer-test",
                "poll_interval_seconds": 0.01,
            },
        }
    )
    try:
        (device,) = qpu.resources
        assert (device.num_qubits, device.max_shots) == (36, 5000)
        before = fake_braket.calls("CreateQuantumTask")
        with pytest.raises(NoFeasibleResourceError, match=r"needs 5001 shots, allows at most 5000"):
            pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=5001, pilot="ionq"))
        wide = QuantumCircuit(37)
        wide.h(0)
        wide.measure_all()
        with pytest.raises(NoFeasibleResourceError, match=r"needs 37 qubits, has 36"):
            pcs.submit_quantum_task(QuantumTask(wide, shots=10, pilot="ionq"))
        assert fake_braket.calls("CreateQuantumTask") == before
    finally:
        qpu.cancel()
    still_works(pcs)


# ------------------------------------------------------------------ Slurm walltime
@pytest.mark.slurm
def test_real_sinfo_reports_the_default_partition_and_its_limit() -> None:
    from pilot.launchers.slurm import PARTITION_LIMITS, partition_limits, run

    limits, default = partition_limits(run(PARTITION_LIMITS).stdout)
    assert default is not None and default in limits
    # scripts/local-slurm.sh makes one default partition without a time limit.
    assert limits.get("debug", "absent") is None


@pytest.fixture
def limited_partition() -> Iterator[str]:
    """A hidden 5-minute partition on this machine's Slurm, for this test only.

    Made with ``scontrol create`` (root only) and deleted afterwards: slurm.conf
    and the partitions others use are left alone.  Set
    QDREAMER_SLURM_LIMITED_PARTITION to use an existing limited partition instead.
    """
    import os

    given = os.environ.get("QDREAMER_SLURM_LIMITED_PARTITION")
    if given:
        yield given
        return
    required = os.environ.get("QDREAMER_REQUIRE_SLURM") == "1"  # CI: a skip is a failure
    give_up = pytest.fail if required else pytest.skip
    if os.geteuid() != 0:
        give_up("creating a limited Slurm partition needs root")
    name = f"qd-limit-{os.getpid()}"
    node = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    made = subprocess.run(
        [
            "scontrol",
            "create",
            f"PartitionName={name}",
            f"Nodes={node}",
            "MaxTime=5",
            "State=UP",
            "Default=NO",
            "Hidden=YES",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        give_up(f"scontrol create partition failed: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["scontrol", "delete", f"PartitionName={name}"], check=False)


@pytest.mark.slurm
def test_walltime_over_the_partition_limit_is_refused_before_sbatch(
    pcs: Any, limited_partition: str, workdir: Any
) -> None:
    from pilot.launchers.slurm import PARTITION_LIMITS, partition_limits, run

    limit = partition_limits(run(PARTITION_LIMITS).stdout)[0][limited_partition]
    assert limit is not None
    minutes = limit // 60
    jobdir = Path(workdir) / "too-long"
    with pytest.raises(ConfigError) as info:
        pcs.create_pilot(
            {
                "name": "too-long",
                "resource": "slurm://localhost",
                "queue": limited_partition,
                "walltime": minutes + 1,
                "working_directory": str(jobdir),
            }
        )
    assert info.value.key == "walltime"
    assert str(info.value).startswith(
        f"walltime={minutes + 1} minutes is over the time limit of Slurm partition "
        f"{limited_partition!r}: {minutes} minutes (MaxTime)"
    )
    # Refused before sbatch: no batch script, no job, no pilot.
    assert not (jobdir / "pilot.sbatch").exists()
    queued = subprocess.run(
        ["squeue", "-h", "-n", "qdreamer-too-long", "-o", "%i"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert queued.stdout.strip() == ""
    assert "too-long" not in {p.name for p in pcs.pilots}
    still_works(pcs)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (MALFORMED_QASM2, 4, "needed ';'"),
        (MALFORMED_QASM3, 5, "foo"),
        ("OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncnot q[0], q[1];\n", 3, "missing ';'"),
    ],
)
def test_malformed_qasm_names_the_line(pcs: Any, text: str, line: int, fragment: str) -> None:
    with pytest.raises(CircuitError) as info:
        pcs.submit_quantum_task(QuantumTask(text))
    assert info.value.line == line
    assert f"line {line}" in str(info.value) and fragment in str(info.value)
    still_works(pcs)


def test_malformed_qasm_from_a_callable_fails_on_the_worker_with_the_line(pcs: Any) -> None:
    with pytest.raises(TaskFailedError, match="OpenQASM 2 line 4") as info:
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

"""First-feasible selection and its reasons (pure Python, no SDKs)."""

from __future__ import annotations

import pytest

from dreamer import (
    NoFeasibleResourceError,
    ResourceCapabilities,
    ResourceStatus,
    TaskRequirements,
    canonical_gate,
    first_feasible,
    judge,
)


def cap(name: str, pilot: str, qubits: int, **kw: object) -> ResourceCapabilities:
    return ResourceCapabilities(
        name=name, executor="x", provider="local", pilot=pilot, num_qubits=qubits, **kw
    )  # type: ignore[arg-type]


RESOURCES = [
    cap("small", "a", 5, supports_exact=False, max_shots=2000),
    cap("big", "b", 30, supports_exact=True),
]


def test_first_feasible_in_order() -> None:
    assert first_feasible(TaskRequirements(num_qubits=3), RESOURCES).resource.name == "small"
    assert first_feasible(TaskRequirements(num_qubits=7), RESOURCES).resource.name == "big"
    assert first_feasible(TaskRequirements(shots=None), RESOURCES).resource.name == "big"
    assert first_feasible(TaskRequirements(shots=5000), RESOURCES).resource.name == "big"


def test_pins() -> None:
    assert first_feasible(TaskRequirements(pilot="b"), RESOURCES).resource.name == "big"
    assert first_feasible(TaskRequirements(resource="big"), RESOURCES).resource.pilot == "b"


def test_every_rejection_has_a_reason() -> None:
    with pytest.raises(NoFeasibleResourceError) as info:
        first_feasible(TaskRequirements(name="task 'wide'", num_qubits=40, num_gpus=1), RESOURCES)
    err = info.value
    assert err.rejections == {
        "a/small": ["needs 40 qubits, has 5", "needs 1 GPUs, has 0"],
        "b/big": ["needs 40 qubits, has 30", "needs 1 GPUs, has 0"],
    }
    assert "task 'wide'" in str(err) and "a/small: needs 40 qubits, has 5" in str(err)


def test_offline_is_a_reason() -> None:
    cands = judge(
        TaskRequirements(),
        RESOURCES,
        {"a/small": ResourceStatus(online=False, message="maintenance")},
    )
    assert cands[0].reasons == ("offline: maintenance",) and cands[1].feasible


def test_no_resources_at_all() -> None:
    with pytest.raises(NoFeasibleResourceError, match="no quantum pilot exists"):
        first_feasible(TaskRequirements(), [])


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("CNOT", "cx"),
        ("cnot", "cx"),
        ("Hadamard", "h"),
        ("PauliX", "x"),
        ("si", "sdg"),
        ("Toffoli", "ccx"),
        ("ccnot", "ccx"),
        ("PhaseShift", "p"),
        ("IsingZZ", "rzz"),
        ("rz", "rz"),
    ],
)
def test_gate_names_from_every_framework(name: str, canonical: str) -> None:
    assert canonical_gate(name) == canonical

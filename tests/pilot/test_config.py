"""Pilot descriptions: defaults, precedence, and errors that name the key and suggest a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilot.backends.registry import COMMON_OPTIONS, EXECUTORS
from pilot.config import parse_description
from pilot.errors import ConfigError


def test_seed_description_is_accepted_with_defaults() -> None:
    d = parse_description(
        {
            "resource_type": "quantum",
            "quantum": {"executor": "ibmq_qasm_simulator", "ibmqx_token": "secret-token-123"},
            "working_directory": "/tmp",
            "type": "ray",
            "dreamer_enabled": True,
        }
    )
    assert d.quantum is not None
    assert d.quantum.executor == "ibm_runtime"  # ibmq_* is an alias
    assert d.quantum.token == "secret-token-123"
    assert d.quantum.channel == "ibm_quantum_platform"  # from conf/defaults.toml
    assert d.cores_per_node is None and d.number_of_nodes == 1 and d.resource == "local"
    # A local quantum pilot reserves nothing unless asked: it shares the node.
    assert d.reserved() == (0.0, 0.0)
    assert "secret-token-123" not in repr(d) and "secret-token-123" not in str(d.model_dump())


def test_classical_is_the_default_resource_type() -> None:
    d = parse_description({"number_of_nodes": 2, "cores_per_node": 0.5})
    assert d.resource_type == "classical" and d.quantum is None


@pytest.mark.parametrize(
    ("description", "key", "fragment", "suggestion"),
    [
        ({"resource_typ": "quantum"}, "resource_typ", "unknown key", "resource_type"),
        ({"cores_per_nodes": 2}, "cores_per_nodes", "unknown key", "cores_per_node"),
        # A misspelt 'quantum' is named first (not "a quantum pilot needs a 'quantum' dict").
        ({"resource_type": "quantum", "quantm": {}}, "quantm", "unknown key 'quantm'", "quantum"),
        ({"cores_per_node": "four"}, "cores_per_node", "expected a number", None),
        ({"number_of_nodes": 0}, "number_of_nodes", "greater than or equal to 1", None),
        (
            {"resource_type": "quantun", "quantum": {"executor": "qiskit_local"}},
            "resource_type",
            "is not allowed",
            "quantum",
        ),
        (
            {"resource_type": "quantum", "quantum": {"executor": "qiskit_locl"}},
            "quantum.executor",
            "unknown executor",
            "qiskit_local",
        ),
        (
            {"resource_type": "quantum", "quantum": {"executor": "penylane_lightning"}},
            "quantum.executor",
            "unknown executor",
            "pennylane_lightning",
        ),
        (
            {"resource_type": "quantum", "quantum": {"executor": "qiskit_local", "bakends": ["x"]}},
            "quantum.bakends",
            "unknown key",
            "backends",
        ),
        ({"resource_type": "quantum"}, "quantum", "needs a 'quantum' dict", None),
        ({"resource_type": "quantum", "quantum": {}}, "quantum.executor", "is required", None),
        (
            {"resource_type": "quantum", "quantum": "qiskit_local"},
            "quantum",
            "expected a dict",
            None,
        ),
        (
            {"quantum": {"executor": "qiskit_local"}},
            "resource_type",
            "classical pilot takes no",
            None,
        ),
        ({"type": "dask"}, "type", "expected 'ray'", None),
        ({"resource": "pbs://cluster"}, "resource", "is not known", None),
        ({"dreamer_enabled": "maybe"}, "dreamer_enabled", "true or false", None),
        ({"name": "has space"}, "name", "should match pattern", None),
    ],
)
def test_bad_descriptions(
    description: dict, key: str, fragment: str, suggestion: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_description(description)
    err = info.value
    assert err.key == key
    assert fragment in str(err)
    assert key.rsplit(".", maxsplit=1)[-1] in str(err) or key in str(err)
    if suggestion:
        assert err.suggestion == suggestion
        assert f"did you mean {suggestion!r}" in str(err)


def test_config_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_description({"bogus": 1})


def test_a_wrongly_typed_token_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_description(
            {
                "resource_type": "quantum",
                "quantum": {"executor": "ibm_runtime", "ibmqx_token": 1234567890123},
            }
        )
    assert "1234567890123" not in str(info.value)


def test_user_file_overrides_packaged_defaults_and_description_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "config.toml"
    user.write_text("[pilot]\ncores_per_node = 0.5\n[quantum]\noptimization_level = 3\n")
    monkeypatch.setenv("QDREAMER_CONFIG", str(user))
    d = parse_description({"resource_type": "quantum", "quantum": {"executor": "qiskit_fake"}})
    assert d.cores_per_node == 0.5
    assert d.quantum is not None and d.quantum.optimization_level == 3
    d2 = parse_description(
        {
            "resource_type": "quantum",
            "cores_per_node": 2,
            "quantum": {"executor": "qiskit_fake", "optimization_level": 0},
        }
    )
    assert d2.cores_per_node == 2 and d2.quantum is not None and d2.quantum.optimization_level == 0


def test_user_file_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDREAMER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        parse_description({})
    bad = tmp_path / "bad.toml"
    bad.write_text("[pilots]\ncores_per_node = 1\n")
    monkeypatch.setenv("QDREAMER_CONFIG", str(bad))
    with pytest.raises(ConfigError, match=r"unknown table \[pilots\].*did you mean 'pilot'"):
        parse_description({})
    bad.write_text("[pilot\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_description({})


def test_every_packaged_default_key_is_a_valid_description_key() -> None:
    from pilot.config import PilotDescription, QuantumConfig, packaged_defaults

    conf = packaged_defaults()
    assert set(conf["pilot"]) <= set(PilotDescription.model_fields)
    assert set(conf["quantum"]) <= set(QuantumConfig.model_fields)
    for name, table in conf["executors"].items():
        assert set(table) <= set(QuantumConfig.model_fields)
        assert all(EXECUTORS[name].takes(k) for k in table), name


@pytest.mark.parametrize(
    ("quantum", "key", "owners"),
    [
        ({"executor": "qiskit_local", "s3_bucket": "b"}, "quantum.s3_bucket", "'braket_sv1'"),
        ({"executor": "qiskit_local", "token": "t0k3n-value"}, "quantum.token", "'ibm_runtime'"),
        ({"executor": "pennylane_default", "optimization_level": 2}, "quantum.optimization_level",
         "'qiskit_local', 'qiskit_fake', 'ibm_runtime'"),
        ({"executor": "braket_local", "seed": 7}, "quantum.seed", "'qiskit_local'"),
        ({"executor": "torch_sv", "braket_device_arn": "arn:x"}, "quantum.braket_device_arn",
         "'braket_sv1', 'braket_dm1', 'braket_tn1', 'braket_qpu'"),
        ({"executor": "qiskit_fake", "poll_interval_seconds": 2}, "quantum.poll_interval_seconds",
         "'ibm_runtime', 'braket_sv1'"),
    ],
)  # fmt: skip
def test_a_key_another_executor_takes_is_refused_with_where_it_belongs(
    quantum: dict[str, Any], key: str, owners: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_description({"resource_type": "quantum", "quantum": quantum})
    assert info.value.key == key
    message = str(info.value)
    assert (
        message.startswith(f"{key}: executor ")
        and "takes no such key; it is for " + owners in message
    )
    assert "t0k3n-value" not in message


def test_the_seeds_executor_keys_stay_valid() -> None:
    """Seed 001 gives braket_sv1 its device ARN and an ibmq_* executor its token."""
    sv1 = parse_description(
        {
            "resource_type": "quantum",
            "quantum": {
                "executor": "braket_sv1",
                "braket_device_arn": "arn:aws:braket:us-east-1::device/qpu/amazon/sv1",
            },
        }
    )
    assert sv1.quantum is not None and sv1.quantum.braket_device_arn.endswith("/sv1")
    assert sv1.quantum.optimization_level == 1  # (a [quantum] default it does not take: unset)
    assert "optimization_level" not in sv1.quantum.model_fields_set


def test_shared_defaults_reach_only_the_executors_that_take_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "config.toml"
    user.write_text('[quantum]\nseed = 11\ns3_bucket = "results"\n')
    monkeypatch.setenv("QDREAMER_CONFIG", str(user))
    aer = parse_description({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}})
    braket = parse_description({"resource_type": "quantum", "quantum": {"executor": "braket_dm1"}})
    local = parse_description({"resource_type": "quantum", "quantum": {"executor": "braket_local"}})
    assert aer.quantum is not None and (aer.quantum.seed, aer.quantum.s3_bucket) == (11, None)
    assert braket.quantum is not None and (braket.quantum.seed, braket.quantum.s3_bucket) == (
        None,
        "results",
    )
    assert local.quantum is not None and (local.quantum.seed, local.quantum.s3_bucket) == (
        None,
        None,
    )
    # An executor's own table is checked key by key when the file is read.
    user.write_text("[executors.braket_local]\nseed = 11\n")
    with pytest.raises(ConfigError, match=r"unknown key 'executors.braket_local.seed'") as info:
        parse_description({})
    assert info.value.key == "executors.braket_local.seed"


def test_the_docs_table_of_executor_keys_is_the_registry() -> None:
    page = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text("utf-8")
    for spec in EXECUTORS.values():
        row = f"| `{spec.name}` | " + ", ".join(f"`{k}`" for k in sorted(spec.options)) + " |"
        assert row in page, row
    # Every option is taken by some executor (none is dead), and names a real field.
    from pilot.config import QuantumConfig

    taken = set(COMMON_OPTIONS).union(*(s.options for s in EXECUTORS.values()))
    assert taken == set(QuantumConfig.model_fields)


@pytest.mark.parametrize(
    ("description", "reserved"),
    [
        ({}, (1.0, 0.0)),  # a classical pilot holds a CPU per node
        ({"cores_per_node": 0.5}, (0.5, 0.0)),
        ({"resource_type": "quantum", "quantum": {"executor": "qiskit_local"}}, (0.0, 0.0)),
        ({"resource_type": "quantum", "quantum": {"executor": "braket_sv1"}}, (0.0, 0.0)),
        (
            {
                "resource_type": "quantum",
                "quantum": {"executor": "qiskit_local"},
                "cores_per_node": 2,
            },
            (2.0, 0.0),
        ),
        (
            {"resource_type": "quantum", "quantum": {"executor": "torch_sv"}, "gpus_per_node": 1},
            (0.0, 1.0),
        ),
        (  # a Slurm job allocates whole cores: one by default
            {
                "resource_type": "quantum",
                "quantum": {"executor": "qiskit_local"},
                "resource": "slurm://localhost",
            },
            (1.0, 0.0),
        ),
    ],
)
def test_what_a_pilot_reserves(description: dict[str, Any], reserved: tuple[float, float]) -> None:
    assert parse_description(description).reserved() == reserved


def test_retry_defaults_are_stated_once() -> None:
    """conf/defaults.toml documents quantum.retries; the options model and the policy
    a backend retries with without one say the same."""
    from pilot.backends.jobs import RetryPolicy
    from pilot.backends.options import RetryConfig
    from pilot.config import packaged_defaults

    documented = packaged_defaults()["quantum"]["retries"]
    assert RetryConfig().model_dump() == documented
    assert RetryPolicy() == RetryPolicy.of(RetryConfig(**documented))

"""Validated, immutable pilot descriptions; the one loader for ``conf/``.

A description is the dict users pass to ``create_pilot`` (seed 001's keys).
It is merged over the user file and the packaged defaults (argument > user
file > packaged default), then validated by pydantic.  Any mistake becomes a
:class:`~pilot.errors.ConfigError` that names the key and suggests the closest
valid spelling.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.resources
import logging
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dreamer.pricing import Pricing
from pilot.backends.registry import EXECUTORS, resolve_executor
from pilot.errors import ConfigError, closest

logger = logging.getLogger(__name__)

USER_CONFIG_ENV = "QDREAMER_CONFIG"
USER_CONFIG_PATH = Path("~/.config/qdreamer/config.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuantumConfig(_Strict):
    """The ``quantum`` dict of a quantum pilot description."""

    executor: str
    #: Several named backends held by one pilot (qiskit_fake, ibm_runtime).
    backends: tuple[str, ...] | None = None
    #: One named backend (ibm_runtime, braket_local's device).
    backend: str | None = None
    #: IBM Quantum API token (the seed's name); ``token`` is accepted too.
    ibmqx_token: SecretStr | None = Field(default=None, alias="token")
    channel: str | None = None
    instance: str | None = None
    #: ibm_runtime: use qiskit-ibm-runtime's local testing mode with fake backends.
    local: bool = False
    local_backend: str | None = None
    braket_device_arn: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "qdreamer"
    aws_region: str | None = None
    #: braket_local: "braket_sv" or "braket_dm".
    device: str | None = None
    actors: int = Field(default=1, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    optimization_level: int = Field(default=1, ge=0, le=3)
    #: Aer simulation method (qiskit executors), e.g. "statevector".
    method: str | None = None
    #: Seed for simulators that take one (reproducible counts).
    seed: int | None = None
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    #: Seconds one queued job typically takes on this provider (queue-wait estimates).
    typical_job_seconds: float | None = Field(default=None, gt=0)

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        return resolve_executor(value).name

    @property
    def token(self) -> str | None:
        """The configured IBM token (never logged: see ``__repr__``)."""
        return self.ibmqx_token.get_secret_value() if self.ibmqx_token else None


class PilotDescription(_Strict):
    """A validated pilot description (see ``conf/defaults.toml`` for defaults)."""

    resource_type: Literal["quantum", "classical"] = "classical"
    quantum: QuantumConfig | None = None
    working_directory: str | None = None
    type: Literal["ray"] = "ray"
    dreamer_enabled: bool = True
    name: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    number_of_nodes: int = Field(default=1, ge=1)
    cores_per_node: float = Field(default=1, gt=0)
    gpus_per_node: float = Field(default=0, ge=0)
    resource: str = "local"
    start_timeout_seconds: float = Field(default=120, gt=0)
    # Slurm pilots (resource "slurm://localhost"); see conf/defaults.toml.
    queue: str | None = None
    walltime: int = Field(default=60, ge=1)
    project: str | None = None
    qos: str | None = None
    reservation: str | None = None
    scheduler_script_commands: tuple[str, ...] = ()
    environment_setup: tuple[str, ...] = ()

    @field_validator("resource")
    @classmethod
    def _known_resource(cls, value: str) -> str:
        if value == "local" or value in ("slurm", "slurm://", "slurm://localhost"):
            return value
        if value.startswith("slurm://"):
            raise ValueError(
                f"resource {value!r}: Slurm pilots are submitted from the machine the driver "
                "runs on (a login node); run the driver there and use 'slurm://localhost'"
            )
        raise ValueError(
            f"resource {value!r} is not known; use 'local' (the Ray cluster the service is "
            "connected to) or 'slurm://localhost' (a Slurm job whose nodes join it)"
        )

    @property
    def is_slurm(self) -> bool:
        return self.resource.startswith("slurm")


# ---------------------------------------------------------------- loading
@cache
def packaged_defaults() -> dict[str, Any]:
    """``conf/defaults.toml`` as shipped with the package."""
    text = importlib.resources.files("pilot.conf").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def user_config_path() -> Path | None:
    """The user file: ``$QDREAMER_CONFIG``, else ``~/.config/qdreamer/config.toml`` if present."""
    env = os.environ.get(USER_CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{USER_CONFIG_ENV}={env!r}: no such file", key=USER_CONFIG_ENV)
        return path
    path = USER_CONFIG_PATH.expanduser()
    return path if path.is_file() else None


def load_config() -> dict[str, Any]:
    """Packaged defaults merged with the user file (user wins)."""
    merged = copy.deepcopy(packaged_defaults())
    path = user_config_path()
    if path is not None:
        try:
            user = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", key=str(path)) from None
        unknown = set(user) - set(merged)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                f"{path}: unknown table [{key}]", key=key, suggestion=closest(key, merged)
            )
        _deep_update(merged, user)
    return merged


def _deep_update(base: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def service_defaults() -> dict[str, Any]:
    return dict(load_config()["service"])


def dreamer_defaults() -> dict[str, Any]:
    return dict(load_config()["dreamer"])


# ---------------------------------------------------------------- pricing
@cache
def pricing_rules() -> tuple[dict[str, Any], ...]:
    """Rows of ``conf/pricing.toml`` (see that file for the fields)."""
    text = importlib.resources.files("pilot.conf").joinpath("pricing.toml").read_text("utf-8")
    return tuple(tomllib.loads(text).get("price", []))


def pricing_for(executor: str, name: str, provider: str) -> Pricing | None:
    """The list price of a resource, or ``None`` (free: local simulation)."""
    local = provider in ("local", "ibm-fake", "ibm-local")
    for rule in pricing_rules():
        if rule.get("executor") != executor:
            continue
        if "device" in rule and not fnmatch.fnmatch(name.lower(), str(rule["device"]).lower()):
            continue
        if rule.get("mode") == "service" and local:
            continue
        fields = {
            k: rule[k]
            for k in (
                "per_task",
                "per_shot",
                "per_minute",
                "per_second",
                "minimum_seconds",
                "currency",
                "source",
                "as_of",
            )
            if k in rule
        }
        return Pricing(**fields)
    return None


def parse_description(description: Any) -> PilotDescription:
    """Validate a ``create_pilot`` dict, applying defaults; raise ``ConfigError``."""
    if isinstance(description, PilotDescription):
        return description
    if not isinstance(description, dict):
        raise ConfigError(
            f"pilot_compute_description must be a dict, got {type(description).__name__}",
            key="pilot_compute_description",
        )
    conf = load_config()
    merged: dict[str, Any] = {**conf["pilot"], **description}
    quantum = description.get("quantum")
    if merged.get("resource_type") == "quantum" and quantum is None:
        raise ConfigError(
            "a quantum pilot needs a 'quantum' dict naming its executor, e.g. "
            "{'resource_type': 'quantum', 'quantum': {'executor': 'qiskit_local'}}",
            key="quantum",
        )
    if quantum is not None:
        if not isinstance(quantum, dict):
            raise ConfigError(
                f"quantum: expected a dict like {{'executor': 'qiskit_local'}}, "
                f"got {type(quantum).__name__}",
                key="quantum",
            )
        if "executor" not in quantum:
            raise ConfigError(
                "quantum.executor is required; valid: " + ", ".join(sorted(EXECUTORS)),
                key="quantum.executor",
            )
        if not isinstance(quantum["executor"], str):
            raise ConfigError(
                f"quantum.executor: expected a string, got {type(quantum['executor']).__name__}",
                key="quantum.executor",
            )
        spec = resolve_executor(quantum["executor"])  # raises ConfigError with a suggestion
        merged["quantum"] = {**conf["quantum"], **conf["executors"].get(spec.name, {}), **quantum}
        if merged["quantum"].get("backends") == []:
            merged["quantum"]["backends"] = None
    if merged.get("resource_type") == "classical" and quantum is not None:
        raise ConfigError(
            "a classical pilot takes no 'quantum' dict; set resource_type='quantum'",
            key="resource_type",
        )
    try:
        return PilotDescription.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc) from None


_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a dict",
    "tuple_type": "a list",
    "list_type": "a list",
}


#: Keys whose values are never echoed back in an error message.
SECRET_KEYS = frozenset({"ibmqx_token", "token"})


def _config_error(exc: ValidationError) -> ConfigError:
    """Turn pydantic's first error into one clear ``ConfigError``."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    kind = err["type"]
    if SECRET_KEYS & set(loc):
        err = {**err, "input": "<secret>"}
    if kind == "extra_forbidden":
        model: type[BaseModel] = QuantumConfig if loc[0] == "quantum" else PilotDescription
        valid = set(model.model_fields)
        valid |= {f.alias for f in model.model_fields.values() if f.alias}
        return ConfigError(
            f"unknown key {key!r}; valid keys: {', '.join(sorted(valid))}",
            key=key,
            suggestion=closest(loc[-1], valid),
        )
    if kind in _TYPE_WORDS:
        return ConfigError(
            f"{key}: expected {_TYPE_WORDS[kind]}, got {err.get('input')!r}", key=key
        )
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = str(err.get("input"))
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip(" '")]
        return ConfigError(
            f"{key}: {got!r} is not allowed; expected {expected}",
            key=key,
            suggestion=closest(got, options),
        )
    msg = err["msg"].removeprefix("Value error, ")
    return ConfigError(f"{key}: {msg} (got {err.get('input')!r})", key=key)

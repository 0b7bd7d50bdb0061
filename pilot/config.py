"""Validated, immutable pilot descriptions; the one loader for ``conf/``.

A description is the dict users pass to ``create_pilot``: ``resource_type``, ``quantum``,
``cores_per_node``... as QTAU programs wrote them (docs/migration.md).
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

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
)

from dreamer.pricing import Pricing
from dreamer.ranking import OBJECTIVES
from pilot.backends.options import NoiseConfig, QuantumConfig, RetryConfig, Strict
from pilot.backends.registry import EXECUTORS, resolve_executor
from pilot.errors import ConfigError, closest
from pilot.redaction import SECRET_ENV, check_private_file, redact, remember

logger = logging.getLogger(__name__)

USER_CONFIG_ENV = "QDREAMER_CONFIG"
USER_CONFIG_PATH = Path("~/.config/qdreamer/config.toml")


#: CPUs a classical or Slurm pilot holds per node when ``cores_per_node`` is not given.
DEFAULT_RESERVED_CORES = 1.0


class PilotDescription(Strict):
    """A validated pilot description (see ``conf/defaults.toml`` for defaults)."""

    resource_type: Literal["quantum", "classical"] = "classical"
    quantum: QuantumConfig | None = None
    working_directory: str | None = None
    type: Literal["ray"] = "ray"
    dreamer_enabled: bool = True
    name: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    #: Bounded so that a typo (10**9) is an error, not a billion placement-group bundles.
    number_of_nodes: int = Field(default=1, ge=1, le=100_000)
    #: CPUs reserved per node (classical) or per backend actor (quantum), a hard
    #: reservation.  Unset: 1 for classical and Slurm pilots; a local quantum pilot
    #: reserves nothing and shares the node (see :meth:`reserved`).
    cores_per_node: float | None = Field(default=None, gt=0)
    gpus_per_node: float = Field(default=0, ge=0)
    resource: str = "local"
    #: At most a year: Ray's waits overflow on longer (1e308 s) timeouts.
    start_timeout_seconds: float = Field(default=120, gt=0, le=365 * 24 * 3600)
    # Slurm pilots (resource "slurm://localhost"); see conf/defaults.toml.
    queue: str | None = None
    walltime: int = Field(default=60, ge=1)
    project: str | None = None
    qos: str | None = None
    reservation: str | None = None
    scheduler_script_commands: tuple[str, ...] = ()
    environment_setup: tuple[str, ...] = ()

    @field_validator("cores_per_node", "gpus_per_node")
    @classmethod
    def _ray_quantity(cls, value: float | None) -> float | None:
        # Ray counts CPUs and GPUs in units of 1/10,000 and refuses a smaller sliver.
        if value is not None and 0 < value < 0.0001:
            raise ValueError("Ray cannot reserve less than 0.0001 of a CPU or GPU")
        return value

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

    def reserved(self) -> tuple[float, float]:
        """``(CPUs, GPUs)`` held per bundle: per node (classical), per backend actor
        (quantum).  The resource model:

        * ``cores_per_node`` / ``gpus_per_node`` given: a hard reservation (a Ray
          placement group bundle, or the Slurm job's cores).
        * Not given, classical or Slurm pilot: 1 CPU (a classical pilot exists to
          hold capacity; a Slurm job needs whole cores).
        * Not given, local quantum pilot: nothing.  Its actor shares the node: a
          remote backend waits on HTTP, a simulator runs one native thread beside
          the user's Ray tasks, and neither keeps a Ray task from being scheduled.
        """
        if self.cores_per_node is not None:
            cores = float(self.cores_per_node)
        elif self.resource_type == "classical" or self.is_slurm:
            cores = DEFAULT_RESERVED_CORES
        else:
            cores = 0.0
        return cores, float(self.gpus_per_node)


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


class ServiceTable(Strict):
    """``[service]`` of a user file (see ``conf/defaults.toml``)."""

    working_directory: str | None = Field(default=None, strict=True)
    num_cpus: int | None = Field(default=None, ge=0, strict=True)
    #: "s3://bucket/prefix": finished results are also written there (pilot.journal.bucket).
    results_store: str | None = Field(default=None, strict=True)
    #: Runs the task journal keeps when a new run starts (0: every run; pilot.journal.store).
    journal_keep_runs: int | None = Field(default=None, ge=0, strict=True)


class DreamerTable(Strict):
    """``[dreamer]`` of a user file (see ``conf/defaults.toml``)."""

    objective: str | None = Field(default=None, strict=True)
    cache_ttl_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False, strict=True)
    monitor_interval_seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, strict=True
    )
    status_timeout_seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, strict=True
    )
    failover_attempts: int | None = Field(default=None, ge=0, strict=True)
    max_fidelity_loss: float | None = Field(default=None, ge=0, lt=1, allow_inf_nan=False)
    fidelity_budget: Literal["task", "mean"] | None = None

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, value: str | None) -> str | None:
        if value is not None and value not in OBJECTIVES:
            hint = closest(value, OBJECTIVES)
            raise ValueError(
                f"unknown objective {value!r}; use one of {sorted(OBJECTIVES)}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
        return value


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    return names | {f.alias for f in model.model_fields.values() if f.alias}


def _check_user_file(path: Path, user: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Refuse what the user file gets wrong, naming the ``table.key`` (values of
    ``[pilot]``/``[quantum]``/``[executors.*]`` are checked with each description)."""
    for table, value in user.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"{path}: {table} must be a table ([{table}]), got {type(value).__name__}",
                key=table,
            )
    for table, model in (("service", ServiceTable), ("dreamer", DreamerTable)):
        if table not in user:
            continue
        try:
            model.model_validate(user[table])
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join([table, *(str(p) for p in err["loc"])])
            if err["type"] == "extra_forbidden":
                valid = sorted(_field_names(model))
                raise ConfigError(
                    f"{path}: unknown key {key!r}; valid keys in [{table}]: {', '.join(valid)}",
                    key=key,
                    suggestion=closest(str(err["loc"][-1]), valid),
                ) from None
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{path}: {key}: {msg} (got {err.get('input')!r})", key=key) from None
    tables: list[tuple[str, dict[str, Any], set[str]]] = [
        ("pilot", user.get("pilot", {}), _field_names(PilotDescription)),
        ("quantum", user.get("quantum", {}), _field_names(QuantumConfig)),
    ]
    for name, table in user.get("executors", {}).items():
        if name not in EXECUTORS:
            raise ConfigError(
                f"{path}: unknown executor table [executors.{name}]; valid: "
                + ", ".join(sorted(EXECUTORS)),
                key=f"executors.{name}",
                suggestion=closest(name, EXECUTORS),
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: executors.{name} must be a table ([executors.{name}]), "
                f"got {type(table).__name__}",
                key=f"executors.{name}",
            )
        takes = EXECUTORS[name].takes
        tables.append(
            (
                f"executors.{name}",
                table,
                {
                    k
                    for k in _field_names(QuantumConfig)
                    if takes(k) or (k == "token" and takes("ibmqx_token"))
                },
            )
        )
    for prefix, entries, names in tables:
        for key in entries:
            if key not in names:
                raise ConfigError(
                    f"{path}: unknown key '{prefix}.{key}'; valid keys: {', '.join(sorted(names))}",
                    key=f"{prefix}.{key}",
                    suggestion=closest(key, names),
                )


def load_config() -> dict[str, Any]:
    """Packaged defaults merged with the user file (user wins).

    A user file holding a secret (a ``token``/``ibmqx_token`` key in any table)
    must be readable by its owner only: ``CredentialsError`` otherwise.
    """
    merged = copy.deepcopy(packaged_defaults())
    path = user_config_path()
    if path is not None:
        try:
            user = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", key=str(path)) from None
        secrets = dict(_secret_entries(user))
        if secrets:
            check_private_file(path, ", ".join(sorted(secrets)))
            for value in secrets.values():
                remember(value)
        unknown = set(user) - set(merged)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                f"{path}: unknown table [{key}]", key=key, suggestion=closest(key, merged)
            )
        _check_user_file(path, user, merged)
        _deep_update(merged, user)
    return merged


def _secret_entries(table: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, value)`` of every secret in a parsed TOML document: keys in
    :data:`SECRET_KEYS` or named like a secret environment variable, in any table."""
    secret_keys = SECRET_KEYS | {name.lower() for name in SECRET_ENV}
    found: list[tuple[str, str]] = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            found += _secret_entries(value, f"{dotted}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    found += _secret_entries(item, f"{dotted}[{i}].")
        elif str(key).lower() in secret_keys:
            found.append((dotted, str(value)))
    return found


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
                "per_1q_gate_shot",
                "per_2q_gate_shot",
                "per_qubit_shot",
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
    valid = set(PilotDescription.model_fields)
    valid |= {f.alias for f in PilotDescription.model_fields.values() if f.alias}
    for key in description:
        if key not in valid:  # named before anything that key may have meant is missed
            raise ConfigError(
                f"unknown key {key!r}; valid keys: {', '.join(sorted(valid))}",
                key=str(key),
                suggestion=closest(str(key), valid),
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
        # [quantum] holds defaults for every executor: each takes the keys it knows
        # ([executors.<name>] and the description are checked key by key).
        shared = {k: v for k, v in conf["quantum"].items() if spec.takes(k)}
        merged["quantum"] = {**shared, **conf["executors"].get(spec.name, {}), **quantum}
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
    "model_type": "a dict",
    "tuple_type": "a list",
    "list_type": "a list",
}


#: Keys whose values are never echoed back in an error message.
SECRET_KEYS = frozenset({"ibmqx_token", "token", "ionq_api_key"})


def _config_error(exc: ValidationError) -> ConfigError:
    """Turn pydantic's first error into one clear ``ConfigError``."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    kind = err["type"]
    # A token given under another key (or inside a list) is not echoed either.
    if SECRET_KEYS & set(loc) or redact(repr(err.get("input"))) != repr(err.get("input")):
        err = {**err, "input": "<secret>"}
    if kind == "extra_forbidden":
        model = _NESTED_MODELS.get(".".join(loc[:-1]), PilotDescription)
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
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):  # a validator's own error: already says what to do
        return ConfigError(str(cause), key=cause.key or key, suggestion=cause.suggestion)
    msg = err["msg"].removeprefix("Value error, ")
    return ConfigError(f"{key}: {msg} (got {err.get('input')!r})", key=key)


#: Which model an unknown key belongs to, by where it is (for the list of valid keys).
_NESTED_MODELS: dict[str, type[BaseModel]] = {
    "quantum": QuantumConfig,
    "quantum.retries": RetryConfig,
    "quantum.noise": NoiseConfig,
}

"""Each executor's options: the ``quantum`` table of a pilot description.

:class:`QuantumConfig` is what a backend adapter receives; :mod:`pilot.config`
composes it into a :class:`~pilot.config.PilotDescription` and never imports an
adapter.  Names are checked against the executor table
(:mod:`pilot.backends.registry`) and IBM's fake-device catalog
(:mod:`pilot.backends.fake_devices`), neither of which loads an SDK.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pilot.backends.fake_devices import device_name
from pilot.backends.registry import COMMON_OPTIONS, executors_taking, resolve_executor
from pilot.errors import ConfigError
from pilot.redaction import remember


class Strict(BaseModel):
    """Frozen, and an unknown key is an error (named, with the closest valid one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetryConfig(Strict):
    """``quantum.retries``: bounded retries of provider calls that failed transiently
    (see :class:`pilot.backends.jobs.RetryPolicy`)."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    total_seconds: float = Field(default=300.0, gt=0)


#: Executors whose pilots take ``quantum.noise`` (Aer-based simulators).
NOISE_EXECUTORS = ("qiskit_local",)

_Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
_Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class NoiseConfig(Strict):
    """``quantum.noise``: a noise model for an Aer-based pilot (:mod:`pilot.backends.noise`).

    Either parametric noise on every qubit -- any of depolarizing, thermal
    relaxation (``t1`` with ``t2``) and readout error -- or ``from_backend``
    alone: the noise of an IBM fake device's calibration snapshot.
    """

    #: Depolarizing parameter of every one-qubit gate (sx, x, id), 0..1.
    depolarizing_1q: _Probability | None = None
    #: Depolarizing parameter of every two-qubit gate (cx), 0..1.
    depolarizing_2q: _Probability | None = None
    #: Relaxation times in seconds, given together; t2 <= 2 * t1.
    t1: _Seconds | None = None
    t2: _Seconds | None = Field(default=None, validate_default=True)
    #: Seconds each gate lasts (relaxation acts for this long); default 50 ns and 300 ns.
    gate_time_1q: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    gate_time_2q: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    #: Readout error: (p(1|0), p(0|1)), or one number for both.
    readout: tuple[float, float] | None = None
    #: An IBM fake device ("fake_lagos", "lagos") whose noise model is used (alone).
    from_backend: str | None = None

    @field_validator("t2")
    @classmethod
    def _t2_with_t1(cls, value: float | None, info: ValidationInfo) -> float | None:
        t1 = info.data.get("t1")
        if value is None:
            if t1 is not None:
                raise ValueError("t1 is given without t2: give both (seconds, t2 <= 2 * t1)")
            return value
        if t1 is None:
            if "t1" in info.data:  # (not when t1 failed its own check)
                raise ValueError("t2 is given without t1: give both (seconds, t2 <= 2 * t1)")
            return value
        if value > 2 * t1:
            raise ValueError(
                f"t2 must be at most 2 * t1 = {2 * t1:g} s (no qubit dephases slower than "
                "twice its relaxation time)"
            )
        return value

    @field_validator("readout", mode="before")
    @classmethod
    def _readout_pair(cls, value: Any) -> Any:
        if value is None:
            return value
        pair = (value, value) if isinstance(value, (int, float)) else value
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError("expected a probability or a pair [p(1|0), p(0|1)]")
        for p in pair:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError("readout probabilities must be numbers from 0 to 1")
        return tuple(float(p) for p in pair)

    @field_validator("from_backend")
    @classmethod
    def _known_device(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        mixed = [k for k, v in info.data.items() if v is not None]
        if mixed:
            raise ValueError(
                f"from_backend takes the device's own noise and cannot be combined with "
                f"{', '.join(mixed)}; give one or the other"
            )

        return device_name(value)  # ConfigError with the closest name

    @model_validator(mode="after")
    def _some_noise(self) -> NoiseConfig:
        sources = ("depolarizing_1q", "depolarizing_2q", "t1", "readout", "from_backend")
        if all(getattr(self, k) is None for k in sources):
            raise ValueError(
                "gives no noise; set any of depolarizing_1q, depolarizing_2q, t1 and t2, "
                "readout, or from_backend (or leave quantum.noise out for an ideal simulator)"
            )
        if self.t1 is None and (self.gate_time_1q, self.gate_time_2q) != (None, None):
            raise ValueError("gate_time_1q/gate_time_2q only matter with t1 and t2; give those")
        return self


class QuantumConfig(Strict):
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
    #: ibm_runtime: IBM Cloud base URL (the SDK's ``url``; default https://cloud.ibm.com).
    #: azure_quantum: the Azure Resource Manager endpoint (default https://management.azure.com/).
    url: str | None = None
    #: azure_quantum: the workspace's resource ID (``/subscriptions/<id>/resourceGroups/
    #: <group>/providers/Microsoft.Quantum/Workspaces/<name>``).
    resource_id: str | None = None
    #: azure_quantum: the workspace's Azure region ("eastus"); read from Azure when unset.
    location: str | None = None
    #: ibm_runtime: HTTP(S) proxy for every IBM Cloud request (the SDK's ``proxies``).
    proxy: str | None = None
    #: ibm_runtime: verify TLS certificates (false only for a TLS-intercepting proxy).
    verify: bool = True
    #: ibm_runtime: use qiskit-ibm-runtime's local testing mode with fake backends.
    local: bool = False
    local_backend: str | None = None
    #: ibm_runtime: IBM's execution mode: "job", "session" (a pilot's jobs in one Runtime
    #: Session per device) or "batch" (in one Batch); see pilot/backends/ibm.py.
    mode: Literal["job", "session", "batch"] = "job"
    #: ibm_runtime: seconds a session or batch may stay open (the SDK's ``max_time``).
    session_max_time: int | None = Field(default=None, gt=0)
    #: ionq: IonQ API key (``IONQ_API_KEY`` when unset); masked everywhere.
    ionq_api_key: SecretStr | None = None
    #: ionq: base URL of IonQ's API (default ``IONQ_API_URL``, else https://api.ionq.co/v0.4).
    ionq_url: str | None = None
    braket_device_arn: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "qdreamer"
    aws_region: str | None = None
    #: braket_local: "braket_sv" or "braket_dm".
    device: str | None = None
    #: At most 1,000: each actor is a process (more concurrency: ``max_concurrency``).
    actors: int = Field(default=1, ge=1, le=1000)
    #: Threads of each actor; Ray aborts the actor's process when asked for ~10^6.
    max_concurrency: int | None = Field(default=None, ge=1, le=1000)
    optimization_level: int = Field(default=1, ge=0, le=3)
    #: Aer simulation method (qiskit executors), e.g. "statevector".
    method: str | None = None
    #: torch_statevector: amplitude dtype (unset: "complex64"; see conf/defaults.toml).
    precision: Literal["complex64", "complex128"] | None = None
    #: Seed for simulators that take one (reproducible counts); simulators take 64 bits.
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    #: Seconds one queued job typically takes on this provider (queue-wait estimates).
    typical_job_seconds: float | None = Field(default=None, gt=0)
    #: Retries of provider calls that failed transiently (HTTP 429/5xx, resets, timeouts).
    retries: RetryConfig = RetryConfig()
    #: Seconds a resource whose calls kept failing is reported offline to QDREAMER.
    failure_hold_seconds: float = Field(default=60.0, ge=0)
    #: Times Ray restarts a pilot actor that died (its unfinished tasks are retried on it).
    max_restarts: int = Field(default=0, ge=-1)
    #: Noise of an Aer-based simulator (qiskit_local): see NoiseConfig.
    noise: NoiseConfig | None = None

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        return resolve_executor(value).name

    @field_validator("ibmqx_token", "ionq_api_key")
    @classmethod
    def _remember_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            remember(value.get_secret_value())  # masked in logs from now on
        return value

    @field_validator("mode", "session_max_time")
    @classmethod
    def _ibm_runtime_only(cls, value: Any, info: ValidationInfo) -> Any:
        executor = info.data.get("executor")
        if value is None:
            return value
        if executor is not None and executor != "ibm_runtime":
            raise ValueError(
                f"IBM's execution modes apply to executor 'ibm_runtime' only, not {executor!r}; "
                "remove the key (in a config file, put it under [executors.ibm_runtime])"
            )
        if info.field_name == "session_max_time" and info.data.get("mode") == "job":
            raise ValueError("needs quantum.mode 'session' or 'batch' (job mode opens neither)")
        return value

    @field_validator("precision")
    @classmethod
    def _torch_only(cls, value: str | None, info: ValidationInfo) -> Any:
        executor = info.data.get("executor")
        if value is not None and executor is not None and executor != "torch_statevector":
            raise ValueError(
                f"executor {executor!r} has no precision setting; quantum.precision is for "
                "'torch_statevector' (Aer: quantum.method, e.g. 'statevector'); remove the key"
            )
        return value

    @field_validator("noise")
    @classmethod
    def _noise_on_aer(cls, value: NoiseConfig | None, info: ValidationInfo) -> Any:
        executor = info.data.get("executor")
        if value is not None and executor is not None and executor not in NOISE_EXECUTORS:
            raise ValueError(
                f"executor {executor!r} takes no noise model; quantum.noise is for the "
                f"Aer-based executors ({', '.join(NOISE_EXECUTORS)}); qiskit_fake already "
                "simulates each device's own noise (in a config file, put the table under "
                "[executors.qiskit_local.noise])"
            )
        return value

    @model_validator(mode="after")
    def _keys_of_this_executor(self) -> QuantumConfig:
        """Each executor takes its own keys (its ``ExecutorSpec.options``): a Braket
        key on an Aer pilot is an error that names where the key belongs, not a
        setting silently dropped."""
        spec = resolve_executor(self.executor)
        for key in sorted(self.model_fields_set):
            if spec.takes(key):
                continue
            owners = executors_taking(key)
            shown = "quantum.token" if key == "ibmqx_token" else f"quantum.{key}"
            takes = sorted(set(spec.options) | set(COMMON_OPTIONS) - {"executor"})
            raise ConfigError(
                f"{shown}: executor {spec.name!r} takes no such key; it is for "
                f"{', '.join(repr(o) for o in owners)}. Remove it (in a config file, put it "
                f"under [executors.{owners[0]}]); {spec.name!r} takes {', '.join(takes)}",
                key=shown,
            )
        return self

    @property
    def token(self) -> str | None:
        """The configured IBM token (never logged: see ``__repr__``)."""
        return self.ibmqx_token.get_secret_value() if self.ibmqx_token else None

    @property
    def ionq_key(self) -> str | None:
        """The configured IonQ API key (never logged: see ``__repr__``)."""
        return self.ionq_api_key.get_secret_value() if self.ionq_api_key else None

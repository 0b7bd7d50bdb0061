"""Amazon Braket: the local simulator (``braket_local``) and AWS devices through ``AwsDevice``.

``braket_sv1`` / ``braket_dm1`` / ``braket_tn1`` use the managed simulators'
ARNs; ``braket_qpu`` needs ``quantum.braket_device_arn``.  Cloud devices need
AWS credentials the usual boto3 way (environment, ``AWS_PROFILE``,
``~/.aws/credentials``) and write results to S3: ``quantum.s3_bucket`` /
``quantum.s3_prefix``, or the SDK's default bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import canonical_gates
from pilot.backends import jobs
from pilot.backends.base import Layout, NativeOutput, PreparedCircuit, QuantumBackend
from pilot.backends.braket_properties import calibration, status_from_metadata
from pilot.backends.jobs import current_job
from pilot.convert.braket import to_braket
from pilot.errors import (
    ConfigError,
    CredentialsError,
    PilotStartError,
    TaskFailedError,
    TaskTimeoutError,
)

if TYPE_CHECKING:
    from pilot.backends.options import QuantumConfig

logger = logging.getLogger(__name__)

#: Managed simulators (their ARNs have no region).
SIMULATOR_ARNS = {
    "braket_sv1": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    "braket_dm1": "arn:aws:braket:::device/quantum-simulator/amazon/dm1",
    "braket_tn1": "arn:aws:braket:::device/quantum-simulator/amazon/tn1",
}
LOCAL_DEVICES = ("braket_sv", "braket_dm")
#: Seconds a quantum task is polled for when the task has no timeout (the SDK's 5 days).
DEFAULT_POLL_TIMEOUT = 5 * 24 * 3600.0


def _result_output(result: Any, circuit: Any) -> NativeOutput:
    """Counts in Braket's convention plus any result types the circuit asked for."""
    out = NativeOutput(native=result)
    counts = getattr(result, "measurement_counts", None)
    if counts:
        out.counts = {str(k): int(v) for k, v in counts.items()}
    expvals: list[float] = []
    for rt in getattr(circuit, "result_types", []) or []:
        kind = type(rt).__name__
        value = result.get_value_by_result_type(rt)
        if kind == "Expectation":
            expvals.append(float(value))
        elif kind == "Probability" and out.probabilities is None:
            import numpy as np

            probs = np.asarray(value, dtype=float).ravel()
            width = max(len(rt.target) if rt.target else int(np.log2(len(probs))), 1)
            out.probabilities = {
                format(i, f"0{width}b"): float(p) for i, p in enumerate(probs) if p > 1e-15
            }
        else:
            out.metadata.setdefault(kind.lower(), []).append(value)
    out.expectation_values = expvals or None
    task_meta = getattr(result, "task_metadata", None)
    if task_meta is not None:
        out.metadata["task_id"] = str(task_meta.id)
    return out


class _BraketBase(QuantumBackend):
    framework = "braket"

    _device: Any
    _caps: ResourceCapabilities

    def resources(self) -> list[ResourceCapabilities]:
        return [self._caps]

    def _run_one(self, circuit: Any, shots: int) -> Any:
        raise NotImplementedError

    def _run_many(self, circuits: Sequence[Any], shots: int) -> list[Any]:
        """Results of ``circuits``, in order (one by one unless the device batches)."""
        return [self._run_one(c, shots) for c in circuits]

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        n = 0 if shots is None else shots
        results = self._run_many(circuits, n)
        return [_result_output(r, c) for r, c in zip(results, circuits, strict=True)]

    def sample(
        self, resource: str, prepared: Sequence[PreparedCircuit], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [
            to_braket(pc.body, pc.measured, backend=f"{self.executor} {resource}")
            for pc in prepared
        ]
        out = []
        for pc, result in zip(prepared, self._run_many(circuits, shots), strict=True):
            order = [int(q) for q in result.measured_qubits]
            index = [order.index(q) for q in pc.measured]
            counts: dict[str, int] = {}
            for key, value in result.measurement_counts.items():
                k = "".join(key[i] for i in index)
                counts[k] = counts.get(k, 0) + int(value)
            out.append(counts)
        return out

    def exact(
        self, resource: str, prepared: Sequence[PreparedCircuit], layout: Layout = None
    ) -> list[dict[str, float]]:
        if not self._caps.supports_exact:
            return super().exact(resource, prepared)
        import numpy as np

        circuits = [
            to_braket(pc.body, pc.measured, exact=True, backend=f"{self.executor} {resource}")
            for pc in prepared
        ]
        out = []
        for pc, result in zip(prepared, self._run_many(circuits, 0), strict=True):
            probs = np.asarray(result.values[0], dtype=float).ravel()
            width = len(pc.measured)
            ascending = sorted(pc.measured)  # the order to_braket asks for
            index = [ascending.index(q) for q in pc.measured]
            dist: dict[str, float] = {}
            for i, p in enumerate(probs):
                if p > 1e-15:
                    bits = format(i, f"0{width}b")
                    key = "".join(bits[j] for j in index)
                    dist[key] = dist.get(key, 0.0) + float(p)
            out.append(dist)
        return out


class BraketLocalBackend(_BraketBase):
    """``braket_local``: ``braket.devices.LocalSimulator``."""

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        from braket.devices import LocalSimulator

        name = config.device or config.backend or "braket_sv"
        if name not in LOCAL_DEVICES:
            raise ConfigError.unknown("Braket local device", "quantum.device", name, LOCAL_DEVICES)
        self.device_name = name
        self._device = LocalSimulator(name)
        paradigm = self._device.properties.paradigm
        self._caps = ResourceCapabilities(
            name=name,
            executor=self.executor,
            provider="local",
            pilot=pilot,
            num_qubits=int(paradigm.qubitCount),
            simulator=True,
            noisy=False,
            supports_exact=True,
        )

    def _run_one(self, circuit: Any, shots: int) -> Any:
        # Not LocalSimulator.run_batch: it forks a process pool per batch, while a
        # pilot actor owns only the CPUs it reserved.  One Ray call still carries
        # the whole batch.
        return self._device.run(circuit, shots=shots).result()


class BraketAwsBackend(_BraketBase):
    """``braket_sv1`` / ``braket_dm1`` / ``braket_tn1`` / ``braket_qpu`` through ``AwsDevice``."""

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        self.arn = self._arn(config)
        import boto3
        from botocore.config import Config
        from braket.aws import AwsDevice, AwsSession

        region = config.aws_region or self._arn_region(self.arn) or None
        boto_session = boto3.Session(region_name=region)
        if boto_session.get_credentials() is None:
            raise CredentialsError(
                f"executor {self.executor!r} needs AWS credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure`"
            )
        if boto_session.region_name is None:
            raise ConfigError(
                f"executor {self.executor!r} needs an AWS region: set quantum.aws_region or "
                "AWS_DEFAULT_REGION",
                key="quantum.aws_region",
            )
        try:
            # quantum.retries applies to every HTTP call, through botocore's "standard"
            # retry mode (exponential backoff with jitter on throttling, 5xx and
            # connection errors); _wait re-attaches if a poll still fails.
            retry = Config(
                retries={"mode": "standard", "total_max_attempts": config.retries.max_attempts}
            )
            self._device = AwsDevice(
                self.arn, aws_session=AwsSession(boto_session=boto_session, config=retry)
            )
            props = self._device.properties
        except Exception as exc:
            raise PilotStartError(
                f"could not reach Braket device {self.arn}: {type(exc).__name__}: {exc}"
            ) from None
        paradigm = getattr(props, "paradigm", None)
        qubits = int(getattr(paradigm, "qubitCount", 0) or 0)
        native = getattr(paradigm, "nativeGateSet", None) or []
        shots_range = getattr(getattr(props, "service", None), "shotsRange", None)
        simulator = "quantum-simulator" in self.arn
        cal = calibration(props) if not simulator else {}
        self._caps = ResourceCapabilities(
            name=str(self._device.name),
            executor=self.executor,
            provider="aws",
            pilot=pilot,
            num_qubits=max(qubits, len(cal.get("labels", ()))),
            native_gates=canonical_gates(native),
            coupling_map=cal.get("coupling"),
            simulator=simulator,
            noisy=not simulator,
            max_shots=int(shots_range[1]) if shots_range is not None else None,
            # shots=0 (exact result types) is allowed where the shot range starts at 0 (SV1, DM1)
            supports_exact=shots_range is not None and int(shots_range[0]) == 0,
            gate_errors=cal.get("gate_errors", {}),
            readout_errors=cal.get("readout_errors", {}),
            default_errors=cal.get("default_errors", {}),
            durations=cal.get("durations", {}),
        )
        self._destination = (config.s3_bucket, config.s3_prefix) if config.s3_bucket else None

    def _arn(self, config: QuantumConfig) -> str:
        given = config.braket_device_arn
        expected = SIMULATOR_ARNS.get(self.executor)
        if expected is None:
            if not given:
                raise ConfigError(
                    f"executor {self.executor!r} needs quantum.braket_device_arn, e.g. "
                    "'arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1'",
                    key="quantum.braket_device_arn",
                )
            return given
        if given and given.rsplit("/", 1)[-1].lower() != expected.rsplit("/", 1)[-1]:
            raise ConfigError(
                f"quantum.braket_device_arn {given!r} does not name the device of executor "
                f"{self.executor!r}; its ARN is {expected!r} (or use executor 'braket_qpu')",
                key="quantum.braket_device_arn",
            )
        if given and "quantum-simulator" not in given:
            raise ConfigError(
                f"quantum.braket_device_arn {given!r} is not a Braket managed simulator ARN; "
                f"executor {self.executor!r} uses {expected!r}",
                key="quantum.braket_device_arn",
            )
        return given or expected

    @staticmethod
    def _arn_region(arn: str) -> str:
        parts = arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def status(self, resource: str) -> ResourceStatus:
        """Device status and queue depth (normal and priority queues): one ``GetDevice`` call.

        ``AwsDevice.refresh_metadata()`` and ``queue_depth()`` would each call
        ``GetDevice``; the one response holds both.
        """
        metadata = self._device.aws_session.get_device(self.arn)
        return status_from_metadata(metadata, self.config.typical_job_seconds)

    def _task_kwargs(self, shots: int) -> dict[str, Any]:
        ctx = current_job()
        left = ctx.remaining() if ctx is not None else None
        kwargs: dict[str, Any] = {
            "shots": shots,
            "poll_interval_seconds": self.config.poll_interval_seconds,
            "poll_timeout_seconds": left if left is not None else DEFAULT_POLL_TIMEOUT,
        }
        if self._destination is not None:
            kwargs["s3_destination_folder"] = self._destination
        return kwargs

    def _run_many(self, circuits: Sequence[Any], shots: int) -> list[Any]:
        """Several circuits: all created first (through the task's job context, so that
        each can be reported, re-attached and cancelled), then awaited; outside a
        pilot task, one ``AwsDevice.run_batch`` (created and polled concurrently)."""
        if len(circuits) <= 1 or current_job() is not None:
            tasks = [self._create(c, shots) for c in circuits]
            return [self._wait(t) for t in tasks]
        batch = self._device.run_batch(
            list(circuits),
            max_parallel=min(len(circuits), self.BATCH_PARALLEL),
            **self._task_kwargs(shots),
        )
        results = batch.results(fail_unsuccessful=False, max_retries=0)
        out = []
        for task, result in zip(batch.tasks, results, strict=True):
            out.append(result if result is not None else self._failed(task))
        return out

    #: Quantum tasks of one batch created and polled at once.
    BATCH_PARALLEL = 10

    def _run_one(self, circuit: Any, shots: int) -> Any:
        return self._wait(self._create(circuit, shots))

    def _create(self, circuit: Any, shots: int) -> Any:
        """A quantum task for ``circuit``: created, or re-attached by the job context."""
        return jobs.submit(
            lambda: self._device.run(circuit, **self._task_kwargs(shots)),
            self._attach,
            lambda task: str(task.id),
            retry=False,  # botocore retries CreateQuantumTask (same client token)
        )

    def _attach(self, arn: str) -> Any:
        from braket.aws import AwsQuantumTask

        ctx = current_job()
        left = ctx.remaining() if ctx is not None else None
        return AwsQuantumTask(
            arn,
            aws_session=self._device.aws_session,
            poll_timeout_seconds=left if left is not None else DEFAULT_POLL_TIMEOUT,
            poll_interval_seconds=self.config.poll_interval_seconds,
        )

    def _wait(self, task: Any) -> Any:
        """The task's result: polling errors that are transient re-attach and poll again;
        the deadline of the job context cancels the task (``TaskTimeoutError``)."""
        ctx = current_job()
        arn = str(task.id)
        first = [task]

        def poll() -> Any:
            current = first.pop() if first else self._attach(arn)
            return current, current.result()

        current, result = jobs.retrying(poll, what=f"Braket task {arn}", ctx=ctx)
        if result is not None:
            return result
        if ctx is not None:
            ctx.check()  # cancelled through pcs.cancel_task
            left = ctx.remaining()
            if left is not None and left <= 0:
                ctx.cancel("timed out")
                raise TaskTimeoutError(
                    f"task {ctx.task_id}: Braket quantum task {arn} did not finish within its "
                    "timeout_seconds; it was cancelled"
                )
        self._failed(current)

    def _failed(self, task: Any) -> NoReturn:
        """Raise for a task whose result is ``None``: FAILED, CANCELLED, or polling timed out."""
        meta = task.metadata(use_cached_value=True)
        status = meta.get("status", "UNKNOWN")
        what = (
            f"ended {status}"
            if status in ("FAILED", "CANCELLED")
            else f"was still {status} when polling timed out"
        )
        reason = meta.get("failureReason")
        raise TaskFailedError(
            f"Braket quantum task {task.id} on {self.arn} {what}"
            + (f": {reason}" if reason else "")
        )

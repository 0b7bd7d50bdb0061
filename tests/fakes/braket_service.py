"""A local Amazon Braket + S3 (+ STS) endpoint for testing the real Braket SDK code path.

``FakeBraketService`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 (an OS-chosen
port) in a daemon thread.  The real boto3/botocore clients created by
``braket.aws.AwsSession`` reach it through the standard endpoint-override
environment variables (``AWS_ENDPOINT_URL_BRAKET``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL_STS``), so requests are signed, serialised and parsed by the
real SDK; only the network is replaced.  Responses follow the botocore service
models (``botocore/data/braket/2019-09-01/service-2.json``, rest-json; S3
rest-xml; STS query), and device capability documents are built with the
``braket.device_schema`` pydantic models so that the SDK parses them as it does
the real service's.

Usage::

    with FakeBraketService() as fake:
        os.environ.update(fake.env)
        for name in fake.unset_env:
            os.environ.pop(name, None)
        ...  # AwsDevice(FakeBraketService.SV1_ARN).run(circuit, ("bucket", "prefix"), shots=100)
        fake.tasks[-1].source  # the OpenQASM program the SDK sent

Session-wide use (``tests/conftest.py``, owned by the lead engineer): call
:func:`start_fake_braket` once per session *before* ``ray.init`` and export
``fake.env`` into ``os.environ`` (and pop ``fake.unset_env``) so that Ray
workers, which inherit the driver's environment, reach the same fake.  Stop it
with ``fake.stop()`` at session end.

What it implements
------------------
Braket (routed by the SigV4 credential scope of the request, ``.../braket/aws4_request``):

* ``GetDevice`` (``GET /device/{deviceArn}``): SV1, DM1, TN1 and an IonQ
  Forte-like QPU in us-east-1 (:data:`QPU_ARN`); 404 ``ResourceNotFoundException``
  otherwise (also for a regional QPU asked for in another region).
* ``SearchDevices`` (``POST /devices``) with the ``deviceArn`` filter.
* ``CreateQuantumTask`` (``POST /quantum-task``, 201): validates device, status,
  shots range, qubit count and bucket like the service does (``ValidationException``,
  ``DeviceOfflineException``...), runs the OpenQASM program with
  ``braket.devices.LocalSimulator`` ("braket_dm" for DM1, "braket_sv" otherwise)
  and keeps a ``GateModelTaskResult`` document for the task.  Idempotent on
  ``clientToken``.
* ``GetQuantumTask`` (``GET /quantum-task/{arn}``): reports ``pending_statuses``
  (default QUEUED, then RUNNING), one per call, then COMPLETED (or FAILED if
  the simulation raised).  ``results.json`` appears in the fake S3 under
  ``outputS3Bucket/outputS3KeyPrefix/<task id>/`` when COMPLETED is first reported.
* ``CancelQuantumTask`` (``PUT /quantum-task/{arn}/cancel``): CANCELLING, then
  CANCELLED on the next ``GetQuantumTask``; 409 ``ConflictException`` for a task
  already COMPLETED or FAILED.

Queues on a clock
-----------------
By default a task moves one status per ``GetQuantumTask`` and a device's queue
(``deviceQueueInfo``, the Normal ``QUANTUM_TASKS_QUEUE`` ``queueSize``) counts
its tasks last reported QUEUED.  :meth:`FakeBraketService.drain` makes a device
a single FIFO server on :attr:`FakeBraketService.clock` instead (the rules are
in ``tests/fakes/drain.py``)::

    fake.drain(FakeBraketService.QPU_ARN, seconds_per_job=0.2, external_queue=3)

Three outside tasks are then ahead, leaving one every 0.2 s; each task created
afterwards enters the queue at creation, runs 0.2 s once the server is free, and
``GetQuantumTask`` reports QUEUED, RUNNING, then COMPLETED (FAILED for a task
whose simulation raised or that ``fail_next_task`` doomed) from the clock, however
often it is asked; ``results.json`` is published, as above, on the first report of
COMPLETED, and ``endedAt`` is the task's scheduled end.  ``queueSize`` is the
outside tasks still waiting plus ours not yet started, and ``queueInfo.position``
(when the caller asks for ``QueueInfo``, as ``AwsSession.get_quantum_task`` does)
is a QUEUED task's 1-based place counting both.  Cancelling a queued task takes it
out of the queue (the tasks behind it move up); cancelling a running one frees the
server.  ``drain(arn, None)`` turns it off for tasks created afterwards.

S3 (path-style: botocore 1.44 sends ``/bucket/key`` to this endpoint, whether
it is spelt 127.0.0.1 or localhost; virtual-host style ``Host: bucket.127.0.0.1:port``
is accepted too): ``GetObject``,
``HeadObject``, ``PutObject`` (plain or ``aws-chunked`` bodies), ``DeleteObject``,
``ListObjectsV2``, ``HeadBucket``, ``CreateBucket``.

STS: ``GetCallerIdentity`` (used by ``AwsSession.default_bucket()`` when no
bucket is configured).

Requests signed with another access key id get 403, as from AWS.  Anything else
gets an ``UnknownOperationException``/``NotImplemented`` error, never a silent success.

Fault injection: :meth:`FakeBraketService.fail_next` queues an error response
(HTTP status + error code) for the next call(s) of an operation; see ``faults``.
:meth:`FakeBraketService.fail_next_task` lets the next created task end FAILED
with a ``failureReason`` (the SDK's ``task.result()`` then returns ``None``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from tests.fakes.drain import Drain, Slot
from tests.fakes.loopback import LoopbackServer

__all__ = [
    "DEFAULT_PENDING_STATUSES",
    "FakeBraketService",
    "FakeDevice",
    "FakeTask",
    "Fault",
    "start_fake_braket",
]

#: Statuses ``GetQuantumTask`` reports (one per call) before the terminal one.
DEFAULT_PENDING_STATUSES: tuple[str, ...] = ("QUEUED", "RUNNING")

_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def _now(when: float | None = None) -> str:
    """ISO-8601 UTC with milliseconds, as the service returns (24 characters);
    ``when`` in seconds since the epoch (default: now)."""
    stamp = datetime.now(UTC) if when is None else datetime.fromtimestamp(when, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _http_date() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


# ---------------------------------------------------------------------- model
@dataclass
class FakeDevice:
    """One device ``GetDevice`` knows; change ``status`` to test OFFLINE/RETIRED devices.

    ``drain`` (set with :meth:`FakeBraketService.drain`) makes its queue a FIFO
    server on the fake's clock; ``None`` (the default): one status per poll.
    """

    arn: str
    name: str
    provider: str
    type: str  # "SIMULATOR" | "QPU"
    capabilities: Any  # a braket.device_schema DeviceCapabilities model
    simulator: str  # LocalSimulator backend that runs its tasks
    status: str = "ONLINE"
    drain: Drain | None = None

    @property
    def region(self) -> str:
        """The ARN's region ("" for the managed simulators, which exist in every region)."""
        return self.arn.split(":")[3]

    @property
    def qubit_count(self) -> int:
        return int(self.capabilities.paradigm.qubitCount)

    @property
    def shots_range(self) -> tuple[int, int]:
        low, high = self.capabilities.service.shotsRange
        return int(low), int(high)

    def summary(self) -> dict[str, Any]:
        """``DeviceSummary`` shape."""
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.type,
            "deviceStatus": self.status,
        }


@dataclass
class FakeTask:
    """What the SDK sent in one ``CreateQuantumTask``, and the task's state."""

    arn: str
    device_arn: str
    shots: int
    source: str  # the OpenQASM program
    inputs: dict[str, Any]
    action: dict[str, Any]  # the parsed ``action`` JSON
    device_parameters: dict[str, Any] | None
    bucket: str
    key_prefix: str
    client_token: str | None
    created_at: str
    region: str
    status: str = "CREATED"
    failure_reason: str | None = None
    ended_at: str | None = None
    get_calls: int = 0
    result_json: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: The device's drain when the task was created (``None``: one status per poll).
    drain: Drain | None = None
    #: Clock readings: when it entered the device's queue, when it was cancelled.
    queued_at: float = 0.0
    cancelled_at: float | None = None

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def output_directory(self) -> str:
        return f"{self.key_prefix}/{self.task_id}"

    @property
    def results_key(self) -> str:
        return f"{self.output_directory}/results.json"


@dataclass
class Fault:
    """An error to answer instead of serving ``operation`` (``"*"``: any operation)."""

    operation: str
    status: int
    code: str
    message: str = ""
    times: int = 1


# ------------------------------------------------------------ device documents
def _service_properties(
    shots_range: tuple[int, int],
    *,
    location: str,
    price: float,
    unit: str,
    summary: str,
    windows: str = "Everyday",
) -> Any:
    from braket.device_schema import DeviceServiceProperties

    return DeviceServiceProperties.parse_obj(
        {
            "executionWindows": [
                {"executionDay": windows, "windowStartHour": "00:00", "windowEndHour": "23:59:59"}
            ],
            "shotsRange": list(shots_range),
            "deviceCost": {"price": price, "unit": unit},
            "deviceDocumentation": {
                "imageUrl": "https://example.invalid/device.png",
                "summary": summary,
                "externalDocumentationUrl": "https://docs.aws.amazon.com/braket/latest/developerguide/",
            },
            "deviceLocation": location,
            "updatedAt": "2024-05-01T00:00:00",
        }
    )


_SIM_OPERATIONS = [
    "U",
    "GPhase",
    "ccnot",
    "cnot",
    "cphaseshift",
    "cphaseshift00",
    "cphaseshift01",
    "cphaseshift10",
    "cswap",
    "cy",
    "cz",
    "ecr",
    "h",
    "i",
    "iswap",
    "pswap",
    "phaseshift",
    "rx",
    "ry",
    "rz",
    "s",
    "si",
    "swap",
    "t",
    "ti",
    "unitary",
    "v",
    "vi",
    "x",
    "xx",
    "xy",
    "y",
    "yy",
    "z",
    "zz",
    "gpi",
    "gpi2",
    "ms",
    "prx",
]
_NOISE_PRAGMAS = [
    "braket_noise_amplitude_damping",
    "braket_noise_bit_flip",
    "braket_noise_depolarizing",
    "braket_noise_kraus",
    "braket_noise_pauli_channel",
    "braket_noise_generalized_amplitude_damping",
    "braket_noise_phase_flip",
    "braket_noise_phase_damping",
    "braket_noise_two_qubit_dephasing",
    "braket_noise_two_qubit_depolarizing",
]


def _result_types(shots_max: int, *, exact: bool) -> list[dict[str, Any]]:
    obs = ["x", "y", "z", "h", "i", "hermitian"]
    low = 0 if exact else 1
    out = [
        {"name": "Sample", "observables": obs, "minShots": 1, "maxShots": shots_max},
        {"name": "Expectation", "observables": obs, "minShots": low, "maxShots": shots_max},
        {"name": "Variance", "observables": obs, "minShots": low, "maxShots": shots_max},
        {"name": "Probability", "minShots": low, "maxShots": shots_max},
    ]
    if exact:
        out += [
            {"name": "StateVector", "minShots": 0, "maxShots": 0},
            {"name": "Amplitude", "minShots": 0, "maxShots": 0},
            {"name": "DensityMatrix", "minShots": 0, "maxShots": 0},
        ]
    return out


def simulator_capabilities(
    *, qubits: int, shots_range: tuple[int, int], noise: bool, summary: str, price: float
) -> Any:
    """A ``GateModelSimulatorDeviceCapabilities`` document for a managed simulator."""
    from braket.device_schema.simulators import (
        GateModelSimulatorDeviceCapabilities,
        GateModelSimulatorDeviceParameters,
        GateModelSimulatorParadigmProperties,
    )

    exact = shots_range[0] == 0
    pragmas = [
        "braket_unitary_matrix",
        "braket_result_type_sample",
        "braket_result_type_expectation",
        "braket_result_type_variance",
        "braket_result_type_probability",
    ]
    if exact:
        pragmas += [
            "braket_result_type_state_vector",
            "braket_result_type_amplitude",
            "braket_result_type_density_matrix",
        ]
    if noise:
        pragmas += _NOISE_PRAGMAS
    return GateModelSimulatorDeviceCapabilities.parse_obj(
        {
            "service": _service_properties(
                shots_range,
                location="us-east-1, us-west-1, us-west-2, eu-west-2",
                price=price,
                unit="minute",
                summary=summary,
            ).dict(),
            "action": {
                "braket.ir.openqasm.program": {
                    "actionType": "braket.ir.openqasm.program",
                    "version": ["1"],
                    "supportedOperations": _SIM_OPERATIONS,
                    "supportedModifiers": [
                        {"name": "ctrl"},
                        {"name": "negctrl"},
                        {"name": "pow", "exponent_types": ["int", "float"]},
                        {"name": "inv"},
                    ],
                    "supportedPragmas": pragmas,
                    "forbiddenPragmas": [] if noise else _NOISE_PRAGMAS,
                    "supportedResultTypes": _result_types(shots_range[1], exact=exact),
                    "supportPhysicalQubits": False,
                    "supportsPartialVerbatimBox": False,
                    "requiresContiguousQubitIndices": True,
                    "requiresAllQubitsMeasurement": True,
                    "supportsUnassignedMeasurements": True,
                    "disabledQubitRewiringSupported": False,
                },
            },
            "paradigm": GateModelSimulatorParadigmProperties(qubitCount=qubits).dict(),
            "deviceParameters": GateModelSimulatorDeviceParameters.schema(),
        }
    )


def ionq_capabilities(
    *,
    qubits: int = 36,
    native: tuple[str, ...] = ("GPI", "GPI2", "ZZ"),
    shots_range: tuple[int, int] = (1, 5000),
) -> Any:
    """An ``IonqDeviceCapabilities`` document for a fully connected trapped-ion QPU."""
    from braket.device_schema.gate_model_qpu_paradigm_properties_v1 import (
        GateModelQpuParadigmProperties,
    )
    from braket.device_schema.ionq import IonqDeviceCapabilities, IonqDeviceParameters

    return IonqDeviceCapabilities.parse_obj(
        {
            "service": _service_properties(
                shots_range,
                location="us-east-1",
                price=0.08,
                unit="shot",
                summary="Trapped-ion QPU (fake, for tests)",
                windows="Weekdays",
            ).dict(),
            "action": {
                "braket.ir.openqasm.program": {
                    "actionType": "braket.ir.openqasm.program",
                    "version": ["1"],
                    "supportedOperations": [
                        "x",
                        "y",
                        "z",
                        "rx",
                        "ry",
                        "rz",
                        "h",
                        "cnot",
                        "s",
                        "si",
                        "t",
                        "ti",
                        "v",
                        "vi",
                        "xx",
                        "yy",
                        "zz",
                        "swap",
                    ],
                    "supportedModifiers": [],
                    "supportedPragmas": ["verbatim"],
                    "forbiddenPragmas": [
                        "braket_unitary_matrix",
                        *_NOISE_PRAGMAS,
                        "braket_result_type_state_vector",
                        "braket_result_type_density_matrix",
                        "braket_result_type_amplitude",
                    ],
                    "supportedResultTypes": [
                        {
                            "name": "Sample",
                            "observables": ["x", "y", "z", "h", "i"],
                            "minShots": 1,
                            "maxShots": shots_range[1],
                        },
                        {
                            "name": "Expectation",
                            "observables": ["x", "y", "z", "h", "i"],
                            "minShots": 1,
                            "maxShots": shots_range[1],
                        },
                        {
                            "name": "Variance",
                            "observables": ["x", "y", "z", "h", "i"],
                            "minShots": 1,
                            "maxShots": shots_range[1],
                        },
                        {"name": "Probability", "minShots": 1, "maxShots": shots_range[1]},
                    ],
                    "supportPhysicalQubits": False,
                    "supportsPartialVerbatimBox": False,
                    "requiresContiguousQubitIndices": True,
                    "requiresAllQubitsMeasurement": True,
                    "supportsUnassignedMeasurements": False,
                    "disabledQubitRewiringSupported": False,
                },
            },
            "paradigm": GateModelQpuParadigmProperties.parse_obj(
                {
                    "qubitCount": qubits,
                    "nativeGateSet": list(native),
                    "connectivity": {"fullyConnected": True, "connectivityGraph": {}},
                }
            ).dict(),
            "provider": {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.ionq.ionq_provider_properties",
                    "version": "1",
                },
                "fidelity": {
                    "1Q": {"mean": 0.9998},
                    "2Q": {"mean": 0.9952},
                    "spam": {"mean": 0.9949},
                },
                "timing": {
                    "T1": 100.0,
                    "T2": 1.0,
                    "1Q": 1.3e-04,
                    "2Q": 9.5e-04,
                    "readout": 3.0e-04,
                    "reset": 2.0e-05,
                },
            },
            "deviceParameters": IonqDeviceParameters.schema(),
        }
    )


# ---------------------------------------------------------------- the service
class _Reply(Exception):
    """Raised inside a handler to answer with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class FakeBraketService(LoopbackServer):
    """Braket REST API + S3 + STS on 127.0.0.1 for the real SDK (see the module docstring).

    Attributes:
        tasks: every created task (:class:`FakeTask`), in creation order.
        cancelled: ARNs of the tasks ``CancelQuantumTask`` was called for, in order.
        devices: ``{arn: FakeDevice}``; edit to add devices or change a status.
        objects: the fake S3 store, ``{(bucket, key): bytes}``.
        buckets: existing buckets; ``CreateQuantumTask`` refuses others unless
            ``auto_create_buckets`` (the default).
        faults: pending injected errors (:class:`Fault`), consumed first-match-first.
        requests: ``(service, operation, status)`` for every request served.
        clock: what drained devices (:meth:`drain`) read the time from
            (``time.monotonic`` unless given; ``reset`` restores it).
    """

    SV1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
    DM1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
    TN1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"
    QPU_ARN = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"

    #: Names that, when set, would redirect or override what ``env`` configures.
    UNSET_ENV: tuple[str, ...] = (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "BRAKET_ENDPOINT",
        "AMZN_BRAKET_OUT_S3_BUCKET",
        "AMZN_BRAKET_TASK_RESULTS_S3_URI",
        "AMZN_BRAKET_JOB_TOKEN",
        "AMZN_BRAKET_RESERVATION_DEVICE_ARN",
        "AMZN_BRAKET_RESERVATION_TIME_WINDOW_ARN",
    )

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        access_key_id: str = "AKIAFAKEBRAKET000001",
        secret_access_key: str = "fAkE/SeCrEt+qdreamer-test-9f3c1e7a5b2d4c6e8a0b",
        pending_statuses: tuple[str, ...] = DEFAULT_PENDING_STATUSES,
        auto_create_buckets: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.pending_statuses = tuple(pending_statuses)
        self.auto_create_buckets = auto_create_buckets
        self.clock = self._clock = clock
        self.devices: dict[str, FakeDevice] = {}
        self.tasks: list[FakeTask] = []
        self.cancelled: list[str] = []
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets: set[str] = set()
        self.faults: list[Fault] = []
        #: ``(rate, operations, status, code)`` of :meth:`fail_randomly`.
        self._random_faults: tuple[float, tuple[str, ...], int, str] = (0.0, (), 503, "")
        self._rng = random.Random(0)
        #: Calls answered with an error by :meth:`fail_randomly`.
        self.random_failures = 0
        self.delays: list[list[Any]] = []
        self.requests: list[tuple[str, str, int]] = []
        #: Failure reasons for the next created tasks (see ``fail_next_task``).
        self.task_failures: list[str] = []
        self._lock = threading.RLock()
        self._sim_lock = threading.Lock()
        self._simulators: dict[str, Any] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._add_default_devices()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeBraketService:
        if self._server is not None:
            return self
        self._serve(_Handler, "fake-braket")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment a process needs to reach this fake (and nothing else) with boto3.

        Also pop :attr:`unset_env` from the environment: a profile or session
        token from the developer's shell would otherwise take part.
        """
        no_proxy = [
            p
            for p in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",")
            if p.strip()
        ]
        no_proxy += [h for h in ("127.0.0.1", "localhost") if h not in no_proxy]
        return {
            # Every AWS client goes to the fake (unknown services get an error, never
            # the internet); the per-service names are what botocore checks first.
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL_BRAKET": self.url,
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ENDPOINT_URL_STS": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # No instance-metadata credential lookups (169.254.169.254).
            "AWS_EC2_METADATA_DISABLED": "true",
            # Ignore the developer's ~/.aws files (profiles, endpoints, credentials).
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_PROXY": ",".join(no_proxy),
            "no_proxy": ",".join(no_proxy),
        }

    @property
    def unset_env(self) -> tuple[str, ...]:
        return self.UNSET_ENV

    def export_env(self, environ: Any = None) -> dict[str, str | None]:
        """Apply ``env``/``unset_env`` to ``environ`` (``os.environ``); return the old values."""
        environ = os.environ if environ is None else environ
        names = [*self.env, *self.unset_env]
        previous = {name: environ.get(name) for name in names}
        for name in self.unset_env:
            environ.pop(name, None)
        environ.update(self.env)
        return previous

    def reset(self) -> None:
        """Forget tasks, cancellations, objects, buckets, faults and the request log;
        restore the devices (no drains) and the clock."""
        with self._lock:
            self.clock = self._clock
            self.tasks.clear()
            self.cancelled.clear()
            self.objects.clear()
            self.buckets.clear()
            self.faults.clear()
            self._random_faults = (0.0, (), 503, "")
            self.random_failures = 0
            self.delays.clear()
            self.requests.clear()
            self.task_failures.clear()
            self._add_default_devices()

    # ------------------------------------------------------------ test helpers
    def fail_next(
        self,
        operation: str,
        status: int = 503,
        code: str = "ServiceUnavailable",
        message: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` calls of ``operation`` (``"*"``: any) with an error.

        ``operation`` is the API name (``"CreateQuantumTask"``, ``"GetQuantumTask"``,
        ``"GetObject"``...).  E.g. ``fail_next("GetQuantumTask", 429, "ThrottlingException")``.
        """
        fault = Fault(operation, status, code, message or f"injected {code}", times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail_randomly(
        self,
        rate: float,
        operations: tuple[str, ...] = ("*",),
        status: int = 503,
        code: str = "ServiceUnavailableException",
        seed: int = 0,
    ) -> None:
        """Answer a fraction ``rate`` of the calls of ``operations`` with an error, at
        random (seeded): a flaky provider.  ``rate=0`` turns it off."""
        with self._lock:
            self._random_faults = (float(rate), tuple(operations), status, code)
            self._rng = random.Random(seed)

    def delay_next(self, operation: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``operation`` for ``seconds`` before answering.

        A slow or hanging provider, as the real service sometimes is.
        """
        with self._lock:
            self.delays.append([operation, float(seconds), int(times)])

    def fail_next_task(self, reason: str = "Task failed (injected)") -> None:
        """Accept the next ``CreateQuantumTask`` but let that task end FAILED with ``reason``."""
        with self._lock:
            self.task_failures.append(reason)

    def drain(
        self, arn: str, seconds_per_job: float | None, *, external_queue: int = 0
    ) -> Drain | None:
        """Make device ``arn`` a FIFO server taking ``seconds_per_job`` per task, with
        ``external_queue`` outside tasks ahead from now (see "Queues on a clock" in the
        module docstring); ``None`` turns it off.  Tasks created before keep the drain
        they were created under."""
        with self._lock:
            device = self.devices[arn]
            device.drain = Drain.on(seconds_per_job, external_queue, self.clock())
            return device.drain

    def task(self, arn: str) -> FakeTask:
        with self._lock:
            for t in self.tasks:
                if t.arn == arn:
                    return t
        raise KeyError(arn)

    def calls(self, operation: str) -> int:
        """How many requests for ``operation`` were served (errors included)."""
        with self._lock:
            return sum(1 for _, op, _ in self.requests if op == operation)

    def add_device(self, device: FakeDevice) -> FakeDevice:
        with self._lock:
            self.devices[device.arn] = device
        return device

    def _add_default_devices(self) -> None:
        self.devices = {}
        self.add_device(
            FakeDevice(
                self.SV1_ARN,
                "SV1",
                "Amazon Braket",
                "SIMULATOR",
                simulator_capabilities(
                    qubits=34,
                    shots_range=(0, 100000),
                    noise=False,
                    summary="Amazon Braket state vector simulator",
                    price=0.075,
                ),
                simulator="braket_sv",
            )
        )
        self.add_device(
            FakeDevice(
                self.DM1_ARN,
                "DM1",
                "Amazon Braket",
                "SIMULATOR",
                simulator_capabilities(
                    qubits=17,
                    shots_range=(0, 100000),
                    noise=True,
                    summary="Amazon Braket density matrix simulator",
                    price=0.075,
                ),
                simulator="braket_dm",
            )
        )
        self.add_device(
            FakeDevice(
                self.TN1_ARN,
                "TN1",
                "Amazon Braket",
                "SIMULATOR",
                simulator_capabilities(
                    qubits=50,
                    shots_range=(1, 100000),
                    noise=False,
                    summary="Amazon Braket tensor network simulator",
                    price=0.275,
                ),
                simulator="braket_sv",
            )
        )
        self.add_device(
            FakeDevice(
                self.QPU_ARN,
                "Forte 1",
                "IonQ",
                "QPU",
                ionq_capabilities(),
                simulator="braket_sv",
            )
        )

    # ------------------------------------------------------------ dispatch
    def _take_delay(self, operation: str) -> float:
        with self._lock:
            for entry in self.delays:
                if entry[0] in (operation, "*"):
                    entry[2] -= 1
                    if entry[2] <= 0:
                        self.delays.remove(entry)
                    return float(entry[1])
        return 0.0

    def _take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            rate, ops, status, code = self._random_faults
            if rate and ("*" in ops or operation in ops) and self._rng.random() < rate:
                self.random_failures += 1
                return Fault(operation, status, code, f"injected random {code}", 1)
            for fault in self.faults:
                if fault.operation in (operation, "*"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _log(self, service: str, operation: str, status: int) -> None:
        with self._lock:
            self.requests.append((service, operation, status))

    # ---------------------------------------------------------------- Braket
    def braket_operation(self, method: str, parts: list[str]) -> str:
        match (method, parts):
            case ("GET", ["device", _]):
                return "GetDevice"
            case ("POST", ["devices"]):
                return "SearchDevices"
            case ("POST", ["quantum-task"]):
                return "CreateQuantumTask"
            case ("GET", ["quantum-task", _]):
                return "GetQuantumTask"
            case ("PUT", ["quantum-task", _, "cancel"]):
                return "CancelQuantumTask"
        return "Unknown"

    def braket(
        self,
        operation: str,
        parts: list[str],
        query: dict[str, list[str]],
        body: bytes,
        region: str,
    ) -> tuple[int, dict[str, Any]]:
        if operation == "GetDevice":
            return 200, self._get_device(parts[1], region)
        if operation == "SearchDevices":
            return 200, self._search_devices(_json_body(body), region)
        if operation == "CreateQuantumTask":
            return 201, self._create_task(_json_body(body), region)
        if operation == "GetQuantumTask":
            return 200, self._get_task(parts[1], query)
        if operation == "CancelQuantumTask":
            return 200, self._cancel_task(parts[1])
        raise _Reply(
            404,
            "UnknownOperationException",
            f"the fake Braket service does not implement {'/'.join(parts)!r}",
        )

    def _device(self, arn: str, region: str) -> FakeDevice:
        with self._lock:
            device = self.devices.get(arn)
        if device is None or (device.region and device.region != region):
            raise _Reply(404, "ResourceNotFoundException", f"Braket device '{arn}' not found")
        return device

    def _get_device(self, arn: str, region: str) -> dict[str, Any]:
        device = self._device(arn, region)
        return {
            **device.summary(),
            "deviceCapabilities": device.capabilities.json(),
            "deviceQueueInfo": [
                {
                    "queue": "QUANTUM_TASKS_QUEUE",
                    "queueSize": str(self._queue_size(arn)),
                    "queuePriority": "Normal",
                },
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ],
        }

    def _queue_size(self, arn: str) -> int:
        with self._lock:
            drain = self.devices[arn].drain
            if drain is not None:
                return drain.queue(self.clock(), list(self._schedule(drain).values()))
            return sum(1 for t in self.tasks if t.device_arn == arn and t.status == "QUEUED")

    def _schedule(self, drain: Drain) -> dict[str, Slot | None]:
        """``{task arn: slot}`` of the tasks created under ``drain``, in creation order."""
        tasks = [t for t in self.tasks if t.drain is drain]
        slots = drain.slots((t.queued_at, t.cancelled_at) for t in tasks)
        return {t.arn: slot for t, slot in zip(tasks, slots, strict=True)}

    def _search_devices(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        arns: list[str] | None = None
        for flt in request.get("filters") or []:
            if flt.get("name") != "deviceArn":
                raise _Reply(400, "ValidationException", f"unsupported filter {flt.get('name')!r}")
            arns = list(flt.get("values") or [])
        with self._lock:
            found = [
                d.summary()
                for d in self.devices.values()
                if (not d.region or d.region == region) and (arns is None or d.arn in arns)
            ]
        return {"devices": found}

    def _create_task(self, req: dict[str, Any], region: str) -> dict[str, Any]:
        for key in ("deviceArn", "shots", "outputS3Bucket", "outputS3KeyPrefix", "action"):
            if key not in req:
                raise _Reply(400, "ValidationException", f"Missing required parameter {key!r}")
        token = req.get("clientToken")
        if token:
            with self._lock:
                for t in self.tasks:
                    if t.client_token == token:
                        return {"quantumTaskArn": t.arn}
        device_arn = req["deviceArn"]
        with self._lock:
            device = self.devices.get(device_arn)
        if device is None or (device.region and device.region != region):
            raise _Reply(400, "ValidationException", f"Device '{device_arn}' does not exist")
        if device.status == "OFFLINE":
            raise _Reply(424, "DeviceOfflineException", f"Device '{device_arn}' is offline")
        if device.status == "RETIRED":
            raise _Reply(410, "DeviceRetiredException", f"Device '{device_arn}' is retired")
        shots = int(req["shots"])
        low, high = device.shots_range
        if not low <= shots <= high:
            raise _Reply(
                400,
                "ValidationException",
                f"Device {device_arn} requires shots in [{low}, {high}]; got {shots}",
            )
        bucket = req["outputS3Bucket"]
        with self._lock:
            if bucket not in self.buckets:
                if not self.auto_create_buckets:
                    raise _Reply(
                        400,
                        "ValidationException",
                        f"Caller doesn't have access to amazon-braket-* bucket or "
                        f"bucket does not exist: s3://{bucket}",
                    )
                self.buckets.add(bucket)
        try:
            action = json.loads(req["action"])
        except (TypeError, ValueError):
            raise _Reply(400, "ValidationException", "action is not valid JSON") from None
        header = (action.get("braketSchemaHeader") or {}).get("name")
        if header != "braket.ir.openqasm.program":
            raise _Reply(
                400,
                "ValidationException",
                f"the fake service only runs braket.ir.openqasm.program actions, got {header!r}",
            )
        params = json.loads(req["deviceParameters"]) if req.get("deviceParameters") else None
        width = ((params or {}).get("paradigmParameters") or {}).get("qubitCount")
        if width is not None and int(width) > device.qubit_count:
            raise _Reply(
                400,
                "ValidationException",
                f"Circuit has {width} qubits; device {device_arn} supports {device.qubit_count}",
            )
        arn = f"arn:aws:braket:{region}:{self.account_id}:quantum-task/{uuid.uuid4()}"
        task = FakeTask(
            arn=arn,
            device_arn=device_arn,
            shots=shots,
            source=str(action.get("source", "")),
            inputs=dict(action.get("inputs") or {}),
            action=action,
            device_parameters=params,
            bucket=bucket,
            key_prefix=req["outputS3KeyPrefix"],
            client_token=token,
            created_at=_now(),
            region=region,
            tags=dict(req.get("tags") or {}),
        )
        with self._lock:
            doomed = self.task_failures.pop(0) if self.task_failures else None
        if doomed is None:
            self._simulate(task, device)
        else:
            task.failure_reason = doomed
        with self._lock:
            # Queued as it is accepted: creation order is the FIFO order.
            task.drain, task.queued_at = device.drain, self.clock()
            self.tasks.append(task)
        return {"quantumTaskArn": arn}

    def _simulate(self, task: FakeTask, device: FakeDevice) -> None:
        """Run the program now; the result is published when COMPLETED is reported."""
        from braket.devices import LocalSimulator
        from braket.ir.openqasm import Program

        started = time.perf_counter()
        try:
            program = Program(source=task.source, inputs=task.inputs or None)
            with self._sim_lock:
                sim = self._simulators.get(device.simulator)
                if sim is None:
                    sim = self._simulators[device.simulator] = LocalSimulator(device.simulator)
                result = sim.run(program, shots=task.shots).result()
            duration_ms = max(1, round((time.perf_counter() - started) * 1000))
            task.result_json = _gate_model_result_json(task, device, result, duration_ms)
        except Exception as exc:  # the task FAILS, as on the service
            task.failure_reason = f"{type(exc).__name__}: {exc}"[:1000]

    def _get_task(self, arn: str, query: dict[str, list[str]]) -> dict[str, Any]:
        task = self._find_task(arn)
        with self._lock:
            task.get_calls += 1
            self._advance(task)
            response: dict[str, Any] = {
                "quantumTaskArn": task.arn,
                "status": task.status,
                "deviceArn": task.device_arn,
                "deviceParameters": json.dumps(task.device_parameters or {}),
                "shots": task.shots,
                "outputS3Bucket": task.bucket,
                "outputS3Directory": task.output_directory,
                "createdAt": task.created_at,
                "tags": task.tags,
                "associations": [],
                "actionMetadata": {"actionType": "braket.ir.openqasm.program"},
            }
            if task.ended_at:
                response["endedAt"] = task.ended_at
            if task.status == "FAILED":
                response["failureReason"] = task.failure_reason or "unknown"
            if task.status == "COMPLETED":
                response["numSuccessfulShots"] = task.shots
            if "QueueInfo" in query.get("additionalAttributeNames", []):
                position = self._queue_position(task)
                info: dict[str, Any] = {
                    "queue": "QUANTUM_TASKS_QUEUE",
                    "queuePriority": "Normal",
                    "position": position,
                }
                if position == "None":
                    info["message"] = (
                        f"Task is in {task.status} status. AmazonBraket does not "
                        "show queue position for this status."
                    )
                response["queueInfo"] = info
        return response

    def _queue_position(self, task: FakeTask) -> str:
        if task.status != "QUEUED":
            return "None"
        if task.drain is not None:
            schedule = self._schedule(task.drain)
            index = list(schedule).index(task.arn)
            position = task.drain.position(self.clock(), list(schedule.values()), index)
            return "None" if position is None else str(position)
        queued = [t for t in self.tasks if t.device_arn == task.device_arn and t.status == "QUEUED"]
        return str(queued.index(task) + 1)

    def _advance(self, task: FakeTask) -> None:
        """Move ``task`` one step along ``pending_statuses`` -> COMPLETED/FAILED."""
        if task.status in _TERMINAL:
            return
        if task.status == "CANCELLING":
            self._finish(task, "CANCELLED")
            return
        if task.drain is not None:
            self._advance_on_clock(task, task.drain)
            return
        n = task.get_calls
        if n <= len(self.pending_statuses):
            task.status = self.pending_statuses[n - 1]
            return
        self._complete(task)

    def _advance_on_clock(self, task: FakeTask, drain: Drain) -> None:
        """Set ``task``'s status from its slot on ``drain`` at the clock's time."""
        now = self.clock()
        slot = self._schedule(drain)[task.arn]
        assert slot is not None  # a task cancelled before it started is CANCELLING
        phase = slot.phase(now)
        if phase == "queued":
            task.status = "QUEUED"
        elif phase == "running":
            task.status = "RUNNING"
        else:
            self._complete(task, ended=time.time() - (now - slot.end))

    def _complete(self, task: FakeTask, ended: float | None = None) -> None:
        """COMPLETED with ``results.json`` published (FAILED if the task has no result)."""
        if task.result_json is None:
            self._finish(task, "FAILED", ended)
            return
        self.buckets.add(task.bucket)
        self.objects[(task.bucket, task.results_key)] = task.result_json.encode()
        self._finish(task, "COMPLETED", ended)

    @staticmethod
    def _finish(task: FakeTask, status: str, ended: float | None = None) -> None:
        task.status = status
        task.ended_at = _now(ended)

    def _cancel_task(self, arn: str) -> dict[str, Any]:
        task = self._find_task(arn)
        with self._lock:
            self.cancelled.append(arn)
            if task.drain is not None:
                self._advance(task)  # the clock may have finished it
            if task.status in ("COMPLETED", "FAILED"):
                raise _Reply(
                    409,
                    "ConflictException",
                    f"Quantum task {arn} is in terminal state {task.status} and "
                    "cannot be cancelled",
                )
            if task.status not in ("CANCELLING", "CANCELLED"):
                task.status = "CANCELLING"
                task.cancelled_at = self.clock()  # out of the queue (or off the server)
            return {"quantumTaskArn": arn, "cancellationStatus": task.status}

    def _find_task(self, arn: str) -> FakeTask:
        try:
            return self.task(arn)
        except KeyError:
            raise _Reply(
                404, "ResourceNotFoundException", f"Quantum task '{arn}' not found"
            ) from None

    # ---------------------------------------------------------------- S3
    def s3_operation(
        self, method: str, bucket: str | None, key: str, query: dict[str, list[str]]
    ) -> str:
        if bucket is None:
            return "ListBuckets" if method == "GET" else "Unknown"
        if not key:
            return {
                "HEAD": "HeadBucket",
                "PUT": "CreateBucket",
                "DELETE": "DeleteBucket",
                "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
            }.get(method, "Unknown")
        return {
            "GET": "GetObject",
            "HEAD": "HeadObject",
            "PUT": "PutObject",
            "DELETE": "DeleteObject",
        }.get(method, "Unknown")

    def s3(
        self, operation: str, bucket: str | None, key: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            if operation == "ListBuckets":
                names = "".join(
                    f"<Bucket><Name>{escape(b)}</Name>"
                    f"<CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket>"
                    for b in sorted(self.buckets)
                )
                return (
                    200,
                    {},
                    _xml(
                        f'<ListAllMyBucketsResult xmlns="{_S3_NS}"><Buckets>'
                        f"{names}</Buckets></ListAllMyBucketsResult>"
                    ),
                )
            assert bucket is not None
            if operation == "CreateBucket":
                if bucket in self.buckets:
                    raise _Reply(
                        409,
                        "BucketAlreadyOwnedByYou",
                        "Your previous request to create the named bucket succeeded "
                        "and you already own it.",
                    )
                self.buckets.add(bucket)
                return 200, {"Location": f"/{bucket}"}, b""
            if bucket not in self.buckets:
                raise _Reply(404, "NoSuchBucket", "The specified bucket does not exist")
            if operation == "HeadBucket":
                return 200, {"x-amz-bucket-region": self.region}, b""
            if operation == "ListObjectsV2":
                return 200, {}, self._list_objects(bucket, query)
            if operation == "PutObject":
                self.objects[(bucket, key)] = body
                return 200, {"ETag": _etag(body)}, b""
            if operation == "DeleteObject":
                self.objects.pop((bucket, key), None)
                return 204, {}, b""
            if operation in ("GetObject", "HeadObject"):
                data = self.objects.get((bucket, key))
                if data is None:
                    raise _Reply(404, "NoSuchKey", "The specified key does not exist.")
                headers = {
                    "ETag": _etag(data),
                    "Last-Modified": _http_date(),
                    "Content-Type": "application/json"
                    if key.endswith(".json")
                    else "binary/octet-stream",
                    "Accept-Ranges": "bytes",
                }
                return 200, headers, data
        raise _Reply(
            501, "NotImplemented", f"the fake S3 does not implement {operation} ({bucket}/{key})"
        )

    def _list_objects(self, bucket: str, query: dict[str, list[str]]) -> bytes:
        prefix = (query.get("prefix") or [""])[0]
        max_keys = int((query.get("max-keys") or ["1000"])[0])
        start = (query.get("continuation-token") or query.get("start-after") or [""])[0]
        keys = sorted(
            k for b, k in self.objects if b == bucket and k.startswith(prefix) and k > start
        )
        page, more = keys[:max_keys], len(keys) > max_keys
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>{_now()}</LastModified>"
            f"<ETag>{escape(_etag(self.objects[(bucket, k)]))}</ETag>"
            f"<Size>{len(self.objects[(bucket, k)])}</Size>"
            f"<StorageClass>STANDARD</StorageClass></Contents>"
            for k in page
        )
        token = f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>" if more else ""
        return _xml(
            f'<ListBucketResult xmlns="{_S3_NS}"><Name>{escape(bucket)}</Name>'
            f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>"
            f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(more).lower()}</IsTruncated>"
            f"{token}{contents}</ListBucketResult>"
        )

    # ---------------------------------------------------------------- STS
    def sts(self, operation: str) -> bytes:
        if operation != "GetCallerIdentity":
            raise _Reply(400, "InvalidAction", f"the fake STS does not implement {operation}")
        return _xml(
            f'<GetCallerIdentityResponse xmlns="{_STS_NS}"><GetCallerIdentityResult>'
            f"<Arn>arn:aws:iam::{self.account_id}:user/qdreamer-test</Arn>"
            f"<UserId>AIDAFAKEQDREAMERTEST</UserId><Account>{self.account_id}</Account>"
            f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}"
            f"</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )


def start_fake_braket(**kwargs: Any) -> FakeBraketService:
    """A started :class:`FakeBraketService` (call ``.stop()`` when done).

    For a whole pytest session (``tests/conftest.py``): start it *before*
    ``ray.init``, then ``fake.export_env()`` so that Ray workers inherit its
    ``env``.
    """
    return FakeBraketService(**kwargs).start()


# ---------------------------------------------------------------- helpers
def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise _Reply(400, "SerializationException", "request body is not JSON") from None
    if not isinstance(data, dict):
        raise _Reply(400, "SerializationException", "request body is not a JSON object")
    return data


def _xml(text: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()


def _etag(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def _jsonable(value: Any) -> Any:
    """numpy arrays/scalars and complex numbers as the service writes them ([re, im])."""
    import numpy as np

    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _gate_model_result_json(
    task: FakeTask, device: FakeDevice, result: Any, duration_ms: int
) -> str:
    """Serialise a LocalSimulator ``GateModelQuantumTaskResult`` as the service's results.json."""
    from braket.task_result import GateModelTaskResult

    additional: dict[str, Any] = {"action": task.action}
    if device.type == "SIMULATOR":
        additional["simulatorMetadata"] = {
            "braketSchemaHeader": {"name": "braket.task_result.simulator_metadata", "version": "1"},
            "executionDuration": duration_ms,
        }
    payload: dict[str, Any] = {
        "taskMetadata": {
            "braketSchemaHeader": {"name": "braket.task_result.task_metadata", "version": "1"},
            "id": task.arn,
            "shots": task.shots,
            "deviceId": task.device_arn,
            "createdAt": task.created_at,
            "endedAt": _now(),
            "status": "COMPLETED",
        },
        "additionalMetadata": additional,
    }
    if result.result_types:
        payload["resultTypes"] = [
            {"type": rt.type.dict(exclude_none=True), "value": _jsonable(rt.value)}
            for rt in result.result_types
        ]
    if task.shots > 0 and result.measurements is not None and len(result.measurements):
        payload["measurements"] = _jsonable(result.measurements)
        payload["measuredQubits"] = [int(q) for q in result.measured_qubits]
    if getattr(result, "outputs", None):
        payload["outputs"] = _jsonable(result.outputs)
    # Validated by the schema the SDK parses it with.
    return GateModelTaskResult.parse_obj(payload).json(exclude_none=True)


def _decode_aws_chunked(body: bytes) -> bytes:
    """Strip ``aws-chunked`` framing (``<hex>[;chunk-signature=..]\\r\\n<data>\\r\\n``...)."""
    out = bytearray()
    pos = 0
    while pos < len(body):
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";", 1)[0], 16)
        pos = end + 2
        if size == 0:
            break
        out += body[pos : pos + size]
        pos += size + 2
    return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeBraket/1.0"
    # One write per response and TCP_NODELAY: otherwise Nagle + delayed ACK
    # add ~40 ms to every call.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    @property
    def fake(self) -> FakeBraketService:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle_expect_100(self) -> bool:
        # wfile is buffered (wbufsize): push "100 Continue" out now, or botocore waits 1 s.
        accepted = super().handle_expect_100()
        self.wfile.flush()
        return accepted

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # ------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            body = bytes(data)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        if "aws-chunked" in self.headers.get("Content-Encoding", "") or self.headers.get(
            "x-amz-content-sha256", ""
        ).startswith("STREAMING-"):
            body = _decode_aws_chunked(body)
        return body

    def _service(self, path: str) -> tuple[str, str | None, str | None]:
        """(service, region, access key id) from the SigV4 credential scope."""
        match = _SCOPE.search(self.headers.get("Authorization", ""))
        if match:
            return match.group(3), match.group(2), match.group(1)
        first = path.lstrip("/").split("/", 1)[0]
        if first in ("device", "devices", "quantum-task", "quantum-tasks"):
            return "braket", None, None
        return "s3", None, None

    def _dispatch(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        body = self._read_body()
        service, region, key_id = self._service(split.path)
        region = region or fake.region
        operation = ["Unknown"]  # set by _serve as soon as it knows
        try:
            status, data, headers = self._serve(
                service, operation, split.path, query, body, region, key_id
            )
        except _Reply as reply:
            status, data, headers = self._error(service, reply)
        except Exception as exc:  # a bug in the fake: answer 500, like the service
            status, data, headers = self._error(
                service,
                _Reply(
                    500,
                    "InternalServiceException",
                    f"fake service error: {type(exc).__name__}: {exc}",
                ),
            )
        # Logged before answering, so a client that got its answer sees its request logged.
        fake._log(service, operation[0], status)
        with contextlib.suppress(OSError):
            self._send(status, data, headers, head=self.command == "HEAD")

    def _serve(
        self,
        service: str,
        operation: list[str],
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        region: str,
        key_id: str | None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request: (status, body, headers); ``operation[0]`` names it."""
        fake = self.fake
        if service == "braket":
            parts = [unquote(p) for p in path.strip("/").split("/")]
            operation[0] = fake.braket_operation(self.command, parts)
            self._check(
                operation[0],
                key_id,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
            status, payload = fake.braket(operation[0], parts, query, body, region)
            return status, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        if service == "s3":
            bucket, key = self._s3_location(path)
            operation[0] = fake.s3_operation(self.command, bucket, key, query)
            self._check(
                operation[0],
                key_id,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
            status, headers, data = fake.s3(operation[0], bucket, key, query, body)
            return status, data, headers
        if service == "sts":
            form = parse_qs(body.decode(), keep_blank_values=True) if body else query
            operation[0] = (form.get("Action") or ["Unknown"])[0]
            self._check(
                operation[0],
                key_id,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
            return 200, fake.sts(operation[0]), {"Content-Type": "text/xml"}
        raise _Reply(
            400,
            "UnknownOperationException",
            f"the fake AWS endpoint does not serve service {service!r}",
        )

    def _check(self, operation: str, key_id: str | None, code: str, message: str) -> None:
        delay = self.fake._take_delay(operation)
        if delay:
            time.sleep(delay)
        fault = self.fake._take_fault(operation)
        if fault is not None:
            raise _Reply(fault.status, fault.code, fault.message)
        if key_id is not None and key_id != self.fake.access_key_id:
            raise _Reply(403, code, message)

    def _s3_location(self, path: str) -> tuple[str | None, str]:
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        for suffix in (".127.0.0.1", ".localhost"):
            if host.endswith(suffix):  # virtual-host style
                return host[: -len(suffix)], unquote(path.lstrip("/"))
        bucket, _, key = path.lstrip("/").partition("/")
        return (unquote(bucket) or None), unquote(key)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], *, head: bool = False
    ) -> None:
        self.send_response(status)
        request_id = str(uuid.uuid4())
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Date", _http_date())
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    @staticmethod
    def _error(service: str, reply: _Reply) -> tuple[int, bytes, dict[str, str]]:
        """An error answer in the protocol of ``service``."""
        if service == "s3":
            body = _xml(
                f"<Error><Code>{escape(reply.code)}</Code>"
                f"<Message>{escape(reply.message)}</Message>"
                f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
            )
            return reply.status, body, {"Content-Type": "application/xml"}
        if service == "sts":
            kind = "Receiver" if reply.status >= 500 else "Sender"
            body = _xml(
                f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>{kind}</Type>'
                f"<Code>{escape(reply.code)}</Code>"
                f"<Message>{escape(reply.message)}</Message></Error>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            )
            return reply.status, body, {"Content-Type": "text/xml"}
        # rest-json, as the Braket service answers: the code in x-amzn-ErrorType.
        body = json.dumps({"message": reply.message}).encode()
        return (
            reply.status,
            body,
            {
                "Content-Type": "application/json",
                "x-amzn-ErrorType": f"{reply.code}:http://internal.amazon.com/coral/com.amazonaws.braket/",
            },
        )

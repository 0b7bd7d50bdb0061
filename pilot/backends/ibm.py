"""``ibm_runtime``: IBM Quantum Runtime through ``SamplerV2``.

With a token (``quantum.ibmqx_token``, ``IBM_QUANTUM_TOKEN``, the seed's
``IBMQX_TOKEN``, the SDK's ``QISKIT_IBM_TOKEN``) or an account saved with
``QiskitRuntimeService.save_account``, it uses the real service.  With
``quantum.local: true`` it uses the runtime's local testing mode: ``SamplerV2``
given a fake backend as its mode runs the same client code locally in Aer.
Without either it refuses, and never falls back silently.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dreamer.resource import ResourceCapabilities, ResourceStatus
from pilot.backends.base import Job, Layout, NativeOutput, QuantumBackend, bits_from_qiskit_key
from pilot.backends.qiskit import (
    QiskitDevices,
    capabilities_from_target,
    fake_devices,
    normalise_fake_name,
)
from pilot.convert.qiskit import measured_circuit
from pilot.errors import ConfigError, CredentialsError, PilotStartError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from pilot.config import QuantumConfig

logger = logging.getLogger(__name__)

#: Environment variables searched for a token, in order.
TOKEN_ENV = ("IBM_QUANTUM_TOKEN", "IBMQX_TOKEN", "QISKIT_IBM_TOKEN")


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced (SDK errors sometimes echo request data)."""
    return text.replace(secret, "***") if secret else text


class IBMRuntimeBackend(QiskitDevices, QuantumBackend):
    framework = "qiskit"

    def __init__(self, config: QuantumConfig, *, pilot: str = "", num_cpus: float = 1) -> None:
        super().__init__(config, pilot=pilot, num_cpus=num_cpus)
        self._service: Any = None
        self._devices: dict[str, Any] = {}
        self._pms: dict[Any, Any] = {}
        if config.local:
            self._init_local(config)
        else:
            self._init_service(config)
        self._caps = [self._capabilities(name, b) for name, b in self._devices.items()]

    # ------------------------------------------------------------ connecting
    def _init_local(self, config: QuantumConfig) -> None:
        available = fake_devices()
        names = config.backends or (config.backend or config.local_backend or "fake_manila",)
        for raw in names:
            name = normalise_fake_name(raw)
            if name not in available:
                raise ConfigError.unknown(
                    "fake backend for local mode", "quantum.backend", str(raw), available
                )
            self._devices[name] = available[name]

    def _init_service(self, config: QuantumConfig) -> None:
        from qiskit_ibm_runtime import QiskitRuntimeService

        token = config.token or next((os.environ[v] for v in TOKEN_ENV if os.environ.get(v)), None)
        channel = config.channel or "ibm_quantum_platform"
        if token is None and not _saved_account(channel):
            raise CredentialsError(
                f"executor {self.executor!r} needs IBM Quantum credentials: set "
                "IBM_QUANTUM_TOKEN (or quantum.ibmqx_token), or save an account with "
                "QiskitRuntimeService.save_account(...). To run the same client code locally "
                "on fake backends, set quantum.local = true."
            )
        try:
            self._service = QiskitRuntimeService(
                channel=channel, token=token, instance=config.instance
            )
            if config.backends or config.backend:
                for name in config.backends or (str(config.backend),):
                    self._devices[name] = self._service.backend(name)
            else:
                backend = self._service.least_busy(operational=True, simulator=False)
                self._devices[backend.name] = backend
        except Exception as exc:
            raise PilotStartError(
                f"could not connect to IBM Quantum ({channel}): "
                f"{scrub(f'{type(exc).__name__}: {exc}', token)}"
            ) from None

    # ------------------------------------------------------------ contract
    def _capabilities(self, name: str, backend: Any) -> ResourceCapabilities:
        try:
            max_shots = int(backend.configuration().max_shots)
        except Exception:
            max_shots = None
        return capabilities_from_target(
            backend.target,
            name=name,
            executor=self.executor,
            provider="ibm-local" if self.config.local else "ibm",
            pilot=self.pilot,
            simulator=bool(self.config.local),
            noisy=True,
            max_shots=max_shots,
            supports_exact=False,
        )

    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def status(self, resource: str) -> ResourceStatus:
        st = self._device(resource).status()
        return ResourceStatus(
            online=bool(st.operational),
            queue_depth=int(st.pending_jobs),
            typical_job_seconds=self.config.typical_job_seconds,
            message=str(getattr(st, "status_msg", "") or ""),
        )

    def _sample(
        self, resource: str, circuits: list[QuantumCircuit], shots: int, layout: Layout = None
    ) -> tuple[list[Any], str]:
        sampler = _sampler_class()(mode=self._device(resource))
        if self.config.local and self.config.seed is not None:
            sampler.options.simulator.seed_simulator = self.config.seed
        isa = [self._transpile(resource, qc, layout) for qc in circuits]
        job = sampler.run(isa, shots=shots)
        return list(job.result()), str(job.job_id())

    def run_native(
        self, resource: str, circuits: Sequence[Any], shots: int | None, layout: Layout = None
    ) -> list[NativeOutput]:
        if shots is None:
            raise NotImplementedError
        pubs, job_id = self._sample(resource, list(circuits), shots, layout)
        return [
            NativeOutput(
                counts=dict(pub.join_data().get_counts()), native=pub, metadata={"job_id": job_id}
            )
            for pub in pubs
        ]

    def sample(
        self, resource: str, jobs: Sequence[Job], shots: int, layout: Layout = None
    ) -> list[dict[str, int]]:
        circuits = [measured_circuit(j.body, j.measured) for j in jobs]
        pubs, _ = self._sample(resource, circuits, shots, layout)
        return [
            {
                bits_from_qiskit_key(k, len(job.measured)): v
                for k, v in pub.join_data().get_counts().items()
            }
            for pub, job in zip(pubs, jobs, strict=True)
        ]


def _sampler_class() -> Any:
    """The client-side ``Sampler`` (qiskit-ibm-runtime >= 0.50), else the legacy ``SamplerV2``."""
    try:
        from qiskit_ibm_runtime.executor_sampler import Sampler
    except ImportError:  # older runtimes
        from qiskit_ibm_runtime import SamplerV2 as Sampler
    return Sampler


def _saved_account(channel: str) -> bool:
    try:
        from qiskit_ibm_runtime.accounts import AccountManager

        return AccountManager.get(channel=channel) is not None
    except Exception:
        return False

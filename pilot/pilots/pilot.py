"""Pilots: reserved Ray capacity, either holding quantum backends or running classical tasks."""

from __future__ import annotations

import itertools
import logging
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import ray

from dreamer.resource import ResourceCapabilities
from pilot.backends.registry import resolve_executor
from pilot.config import pricing_for
from pilot.errors import MissingDependencyError, PilotError, PilotStartError, SchedulingError
from pilot.launchers import Allocation, Launcher
from pilot.pilots.actor import PilotActor
from pilot.states import TERMINAL_STATES, PilotState

if TYPE_CHECKING:
    from pilot.config import PilotDescription

logger = logging.getLogger(__name__)

#: What to do when a pilot's workers run another Python environment than the driver.
FRESH_INSTANCE = (
    "Install {what} there, or start a new local Ray instance: "
    "PilotComputeService(ray_address='local') or RAY_ADDRESS=local"
)


class Pilot:
    """Capacity a :class:`~pilot.runtime.service.PilotComputeService` created.

    Attributes:
        name: unique within the service.
        state: a :class:`~pilot.states.PilotState`.
        description: the validated description as a dict (secrets masked).
        resources: quantum pilots: the ``ResourceCapabilities`` of each device
            they hold; classical pilots: ``{"CPU": n, "GPU": g, "nodes": k}``.
    """

    resource_type = "classical"

    def __init__(self, name: str, config: PilotDescription, launcher: Launcher) -> None:
        self.name = name
        self.config = config
        self.state = PilotState.NEW
        self._launcher = launcher
        self._allocation: Allocation | None = None
        self.created_at = time.time()

    @property
    def description(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json", exclude_none=True)

    @property
    def resources(self) -> Any:  # overridden
        return {}

    @property
    def job_id(self) -> str | None:
        """The Slurm job holding this pilot (``None`` for local pilots)."""
        if self._allocation is None:
            return None
        job = self._allocation.info.get("job_id")
        return str(job) if job is not None else None

    @property
    def holds(self) -> dict[str, float]:
        """What this pilot holds of the cluster: ``{"CPU": n, "GPU": g}`` in all (a hard
        reservation), zeros for a pilot that shares its node (see
        :meth:`~pilot.config.PilotDescription.reserved`)."""
        cores, gpus = self.config.reserved()
        n = self._bundle_count()
        return {"CPU": cores * n, "GPU": gpus * n}

    @property
    def holding(self) -> str:
        """:attr:`holds` in words (``"0.5 CPU"``, ``"shares the node"``), for reports."""
        if self.shares_node:
            return "shares the node"
        held = ", ".join(f"{v:g} {k}" for k, v in self.holds.items() if v)
        return f"{held} (Slurm job {self.job_id})" if self.job_id else held

    def summary(self) -> dict[str, Any]:
        """One row about this pilot for reports: name, kind, state, what it holds."""
        kind = getattr(self, "executor", None) or self.resource_type
        return {
            "pilot": self.name,
            "kind": kind,
            "state": str(self.state),
            "holds": self.holding,
            "cpus": self.holds["CPU"],
            "gpus": self.holds["GPU"],
        }

    @property
    def shares_node(self) -> bool:
        """True when the pilot reserves nothing (its actors share the node)."""
        return not any(self.config.reserved())

    def _bundles(self) -> list[dict[str, float]]:
        cores, gpus = self.config.reserved()
        bundle = {key: value for key, value in (("CPU", cores), ("GPU", gpus)) if value}
        if not bundle:
            return []  # nothing reserved: no placement group
        return [dict(bundle) for _ in range(self._bundle_count())]

    def _bundle_count(self) -> int:
        return self.config.number_of_nodes

    def start(self) -> None:
        """Request the capacity; complete the start now unless the launcher queues
        (a Slurm job: the pilot stays PENDING until :meth:`wait`)."""
        self._allocation = self._launcher.start(self.name, self.config, self._bundles())
        self.state = PilotState.PENDING
        if self._launcher.waits_on_create:
            self._complete(self.config.start_timeout_seconds)

    def _complete(self, timeout: float) -> None:
        assert self._allocation is not None
        try:
            self._launcher.wait(self._allocation, timeout)
            self.state = PilotState.STARTING
            self._start_workers()
        except BaseException:
            self.state = PilotState.FAILED
            self._release()
            raise
        self.state = PilotState.RUNNING

    def _start_workers(self) -> None:
        """Bring up what runs on the reservation (nothing for classical pilots)."""

    def wait(self, timeout: float | None = None) -> Pilot:
        """Return once the pilot is RUNNING (local pilots are, when create_pilot returns;
        a Slurm pilot is once its job runs and its Ray nodes have registered).

        Raises ``PilotStartError`` after ``timeout`` seconds (default: the
        description's ``start_timeout_seconds``), or with the job's stderr when
        it ended before starting.
        """
        if self.state is PilotState.PENDING and self._allocation is not None:
            self._complete(self.config.start_timeout_seconds if timeout is None else timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.state not in (PilotState.RUNNING, *TERMINAL_STATES):
            if deadline is not None and time.monotonic() > deadline:
                raise PilotStartError(
                    f"pilot {self.name!r} is still {self.state} after {timeout} s"
                )
            time.sleep(0.05)
        if self.state is not PilotState.RUNNING:
            raise PilotStartError(f"pilot {self.name!r} ended as {self.state}")
        return self

    def refresh(self) -> PilotState:
        """Ask the launcher whether the capacity is still there and update ``state``.

        A Slurm pilot whose job reached its walltime becomes DONE (an expected
        end), one whose job failed FAILED; its actors are released.
        """
        if self.state is PilotState.RUNNING and self._allocation is not None:
            state = self._launcher.poll(self._allocation)
            if state in TERMINAL_STATES:
                logger.info("pilot %s: capacity ended (%s)", self.name, state)
                self._release()
                self.state = state
        return self.state

    def cancel(self) -> None:
        """Release this pilot's actors and reservation (nothing else). Idempotent."""
        if self.state in TERMINAL_STATES:
            return
        self._release()
        self.state = PilotState.CANCELED
        logger.info("pilot %s canceled", self.name)

    def _release(self) -> None:
        if self._allocation is not None:
            self._launcher.cancel(self._allocation)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self.state.value})"


class ClassicalPilot(Pilot):
    """CPU/GPU capacity where ``submit_task`` runs plain functions."""

    resource_type = "classical"

    @property
    def resources(self) -> dict[str, float]:
        return {**self.holds, "nodes": self.config.number_of_nodes}

    def task_options(self, num_cpus: float, num_gpus: float, memory: int | None) -> dict[str, Any]:
        """Ray options placing one task on this pilot; refuse what could never fit."""
        if self.state is not PilotState.RUNNING:
            raise SchedulingError(f"pilot {self.name!r} is {self.state}; it cannot take tasks")
        cores, gpus = self.config.reserved()
        if num_cpus > cores or num_gpus > gpus:
            raise SchedulingError(
                f"task asks for {num_cpus:g} CPU / {num_gpus:g} GPU but pilot {self.name!r} "
                f"holds {cores:g} CPU / {gpus:g} GPU per node; a task runs on one node. "
                "Ask for less, or create a pilot with more cores_per_node/gpus_per_node."
            )
        if memory:
            raise SchedulingError(
                f"task asks for memory={memory} but pilot {self.name!r} reserves no memory; "
                "drop 'memory' from resources"
            )
        assert self._allocation is not None
        opts = dict(self._launcher.task_options(self._allocation))
        opts.update(num_cpus=num_cpus, num_gpus=num_gpus)
        return opts


class QuantumPilot(Pilot):
    """Named Ray actors (``pilot-<name>``) holding one executor's backend."""

    resource_type = "quantum"
    #: Seconds the actors' ``shutdown`` (their backends' ``close``) may take on cancel.
    SHUTDOWN_SECONDS = 10.0

    def __init__(
        self, name: str, config: PilotDescription, launcher: Launcher, *, journal: bool = False
    ) -> None:
        super().__init__(name, config, launcher)
        assert config.quantum is not None
        #: The service journals results: the actors encode them for the journal.
        self.journal = journal
        self.executor = config.quantum.executor
        #: The backend runs remotely (a cloud device): its calls mostly wait on HTTP.
        self.remote = resolve_executor(self.executor).remote
        #: Times Ray restarts a dead actor (``quantum.max_restarts``).
        self.restarts = config.quantum.max_restarts
        self.actors: list[Any] = []
        self.actor_names: list[str] = []
        self._caps: list[ResourceCapabilities] = []
        self._rr = itertools.count()

    @property
    def resources(self) -> list[ResourceCapabilities]:
        return list(self._caps)

    def _bundle_count(self) -> int:
        assert self.config.quantum is not None
        return self.config.quantum.actors

    def _start_workers(self) -> None:
        quantum = self.config.quantum
        assert quantum is not None and self._allocation is not None
        spec = resolve_executor(quantum.executor)
        concurrency = quantum.max_concurrency or (8 if spec.remote else 1)
        # ping/status/cancel_remote/drain_events never wait behind tasks.
        remote_cls = ray.remote(concurrency_groups=PilotActor.concurrency_groups())(  # type: ignore[call-overload]
            PilotActor
        )
        cores, gpus = self.config.reserved()
        count = quantum.actors
        for i in range(count):
            actor_name = f"pilot-{self.name}" if count == 1 else f"pilot-{self.name}-{i}"
            opts: dict[str, Any] = {
                "name": actor_name,
                "num_cpus": cores,
                "num_gpus": gpus,
                # Threads: `concurrency` compute, one more reads the next task,
                # and a few may wait on failed-over tasks (see PilotActor).
                "max_concurrency": PilotActor.max_concurrency(concurrency),
                # Restarted actors retry the tasks they had not finished.
                "max_restarts": quantum.max_restarts,
                "max_task_retries": quantum.max_restarts,
                # No runtime_env (its thread caps are set by the actor itself): an actor
                # with the default environment can start in a worker Ray has prestarted,
                # which saves ~1 s of pilot start-up.
                **self._launcher.actor_options(self._allocation, i),
            }
            if self.shares_node and count > 1:
                opts.setdefault("scheduling_strategy", "SPREAD")  # no bundles: spread them
            self.actors.append(
                remote_cls.options(**opts).remote(
                    quantum, self.name, cores, concurrency, self.journal
                )
            )
            self.actor_names.append(actor_name)
        try:
            described = ray.get(
                [a.describe.remote() for a in self.actors],
                timeout=self.config.start_timeout_seconds,
            )
        except ray.exceptions.GetTimeoutError:
            raise PilotStartError(
                f"pilot {self.name!r} ({self.executor}): backend actors not ready after "
                f"{self.config.start_timeout_seconds:g} s"
            ) from None
        except ray.exceptions.RayTaskError as err:
            cause = err.cause if isinstance(err.cause, BaseException) else err
            if isinstance(cause, ImportError):
                raise self._import_error(cause) from None
            if isinstance(cause, PilotError):
                raise cause from None
            raise PilotStartError(
                f"pilot {self.name!r} ({self.executor}) failed to start: "
                f"{type(cause).__name__}: {cause}"
            ) from cause
        except ray.exceptions.RayActorError as err:
            text = str(err)
            hint = ""
            if "No module named" in text or "ModuleNotFoundError" in text:
                hint = (
                    f". The pilot's Ray workers cannot import what this driver imports: the "
                    f"Ray cluster's workers run another Python environment than this driver "
                    f"({sys.executable}). {FRESH_INSTANCE.format(what='qdreamer')}"
                )
            raise PilotStartError(
                f"pilot {self.name!r} ({self.executor}): backend actor died while starting: "
                f"{text}{hint}"
            ) from None
        self._caps = [_with_pilot(cap, self.name, gpus) for cap in described[0]["resources"]]

    def _import_error(self, cause: ImportError) -> BaseException:
        """An SDK the pilot's workers could not import, with the Python they run: on a
        cluster started from another environment it differs from the driver's."""
        worker = getattr(cause, "worker_python", None)
        where = f"the pilot's Ray workers run {worker}" if worker else "on the pilot's Ray workers"
        if worker and worker != sys.executable:
            where += (
                f", not this driver's Python ({sys.executable}): the Ray cluster was started "
                f"from another environment. {FRESH_INSTANCE.format(what='it')}"
            )
        if isinstance(cause, MissingDependencyError):
            error = MissingDependencyError(
                cause.executor, cause.module, cause.install, what=f"pilot {self.name!r}"
            )
            error.msg = f"{error} ({where})"  # ImportError's str() is its msg
            error.args = (error.msg,)
            error.worker_python = worker  # type: ignore[attr-defined]
            return error
        return PilotStartError(
            f"pilot {self.name!r} ({self.executor}) failed to start: "
            f"{type(cause).__name__}: {cause} ({where})"
        )

    def next_actor(self) -> Any:
        actors = self.actors
        if not actors:
            raise SchedulingError(f"pilot {self.name!r} is {self.state}; it has no live actor")
        return actors[next(self._rr) % len(actors)]

    def actor_lost(self, actor: Any) -> None:
        """An actor died for good: drop it; the pilot FAILS with its last actor."""
        if actor in self.actors:
            i = self.actors.index(actor)
            self.actors = self.actors[:i] + self.actors[i + 1 :]
            self.actor_names = self.actor_names[:i] + self.actor_names[i + 1 :]
        if not self.actors and self.state is PilotState.RUNNING:
            self.state = PilotState.FAILED
            logger.warning("pilot %s FAILED: its actors died", self.name)
            Pilot._release(self)

    def _release(self) -> None:
        # Gracefully first: each backend's close() (an IBM session or batch is closed).
        try:
            if self.actors:
                control = PilotActor.CONTROL
                refs = [a.shutdown.options(concurrency_group=control).remote() for a in self.actors]
                ray.wait(refs, num_returns=len(refs), timeout=self.SHUTDOWN_SECONDS)
        except Exception as exc:  # dead actors
            logger.debug("pilot %s: shutdown: %s", self.name, exc)
        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception as exc:  # already dead
                logger.debug("pilot %s: kill: %s", self.name, exc)
        self.actors = []
        super()._release()


def _with_pilot(cap: ResourceCapabilities, pilot: str, gpus: float) -> ResourceCapabilities:
    """A backend's capabilities, tied to its pilot and priced from ``conf/pricing.toml``."""
    return replace(
        cap, pilot=pilot, num_gpus=gpus, pricing=pricing_for(cap.executor, cap.name, cap.provider)
    )

"""The service's pilots by name, and which of them can take a resource's tasks."""

from __future__ import annotations

import logging
from typing import Any

from pilot.errors import ConfigError
from pilot.pilots.pilot import ClassicalPilot, Pilot, QuantumPilot
from pilot.states import PilotState

logger = logging.getLogger(__name__)


class PilotRegistry:
    """Every pilot a service made (``pilots``), its quantum ones (``quantum``), and the
    one answer to "which running pilots can run tasks on this resource"."""

    def __init__(self) -> None:
        self.pilots: dict[str, Pilot] = {}
        self.quantum: dict[str, QuantumPilot] = {}

    def check_free(self, name: str) -> None:
        """``ConfigError`` if a pilot is already called ``name``."""
        if name in self.pilots:
            raise ConfigError(
                f"a pilot named {name!r} already exists; choose another name", key="name"
            )

    def add(self, pilot: Pilot) -> None:
        """Register ``pilot`` and start it; a pilot that fails to start is forgotten."""
        self.check_free(pilot.name)
        self.pilots[pilot.name] = pilot
        try:
            pilot.start()
        except BaseException:
            del self.pilots[pilot.name]
            raise
        if isinstance(pilot, QuantumPilot):
            self.quantum[pilot.name] = pilot

    def new_name(self, config: Any) -> str:
        """``<executor>-<n>`` (or ``classical-<n>``), the first not taken."""
        base = config.quantum.executor if config.quantum is not None else "classical"
        for i in range(len(self.pilots) + 1):
            name = f"{base}-{i}"
            if name not in self.pilots:
                return name
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, name: str) -> Pilot:
        try:
            return self.pilots[name]
        except KeyError:
            raise ConfigError.unknown("pilot", "pilot", name, self.pilots) from None

    def classical(self, name: str | None) -> ClassicalPilot | None:
        """The classical pilot named ``name``; without a name the first running one
        (``None``: there is none, tasks run on plain Ray capacity)."""
        if name is not None:
            pilot = self.get(name)
            if not isinstance(pilot, ClassicalPilot):
                raise ConfigError(
                    f"pilot {name!r} is a quantum pilot; run circuits with "
                    "submit_quantum_task(QuantumTask(...)) and functions on a classical pilot",
                    key="pilot",
                )
            return pilot
        running = self.running_classical()
        return running[0] if running else None

    def running_classical(self, besides: Pilot | None = None) -> list[ClassicalPilot]:
        """Running classical pilots (other than ``besides``), oldest first."""
        return [
            p
            for p in self.pilots.values()
            if isinstance(p, ClassicalPilot) and p is not besides and p.state is PilotState.RUNNING
        ]

    def holding(self, resource: str, prefer: str | None = None) -> list[QuantumPilot]:
        """Running quantum pilots with actors that hold ``resource``: ``prefer`` first
        (whatever its ``dreamer_enabled``), then those that let QDREAMER place tasks
        on them (``dreamer_enabled``), oldest first.  Sweeps spread over these, and
        tasks lost with their pilot move to the first."""
        out = []
        for p in self.quantum.values():
            if (
                p.state is PilotState.RUNNING
                and p.actors
                and any(cap.name == resource for cap in p.resources)
                and (p.name == prefer or p.config.dreamer_enabled)
            ):
                out.append(p)
        out.sort(key=lambda p: p.name != prefer)  # stable: the rest keep their order
        return out

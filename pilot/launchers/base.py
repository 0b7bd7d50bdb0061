"""The contract for bringing Ray capacity up and down behind a pilot.

A launcher turns a pilot description into reserved Ray capacity and tells
the pilot how to place work on it::

    start(name, description) ──> Allocation        request capacity; returns at once
          │                                        (state PENDING)
    wait(allocation, timeout)                      block until granted (RUNNING), or
          │                                        raise PilotStartError saying why
    actor_options(allocation, i) ─> Ray options    put backend actor i on it
    task_options(allocation)     ─> Ray options    put a classical task on it
          │
    cancel(allocation)                             release exactly what start() took;
                                                   never anything else (idempotent)

``local`` reserves a placement group on the cluster the service is connected
to.  Launchers never stop Ray processes they did not start.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pilot.states import PilotState

if TYPE_CHECKING:
    from pilot.config import PilotDescription


@dataclass
class Allocation:
    """Capacity held for one pilot."""

    pilot: str
    bundles: list[dict[str, float]]
    handle: Any = None  # launcher-specific (a PlacementGroup for "local")
    state: PilotState = PilotState.NEW
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for bundle in self.bundles:
            for key, value in bundle.items():
                out[key] = out.get(key, 0.0) + value
        return out


class Launcher(ABC):
    """Base class of launchers (see the module docstring)."""

    #: Does ``create_pilot`` wait for the capacity (True), or return a PENDING
    #: pilot that ``pilot.wait()`` completes (a job in a batch queue)?
    waits_on_create = True

    @abstractmethod
    def start(
        self, name: str, description: PilotDescription, bundles: list[dict[str, float]]
    ) -> Allocation: ...

    @abstractmethod
    def wait(self, allocation: Allocation, timeout: float) -> None: ...

    @abstractmethod
    def actor_options(self, allocation: Allocation, index: int) -> dict[str, Any]: ...

    @abstractmethod
    def task_options(self, allocation: Allocation) -> dict[str, Any]: ...

    @abstractmethod
    def cancel(self, allocation: Allocation) -> None: ...

    def poll(self, allocation: Allocation) -> PilotState:
        """The allocation's state now (a batch job may have ended on its own)."""
        return allocation.state

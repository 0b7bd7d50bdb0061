"""Which quantum resource runs a task.

Until QDREAMER's ranking is enabled the rule is :func:`dreamer.first_feasible`:
a task runs on the pilot/resource it names, else on the first resource (in
pilot creation order) that can run it.  Pilots created with
``dreamer_enabled: False`` only run tasks that name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dreamer import Candidate, ResourceCapabilities, first_feasible, judge
from dreamer.errors import NoFeasibleResourceError as _DreamerNoFeasible
from pilot.errors import ConfigError, NoFeasibleResourceError
from pilot.states import PilotState

if TYPE_CHECKING:
    from pilot.pilot import QuantumPilot
    from pilot.tasks import QuantumTask


class QDreamer:
    """Resource selection over a service's quantum pilots.

    ``pcs.qdreamer.rank(task)`` lists every resource with whether it can run
    the task and, if not, why; ``select(task)`` returns the chosen one.
    """

    def __init__(self, pilots: dict[str, QuantumPilot]) -> None:
        self._pilots = pilots

    def _resources(self, task: QuantumTask) -> list[ResourceCapabilities]:
        if task.pilot is not None and task.pilot not in self._pilots:
            raise ConfigError.unknown("quantum pilot", "pilot", task.pilot, self._pilots)
        caps = []
        for pilot in self._pilots.values():
            if pilot.state is not PilotState.RUNNING:
                continue
            if not pilot.config.dreamer_enabled and task.pilot != pilot.name:
                continue
            caps.extend(pilot.resources)
        return caps

    def rank(self, task: QuantumTask, num_qubits: int | None = None) -> list[Candidate]:
        """Every resource, feasible ones first (each group in pilot order)."""
        candidates = judge(task.requirements(num_qubits), self._resources(task))
        return sorted(candidates, key=lambda c: not c.feasible)

    def select(self, task: QuantumTask, num_qubits: int | None = None) -> Candidate:
        """The resource that runs ``task``, or ``NoFeasibleResourceError`` with every reason."""
        try:
            return first_feasible(task.requirements(num_qubits), self._resources(task))
        except _DreamerNoFeasible as exc:
            raise NoFeasibleResourceError(exc.task, exc.rejections) from None

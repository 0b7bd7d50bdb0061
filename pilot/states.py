"""Pilot states, with the terminal set beside them.

::

    NEW ──> PENDING ──> STARTING ──> RUNNING ──> DONE
              │            │           │
              └────────────┴───────────┴──> FAILED / CANCELED

``PENDING`` means the capacity is requested but not granted (a Slurm job in the
queue, a placement group waiting for CPUs); ``STARTING`` means granted and
coming up (actors loading their backends).  ``DONE`` is an expected end (e.g. a
Slurm pilot reaching its walltime), not a failure.
"""

from __future__ import annotations

import enum


class PilotState(enum.StrEnum):
    NEW = "NEW"
    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    def __str__(self) -> str:
        return self.value


#: States a pilot never leaves.
TERMINAL_STATES = frozenset({PilotState.DONE, PilotState.FAILED, PilotState.CANCELED})


class RecordKind(enum.StrEnum):
    """What a task the supervisor follows is (``Record.kind``)."""

    #: Runs on a quantum pilot's actor; moves with its spec when the pilot is lost.
    QUANTUM = "quantum"
    #: A Ray task on classical capacity; runs again elsewhere from its call.
    CLASSICAL = "classical"
    #: Its result came from the task journal (a resumed run): nothing runs.
    RESUMED = "resumed"

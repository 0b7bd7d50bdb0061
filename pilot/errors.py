"""Exceptions raised by :mod:`pilot`.

Every exception we raise derives from :class:`PilotError`; where a builtin
fits, it is mixed in so that ``except ValueError`` keeps working::

    PilotError
     ├── ConfigError (ValueError)            a pilot description or option is wrong
     ├── MissingDependencyError (ImportError) an executor's SDK is not installed
     ├── CredentialsError                     a cloud executor or a Ray cluster wants
     │                                        credentials
     ├── CircuitError (ValueError)            a circuit cannot be read or does not
     │    │                                   match what the task declares
     │    └── UnsupportedOperationError       a gate/measurement a backend cannot run
     ├── SchedulingError                      work that could never be placed
     │    └── NoFeasibleResourceError         (also dreamer.NoFeasibleResourceError)
     ├── PilotStartError                      a pilot's actors or reservation failed
     ├── BackendUnavailableError              a device or provider is offline / overloaded
     │                                        (QDREAMER fails the task over)
     ├── PilotLostError                       a pilot's actor or Slurm job died under its tasks
     │                                        (its tasks fail over, or fail with this)
     ├── TaskFailedError                      a task raised; chains the original error
     ├── TaskCancelledError                   cancelled by pcs.cancel_task; its remote jobs
     │                                        were cancelled too
     ├── TaskTimeoutError (TimeoutError)      a task's timeout_seconds passed (it was
     │                                        cancelled, remote jobs too), or results were
     │                                        not ready within get_results' timeout
     ├── ServiceClosedError                   the service was cancelled
     └── JournalError                         the task journal cannot be used (in use by
          │                                   another driver, misused, a write failed)
          └── JournalCorruptError             journal.sqlite3 is not a journal, is damaged,
                                              or has an unknown schema version

Warnings: :class:`PilotWaitWarning` (a ``UserWarning``) when a pilot's hard
reservation has to wait for capacity other pilots or tasks hold.

Errors keep their evidence as attributes (``ConfigError.key``,
``CircuitError.line``, ``TaskFailedError.task_id``...), and messages say what
to do about them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from dreamer.errors import NoFeasibleResourceError as _DreamerNoFeasible
from dreamer.errors import PicklableError


class PilotError(PicklableError):
    """Root of every exception raised by :mod:`pilot`.

    Picklable whatever a subclass's ``__init__`` takes, so errors raised inside
    a Ray worker reach the driver intact.
    """


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The closest spelling of ``word`` among ``choices`` (or ``None``)."""
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


class ConfigError(PilotError, ValueError):
    """A pilot description, task option or configuration file is wrong.

    ``key`` names the offending entry (dotted, e.g. ``"quantum.executor"``) and
    ``suggestion`` holds the closest valid spelling when there is one.
    """

    def __init__(self, message: str, *, key: str | None = None, suggestion: str | None = None):
        self.key = key
        self.suggestion = suggestion
        if suggestion and "did you mean" not in message:
            message = f"{message} (did you mean {suggestion!r}?)"
        super().__init__(message)

    @classmethod
    def unknown(cls, kind: str, key: str, value: str, valid: Iterable[str]) -> ConfigError:
        """``unknown <kind> 'value'`` with a suggestion and the valid choices."""
        valid = sorted(valid)
        return cls(
            f"{key}: unknown {kind} {value!r}; valid: {', '.join(valid)}",
            key=key,
            suggestion=closest(value, valid),
        )


class MissingDependencyError(PilotError, ImportError):
    """An executor's SDK is not installed; the message holds the install command."""

    def __init__(self, executor: str, module: str, install: str, *, what: str | None = None):
        self.executor = executor
        self.module = module
        self.install = install
        super().__init__(
            f"{what or f'executor {executor!r}'} needs the Python package that provides "
            f"{module!r}; install it with: {install}"
        )


class CredentialsError(PilotError):
    """A cloud executor has no credentials, or a Ray cluster refused the driver's
    token (the message says where to put them)."""


class CircuitError(PilotError, ValueError):
    """A circuit cannot be read, converted, or does not match its task.

    ``line`` is the 1-based source line for text formats (OpenQASM) when known.
    """

    def __init__(self, message: str, *, line: int | None = None, source_format: str | None = None):
        self.line = line
        self.source_format = source_format
        super().__init__(message)


class UnsupportedOperationError(CircuitError):
    """A gate, measurement or result type that a backend cannot run.

    Converters raise it with ``backend=None`` (they do not know who will run
    the circuit); the execution layer fills in the executor and resource, so
    the message always names both the operation and the backend.
    """

    def __init__(self, operation: str, backend: str | None = None, hint: str = ""):
        self.operation = operation
        self.backend = backend
        self.hint = hint
        where = backend or "the requested backend"
        message = f"{operation!r} is not supported by {where}"
        super().__init__(f"{message}: {hint}" if hint else message)

    def for_backend(self, backend: str) -> UnsupportedOperationError:
        """The same error, naming ``backend`` (unless it already names one)."""
        if self.backend is not None:
            return self
        return UnsupportedOperationError(self.operation, backend, self.hint)


class SchedulingError(PilotError):
    """Work that could never be placed (e.g. more CPUs than its pilot holds)."""


class NoFeasibleResourceError(SchedulingError, _DreamerNoFeasible):
    """No quantum resource of any pilot can run the task; lists every rejection."""

    def __init__(self, task: str, rejections: Mapping[str, Sequence[str]]):
        _DreamerNoFeasible.__init__(self, task, rejections)


class PilotStartError(PilotError):
    """A pilot's actors or resource reservation did not come up."""


class PilotWaitWarning(UserWarning):
    """A pilot's reservation cannot be granted now: it waits for capacity that other
    pilots or tasks hold (the message names them)."""


class BackendUnavailableError(PilotError):
    """A device or provider cannot take work now (offline, throttled, unreachable).

    Tasks chosen by QDREAMER move to their next-ranked resource on this error
    (and on the SDK errors :func:`pilot.backends.errors.is_unavailable` names).
    """


class TaskFailedError(PilotError):
    """A task raised; ``__cause__`` is the original exception from the worker.

    ``task_id`` and ``pilot`` say which task, ``stage`` which part of it
    (``"quantum:<name>@<resource>"`` or the function name).
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        pilot: str | None = None,
        stage: str | None = None,
    ):
        self.task_id = task_id
        self.pilot = pilot
        self.stage = stage
        super().__init__(message)


class PilotLostError(PilotError):
    """A pilot died under its tasks: its actor was killed, or its Slurm job ended.

    ``pilot`` names it and ``job_id`` is its Slurm job (``None`` for local
    pilots).  Raised for a task only when no other pilot could take it over.
    """

    def __init__(self, message: str, *, pilot: str | None = None, job_id: str | None = None):
        self.pilot = pilot
        self.job_id = job_id
        super().__init__(message)


class TaskCancelledError(PilotError):
    """A task was cancelled (``pcs.cancel_task``) and its remote jobs with it."""


class TaskTimeoutError(PilotError, TimeoutError):
    """A task's ``timeout_seconds`` passed (it was cancelled, remote jobs included),
    or ``get_results``/``wait_tasks`` gave up waiting (the tasks keep running)."""


class ServiceClosedError(PilotError):
    """The ``PilotComputeService`` was cancelled and cannot take more work."""


class JournalError(PilotError):
    """The task journal (:mod:`pilot.journal.store`) cannot record or answer."""


class JournalCorruptError(JournalError):
    """The journal file is unusable; ``path`` names it and ``reason`` says why.

    The message says what to do: move the file aside (with its ``-wal``) or
    delete it to start fresh.
    """

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"task journal {self.path} is unusable: {reason}. Move it aside "
            f"(mv {self.path} {self.path}.bad, with its -wal file if there is one) to keep it, "
            "or delete it to start fresh; the next run then executes every task again"
        )


__all__ = [
    "BackendUnavailableError",
    "CircuitError",
    "ConfigError",
    "CredentialsError",
    "JournalCorruptError",
    "JournalError",
    "MissingDependencyError",
    "NoFeasibleResourceError",
    "PilotError",
    "PilotLostError",
    "PilotStartError",
    "SchedulingError",
    "ServiceClosedError",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnsupportedOperationError",
    "closest",
]

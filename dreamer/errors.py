"""Exceptions raised by :mod:`dreamer`.

::

    DreamerError
     └── NoFeasibleResourceError   no resource can run the task; carries every rejection

``pilot`` re-raises these through its own tree (``pilot.errors``), so a user who
catches ``pilot.errors.PilotError`` also catches selection failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _rebuild(cls: type[BaseException], message: str, state: dict) -> BaseException:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class PicklableError(Exception):
    """An exception that pickles whatever its subclass's ``__init__`` takes.

    Exceptions travel from Ray workers to the driver by pickle, which rebuilds
    them as ``cls(*args)``; keyword-only or differently shaped constructors
    would break that, so rebuild from the message and the attributes instead.
    """

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


class DreamerError(PicklableError):
    """Root of every exception raised by :mod:`dreamer`."""


class NoFeasibleResourceError(DreamerError, LookupError):
    """No quantum resource can run the task.

    ``rejections`` maps each resource considered (``"pilot/resource"``) to the
    reasons it was rejected, so the message explains every candidate.
    """

    def __init__(self, task: str, rejections: Mapping[str, Sequence[str]]) -> None:
        self.task = task
        self.rejections = {name: list(reasons) for name, reasons in rejections.items()}
        if not self.rejections:
            detail = (
                "  (no quantum pilot exists: create one with "
                "create_pilot({'resource_type': 'quantum', ...}))"
            )
        else:
            detail = "\n".join(
                f"  {name}: {'; '.join(reasons)}" for name, reasons in self.rejections.items()
            )
        super().__init__(f"no quantum resource can run {task}:\n{detail}")

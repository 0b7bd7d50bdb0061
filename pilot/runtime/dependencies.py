"""Hybrid DAGs: quantum and classical functions that chain through Ray ObjectRefs.

``pcs.quantum(circuit_fn, ...)`` and the decorators ``@pcs.quantum_task(...)``
and ``@pcs.task(...)`` give objects with Ray's two entry points::

    f.remote(*args)  -> ObjectRef        runs now (a sweep gives a list of refs)
    f.bind(*args)    -> DAG node         runs when the DAG is executed

Arguments may be ObjectRefs (or DAG nodes, for ``bind``): Ray resolves them
before the stage runs, so a classical task's output feeds a circuit function
and a ``QuantumResult`` feeds a classical task, with real data dependencies::

    with InputNode() as inp:
        dag = post.bind(pcs.quantum(circuit, num_qubits=2).bind(prep.bind(inp)))
    ray.get(dag.execute(x))

A quantum node is submitted through the service when the DAG executes, so
QDREAMER chooses its resource then.  Dependencies are futures passed as
arguments (Ray's own model); :class:`Dependencies` remembers them so that
``pcs.cancel_task(final)`` can also cancel upstream work nothing else needs.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import ray
from cachetools import LRUCache
from ray.dag.dag_node import DAGNode

from pilot.errors import ConfigError, closest
from pilot.tasks import QuantumTask


class Submitter(Protocol):
    """What a decorated function submits through: the service's two submission calls
    (:class:`pilot.runtime.service.PilotComputeService` is one)."""

    def submit_quantum_task(self, quantum_task: QuantumTask) -> Any: ...

    def submit_task(
        self,
        fn: Callable[..., Any],
        *args: Any,
        pilot: str | None = None,
        resources: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any: ...


logger = logging.getLogger(__name__)

#: ``QuantumTask`` arguments a quantum function accepts as options.
QUANTUM_OPTIONS = (
    "num_qubits",
    "gate_set",
    "shots",
    "resource_config",
    "pilot",
    "resource",
    "name",
    "parameter_values",
    "observables",
    "timeout_seconds",
    "keep_native",
    "cutting",
)
#: ``submit_task`` arguments a classical function accepts as options.
CLASSICAL_OPTIONS = ("pilot", "num_cpus", "num_gpus", "memory")


def _check_options(given: Mapping[str, Any], valid: tuple[str, ...], what: str) -> None:
    for key in given:
        if key not in valid:
            raise ConfigError(
                f"{what}: unknown option {key!r}; valid: {', '.join(valid)}",
                key=key,
                suggestion=closest(key, valid),
            )


class QuantumFunction:
    """A circuit function (or circuit) bound to a service, with task options.

    ``remote(*args, **kwargs)`` submits ``QuantumTask(circuit, args=args,
    kwargs=kwargs, **options)`` and returns its ObjectRef; ``bind`` returns a
    :class:`QuantumNode` for Ray's DAG API; ``options(**changes)`` returns a
    copy with other options.  Calling it directly is refused, as Ray refuses
    calling a remote function.
    """

    def __init__(self, service: Submitter, circuit: Any, **options: Any) -> None:
        _check_options(options, QUANTUM_OPTIONS, "quantum function")
        self._service = service
        self._circuit = circuit
        self._options = options
        QuantumTask(circuit, **options)  # validate the options now, not at first use
        self.__name__ = options.get("name") or getattr(circuit, "__name__", "quantum")
        self.__doc__ = getattr(circuit, "__doc__", None)

    def task(self, *args: Any, **kwargs: Any) -> QuantumTask:
        """The ``QuantumTask`` that ``remote(*args, **kwargs)`` submits."""
        return QuantumTask(self._circuit, args=args, kwargs=kwargs, **self._options)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._service.submit_quantum_task(self.task(*args, **kwargs))

    def bind(self, *args: Any, **kwargs: Any) -> QuantumNode:
        return QuantumNode(self, args, kwargs)

    def options(self, **changes: Any) -> QuantumFunction:
        return QuantumFunction(self._service, self._circuit, **{**self._options, **changes})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"quantum function {self.__name__!r} cannot be called directly; use "
            f"{self.__name__}.remote(...) to run it or .bind(...) to build a DAG"
        )

    def __repr__(self) -> str:
        return f"QuantumFunction({self.__name__!r}, {self._options})"


class ClassicalFunction:
    """A Python function run as a Ray task through ``pcs.submit_task``.

    ``pilot`` names a classical pilot; ``num_cpus``/``num_gpus``/``memory``
    are its resources.  ``remote``/``bind``/``options`` as for
    :class:`QuantumFunction`.
    """

    def __init__(self, service: Submitter, fn: Callable[..., Any], **options: Any):
        _check_options(options, CLASSICAL_OPTIONS, "classical function")
        if not callable(fn):
            raise ConfigError(f"@task needs a function, got {type(fn).__name__}", key="fn")
        self._service = service
        self._fn = fn
        self._options = options
        self.__name__ = getattr(fn, "__name__", "task")
        self.__doc__ = getattr(fn, "__doc__", None)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        opts = dict(self._options)
        pilot = opts.pop("pilot", None)
        return self._service.submit_task(self._fn, *args, pilot=pilot, resources=opts, **kwargs)

    def bind(self, *args: Any, **kwargs: Any) -> ClassicalNode:
        return ClassicalNode(self, args, kwargs)

    def options(self, **changes: Any) -> ClassicalFunction:
        return ClassicalFunction(self._service, self._fn, **{**self._options, **changes})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"task {self.__name__!r} cannot be called directly; use "
            f"{self.__name__}.remote(...) to run it or .bind(...) to build a DAG"
        )

    def __repr__(self) -> str:
        return f"ClassicalFunction({self.__name__!r}, {self._options})"


class _StageNode(DAGNode):
    """A DAG node executed by calling ``.remote`` on its function with resolved arguments."""

    def __init__(
        self,
        function: QuantumFunction | ClassicalFunction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any] | None = None,
        other_args_to_resolve: dict[str, Any] | None = None,
    ) -> None:
        self._function = function
        super().__init__(args, kwargs, options or {}, other_args_to_resolve or {})

    def _copy_impl(
        self,
        new_args: list[Any],
        new_kwargs: dict[str, Any],
        new_options: dict[str, Any],
        new_other_args_to_resolve: dict[str, Any],
    ) -> _StageNode:
        return type(self)(
            self._function, tuple(new_args), new_kwargs, new_options, new_other_args_to_resolve
        )

    def _execute_impl(self, *args: Any, **kwargs: Any) -> Any:
        # Upstream nodes are already replaced by their ObjectRefs here.
        return self._function.remote(*self._bound_args, **self._bound_kwargs)

    def __str__(self) -> str:
        return f"{type(self).__name__}({self._function.__name__})"


class QuantumNode(_StageNode):
    """A quantum stage of a Ray DAG (made by ``QuantumFunction.bind``)."""


class ClassicalNode(_StageNode):
    """A classical stage of a Ray DAG (made by ``ClassicalFunction.bind``)."""


# ------------------------------------------------------------------ dependencies
_STAGE = re.compile(r"ray::([^\s(]+)\(")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failed_stage(error: BaseException) -> str | None:
    """The stage (Ray task name) where a chained failure started, from Ray's error text.

    A task whose input failed re-raises the input's error, prefixed by its own
    ``ray::<name>()`` line, so the last such line names the origin.
    """
    names = _STAGE.findall(_ANSI.sub("", str(error)))
    return names[-1] if names else None


def object_refs(values: Iterable[Any]) -> list[Any]:
    return [v for v in values if isinstance(v, ray.ObjectRef)]


class Dependencies:
    """Which submitted task consumes which ObjectRefs (by binary id, holding no refs).

    Holding no ObjectRef keeps Ray's reference counts meaningful: an upstream
    object that no Python variable, pending consumer or other DAG branch
    holds is work nothing else needs.
    """

    def __init__(self, maxsize: int = 1_000_000) -> None:
        self._upstream: LRUCache[bytes, tuple[bytes, ...]] = LRUCache(maxsize=maxsize)
        self._consumers: LRUCache[bytes, set[bytes]] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def record(self, ref: Any, inputs: Iterable[Any]) -> None:
        ups = tuple(dict.fromkeys(r.binary() for r in object_refs(inputs)))
        if not ups:
            return
        me = ref.binary()
        with self._lock:
            self._upstream[me] = ups
            for u in ups:
                self._consumers.setdefault(u, set()).add(me)

    def prune(self, alive: set[bytes]) -> int:
        """Forget tasks whose objects nothing references any more (``alive``: what Ray
        says is referenced); returns how many entries went."""
        with self._lock:
            gone = [me for me in self._upstream if me not in alive]
            for me in gone:
                del self._upstream[me]
            dead = [u for u in self._consumers if u not in alive]
            for u in dead:
                del self._consumers[u]
            for users in self._consumers.values():
                users.intersection_update(alive)
        return len(gone) + len(dead)

    def upstream(self, binary: bytes) -> tuple[bytes, ...]:
        """The ObjectRefs (binary ids) the task of ``binary`` consumed."""
        with self._lock:
            return self._upstream.get(binary, ())

    def cancel(
        self,
        ref: Any,
        *,
        force: bool,
        held_outside: Callable[[bytes, Iterable[bytes], int], bool],
        on_cancel: Callable[[Any], bool] | None = None,
    ) -> int:
        """Cancel ``ref``'s task and, recursively, upstream tasks nothing else needs.

        The set is found first; then only its *roots* (members none of whose
        inputs is also a member) are cancelled with ``ray.cancel``: the other
        members are waiting for a root, and fail with its ``TaskCancelledError``
        when it is cancelled.  Cancelling a task while an input it waits on is
        cancelled too races inside Ray 2.60 (a failed reference-count check
        aborts the driver), so it is never done.  ``on_cancel(root)`` runs first;
        when it returns True it has stopped the task and ``ray.cancel`` is not
        called.  Returns the set's size.
        """
        chosen = {ref.binary()}
        inputs: dict[bytes, tuple[bytes, ...]] = {}
        todo = [ref.binary()]
        counts = _Counts()
        while todo:
            me = todo.pop()
            with self._lock:
                ups = self._upstream.get(me, ())
            mine: list[bytes] = []
            for u in ups:
                if u in chosen:
                    mine.append(u)
                    continue
                if not self._unneeded(u, chosen, counts, held_outside):
                    continue
                up: Any = ray.ObjectRef(u)
                ready, _ = ray.wait([up], timeout=0, fetch_local=False)
                if ready:
                    continue  # finished already: nothing to stop
                chosen.add(u)
                mine.append(u)
                todo.append(u)
            inputs[me] = tuple(mine)
        for member in chosen:
            if not inputs.get(member):
                target: Any = ray.ObjectRef(member) if member != ref.binary() else ref
                # on_cancel may stop the task itself (True): one task of a batched
                # actor call, which ray.cancel would cancel with all the others.
                if on_cancel is None or not on_cancel(target):
                    _cancel(target, force)
                logger.debug("cancelled the task of object %s", target.hex())
        return len(chosen)

    def _unneeded(
        self,
        u: bytes,
        cancelled: set[bytes],
        counts: _Counts,
        held_outside: Callable[[bytes, Iterable[bytes], int], bool],
    ) -> bool:
        with self._lock:
            consumers = set(self._consumers.get(u, ()))
        others: list[Any] = [ray.ObjectRef(c) for c in consumers - cancelled]
        if others:
            _, pending = ray.wait(others, num_returns=len(others), timeout=0, fetch_local=False)
            if pending:
                return False  # another live task still needs it
        if counts.table() is None:
            return True
        if not held_outside(u, consumers, counts.of(u)):
            return True
        # Garbage not yet collected (a cycle through a finished frame, as Ray's DAG
        # execution leaves) may still hold refs: it must not count as the program's.
        # Collected once per cancel, and only when something looks held.
        if not counts.collect():
            return False
        return not held_outside(u, consumers, counts.of(u))


class _Counts:
    """Ray's local reference counts for one cancel, read when first needed and read
    again once after a garbage collection."""

    def __init__(self) -> None:
        self._table: Mapping[bytes, int] | None = None
        self._read = False
        self._collected = False

    def table(self) -> Mapping[bytes, int] | None:
        if not self._read:
            self._table, self._read = _reference_counts(), True
        return self._table

    def of(self, u: bytes) -> int:
        table = self.table()
        return 0 if table is None else table.get(u, 0)

    def collect(self) -> bool:
        """Collect garbage and read the counts again; False when done already."""
        if self._collected:
            return False
        gc.collect()
        self._collected, self._read = True, False
        return True


def _cancel(ref: Any, force: bool) -> None:
    """``ray.cancel``; actor tasks (quantum stages) cannot be forced, so they are not."""
    try:
        ray.cancel(ref, force=force)
    except ValueError:
        if not force:
            raise
        ray.cancel(ref, force=False)


def _ray_reference_counts() -> dict[bytes, dict[str, int]] | None:
    """Ray's own reference counts in this driver, by binary object id (``local``:
    Python-held refs, ``submitted``: pending tasks' arguments); ``None`` if unavailable
    (a private API)."""
    try:
        worker: Any = ray._private.worker.global_worker
        counts = worker.core_worker.get_all_reference_counts()
        return {_binary_id(oid): c for oid, c in counts.items()}
    except Exception:
        logger.debug("Ray reference counts unavailable", exc_info=True)
        return None


#: Bytes in an object id (``ObjectRef.binary()``).
_ID_BYTES = 28


def _binary_id(oid: Any) -> bytes:
    """An object id as ``ObjectRef.binary()`` gives it.  Ray 2.60 keys its reference
    table by the id's hex digits, as bytes (``b"00ff…"``, 56 of them), which never equal
    a ref's binary id: compared as they come, every ref looks unreferenced."""
    if isinstance(oid, bytes | bytearray):
        return bytes.fromhex(oid.decode("ascii")) if len(oid) == 2 * _ID_BYTES else bytes(oid)
    if isinstance(oid, str):
        return bytes.fromhex(oid)
    return bytes(oid.binary())


def referenced() -> set[bytes] | None:
    """Objects this process still references (a Python variable, a pending task's
    argument), by binary id; ``None`` if Ray does not say (callers then keep what they
    hold)."""
    counts = _ray_reference_counts()
    if counts is None:
        return None
    return {oid for oid, c in counts.items() if c.get("local", 0) or c.get("submitted", 0)}


def _reference_counts() -> dict[bytes, int] | None:
    """Python-held references to each object in this driver, if Ray says (without them,
    consumers alone decide)."""
    counts = _ray_reference_counts()
    if counts is None:
        return None
    return {oid: int(c.get("local", 0)) for oid, c in counts.items()}

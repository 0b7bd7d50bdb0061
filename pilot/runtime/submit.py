"""Submission: a task, checked and placed, sent to Ray.

Quantum tasks are checked on the driver (a bad circuit or option fails here, not on
a worker), placed by QDREAMER (:mod:`pilot.selection`), journaled
(:mod:`pilot.runtime.resume`) and sent to their pilot's actors: one call per task,
a coalesced window shared by tasks that arrive together (:mod:`pilot.runtime.coalesce`),
or chunks of a batch submission.  Classical tasks become Ray tasks on a classical
pilot's reserved capacity, or on plain Ray capacity.  Every ref is handed to the
supervisor, which follows it to the end.
"""

from __future__ import annotations

import inspect
import math
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import ray
from cachetools import LRUCache
from ray.remote_function import RemoteFunction

from dreamer.ranking import RankedResource
from pilot.errors import ConfigError, SchedulingError, closest
from pilot.pilots.failover import Fallback
from pilot.pilots.pilot import QuantumPilot
from pilot.runtime.coalesce import Coalescer
from pilot.runtime.cutting import submit_cut
from pilot.runtime.dependencies import Dependencies
from pilot.runtime.registry import PilotRegistry
from pilot.runtime.resume import Resume
from pilot.runtime.supervisor import Record, Supervisor
from pilot.selection import QDreamer, candidate_summary
from pilot.states import RecordKind
from pilot.tasks import CircuitBlob, QuantumTask, TaskSpec, check_declared, new_task_id

#: Keys accepted in ``submit_task(..., resources={...})``.
TASK_RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")


def _as_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``ray.remote`` takes only Python functions: wrap builtins and callable objects."""
    if inspect.isfunction(fn):
        return fn

    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    call.__name__ = call.__qualname__ = getattr(fn, "__name__", type(fn).__name__)
    return call


def _layout(chosen: Any) -> tuple[int, ...] | None:
    """QDREAMER's layout for devices with a coupling map (where transpilers place qubits)."""
    if isinstance(chosen, RankedResource) and chosen.resource.coupling_map is not None:
        return tuple(chosen.breakdown["layout"]) or None
    return None


class Submission:
    """The submission paths of one service (its ``submit_*`` methods call these)."""

    def __init__(
        self,
        registry: PilotRegistry,
        selector: QDreamer,
        supervisor: Supervisor,
        resume: Resume,
        deps: Dependencies,
        coalescer: Coalescer,
    ) -> None:
        self._registry = registry
        self._selector = selector
        self._supervisor = supervisor
        self._resume = resume
        self._deps = deps
        self._coalescer = coalescer
        self._remote_fns: dict[Callable[..., Any], Any] = {}
        self._fits: set[tuple[float, float, int | None]] = set()
        self._optioned: LRUCache[tuple[Any, ...], Any] = LRUCache(maxsize=4096)
        self._methods: LRUCache[tuple[int, str, str], tuple[Any, Any]] = LRUCache(maxsize=4096)
        #: The last circuit blob made, and recent blobs' loaded circuits: a loop
        #: submitting one circuit pays for loading it once.
        self._last_blob: CircuitBlob | None = None
        self._loaded: LRUCache[bytes, Any] = LRUCache(maxsize=64)

    # ------------------------------------------------------------ quantum tasks
    def _prepare(self, qt: QuantumTask) -> list[tuple[QuantumPilot, TaskSpec]]:
        """Check ``qt``, choose where it runs and make its spec -- one per parameter set
        of a sweep, placed together (:meth:`QDreamer.choose_many`).  Each is counted on
        its resource before the next task is ranked."""
        if not isinstance(qt, QuantumTask):
            raise ConfigError(
                f"submit_quantum_task takes a QuantumTask, got {type(qt).__name__}; wrap the "
                "circuit: QuantumTask(circuit, shots=...)",
                key="quantum_task",
            )
        circuit = CircuitBlob.of(qt.circuit, self._last_blob)
        if isinstance(circuit, CircuitBlob):
            self._last_blob = circuit
        loaded = self._load_on_driver(qt, circuit)
        if loaded is not None:
            check_declared(qt.num_qubits, qt.gate_set, loaded.num_qubits, loaded.gates, qt.name)
        memory = qt.resource_config["memory"]
        if memory:
            self._check_memory(memory)
        count = len(qt.parameter_values) if qt.parameter_values is not None else 1
        if count > 1 and self._selector.enabled:
            choices = self._selector.choose_many(qt, loaded, count)
        else:  # first-feasible: one choice (a sweep spreads over its pilots: _sweep)
            choices = [self._selector.choose(qt, loaded)]
        fallbacks: dict[str, tuple[Fallback, ...]] = {}  # a sweep's rows share them
        return [self._spec(qt, circuit, *choice, fallbacks) for choice in choices]

    def _spec(
        self,
        qt: QuantumTask,
        circuit: Any,
        chosen: Any,
        alternatives: list[Any],
        fallbacks_of: dict[str, tuple[Fallback, ...]],
    ) -> tuple[QuantumPilot, TaskSpec]:
        pilot = self._registry.quantum[chosen.resource.pilot]
        objective = self._selector.ranker.objective
        fallbacks = fallbacks_of.get(chosen.resource.key)
        if fallbacks is None:
            fallbacks = fallbacks_of[chosen.resource.key] = self._fallbacks(alternatives, objective)
        submitted_at = time.time()
        timeout = qt.timeout_seconds
        spec = TaskSpec(
            task_id=new_task_id(),
            name=qt.name,
            circuit=circuit,
            shots=qt.shots,
            pilot=pilot.name,
            resource=chosen.resource.name,
            num_qubits=qt.num_qubits,
            gate_set=tuple(qt.gate_set) if qt.gate_set is not None else None,
            submitted_at=submitted_at,
            layout=_layout(chosen),
            selection=candidate_summary(chosen, objective, alternatives)
            if self._selector.enabled
            else None,
            fallbacks=fallbacks,
            observables=qt.observables or (),
            keep_native=qt.keep_native,
            timeout=timeout,
            deadline=submitted_at + timeout if timeout is not None else None,
        )
        self._selector.placed(spec.task_id, chosen)
        return pilot, spec

    def _fallbacks(self, alternatives: list[Any], objective: str) -> tuple[Fallback, ...]:
        """Where a task goes if its resource is unavailable: the next-ranked ones."""
        return tuple(
            Fallback(
                actors=tuple(self._registry.quantum[alt.resource.pilot].actor_names),
                pilot=alt.resource.pilot,
                resource=alt.resource.name,
                layout=_layout(alt),
                selection=candidate_summary(alt, objective),
            )
            for alt in alternatives
        )

    def _load_on_driver(self, qt: QuantumTask, circuit: Any) -> Any:
        """``qt.load_on_driver()``, remembered for the same circuit object submitted again
        unchanged (its bytes, ``circuit.data``, are the same as when it was loaded)."""
        if not isinstance(circuit, CircuitBlob) or qt.parameter_values or qt.observables:
            return qt.load_on_driver()
        hit = self._loaded.get(circuit.data)
        if hit is not None and hit[0]() is qt.circuit:
            return hit[1]
        loaded = qt.load_on_driver()
        self._loaded[circuit.data] = (weakref.ref(qt.circuit), loaded)
        return loaded

    def quantum_task(self, quantum_task: QuantumTask) -> Any:
        """``PilotComputeService.submit_quantum_task`` (documented there)."""
        if getattr(quantum_task, "cutting", None) is not None:
            return submit_cut(
                self.quantum_tasks,
                self._deps.record,
                quantum_task,
                self._cut_within_cost,
                self._selector.widest_for_cuts(quantum_task),
            )
        placed = self._prepare(quantum_task)
        if quantum_task.parameter_values is not None:
            rows, known = self._resumed(quantum_task, self._sweep(quantum_task, placed))
            return self._dispatch_known(rows, known, None, per_actor=2)
        [(pilot, spec)], known = self._resumed(quantum_task, placed)
        if known:
            return known[0]
        actor = pilot.next_actor()
        if self._coalescible(pilot, spec, quantum_task):
            # In a window the arguments travel inside the spec.
            windowed = replace(spec, args=quantum_task.args, kwargs=quantum_task.kwargs)
            ref = self._coalescer.submit(pilot.name, actor, windowed)
            if ref is not None:
                self._record(ref, windowed, actor, batched=True)
                return ref
        ref = self._method(actor, "run", spec.stage).remote(
            spec, *quantum_task.args, **quantum_task.kwargs
        )
        self._record(ref, replace(spec, args=quantum_task.args, kwargs=quantum_task.kwargs), actor)
        self._deps.record(ref, (*quantum_task.args, *quantum_task.kwargs.values()))
        return ref

    def _cut_within_cost(self, qt: QuantumTask) -> None:
        """Refuse a cut task whose plan costs more than ``max_cost_per_task`` (numbers in
        the message), before any subexperiment is sent."""
        limit = self._selector.ranker.constraints.max_cost
        if not self._selector.enabled or limit is None:
            return
        estimate = self._selector.estimate_cut(qt)
        if estimate["total_cost"] > limit:
            raise ConfigError(
                f"cutting: the plan's {estimate['num_subexperiments']} subexperiments of "
                f"{qt.shots} shots cost an estimated {estimate['total_cost']:.4f} "
                f"{estimate['currency']}, over max_cost_per_task={limit:g}; allow wider "
                "fragments, fewer shots, or a higher limit",
                key="max_cost_per_task",
            )

    def _resumed(
        self,
        qt: QuantumTask,
        rows: list[tuple[QuantumPilot, TaskSpec]],
        circuits: dict[int, str] | None = None,
    ) -> tuple[list[tuple[QuantumPilot, TaskSpec]], dict[int, Any]]:
        """:meth:`Resume.quantum`; QDREAMER's load count follows: a task the journal
        already finished leaves it, one resumed under its old id is counted by that."""
        out, known = self._resume.quantum(qt, rows, circuits)
        if known or out != rows:
            for i, ((_, placed), (_, sent)) in enumerate(zip(rows, out, strict=True)):
                if i in known:
                    self._selector.ended([placed.task_id])
                elif sent.task_id != placed.task_id:
                    self._selector.renamed(placed.task_id, sent.task_id)
        return out, known

    @staticmethod
    def _coalescible(pilot: QuantumPilot, spec: TaskSpec, qt: QuantumTask) -> bool:
        """Can ``spec`` share an actor call with its neighbours (:mod:`pilot.runtime.coalesce`)?"""
        return (
            spec.deadline is None
            and not pilot.remote
            and pilot.restarts == 0
            and not any(isinstance(v, ray.ObjectRef) for v in (*qt.args, *qt.kwargs.values()))
        )

    def quantum_tasks(
        self, quantum_tasks: Sequence[QuantumTask], *, chunk_size: int | None = None
    ) -> list[Any]:
        """``PilotComputeService.submit_quantum_tasks`` (documented there)."""
        if any(getattr(qt, "cutting", None) is not None for qt in quantum_tasks):
            return [self.quantum_task(qt) for qt in quantum_tasks]  # (cut tasks one by one)
        prepared: list[tuple[QuantumPilot, TaskSpec]] = []
        spans: list[tuple[int, int, bool]] = []
        known: dict[int, Any] = {}
        circuits: dict[int, str] = {}
        for qt in quantum_tasks:
            placed = self._prepare(qt)
            start = len(prepared)
            if qt.parameter_values is not None:
                rows = self._sweep(qt, placed)
            else:  # its arguments travel inside the spec
                [(pilot, spec)] = placed
                rows = [(pilot, replace(spec, args=qt.args, kwargs=qt.kwargs))]
            rows, journaled = self._resumed(qt, rows, circuits)
            known.update({start + i: ref for i, ref in journaled.items()})
            prepared += rows
            spans.append((start, len(prepared), qt.parameter_values is not None))
        refs = self._dispatch_known(prepared, known, chunk_size)
        return [refs[a:b] if sweep else refs[a] for a, b, sweep in spans]

    def _sweep(
        self, qt: QuantumTask, placed: list[tuple[QuantumPilot, TaskSpec]]
    ) -> list[tuple[QuantumPilot, TaskSpec]]:
        """One spec per parameter set.  QDREAMER placed each one (``placed`` holds a
        row per set); before ``initialize_dreamer`` (one first-feasible choice) the
        sets go in contiguous blocks over the pilots holding that resource, weighted
        by their actors."""
        assert qt.parameter_values is not None
        n = len(qt.parameter_values)
        if len(placed) == n:  # each set placed (and counted) under its own id
            rows = [(pilot, spec, spec.task_id) for pilot, spec in placed]
        else:
            pilot, spec = placed[0]
            pilots = [pilot]
            if qt.pilot is None:  # every pilot holding the resource takes a part
                pilots += [p for p in self._registry.holding(spec.resource) if p is not pilot]
            weights = [len(p.actors) for p in pilots]
            total, rows, done = sum(weights), [], 0
            for k, (p, w) in enumerate(zip(pilots, weights, strict=True)):
                end = n if k == len(pilots) - 1 else done + round(n * w / total)
                rows += [(p, spec, new_task_id()) for _ in range(end - done)]
                done = end
        return [
            (
                p,
                replace(
                    spec,
                    task_id=task_id,
                    name=f"{spec.name}[{i}]",
                    pilot=p.name,
                    parameters=qt.parameter_values[i],
                    args=qt.args,  # they travel inside the spec
                    kwargs=qt.kwargs,
                ),
            )
            for i, (p, spec, task_id) in enumerate(rows)
        ]

    def _dispatch_known(
        self,
        prepared: Sequence[tuple[QuantumPilot, TaskSpec]],
        known: Mapping[int, Any],
        chunk_size: int | None,
        per_actor: int = 4,
    ) -> list[Any]:
        """:meth:`_dispatch` of the specs whose results are not ``known`` already."""
        if not known:
            return self.dispatch(prepared, chunk_size, per_actor)
        todo = [i for i in range(len(prepared)) if i not in known]
        refs = dict(known)
        sent = self.dispatch([prepared[i] for i in todo], chunk_size, per_actor)
        refs.update(zip(todo, sent, strict=True))
        return [refs[i] for i in range(len(prepared))]

    def dispatch(
        self,
        prepared: Sequence[tuple[QuantumPilot, TaskSpec]],
        chunk_size: int | None,
        per_actor: int = 4,
    ) -> list[Any]:
        """Send specs (their arguments inside) to their pilots' actors in chunks.

        By default each actor gets about ``per_actor`` chunks (so that it computes
        one while the next arrives), of at most 256 tasks.
        """
        by_pilot: dict[str, list[int]] = {}
        for i, (pilot, _) in enumerate(prepared):
            by_pilot.setdefault(pilot.name, []).append(i)
        refs: list[Any] = [None] * len(prepared)
        for name, idx in by_pilot.items():
            pilot = self._registry.quantum[name]
            size = chunk_size or max(
                1, min(256, math.ceil(len(idx) / (per_actor * len(pilot.actors))))
            )
            # Tasks with a timeout run one per call (the actor times each one).
            timed = [i for i in idx if prepared[i][1].deadline is not None]
            batched = [i for i in idx if prepared[i][1].deadline is None]
            chunks = [[i] for i in timed] + [
                batched[start : start + size] for start in range(0, len(batched), size)
            ]
            for chunk in chunks:
                specs = [prepared[i][1] for i in chunk]
                actor = pilot.next_actor()
                if len(specs) == 1:  # num_returns=1 would make the whole list one value
                    (spec,) = specs
                    out = [self._method(actor, "run", spec.stage).remote(spec)]
                else:
                    out = actor.run_batch.options(
                        num_returns=len(specs),
                        name=f"quantum:batch[{len(specs)}]@{specs[0].resource}",
                    ).remote(specs)
                for i, spec, ref in zip(chunk, specs, out, strict=True):
                    refs[i] = ref
                    self._record(ref, spec, actor, batched=len(specs) > 1)
                    self._deps.record(ref, (*spec.args, *spec.kwargs.values()))
        return refs

    def _method(self, actor: Any, method: str, name: str) -> Any:
        """``actor.<method>.options(name=name)``, reused (Ray builds a class per call)."""
        key = (id(actor), method, name)
        hit = self._methods.get(key)
        if hit is None or hit[0] is not actor:
            hit = self._methods[key] = (actor, getattr(actor, method).options(name=name))
        return hit[1]

    def _record(self, ref: Any, spec: TaskSpec, actor: Any, batched: bool = False) -> None:
        self._supervisor.watch(
            ref,
            Record(
                spec.task_id,
                spec.stage,
                spec.pilot,
                RecordKind.QUANTUM,
                spec=spec,
                actor=actor,
                remote_jobs=list(spec.attach_jobs),
                batched=batched,
            ),
        )

    def _check_memory(self, memory: int) -> None:
        largest = max(
            (n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")), default=0
        )
        if memory > largest:
            raise SchedulingError(
                f"resource_config.memory={memory} bytes is more than any node of the Ray "
                f"cluster has ({largest:.0f} bytes)"
            )

    # ------------------------------------------------------------ classical tasks
    def classical(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        pilot: str | None,
        res: dict[str, Any],
        task_id: str | None = None,
    ) -> Any:
        """``PilotComputeService.submit_task``; ``task_id`` given: a resubmission (not
        journaled again)."""
        for key in res:
            if key not in TASK_RESOURCE_KEYS:
                raise ConfigError(
                    f"resources: unknown key {key!r}; valid: {', '.join(TASK_RESOURCE_KEYS)}",
                    key=f"resources.{key}",
                    suggestion=closest(key, TASK_RESOURCE_KEYS),
                )
        num_gpus = float(res.get("num_gpus", 0) or 0)
        memory = res.get("memory")
        target = self._registry.classical(pilot)
        # Default: one CPU, or all of a pilot node's CPUs when it has fewer.
        default_cpus = min(1.0, target.config.reserved()[0]) if target is not None else 1.0
        num_cpus = float(res.get("num_cpus", default_cpus))
        if target is not None:
            opts = target.task_options(num_cpus, num_gpus, memory)
            where = target.name
        else:
            opts = self._plain_options(num_cpus, num_gpus, memory)
            where = "ray"
        fn_name = getattr(fn, "__name__", None) or getattr(
            getattr(fn, "_function", None), "__name__", "task"
        )
        opts["name"] = f"{fn_name}@{where}"
        if task_id is None:
            known, task_id = self._resume.classical(fn, args, kwargs, pilot, res, opts["name"])
            if known is not None:
                return known
        # Ray builds a wrapper class per .options() call (~0.1 ms): reuse them.
        cache_key = (fn, target, num_cpus, num_gpus, memory)
        optioned = self._optioned.get(cache_key)
        if optioned is None:
            remote: Any = fn if isinstance(fn, RemoteFunction) else self._remote_fns.get(fn)
            if remote is None:
                remote = self._remote_fns[fn] = ray.remote(_as_function(fn))
            optioned = self._optioned[cache_key] = remote.options(**opts)
        ref = optioned.remote(*args, **kwargs)
        call = (fn, args, kwargs, res) if target is not None else None
        self._supervisor.watch(
            ref, Record(task_id, opts["name"], where, RecordKind.CLASSICAL, call=call)
        )
        self._deps.record(ref, (*args, *kwargs.values()))
        return ref

    def _plain_options(
        self, num_cpus: float, num_gpus: float, memory: int | None
    ) -> dict[str, Any]:
        want = {"CPU": num_cpus, "GPU": num_gpus, "memory": float(memory or 0)}
        key = (num_cpus, num_gpus, memory)
        # A request that fitted a node is not re-checked (ray.nodes() is a GCS call,
        # ~1 ms); one that did not is checked afresh each time (nodes may join).
        if key not in self._fits:
            nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
            if any(all(node.get(k, 0) >= v for k, v in want.items() if v) for node in nodes):
                self._fits.add(key)
        if key not in self._fits:
            raise SchedulingError(
                f"no node of the Ray cluster can run a task needing {num_cpus:g} CPU, "
                f"{num_gpus:g} GPU, memory={memory}; ask for less"
            )
        opts: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus}
        if memory:
            opts["memory"] = memory
        return opts

"""Can a resource run a task?  Every rejection carries its reason in words.

Gate sets are compared *after* basis translation: a circuit of ``h``/``cx``
runs on a device whose native set is ``rz``/``sx``/``ecr``, because any
single-qubit gate can be written with a universal set of rotations and any
multi-qubit gate with single-qubit gates and one entangler.  A device is
refused for its gates only when it lacks one of those two ingredients.
"""

from __future__ import annotations

from collections.abc import Iterable

from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import DYNAMIC_FEATURES, NON_GATES, TaskRequirements

#: Native one-qubit sets from which every one-qubit gate can be compiled.
UNIVERSAL_ONE_QUBIT = (
    frozenset({"rz", "sx"}),
    frozenset({"rz", "rx"}),
    frozenset({"rz", "ry"}),
    frozenset({"rx", "ry"}),
    frozenset({"u"}),
    frozenset({"u3"}),
    frozenset({"prx"}),
    frozenset({"gpi", "gpi2"}),
    frozenset({"r"}),
)

#: Native two-qubit gates that entangle (any one suffices with a universal 1q set).
ENTANGLING = frozenset(
    {"cx", "cz", "cy", "ecr", "rzz", "rxx", "ryy", "iswap", "cp", "ms", "xy", "zz"}
)


def translation_reasons(gates: Iterable[str], native: frozenset[str]) -> list[str]:
    """Why a circuit using ``gates`` cannot be translated to ``native`` (empty: it can).

    ``native`` empty means "any gate" (simulators).
    """
    gates = set(gates) - NON_GATES
    if not native or not gates or gates <= native:
        return []
    reasons = []
    if not any(s <= native for s in UNIVERSAL_ONE_QUBIT):
        reasons.append(
            f"cannot translate {sorted(gates - native)}: native gates {sorted(native)} "
            "have no universal single-qubit set"
        )
    multi = gates - _ONE_QUBIT_NAMES
    if multi and not (native & ENTANGLING):
        reasons.append(
            f"cannot translate {sorted(multi)}: native gates {sorted(native)} have no "
            "entangling two-qubit gate"
        )
    return reasons


_ONE_QUBIT_NAMES = frozenset(
    {
        "id",
        "x",
        "y",
        "z",
        "h",
        "s",
        "sdg",
        "t",
        "tdg",
        "sx",
        "sxdg",
        "rx",
        "ry",
        "rz",
        "p",
        "u",
        "u1",
        "u2",
        "u3",
        "r",
        "prx",
        "gpi",
        "gpi2",
        "unitary1",
    }
)


#: Where dynamic circuits run, said once after a dynamic-circuit refusal.
DYNAMIC_HINT = (
    "dynamic circuits run on qiskit_local, qiskit_fake, ibm_runtime, pennylane_default "
    "and pennylane_lightning"
)


def rejection_reasons(
    req: TaskRequirements,
    cap: ResourceCapabilities,
    status: ResourceStatus | None = None,
    gates: Iterable[str] | None = None,
) -> list[str]:
    """Return why ``cap`` cannot run ``req`` (an empty list means feasible).

    ``gates`` are the circuit's gates when known (else the declared
    ``req.gate_set``); they are checked after basis translation.
    """
    reasons: list[str] = []
    if req.pilot is not None and req.pilot != cap.pilot:
        reasons.append(f"task is pinned to pilot {req.pilot!r}")
    if req.resource is not None and req.resource != cap.name:
        reasons.append(f"task is pinned to resource {req.resource!r}")
    if req.num_qubits is not None and req.num_qubits > cap.num_qubits:
        reasons.append(f"needs {req.num_qubits} qubits, has {cap.num_qubits}")
    missing = sorted(req.needs - cap.dynamic)
    reasons.extend(f"needs {DYNAMIC_FEATURES.get(n, n)}" for n in missing)
    if missing:
        reasons[-1] += f" ({DYNAMIC_HINT})"
    if req.shots is None and not cap.supports_exact:
        reasons.append("exact results (shots=None) are not available; pass shots=N")
    elif req.shots is None and not missing and req.needs - cap.dynamic_exact:
        inexact = sorted(req.needs - cap.dynamic_exact)
        reasons.append(
            "exact results (shots=None) of a circuit with "
            + ", ".join(DYNAMIC_FEATURES.get(n, n) for n in inexact)
            + " are not available here; pass shots=N (or use pennylane_default / "
            "pennylane_lightning; qiskit_local when the circuit has no branches)"
        )
    if req.shots is not None and cap.max_shots is not None and req.shots > cap.max_shots:
        reasons.append(f"needs {req.shots} shots, allows at most {cap.max_shots}")
    used = gates if gates is not None else req.gate_set
    if used is not None:
        reasons.extend(translation_reasons(used, cap.native_gates))
    if req.num_gpus > cap.num_gpus:
        reasons.append(f"needs {req.num_gpus:g} GPUs, has {cap.num_gpus:g}")
    if status is not None and not status.online:
        reasons.append(f"offline{': ' + status.message if status.message else ''}")
    return reasons

"""Circuit templates: Bell, GHZ, QFT, QAOA for MaxCut and a hardware-efficient ansatz.

Each builder returns a :class:`Template`: a Qiskit ``QuantumCircuit`` ready to
put in a :class:`~pilot.tasks.QuantumTask`, and the schema of its parameters::

    from pilot.library.templates import template

    t = template("hardware_efficient", n=4, layers=2)
    t.parameters            # (ParameterSpec("theta[0]", -pi, pi, "ry angle on qubit 0 ..."), ...)
    t.bind(t.initial_point(seed=1))                       # a bound QuantumCircuit
    QuantumTask(t.circuit, parameter_values=[x0, x1], observables=["ZZII"], shots=None)

Conventions:

* **Parameter order.** ``Template.parameters`` lists the circuit's free
  parameters in exactly the order of ``circuit.parameters`` (Qiskit sorts them
  by name, vector elements by index: ``beta[0], beta[1], gamma[0], gamma[1]``).
  That is the order of a row of ``QuantumTask(..., parameter_values=[...])``
  and of a sequence given to :meth:`Template.bind`; a mapping is keyed by
  parameter name (``{"beta[0]": 0.3, ...}``).  Names are ASCII so that they
  are easy to type and survive OpenQASM 3 and Braket conversion.
* **Bounds** are the range an optimiser should search (one period of the
  angle); :meth:`Template.initial_point` draws from them.  :meth:`Template.bind`
  does not enforce them: an angle outside one period is still a valid angle.
* **Measurements.** Bell, GHZ and QFT circuits measure every qubit (counts
  keys read qubit 0 rightmost, as Qiskit's).  The ansatz circuits (QAOA,
  hardware-efficient) are unmeasured so that ``observables`` can be asked for;
  :meth:`Template.measured` returns a measured copy for sampling.
* **Pauli strings** (the QAOA cost Hamiltonian) follow Qiskit: the rightmost
  character acts on qubit 0, as in ``QuantumTask(observables=[...])`` for
  Qiskit circuits.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import n_local, qaoa_ansatz
from qiskit.quantum_info import SparsePauliOp
from qiskit.synthesis import synth_qft_full

from pilot.errors import ConfigError, closest

logger = logging.getLogger(__name__)

#: Single-angle rotations a hardware-efficient ansatz may use.
ROTATIONS = ("rx", "ry", "rz")
#: Entanglement patterns of :func:`hardware_efficient` (Qiskit's ``n_local`` names).
ENTANGLEMENTS = ("linear", "reverse_linear", "circular", "full", "pairwise", "sca")

_ELEMENT = re.compile(r"(.+)\[(\d+)\]")  # a ParameterVector element's name

#: An edge of a MaxCut graph: ``(i, j)`` (weight 1) or ``(i, j, weight)``.
Edge = tuple[int, int] | tuple[int, int, float]


@dataclass(frozen=True)
class ParameterSpec:
    """One free parameter of a template: its name, search range and meaning."""

    name: str
    lower: float
    upper: float
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lower", float(self.lower))
        object.__setattr__(self, "upper", float(self.upper))
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ConfigError(f"parameter {self.name!r}: bounds must be finite", key=self.name)
        if self.lower > self.upper:
            raise ConfigError(
                f"parameter {self.name!r}: lower bound {self.lower} > upper bound {self.upper}",
                key=self.name,
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lower": self.lower,
            "upper": self.upper,
            "description": self.description,
        }


@dataclass(frozen=True)
class Template:
    """A circuit and the schema of its free parameters.

    ``circuit`` is shared, not copied: treat it as read-only (:meth:`bind` and
    :meth:`measured` return new circuits).  ``parameters`` is in the order of
    ``circuit.parameters`` (checked on construction).  ``arguments`` records
    what the builder was called with; ``hamiltonian_terms`` is the template's
    cost observable as ``(pauli, coefficient)`` pairs, when it has one (QAOA).
    """

    name: str
    circuit: QuantumCircuit
    parameters: tuple[ParameterSpec, ...] = ()
    arguments: Mapping[str, Any] = field(default_factory=dict)
    hamiltonian_terms: tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        names = [p.name for p in self.circuit.parameters]
        if names != [p.name for p in self.parameters]:
            raise ConfigError(
                f"template {self.name!r}: parameter schema {[p.name for p in self.parameters]} "
                f"does not match circuit.parameters {names}",
                key="parameters",
            )
        # A private copy, kept a plain dict (not a read-only proxy) so that a
        # Template pickles and can travel to Ray workers.
        object.__setattr__(self, "arguments", dict(self.arguments))

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)

    @property
    def num_qubits(self) -> int:
        return int(self.circuit.num_qubits)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def hamiltonian(self) -> dict[str, float] | None:
        """The cost observable as ``{pauli string: coefficient}`` (a fresh dict), or ``None``.

        Usable directly as an entry of ``QuantumTask(observables=[...])``.
        """
        return None if self.hamiltonian_terms is None else dict(self.hamiltonian_terms)

    def describe_parameters(self) -> str:
        """``beta[0..1] in [0, 3.1416], gamma[0..1] in [0, 6.2832]`` (used in error messages).

        Consecutive elements of one vector with the same bounds are folded into
        a range, so that the text stays short for large ansätze.
        """
        if not self.parameters:
            return "no parameters"
        groups: list[tuple[str, int, int, float, float]] = []  # (stem, first, last, lo, hi)
        for p in self.parameters:
            match = _ELEMENT.fullmatch(p.name)
            stem, index = (match[1], int(match[2])) if match else (p.name, -1)
            if groups and match:
                g_stem, first, last, lo, hi = groups[-1]
                if (g_stem, last + 1, lo, hi) == (stem, index, p.lower, p.upper):
                    groups[-1] = (stem, first, index, lo, hi)
                    continue
            groups.append((stem, index, index, p.lower, p.upper))
        parts = []
        for stem, first, last, lo, hi in groups:
            if first < 0:
                name = stem
            elif last > first:
                name = f"{stem}[{first}..{last}]"
            else:
                name = f"{stem}[{first}]"
            parts.append(f"{name} in [{lo:.5g}, {hi:.5g}]")
        return ", ".join(parts)

    def ordered_values(
        self, values: Sequence[float] | np.ndarray | Mapping[str, float]
    ) -> list[float]:
        """Check one parameter set and return it as floats in schema order.

        ``values`` is a sequence in schema order or a mapping by name; a wrong
        length, an unknown or missing name, or a non-finite value raises
        :class:`~pilot.errors.ConfigError` naming it and the expected schema.
        """
        expected = f"expected {self.num_parameters} value(s): {self.describe_parameters()}"
        if isinstance(values, Mapping):
            given = {_key_name(k): v for k, v in values.items()}
            names = self.parameter_names
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise ConfigError(
                    f"parameter_values: template {self.name!r} has no parameter "
                    f"{', '.join(map(repr, unknown))}; {expected}",
                    key="parameter_values",
                    suggestion=closest(unknown[0], names),
                )
            missing = [n for n in names if n not in given]
            if missing:
                raise ConfigError(
                    f"parameter_values: template {self.name!r} is missing "
                    f"{', '.join(missing)}; {expected}",
                    key="parameter_values",
                )
            ordered = [given[n] for n in names]
        else:
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
                raise ConfigError(
                    f"parameter_values: template {self.name!r} takes a sequence or a dict of "
                    f"numbers, got {type(values).__name__}; {expected}",
                    key="parameter_values",
                )
            array = np.asarray(values, dtype=object)
            if array.ndim != 1:
                raise ConfigError(
                    f"parameter_values: template {self.name!r} binds one parameter set (a flat "
                    f"sequence) at a time, got shape {array.shape}; {expected}",
                    key="parameter_values",
                )
            if len(array) != self.num_parameters:
                raise ConfigError(
                    f"parameter_values: template {self.name!r} got {len(array)} value(s); "
                    f"{expected}",
                    key="parameter_values",
                )
            ordered = list(array)
        return [
            _finite(name, v, expected)
            for name, v in zip(self.parameter_names, ordered, strict=True)
        ]

    def bind(self, values: Sequence[float] | np.ndarray | Mapping[str, float]) -> QuantumCircuit:
        """A copy of the circuit with every parameter bound (see :meth:`ordered_values`)."""
        floats = self.ordered_values(values)
        return self.circuit.assign_parameters(
            dict(zip(self.circuit.parameters, floats, strict=True)), inplace=False
        )

    def initial_point(self, seed: int | None = None) -> np.ndarray:
        """A parameter set drawn uniformly within the bounds (schema order)."""
        rng = np.random.default_rng(seed)
        lower = np.array([p.lower for p in self.parameters], dtype=float)
        upper = np.array([p.upper for p in self.parameters], dtype=float)
        return rng.uniform(lower, upper)

    def measured(self) -> QuantumCircuit:
        """A copy of the circuit that measures every qubit (a plain copy if it already measures)."""
        qc = self.circuit.copy()
        if "measure" not in qc.count_ops():
            qc.measure_all()
        return qc

    def schema(self) -> dict[str, Any]:
        """Plain JSON-serialisable description of the template and its parameters."""
        return {
            "template": self.name,
            "num_qubits": self.num_qubits,
            "num_parameters": self.num_parameters,
            "order": "circuit.parameters",
            "arguments": _plain(dict(self.arguments)),
            "parameters": [p.to_dict() for p in self.parameters],
        }


# ----------------------------------------------------------------- helpers
def _key_name(key: Any) -> str:
    if isinstance(key, Parameter):
        return str(key.name)
    if not isinstance(key, str):
        raise ConfigError(
            f"parameter_values: dict keys must be parameter names, got {key!r}",
            key="parameter_values",
        )
    return key


def _finite(name: str, value: Any, expected: str) -> float:
    """``value`` as a float; ``ConfigError`` unless it is a finite real number."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not real:
        raise ConfigError(
            f"parameter_values: {name} must be a real number, got {value!r}; {expected}",
            key=f"parameter_values.{name}",
        )
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(
            f"parameter_values: {name} must be finite, got {number}; {expected}",
            key=f"parameter_values.{name}",
        )
    return number


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so that the schema is plain JSON data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_count(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}", key=key)
    return int(value)


def _pauli(num_qubits: int, qubits: Sequence[int], char: str = "Z") -> str:
    """A Pauli string in Qiskit order (rightmost character = qubit 0)."""
    chars = ["I"] * num_qubits
    for q in qubits:
        chars[num_qubits - 1 - q] = char
    return "".join(chars)


# ----------------------------------------------------------------- builders
def bell() -> Template:
    """(|00> + |11>)/sqrt(2), measured: counts only on ``00`` and ``11``."""
    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return Template("bell", qc)


def ghz(n: int) -> Template:
    """(|0...0> + |1...1>)/sqrt(2) on ``n`` qubits, measured.

    Qiskit's library has no GHZ builder; a Hadamard and a CX chain is the
    textbook circuit (depth n, nearest-neighbour only, so it maps onto a line
    of physical qubits without swaps).
    """
    n = _check_count(n, "n")
    qc = QuantumCircuit(n, n, name=f"ghz_{n}")
    qc.h(0)
    for q in range(n - 1):
        qc.cx(q, q + 1)
    qc.measure(range(n), range(n))
    return Template("ghz", qc, arguments={"n": n})


def qft(n: int, inverse: bool = False) -> Template:
    """The quantum Fourier transform on ``n`` qubits (Qiskit's convention), measured.

    Built with ``qiskit.synthesis.synth_qft_full`` (h, cp, swap) rather than
    one ``QFTGate`` box: the explicit gates convert to PennyLane and Braket and
    let QDREAMER's feasibility check see the real gate set.  It equals
    ``QFTGate(n)`` (or its inverse) exactly.  For a QFT inside a larger circuit
    use ``t.circuit.remove_final_measurements(inplace=False)``.
    """
    n = _check_count(n, "n")
    if not isinstance(inverse, bool):
        raise ConfigError(f"inverse must be True or False, got {inverse!r}", key="inverse")
    name = f"{'iqft' if inverse else 'qft'}_{n}"
    body = synth_qft_full(n, do_swaps=True, inverse=inverse, name=name)
    qc = QuantumCircuit(n, n, name=name)
    qc.compose(body, inplace=True)
    qc.measure(range(n), range(n))
    return Template("qft", qc, arguments={"n": n, "inverse": inverse})


def _weight(value: Any, where: str) -> float:
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not real or not math.isfinite(float(value)):
        raise ConfigError(f"{where}: weight must be a finite real number, got {value!r}", key=where)
    return float(value)


def _edges(edges: Any, num_qubits: int | None) -> tuple[tuple[int, int, float], ...]:
    if isinstance(edges, (str, bytes, Mapping)) or not isinstance(edges, (Sequence, np.ndarray)):
        raise ConfigError(
            f"edges must be a list of (i, j) or (i, j, weight) tuples, got {edges!r}", key="edges"
        )
    if len(edges) == 0:
        raise ConfigError("edges: a MaxCut graph needs at least one edge", key="edges")
    out: list[tuple[int, int, float]] = []
    seen: set[frozenset[int]] = set()
    for k, edge in enumerate(edges):
        where = f"edges[{k}]"
        if isinstance(edge, (str, bytes)) or not isinstance(edge, (Sequence, np.ndarray)):
            raise ConfigError(f"{where} must be (i, j) or (i, j, weight), got {edge!r}", key=where)
        if len(edge) not in (2, 3):
            raise ConfigError(f"{where} must be (i, j) or (i, j, weight), got {edge!r}", key=where)
        i, j = (_check_count(v, f"{where} vertex", minimum=0) for v in edge[:2])
        weight = _weight(edge[2], where) if len(edge) == 3 else 1.0
        if i == j:
            raise ConfigError(f"{where} = {tuple(edge)!r} is a self loop", key=where)
        if num_qubits is not None and max(i, j) >= num_qubits:
            raise ConfigError(
                f"{where} = {tuple(edge)!r} references qubit {max(i, j)}, but the graph has "
                f"{num_qubits} vertices (0..{num_qubits - 1})",
                key=where,
            )
        if frozenset((i, j)) in seen:
            raise ConfigError(
                f"{where} = {tuple(edge)!r} repeats an edge; give each edge once (sum the weights)",
                key=where,
            )
        seen.add(frozenset((i, j)))
        out.append((i, j, weight))
    return tuple(out)


def maxcut_hamiltonian(edges: Sequence[Edge], num_qubits: int | None = None) -> dict[str, float]:
    """The cut-value observable ``C = sum_ij w_ij (I - Z_i Z_j) / 2`` as ``{pauli: coeff}``.

    ``<x|C|x>`` is the weight of the cut that bitstring ``x`` makes, so ``<C>``
    is the expected cut (to be maximised).  Rightmost character = qubit 0.
    """
    checked = _edges(edges, num_qubits)
    n = num_qubits if num_qubits is not None else 1 + max(max(i, j) for i, j, _ in checked)
    terms: dict[str, float] = {"I" * n: sum(w for _, _, w in checked) / 2}
    for i, j, w in checked:
        terms[_pauli(n, (i, j))] = -w / 2
    return terms


def cut_value(bitstring: str, edges: Sequence[Edge]) -> float:
    """The weight of the edges cut by ``bitstring`` (a counts key: qubit 0 rightmost)."""
    if not isinstance(bitstring, str) or not bitstring or set(bitstring) - {"0", "1"}:
        raise ConfigError(
            f"bitstring must be a string of 0s and 1s (a counts key), got {bitstring!r}",
            key="bitstring",
        )
    checked = _edges(edges, None)
    n = len(bitstring)
    widest = max(max(i, j) for i, j, _ in checked)
    if widest >= n:
        raise ConfigError(
            f"bitstring {bitstring!r} has {n} bits but the edges reference vertex {widest}",
            key="bitstring",
        )
    return float(sum(w for i, j, w in checked if bitstring[n - 1 - i] != bitstring[n - 1 - j]))


def qaoa_maxcut(edges: Sequence[Edge], reps: int = 1, num_qubits: int | None = None) -> Template:
    """QAOA for MaxCut on ``edges`` (one qubit per vertex), unmeasured.

    ``edges`` is a list of ``(i, j)`` or ``(i, j, weight)``; vertices are
    ``0..num_qubits-1`` (by default up to the largest vertex named).  The
    circuit is Qiskit's ``qaoa_ansatz``: ``|+>^n`` then ``reps`` layers of
    ``exp(-i gamma[k] C) exp(-i beta[k] sum X)`` with ``C`` the cut value
    (:attr:`Template.hamiltonian`, to be maximised), up to a global phase.
    Parameters: ``beta[0..reps-1]`` then ``gamma[0..reps-1]``.
    """
    reps = _check_count(reps, "reps")
    if num_qubits is not None:
        num_qubits = _check_count(num_qubits, "num_qubits")
    checked = _edges(edges, num_qubits)
    hamiltonian = maxcut_hamiltonian(checked, num_qubits)
    n = len(next(iter(hamiltonian)))
    # The identity term only adds a global phase to the evolution; leaving it
    # out keeps the circuit free of a parameterised global phase.
    cost = SparsePauliOp.from_list([(p, c) for p, c in hamiltonian.items() if set(p) != {"I"}])
    qc = qaoa_ansatz(cost, reps=reps, name="qaoa_maxcut")
    # qaoa_ansatz names its parameters with the Greek letters beta[k] and
    # gamma[k]; ASCII names are easier to type in a parameter dict and are valid
    # identifiers for OpenQASM 3 and Braket.  Sorted order stays beta, gamma.
    vectors = {
        "\N{GREEK SMALL LETTER BETA}": ParameterVector("beta", reps),
        "\N{GREEK SMALL LETTER GAMMA}": ParameterVector("gamma", reps),
    }
    if {p.vector.name for p in qc.parameters} != set(vectors):
        raise RuntimeError(f"unexpected qaoa_ansatz parameters: {list(qc.parameters)}")
    rename = {p: vectors[p.vector.name][p.index] for p in qc.parameters}
    qc.assign_parameters(rename, inplace=True)
    qc.name = "qaoa_maxcut"  # qaoa_ansatz(flatten=True) does not keep its name argument
    beta, gamma = vectors.values()
    specs = tuple(
        ParameterSpec(b.name, 0.0, math.pi, f"mixer angle of layer {k}: exp(-i beta sum X)")
        for k, b in enumerate(beta)
    ) + tuple(
        ParameterSpec(g.name, 0.0, 2 * math.pi, f"cost angle of layer {k}: exp(-i gamma C)")
        for k, g in enumerate(gamma)
    )
    logger.debug("qaoa_maxcut: %d qubits, %d edges, reps=%d", n, len(checked), reps)
    return Template(
        "qaoa_maxcut",
        qc,
        specs,
        arguments={"edges": checked, "reps": reps, "num_qubits": n},
        hamiltonian_terms=tuple(hamiltonian.items()),
    )


def hardware_efficient(
    n: int,
    layers: int = 2,
    rotations: Sequence[str] = ("ry", "rz"),
    entanglement: str = "linear",
) -> Template:
    """A hardware-efficient ansatz: rotation layers and CX entanglers, unmeasured.

    Qiskit's ``n_local``: ``layers`` repetitions of (one rotation of each kind
    on every qubit, then CXs in the ``entanglement`` pattern), and a final
    rotation layer, so ``n * len(rotations) * (layers + 1)`` parameters named
    ``theta[k]``, each in ``[-pi, pi]``.
    """
    n = _check_count(n, "n")
    layers = _check_count(layers, "layers")
    if isinstance(rotations, str):
        rotations = (rotations,)
    rotations = tuple(rotations)
    if not rotations:
        raise ConfigError(
            f"rotations: give at least one of {', '.join(ROTATIONS)}", key="rotations"
        )
    for gate in rotations:
        if gate not in ROTATIONS:
            raise ConfigError.unknown("rotation", "rotations", str(gate), ROTATIONS)
    if entanglement not in ENTANGLEMENTS:
        raise ConfigError.unknown("entanglement", "entanglement", str(entanglement), ENTANGLEMENTS)
    # n_local refuses a two-qubit entangler on one qubit; one qubit has nothing
    # to entangle, so it gets rotation layers only.
    qc = n_local(
        n,
        list(rotations),
        "cx" if n > 1 else [],
        entanglement=entanglement,
        reps=layers,
        parameter_prefix="theta",
        name="hardware_efficient",
    )
    # Describe each angle from the circuit itself: the gate and qubit it drives.
    where: dict[str, tuple[str, int]] = {}
    for instruction in qc.data:
        qubit = qc.find_bit(instruction.qubits[0]).index
        for param in instruction.operation.params:
            if isinstance(param, ParameterExpression):
                for p in param.parameters:
                    where.setdefault(p.name, (instruction.operation.name, qubit))
    per_layer = n * len(rotations)
    specs = tuple(
        ParameterSpec(
            p.name,
            -math.pi,
            math.pi,
            f"{where[p.name][0]} angle on qubit {where[p.name][1]}, "
            f"rotation layer {k // per_layer} of {layers + 1}",
        )
        for k, p in enumerate(qc.parameters)
    )
    return Template(
        "hardware_efficient",
        qc,
        specs,
        arguments={
            "n": n,
            "layers": layers,
            "rotations": rotations,
            "entanglement": entanglement,
        },
    )


#: Template builders by name (see :func:`template`).
TEMPLATES: Mapping[str, Callable[..., Template]] = MappingProxyType(
    {
        "bell": bell,
        "ghz": ghz,
        "qft": qft,
        "qaoa_maxcut": qaoa_maxcut,
        "hardware_efficient": hardware_efficient,
    }
)


def template(name: str, **kwargs: Any) -> Template:
    """Build the template called ``name`` (a key of :data:`TEMPLATES`) with ``kwargs``."""
    builder = TEMPLATES.get(name)
    if builder is None:
        raise ConfigError.unknown("template", "template", str(name), TEMPLATES)
    signature = inspect.signature(builder)
    accepted = ", ".join(
        p.name if p.default is p.empty else f"{p.name}={p.default!r}"
        for p in signature.parameters.values()
    )
    for key in kwargs:
        if key not in signature.parameters:
            raise ConfigError(
                f"template {name!r} has no argument {key!r}; it takes: {accepted}",
                key=f"template.{name}.{key}",
                suggestion=closest(key, signature.parameters),
            )
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"template {name!r}: {exc}; it takes: {accepted}", key=f"template.{name}"
        ) from None
    return builder(**kwargs)


__all__ = [
    "ENTANGLEMENTS",
    "ROTATIONS",
    "TEMPLATES",
    "Edge",
    "ParameterSpec",
    "Template",
    "bell",
    "cut_value",
    "ghz",
    "hardware_efficient",
    "maxcut_hamiltonian",
    "qaoa_maxcut",
    "qft",
    "template",
]

"""The portable circuit every executor can run, and the counts-key conventions.

Every input format is loaded into a :class:`LoadedCircuit`.  When the circuit's
own framework matches the executor's (a Qiskit circuit on Aer, a Braket circuit
on Braket, a PennyLane tape on a PennyLane device) the executor runs the native
object.  Otherwise it runs the :class:`PortableCircuit`: a gate-only Qiskit
``QuantumCircuit`` (Qiskit is our hub format and a base dependency) plus what
to measure and how to report it.

Counts keys
-----------
Backends return bit strings in *measurement order* ("ordered": the first
measured qubit is the leftmost character).  :class:`KeyFormat` turns them into
the convention of the framework the circuit was written in, whichever backend
ran it:

* Qiskit, OpenQASM 2 and 3: one character per classical bit, the highest
  clbit leftmost (``c[0]`` is the rightmost character); several registers are
  separated by a space, the last register leftmost (``"1 01"`` for registers
  ``m`` (2 bits) then ``out`` (1 bit)), as Qiskit's ``get_counts`` writes them;
  clbits never written read ``0``.
* Braket: measured qubits in the order they were measured (``measured_qubits``),
  the first leftmost.
* PennyLane: the wires of the ``counts``/``sample``/``probs`` measurement in
  order, the first leftmost.
* Gate dict (seed 002): qubit 0 leftmost, over all qubits unless the dict lists
  ``measure`` entries (then in that order).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: Source formats, as reported in ``QuantumResult.source_format``.
SOURCE_FORMATS = ("qiskit", "qasm2", "qasm3", "braket", "pennylane", "gatedict")

#: Widest circuit read from text (OpenQASM) or a gate dict, in qubits and in
#: classical bits: far above any device or simulator (IBM's largest has 1,121
#: qubits), and small enough that building the circuit object stays cheap.  A
#: wider declaration is refused while reading, before any memory is spent on it.
MAX_QUBITS = 10_000

#: Which executor framework runs each source format natively.
NATIVE_FRAMEWORK = {
    "qiskit": "qiskit",
    "qasm2": "qiskit",
    "qasm3": "qiskit",
    "braket": "braket",
    "pennylane": "pennylane",
    "gatedict": None,
}


@dataclass(frozen=True)
class KeyFormat:
    """Maps an ordered bit string (measurement order) to a counts key.

    ``clbit_sources`` is ``None`` for order-based conventions (Braket,
    PennyLane, gate dict): the key *is* the ordered string.  For the Qiskit
    convention it lists, for each classical bit ``0..n-1``, the index in the
    ordered string that lands there (``None`` when no measurement writes it).
    ``registers`` are the sizes of the circuit's classical registers in clbit
    order, when there are several (their keys are separated by spaces).
    """

    clbit_sources: tuple[int | None, ...] | None = None
    registers: tuple[int, ...] | None = None
    #: Order-based keys over these positions of the ordered string (a PennyLane
    #: dynamic circuit's reported bits); ``None``: the whole string.
    select: tuple[int, ...] | None = None

    def format(self, ordered: str) -> str:
        if self.clbit_sources is None:
            return ordered if self.select is None else "".join(ordered[i] for i in self.select)
        bits = ["0" if src is None else ordered[src] for src in self.clbit_sources]
        return qiskit_key(bits, self.registers)

    def format_dist(self, dist: dict[str, Any]) -> dict[str, Any]:
        if self.clbit_sources is None and self.select is None:
            return dict(dist)
        out: dict[str, Any] = {}
        for key, value in dist.items():
            k = self.format(key)
            out[k] = out.get(k, 0) + value
        return out


def qiskit_key(bits: list[str] | str, registers: tuple[int, ...] | None) -> str:
    """Clbit values (clbit 0 first) as a Qiskit counts key: the highest clbit leftmost,
    registers (sizes in clbit order) separated by spaces, the last one leftmost."""
    if not registers or len(registers) < 2:
        return "".join(reversed(bits))
    groups, start = [], 0
    for size in registers:
        groups.append("".join(reversed(bits[start : start + size])))
        start += size
    return " ".join(reversed(groups))


@dataclass(frozen=True)
class PauliTerm:
    """``coeff * P_q0 P_q1 ...`` with ``paulis = ((qubit, "X"|"Y"|"Z"), ...)``."""

    coeff: float
    paulis: tuple[tuple[int, str], ...] = ()


#: A Hermitian observable as a real linear combination of Pauli words.
Observable = tuple[PauliTerm, ...]


@dataclass
class PortableCircuit:
    """A gate-only circuit plus what to measure and how to report it.

    Attributes:
        body: gates only (no measurements or barriers), width ``num_qubits``.
        measured: qubits measured in the computational basis, output order.
            Empty when only expectation values are wanted.
        keys: how to turn ordered bit strings into counts keys.
        observables: expectation values to report, in order.
        want_counts: report ``counts`` (``False`` for expectation-only QNodes).
    """

    body: QuantumCircuit
    measured: tuple[int, ...]
    keys: KeyFormat = field(default_factory=KeyFormat)
    observables: tuple[Observable, ...] = ()
    want_counts: bool = True

    @property
    def num_qubits(self) -> int:
        return int(self.body.num_qubits)


@dataclass
class LoadedCircuit:
    """A user circuit after loading, before running.

    ``native`` is the framework object (Qiskit ``QuantumCircuit``, Braket
    ``Circuit``, PennyLane ``QuantumScript``), run as-is when an executor of
    ``framework`` runs it.  ``portable`` is built on first use.
    """

    source_format: str
    native: Any
    num_qubits: int
    gates: frozenset[str]
    name: str
    to_portable: Any = None  # Callable[[], PortableCircuit]
    _portable: PortableCircuit | None = None
    #: Does the circuit say what to measure (measure instructions, counts/probs)?
    measures: bool = True
    #: PennyLane wire label -> qubit index (``None``: qubits are their own labels).
    wires: dict[Any, int] | None = None
    #: Observables the task asks for (``QuantumTask(..., observables=[...])``).
    observables: tuple[Any, ...] = ()
    #: Those observables as Pauli sums over this circuit's qubits
    #: (:func:`pilot.convert.observables.with_observables` sets both).
    observable_sums: tuple[Observable, ...] = ()
    #: The dynamic features it uses (:data:`dreamer.workload.DYNAMIC_FEATURES`).
    needs: frozenset[str] = frozenset()
    #: A dynamic circuit as a Qiskit circuit (measures, resets, branches kept), and
    #: how its clbit-ordered results become counts keys; ``None`` when not dynamic.
    dynamic: QuantumCircuit | None = None
    keys: KeyFormat | None = None

    @property
    def framework(self) -> str | None:
        return NATIVE_FRAMEWORK[self.source_format]

    def portable(self) -> PortableCircuit:
        if self._portable is None:
            p = self.to_portable()
            if self.observables:
                p = replace(
                    p,
                    observables=p.observables + self.observable_sums,
                    measured=p.measured if self.measures else (),
                    want_counts=p.want_counts and self.measures,
                )
            self._portable = p
        return self._portable

"""Regenerate the published-circuit corpus in ``tests/corpus/circuits/``.

The circuits come from MQT Bench (https://github.com/munich-quantum-toolkit/bench),
generated locally at its target-independent level (``BenchmarkLevel.INDEP``:
Qiskit's transpiler at optimisation level 2, seed 10, no device; parametrised
benchmarks get MQT Bench's own seeded random angles), and are kept as
OpenQASM 2 text from ``qiskit.qasm2.dumps``, as MQT Bench publishes them.  Each
ends with MQT Bench's own ``measure_all`` (a barrier, then every qubit into
``meas``).  The dynamic circuits of our own (``dyn_*.qasm``) come from
:mod:`tests.corpus.dynamic` and are written by the same run.

Regenerate (mqt.bench lives in its own virtual environment, never in the
project's)::

    python3 -m venv /tmp/mqt && /tmp/mqt/bin/pip install mqt.bench
    cd /work/main && /tmp/mqt/bin/python tests/corpus/generate.py

(generated with mqt.bench 2.3.0 and qiskit 2.6.2).  The output replaces every
``*.qasm`` file of ``tests/corpus/circuits/``.

What is generated
-----------------
* Every MQT Bench benchmark at the sizes it accepts in 2..12 qubits, at most
  :data:`SIZES_PER_FAMILY` (6) sizes per family spread over that range (the
  smallest and the largest always among them): about 160 static circuits in
  30 families.  (Six rather than four sizes: four give ~115 circuits, short of
  the 150 asked for; the extra ones are all small and run in milliseconds.)
* The dynamic MQT Bench benchmarks (``dynamic_qft``, ``ghz_dynamic``,
  ``iqpe``: classically controlled gates on single measured bits) at sizes up
  to 5 qubits (they must fit ``fake_manila``): OpenQASM 2 cannot express a
  condition on one bit (``qasm2.dumps`` refuses: "OpenQASM 2 only supports
  register-equality conditions"), so these are kept as OpenQASM 3
  (``qiskit.qasm3.dumps``).

What is skipped, and why
------------------------
* A circuit whose text Qiskit's own importers cannot read back.  Today that is
  ``ghz_dynamic_5``: its last correction is conditioned on the XOR of two
  measured bits (``if ((mid_measurement[0] ^ mid_measurement[1]) == true)``),
  which ``qiskit.qasm3.loads`` (qiskit-qasm3-import 0.6.0) refuses:
  "unsupported binary operation '^'".  ``ghz_dynamic`` is kept at 2..4 qubits.
* ``qwalk`` at 8..12 qubits: 2,074..6,416 gates (over :data:`MAX_GATES`, 2,000).
* ``shor``: its sizes are 18, 42, 58 and 74 qubits (none in 2..12).
* ``seven_qubit_steane_code`` (13 qubits) and ``shors_nine_qubit_code``
  (17 qubits): fixed widths above 12.
* Sizes a benchmark refuses (odd/even widths of the adders and multipliers,
  ``graphstate`` and ``hhl`` below 3 qubits, ``qwalk`` at 2...): MQT Bench
  raises (``ValueError``, or networkx for a 2-node degree-2 graph); the sizes
  tried and refused are printed.
* ``graphstate`` draws a random regular graph unless given a seed: it is
  generated with ``seed=10`` (MQT Bench's own seed elsewhere) so that the files
  are the same on every run.
* ``ae`` (amplitude estimation) holds controlled ``unitary`` gates that
  ``qasm2.dumps`` cannot write ("only 0-dimensional arrays can be converted to
  Python scalars"): such a circuit is written after ``QuantumCircuit.decompose()``
  (one level, repeated until it can be written), and the file says so in a
  comment.
* ``qaoa`` comes without measurements (MQT Bench leaves it for an estimator):
  ``measure_all()`` is added to it, as MQT Bench's other benchmarks end, and its
  files say so in their first line.
* Qiskit names some gate definitions after an object's ``id()``
  (``gate mcphase_140008754341456(param0) ...``): those are renumbered in order
  of appearance (``mcphase_id1``...) so that every run writes the same files.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "circuits"

#: Largest circuit kept, in gates (``QuantumCircuit.size()``, measurements included).
MAX_GATES = 2000
#: Sizes of one family at most.
SIZES_PER_FAMILY = 6
MIN_QUBITS, MAX_QUBITS = 2, 12
#: Dynamic benchmarks (kept as OpenQASM 3), and their widest size (fake_manila: 5 qubits).
DYNAMIC = {"dynamic_qft": 5, "ghz_dynamic": 5, "iqpe": 5}
#: Options passed to a benchmark: graphstate draws a random graph unless seeded.
OPTIONS: dict[str, dict[str, object]] = {"graphstate": {"seed": 10}}
#: Benchmarks whose sizes lie outside 2..12 (see the docstring).
OUT_OF_RANGE = {"shor", "seven_qubit_steane_code", "shors_nine_qubit_code"}


def spread(sizes: list[int], k: int) -> list[int]:
    """At most ``k`` of ``sizes`` (sorted), evenly spread, first and last included."""
    if len(sizes) <= k:
        return sizes
    picks = {sizes[round(i * (len(sizes) - 1) / (k - 1))] for i in range(k)}
    return sorted(picks)


def qasm2_text(qc: object) -> tuple[str, int]:
    """``qasm2.dumps(qc)``, decomposing one level at a time until it can be written."""
    from qiskit import qasm2

    for levels in range(4):
        try:
            return qasm2.dumps(qc), levels
        except Exception:
            if levels == 3:
                raise
            qc = qc.decompose()  # type: ignore[attr-defined]
    raise AssertionError("unreachable")


#: Gate names Qiskit makes unique with an object's ``id()`` (``mcphase_140008754341456``).
_ID_NAME = re.compile(r"\b([A-Za-z][A-Za-z0-9]*)_(\d{8,})\b")


def stable_names(text: str) -> str:
    """Renumber ``id()``-suffixed gate names in order of appearance (``mcphase_1``...),
    so that the same circuit gives the same text on every run."""
    names: dict[str, str] = {}
    for m in _ID_NAME.finditer(text):
        names.setdefault(m.group(0), f"{m.group(1)}_id{len(names) + 1}")
    return _ID_NAME.sub(lambda m: names[m.group(0)], text)


def unreadable(text: str) -> str | None:
    """Why Qiskit's importers cannot read ``text`` back (``None`` when they can)."""
    from qiskit import qasm2, qasm3

    try:
        if text.startswith("OPENQASM 2"):
            qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        else:
            qasm3.loads(text)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> int:
    from mqt.bench import BenchmarkLevel, get_benchmark
    from mqt.bench.benchmarks import get_available_benchmark_names
    from qiskit import qasm3

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.qasm"):
        old.unlink()
    written: dict[str, list[int]] = {}
    skipped: list[str] = []
    started = time.time()
    for family in get_available_benchmark_names():
        if family in OUT_OF_RANGE:
            skipped.append(f"{family}: no size in {MIN_QUBITS}..{MAX_QUBITS}")
            continue
        top = DYNAMIC.get(family, MAX_QUBITS)
        made = {}
        refused = []
        for n in range(MIN_QUBITS, top + 1):
            try:
                qc = get_benchmark(
                    benchmark=family,
                    level=BenchmarkLevel.INDEP,
                    circuit_size=n,
                    **OPTIONS.get(family, {}),
                )
            except Exception:  # ValueError, or networkx's for an impossible graph
                refused.append(n)
                continue
            if qc.size() > MAX_GATES:
                skipped.append(f"{family}_{n}: {qc.size()} gates > {MAX_GATES}")
                continue
            if not MIN_QUBITS <= qc.num_qubits <= top:
                skipped.append(f"{family}_{n}: {qc.num_qubits} qubits")
                continue
            if not any(inst.operation.name == "measure" for inst in qc.data):
                qc.measure_all()  # qaoa comes unmeasured (see the docstring)
                qc.metadata = {**(qc.metadata or {}), "measure_all_added": True}
            made[n] = qc
        if refused:
            skipped.append(f"{family}: sizes {refused} refused by MQT Bench")
        for n in spread(sorted(made), SIZES_PER_FAMILY):
            qc = made[n]
            if family in DYNAMIC:
                text = qasm3.dumps(qc)
                note = "OpenQASM 3: conditions on single bits"
            else:
                text, levels = qasm2_text(qc)
                text = stable_names(text)
                note = f"decomposed {levels} level(s) to be written" if levels else ""
            problem = unreadable(text)
            if problem:
                skipped.append(f"{family}_{n}: Qiskit cannot read its text back ({problem})")
                continue
            if (qc.metadata or {}).get("measure_all_added"):
                note = "; ".join(filter(None, [note, "measure_all() added here"]))
            header = (
                f"// MQT Bench '{family}', circuit_size={n}, level indep "
                f"({qc.num_qubits} qubits, {qc.size()} operations)"
                + (f"; {note}" if note else "")
                + "\n"
            )
            (OUT / f"{family}_{n}.qasm").write_text(header + text)
            written.setdefault(family, []).append(n)
    sys.path.insert(0, str(HERE))
    import dynamic  # tests/corpus/dynamic.py: needs only qiskit

    own = dynamic.write_files(OUT)
    total = sum(len(v) for v in written.values())
    for family, sizes in written.items():
        print(f"{family:28s} {sizes}")
    for line in skipped:
        print(f"skipped {line}")
    print(
        f"{total} MQT Bench circuits in {len(written)} families, {len(own)} dynamic of our own, "
        f"in {time.time() - started:.1f} s -> {OUT}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

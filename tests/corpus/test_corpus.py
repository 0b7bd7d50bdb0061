"""Every corpus circuit on every executor that accepts it, in every format it can be written in.

In-process, without Ray (the worker class directly, as in
``tests/backends/test_conformance.py``).  For each (circuit, executor, format,
shots) the test first asks ``pilot.selection.refusal_reasons`` -- exactly what
the service checks at submission -- and then:

* refused up front: every reason is a sentence, and the refusal is explained
  by what the circuit needs (qubits beyond the resource, a dynamic-circuit
  feature the resource lacks -- each named -- or exact results it cannot give);
* accepted: the run must succeed ("failed late" otherwise) and match the
  reference ("matched"):

  - static circuits: Aer's exact probabilities (``qiskit_local``, shots=None,
    itself checked against ``qiskit.quantum_info.Statevector``); every ideal
    executor's exact probabilities within 1e-6, its counts within the
    sampling-aware Hellinger bound below;
  - dynamic circuits (no exact reference on Aer): Aer's counts over
    :data:`REF_SHOTS` shots (another seed); each executor's counts, and its
    exact probabilities where it offers them, within the Hellinger bound;
    and the exact answers of :data:`tests.corpus.dynamic.KNOWN`;
  - noisy executors (``qiskit_fake``, ``ibm_runtime`` local): counts add up to
    the shots and carry one character per classical bit; every dynamic circuit
    that fits ``fake_manila`` must be accepted by ``qiskit_fake``.

Formats: the stored OpenQASM text (2, or 3 for dynamic circuits) on every
executor; the Qiskit circuit, ``qiskit.qasm3.dumps`` of it, a Braket
``Circuit`` (static circuits: Braket's SDK cannot write a dynamic one) and a
PennyLane tape (``pilot.convert``'s converters: gates for a static circuit,
``qml.measure`` / ``qml.cond`` for a dynamic one) on ``qiskit_local`` and one
other executor each.

The figures (matched / refused up front / failed late / mismatched, per
executor, format and shots) are printed at the end of the session.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pilot.config import parse_description
from pilot.pilots.actor import QuantumWorker
from pilot.tasks import QuantumTask, TaskSpec
from tests.corpus.corpus import CorpusCircuit, load_corpus
from tests.corpus.dynamic import KNOWN
from tests.helpers import task_spec, within_binomial

#: ~4.5 min on 2 cores (186 circuits on 8 simulators, batches of 4000-20000 shots):
#: left out of the quick tier, run in CI.
pytestmark = pytest.mark.slow

EXECUTORS: dict[str, dict[str, Any]] = {
    "qiskit_local": {"seed": 11},
    "qiskit_fake": {"backends": ["fake_manila"], "seed": 11},
    "ibm_runtime": {"local": True, "seed": 11},
    "pennylane_default": {"seed": 11},
    "pennylane_lightning": {"seed": 11},
    "torch_statevector": {"seed": 11, "precision": "complex128"},
    "braket_local": {},
}
IDEAL = ["qiskit_local", "pennylane_default", "pennylane_lightning", "torch_statevector"]
IDEAL.append("braket_local")
NOISY = ["qiskit_fake", "ibm_runtime"]
#: The second Aer, another seed: the reference counts of dynamic circuits.
REFERENCE = "aer_reference"

#: Shots of sampled runs on ideal executors, of the dynamic references, of noisy runs.
SHOTS = 4000
REF_SHOTS = 20000
NOISY_SHOTS = 1000
#: Exact probabilities agree to this (max abs difference over outcomes).
EXACT_TOL = 1e-6

#: Formats other than the stored text, and where they run.
FORMATS: dict[str, list[str]] = {
    "qiskit": ["qiskit_local", "torch_statevector"],
    "qasm3": ["qiskit_local", "braket_local"],
    "braket": ["qiskit_local", "braket_local"],
    "pennylane": ["qiskit_local", "pennylane_default"],
}
#: Formats that cannot express a dynamic circuit (Braket's SDK refuses a gate after a
#: measurement and has no classical control; PennyLane writes one with qml.measure/qml.cond).
STATIC_ONLY = {"braket"}

#: How a refusal names each dynamic need (the wording of dreamer.workload.DYNAMIC_FEATURES).
NEED_WORDS = {
    "mid-circuit measurement": "needs mid-circuit measurement",
    "reset": "needs reset",
    "classical control": "needs classical control",
}

CORPUS = load_corpus()
BY_NAME = {c.name: c for c in CORPUS}


def _representatives() -> frozenset[str]:
    """One static circuit per family (its median width), and every dynamic circuit."""
    families: dict[str, list[CorpusCircuit]] = defaultdict(list)
    for c in CORPUS:
        if not c.is_dynamic:
            families[c.family].append(c)
    picks = set()
    for members in families.values():
        members.sort(key=lambda c: (c.num_qubits, c.name))
        picks.add(members[(len(members) - 1) // 2].name)
    return frozenset(picks | {c.name for c in CORPUS if c.is_dynamic})


#: Where runtime matters (Aer transpiles each circuit with custom gates, ~0.2 s; the
#: Braket simulator parses its OpenQASM in Python, up to ~10 s for grover_10), the
#: sampled runs of static circuits and the formats other than the stored text cover
#: these: every family once, and every dynamic circuit.  Every circuit runs exactly
#: (shots=None) from its text on every ideal executor, and on the noisy ones.
REPRESENTATIVES = _representatives()


def in_scope(executor: str, fmt: str, shots: int | None) -> frozenset[str]:
    """The circuits of the batch (executor, format, shots)."""
    if executor == REFERENCE:
        return frozenset(c.name for c in CORPUS if c.is_dynamic)
    if fmt == "text" and (shots is None or executor in NOISY):
        return frozenset(BY_NAME)
    return REPRESENTATIVES


# ---------------------------------------------------------------- the Hellinger bound
def hellinger2(p: dict[str, float], q: dict[str, float]) -> float:
    """Squared Hellinger distance ``1 - sum_k sqrt(p_k q_k)`` of two distributions."""
    sp, sq = sum(p.values()), sum(q.values())
    bc = sum(math.sqrt(p[k] / sp * q.get(k, 0.0) / sq) for k in p)
    return max(0.0, 1.0 - bc)


def _root_deviation_moments(lam: Any) -> tuple[Any, Any]:
    """Mean and variance of ``(sqrt(X) - sqrt(lam))**2`` for ``X ~ Poisson(lam)``, per lam.

    Large counts: sqrt(X) ~ sqrt(lam) + Z/2 with Z standard normal, so the mean is
    1/4 and the variance 1/8; small ones (lam <= 30) are summed exactly.
    """
    import numpy as np
    from scipy.special import gammaln

    lam = np.asarray(lam, dtype=float)
    mean = np.full(lam.shape, 0.25)
    var = np.full(lam.shape, 0.125)
    small = lam <= 30
    if small.any():
        x = np.arange(0, 80, dtype=float)[None, :]
        s = lam[small][:, None]
        pmf = np.exp(x * np.log(s) - s - gammaln(x + 1))
        dev = (np.sqrt(x) - np.sqrt(s)) ** 2
        m1 = (pmf * dev).sum(axis=1)
        m2 = (pmf * dev * dev).sum(axis=1)
        mean[small] = m1
        var[small] = np.maximum(m2 - m1 * m1, 1e-12)
    return mean, var


#: Probability that a correct executor fails one comparison (per check).
FALSE_ALARM = 1e-7


def hellinger_bound(probs: dict[str, float], *shots: int) -> float:
    """How far (squared Hellinger) a sampled distribution may stray from ``probs``.

    For N samples of p, counts X_i ~ Poisson(N p_i) (nearly: the multinomial's
    constraint only lowers the spread), and
    H^2(p^, p) = 1/2 sum (sqrt(p^_i) - sqrt(p_i))^2 = 1/(2N) sum (sqrt(X_i) - sqrt(N p_i))^2.
    With many counts per outcome each term has mean 1/4 (the usual
    E[H^2] ~ (k - 1)/(8N) for k outcomes: Pearson's chi^2 with k - 1 degrees of
    freedom, over 8N); outcomes expecting about one count contribute up to ~2x
    that, and those far rarer almost nothing, so the mean and variance are
    computed per outcome (:func:`_root_deviation_moments`).  Two independent
    samples (N1 and N2 shots, e.g. an executor's and Aer's reference) add their
    means and variances; an exact distribution contributes nothing.  The sum is
    matched to a scaled chi^2 (same mean and variance) and the bound is its
    1 - :data:`FALSE_ALARM` quantile: generous for a correct executor, while a
    misplaced bit or a wrong branch (H^2 of order 0.01..0.5) still fails.
    """
    import numpy as np
    from scipy.stats import chi2

    p = np.array([v for v in probs.values() if v > 0], dtype=float)
    p = p / p.sum()
    mean = var = 0.0
    for n in shots:
        m, v = _root_deviation_moments(n * p)
        mean += float(m.sum()) / (2 * n)
        var += float(v.sum()) / (4 * n * n)
    scale = var / (2 * mean)
    dof = 2 * mean * mean / var
    return float(scale * chi2.ppf(1 - FALSE_ALARM, dof))


def assert_close_sampled(
    got: dict[str, float], ref: dict[str, float], *shots: int, what: str = ""
) -> None:
    """``got`` (sampled with ``shots[0]``) is within the bound of ``ref`` (exact, or sampled
    with ``shots[1]``: then the bound is taken around the pooled distribution)."""
    pooled = dict(ref)
    if len(shots) > 1:
        n1, n2 = shots
        keys = set(got) | set(ref)
        pooled = {k: (n1 * got.get(k, 0.0) + n2 * ref.get(k, 0.0)) / (n1 + n2) for k in keys}
    h2 = hellinger2(got, ref)
    bound = hellinger_bound(pooled, *shots)
    assert h2 <= bound, (
        f"{what}: squared Hellinger distance {h2:.5f} > bound {bound:.5f} "
        f"({len(pooled)} outcomes, shots {shots}); got {top(got)}, reference {top(ref)}"
    )


def assert_close_exact(got: dict[str, float], ref: dict[str, float], what: str = "") -> None:
    keys = set(got) | set(ref)
    diff = max((abs(got.get(k, 0.0) - ref.get(k, 0.0)) for k in keys), default=0.0)
    assert diff <= EXACT_TOL, (
        f"{what}: probabilities differ by up to {diff:.3g} (> {EXACT_TOL}); "
        f"got {top(got)}, reference {top(ref)}"
    )


def top(dist: dict[str, float], n: int = 6) -> dict[str, float]:
    total = sum(dist.values()) or 1.0
    best = sorted(dist.items(), key=lambda kv: -kv[1])[:n]
    return {k: round(v / total, 5) for k, v in best}


def normalised(dist: dict[str, Any]) -> dict[str, float]:
    total = float(sum(dist.values()))
    return {k: v / total for k, v in dist.items()}


# ---------------------------------------------------------------- key conventions
def bits(key: str) -> str:
    """A Qiskit-convention key without register separators (clbit 0 rightmost)."""
    return key.replace(" ", "")


def measurement_map(qc: Any) -> dict[int, int]:
    """qubit -> clbit of the terminal measurements of a static circuit (last one wins)."""
    out: dict[int, int] = {}
    for inst in qc.data:
        if inst.operation.name == "measure":
            out[qc.find_bit(inst.qubits[0]).index] = qc.find_bit(inst.clbits[0]).index
    return out


def to_ordered(ref: dict[str, float], qc: Any, measured: tuple[int, ...]) -> dict[str, float]:
    """Qiskit-keyed ``ref`` in the Braket/PennyLane convention: the bits of the qubits
    ``measured``, in that order, the first leftmost."""
    clbit_of = measurement_map(qc)
    width = qc.num_clbits
    out: dict[str, float] = defaultdict(float)
    for key, p in ref.items():
        b = bits(key)
        out["".join(b[width - 1 - clbit_of[q]] for q in measured)] += p
    return dict(out)


def statevector_reference(qc: Any) -> dict[str, float]:
    """Exact clbit distribution of a static circuit, by ``Statevector`` (independent of
    every executor): clbits never written read 0."""
    from qiskit import transpile
    from qiskit.quantum_info import Statevector

    clbit_of = measurement_map(qc)
    # Gate definitions unrolled first: Statevector would build each defined gate's
    # matrix (2^n x 2^n for an n-qubit definition).
    body = transpile(
        qc.remove_final_measurements(inplace=False),
        basis_gates=["u", "cx"],
        optimization_level=0,
    )
    probs = Statevector(body).probabilities()
    width = qc.num_clbits
    out: dict[str, float] = defaultdict(float)
    for index, p in enumerate(probs):
        if p < 1e-14:
            continue
        key = ["0"] * width
        for q, c in clbit_of.items():
            key[width - 1 - c] = "1" if index >> q & 1 else "0"
        out["".join(key)] += float(p)
    return dict(out)


# ---------------------------------------------------------------- circuits in each format
@dataclass
class Input:
    """One circuit as a user would submit it in one format."""

    obj: Any = None
    #: Why the circuit cannot be written in this format (then ``obj`` is None).
    inexpressible: str | None = None
    #: Braket/PennyLane keys: the qubits measured, in key order (else Qiskit keys).
    measured: tuple[int, ...] | None = None
    #: PennyLane keys of a dynamic circuit: the clbits reported, in key order.
    clbits: tuple[int, ...] | None = None


def make_input(c: CorpusCircuit, fmt: str) -> Input:
    if fmt == "text":
        return Input(c.text)
    if fmt == "qiskit":
        return Input(c.circuit.copy())
    if fmt == "qasm3":
        from qiskit import qasm3

        return Input(qasm3.dumps(c.circuit))
    if c.is_dynamic and fmt == "pennylane":
        # As a user writes it: qml.measure for each measurement (reset=True for a
        # reset), qml.cond on the measured bits, counts of the measurement values.
        from pilot.convert.pennylane import pennylane_tape
        from pilot.errors import UnsupportedOperationError

        try:
            tape, written = pennylane_tape(c.circuit, "default.qubit", SHOTS)
        except UnsupportedOperationError as exc:  # a while loop
            from pilot.convert.dynamic import circuit_needs

            assert "while_loop" in circuit_needs(c.circuit), exc
            return Input(inexpressible=str(exc))
        return Input(tape, clbits=tuple(written))
    if c.is_dynamic:
        return Input(inexpressible=f"a {fmt} circuit object cannot express {sorted(c.needs)}")
    from pilot.convert.qiskit import portable_from_qiskit

    portable = portable_from_qiskit(c.circuit)
    measured = tuple(portable.measured)
    if fmt == "braket":
        from pilot.convert.braket import to_braket

        return Input(to_braket(portable.body, measured), measured=measured)
    if fmt == "pennylane":
        import pennylane as qml

        from pilot.convert.pennylane import to_pennylane_ops

        ops = to_pennylane_ops(portable.body, "default.qubit")
        tape = qml.tape.QuantumScript(ops, [qml.counts(wires=list(measured))])
        return Input(tape, measured=measured)
    raise AssertionError(fmt)


# ---------------------------------------------------------------- running
@dataclass
class Outcome:
    """A (circuit, executor, format, shots) run: refused up front, ran, or raised."""

    reasons: list[str] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    inexpressible: str | None = None
    measured: tuple[int, ...] | None = None
    clbits: tuple[int, ...] | None = None

    @property
    def refused(self) -> bool:
        return bool(self.reasons)


class Runs:
    """Batched runs, computed once per (executor, format, shots) and shared by the tests."""

    def __init__(self, workers: dict[str, QuantumWorker]) -> None:
        self.workers = workers
        self._cache: dict[tuple[str, str, int | None], dict[str, Outcome]] = {}
        self._inputs: dict[tuple[str, str], Input] = {}

    def input(self, c: CorpusCircuit, fmt: str) -> Input:
        key = (c.name, fmt)
        if key not in self._inputs:
            self._inputs[key] = make_input(c, fmt)
        return self._inputs[key]

    def get(self, executor: str, fmt: str, shots: int | None) -> dict[str, Outcome]:
        key = (executor, fmt, shots)
        if key not in self._cache:
            self._cache[key] = self._run(executor, fmt, shots)
        return self._cache[key]

    def _run(self, executor: str, fmt: str, shots: int | None) -> dict[str, Outcome]:
        from pilot.selection import refusal_reasons

        worker = self.workers[executor]
        cap = worker.resources()[0]
        out: dict[str, Outcome] = {}
        specs: list[TaskSpec] = []
        scope = in_scope(executor, fmt, shots)
        for c in CORPUS:
            if c.name not in scope:
                continue
            given = self.input(c, fmt)
            if given.obj is None:
                out[c.name] = Outcome(inexpressible=given.inexpressible)
                continue
            task = QuantumTask(given.obj, shots=shots, name=c.name)
            reasons = refusal_reasons(task, task.load_on_driver(), cap)
            out[c.name] = Outcome(
                reasons=list(reasons), measured=given.measured, clbits=given.clbits
            )
            if reasons:
                continue
            specs.append(task_spec(worker, given.obj, shots, cap.name, task_id=c.name))
        # One batch per family: a failing circuit makes run_batch run its batch again
        # circuit by circuit (to tell which failed); per family, that costs little.
        families: dict[str, list[TaskSpec]] = defaultdict(list)
        for spec in specs:
            families[BY_NAME[spec.task_id].family].append(spec)
        values = [v for batch in families.values() for v in worker.run_batch(batch)]
        specs = [spec for batch in families.values() for spec in batch]
        for spec, value in zip(specs, values, strict=True):
            cause = getattr(value, "cause", None)
            if isinstance(cause, BaseException):
                out[spec.task_id].error = f"{type(cause).__name__}: {cause}"
            elif isinstance(value, BaseException):
                out[spec.task_id].error = f"{type(value).__name__}: {value}"
            else:
                out[spec.task_id].result = value
        return out


def make_worker(executor: str, extra: dict[str, Any], pilot: str) -> QuantumWorker:
    config = parse_description(
        {"resource_type": "quantum", "quantum": {"executor": executor, **extra}}
    ).quantum
    assert config is not None
    return QuantumWorker(config, pilot=pilot, num_cpus=1)


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    workers = {e: make_worker(e, extra, f"p-{e}") for e, extra in EXECUTORS.items()}
    workers[REFERENCE] = make_worker("qiskit_local", {"seed": 12}, "p-reference")
    yield Runs(workers)
    for worker in workers.values():
        worker.shutdown()


# ---------------------------------------------------------------- the figures
TALLY: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)


@pytest.fixture(scope="session", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not TALLY:
        return
    lines = [
        "corpus: executor / format / shots: matched, refused up front, failed late, mismatched"
    ]
    totals: Counter[str] = Counter()
    for (executor, fmt, shots), n in sorted(TALLY.items()):
        totals.update(n)
        lines.append(
            f"  {executor:20s} {fmt:9s} {shots:>6s}: {n['matched']:4d} matched, "
            f"{n['refused']:4d} refused up front, {n['failed late']:3d} failed late, "
            f"{n['mismatched']:3d} mismatched"
        )
    lines.append(
        f"corpus total: {totals['matched']} matched, {totals['refused']} refused up front, "
        f"{totals['failed late']} failed late, {totals['mismatched']} mismatched "
        f"({len(CORPUS)} circuits, {sum(c.is_dynamic for c in CORPUS)} dynamic)"
    )
    # Shown whether or not pytest captures output (-s or not), after the last test.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + "\n".join(lines))
    else:
        print("\n" + "\n".join(lines))


def tally(executor: str, fmt: str, shots: int | None, what: str) -> None:
    TALLY[(executor, fmt, "exact" if shots is None else str(shots))][what] += 1


# ---------------------------------------------------------------- checks
def check_refusal(c: CorpusCircuit, executor: str, shots: int | None, reasons: list[str]) -> None:
    """A refusal is a list of sentences explained by what the circuit needs."""
    assert reasons and all(isinstance(r, str) and r.strip() for r in reasons), reasons
    text = "; ".join(reasons)
    cap_qubits = {"qiskit_fake": 5, "ibm_runtime": 5}.get(executor)
    too_wide = cap_qubits is not None and c.num_qubits > cap_qubits
    explained = False
    if too_wide:
        assert f"needs {c.num_qubits} qubits" in text, text
        explained = True
    if c.is_dynamic and any(w in text for w in NEED_WORDS.values()):
        for need in c.needs:
            assert NEED_WORDS[need] in text, f"{c.name} on {executor}: {need!r} not named: {text}"
        explained = True
    if shots is None and "shots=None" in text:
        explained = True
    if "needs a measurement or reset inside a branch" in text:
        # PennyLane conditions gates only: qml.cond cannot hold a qml.measure.
        from pilot.convert.dynamic import circuit_needs

        assert "measurement_in_branch" in circuit_needs(c.circuit), text
        assert executor not in ("qiskit_local", "qiskit_fake", "ibm_runtime"), text
        explained = True
    assert explained, f"{c.name} ({sorted(c.needs)}) refused by {executor} for: {text}"


def expect_accepted(c: CorpusCircuit, executor: str, fmt: str, shots: int | None) -> bool:
    """Pairs that must not be refused: ideal simulators take every static circuit, and
    Qiskit/PennyLane executors every dynamic one that fits (in samples; exactly on
    PennyLane)."""
    if executor in NOISY:
        return executor == "qiskit_fake" and c.num_qubits <= 5 and shots is not None
    if not c.is_dynamic:
        return True
    if executor == "qiskit_local":
        return shots is not None
    if executor in ("pennylane_default", "pennylane_lightning"):
        # Everything but a while loop (which PennyLane cannot write).
        from pilot.convert.dynamic import circuit_needs

        return "while_loop" not in circuit_needs(c.circuit)
    return False


def outcome_of(runs: Runs, c: CorpusCircuit, executor: str, fmt: str, shots: int | None) -> Any:
    """The run's result, or ``None`` when it was refused up front (checked here);
    a run that raised after being accepted fails the test."""
    o = runs.get(executor, fmt, shots)[c.name]
    if o.refused:
        tally(executor, fmt, shots, "refused")
        check_refusal(c, executor, shots, o.reasons)
        assert not expect_accepted(c, executor, fmt, shots), (
            f"{c.name} refused by {executor} ({fmt}, shots={shots}): {o.reasons}"
        )
        return None
    if o.error is not None:
        tally(executor, fmt, shots, "failed late")
        pytest.fail(f"{c.name} on {executor} ({fmt}, shots={shots}) failed late: {o.error}")
    return o.result


def reference(runs: Runs, c: CorpusCircuit) -> tuple[dict[str, float], int | None]:
    """Aer's distribution of ``c`` (Qiskit keys) and its shots (``None``: exact)."""
    if c.is_dynamic:
        o = runs.get(REFERENCE, "text", REF_SHOTS)[c.name]
        assert o.result is not None, f"no Aer reference for {c.name}: {o.reasons or o.error}"
        return normalised(o.result.counts), REF_SHOTS
    o = runs.get("qiskit_local", "text", None)[c.name]
    if o.result is None:
        # Aer failed (its own test says how): compare the others with Statevector's.
        return statevector_reference(c.circuit), None
    return dict(o.result.probabilities), None


def check_known(c: CorpusCircuit, dist: dict[str, float], shots: int | None) -> None:
    """The exact answers of :data:`KNOWN` (marginals by clbit, or a distribution)."""
    known = KNOWN.get(c.name)
    if known is None:
        return
    flat: dict[str, float] = defaultdict(float)
    for k, v in normalised(dist).items():
        flat[bits(k)] += v
    for clbit, p1 in known.get("marginals", {}).items():
        got = sum(v for k, v in flat.items() if k[-1 - clbit] == "1")
        if shots is None:
            assert got == pytest.approx(p1, abs=EXACT_TOL), (c.name, clbit, got, p1)
        else:
            assert within_binomial(round(got * shots), shots, p1), (c.name, clbit, got, p1)
    for key, p in known.get("distribution", {}).items():
        if shots is None:
            assert flat.get(key, 0.0) == pytest.approx(p, abs=EXACT_TOL), (c.name, dict(flat))
        else:
            assert within_binomial(round(flat.get(key, 0.0) * shots), shots, p), (c.name, flat)


def check_result(
    runs: Runs, c: CorpusCircuit, executor: str, fmt: str, shots: int | None, result: Any
) -> None:
    """Compare one accepted run with the reference (in its format's key convention)."""
    what = f"{c.name} on {executor} ({fmt}, shots={shots})"
    ref, ref_shots = reference(runs, c)
    ran = runs.get(executor, fmt, shots)[c.name]
    measured = ran.measured
    if measured is not None:  # Braket / PennyLane keys
        ref = to_ordered(ref, c.circuit, measured)
    if ran.clbits is not None:  # PennyLane keys of a dynamic circuit: clbits in order
        width = c.circuit.num_clbits
        by_clbit: dict[str, float] = defaultdict(float)
        for key, p in ref.items():
            by_clbit["".join(bits(key)[width - 1 - i] for i in ran.clbits)] += p
        ref = dict(by_clbit)
        measured = ran.clbits
    if shots is None:
        assert result.counts is None, what
        got = dict(result.probabilities)
        assert sum(got.values()) == pytest.approx(1.0, abs=EXACT_TOL), what
    else:
        assert sum(result.counts.values()) == shots, what
        got = normalised(result.counts)
    try:
        if ref_shots is None and shots is None:
            assert_close_exact(got, ref, what)
        else:
            assert_close_sampled(got, ref, *(n for n in (shots, ref_shots) if n), what=what)
        if measured is None:
            check_known(c, got, shots)
    except AssertionError:
        tally(executor, fmt, shots, "mismatched")
        raise
    tally(executor, fmt, shots, "matched")


def _ids(c: CorpusCircuit) -> str:
    return c.name


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("executor", IDEAL)
@pytest.mark.parametrize("c", CORPUS, ids=_ids)
def test_text_on_ideal_simulators(runs: Runs, c: CorpusCircuit, executor: str) -> None:
    """The stored OpenQASM text, exactly (shots=None) and sampled, against Aer."""
    for shots in (None, SHOTS) if c.name in REPRESENTATIVES else (None,):
        result = outcome_of(runs, c, executor, "text", shots)
        if result is not None:
            check_result(runs, c, executor, "text", shots, result)


@pytest.mark.parametrize("c", [c for c in CORPUS if not c.is_dynamic], ids=_ids)
def test_aer_reference_is_the_statevector(runs: Runs, c: CorpusCircuit) -> None:
    """The reference itself: Aer's exact probabilities are ``Statevector``'s."""
    o = runs.get("qiskit_local", "text", None)[c.name]
    assert o.result is not None, f"Aer gave no reference for {c.name}: {o.reasons or o.error}"
    aer = {bits(k): v for k, v in o.result.probabilities.items()}
    assert_close_exact(aer, statevector_reference(c.circuit), c.name)


@pytest.mark.parametrize("executor", NOISY)
@pytest.mark.parametrize("c", CORPUS, ids=_ids)
def test_text_on_noisy_devices(runs: Runs, c: CorpusCircuit, executor: str) -> None:
    """Fake devices: counts add up to the shots, one character per classical bit."""
    result = outcome_of(runs, c, executor, "text", NOISY_SHOTS)
    if result is None:
        return
    assert sum(result.counts.values()) == NOISY_SHOTS
    assert all(len(bits(k)) == c.num_clbits for k in result.counts), list(result.counts)[:3]
    tally(executor, "text", NOISY_SHOTS, "matched")


FORMAT_CASES = [
    pytest.param(fmt, executor, c, id=f"{fmt}-{executor}-{c.name}")
    for fmt, executors in FORMATS.items()
    for executor in executors
    for c in CORPUS
    if c.name in REPRESENTATIVES and not (fmt in STATIC_ONLY and c.is_dynamic)
]


@pytest.mark.parametrize(("fmt", "executor", "c"), FORMAT_CASES)
def test_other_formats(runs: Runs, fmt: str, executor: str, c: CorpusCircuit) -> None:
    """The Qiskit circuit, its OpenQASM 3, a Braket circuit and a PennyLane tape."""
    for shots in (None,) if not c.is_dynamic else (None, SHOTS):
        result = outcome_of(runs, c, executor, fmt, shots)
        if result is not None:
            check_result(runs, c, executor, fmt, shots, result)


def test_corpus_shape() -> None:
    """At least 150 circuits in 20 families of 2..12 qubits; the dynamic ones of our own."""
    mqt = [c for c in CORPUS if not c.name.startswith("dyn_")]
    assert len(mqt) >= 150
    assert len({c.family for c in mqt}) >= 20
    assert all(2 <= c.num_qubits <= 12 for c in CORPUS)
    ours = {c.name for c in CORPUS if c.name.startswith("dyn_")}
    for name in ("teleport", "repeat_until_success", "qec_bitflip_round"):
        assert f"dyn_{name}" in ours
    assert "dyn_iterative_phase_estimation" in ours
    assert sum(c.qasm_version == 2 and c.is_dynamic for c in CORPUS) >= 2
    for c in mqt:
        if not c.is_dynamic:  # measurements at the end (bv leaves its ancilla unread)
            assert measurement_map(c.circuit), c.name

"""Circuit templates: schemas, binding, physics, and runs through a real service.

Pure tests check each template against an independent description (explicit
formulas, brute-force cut values, Qiskit's own ``QFTGate``); the integration
tests run the templates on a ``qiskit_local`` pilot on the session's Ray.
"""

from __future__ import annotations

import itertools
import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import SparsePauliOp, Statevector

from pilot import ConfigError, PilotComputeService, QuantumTask
from pilot.library.templates import (
    TEMPLATES,
    ParameterSpec,
    Template,
    bell,
    cut_value,
    ghz,
    hardware_efficient,
    maxcut_hamiltonian,
    qaoa_maxcut,
    qft,
    template,
)

# A weighted 4-vertex graph: a square with one diagonal.
SQUARE = [(0, 1), (1, 2, 2.0), (2, 3), (3, 0, 0.5), (0, 2, 1.5)]

EXAMPLES: dict[str, dict[str, Any]] = {
    "bell": {},
    "ghz": {"n": 4},
    "qft": {"n": 3},
    "qaoa_maxcut": {"edges": SQUARE, "reps": 2},
    "hardware_efficient": {"n": 3, "layers": 2},
}


def unmeasured(t: Template, values: Any = None) -> Any:
    qc = t.bind(values) if values is not None else t.circuit
    return qc.remove_final_measurements(inplace=False)


def expectation(qc: Any, observable: dict[str, float] | str) -> float:
    op = SparsePauliOp(observable) if isinstance(observable, str) else _op(observable)
    return float(np.real(Statevector(qc).expectation_value(op)))


def _op(terms: dict[str, float]) -> SparsePauliOp:
    return SparsePauliOp.from_list(list(terms.items()))


# --------------------------------------------------------------- schemas
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_schema_follows_circuit_parameters(name: str) -> None:
    t = template(name, **EXAMPLES[name])
    assert t.name == name
    assert [p.name for p in t.parameters] == [p.name for p in t.circuit.parameters]
    assert t.num_parameters == t.circuit.num_parameters
    assert all(p.lower < p.upper and p.description for p in t.parameters)
    schema = json.loads(json.dumps(t.schema()))
    assert schema == t.schema()
    assert schema["template"] == name
    assert schema["num_qubits"] == t.circuit.num_qubits
    assert [p["name"] for p in schema["parameters"]] == list(t.parameter_names)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_initial_point_is_within_bounds_and_reproducible(name: str) -> None:
    t = template(name, **EXAMPLES[name])
    x = t.initial_point(seed=3)
    assert x.shape == (t.num_parameters,)
    assert np.array_equal(x, t.initial_point(seed=3))
    for value, spec in zip(x, t.parameters, strict=True):
        assert spec.lower <= value <= spec.upper
    assert not t.bind(x).parameters


def test_qaoa_parameters_are_ascii_beta_then_gamma() -> None:
    t = qaoa_maxcut(SQUARE, reps=11)
    names = t.parameter_names
    assert names == tuple(f"beta[{k}]" for k in range(11)) + tuple(f"gamma[{k}]" for k in range(11))
    assert {(p.lower, p.upper) for p in t.parameters[:11]} == {(0.0, math.pi)}
    assert {(p.lower, p.upper) for p in t.parameters[11:]} == {(0.0, 2 * math.pi)}
    assert t.circuit.name == "qaoa_maxcut"
    assert not t.circuit.count_ops().get("measure")


def test_hardware_efficient_layout() -> None:
    t = hardware_efficient(3, layers=2, rotations=("ry", "rz"), entanglement="linear")
    assert t.num_parameters == 3 * 2 * 3
    ops = t.circuit.count_ops()
    assert (ops["ry"], ops["rz"], ops["cx"]) == (9, 9, 4)
    assert t.parameters[0].description == "ry angle on qubit 0, rotation layer 0 of 3"
    assert t.parameters[5].description == "rz angle on qubit 2, rotation layer 0 of 3"
    assert t.parameters[-1].description == "rz angle on qubit 2, rotation layer 2 of 3"
    assert all(p.lower == -math.pi and p.upper == math.pi for p in t.parameters)
    one = hardware_efficient(1, layers=1, rotations="rx")
    assert one.num_parameters == 2 and "cx" not in one.circuit.count_ops()
    full = hardware_efficient(4, layers=1, rotations=("rx",), entanglement="full")
    assert full.circuit.count_ops()["cx"] == 6


def test_measured_copy_leaves_the_template_alone() -> None:
    t = hardware_efficient(2, layers=1)
    qc = t.measured()
    assert qc.count_ops()["measure"] == 2
    assert "measure" not in t.circuit.count_ops()
    assert bell().measured().count_ops()["measure"] == 2


def test_registry() -> None:
    assert set(TEMPLATES) == {"bell", "ghz", "qft", "qaoa_maxcut", "hardware_efficient"}
    assert template("ghz", n=5).circuit.num_qubits == 5
    with pytest.raises(ConfigError, match=r"unknown template 'gzh'.*did you mean 'ghz'"):
        template("gzh", n=3)
    with pytest.raises(ConfigError, match=r"'ghz' has no argument 'qubits'; it takes: n"):
        template("ghz", qubits=3)
    with pytest.raises(ConfigError, match=r"'qft': missing .* 'n'; it takes: n, inverse=False"):
        template("qft")
    with pytest.raises(
        ConfigError, match=r"no argument 'rep'; it takes: .*\(did you mean 'reps'\?\)"
    ):
        template("qaoa_maxcut", edges=[(0, 1)], rep=2)


def test_a_schema_must_match_its_circuit() -> None:
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1)
    qc.rx(Parameter("b"), 0)
    qc.ry(Parameter("a"), 0)
    ok = Template("two", qc, [ParameterSpec("a", 0, 1), ParameterSpec("b", 0, 1)])
    assert ok.parameter_names == ("a", "b")  # circuit.parameters order, not gate order
    with pytest.raises(ConfigError, match=r"schema \['b', 'a'\] does not match .*\['a', 'b'\]"):
        Template("two", qc, (ParameterSpec("b", 0, 1), ParameterSpec("a", 0, 1)))
    with pytest.raises(ConfigError, match=r"'a': lower bound 2.0 > upper bound 1.0"):
        ParameterSpec("a", 2, 1)
    with pytest.raises(ConfigError, match=r"'a': bounds must be finite"):
        ParameterSpec("a", 0, math.inf)


def test_templates_pickle() -> None:
    t = qaoa_maxcut(SQUARE, reps=2)
    copy = pickle.loads(pickle.dumps(t))
    assert copy.schema() == t.schema()
    assert copy.hamiltonian == t.hamiltonian
    assert Statevector(copy.bind([0.1, 0.2, 0.3, 0.4])).equiv(
        Statevector(t.bind([0.1, 0.2, 0.3, 0.4]))
    )


# --------------------------------------------------------------- binding
def test_large_schemas_are_folded_in_error_messages() -> None:
    t = hardware_efficient(4, layers=3)
    assert t.describe_parameters() == "theta[0..31] in [-3.1416, 3.1416]"
    with pytest.raises(
        ConfigError, match=r"got 31 value\(s\); expected 32 value\(s\): theta\[0..31\]"
    ):
        t.bind([0.0] * 31)
    assert qaoa_maxcut(SQUARE, reps=3).describe_parameters() == (
        "beta[0..2] in [0, 3.1416], gamma[0..2] in [0, 6.2832]"
    )
    assert bell().describe_parameters() == "no parameters"


def test_bind_by_sequence_and_by_name_agree() -> None:
    t = qaoa_maxcut(SQUARE, reps=1)
    by_list = t.bind([0.3, 1.1])
    by_dict = t.bind({"gamma[0]": 1.1, "beta[0]": 0.3})
    by_array = t.bind(np.array([0.3, 1.1]))
    assert not by_list.parameters
    assert Statevector(by_list).equiv(Statevector(by_dict))
    assert Statevector(by_list).equiv(Statevector(by_array))
    assert t.circuit.parameters  # the template itself stays unbound
    # Bounds guide optimisers; an angle outside them is still an angle.
    assert not t.bind([10.0, -7]).parameters
    assert not bell().bind([]).parameters


SCHEMA = r"expected 2 value\(s\): beta\[0\] in \[0, 3.1416\], gamma\[0\] in \[0, 6.2832\]"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.1], rf"'qaoa_maxcut' got 1 value\(s\); {SCHEMA}"),
        ([0.1, 0.2, 0.3], rf"got 3 value\(s\); {SCHEMA}"),
        ({"beta[0]": 0.1, "gama[0]": 0.2}, rf"no parameter 'gama\[0\]'; {SCHEMA}.*'gamma\[0\]'"),
        ({"beta[0]": 0.1}, rf"is missing gamma\[0\]; {SCHEMA}"),
        ([0.1, math.nan], rf"gamma\[0\] must be finite, got nan; {SCHEMA}"),
        ([math.inf, 0.1], rf"beta\[0\] must be finite, got inf; {SCHEMA}"),
        ([0.1, "0.2"], rf"gamma\[0\] must be a real number, got '0.2'; {SCHEMA}"),
        ([True, 0.2], r"beta\[0\] must be a real number, got True"),
        ([0.1, 1j], r"gamma\[0\] must be a real number, got 1j"),
        ("ab", rf"takes a sequence or a dict of numbers, got str; {SCHEMA}"),
        ([[0.1, 0.2]], rf"one parameter set \(a flat sequence\).*shape \(1, 2\); {SCHEMA}"),
        ({1: 0.2}, r"dict keys must be parameter names, got 1"),
    ],
)
def test_bind_errors_name_the_problem_and_the_schema(values: Any, message: str) -> None:
    t = qaoa_maxcut([(0, 1), (1, 2)], reps=1)
    with pytest.raises(ConfigError, match=message) as info:
        t.bind(values)
    assert info.value.key is not None and info.value.key.startswith("parameter_values")


@pytest.mark.parametrize(
    ("build", "message", "key"),
    [
        (lambda: ghz(0), r"n must be an integer >= 1, got 0", "n"),
        (lambda: ghz(2.5), r"n must be an integer >= 1, got 2.5", "n"),
        (lambda: qft(True), r"n must be an integer >= 1, got True", "n"),
        (lambda: qft(2, inverse="yes"), r"inverse must be True or False", "inverse"),
        (lambda: qaoa_maxcut([]), r"needs at least one edge", "edges"),
        (lambda: qaoa_maxcut("01"), r"edges must be a list of \(i, j\)", "edges"),
        (
            lambda: qaoa_maxcut([(0, 1), (2, 2)]),
            r"edges\[1\] = \(2, 2\) is a self loop",
            "edges[1]",
        ),
        (
            lambda: qaoa_maxcut([(0, 1), (1, 5)], num_qubits=3),
            r"edges\[1\] = \(1, 5\) references qubit 5, but the graph has 3 vertices",
            "edges[1]",
        ),
        (lambda: qaoa_maxcut([(0, -1)]), r"edges\[0\] vertex must be an integer >= 0", None),
        (lambda: qaoa_maxcut([(0, 1, 2, 3)]), r"edges\[0\] must be \(i, j\) or", "edges[0]"),
        (lambda: qaoa_maxcut([(0, 1), (1, 0)]), r"edges\[1\] = \(1, 0\) repeats an edge", None),
        (lambda: qaoa_maxcut([(0, 1, math.nan)]), r"weight must be a finite real", "edges[0]"),
        (lambda: qaoa_maxcut([(0, 1)], reps=0), r"reps must be an integer >= 1, got 0", "reps"),
        (lambda: hardware_efficient(0), r"n must be an integer >= 1", "n"),
        (lambda: hardware_efficient(2, layers=0), r"layers must be an integer >= 1", "layers"),
        (
            lambda: hardware_efficient(2, rotations=("ry", "ryy")),
            r"unknown rotation 'ryy'; valid: rx, ry, rz",
            "rotations",
        ),
        (lambda: hardware_efficient(2, rotations=()), r"at least one of rx, ry, rz", "rotations"),
        (
            lambda: hardware_efficient(2, entanglement="ring"),
            r"unknown entanglement 'ring'; valid: circular, full, linear",
            "entanglement",
        ),
    ],
)
def test_builders_refuse_bad_input(build: Any, message: str, key: str | None) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build()
    if key is not None:
        assert info.value.key == key


# --------------------------------------------------------------- physics
@pytest.mark.parametrize("n", [1, 2, 5])
def test_ghz_and_bell_states(n: int) -> None:
    state = Statevector(unmeasured(ghz(n)))
    expected = np.zeros(2**n)
    expected[0] = expected[-1] = 1 / math.sqrt(2)
    assert np.allclose(state.data, expected)
    assert np.allclose(
        Statevector(unmeasured(bell())).data, [1 / math.sqrt(2), 0, 0, 1 / math.sqrt(2)]
    )


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_qft_matches_qiskit_and_the_formula(n: int) -> None:
    size = 2**n
    for k in range(size):
        basis = Statevector.from_int(k, size)
        ours = basis.evolve(unmeasured(qft(n)))
        assert ours.equiv(basis.evolve(QFTGate(n)))
        formula = np.exp(2j * np.pi * k * np.arange(size) / size) / math.sqrt(size)
        assert np.allclose(ours.data, formula)
        back = ours.evolve(unmeasured(qft(n, inverse=True)))
        assert back.equiv(basis)
    assert qft(3).circuit.count_ops()["measure"] == 3
    assert set(qft(3).circuit.count_ops()) <= {"h", "cp", "swap", "measure"}


def test_maxcut_hamiltonian_is_the_cut_value_on_every_basis_state() -> None:
    hamiltonian = maxcut_hamiltonian(SQUARE)
    assert hamiltonian["IIII"] == pytest.approx(sum([1, 2, 1, 0.5, 1.5]) / 2)
    assert hamiltonian["IIZZ"] == -0.5  # edge (0, 1): rightmost chars are qubits 0 and 1
    assert hamiltonian["IZIZ"] == -0.75  # edge (0, 2, 1.5)
    diagonal = np.real(np.diag(_op(hamiltonian).to_matrix()))
    for k in range(16):
        key = format(k, "04b")  # a counts key: qubit 0 rightmost
        # Brute force, independent of cut_value: which edges join different sides?
        bits = [(k >> q) & 1 for q in range(4)]
        cut = sum((e[2] if len(e) == 3 else 1.0) for e in SQUARE if bits[e[0]] != bits[e[1]])
        assert cut_value(key, SQUARE) == pytest.approx(cut)
        assert diagonal[k] == pytest.approx(cut)
        assert expectation(Statevector.from_label(key), hamiltonian) == pytest.approx(cut)
    assert qaoa_maxcut(SQUARE).hamiltonian == hamiltonian
    # {0, 1, 3} | {2}: edges (1, 2), (0, 2) and (2, 3) cut.
    assert max(cut_value(format(k, "04b"), SQUARE) for k in range(16)) == 4.5
    assert cut_value("0100", SQUARE) == 4.5


def test_cut_value_reads_counts_keys() -> None:
    path = [(0, 1), (1, 2)]
    assert cut_value("001", path) == 1.0  # qubit 0 alone on its side
    assert cut_value("010", path) == 2.0
    assert cut_value("100", path) == 1.0
    assert cut_value("0010", path) == 2.0  # a wider register is fine
    with pytest.raises(ConfigError, match=r"'01' has 2 bits but the edges reference vertex 2"):
        cut_value("01", path)
    with pytest.raises(ConfigError, match=r"string of 0s and 1s"):
        cut_value("0a1", path)


def test_every_cut_is_brute_forced_over_small_graphs() -> None:
    """cut_value and the Hamiltonian agree on random weighted graphs (all bitstrings)."""
    rng = np.random.default_rng(0)
    for n in (2, 3, 5):
        pairs = [p for p in itertools.combinations(range(n), 2) if rng.random() < 0.7] or [(0, 1)]
        edges = [(i, j, float(rng.uniform(0.1, 2))) for i, j in pairs]
        diagonal = np.real(np.diag(_op(maxcut_hamiltonian(edges, n)).to_matrix()))
        for k in range(2**n):
            assert diagonal[k] == pytest.approx(cut_value(format(k, f"0{n}b"), edges))


def test_qaoa_single_edge_reaches_the_maximum_cut_within_bounds() -> None:
    """p=1 QAOA cuts one edge perfectly; the optimum lies inside the schema's bounds."""
    t = qaoa_maxcut([(0, 1)], reps=1)
    (beta, gamma) = t.parameters
    best = max(
        expectation(t.bind([b, g]), t.hamiltonian or {})
        for b in np.linspace(beta.lower, beta.upper, 17)
        for g in np.linspace(gamma.lower, gamma.upper, 17)
    )
    assert best == pytest.approx(1.0, abs=1e-9)
    # At the start (all angles 0) the state is |++>: half the edges cut on average.
    assert expectation(t.bind([0, 0]), t.hamiltonian or {}) == pytest.approx(0.5)


def test_qaoa_circuit_is_the_textbook_evolution() -> None:
    """exp(-i beta sum X) exp(-i gamma C) |+>^n, compared as matrices, up to phase."""
    from scipy.linalg import expm

    edges = [(0, 1), (1, 2, 2.0)]
    t = qaoa_maxcut(edges, reps=1)
    beta, gamma = 0.4, 1.3
    cost = _op(t.hamiltonian or {}).to_matrix()
    x = np.array([[0, 1], [1, 0]])
    mixer = sum(np.kron(np.kron(np.eye(2 ** (2 - q)), x), np.eye(2**q)) for q in range(3))
    plus = np.ones(8) / math.sqrt(8)
    expected = expm(-1j * beta * mixer) @ expm(-1j * gamma * cost) @ plus
    assert Statevector(t.bind([beta, gamma])).equiv(Statevector(expected))


# --------------------------------------------------------------- on a pilot
PORTABLE = ("pennylane_default", "braket_local")


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    with PilotComputeService(working_directory=workdir) as service:
        service.create_pilot(
            {
                "resource_type": "quantum",
                "name": "aer",
                "quantum": {"executor": "qiskit_local", "seed": 11},
                "cores_per_node": 0.5,
            }
        )
        for executor in PORTABLE:
            service.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": executor,
                    "quantum": {"executor": executor},
                    "cores_per_node": 0.25,
                }
            )
        yield service


@pytest.mark.slow
def test_bell_and_ghz_count_only_all_zeros_and_all_ones(pcs: Any) -> None:
    refs = [
        pcs.submit_quantum_task(QuantumTask(t.circuit, shots=500, pilot="aer"))
        for t in (bell(), ghz(3), ghz(5))
    ]
    for result, n in zip(pcs.get_results(refs), (2, 3, 5), strict=True):
        assert set(result.counts) == {"0" * n, "1" * n}
        assert sum(result.counts.values()) == 500
        assert min(result.counts.values()) > 150


def test_bound_templates_run_and_match_the_statevector(pcs: Any) -> None:
    ansatz = hardware_efficient(3, layers=2)
    x = ansatz.initial_point(seed=5)
    sampled = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(ansatz.measured().assign_parameters(x), shots=300, pilot="aer")
        )
    )
    assert sum(sampled.counts.values()) == 300
    assert all(len(key) == 3 for key in sampled.counts)

    qaoa = qaoa_maxcut(SQUARE, reps=1)
    bound = qaoa.bind({"beta[0]": 0.6, "gamma[0]": 0.9})
    exact = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(qaoa.measured().assign_parameters([0.6, 0.9]), shots=None, pilot="aer")
        )
    )
    want = Statevector(bound).probabilities_dict()
    for key, p in want.items():
        assert exact.probabilities.get(key, 0.0) == pytest.approx(p, abs=1e-9)
    expected_cut = sum(p * cut_value(key, SQUARE) for key, p in exact.probabilities.items())
    assert expected_cut == pytest.approx(expectation(bound, qaoa.hamiltonian or {}), abs=1e-9)


def test_sweeps_of_parameterised_controlled_rotations_are_exact(pcs: Any) -> None:
    """qiskit-aer 0.18's estimator applies a parameterised crx/cry/crz/cp as the identity;
    the pilot decomposes them first, so sweep values equal the statevector's."""
    from qiskit.circuit import Parameter

    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.h([0, 1])
    qc.crx(a, 0, 2)
    qc.cry(b, 1, 2)
    qc.crz(a + b, 0, 1)
    qc.cp(2 * a, 1, 2)
    rows = [[0.3, 1.1], [1.7, -0.4], [2.5, 0.9]]
    observables = ["IIZ", "ZII", "XXI", "IYY"]
    results = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(qc, parameter_values=rows, observables=observables, shots=None, pilot="aer")
        )
    )
    for row, result in zip(rows, results, strict=True):
        state = Statevector(qc.assign_parameters(row))
        want = [float(np.real(state.expectation_value(SparsePauliOp(o)))) for o in observables]
        assert result.expectation_values == pytest.approx(want, abs=1e-9)


def test_parameter_values_and_observables_match_the_statevector(pcs: Any) -> None:
    """Two parameter sets of each ansatz in one task; exact expectation values."""
    qaoa = qaoa_maxcut(SQUARE, reps=2)
    ansatz = hardware_efficient(4, layers=1, entanglement="circular")
    cases = [
        (qaoa, [qaoa.hamiltonian, "ZIIZ", {"XXII": 0.5, "IIYY": -1.0}]),
        (ansatz, [SparsePauliOp.from_list([("ZZII", 1.0), ("IXIX", 0.3)]), "IIIZ"]),
    ]
    for t, observables in cases:
        sets = [t.initial_point(seed=1), t.initial_point(seed=2)]
        refs = pcs.submit_quantum_task(
            QuantumTask(
                t.circuit,
                parameter_values=[list(s) for s in sets],
                observables=observables,
                shots=None,
                pilot="aer",
            )
        )
        results = pcs.get_results(refs)
        assert len(results) == 2
        for values, result in zip(sets, results, strict=True):
            bound = t.bind(values)
            want = [
                float(np.real(Statevector(bound).expectation_value(SparsePauliOp(o))))
                if isinstance(o, (str, SparsePauliOp))
                else expectation(bound, o)
                for o in observables
            ]
            assert result.expectation_values == pytest.approx(want, abs=1e-8)
    # A parameter set by name, as the schema names them.
    by_name = dict(zip(qaoa.parameter_names, qaoa.initial_point(seed=1), strict=True))
    (result,) = pcs.get_results(
        pcs.submit_quantum_task(
            QuantumTask(
                qaoa.circuit,
                parameter_values=[by_name],
                observables=[qaoa.hamiltonian],
                shots=None,
                pilot="aer",
            )
        )
    )
    assert result.expectation_values == pytest.approx(
        [expectation(qaoa.bind(by_name), qaoa.hamiltonian or {})], abs=1e-8
    )


@pytest.mark.parametrize("executor", PORTABLE)
def test_templates_run_on_other_frameworks(pcs: Any, executor: str) -> None:
    """Qiskit-built templates convert: counts keep Qiskit's order, values match."""
    qaoa = qaoa_maxcut([(0, 1), (1, 2, 2.0), (2, 0)], reps=1)
    sets = np.array([[0.3, 0.7], [1.0, 2.0]])
    refs = pcs.submit_quantum_task(
        QuantumTask(
            qaoa.circuit,
            parameter_values=sets,
            observables=[qaoa.hamiltonian],
            shots=None,
            pilot=executor,
        )
    )
    for values, result in zip(sets, pcs.get_results(refs), strict=True):
        want = expectation(qaoa.bind(values), qaoa.hamiltonian or {})
        assert result.expectation_values == pytest.approx([want], abs=1e-8)
    # QFT then its inverse returns the basis state |011> (counts key: qubit 0 rightmost).
    qc = QuantumCircuit(3, 3)
    qc.x([0, 1])
    qc.compose(unmeasured(qft(3)), inplace=True)
    qc.compose(qft(3, inverse=True).circuit, inplace=True)
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(qc, shots=200, pilot=executor)))
    assert result.counts == {"011": 200}

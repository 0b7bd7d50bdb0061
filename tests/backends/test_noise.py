"""``quantum.noise`` on qiskit_local: real Aer noise, checked against the numbers it was built from.

Backends are the plain classes (no Ray) except in the ranking test, which
runs a real service: QDREAMER must rank a noisy simulator below an ideal one
under the "fidelity" objective, and say why.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pilot.backends.base import PreparedCircuit
from pilot.backends.qiskit import AerBackend, FakeBackend, relaxation_error
from pilot.config import parse_description
from pilot.errors import ConfigError
from tests.helpers import bell_qiskit, within_binomial

SHOTS = 20_000


def quantum(executor: str = "qiskit_local", **keys: Any) -> Any:
    config = parse_description(
        {"resource_type": "quantum", "quantum": {"executor": executor, **keys}}
    )
    return config.quantum


def aer(noise: dict[str, Any] | None = None, seed: int = 11) -> AerBackend:
    keys: dict[str, Any] = {"seed": seed} if noise is None else {"seed": seed, "noise": noise}
    return AerBackend(quantum(**keys))


def circuit(n: int, *ops: tuple[str, int]) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n)
    for gate, qubit in ops:
        getattr(qc, gate)(qubit)
    return qc


def ghz_body(n: int) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    return qc


def bell_body() -> Any:
    return ghz_body(2)


def sample(backend: AerBackend, body: Any, measured: tuple[int, ...]) -> dict[str, int]:
    name = backend.resources()[0].name
    return backend.sample(name, [PreparedCircuit(body, measured)], SHOTS)[0]


def exact(backend: AerBackend, body: Any, measured: tuple[int, ...]) -> dict[str, float]:
    name = backend.resources()[0].name
    return backend.exact(name, [PreparedCircuit(body, measured)])[0]


def odd(counts: dict[str, Any]) -> Any:
    return sum(v for k, v in counts.items() if k.count("1") % 2)


# ------------------------------------------------------------------ what the noise does
def test_depolarizing_noise_breaks_bell_parity_by_half_the_two_qubit_parameter() -> None:
    # After the cx, depolarizing p2 leaves the Bell state with probability 1 - p2 and
    # the maximally mixed state (odd parity half the time) with p2: odd share p2 / 2.
    # The one-qubit error on the control before the cx mixes |+> toward I/2, which the
    # cx turns into |00>/|11> only: it cannot make parity odd.
    p1, p2 = 0.02, 0.1
    noisy = aer({"depolarizing_1q": p1, "depolarizing_2q": p2})
    counts = sample(noisy, bell_body(), (0, 1))
    assert sum(counts.values()) == SHOTS
    assert within_binomial(odd(counts), SHOTS, p2 / 2), counts
    assert odd(exact(noisy, bell_body(), (0, 1))) == pytest.approx(p2 / 2, abs=1e-9)
    assert odd(sample(aer(), bell_body(), (0, 1))) == 0  # the ideal simulator
    cap = noisy.resources()[0]
    assert (cap.name, cap.noisy, cap.native_gates) == (
        "aer_simulator_noisy",
        True,
        frozenset({"id", "rz", "sx", "x", "cx"}),
    )
    # Average gate infidelity of depolarizing p on d levels: p (d - 1) / d.
    assert cap.default_errors == pytest.approx({"1q": p1 / 2, "2q": 3 * p2 / 4, "readout": 0.0})
    assert aer().resources()[0].name == "aer_simulator"


def test_readout_error_flips_zero_with_p10_and_one_with_p01_on_the_right_qubits() -> None:
    p10, p01 = 0.1, 0.25
    noisy = aer({"readout": [p10, p01]})
    zero = sample(noisy, circuit(1), (0,))
    assert within_binomial(zero.get("1", 0), SHOTS, p10), zero
    one = sample(noisy, circuit(1, ("x", 0)), (0,))
    assert within_binomial(one.get("0", 0), SHOTS, p01), one
    # |q0 q1> = |0 1>: the exact path applies each qubit's confusion to its own bit.
    probs = exact(noisy, circuit(2, ("x", 1)), (0, 1))
    assert probs == pytest.approx(
        {
            "01": (1 - p10) * (1 - p01),
            "00": (1 - p10) * p01,
            "11": p10 * (1 - p01),
            "10": p10 * p01,
        }
    )
    assert noisy.resources()[0].default_errors["readout"] == pytest.approx((p10 + p01) / 2)
    symmetric = aer({"readout": 0.05}).resources()[0]
    assert symmetric.default_errors["readout"] == pytest.approx(0.05)


def test_thermal_relaxation_decays_an_excited_qubit_over_idle_gates() -> None:
    t1, t2, gate = 50e-6, 70e-6, 1e-6
    noisy = aer({"t1": t1, "t2": t2, "gate_time_1q": gate})
    idles = 39  # x, then 39 id gates: 40 gate times before the measurement
    body = circuit(1, ("x", 0), *[("id", 0)] * idles)
    survive = math.exp(-(idles + 1) * gate / t1)
    counts = sample(noisy, body, (0,))
    assert within_binomial(counts.get("1", 0), SHOTS, survive), (counts, survive)
    assert exact(noisy, body, (0,))["1"] == pytest.approx(survive, abs=1e-9)
    assert exact(noisy, circuit(1, ("x", 0)), (0,))["1"] == pytest.approx(
        math.exp(-gate / t1), abs=1e-9
    )
    # The reported one-qubit error is the relaxation's average infidelity, the same
    # number capabilities_from_target uses as a floor for devices' gate errors.
    cap = noisy.resources()[0]
    assert cap.default_errors["1q"] == pytest.approx(relaxation_error(gate, t1, t2))
    # Two qubits relaxing for the default 300 ns: process fidelities multiply, and the
    # average infidelity is d / (d + 1) * (1 - process fidelity) for d = 2 and 4.
    process_1q = 1 - 1.5 * relaxation_error(3e-7, t1, t2)
    assert cap.default_errors["2q"] == pytest.approx(0.8 * (1 - process_1q**2))


def test_from_backend_has_the_fake_devices_noise_calibration_and_coupling() -> None:
    sim = aer({"from_backend": "lagos"}, seed=5)
    fake = FakeBackend(quantum("qiskit_fake", backends=["fake_lagos"], seed=5))
    ours, theirs = sim.resources()[0], fake.resources()[0]
    assert (ours.name, ours.provider, ours.executor) == (
        "aer_simulator_fake_lagos",
        "local",
        "qiskit_local",
    )
    assert ours.gate_errors == theirs.gate_errors and ours.gate_errors
    assert ours.readout_errors == theirs.readout_errors
    assert ours.coupling_map == theirs.coupling_map and ours.num_qubits == 7
    ghz, chain = PreparedCircuit(ghz_body(3), (0, 1, 2)), (0, 1, 2)  # lagos couples 0-1 and 1-2
    mine = sim.exact(ours.name, [ghz], layout=chain)[0]
    assert mine == pytest.approx(fake.exact("fake_lagos", [ghz], layout=chain)[0], abs=1e-9)
    good = mine["000"] + mine["111"]
    # The device's noise, at its own scale: lagos' snapshot misreads qubit 2 46% of the time.
    assert 0.3 < good < 0.9, mine
    counts = sim.sample(ours.name, [ghz], SHOTS, layout=chain)[0]
    assert within_binomial(counts.get("000", 0) + counts.get("111", 0), SHOTS, good)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("noise", "key", "words"),
    [
        ({"depolarizing_1q": 1.5}, "quantum.noise.depolarizing_1q", "less than or equal to 1"),
        ({"depolarizing_2q": -0.1}, "quantum.noise.depolarizing_2q", "greater than or equal"),
        ({"t1": 50e-6, "t2": 150e-6}, "quantum.noise.t2", "at most 2 * t1 = 0.0001 s"),
        ({"t1": 50e-6}, "quantum.noise.t2", "t1 is given without t2"),
        ({"t2": 50e-6}, "quantum.noise.t2", "t2 is given without t1"),
        ({"readout": 1.2}, "quantum.noise.readout", "numbers from 0 to 1"),
        ({"readout": [0.1]}, "quantum.noise.readout", "a pair [p(1|0), p(0|1)]"),
        ({"from_backend": "lagos", "readout": 0.1}, "quantum.noise.from_backend", "readout"),
        ({}, "quantum.noise", "gives no noise"),
        ({"gate_time_1q": 1e-6, "readout": 0.1}, "quantum.noise", "only matter with t1 and t2"),
        ("lots", "quantum.noise", "expected a dict"),
    ],
)
def test_bad_noise_values_name_the_key(noise: Any, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        quantum(noise=noise)
    assert err.value.key == key
    assert str(err.value).startswith(key) and words in str(err.value)


def test_unknown_noise_key_and_unknown_device_suggest_the_closest() -> None:
    with pytest.raises(ConfigError) as err:
        quantum(noise={"depolarising_2q": 0.1})
    assert err.value.key == "quantum.noise.depolarising_2q"
    assert err.value.suggestion == "depolarizing_2q"
    assert "valid keys: depolarizing_1q, depolarizing_2q, from_backend" in str(err.value)
    with pytest.raises(ConfigError) as err:
        quantum(noise={"from_backend": "fake_lagso"})
    assert err.value.key == "quantum.noise.from_backend"
    assert err.value.suggestion == "fake_lagos"
    assert "unknown fake device 'fake_lagso'" in str(err.value)
    assert "did you mean 'fake_lagos'?" in str(err.value)


@pytest.mark.parametrize("executor", ["pennylane_default", "qiskit_fake", "braket_local"])
def test_noise_on_an_executor_that_is_not_aer_is_refused(executor: str) -> None:
    with pytest.raises(ConfigError) as err:
        quantum(executor, noise={"depolarizing_2q": 0.01})
    assert err.value.key == "quantum.noise"
    assert f"executor {executor!r} takes no noise model" in str(err.value)
    assert "Aer-based executors (qiskit_local)" in str(err.value)


def test_user_file_noise_table_reaches_qiskit_local_pilots_only(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[executors.qiskit_local.noise]\ndepolarizing_2q = 0.2\nreadout = [0.01, 0.02]\n"
    )
    monkeypatch.setenv("QDREAMER_CONFIG", str(path))
    noise = quantum().noise
    assert noise is not None and (noise.depolarizing_2q, noise.readout) == (0.2, (0.01, 0.02))
    assert quantum(noise={"t1": 1e-4, "t2": 1e-4}).noise.depolarizing_2q is None  # replaced whole
    assert quantum("pennylane_default").noise is None
    path.write_text("[executors.qiskit_local.noise]\nreaduot = 0.1\n")
    with pytest.raises(ConfigError) as err:
        quantum()
    assert err.value.key == "quantum.noise.readuot" and err.value.suggestion == "readout"


# ------------------------------------------------------------------ QDREAMER
NOISE = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.1, "readout": 0.02}


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any) -> Any:
    from pilot import PilotComputeService

    with PilotComputeService(working_directory=workdir) as service:
        # The noisy pilot comes first: first-feasible would pick it, ranking must not.
        for name, extra in (("noisy", {"noise": NOISE}), ("ideal", {})):
            service.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": name,
                    "cores_per_node": 0.25,
                    "quantum": {"executor": "qiskit_local", "seed": 3, **extra},
                }
            )
        yield service


@pytest.mark.slow
def test_fidelity_objective_ranks_the_noisy_simulator_below_the_ideal_one(pcs: Any) -> None:
    from pilot import QuantumTask
    from pilot.cli.views import ranking_rows

    q = pcs.initialize_dreamer(objective="fidelity")
    task = QuantumTask(bell_qiskit(), shots=2000)
    rows = ranking_rows(q.rank(task))
    assert [(r["rank"], r["pilot"], r["resource"]) for r in rows] == [
        (1, "ideal", "aer_simulator"),
        (2, "noisy", "aer_simulator_noisy"),
    ]
    ideal, noisy = rows
    assert (ideal["estimated_fidelity"], ideal["fidelity_model"]) == (1.0, "ideal")
    assert noisy["fidelity_model"] == "device-average"
    # At least the cx (3 p2 / 4) and both readouts fail the noisy one's estimate.
    assert noisy["estimated_fidelity"] <= (1 - 0.075) * (1 - 0.02) ** 2 + 1e-9
    result = pcs.get_results(pcs.submit_quantum_task(task))
    assert (result.pilot, result.backend) == ("ideal", "aer_simulator")
    assert set(result.counts) <= {"00", "11"}
    assert result.selection["breakdown"]["estimated_fidelity"] == 1.0
    # Pinned to the noisy pilot, the task runs with the configured noise.
    pinned = pcs.get_results(pcs.submit_quantum_task(QuantumTask(bell_qiskit(), pilot="noisy")))
    assert pinned.backend == "aer_simulator_noisy"
    exact = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=None, pilot="noisy"))
    )
    # Odd parity: the cx's p2 / 2, then each of the two readouts flips parity with 0.02.
    p_odd = 0.1 / 2 * (1 - 2 * 0.02 * 0.98) + (1 - 0.1 / 2) * 2 * 0.02 * 0.98
    assert odd(exact.probabilities) == pytest.approx(p_odd, abs=1e-9)
    shots = sum(pinned.counts.values())
    assert within_binomial(odd(pinned.counts), shots, p_odd), pinned.counts


def test_exact_noisy_results_too_wide_for_a_density_matrix_fail_with_the_reason() -> None:
    from pilot.errors import TaskFailedError

    noisy = aer({"depolarizing_2q": 0.01})
    with pytest.raises(TaskFailedError) as err:  # 16 * 4**20 bytes: 17.6 TB
        exact(noisy, ghz_body(20), tuple(range(20)))
    assert "aer_simulator_noisy: the exact simulation failed" in str(err.value)
    assert "density_matrix" in str(err.value) and "memory" in str(err.value)

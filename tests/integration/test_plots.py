"""Plots: ``QuantumResult.plot()`` and the ranking plot (``qdreamer resources --plot``).

Results come from a real service on the session's Ray; the ranking from a
real QDREAMER over real pilots (Aer, a fake IBM device, and the fake Braket
endpoint's IonQ-like QPU, priced from ``conf/pricing.toml``).  The drawings
are read back from matplotlib's artists: bar heights, tick labels, scatter
offsets and sizes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here; set before pyplot is imported

import matplotlib.image
import matplotlib.pyplot as plt
import pytest
import ray

from dreamer.pricing import Pricing
from dreamer.ranking import Ranker
from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import TaskRequirements, WorkloadProfile
from pilot import MissingDependencyError, PilotComputeService, QuantumTask
from pilot.cli.views import ranking_rows
from pilot.viz.plots import plot_ranking, write_ranking_plot
from tests.helpers import bell_qiskit, cli_error_line, run_cli

#: Eight qubits: too wide for fake_manila (5), fine for Aer and the fake QPU.
WIDE = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[8] q;\nbit[8] c;\nh q[0];\n'
    + "".join(f"cx q[{i}], q[{i + 1}];\n" for i in range(7))
    + "c = measure q;\n"
)


@pytest.fixture(scope="module")
def pcs(ray_session: None, workdir: Any, fake_braket: Any) -> Iterator[PilotComputeService]:
    with PilotComputeService(working_directory=workdir) as service:
        for name, quantum in (
            ("aer", {"executor": "qiskit_local", "seed": 11}),
            ("ibm", {"executor": "qiskit_fake", "backends": ["fake_manila"]}),
            ("qpu", {"executor": "braket_qpu", "braket_device_arn": fake_braket.QPU_ARN}),
        ):
            service.create_pilot(
                {
                    "resource_type": "quantum",
                    "name": name,
                    "cores_per_node": 0.25,
                    "quantum": quantum,
                }
            )
        yield service


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def bars(ax: Any) -> list[float]:
    return [p.get_height() for p in ax.patches]


def ticks(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def scatter(fig: Any, gid: str) -> Any:
    (found,) = [c for c in fig.axes[0].collections if c.get_gid() == gid]
    return found


# ---------------------------------------------------------------- QuantumResult.plot()
@pytest.mark.slow
def test_histogram_bars_are_the_counts(pcs: PilotComputeService) -> None:
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=1000, pilot="aer"))
    )
    counts = result.get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000

    _, ax = plt.subplots()
    assert result.plot(ax) is ax  # draws on the given Axes and returns it
    assert ticks(ax) == ["00", "11"]
    assert bars(ax) == [counts["00"], counts["11"]]
    assert ax.get_ylabel() == "count"
    assert ax.get_title() == "bell: 1000 shots on aer_simulator"

    top = result.plot(sort="count", top=1, title="Bell")  # a new figure of its own
    assert top.figure is not ax.figure
    assert ticks(top) == [result.most_frequent()]
    assert bars(top) == [max(counts.values())]
    assert top.get_title() == "Bell (1 most frequent of 2 outcomes)"


def test_exact_result_plots_its_probabilities(pcs: PilotComputeService) -> None:
    circuit = bell_qiskit().remove_final_measurements(inplace=False)
    result = pcs.get_results(pcs.submit_quantum_task(QuantumTask(circuit, shots=None, pilot="aer")))
    assert result.counts is None
    ax = result.plot()
    assert ticks(ax) == ["00", "11"]
    assert bars(ax) == pytest.approx([0.5, 0.5], abs=1e-9)
    assert ax.get_ylabel() == "probability"
    assert "exact probabilities on aer_simulator" in ax.get_title()


def test_expectation_only_result_cannot_be_plotted(pcs: PilotComputeService) -> None:
    circuit = bell_qiskit().remove_final_measurements(inplace=False)
    task = QuantumTask(circuit, shots=None, observables=["ZZ"], pilot="aer")
    result = pcs.get_results(pcs.submit_quantum_task(task))
    assert result.counts is None and result.expectation_values == pytest.approx([1.0])
    with pytest.raises(
        ValueError, match=r"no counts or probabilities to plot \(it has expectation values\)"
    ):
        result.plot()
    assert plt.get_fignums() == []  # failed before drawing anything


def test_bad_plot_options_name_the_valid_ones(pcs: PilotComputeService) -> None:
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10, pilot="aer"))
    )
    with pytest.raises(ValueError, match="sort='value': use one of bitstring, count"):
        result.plot(sort="value")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top=0: give a positive number"):
        result.plot(top=0)


def test_missing_matplotlib_says_how_to_install_it(
    pcs: PilotComputeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pcs.get_results(
        pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=10, pilot="aer"))
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'qdreamer\[plot\]'"):
        result.plot()
    with pytest.raises(MissingDependencyError, match=r"pip install 'qdreamer\[plot\]'"):
        plot_ranking([])


# ---------------------------------------------------------------- the ranking plot
def test_ranking_plot_draws_the_ranking_rows(pcs: PilotComputeService) -> None:
    ranked = pcs.initialize_dreamer("balanced").rank(QuantumTask(WIDE, shots=100, name="wide"))
    rows = ranking_rows(ranked)
    by_name = {r["resource"]: r for r in rows}
    assert set(by_name) == {"aer_simulator", "fake_manila", "Forte 1"}
    assert not by_name["fake_manila"]["feasible"]
    assert by_name["Forte 1"]["priced"] and by_name["Forte 1"]["estimated_cost"] > 1
    feasible = [r for r in rows if r["feasible"]]
    chosen = next(r for r in rows if r["rank"] == 1)

    fig = plot_ranking(rows, title="wide")
    points = scatter(fig, "ranking")
    # One point per feasible resource, in rank order: (expected wait, estimated fidelity).
    assert points.get_offsets().tolist() == [
        [r["expected_wait_seconds"], r["estimated_fidelity"]] for r in feasible
    ]
    # Marker area grows with cost: the priced QPU is drawn larger than the free simulator.
    sizes = dict(zip((r["resource"] for r in feasible), points.get_sizes(), strict=True))
    assert sizes["Forte 1"] > sizes["aer_simulator"]
    # The chosen resource is ringed and its label says so.
    ring = scatter(fig, "chosen")
    assert ring.get_offsets().tolist() == [
        [chosen["expected_wait_seconds"], chosen["estimated_fidelity"]]
    ]
    ax = fig.axes[0]
    labels = {t.get_text(): t for t in ax.texts if t.get_gid() == "label"}
    assert set(labels) == {f"{r['rank']}. {r['resource']}" for r in feasible if r is not chosen} | {
        f"1. {chosen['resource']} (chosen)"
    }
    assert labels[f"1. {chosen['resource']} (chosen)"].get_fontweight() == "bold"
    # The infeasible device is listed under the plot with its reason, not drawn.
    (note,) = [t.get_text() for t in ax.texts if t.get_gid() == "infeasible"]
    assert "fake_manila (ibm): needs 8 qubits, has 5" in note
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "QDREAMER's choice"


def ranked_rows(waits: dict[str, float]) -> list[dict[str, Any]]:
    """Rows for resources whose expected waits are ``waits`` (queues of 1 s jobs)."""
    caps = [
        ResourceCapabilities(name, "braket_qpu", "aws", 10, pilot="p", pricing=Pricing(per_task=1))
        for name in waits
    ]
    statuses = {
        c.key: ResourceStatus(queue_depth=int(waits[c.name]), typical_job_seconds=1.0) for c in caps
    }
    req = TaskRequirements(name="t", num_qubits=2)
    ranked = Ranker("speed").rank(req, WorkloadProfile.unknown(2, 100), caps, statuses)
    return ranking_rows(ranked)


@pytest.mark.parametrize(
    ("waits", "scale"),
    [
        ({"a": 0, "b": 30, "c": 7200}, "symlog"),  # hours next to none: log, zero still shown
        ({"a": 5, "b": 30, "c": 7200}, "log"),
        ({"a": 0, "b": 30, "c": 60}, "linear"),
    ],
)
def test_wait_axis_is_logarithmic_when_the_waits_spread(
    waits: dict[str, float], scale: str
) -> None:
    rows = ranked_rows(waits)
    assert {r["resource"]: r["expected_wait_seconds"] for r in rows} == waits
    fig = plot_ranking(rows)
    assert fig.axes[0].get_xscale() == scale
    offsets = scatter(fig, "ranking").get_offsets()[:, 0].tolist()
    assert offsets == [r["expected_wait_seconds"] for r in rows]
    assert rows[0]["resource"] == "a"  # speed: the shortest queue wins
    assert scatter(fig, "chosen").get_offsets().tolist()[0][0] == waits["a"]


def test_written_image_is_a_picture_of_the_ranking(tmp_path: Path) -> None:
    path = write_ranking_plot(ranked_rows({"a": 0, "b": 30}), tmp_path / "r.svg", title="t")
    assert path.read_text().lstrip().startswith("<?xml")
    assert plt.get_fignums() == []  # drawn without pyplot


# ---------------------------------------------------------------- qdreamer resources --plot
def is_png_with_content(path: Path) -> bool:
    image = matplotlib.image.imread(path)
    rgb = image[..., :3]
    not_white = (rgb < 0.95).any(axis=-1).mean()
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and rgb.var() > 1e-3 and not_white > 0.01


@pytest.mark.slow
def test_cli_resources_plot_writes_a_png(ray_session: None, tmp_path: Path) -> None:
    import json
    import os

    env = dict(os.environ, RAY_ADDRESS=ray.get_runtime_context().gcs_address, COLUMNS="200")
    args = ["resources", "-e", "qiskit_local", "-e", "qiskit_fake:fake_manila", "--json"]
    out = run_cli([*args, "--plot", "ranking.png"], env, tmp_path)
    rows = json.loads(out.stdout)  # stdout stays one JSON document
    assert [r["resource"] for r in rows] == ["aer_simulator", "fake_manila"]
    assert "ranking plot written to ranking.png" in out.stderr
    assert is_png_with_content(tmp_path / "ranking.png")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing/ranking.png", "Invalid value for '--plot': directory missing does not exist"),
        ("ranking.txt", "ranking.txt: unknown image format '.txt'; end the name with one of"),
        ("ranking", "ranking: no suffix; end the name with one of"),
    ],
)
def test_cli_bad_plot_path_is_a_usage_error_before_any_work(
    tmp_path: Path, target: str, message: str
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # no cluster needed
    env["COLUMNS"] = "200"
    line = cli_error_line(run_cli(["resources", "--plot", target], env, tmp_path, rc=2))
    assert message in line, line
    assert not list(tmp_path.iterdir())

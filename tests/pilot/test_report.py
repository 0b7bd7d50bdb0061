"""What ran where: the per-task metrics file, ``pcs.report()`` and progress bars (issue 7)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pilot import PilotComputeService, QuantumTask
from pilot.errors import TaskFailedError
from pilot.observe.report import TASK_COLUMNS, Report
from tests.helpers import basis


def broken(i: int) -> Any:
    raise ValueError(f"no circuit {i}")


def _service(workdir: Path) -> PilotComputeService:
    pcs = PilotComputeService(working_directory=workdir)
    for name in ("a", "b"):
        pcs.create_pilot(
            name=name,
            resource_type="quantum",
            cores_per_node=0.25,
            quantum={"executor": "qiskit_local"},
        )
    return pcs


@pytest.mark.slow
def test_report_and_metrics_file_count_every_attempt(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # str(report) fits the terminal: not pytest's
    with _service(tmp_path / "work") as pcs:
        refs = [
            pcs.submit_quantum_task(QuantumTask(basis(i, 3), shots=7, pilot="a")) for i in range(5)
        ]
        refs += pcs.submit_quantum_tasks(
            [QuantumTask(basis(i, 3), shots=9, pilot="b") for i in range(3)]
        )
        refs.append(
            pcs.submit_quantum_task(QuantumTask(broken, num_qubits=2, args=(1,), pilot="b"))
        )
        results = pcs.get_results(refs, return_exceptions=True)
        assert isinstance(results[-1], TaskFailedError)
        report = pcs.report()
        path = pcs.metrics_file
    by_pilot = {r["pilot"]: r for r in report.rows}
    assert by_pilot["a"]["tasks"] == 5 and by_pilot["a"]["failed"] == 0
    assert by_pilot["b"]["tasks"] == 4 and by_pilot["b"]["failed"] == 1
    assert by_pilot["a"]["resource"] == "aer_simulator" and by_pilot["a"]["shots"] == 35
    assert by_pilot["a"]["mean_run_seconds"] > 0
    data = json.loads(report.to_json())
    assert data["totals"]["tasks"] == 9 and data["totals"]["failed"] == 1
    text = str(report)
    assert "mean queue s" in text and "aer_simulator" in text
    assert "<table>" in report._repr_html_() and "<td>b</td>" in report._repr_html_()

    assert path == tmp_path / "work" / "tasks.csv"
    assert path is not None and oct(path.stat().st_mode & 0o777) == "0o600"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(TASK_COLUMNS)
    ids = {r.task_id: r for r in results[:-1]}
    assert {row["task_id"] for row in rows if row["outcome"] == "done"} == set(ids)
    (bad,) = [row for row in rows if row["outcome"] != "done"]
    assert (bad["outcome"], bad["error"], bad["pilot"]) == ("failed", "ValueError", "b")
    for row in rows:
        if row["outcome"] == "done":
            result = ids[row["task_id"]]
            assert float(row["finished_at"]) == pytest.approx(result.finished_at)
            assert int(row["shots"]) == result.shots
            assert float(row["queue_seconds"]) >= 0 and float(row["run_seconds"]) >= 0


@pytest.mark.slow
def test_progress_bar_when_asked_and_silent_otherwise(
    ray_session: None, tmp_path: Path, capsys: Any
) -> None:
    with _service(tmp_path / "work") as pcs:
        refs = [pcs.submit_quantum_task(QuantumTask(basis(i, 2), shots=5)) for i in range(4)]
        refs.append(pcs.submit_quantum_task(QuantumTask(broken, num_qubits=2, args=(2,))))
        pcs.get_results(refs, return_exceptions=True)  # not a terminal: no bar
        assert capsys.readouterr().err == ""
        pcs.wait_tasks(refs, progress=True)
        pcs.get_results(refs, return_exceptions=True, progress=True)
    err = capsys.readouterr().err
    assert "waiting" in err and "results" in err
    assert "5/5" in err and "done 4 · failed 1 · running 0" in err


def _row(pilot: str, resource: str, executor: str, **numbers: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"pilot": pilot, "resource": resource, "executor": executor, "shots": 1}
    return row | {
        "tasks": 5,
        "failed": 0,
        "mean_queue_seconds": 0.042,
        "mean_run_seconds": 0.007,
        "estimated_cost": None,
        **numbers,
    }


def _column(text: str, index: int) -> str:
    """Column ``index`` of the rendered table's body, lines joined without spaces."""
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    return "".join(cells[index].replace(" ", "") for cells in rows)


LONG_PILOT = "quantum-pilot-for-the-fake-kolkata-device-number-0"
LONG_RESOURCE = "aer_simulator_noisy_fake_kolkata"


@pytest.mark.parametrize("width", [80, 120])
def test_report_table_fits_the_terminal_without_cutting_anything(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = Report(
        [
            _row(LONG_PILOT, LONG_RESOURCE, "qiskit_fake", tasks=12345, failed=17,
                 mean_queue_seconds=1234.5678, mean_run_seconds=0.0071, estimated_cost=12345.678),
            _row("b", "aer_simulator", "qiskit_local", mean_queue_seconds=None),
        ]
    )  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(report)  # rich: the console's width
    monkeypatch.setenv("COLUMNS", str(width))
    for text in (out.getvalue(), str(report)):  # print(report): the terminal's width
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width and "…" not in text
        assert _column(text, 0) == LONG_PILOT + "b"
        assert _column(text, 1) == LONG_RESOURCE + "aer_simulator"
        for number in ("12,345", "17", "1234.568", "0.007", "$12,345.68"):
            assert number in text, (number, text)


def test_report_table_keeps_every_column_when_there_is_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = Report([_row("a", "aer_simulator", "qiskit_local")])
    monkeypatch.setenv("COLUMNS", "120")
    text = str(report)
    for heading in ("executor", "mean queue s", "mean run s", "est. cost"):
        assert heading in text
    assert "qiskit_local" in text
    monkeypatch.setenv("COLUMNS", "80")
    text = str(report)
    assert "qiskit_local" not in text and "queue s" in text  # the executor column goes first

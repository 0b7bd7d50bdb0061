"""PilotComputeService writing finished results to S3 (``results_store``), end to end.

Real local Ray, real Aer pilot, real moto S3 server on loopback.  The wiring
(``PilotComputeService(results_store=...)``, ``[service] results_store``,
``pcs.results_store``, ``pcs.load_results``) lives in pilot/runtime/service.py and
pilot/runtime/supervisor.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilot import ConfigError, PilotComputeService, QuantumTask
from pilot.journal.bucket import ResultStore, load_results
from tests.fakes.s3_server import MotoS3
from tests.helpers import bell_qiskit


@pytest.fixture
def s3(s3_server: MotoS3, monkeypatch: pytest.MonkeyPatch) -> MotoS3:
    """Dummy credentials and the moto endpoint in the driver's environment, for this test
    only (the store lives on the driver; Ray workers never see them)."""
    for name in s3_server.unset_env:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


def _aer(pcs: Any) -> None:
    pcs.create_pilot(
        {
            "resource_type": "quantum",
            "name": "aer-store",
            "quantum": {"executor": "qiskit_local"},
            "cores_per_node": 0.25,
        }
    )


def test_finished_results_are_written_and_loaded_back(
    ray_session: None, s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    url = f"s3://{bucket}/qdreamer"
    with PilotComputeService(working_directory=tmp_path, results_store=url) as pcs:
        store = pcs.results_store
        assert isinstance(store, ResultStore)
        assert pcs.journal is not None and store.run_id == pcs.journal.run_id
        _aer(pcs)
        pcs.initialize_dreamer(objective="fidelity")
        refs = [pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=100)) for _ in range(6)]
        results = pcs.get_results(refs)
        # load_results flushes pending writes, then reads this run's objects.
        loaded = {r.task_id: r for r in pcs.load_results()}
        assert sorted(loaded) == sorted(r.task_id for r in results)
        for r in results:
            back = loaded[r.task_id]
            assert back.counts == r.counts and sum(back.counts.values()) == 100
            assert (back.pilot, back.backend) == ("aer-store", "aer_simulator")
            assert back.selection is not None and back.selection["resource"] == "aer_simulator"
        run_url = store.run_url
    # cancel() closed the store: everything is written, nothing failed.
    assert (store.written, store.failed, store.pending) == (6, 0, 0)
    assert len(load_results(run_url)) == 6
    keys = s3.client().list_objects_v2(Bucket=bucket, Prefix="qdreamer/")["KeyCount"]
    assert keys == 6


def test_results_store_from_the_user_config_file(
    ray_session: None, s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3.new_bucket()
    user = tmp_path / "config.toml"
    user.write_text(f'[service]\nresults_store = "s3://{bucket}/from-config"\n')
    monkeypatch.setenv("QDREAMER_CONFIG", str(user))
    with PilotComputeService(working_directory=tmp_path / "work") as pcs:
        assert pcs.results_store is not None
        assert pcs.results_store.url == f"s3://{bucket}/from-config"
        _aer(pcs)
        (result,) = pcs.get_results([pcs.submit_quantum_task(QuantumTask(bell_qiskit(), shots=50))])
        (back,) = pcs.load_results()
        assert back.task_id == result.task_id and back.counts == result.counts


def test_bad_results_store_fails_the_constructor(
    ray_session: None, s3: MotoS3, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        PilotComputeService(working_directory=tmp_path, results_store="https://bucket/p")
    assert info.value.key == "results_store"
    with pytest.raises(ConfigError, match="bucket 'qd-never-made' does not exist"):
        PilotComputeService(working_directory=tmp_path, results_store="s3://qd-never-made/p")

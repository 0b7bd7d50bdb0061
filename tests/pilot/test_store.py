"""pilot.journal.bucket.ResultStore against a real S3-compatible HTTP server (moto) on loopback.

Results come from real circuits run in-process by ``QuantumWorker`` (Aer, and
a noisy fake_lagos with a real QDREAMER ranking); the store talks to the
server through real boto3/botocore over HTTP; faults (503s, slowness) are
injected by a real HTTP proxy in front of it (``tests/fakes/s3_server.py``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from pilot.errors import ConfigError, CredentialsError, PilotError
from pilot.journal.bucket import ResultStore, load_results
from pilot.results import QuantumResult
from tests.fakes.s3_server import SECRET_ACCESS_KEY, FlakyS3Proxy, MotoS3
from tests.helpers import bell_qiskit

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def s3(s3_server: MotoS3, monkeypatch: pytest.MonkeyPatch) -> MotoS3:
    """The moto server, with its dummy credentials and endpoint in the environment
    for this test only (boto3 finds them the standard way)."""
    for name in s3_server.unset_env:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    return s3.new_bucket()


@pytest.fixture
def store(bucket: str) -> Iterator[ResultStore]:
    with ResultStore(f"s3://{bucket}/qd/results", run_id="run-1") as st:
        yield st


def _spec(task_id: str, circuit: Any, shots: int | None, pilot: str, resource: str, **kw: Any):
    from pilot.tasks import TaskSpec

    return TaskSpec(
        task_id=task_id,
        name=task_id,
        circuit=circuit,
        shots=shots,
        pilot=pilot,
        resource=resource,
        num_qubits=None,
        gate_set=None,
        submitted_at=time.time(),
        **kw,
    )


@pytest.fixture(scope="module")
def real_results() -> list[QuantumResult]:
    """Results of real circuits: counts, exact probabilities, expectation values, a
    parameter sweep row (numpy), and a noisy device run with QDREAMER's selection."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    from dreamer.ranking import Ranker
    from dreamer.workload import TaskRequirements
    from pilot.config import parse_description
    from pilot.convert import load_circuit
    from pilot.convert.workload import profile_loaded
    from pilot.pilots.actor import QuantumWorker
    from pilot.selection import candidate_summary

    def worker(pilot: str, **quantum: Any) -> QuantumWorker:
        cfg = parse_description({"resource_type": "quantum", "quantum": quantum}).quantum
        return QuantumWorker(cfg, pilot, 1)

    aer = worker("aer", executor="qiskit_local")
    bell_gates = QuantumCircuit(2, name="bell_gates")
    bell_gates.h(0)
    bell_gates.cx(0, 1)
    theta = Parameter("theta")
    rotation = QuantumCircuit(1, 1, name="ry")
    rotation.ry(theta, 0)
    rotation.measure(0, 0)
    out = [
        aer.run(_spec("counts", bell_qiskit(), 400, "aer", "aer_simulator")),
        aer.run(_spec("probs", bell_gates, None, "aer", "aer_simulator")),
        aer.run(
            _spec(
                "expvals",
                bell_gates,
                None,
                "aer",
                "aer_simulator",
                observables=("ZZ", {"XX": 0.5, "ZI": 0.25}),
            )
        ),
        aer.run(
            _spec("sweep", rotation, 100, "aer", "aer_simulator", parameters=np.array([np.pi]))
        ),
    ]
    lagos = worker("lagos", executor="qiskit_fake", backends=["fake_lagos"])
    cap = lagos.resources()[0]
    ranked = Ranker("fidelity").judge(
        TaskRequirements(shots=300),
        profile_loaded(load_circuit(bell_qiskit(), (), {}), 300),
        cap,
        lagos.status(cap.name),
    )
    selection = candidate_summary(ranked, "fidelity")
    out.append(
        lagos.run(
            _spec(
                "noisy",
                bell_qiskit(),
                300,
                "lagos",
                cap.name,
                layout=tuple(selection["breakdown"]["layout"]),
                selection=selection,
            )
        )
    )
    return out


def _same(a: QuantumResult, b: QuantumResult) -> None:
    for f in dataclasses.fields(QuantumResult):
        if f.name not in ("native_bytes", "metadata", "selection"):
            assert getattr(a, f.name) == getattr(b, f.name), f.name


# --------------------------------------------------------------------------- round trip


def test_put_load_round_trip_of_real_results(
    store: ResultStore, real_results: list[QuantumResult]
) -> None:
    counts, probs, expvals, _sweep, noisy = real_results
    assert sum(counts.get_counts().values()) == 400 and set(counts.counts) <= {"00", "11"}
    assert probs.probabilities == pytest.approx({"00": 0.5, "11": 0.5})
    assert expvals.expectation_values == pytest.approx([1.0, 0.5])
    for r in real_results:
        store.put(r)
    assert store.flush(timeout=60)
    assert (store.written, store.failed) == (5, 0)

    loaded = {r.task_id: r for r in store.load("run-1")}
    assert sorted(loaded) == ["counts", "expvals", "noisy", "probs", "sweep"]
    for original in real_results:
        back = loaded[original.task_id]
        _same(back, original)
        assert back.native is None  # SDK pickles are not stored
        # The JSON form is stable: writing what was read gives the same document.
        assert json.loads(back.to_json()) == json.loads(original.to_json())
    assert loaded["sweep"].counts == {"1": 100}
    assert loaded["sweep"].metadata["parameter_values"] == pytest.approx([np.pi])
    selection = loaded["noisy"].selection
    assert selection is not None and noisy.selection is not None
    assert selection["resource"] == "fake_lagos" and selection["objective"] == "fidelity"
    assert selection["breakdown"]["layout"] == list(noisy.selection["breakdown"]["layout"])
    assert selection["breakdown"]["estimated_fidelity"] == pytest.approx(
        noisy.selection["breakdown"]["estimated_fidelity"]
    )
    assert loaded["noisy"].estimated_cost == 0.0
    assert loaded["noisy"].most_frequent() in {"00", "11"}
    # Ordered by submission time.
    assert [r.task_id for r in store.load()] == [r.task_id for r in real_results]


def test_objects_are_plain_json_at_prefix_run_task(
    s3: MotoS3, store: ResultStore, real_results: list[QuantumResult]
) -> None:
    result = real_results[0]
    store.put(result)
    assert store.flush(timeout=60)
    obj = s3.client().get_object(Bucket=store.bucket, Key=f"qd/results/run-1/{result.task_id}.json")
    assert obj["ContentType"] == "application/json"
    doc = json.loads(obj["Body"].read())
    assert doc["schema"] == "qdreamer.result/1" and doc["run_id"] == "run-1"
    assert doc["task_id"] == "counts" and doc["pilot"] == "aer"
    assert doc["backend"] == "aer_simulator" and doc["executor"] == "qiskit_local"
    assert doc["shots"] == 400 and sum(doc["counts"].values()) == 400
    assert doc["submitted_at"] <= doc["started_at"] <= doc["finished_at"] <= doc["stored_at"]
    assert "native_bytes" not in doc
    assert store.run_url == f"s3://{store.bucket}/qd/results/run-1"
    # Another reader (a new driver) finds it from the URL alone.
    (back,) = load_results(store.run_url)
    assert back.task_id == "counts" and back.counts == result.counts


def test_keys_default_run_id_and_odd_task_ids(bucket: str) -> None:
    with ResultStore(f"s3://{bucket}/", check=False) as st:
        assert st.run_id == datetime.now(UTC).strftime("%Y-%m-%d")
        assert st.key_for("a/b c") == f"{st.run_id}/a%2Fb%20c.json"
    with pytest.raises(ConfigError, match="one non-empty path segment"):
        ResultStore(f"s3://{bucket}/p", run_id="a/b", check=False)


@pytest.mark.slow  # ~40 s: moto answers a request in ~20 ms on a loaded 2-core machine
def test_thousand_results_are_listed_back_across_pages(
    s3: MotoS3, store: ResultStore, real_results: list[QuantumResult]
) -> None:
    base = real_results[0]
    n = 1_001  # one more than a ListObjectsV2 page holds
    for i in range(n):
        store.put(dataclasses.replace(base, task_id=f"task-{i:05d}", submitted_at=1000.0 + i))
    assert store.flush(timeout=300)
    assert (store.written, store.failed) == (n, 0)
    first_page = s3.client().list_objects_v2(Bucket=store.bucket, Prefix="qd/results/run-1/")
    assert first_page["KeyCount"] == 1000 and first_page["IsTruncated"]

    loaded = store.load("run-1")
    assert [r.task_id for r in loaded] == [f"task-{i:05d}" for i in range(n)]
    assert all(r.counts == base.counts for r in loaded)


# --------------------------------------------------------------------------- background writing


@pytest.mark.slow
def test_put_does_not_wait_for_a_slow_server(
    s3: MotoS3, bucket: str, real_results: list[QuantumResult]
) -> None:
    with FlakyS3Proxy(s3.url, delay_seconds=0.3) as proxy:
        st = ResultStore(f"s3://{bucket}/slow", endpoint_url=proxy.url, workers=4, run_id="r")
        started = time.perf_counter()
        for i in range(16):
            st.put(dataclasses.replace(real_results[0], task_id=f"t{i}"))
        put_seconds = time.perf_counter() - started
        assert st.pending > 0
        assert put_seconds < 0.3, put_seconds  # less than one request's delay for all 16
        st.close()
        assert (st.written, st.failed, st.pending) == (16, 0, 0)
    keys = s3.client().list_objects_v2(Bucket=bucket, Prefix="slow/r/")["KeyCount"]
    assert keys == 16


def test_503s_are_retried_until_every_object_is_written(
    s3: MotoS3, bucket: str, real_results: list[QuantumResult]
) -> None:
    with FlakyS3Proxy(s3.url) as proxy:
        # The first attempt of every object's PUT, and of the first listing, gets a 503.
        proxy.fail_first(lambda method, path: method == "PUT" or "list-type=2" in path)
        st = ResultStore(f"s3://{bucket}/flaky", endpoint_url=proxy.url, run_id="r")
        for i in range(12):
            st.put(dataclasses.replace(real_results[0], task_id=f"t{i:02d}"))
        st.flush(timeout=120)
        assert (st.written, st.failed) == (12, 0)
        assert proxy.served_503 == 12 and st.retried == 12
        assert [r.task_id for r in st.load("r")] == [f"t{i:02d}" for i in range(12)]
        assert proxy.served_503 == 13  # the listing was retried too
        st.close()
    direct = s3.client().list_objects_v2(Bucket=bucket, Prefix="flaky/r/")
    assert sorted(o["Key"] for o in direct["Contents"]) == [
        f"flaky/r/t{i:02d}.json" for i in range(12)
    ]


def test_failed_writes_are_logged_and_counted_and_results_kept(
    s3: MotoS3, bucket: str, real_results: list[QuantumResult], caplog: pytest.LogCaptureFixture
) -> None:
    st = ResultStore(f"s3://{bucket}/gone", run_id="r")  # the bucket exists now...
    s3.client().delete_bucket(Bucket=bucket)  # ...and no longer
    result = real_results[0]
    before = result.to_json()
    with caplog.at_level(logging.WARNING, logger="pilot.journal.bucket"):
        for i in range(3):
            st.put(dataclasses.replace(result, task_id=f"t{i}"))
        assert st.flush(timeout=60)
    assert (st.written, st.failed) == (0, 3)
    task_id, reason = st.errors[0]
    assert task_id in {"t0", "t1", "t2"}
    assert f"bucket {bucket!r} does not exist" in reason
    logged = [r.getMessage() for r in caplog.records if r.name == "pilot.journal.bucket"]
    assert len(logged) == 3 and all("not written to s3://" in m for m in logged)
    assert result.to_json() == before and result.counts  # the local result is untouched
    st.close()
    with pytest.raises(PilotError, match="is closed"):
        st.put(result)
    st.close()  # idempotent


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://bucket/prefix", "scheme 'https' of 'https://bucket/prefix' is not supported"),
        ("s3a://bucket/prefix", "did you mean 's3'?"),
        ("bucket/prefix", "'bucket/prefix' is not an s3:// URL"),
        ("s3:///prefix", "no bucket in 's3:///prefix'"),
        ("s3://My_Bucket/p", "bucket name 'My_Bucket' is not valid"),
        ("s3://bucket:9000/p", "a port belongs to the endpoint"),
        ("s3://bucket/p?versionId=1", "has a query or fragment"),
        ("", "results_store is empty"),
        (None, "results_store must be a URL like 's3://bucket/prefix', got None"),
    ],
)
def test_invalid_urls_name_results_store(url: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ResultStore(url, check=False)
    assert info.value.key == "results_store"
    assert message in str(info.value)


def test_credentials_in_the_url_are_refused_and_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        ResultStore("s3://AKIAEXAMPLE:wJalrXUtnFEMIexample@bucket/p", check=False)
    assert "must not hold credentials" in str(info.value)
    assert "wJalrXUtnFEMIexample" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)


def test_missing_bucket_says_how_to_create_it(s3: MotoS3) -> None:
    with pytest.raises(ConfigError) as info:
        ResultStore("s3://qd-no-such-bucket/p")
    assert info.value.key == "results_store"
    assert str(info.value) == (
        f"results_store: bucket 'qd-no-such-bucket' does not exist at {s3.url}; create it "
        f"first (aws s3 mb s3://qd-no-such-bucket --endpoint-url {s3.url}, or your storage's "
        "console) or point results_store at an existing bucket"
    )


def test_missing_credentials_are_a_credentials_error(
    s3: MotoS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError, match="no AWS credentials found; set AWS_ACCESS_KEY_ID"):
        ResultStore(f"s3://{bucket}/p")


def test_known_secrets_are_never_written(
    s3: MotoS3, store: ResultStore, real_results: list[QuantumResult]
) -> None:
    leaky = dataclasses.replace(
        real_results[0],
        task_id="leaky",
        metadata={"note": f"key={SECRET_ACCESS_KEY}", SECRET_ACCESS_KEY: [SECRET_ACCESS_KEY]},
    )
    store.put(leaky)
    assert store.flush(timeout=60)
    body = (
        s3.client()
        .get_object(Bucket=store.bucket, Key="qd/results/run-1/leaky.json")["Body"]
        .read()
        .decode()
    )
    assert SECRET_ACCESS_KEY not in body
    assert json.loads(body)["metadata"] == {"note": "key=***", "***": ["***"]}
    assert SECRET_ACCESS_KEY not in repr(store)


def test_a_result_record_from_before_standard_errors_still_reads() -> None:
    """Journal records are tuples of QuantumResult's fields; one written before a field
    was added (standard_errors) ends earlier and reads with the field's default."""
    import pickle
    import zlib

    from pilot.results import (
        _DICTIONARY,
        _RECORD_FIELDS,
        RECORD_TAG,
        QuantumResult,
        decode_outcome,
        encode_outcome,
    )

    result = QuantumResult(
        task_id="t1",
        name="bell",
        counts={"00": 3, "11": 5},
        shots=8,
        probabilities=None,
        expectation_values=[0.25],
        backend="aer_simulator",
        executor="qiskit_local",
        pilot="p",
        source_format="qiskit",
        path="native",
        submitted_at=1.0,
        started_at=2.0,
        finished_at=3.0,
        standard_errors=[0.1],
    )
    assert decode_outcome(encode_outcome(result)) == result
    old = tuple(getattr(result, n) for n in _RECORD_FIELDS if n != "standard_errors")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_DICTIONARY)
    record = RECORD_TAG + deflate.compress(pickle.dumps(old, protocol=5)) + deflate.flush()
    decoded = decode_outcome(record)
    assert decoded.standard_errors is None and decoded.counts == result.counts

"""Results in object storage: one JSON object per task in an S3-compatible bucket.

A :class:`ResultStore` is made from a URL, ``s3://bucket/prefix`` (the
``results_store`` option).  Each :meth:`~ResultStore.put` result lands at::

    <prefix>/<run id>/<task id>.json

as :meth:`QuantumResult.to_json <pilot.results.QuantumResult.to_json>` text
(task id, pilot, resource, executor, shots, counts, probabilities, expectation
values, metadata, QDREAMER's selection, timestamps) plus ``"run_id"`` and
``"stored_at"``.  :meth:`~ResultStore.load` and :func:`load_results` read them
back as :class:`~pilot.results.QuantumResult`.  The run id is the caller's
(the service passes its journal's) or today's UTC date (``2025-12-09``).

Credentials and endpoint come from boto3's usual places and nowhere else:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``, the
shared files, an instance role), and for an S3-compatible server (MinIO,
Ceph, moto) ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, which botocore
honours, or the ``endpoint_url`` argument.  The URL itself may not hold
credentials.  Nothing written holds a known secret (:func:`pilot.redaction.redact`
is applied to every string of the document).

Writing
-------
``put`` encodes the result on the caller's thread (a snapshot: later changes
to the result are not written) and queues it; ``workers`` threads upload
(``put_object``), so a slow or distant bucket never slows the caller.  S3
answers one write in tens of milliseconds, hence several writers.  Transient
failures (HTTP 500/502/503/504, throttling, connection errors) are retried by
botocore's ``standard`` retry mode (``max_attempts`` in all, else
``AWS_MAX_ATTEMPTS`` or botocore's default of 3).  A write that still fails is
logged and counted (:attr:`~ResultStore.failed`, :attr:`~ResultStore.errors`);
the result itself, in the caller's hands and the task journal, is untouched.
When ``max_pending`` writes are queued, ``put`` waits up to ``put_timeout``
seconds for room, then counts that result as failed.  :meth:`~ResultStore.flush`
waits for queued writes; :meth:`~ResultStore.close` flushes and stops the
writers (also run at interpreter exit for a store left open).

Checks
------
The URL is checked when the store is made (``ConfigError`` with
``key="results_store"``), and, unless ``check=False``, the bucket is asked
for (``HeadBucket``): a missing bucket is a ``ConfigError`` saying how to
create it, missing or refused credentials a ``CredentialsError``.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pilot.errors import ConfigError, CredentialsError, MissingDependencyError, PilotError, closest
from pilot.redaction import MASK, known_secrets, redact
from pilot.results import JSON_SCHEMA, QuantumResult

logger = logging.getLogger(__name__)

#: The configuration key named by errors about the URL and the bucket.
KEY = "results_store"

#: S3's bucket naming rules (general purpose buckets), less the rarely-met ones.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

#: Failed writes logged at WARNING; later ones at DEBUG (the count is kept).
_WARN_FAILURES = 10

_CREDENTIAL_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
    }
)


def parse_url(url: object) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (the prefix without outer slashes).

    Raises ``ConfigError(key="results_store")`` naming what is wrong.  The URL
    is not repeated in the message when it holds user info (a credential).
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"{KEY} must be a URL like 's3://bucket/prefix', got {url!r}"
            if not isinstance(url, str)
            else f"{KEY} is empty; give a URL like 's3://bucket/prefix'",
            key=KEY,
        )
    parts = urllib.parse.urlsplit(url.strip())
    if "@" in parts.netloc:
        raise ConfigError(
            f"{KEY} must not hold credentials (found user info before the bucket name); "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the "
            "environment instead",
            key=KEY,
        )
    if parts.scheme != "s3":
        if not parts.scheme:
            raise ConfigError(
                f"{KEY} {url!r} is not an s3:// URL; write s3://<bucket>/<prefix>", key=KEY
            )
        raise ConfigError(
            f"{KEY}: scheme {parts.scheme!r} of {url!r} is not supported; write "
            "s3://<bucket>/<prefix> (an S3-compatible server is chosen with "
            "AWS_ENDPOINT_URL_S3 or endpoint_url)",
            key=KEY,
            suggestion="s3" if closest(parts.scheme, ["s3"]) else None,
        )
    if not parts.netloc:
        raise ConfigError(f"{KEY}: no bucket in {url!r}; write s3://<bucket>/<prefix>", key=KEY)
    if ":" in parts.netloc:
        raise ConfigError(
            f"{KEY}: {parts.netloc!r} is not a bucket name (a port belongs to the endpoint: "
            "set AWS_ENDPOINT_URL_S3 or endpoint_url to http(s)://host:port)",
            key=KEY,
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{KEY}: {url!r} has a query or fragment; write s3://<bucket>/<prefix>", key=KEY
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(
            f"{KEY}: bucket name {bucket!r} is not valid: 3-63 characters, lowercase "
            "letters, digits, '.' and '-', starting and ending with a letter or digit",
            key=KEY,
        )
    return bucket, parts.path.strip("/")


def _check_run_id(run_id: str) -> str:
    if not run_id or "/" in run_id or run_id in (".", ".."):
        raise ConfigError(
            f"run_id {run_id!r} must be one non-empty path segment (no '/')", key="run_id"
        )
    return run_id


def _masked(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {_masked(k, secrets): _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    return value


class ResultStore:
    """Writes :class:`~pilot.results.QuantumResult` objects to ``s3://bucket/prefix``
    in the background and reads them back (see the module docstring).

    Args:
        url: ``s3://bucket/prefix`` (the prefix may be empty).
        run_id: the folder under the prefix for this run's results (default:
            today's UTC date).
        endpoint_url: an S3-compatible server (``http://127.0.0.1:9000``);
            default: botocore's (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``,
            the config file, else AWS).
        region_name: default: boto3's (``AWS_REGION``/``AWS_DEFAULT_REGION``...).
        max_attempts: calls per request in all, retries included (botocore
            ``standard`` mode); default ``AWS_MAX_ATTEMPTS`` or 3.
        workers: writer threads (started on the first ``put``).
        max_pending: queued writes before ``put`` waits.
        put_timeout: seconds ``put`` waits for room before counting the
            result as failed.
        check: ask for the bucket now (``HeadBucket``), so that a wrong bucket
            or credentials fail here rather than in every write.

    Thread-safe.  Lives in the process that made it (it holds threads):
    make it on the driver.
    """

    def __init__(
        self,
        url: str,
        *,
        run_id: str | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        max_attempts: int | None = None,
        workers: int = 8,
        max_pending: int = 10_000,
        put_timeout: float = 30.0,
        check: bool = True,
    ) -> None:
        self.bucket, self.prefix = parse_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.run_id = _check_run_id(
            run_id if run_id is not None else datetime.now(UTC).strftime("%Y-%m-%d")
        )
        if workers < 1 or max_pending < 1:
            raise ConfigError(
                f"workers ({workers}) and max_pending ({max_pending}) must be at least 1",
                key="workers" if workers < 1 else "max_pending",
            )
        if max_attempts is not None and max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}", key=KEY)
        self.workers = workers
        self.put_timeout = put_timeout
        self._client = _make_client(endpoint_url, region_name, max_attempts, workers)
        self.endpoint_url: str = self._client.meta.endpoint_url
        self._queue: queue.Queue[tuple[str, bytes, str] | None] = queue.Queue(max_pending)
        self._lock = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._closed = False
        #: Results written / not written (after retries) / retries botocore made.
        self.written = 0
        self.failed = 0
        self.retried = 0
        #: The last failures: ``(task id, reason)``.
        self.errors: collections.deque[tuple[str, str]] = collections.deque(maxlen=100)
        if check:
            self.check()

    # ------------------------------------------------------------------ naming
    @property
    def run_url(self) -> str:
        """``s3://bucket/prefix/<run id>``: where this store's ``put`` writes."""
        return f"s3://{self.bucket}/{self._key(self.run_id)}"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def key_for(self, task_id: str) -> str:
        """The object key of ``task_id``'s result in this run."""
        return self._key(self.run_id, urllib.parse.quote(task_id, safe="-_.") + ".json")

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Raise unless the bucket exists and these credentials may use it."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: BaseException) -> PilotError:
        """A clear error for an S3 failure on the bucket (credentials masked)."""
        from botocore.exceptions import ClientError, NoCredentialsError

        where = f"{self.url} (endpoint {self.endpoint_url})"
        if isinstance(exc, NoCredentialsError):
            return CredentialsError(
                f"{KEY} {where}: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment"
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                endpoint = (
                    ""
                    if self.endpoint_url.endswith(".amazonaws.com")
                    else f" --endpoint-url {self.endpoint_url}"
                )
                return ConfigError(
                    f"{KEY}: bucket {self.bucket!r} does not exist at {self.endpoint_url}; "
                    f"create it first (aws s3 mb s3://{self.bucket}{endpoint}, or your "
                    f"storage's console) or point {KEY} at an existing bucket",
                    key=KEY,
                )
            if code in _CREDENTIAL_CODES:
                return CredentialsError(
                    f"{KEY} {where}: access denied ({code}); check the credentials in "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and that they "
                    f"may read and write bucket {self.bucket!r}"
                )
        return PilotError(redact(f"{KEY} {where}: {type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ writing
    @property
    def pending(self) -> int:
        """Results queued or being written."""
        with self._lock:
            return self._pending

    def encode(self, result: QuantumResult) -> bytes:
        """The JSON document ``put`` writes for ``result`` (secrets masked)."""
        stored_at = time.time()
        text = result.to_json(run_id=self.run_id, stored_at=stored_at)
        secrets = [s for s in known_secrets() if s in text]
        if secrets:
            text = json.dumps(_masked(json.loads(text), secrets), sort_keys=True)
        return text.encode()

    def put(self, result: QuantumResult) -> None:
        """Queue ``result`` for writing and return (see the module docstring)."""
        if self._closed:
            raise PilotError(f"result store {self.url} is closed; make a new one")
        body = self.encode(result)
        key = self.key_for(result.task_id)
        self._start()
        with self._lock:
            self._pending += 1
        try:
            self._queue.put((key, body, result.task_id), timeout=self.put_timeout)
        except queue.Full:
            self._done(
                result.task_id,
                key,
                f"{self._queue.maxsize} writes still queued after {self.put_timeout:g} s",
            )

    def _start(self) -> None:
        if self._threads:
            return
        with self._lock:
            if self._threads:
                return
            for i in range(self.workers):
                thread = threading.Thread(
                    target=self._write_loop, name=f"results-store-{i}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
            atexit.register(self._at_exit)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, body, task_id = item
            error: str | None = None
            retries = 0
            try:
                response = self._client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
                )
                retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            except Exception as exc:
                response = getattr(exc, "response", None) or {}
                retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
                error = str(self._explain(exc))
            self._done(task_id, key, error, retries)

    def _done(self, task_id: str, key: str, error: str | None, retries: int = 0) -> None:
        """Count one finished write; a failure is logged before ``flush`` can return."""
        if error is not None:
            with self._lock:
                self.failed += 1
                self.errors.append((task_id, error))
                failures = self.failed
            level = logging.WARNING if failures <= _WARN_FAILURES else logging.DEBUG
            logger.log(
                level,
                "result of task %s not written to s3://%s/%s: %s%s",
                task_id,
                self.bucket,
                key,
                error,
                " (further failures are logged at DEBUG)" if failures == _WARN_FAILURES else "",
            )
        with self._lock:
            self._pending -= 1
            self.retried += retries
            if error is None:
                self.written += 1
            self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued result is written or has failed; ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush (for at most ``timeout`` seconds), then stop the writers (idempotent).

        Results still queued when the timeout passes are counted as failed.
        """
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        if not self.flush(timeout):
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._done(item[2], item[0], f"store closed after {timeout:g} s")
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        logger.info(
            "result store %s closed: %d written, %d failed, %d retries",
            self.run_url,
            self.written,
            self.failed,
            self.retried,
        )
        self._client.close()

    def _at_exit(self) -> None:
        if self.pending:
            logger.warning("writing %d queued results to %s before exit", self.pending, self.url)
        self.close(timeout=60)

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def load(self, where: str | None = None) -> list[QuantumResult]:
        """Results stored under this store's prefix, ordered by submission time.

        ``where``: ``None`` for every run under the prefix; a run id (or any
        sub-prefix) for that run; an ``s3://bucket/prefix`` URL for that place
        (read with this store's client).  Objects whose name does not end in
        ``.json``, and JSON documents that are not results, are skipped.
        """
        if where is not None and "://" in where:
            bucket, prefix = parse_url(where)
        else:
            bucket, prefix = self.bucket, self._key((where or "").strip("/"))
        try:
            keys = [
                item["Key"]
                for page in self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
                )
                for item in page.get("Contents", ())
                if item["Key"].endswith(".json")
            ]
        except Exception as exc:
            raise self._explain(exc) from None

        def read(key: str) -> QuantumResult | None:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                data = json.loads(body)
            except ValueError:
                logger.debug("s3://%s/%s is not JSON; skipped", bucket, key)
                return None
            if not isinstance(data, dict) or data.get("schema") != JSON_SCHEMA:
                logger.debug("s3://%s/%s is not a result; skipped", bucket, key)
                return None
            return QuantumResult.from_json(data)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            results = [r for r in pool.map(read, keys) if r is not None]
        results.sort(key=lambda r: (r.submitted_at, r.task_id))
        logger.debug("loaded %d results from s3://%s/%s", len(results), bucket, prefix)
        return results

    def __repr__(self) -> str:
        return (
            f"ResultStore({self.run_url!r}, written={self.written}, failed={self.failed}, "
            f"pending={self.pending})"
        )


def _make_client(
    endpoint_url: str | None, region_name: str | None, max_attempts: int | None, workers: int
) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingDependencyError(
            "s3", "boto3", "pip install boto3", what=f"{KEY} (s3://)"
        ) from None
    retries: dict[str, Any] = {"mode": "standard"}
    if max_attempts is not None:
        retries["total_max_attempts"] = max_attempts
    config = Config(retries=retries, max_pool_connections=max(10, workers))
    # A session per store: boto3's default session is not safe to share across threads.
    session = boto3.session.Session(region_name=region_name)
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def load_results(
    url: str,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
) -> list[QuantumResult]:
    """Every result stored under ``url`` (``s3://bucket/prefix``, e.g. one run's folder)."""
    store = ResultStore(url, endpoint_url=endpoint_url, region_name=region_name)
    try:
        return store.load()
    finally:
        store.close()


__all__ = ["ResultStore", "load_results", "parse_url"]

"""A real S3-compatible HTTP server on loopback (moto's server mode), and a flaky proxy.

:class:`MotoS3` runs ``moto.server.ThreadedMotoServer`` (a werkzeug WSGI
server with moto's S3 implementation) on 127.0.0.1 at an OS-chosen port, in
a daemon thread of the test process.  boto3 reaches it over HTTP like any
S3-compatible endpoint (MinIO, Ceph): requests are signed, sent, parsed and
retried by the real botocore; nothing is patched (``mock_aws`` is never
started).  Its state is per process and shared by the tests of a session, so
each test uses its own bucket (:meth:`MotoS3.new_bucket`).

:attr:`MotoS3.env` holds dummy credentials and ``AWS_ENDPOINT_URL_S3``; tests
apply it with ``monkeypatch`` so it is set only for them.

:class:`FlakyS3Proxy` sits in front of an endpoint and answers 503
(``ServiceUnavailable``, as S3 does under load) to the *first* attempt of
chosen requests, or delays every request: botocore's retries and the store's
background writing are then exercised against real HTTP failures.

Session fixture: ``s3_server`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_KEY_ID = "AKIAMOTOTESTKEY00000"
# Long enough (>= MIN_SECRET_LENGTH) to be masked by pilot.redaction.redact.
SECRET_ACCESS_KEY = "moto-dummy-secret-key-for-tests-only-0000"
REGION = "us-east-1"


class MotoS3:
    """moto's S3 as a real HTTP server on 127.0.0.1 (start/stop, or ``with``)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> MotoS3:
        # werkzeug logs every request at INFO; tests want only what goes wrong.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """Dummy credentials and this endpoint, as boto3 reads them from the environment."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    #: Variables that would override ``env`` (a profile, a session token).
    unset_env = (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    )

    def client(self, endpoint_url: str | None = None) -> Any:
        """A plain boto3 S3 client for this server (explicit settings, not the environment)."""
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket (its name)."""
        name = f"qd-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection"})


class FlakyS3Proxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that injects S3 faults.

    ``fail_first(predicate)``: the first attempt of each request for which
    ``predicate(method, path)`` is true gets 503 ``ServiceUnavailable``; its
    retry (same method and path) goes through.  ``delay_seconds``: every
    request waits this long before it is forwarded.  ``served_503`` counts
    the injected failures, ``forwarded`` the requests passed on.
    """

    def __init__(self, upstream: str, *, delay_seconds: float = 0.0) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream: tuple[str, int] = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.delay_seconds = delay_seconds
        self.served_503 = 0
        self.forwarded = 0
        self._predicate: Callable[[str, str], bool] | None = None
        self._failed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def fail_first(self, predicate: Callable[[str, str], bool]) -> None:
        self._predicate = predicate

    def _should_fail(self, method: str, path: str) -> bool:
        with self._lock:
            if self._predicate is None or not self._predicate(method, path):
                return False
            if (method, path) in self._failed:
                return False
            self._failed.add((method, path))
            self.served_503 += 1
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.delay_seconds:
                    time.sleep(proxy.delay_seconds)
                if proxy._should_fail(self.command, self.path):
                    payload = (
                        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable'
                        b"</Code><Message>Please reduce your request rate.</Message></Error>"
                    )
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler

    def start(self) -> FlakyS3Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FlakyS3Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_moto_s3() -> MotoS3:
    """A started :class:`MotoS3` (stop it with ``.stop()``)."""
    return MotoS3().start()

"""What every fake provider shares: its HTTP server on 127.0.0.1, served from a daemon
thread, started and stopped (also as a context manager), and its port."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Base of the fakes: ``start()`` (each fake's own, ending in :meth:`_serve`),
    :meth:`stop`, ``with fake:``, :attr:`port`.  The handler reaches the fake as
    ``self.server.fake``; ``_certdir`` (a TLS fake's certificate folder) goes on stop."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _certdir: str | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _serve(
        self,
        handler: type[BaseHTTPRequestHandler],
        name: str,
        wrap: Callable[[socket.socket], socket.socket] | None = None,
    ) -> None:
        """Serve ``handler`` on a free loopback port (``wrap``: e.g. TLS on its socket)."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        if wrap is not None:
            server.socket = wrap(server.socket)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._certdir is not None:
            shutil.rmtree(self._certdir, ignore_errors=True)
            self._certdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() first")
        return int(self._server.server_address[1])

"""Serve a test stand-in's request handler on a free loopback port, with its state, for one block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StatefulServer(ThreadingHTTPServer):
    """A threading server whose handlers read and record the stand-in's state as ``self.server.state``."""

    daemon_threads = True
    state: Any


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], state: Any, poll_interval: float = 0.5) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` while the block runs; the server is shut down and closed after it.

    ``poll_interval`` bounds how long shutting down waits (a stand-in started per test wants it short)."""
    server = StatefulServer(("127.0.0.1", 0), handler)
    server.state = state
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""Run an ASGI app under a real uvicorn server on a free loopback port, for the length of a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from pipelines.app.server import uvicorn_config


@dataclass
class RunningServer:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start(app: Any, timeout: float = 30, **options: Any) -> RunningServer:
    """Serve ``app`` on ``127.0.0.1`` at a free port; returns once the server accepts connections.
    ``options`` go to uvicorn (``ssl_certfile`` and ``ssl_keyfile`` serve HTTPS)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A test's clients may leave connections open (Gradio's event streams, keep-alive): wait a second
    # for them at shutdown, not until the join below gives up.
    # Configured as `needle serve` runs (forwarded headers judged by Needle's app, not by uvicorn).
    server = uvicorn.Server(
        uvicorn_config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, **options)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    scheme = "https" if options.get("ssl_certfile") else "http"
    return RunningServer(f"{scheme}://127.0.0.1:{port}", server, thread)


@contextmanager
def running(app: Any, timeout: float = 30) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while ``app`` is served."""
    handle = start(app, timeout)
    try:
        yield handle.base_url
    finally:
        handle.stop()

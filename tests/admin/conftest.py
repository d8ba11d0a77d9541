"""A real admin console for the tests: a real service, mounted as ``needle serve`` does."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pipelines.server import build_server
from pipelines.service import NeedleService
from tests.conftest import make_settings

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Console:
    """A running console: ``url`` ends with ``/admin/``."""

    service: NeedleService
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"{self.base_url}/admin/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(service: NeedleService) -> Console:
    """Serve ``service`` the way ``needle serve`` does (admin face only), on a free loopback port."""
    app, mounted = build_server(service, names={"admin"})
    assert mounted == ["admin"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the admin console did not start")
        time.sleep(0.05)
    return Console(service, f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module")
def console_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Console]]:
    """Start consoles over fresh services (password set); all are stopped when the module ends."""
    started: list[Console] = []

    def factory(**overrides: Any) -> Console:
        overrides.setdefault("admin_username", ADMIN_USER)
        overrides.setdefault("admin_password", ADMIN_PASSWORD)
        service = NeedleService(make_settings(tmp_path_factory.mktemp("admin"), **overrides))
        console = serve(service)
        started.append(console)
        return console

    yield factory
    for console in started:
        console.stop()
        console.service.traces.close()


@pytest.fixture(scope="module")
def console(console_factory: Callable[..., Console]) -> Console:
    return console_factory()

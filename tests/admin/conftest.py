"""A real admin console for the tests: a real service, mounted as ``needle serve`` does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.app.server import build_server
from pipelines.service.facade import NeedleService
from tests.conftest import make_settings
from tests.support.uvicorn_server import RunningServer, start

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Console:
    """A running console: ``url`` ends with ``/admin/``."""

    service: NeedleService
    handle: RunningServer

    @property
    def base_url(self) -> str:
        return self.handle.base_url

    @property
    def url(self) -> str:
        return f"{self.base_url}/admin/"

    def stop(self) -> None:
        self.handle.stop()


def serve(service: NeedleService) -> Console:
    """Serve ``service`` the way ``needle serve`` does (admin face only), on a free loopback port."""
    app, mounted = build_server(service, names={"admin"})
    assert mounted == ["admin"]
    return Console(service, start(app))


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

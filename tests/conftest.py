"""Shared fixtures: real services over real stores in temporary folders, and no network but loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

from pipelines.base.settings import Settings, load_settings
from pipelines.samples import handbook_dir
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore, SqliteRecordStore
from pipelines.stores.records_es import ElasticsearchRecordStore
from tests.support.fake_elasticsearch import fake_elasticsearch

HANDBOOK = handbook_dir()


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return isinstance(address, (str, bytes))  # unix sockets


@pytest.fixture(autouse=True)
def _only_loopback_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk only to servers they start on this machine; anything else is a bug in the test."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may not reach {address!r}")
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _no_needle_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own NEEDLE_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("NEEDLE_") or name in ("HF_TOKEN", "HF_API_TOKEN", "SLACK_BOT_TOKEN"):
            monkeypatch.delenv(name, raising=False)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: defaults plus overrides, never a developer's ``.env``."""
    return load_settings(_env_file=None, data_dir=data_dir, **overrides)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return make_settings(**overrides)

    return factory


@pytest.fixture
def service_factory(settings_factory: Callable[..., Settings]) -> Iterator[Callable[..., NeedleService]]:
    """Build services on a temporary data dir; they share the process's loaded model, so this is fast."""
    created: list[NeedleService] = []

    def factory(**overrides: Any) -> NeedleService:
        service = NeedleService(settings_factory(**overrides))
        created.append(service)
        return service

    yield factory
    for service in created:
        service.close()


@pytest.fixture
def empty_service(service_factory: Callable[..., NeedleService]) -> NeedleService:
    return service_factory()


@pytest.fixture(scope="session")
def handbook_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    """One service with the whole sample handbook indexed. Read-only: tests must not ingest or delete."""
    service = NeedleService(make_settings(tmp_path_factory.mktemp("handbook")))
    results = service.ingest_paths([HANDBOOK])
    assert all(result.status == "indexed" for result in results), results
    yield service
    service.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """A record store on SQLite, and one speaking to the local Elasticsearch test server through the real
    client: features built on records are tested on both stores."""
    if request.param == "sqlite":
        store: RecordStore = SqliteRecordStore(tmp_path / "records.sqlite3")
        yield store
        store.close()
        return
    from elasticsearch import Elasticsearch

    with fake_elasticsearch() as (url, _state):
        store = ElasticsearchRecordStore(Elasticsearch(url), "needle")
        yield store
        store.close()

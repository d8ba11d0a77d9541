"""Fixtures for the core tests that run the ``needle`` command in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.base.settings import get_settings
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.support.fake_tgi import FakeTGIState, fake_tgi_server


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory for commands that read their settings from the environment."""
    monkeypatch.setenv("NEEDLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def tgi() -> Iterator[tuple[str, FakeTGIState]]:
    """A local server speaking text-generation-inference's chat protocol; its state scripts the replies."""
    with fake_tgi_server() as server:
        yield server


@pytest.fixture
def llm_service(service_factory, tgi) -> NeedleService:
    """A service whose LLM is the local TGI server, over three handbook documents."""
    url, _ = tgi
    service = service_factory(llm_api="tgi", llm_url=url, llm_timeout_seconds=2, hf_token="hf_test_token")
    for name in ("leave-policy.md", "travel-and-expenses-policy.pdf", "it-setup-guide.md"):
        service.ingest_file(HANDBOOK / name)
    return service

"""Fixtures for the connector tests: a real service (bundled model, embedded store), a real directory
tree, a store-write counter, and an in-memory connector whose faults a test scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pipelines.connectors import base
from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
)
from pipelines.service import NeedleService
from tests.support.connector_bench import WRITES


@dataclass
class StoreWrites:
    """Every write the document store receives (chunks written, deleted, meta updated)."""

    calls: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def service(service_factory: Callable[..., NeedleService]) -> NeedleService:
    return service_factory()


@pytest.fixture
def writes(service: NeedleService, monkeypatch: pytest.MonkeyPatch) -> StoreWrites:
    counter = StoreWrites()
    store = service.store
    # Every way the store writes, replace_sources included (how the embedded store writes a source).
    for name in WRITES:
        if not hasattr(store, name):
            continue
        original = getattr(store, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            counter.calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return counter


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """A small file share: two documents in two folders, and files Needle must leave alone."""
    root = tmp_path / "share"
    (root / "hr").mkdir(parents=True)
    (root / "it").mkdir()
    (root / ".git").mkdir()
    (root / "hr" / "leave-policy.md").write_text(
        "# Leave policy\n\nEmployees get 27 days of paid leave a year, plus public holidays.\n"
    )
    (root / "it" / "vpn.txt").write_text(
        "VPN setup\n\nInstall the Tunnelblick client and import corp.ovpn.\n"
    )
    (root / "it" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / ".git" / "notes.md").write_text("# Internal\n\nnot part of the share\n")
    (root / ".draft.md").write_text("# Draft\n\nhidden\n")
    return root


@dataclass
class Doc:
    text: str
    version: str = "1"
    audience: tuple[str, ...] | None = None
    gone: bool = False
    unmapped: tuple[str, ...] = ()


class ScriptedConnector(Connector):
    """Lists and fetches ``docs`` (id -> :class:`Doc`); ``script`` injects the faults a test wants."""

    kind: ClassVar[str] = "scripted"
    settings: ClassVar[dict[str, str]] = {"site": "a name"}
    docs: ClassVar[dict[str, Doc]] = {}
    script: ClassVar[dict[str, Any]] = {}
    fetched: ClassVar[list[tuple[str, str | None]]] = []

    def list_documents(self) -> Iterator[DocumentRef]:
        fail_after = self.script.get("listing_fails_after")
        for number, (doc_id, doc) in enumerate(sorted(self.docs.items())):
            if fail_after is not None and number >= fail_after:
                raise self.script.get(
                    "listing_error", ConnectorError("the server answered 503", retryable=True)
                )
            yield DocumentRef(
                id=doc_id,
                title=f"Doc {doc_id}",
                version=doc.version,
                url=f"https://wiki.example.com/{doc_id}",
                modified="2026-12-01T10:00:00+00:00",
                audience=doc.audience,
                unmapped=doc.unmapped,
            )

    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        self.fetched.append((ref.id, previous_version))
        error = self.script.get("fetch_errors", {}).get(ref.id)
        if error is not None:
            raise error
        doc = self.docs[ref.id]
        if doc.gone:
            return Gone(ref)
        if previous_version is not None and ref.id in self.script.get("not_modified", ()):  # a 304
            return NotModified(ref)
        return FetchedDocument(ref, doc.text.encode(), f"{ref.id}.md")


@pytest.fixture
def scripted() -> Iterator[type[ScriptedConnector]]:
    """The scripted connector, registered for one test (and its class state fresh)."""
    ScriptedConnector.docs = {}
    ScriptedConnector.script = {}
    ScriptedConnector.fetched = []
    base.register(ScriptedConnector)
    yield ScriptedConnector
    base._REGISTRY.pop("scripted", None)

"""Haystack's shared document-store suite, run against Needle's embedded store as the service builds it.

Every test Haystack ships in ``haystack.testing.document_store`` runs here unchanged, except where the
embedded store differs by design; each such override says why and asserts the equivalent behaviour.
The async suites (``haystack.testing.document_store_async``) need pytest-asyncio, which Needle does not
use; the async mutators are covered by ``TestEveryMutationPersists`` below instead.

Then, for every public method that changes data, a test that changes the store through that method,
opens a second store on the same directory (another process, or this one after a restart) and checks
that it sees the change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError
from haystack.testing.document_store import (
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    DocumentStoreBaseExtendedTests,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldUniqueValuesTest,
)

from pipelines.base.settings import Settings
from pipelines.stores import EmbeddedDocumentStore, build_document_store
from tests.core.test_store import _doc

EMBEDDING_DIM = 768  # Haystack's filterable documents carry 768-dimensional embeddings


def _build(data_dir: Path) -> EmbeddedDocumentStore:
    store = build_document_store(Settings(data_dir=data_dir, store="memory"), EMBEDDING_DIM)
    assert isinstance(store, EmbeddedDocumentStore)
    return store


def _reopened(store: EmbeddedDocumentStore) -> EmbeddedDocumentStore:
    """A second store on the same directory: what another process, or a restart, would see."""
    return EmbeddedDocumentStore(store.path)


def _without_embedding(document: Document) -> Document:
    return Document(id=document.id, content=document.content, meta=document.meta, blob=document.blob)


class TestHaystackDocumentStoreSuite(
    DocumentStoreBaseExtendedTests,
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldUniqueValuesTest,
):
    @pytest.fixture
    def document_store(self, tmp_path: Path) -> EmbeddedDocumentStore:
        return _build(tmp_path / "data")

    @staticmethod
    def assert_documents_are_equal(received: list[Document], expected: list[Document]) -> None:
        """The embedded store does not hand embeddings back from ``filter_documents``.

        It keeps them only as L2-normalised float32 rows of its search matrix (the input vector is not
        kept, so it could not be returned unchanged) and returns documents without them, as Haystack's
        store does with ``return_embedding=False``. Everything else must be equal, in any order, and
        which documents have an embedding is checked against the search matrix.
        """
        assert sorted((_without_embedding(doc) for doc in received), key=lambda d: d.id) == sorted(
            (_without_embedding(doc) for doc in expected), key=lambda d: d.id
        )
        assert all(doc.embedding is None for doc in received)

    def test_write_documents(self, document_store: EmbeddedDocumentStore) -> None:
        """Haystack leaves the default policy to each store: here NONE means FAIL, like Haystack's own."""
        doc = Document(content="test doc", embedding=[1.0] + [0.0] * (EMBEDDING_DIM - 1))
        assert document_store.write_documents([doc]) == 1
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])
        assert set(document_store.embeddings_for([doc.id])) == {doc.id}
        with pytest.raises(Exception, match="already exists"):
            document_store.write_documents([doc])
        assert _reopened(document_store).count_documents() == 1

    def test_delete_all_documents_without_recreate_index(self, document_store: EmbeddedDocumentStore) -> None:
        """Haystack skips this for stores without a ``recreate_index`` parameter. The embedded store has
        no index to recreate (its segments are files under one directory), so instead: deleting
        everything leaves an empty, persisted store that accepts new documents, even of a new
        embedding dimension (deleting everything is how a store moves to another embedding model)."""
        document_store.write_documents([Document(id="1", content="first", embedding=[1.0, 0.0, 0.0])])
        document_store.delete_all_documents()
        assert document_store.count_documents() == 0
        assert _reopened(document_store).count_documents() == 0
        document_store.write_documents([Document(id="2", content="second", embedding=[0.0, 1.0])])
        assert [doc.id for doc in _reopened(document_store).filter_documents()] == ["2"]

    def test_delete_all_documents_with_recreate_index(self, document_store: EmbeddedDocumentStore) -> None:
        """Skipped by Haystack without ``recreate_index`` (see above); the equivalent here is that the
        old segments' files are gone after a delete-all, not merely hidden."""
        document_store.write_documents([Document(id="1", content="A first document")])
        document_store.delete_all_documents()
        assert sorted(p.name for p in document_store.path.iterdir()) == ["LOCK", "MANIFEST"]
        document_store.write_documents([Document(id="3", content="New document after delete all")])
        assert [doc.content for doc in _reopened(document_store).filter_documents()] == [
            "New document after delete all"
        ]


# ----------------------------------------------------------------------------------------------------
# every mutation persists
# ----------------------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> EmbeddedDocumentStore:
    store = _build(tmp_path / "data")
    store.write_documents(
        [
            _doc(
                "a1", "Employees receive 25 vacation days per year.", [1.0, 0.0, 0.0], tags=["hr"], year=2025
            ),
            _doc("b1", "Connect to the VPN on port 443.", [0.0, 1.0, 0.0], tags=["it"], year=2026),
            _doc("c1", "Badges open the office doors.", [0.0, 0.0, 1.0], tags=["it"], year=2026),
        ]
    )
    return store


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": "==", "value": value}


def _ids(store: EmbeddedDocumentStore) -> list[str]:
    return sorted(doc.id for doc in store.filter_documents())


class TestEveryMutationPersists:
    def test_write_documents(self, store: EmbeddedDocumentStore) -> None:
        store.write_documents([_doc("d1", "Lunch is at noon.", [0.5, 0.5, 0.0])])
        assert _ids(_reopened(store)) == ["a1", "b1", "c1", "d1"]

    def test_write_documents_overwrite(self, store: EmbeddedDocumentStore) -> None:
        store.write_documents(
            [_doc("a1", "Holiday rules changed.", [0.0, 1.0, 0.0])], DuplicatePolicy.OVERWRITE
        )
        reopened = _reopened(store)
        assert [doc.id for doc in reopened.bm25_retrieval("holiday")] == ["a1"]
        assert np.allclose(reopened.embeddings_for(["a1"])["a1"], [0.0, 1.0, 0.0])

    def test_delete_documents(self, store: EmbeddedDocumentStore) -> None:
        store.delete_documents(["a1"])
        assert _ids(_reopened(store)) == ["b1", "c1"]

    def test_delete_all_documents(self, store: EmbeddedDocumentStore) -> None:
        store.delete_all_documents()
        assert _reopened(store).count_documents() == 0

    def test_delete_by_filter(self, store: EmbeddedDocumentStore) -> None:
        assert store.delete_by_filter(_eq("meta.year", 2026)) == 2
        assert _ids(_reopened(store)) == ["a1"]

    def test_update_by_filter(self, store: EmbeddedDocumentStore) -> None:
        assert store.update_by_filter(_eq("meta.year", 2026), {"year": 2027}) == 2
        reopened = _reopened(store)
        assert sorted(doc.id for doc in reopened.filter_documents(_eq("meta.year", 2027))) == [
            "b1",
            "c1",
        ]
        # the documents keep their embeddings and stay searchable
        assert [doc.id for doc in reopened.embedding_retrieval([0.0, 1.0, 0.0], top_k=1)] == ["b1"]
        assert [doc.id for doc in reopened.bm25_retrieval("VPN")] == ["b1"]

    def test_update_by_filter_reindexes_the_title_for_bm25(self, store: EmbeddedDocumentStore) -> None:
        store.update_by_filter(_eq("id", "c1"), {"title": "Security handbook"})
        assert [doc.id for doc in store.bm25_retrieval("handbook")] == ["c1"]
        assert [doc.id for doc in _reopened(store).bm25_retrieval("handbook")] == ["c1"]

    def test_replace_sources(self, store: EmbeddedDocumentStore) -> None:
        store.replace_sources({"a": [_doc("a2", "Vacation is now 27 days.", [1.0, 0.0, 0.0])]})
        assert _ids(_reopened(store)) == ["a2", "b1", "c1"]

    def test_async_mutators(self, store: EmbeddedDocumentStore) -> None:
        """Haystack's async methods run the sync ones on an executor thread; they persist the same way."""

        async def mutate() -> None:
            await store.write_documents_async([_doc("d1", "Lunch is at noon.", [0.5, 0.5, 0.0])])
            await store.delete_documents_async(["a1"])
            await store.update_by_filter_async(_eq("id", "b1"), {"year": 1999})

        asyncio.run(mutate())
        reopened = _reopened(store)
        assert _ids(reopened) == ["b1", "c1", "d1"]
        assert reopened.filter_documents(_eq("meta.year", 1999))[0].id == "b1"
        asyncio.run(store.delete_all_documents_async())
        assert _reopened(store).count_documents() == 0

    # The filter is matched under the write lock, after catching up with other processes: a long-running
    # server updating or deleting by filter must not miss chunks an ingest in a terminal just added.
    def test_update_by_filter_sees_what_another_process_wrote(self, tmp_path: Path) -> None:
        serving = EmbeddedDocumentStore(tmp_path / "shared", refresh_seconds=3600)
        terminal = EmbeddedDocumentStore(tmp_path / "shared")
        terminal.write_documents([_doc("a1", "vacation days", [1.0, 0.0], team="hr")])
        assert serving.update_by_filter(_eq("meta.team", "hr"), {"reviewed": True}) == 1
        assert _ids_of(_reopened(terminal).filter_documents(_eq("meta.reviewed", True))) == ["a1"]

    def test_delete_by_filter_sees_what_another_process_wrote(self, tmp_path: Path) -> None:
        serving = EmbeddedDocumentStore(tmp_path / "shared", refresh_seconds=3600)
        serving.write_documents([_doc("a1", "vacation days", [1.0, 0.0], team="hr")])
        EmbeddedDocumentStore(tmp_path / "shared").write_documents(
            [_doc("a2", "more vacation days", [1.0, 0.0], team="hr")]
        )
        assert serving.delete_by_filter(_eq("meta.team", "hr")) == 2
        assert _reopened(serving).count_documents() == 0

    def test_filtered_mutations_use_the_same_list_semantics_as_filter_documents(
        self, store: EmbeddedDocumentStore
    ) -> None:
        """``meta.tags == "it"`` matches a chunk tagged ["it"] in ``filter_documents`` (as in Elasticsearch);
        updating and deleting by that filter must touch the same chunks."""
        it = _eq("meta.tags", "it")
        assert _ids_of(store.filter_documents(it)) == ["b1", "c1"]
        assert store.count_documents_by_filter(it) == 2
        assert store.update_by_filter(it, {"team": "it"}) == 2
        assert store.delete_by_filter(it) == 2
        assert _ids(_reopened(store)) == ["a1"]

    def test_a_failed_filtered_mutation_leaves_memory_as_the_disk(
        self, store: EmbeddedDocumentStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def disk_full(snapshot: object) -> None:
            raise OSError("No space left on device")

        monkeypatch.setattr(store, "_persist", disk_full)
        with pytest.raises(OSError, match="No space"):
            store.update_by_filter(_eq("meta.year", 2026), {"year": 1})
        with pytest.raises(OSError, match="No space"):
            store.delete_by_filter(_eq("meta.year", 2026))
        assert store.filter_documents(_eq("meta.year", 1)) == []
        assert _ids(store) == ["a1", "b1", "c1"]

    def test_update_by_filter_does_not_change_documents_already_handed_out(
        self, store: EmbeddedDocumentStore
    ) -> None:
        """Searches run on immutable snapshots: an update builds new documents instead of editing the
        ones a concurrent search (or a caller) is holding."""
        held = store.filter_documents(_eq("id", "a1"))[0]
        store.update_by_filter(_eq("id", "a1"), {"year": 1990})
        assert held.meta["year"] == 2025

    def test_invalid_filters_are_refused_before_anything_changes(self, store: EmbeddedDocumentStore) -> None:
        before = store.generation_files()
        with pytest.raises(ValueError, match="'operator' key missing"):
            store.update_by_filter({"field": "meta.year", "value": 2026}, {"year": 1})
        with pytest.raises(FilterError, match="'operator' key missing"):
            store.delete_by_filter({"conditions": []})
        with pytest.raises(ValueError, match="list of Documents"):
            store.write_documents(["not a document"])  # type: ignore[list-item]
        assert store.generation_files() == before


def _ids_of(documents: list[Document]) -> list[str]:
    return sorted(doc.id for doc in documents)

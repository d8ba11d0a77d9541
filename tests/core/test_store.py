"""The embedded store on its own: Haystack's interfaces, fast search, atomic persistence.

How it grows by segments (writes in proportion to the change, merges, other processes catching up) is
tested in ``test_store_segments.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from haystack import Document
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy

from pipelines.stores import EmbeddedDocumentStore


def _doc(doc_id: str, text: str, vector: list[float], **meta) -> Document:
    return Document(id=doc_id, content=text, meta={"source_id": doc_id[0], **meta}, embedding=vector)


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedDocumentStore:
    store = EmbeddedDocumentStore(tmp_path / "store")
    store.write_documents(
        [
            _doc("a1", "Employees receive 25 vacation days per year.", [1.0, 0.0, 0.0], tags=["hr"]),
            _doc("b1", "Connect to the VPN on port 443.", [0.0, 1.0, 0.0], tags=["it", "security"]),
            _doc("c1", "每位全职员工每年享有25天带薪年假。", [0.0, 0.0, 1.0], tags=[]),
        ]
    )
    return store


def test_haystack_retrievers_work_on_it(store: EmbeddedDocumentStore) -> None:
    bm25 = InMemoryBM25Retriever(document_store=store, top_k=2).run(query="vacation day")["documents"]
    assert [doc.id for doc in bm25] == ["a1"]  # "days" and "day" meet after stemming; only a1 shares a term
    dense = InMemoryEmbeddingRetriever(document_store=store, top_k=2).run(query_embedding=[0.1, 0.9, 0.0])
    assert [doc.id for doc in dense["documents"]] == ["b1", "a1"]
    assert dense["documents"][0].score == pytest.approx(0.9 / np.sqrt(0.82))


def test_chinese_is_searched_by_bigrams(store: EmbeddedDocumentStore) -> None:
    assert [doc.id for doc in store.bm25_retrieval("年假有多少天")] == ["c1"]


def test_list_valued_tags_filter_like_elasticsearch(store: EmbeddedDocumentStore) -> None:
    security = {"field": "meta.tags", "operator": "in", "value": ["security"]}
    assert [doc.id for doc in store.filter_documents(security)] == ["b1"]
    assert [doc.id for doc in store.embedding_retrieval([1.0, 0.0, 0.0], filters=security)] == ["b1"]
    assert store.bm25_retrieval("vacation", filters=security) == []


def test_duplicate_policies(store: EmbeddedDocumentStore) -> None:
    with pytest.raises(DuplicateDocumentError):
        store.write_documents([_doc("a1", "again", [1.0, 0.0, 0.0])])
    assert store.write_documents([_doc("a1", "again", [1.0, 0.0, 0.0])], policy=DuplicatePolicy.SKIP) == 0
    store.write_documents(
        [_doc("a1", "Holiday rules changed.", [1.0, 0.0, 0.0])], policy=DuplicatePolicy.OVERWRITE
    )
    assert store.bm25_retrieval("vacation") == []
    assert [doc.id for doc in store.bm25_retrieval("holiday")] == ["a1"]


def test_replace_sources_swaps_chunks_and_persists_once(store: EmbeddedDocumentStore, tmp_path: Path) -> None:
    store.replace_sources({"a": [_doc("a2", "Vacation is now 27 days.", [1.0, 0.0, 0.0])]})
    assert sorted(doc.id for doc in store.filter_documents()) == ["a2", "b1", "c1"]
    reopened = EmbeddedDocumentStore(tmp_path / "store")
    assert sorted(doc.id for doc in reopened.filter_documents()) == ["a2", "b1", "c1"]
    assert [doc.id for doc in reopened.embedding_retrieval([1.0, 0.0, 0.0], top_k=1)] == ["a2"]
    # One new segment for a2, and a1's row marked dead in the first segment: nothing else is rewritten.
    assert len(reopened.segment_names()) == 2
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        "LOCK",
        "MANIFEST",
        *reopened.segment_names(),
    ]


def test_a_crash_before_the_switch_leaves_the_old_store(store: EmbeddedDocumentStore, tmp_path: Path) -> None:
    before = store.generation_files()
    # What a process killed while writing leaves behind: a half-written staging directory, and a
    # finished segment the manifest never came to name.
    (tmp_path / "store" / ".seg-999.tmp").mkdir()
    (tmp_path / "store" / ".seg-999.tmp" / "documents.jsonl").write_text("{broken")
    (tmp_path / "store" / "seg-998").mkdir()
    (tmp_path / "store" / "seg-998" / "documents.jsonl").write_text('{"id": "ghost", "content": "x"}')
    reopened = EmbeddedDocumentStore(tmp_path / "store")
    assert reopened.generation_files() == before
    assert reopened.count_documents() == 3
    reopened.write_documents([_doc("d1", "More vacation.", [1.0, 0.0, 0.0])])
    assert not (tmp_path / "store" / ".seg-999.tmp").exists()  # the next write clears them away
    assert not (tmp_path / "store" / "seg-998").exists()
    assert "ghost" not in {doc.id for doc in reopened.filter_documents()}


def test_a_failed_write_to_disk_leaves_memory_as_the_disk(store: EmbeddedDocumentStore, monkeypatch) -> None:
    def disk_full(snapshot: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(store, "_persist", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.write_documents([_doc("d1", "More vacation.", [1.0, 0.0, 0.0])])
    assert sorted(doc.id for doc in store.filter_documents()) == ["a1", "b1", "c1"]
    assert [doc.id for doc in store.bm25_retrieval("vacation")] == ["a1"]


def test_embedding_dimension_mismatch_is_refused_and_nothing_is_half_written(
    store: EmbeddedDocumentStore,
) -> None:
    with pytest.raises(ValueError, match="re-index"):
        store.write_documents([_doc("y1", "fine", [1.0, 0.0, 0.0]), _doc("z1", "x", [1.0, 0.0])])
    assert sorted(doc.id for doc in store.filter_documents()) == ["a1", "b1", "c1"]
    assert "y1" not in store.storage


def test_two_processes_sharing_the_directory_never_write_over_each_other(tmp_path: Path) -> None:
    """Two stores on one directory stand for two processes (``needle serve`` and ``needle ingest``)."""
    serving = EmbeddedDocumentStore(tmp_path / "shared", refresh_seconds=0)
    serving.write_documents([_doc("a1", "Employees receive 25 vacation days.", [1.0, 0.0, 0.0])])
    terminal = EmbeddedDocumentStore(tmp_path / "shared", refresh_seconds=0)
    terminal.write_documents([_doc("b1", "Connect to the VPN on port 443.", [0.0, 1.0, 0.0])])

    # The serving store finds what the other one wrote, by BM25 and by embedding, without a restart.
    assert [doc.id for doc in serving.bm25_retrieval("VPN port")] == ["b1"]
    assert serving.embedding_retrieval([0.0, 1.0, 0.0], top_k=1)[0].id == "b1"
    # Its next write builds on the other's sources instead of persisting its stale copy over them.
    serving.write_documents([_doc("c1", "Badges open the office.", [0.0, 0.0, 1.0])])
    assert sorted(doc.id for doc in EmbeddedDocumentStore(tmp_path / "shared").filter_documents()) == [
        "a1",
        "b1",
        "c1",
    ]
    assert sorted(doc.id for doc in terminal.filter_documents()) == ["a1", "b1", "c1"]
    segments = sorted(p.name for p in (tmp_path / "shared").iterdir() if p.name.startswith("seg-"))
    assert segments == sorted(terminal.segment_names())  # one segment per write, no stray copies


def test_a_store_checks_for_other_writers_at_most_once_per_interval(tmp_path: Path) -> None:
    patient = EmbeddedDocumentStore(tmp_path / "shared", refresh_seconds=3600)
    EmbeddedDocumentStore(tmp_path / "shared").write_documents([_doc("a1", "vacation days", [1.0, 0.0])])
    assert patient.count_documents() == 0  # not checked yet: searches do not read the disk every time
    patient.refresh_seconds = 0
    assert patient.count_documents() == 1

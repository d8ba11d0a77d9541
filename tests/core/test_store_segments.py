"""The embedded store grows by segments: writes cost what they change, scores stay those of one index.

Issue 14 asks that writing or deleting a source costs in proportion to that source, and that another
process sees it without reloading the corpus. These tests prove the mechanics (which files a write
touches, which segments a reader loads, that merged and unmerged stores answer alike); the timings are
measured by ``scripts/bench_store.py``, not here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import bm25s
import numpy as np
import pytest
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy

from pipelines.stores import EmbeddedDocumentStore
from pipelines.stores.memory import MERGE_FACTOR, REWRITE_DEAD_ROWS
from pipelines.text.analysis import analyze

WORDS = [
    "vacation",
    "leave",
    "days",
    "policy",
    "office",
    "travel",
    "hotel",
    "limit",
    "expense",
    "claim",
    "laptop",
    "password",
    "vpn",
    "badge",
    "parental",
    "pension",
    "salary",
    "review",
    "manager",
    "approval",
    "remote",
    "work",
    "security",
    "incident",
    "report",
]


def _chunk(doc_id: str, source: str, rng: random.Random, dim: int = 4) -> Document:
    vector = [rng.uniform(-1, 1) for _ in range(dim)]
    text = " ".join(rng.choices(WORDS, k=rng.randint(5, 30)))
    return Document(id=doc_id, content=text, meta={"source_id": source, "title": source}, embedding=vector)


def _source(name: str, chunks: int, rng: random.Random) -> list[Document]:
    return [_chunk(f"{name}-{i}", name, rng) for i in range(chunks)]


def _files(path: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(file.relative_to(path)): (file.stat().st_mtime_ns, file.read_bytes())
        for file in path.rglob("*")
        if file.is_file() and file.name != "LOCK"
    }


def _reference_bm25(store: EmbeddedDocumentStore, query: str, k: int) -> list[tuple[str, float]]:
    """What one ``bm25s`` index over the live chunks scores (the embedded store before segments)."""
    documents = store.filter_documents()
    index = bm25s.BM25(k1=store.bm25_k1, b=store.bm25_b, method="lucene")
    index.index([analyze(f"{doc.meta['title']} {doc.content}") for doc in documents], show_progress=False)
    tokens = [token for token in analyze(query) if token in (index.vocab_dict or {})]
    rows, scores = index.retrieve([tokens], k=k, show_progress=False, n_threads=1)
    return [(documents[int(r)].id, float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]


def test_scores_over_many_segments_equal_one_index_over_the_live_chunks(tmp_path: Path) -> None:
    """Writes, overwrites and deletes spread chunks over segments with dead rows; BM25 statistics are
    still the corpus's, so every score equals a single fresh index's."""
    rng = random.Random(3)
    store = EmbeddedDocumentStore(tmp_path / "store")
    for number in range(12):
        store.write_documents(_source(f"s{number}", rng.randint(1, 12), rng))
    store.replace_sources({"s3": _source("s3", 4, rng), "s7": []})
    store.delete_documents(["s1-0", "s5-1"])
    store.write_documents([_chunk("s2-0", "s2", rng)], policy=DuplicatePolicy.OVERWRITE)
    assert len(store.segment_names()) > 1
    for query in ("vacation days", "hotel limit travel expense", "password vpn vpn", "unknown words"):
        ours = {doc.id: doc.score for doc in store.bm25_retrieval(query, top_k=500)}  # every match
        reference = dict(_reference_bm25(store, query, store.count_documents()))
        assert ours == pytest.approx(reference, rel=1e-5)
        assert bool(ours) == (query != "unknown words")


def test_a_write_touches_only_its_own_segment_and_the_manifest(tmp_path: Path) -> None:
    rng = random.Random(5)
    store = EmbeddedDocumentStore(tmp_path / "store")
    store.write_documents([doc for n in range(40) for doc in _source(f"big{n}", 10, rng)])
    before = _files(tmp_path / "store")

    store.write_documents(_source("new", 10, rng))
    after = _files(tmp_path / "store")
    changed = {name for name in after if before.get(name) != after[name]}
    new_segment = store.segment_names()[-1]
    assert changed == {"MANIFEST"} | {name for name in after if name.startswith(new_segment + "/")}

    store.replace_sources({"big3": []})  # deleting a source writes one small dead-row file
    latest = _files(tmp_path / "store")
    changed = {name for name in latest if after.get(name) != latest[name]}
    assert changed - {"MANIFEST"} and all("/deleted-" in name for name in changed - {"MANIFEST"})
    assert {name for name in after if "documents.jsonl" in name} <= set(latest)  # still in force
    assert store.count_documents() == 400


def test_another_process_loads_only_the_segments_it_has_not_seen(tmp_path: Path) -> None:
    rng = random.Random(9)
    writer = EmbeddedDocumentStore(tmp_path / "store")
    writer.write_documents(_source("first", 20, rng))
    reader = EmbeddedDocumentStore(tmp_path / "store", refresh_seconds=0)
    held = reader._view.segments[0]  # the segment object this reader loaded

    writer.write_documents(_source("second", 5, rng))
    writer.delete_documents(["first-0"])
    assert reader.count_documents() == 24
    assert reader._view.segments[0] is held  # kept, not reloaded: only the new segment was read
    assert "first-0" not in {doc.id for doc in reader.filter_documents()}
    assert [doc.id for doc in reader.bm25_retrieval(writer.filter_documents()[-1].content, top_k=1)]


def test_small_writes_are_merged_and_answers_do_not_change(tmp_path: Path) -> None:
    rng = random.Random(11)
    store = EmbeddedDocumentStore(tmp_path / "store")
    store.write_documents([doc for n in range(30) for doc in _source(f"base{n}", 8, rng)])
    query = "travel hotel expense"
    vector = [0.3, -0.2, 0.9, 0.1]
    for number in range(MERGE_FACTOR * 3):
        store.write_documents(_source(f"small{number}", 3, rng))
        if number == 5:
            before_bm25 = [(d.id, d.score) for d in store.bm25_retrieval(query, top_k=20)]
    # Three tiers' worth of small writes never leave MERGE_FACTOR segments of one size.
    assert len(store.segment_names()) < MERGE_FACTOR + 2
    reopened = EmbeddedDocumentStore(tmp_path / "store")
    assert reopened.count_documents() == 30 * 8 + MERGE_FACTOR * 3 * 3
    assert sorted(d.id for d in reopened.filter_documents()) == sorted(d.id for d in store.filter_documents())
    assert [(d.id, d.score) for d in reopened.embedding_retrieval(vector, top_k=5)] == [
        (d.id, d.score) for d in store.embedding_retrieval(vector, top_k=5)
    ]
    # Scores moved only because the corpus grew; a fresh single index agrees with the merged store.
    assert before_bm25
    reference = _reference_bm25(reopened, query, 20)
    assert [d.score for d in reopened.bm25_retrieval(query, top_k=20)] == pytest.approx(
        [score for _, score in reference], rel=1e-5
    )


def test_a_mostly_dead_segment_is_rewritten_without_its_dead_rows(tmp_path: Path) -> None:
    rng = random.Random(13)
    store = EmbeddedDocumentStore(tmp_path / "store")
    documents = _source("bulk", REWRITE_DEAD_ROWS * 2, rng)
    store.write_documents(documents)
    first = store.segment_names()[0]
    store.delete_documents([doc.id for doc in documents[: REWRITE_DEAD_ROWS + 1]])
    assert first not in store.segment_names()
    assert not (tmp_path / "store" / first).exists()
    survivors = {doc.id for doc in documents[REWRITE_DEAD_ROWS + 1 :]}
    assert {doc.id for doc in EmbeddedDocumentStore(tmp_path / "store").filter_documents()} == survivors
    remaining = documents[-1]
    found = store.embedding_retrieval(remaining.embedding, top_k=1)
    assert found[0].id == remaining.id and found[0].score == pytest.approx(1.0)


def test_a_store_written_before_segments_is_converted_on_first_open(tmp_path: Path) -> None:
    """Needle's previous layout: ``CURRENT`` naming a generation with all chunks and one matrix."""
    old = tmp_path / "store"
    generation = old / "gen-1"
    generation.mkdir(parents=True)
    records = [
        {"id": "a1", "content": "Employees receive 25 vacation days.", "meta": {"source_id": "a"}},
        {"id": "b1", "content": "Connect to the VPN on port 443.", "meta": {"source_id": "b"}},
    ]
    with (generation / "documents.jsonl").open("w", encoding="utf-8") as handle:
        for record, embedded in zip(records, (True, False), strict=True):
            handle.write(json.dumps({**record, "has_embedding": embedded}) + "\n")
    np.save(generation / "embeddings.npy", np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    (old / "CURRENT").write_text("gen-1")

    store = EmbeddedDocumentStore(old)
    assert [doc.id for doc in store.bm25_retrieval("VPN port")] == ["b1"]
    assert [doc.id for doc in store.embedding_retrieval([1.0, 0.1])] == ["a1"]  # b1 has no embedding
    assert sorted(p.name for p in old.iterdir() if not p.name.startswith("seg-")) == ["LOCK", "MANIFEST"]
    assert sorted(doc.id for doc in EmbeddedDocumentStore(old).filter_documents()) == ["a1", "b1"]


def test_a_new_embedding_model_is_accepted_once_every_embedded_chunk_is_gone(tmp_path: Path) -> None:
    store = EmbeddedDocumentStore(tmp_path / "store")
    store.write_documents([Document(id="a", content="vacation", embedding=[1.0, 0.0, 0.0])])
    store.write_documents([Document(id="b", content="no vector here")])
    with pytest.raises(ValueError, match="re-index"):
        store.write_documents([Document(id="c", content="x", embedding=[1.0, 0.0])])
    store.delete_documents(["a"])
    store.write_documents([Document(id="c", content="x", embedding=[0.0, 1.0])])
    assert [doc.id for doc in store.embedding_retrieval([0.0, 1.0])] == ["c"]
    assert sorted(doc.id for doc in EmbeddedDocumentStore(tmp_path / "store").filter_documents()) == [
        "b",
        "c",
    ]


def _clustered(count: int, rng: np.random.Generator, dim: int = 16, clusters: int = 12) -> np.ndarray:
    """Unit vectors around a few directions, as real embeddings of a corpus on a few topics are."""
    centers = rng.standard_normal((clusters, dim))
    vectors = centers[rng.integers(0, clusters, count)] + 0.25 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_a_large_store_partitions_dense_search_once_and_keeps_it_close_to_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``PARTITION_FROM`` chunks (lowered here) dense search reads only the nearest partitions.
    Centroids are trained once, new segments and merges are filed under them, another process loads
    them, and the results stay close to an exact search's."""
    from pipelines.stores import memory

    monkeypatch.setattr(memory, "SCAN_BELOW", 0)
    rng = np.random.default_rng(0)
    vectors = _clustered(1_600, rng)
    documents = [
        Document(
            id=f"d{i}",
            content=f"chunk {i}",
            meta={"source_id": f"s{i // 8}", "team": i % 5},
            embedding=v.tolist(),
        )
        for i, v in enumerate(vectors)
    ]
    store = EmbeddedDocumentStore(tmp_path / "store", partition_from=600)
    store.write_documents(documents[:400])
    assert store._view.centroids is None  # small: exact search
    store.write_documents(documents[400:800])
    centroids = store._view.centroids
    assert centroids is not None and (tmp_path / "store" / f"{centroids.name}.npy").exists()
    for start in range(800, 1_600, 100):  # later writes are filed under the same centroids
        store.write_documents(documents[start : start + 100])
    assert store._view.centroids is centroids
    assert all(inverted is not None for inverted in store._view.inverted)

    reader = EmbeddedDocumentStore(tmp_path / "store")
    assert reader._view.centroids is not None and reader._view.centroids.name == centroids.name
    queries = _clustered(40, rng)
    overlap = []
    for query in queries:
        found = [doc.id for doc in reader.embedding_retrieval(query.tolist(), top_k=10)]
        exact = np.argsort(-(vectors @ query))[:10]
        overlap.append(len(set(found) & {f"d{i}" for i in exact}) / 10)
    assert np.mean(overlap) >= 0.9
    # A stored vector finds itself: its own partition is always among the nearest.
    assert reader.embedding_retrieval(vectors[1234].tolist(), top_k=1)[0].id == "d1234"
    # A narrow filter is searched exactly over the rows it allows.
    team = {"field": "meta.team", "operator": "==", "value": 3}
    allowed = [i for i in range(1_600) if i % 5 == 3]
    exact = [f"d{allowed[i]}" for i in np.argsort(-(vectors[allowed] @ queries[0]))[:5]]
    assert [doc.id for doc in reader.embedding_retrieval(queries[0].tolist(), filters=team, top_k=5)] == exact

    store.delete_all_documents()
    assert store._view.centroids is None
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["LOCK", "MANIFEST"]


def test_a_partitioned_store_emptied_by_deletes_accepts_another_model(tmp_path: Path) -> None:
    """The centroids belong to one embedding model: once every embedded chunk is deleted (one by one,
    not by delete-all) and another model's vectors arrive, the store clusters those instead of failing."""
    rng = np.random.default_rng(2)
    store = EmbeddedDocumentStore(tmp_path / "store", partition_from=300)
    old = [
        Document(id=f"o{i}", content="old", embedding=v.tolist()) for i, v in enumerate(_clustered(400, rng))
    ]
    store.write_documents([*old, Document(id="plain", content="no vector")])
    assert store._view.centroids is not None
    store.delete_documents([doc.id for doc in old])
    new = [
        Document(id=f"n{i}", content="new", embedding=v.tolist())
        for i, v in enumerate(_clustered(400, rng, dim=8))
    ]
    store.write_documents(new)
    assert store._view.centroids is not None and store._view.centroids.vectors.shape[1] == 8
    assert store.embedding_retrieval(new[7].embedding, top_k=1)[0].id == "n7"
    assert EmbeddedDocumentStore(tmp_path / "store").count_documents() == 401

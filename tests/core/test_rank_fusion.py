from __future__ import annotations

import pytest
from haystack import Document

from pipelines.querying.components.rank_fusion import RankFusion


def _docs(ids: list[str], scores: list[float]) -> list[Document]:
    return [Document(id=i, content=i, score=s) for i, s in zip(ids, scores, strict=True)]


def test_rrf_orders_by_reciprocal_rank_and_keeps_each_retrievers_rank_and_score() -> None:
    bm25 = _docs(["a", "b", "c"], [12.0, 8.0, 1.0])
    dense = _docs(["c", "a", "d"], [0.9, 0.8, 0.7])
    fused = RankFusion(mode="rrf", rrf_k=60, top_k=10).run(bm25_documents=bm25, dense_documents=dense)[
        "documents"
    ]
    assert [doc.id for doc in fused] == ["a", "c", "b", "d"]
    top = fused[0]
    assert top.score == pytest.approx(1 / 61 + 1 / 62)
    assert top.meta["retrieval"]["bm25"] == {"rank": 1, "score": 12.0}
    assert top.meta["retrieval"]["dense"] == {"rank": 2, "score": 0.8}
    assert fused[2].meta["retrieval"]["dense"] is None  # b only came from BM25


def test_inputs_are_not_mutated() -> None:
    bm25 = _docs(["a"], [5.0])
    dense = _docs(["a"], [0.5])
    RankFusion().run(bm25_documents=bm25, dense_documents=dense)
    assert bm25[0].score == 5.0 and "retrieval" not in bm25[0].meta
    assert dense[0].score == 0.5


def test_weighted_mode_normalises_scores() -> None:
    bm25 = _docs(["a", "b"], [10.0, 0.0])
    dense = _docs(["b", "a"], [0.9, 0.1])
    fusion = RankFusion(mode="weighted", bm25_weight=1.0, dense_weight=3.0)
    fused = fusion.run(bm25_documents=bm25, dense_documents=dense)["documents"]
    assert [doc.id for doc in fused] == ["b", "a"]
    assert fused[0].score == pytest.approx(3.0)


def test_per_query_overrides_and_top_k() -> None:
    bm25 = _docs(["a", "b", "c"], [3.0, 2.0, 1.0])
    dense = _docs(["c", "b", "a"], [0.9, 0.8, 0.7])
    fusion = RankFusion(top_k=2)
    assert len(fusion.run(bm25_documents=bm25, dense_documents=dense)["documents"]) == 2
    only_dense = fusion.run(bm25_documents=bm25, dense_documents=dense, bm25_weight=0.0, top_k=3)["documents"]
    assert [doc.id for doc in only_dense] == ["c", "b", "a"]


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="fusion mode"):
        RankFusion(mode="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weights"):
        RankFusion(bm25_weight=0, dense_weight=0)

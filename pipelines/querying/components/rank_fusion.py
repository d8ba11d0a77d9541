"""Fuse the BM25 and dense result lists, and remember what each retriever said about every passage."""

from __future__ import annotations

import dataclasses
from typing import Literal

from haystack import Document, component

from pipelines.text.basics import query_language

FusionMode = Literal["rrf", "weighted"]


@component
class RankFusion:
    """Combine two ranked lists into one, by reciprocal rank fusion (default) or weighted scores.

    Unlike Haystack's ``DocumentJoiner``, the inputs are never mutated: the fused list holds copies whose
    ``meta["retrieval"]`` keeps each retriever's own rank and score and the fused score, which the
    admin console's debugger shows and the trace stores.

    - ``rrf``: ``score = sum(weight / (rrf_k + rank))``. Rank-based, so BM25's unbounded scores and cosine
      similarities need no calibration against each other.
    - ``weighted``: min-max normalise each list's scores to [0, 1], then ``sum(weight * normalised)``.

    Language-aware: when ``dense_languages`` is set and the query's language is not among them (a Chinese
    question to an English embedder), the dense list is left out, because an embedder ranking text it
    does not understand only pushes BM25's good matches down.
    """

    def __init__(
        self,
        mode: FusionMode = "rrf",
        rrf_k: int = 60,
        bm25_weight: float = 1.0,
        dense_weight: float = 1.0,
        top_k: int = 10,
        dense_languages: list[str] | None = None,
    ) -> None:
        if mode not in ("rrf", "weighted"):
            raise ValueError(f"unknown fusion mode {mode!r}; use 'rrf' or 'weighted'")
        if rrf_k < 1 or top_k < 1:
            raise ValueError("rrf_k and top_k must be at least 1")
        if bm25_weight < 0 or dense_weight < 0 or bm25_weight + dense_weight == 0:
            raise ValueError("fusion weights must be non-negative and not both zero")
        self.mode = mode
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.dense_weight = dense_weight
        self.top_k = top_k
        self.dense_languages = dense_languages

    @component.output_types(documents=list[Document])
    def run(
        self,
        bm25_documents: list[Document],
        dense_documents: list[Document],
        top_k: int | None = None,
        mode: FusionMode | None = None,
        rrf_k: int | None = None,
        bm25_weight: float | None = None,
        dense_weight: float | None = None,
        query: str | None = None,
    ) -> dict[str, list[Document]]:
        """Fuse the lists; the optional arguments override the configured values for this query only.

        ``query`` lets fusion check that the embedder understands the question's language.
        """
        mode = mode or self.mode
        skip_dense = bool(
            query and self.dense_languages is not None and query_language(query) not in self.dense_languages
        )
        rrf_k = rrf_k or self.rrf_k
        weights = {
            "bm25": self.bm25_weight if bm25_weight is None else bm25_weight,
            "dense": self.dense_weight if dense_weight is None else dense_weight,
        }
        legs = {"bm25": bm25_documents, "dense": [] if skip_dense else dense_documents}
        by_id: dict[str, Document] = {}
        contributions: dict[str, dict[str, dict[str, float] | None]] = {}
        fused: dict[str, float] = {}
        evidence: dict[str, float] = {}  # normalised score sum: breaks exact RRF ties by margin, not by id
        for leg, documents in legs.items():
            normalised = self._normalised_scores(documents)
            for rank, document in enumerate(documents, start=1):
                by_id.setdefault(document.id, document)
                entry = contributions.setdefault(document.id, {"bm25": None, "dense": None})
                entry[leg] = {"rank": rank, "score": float(document.score or 0.0)}
                part = weights[leg] / (rrf_k + rank) if mode == "rrf" else weights[leg] * normalised[rank - 1]
                fused[document.id] = fused.get(document.id, 0.0) + part
                evidence[document.id] = evidence.get(document.id, 0.0) + weights[leg] * normalised[rank - 1]

        ordered = sorted(fused, key=lambda doc_id: (-round(fused[doc_id], 12), -evidence[doc_id], doc_id))
        ordered = ordered[: top_k or self.top_k]
        out = []
        for doc_id in ordered:
            original = by_id[doc_id]
            retrieval = {**contributions[doc_id], "fused_score": fused[doc_id]}
            if skip_dense:
                retrieval["dense_skipped"] = f"the embedder does not cover {query_language(query or '')}"
            meta = {**original.meta, "retrieval": retrieval}
            out.append(dataclasses.replace(original, meta=meta, score=fused[doc_id], embedding=None))
        return {"documents": out}

    def _normalised_scores(self, documents: list[Document]) -> list[float]:
        scores = [float(doc.score or 0.0) for doc in documents]
        if not scores:
            return []
        low, high = min(scores), max(scores)
        if high == low:
            return [1.0] * len(scores)
        return [(score - low) / (high - low) for score in scores]

"""What else was tried to lift SciFact nDCG@10 past the default, each idea against the default, same run.

Issue 5 asks for nDCG@10 >= 0.74 on SciFact test with the offline default (BM25 + all-MiniLM-L6-v2).
The default reaches 0.730. This script keeps the evidence for what did and did not move it, so that the
next person starts from measurements rather than from the same ideas. Every variant runs over the same
store, built by Needle's real indexing pipeline, and is fused by Needle's real ``RankFusion``; documents
are scored as ``needle eval`` scores them (a document ranks by its best chunk). The parameters below
were chosen on the train split; run ``--split test`` only to report, never to choose.

Variants:

- ``default``: what Needle answers with (weighted fusion, dense weight from the settings).
- ``rrf``: reciprocal rank fusion, k = 60.
- ``document_level``: each leg first reduced to a document's best chunk, then fused.
- ``dense_prf``: Rocchio pseudo-relevance feedback on the query embedding (top 3 fused chunks, beta 0.5).
- ``bm25_rm3``: RM3 query expansion for BM25 from the top 5 fused chunks (20 terms, original weight 0.8).
- ``adaptive_weight``: the dense weight scaled by the embedder's confidence, ``exp(2 * (top cosine - 0.6))``.
- ``sentence_maxsim``: dense score = mean of the chunk's cosine and its best sentence's cosine; every
  sentence is embedded on its own (about 6 vectors per chunk: twice the encoding, six times the memory).

    .venv/bin/python scripts/ablate_retrieval.py --dataset ../shared/eval/scifact --split train \
        --output results/ablations-scifact-train.json

The first run embeds every sentence of the corpus (about 50,000 for SciFact; 10-15 minutes on 2 cores);
vectors go to the embedding cache of the data directory, so re-runs take about two minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
from haystack import Document

from pipelines.base.settings import get_settings
from pipelines.lab.evaluation import (
    EVAL_DEPTH,
    _document_run,
    eval_settings,
    index_corpus,
    load_beir,
    replace_settings,
    score_runs,
    write_report,
)
from pipelines.querying.components.rank_fusion import RankFusion
from pipelines.service.facade import NeedleService
from pipelines.stores.embedding_cache import CachedDocumentEmbedder
from pipelines.text.analysis import analyze
from pipelines.text.basics import split_sentences

Lists = tuple[list[Document], list[Document]]  # (bm25, dense) chunk lists for one query


class Lab:
    """One indexed corpus and its search structures, with the arithmetic each variant needs."""

    def __init__(self, service: NeedleService) -> None:
        self.service = service
        snapshot = service.store._snapshot
        self.documents: list[Document] = snapshot.documents
        self.matrix: np.ndarray = snapshot.matrix
        self.row_of = {document.id: row for row, document in enumerate(self.documents)}
        self.bm25 = snapshot.bm25
        self.sentence_rows: np.ndarray | None = None  # chunk row of every sentence vector
        self.sentence_matrix: np.ndarray | None = None
        self._term_scores: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        vector = np.asarray(self.service.text_embedder.run(text=text)["embedding"], dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def ranked(self, scores: np.ndarray, depth: int = EVAL_DEPTH) -> list[Document]:
        """The top ``depth`` chunks of a score vector, as a retriever would return them."""
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        store = self.service.store
        return [store._result(self.documents[int(i)], float(scores[i])) for i in top if scores[i] > 0]

    def term_scores(self, term: str) -> np.ndarray:
        if term not in self._term_scores:
            self._term_scores[term] = self.bm25.get_scores([term])
        return self._term_scores[term]

    def bm25_scores(self, weights: dict[str, float]) -> np.ndarray:
        """BM25 of a weighted query: the sum of each term's BM25 scores times its weight."""
        total = np.zeros(len(self.documents), dtype=np.float32)
        vocabulary = self.bm25.vocab_dict
        for term, weight in weights.items():
            if term in vocabulary:
                total += weight * self.term_scores(term)
        return total

    def embed_sentences(self) -> None:
        """Every sentence of every chunk, embedded alone (through the embedding cache)."""
        sentences: list[Document] = []
        rows: list[int] = []
        for row, chunk in enumerate(self.documents):
            for sentence in split_sentences(chunk.content or ""):
                if len(sentence.split()) >= 3:
                    sentences.append(Document(content=sentence))
                    rows.append(row)
        embedder = CachedDocumentEmbedder(self.service.document_embedder, self.service.embedding_cache)
        embedder.warm_up()
        vectors = []
        for start in range(0, len(sentences), 2048):
            batch = embedder.run(documents=sentences[start : start + 2048])["documents"]
            vectors.extend(document.embedding for document in batch)
            print(f"embedded {start + len(batch)}/{len(sentences)} sentences", file=sys.stderr, flush=True)
        matrix = np.asarray(vectors, dtype=np.float32)
        self.sentence_matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        self.sentence_rows = np.asarray(rows)

    def best_sentence_scores(self, query: np.ndarray) -> np.ndarray:
        if self.sentence_matrix is None or self.sentence_rows is None:
            raise RuntimeError("call embed_sentences() first")
        best = np.full(len(self.documents), -1.0, dtype=np.float32)
        np.maximum.at(best, self.sentence_rows, self.sentence_matrix @ query)
        return best


def best_chunk_per_document(documents: list[Document]) -> list[Document]:
    """Each document once, as its best chunk, under the document's id so that the two legs meet."""
    seen: set[str] = set()
    kept = []
    for document in documents:
        source = str(document.meta.get("source_id"))
        if source not in seen:
            seen.add(source)
            kept.append(dataclasses.replace(document, id=source))
    return kept


def rm3_weights(
    lab: Lab, query: str, feedback: list[Document], terms: int, original: float
) -> dict[str, float]:
    """RM3: the query's terms, interpolated with the most likely terms of the feedback chunks."""
    common = 0.1 * len(lab.documents)
    document_frequency = lab.bm25.vocab_dict
    expansion: Counter[str] = Counter()
    total = sum(float(doc.score or 0.0) for doc in feedback) or 1.0
    for document in feedback:
        tokens = analyze(" ".join([str(document.meta.get("title") or ""), document.content or ""]))
        for term, count in Counter(tokens).items():
            if term in document_frequency and _df(lab, term) < common:
                expansion[term] += float(document.score or 0.0) / total * count / len(tokens)
    chosen = dict(expansion.most_common(terms))
    chosen_total = sum(chosen.values()) or 1.0
    query_terms = Counter(term for term in analyze(query) if term in document_frequency)
    query_total = sum(query_terms.values()) or 1
    weights: Counter[str] = Counter({term: original * n / query_total for term, n in query_terms.items()})
    for term, value in chosen.items():
        weights[term] += (1 - original) * value / chosen_total
    return dict(weights)


def _df(lab: Lab, term: str) -> int:
    return int(np.count_nonzero(lab.term_scores(term)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--chunk-words", type=int, default=None)
    parser.add_argument("--chunk-overlap", type=int, default=None)
    parser.add_argument("--skip-sentences", action="store_true", help="leave out sentence_maxsim")
    parser.add_argument("--output", default="results/ablations.json")
    args = parser.parse_args()

    settings = get_settings()
    chunking = {
        "chunk_words": args.chunk_words or settings.chunk_words,
        "chunk_overlap_words": args.chunk_overlap
        if args.chunk_overlap is not None
        else settings.chunk_overlap_words,
    }
    dataset = load_beir(args.dataset, args.split)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="needle-ablate-") as scratch:
        lab_settings = replace_settings(
            eval_settings(settings), data_dir=Path(scratch), store="memory", **chunking
        )
        service = NeedleService(
            lab_settings, embedding_cache_path=settings.data_dir / "embedding-cache.sqlite3"
        )
        figures = index_corpus(service, dataset)
        lab = Lab(service)
        if not args.skip_sentences:
            lab.embed_sentences()
        fusion = (
            RankFusion(mode="weighted", dense_weight=settings.dense_weight, top_k=EVAL_DEPTH)
            if settings.fusion == "weighted"
            else RankFusion(mode="rrf", rrf_k=settings.rrf_k, top_k=EVAL_DEPTH)
        )
        rrf = RankFusion(mode="rrf", rrf_k=60, top_k=EVAL_DEPTH)

        def fused(lists: Lists, dense_weight: float | None = None) -> list[Document]:
            return fusion.run(bm25_documents=lists[0], dense_documents=lists[1], dense_weight=dense_weight)[
                "documents"
            ]

        variants: dict[str, Callable[[str, np.ndarray, Lists], list[Document]]] = {
            "default": lambda text, query, lists: fused(lists),
            "rrf": lambda text, query, lists: rrf.run(bm25_documents=lists[0], dense_documents=lists[1])[
                "documents"
            ],
            "document_level": lambda text, query, lists: fused(
                (best_chunk_per_document(lists[0]), best_chunk_per_document(lists[1]))
            ),
        }

        def dense_prf(text: str, query: np.ndarray, lists: Lists) -> list[Document]:
            rows = [lab.row_of[doc.id] for doc in fused(lists)[:3]]
            moved = query + 0.5 * lab.matrix[rows].mean(axis=0)
            return fused((lists[0], lab.ranked(lab.matrix @ (moved / np.linalg.norm(moved)))))

        def bm25_rm3(text: str, query: np.ndarray, lists: Lists) -> list[Document]:
            weights = rm3_weights(lab, text, fused(lists)[:5], terms=20, original=0.8)
            return fused((lab.ranked(lab.bm25_scores(weights)), lists[1]))

        def adaptive_weight(text: str, query: np.ndarray, lists: Lists) -> list[Document]:
            confidence = float(lists[1][0].score or 0.0) if lists[1] else 0.0
            return fused(lists, dense_weight=settings.dense_weight * float(np.exp(2 * (confidence - 0.6))))

        def sentence_maxsim(text: str, query: np.ndarray, lists: Lists) -> list[Document]:
            scores = 0.5 * (lab.matrix @ query) + 0.5 * lab.best_sentence_scores(query)
            return fusion.run(bm25_documents=lists[0], dense_documents=lab.ranked(scores), dense_weight=1.0)[
                "documents"
            ]

        variants |= {"dense_prf": dense_prf, "bm25_rm3": bm25_rm3, "adaptive_weight": adaptive_weight}
        if not args.skip_sentences:
            variants["sentence_maxsim"] = sentence_maxsim

        runs: dict[str, dict[str, dict[str, float]]] = {name: {} for name in variants}
        for number, (qid, text) in enumerate(dataset.queries.items(), start=1):
            query = lab.embed_query(text)
            lists = (
                service.store.bm25_retrieval(text, top_k=EVAL_DEPTH),
                lab.ranked(lab.matrix @ query),
            )
            for name, variant in variants.items():
                runs[name][qid] = _document_run(variant(text, query, lists))
            if number % 100 == 0:
                print(f"{number}/{len(dataset.queries)} queries", file=sys.stderr, flush=True)
        service.close()

    scores = {name: score_runs(dataset.qrels, per_query) for name, per_query in runs.items()}
    baseline = scores["default"]["ndcg@10"]
    report = {
        "dataset": dataset.name,
        "split": args.split,
        "queries": len(dataset.queries),
        "chunks": int(figures["chunks"]),
        **chunking,
        "seconds": round(time.perf_counter() - started, 1),
        "variants": {
            name: {**values, "delta_ndcg@10": round(values["ndcg@10"] - baseline, 4)}
            for name, values in scores.items()
        },
    }
    write_report(args.output, report, indent=1)
    for name, values in report["variants"].items():
        print(f"{name:18} nDCG@10 {values['ndcg@10']:.4f} ({values['delta_ndcg@10']:+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

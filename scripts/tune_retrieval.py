"""Tune BM25 analysis and fusion on a BEIR dataset's TRAIN queries (never on test).

Indexes the corpus once through the real indexing pipeline (embeddings come from the cache that
`needle eval` fills), then grid-searches BM25 k1 / b / title weight and the fusion mode, RRF k and
weights, scoring nDCG@10 on the train split. Writes every configuration's scores to a JSON file; the
best one is what Needle's defaults should be.

    .venv/bin/python scripts/tune_retrieval.py --dataset ../shared/eval/scifact \
        --output results/tuning-scifact.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

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
from pipelines.service.facade import NeedleService

BM25_GRID = {"k1": [0.9, 1.2, 1.5], "b": [0.5, 0.75, 0.9], "title_weight": [0, 1, 2]}
RRF_K = [10, 20, 40, 60]
DENSE_WEIGHTS = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]


Hit = tuple[str, str, float]  # chunk id, document id, score


def hits(documents: list) -> list[Hit]:
    return [(doc.id, str(doc.meta.get("source_id")), float(doc.score or 0.0)) for doc in documents]


def fuse(bm25: list[Hit], dense: list[Hit], mode: str, rrf_k: int, dense_weight: float) -> dict[str, float]:
    """RankFusion's arithmetic on plain tuples (thousands of runs; the pipeline's RankFusion copies
    Documents), then chunks -> documents as `needle eval` scores them."""
    fused: dict[str, float] = {}
    evidence: dict[str, float] = {}
    owner: dict[str, str] = {}
    for leg, weight in ((bm25, 1.0), (dense, dense_weight)):
        if not leg:
            continue
        scores = [score for _, _, score in leg]
        low, high = min(scores), max(scores)
        for rank, (chunk_id, doc_id, score) in enumerate(leg, start=1):
            normalised = 1.0 if high == low else (score - low) / (high - low)
            part = weight / (rrf_k + rank) if mode == "rrf" else weight * normalised
            fused[chunk_id] = fused.get(chunk_id, 0.0) + part
            evidence[chunk_id] = evidence.get(chunk_id, 0.0) + weight * normalised
            owner[chunk_id] = doc_id
    ordered = sorted(fused, key=lambda c: (-round(fused[c], 12), -evidence[c], c))
    ranked: list[str] = []
    for chunk_id in ordered:
        if owner[chunk_id] not in ranked:
            ranked.append(owner[chunk_id])
        if len(ranked) == 100:
            break
    return {doc_id: 1.0 / rank for rank, doc_id in enumerate(ranked, start=1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--output", default="results/tuning.json")
    args = parser.parse_args()
    if args.split == "test":
        print("refusing to tune on the test split", file=sys.stderr)
        return 2

    settings = get_settings()
    dataset = load_beir(args.dataset, args.split)
    with tempfile.TemporaryDirectory(prefix="needle-tune-") as scratch:
        store_settings = replace_settings(eval_settings(settings), data_dir=Path(scratch), store="memory")
        service = NeedleService(
            store_settings, embedding_cache_path=settings.data_dir / "embedding-cache.sqlite3"
        )
        figures = index_corpus(service, dataset)
        print(f"indexed {figures['chunks']} chunks ({figures['chunks_encoded']} encoded)", file=sys.stderr)
        store = service.store
        embedder = service.text_embedder
        dense = {
            qid: hits(store.embedding_retrieval(embedder.run(text=text)["embedding"], top_k=EVAL_DEPTH))
            for qid, text in dataset.queries.items()
        }
        results = []
        for k1, b, title_weight in itertools.product(*BM25_GRID.values()):
            store.bm25_k1, store.bm25_b, store.title_weight = k1, b, title_weight
            store._snapshot = store._build_snapshot()
            bm25_docs = {
                qid: store.bm25_retrieval(text, top_k=EVAL_DEPTH) for qid, text in dataset.queries.items()
            }
            bm25_only = score_runs(dataset.qrels, {q: _document_run(d) for q, d in bm25_docs.items()})
            bm25 = {qid: hits(documents) for qid, documents in bm25_docs.items()}
            base = {"k1": k1, "b": b, "title_weight": title_weight, "bm25": bm25_only}
            for mode, rrf_k, weight in itertools.chain(
                (("rrf", k, w) for k in RRF_K for w in DENSE_WEIGHTS),
                (("weighted", 60, w) for w in DENSE_WEIGHTS),
            ):
                runs = {qid: fuse(bm25[qid], dense[qid], mode, rrf_k, weight) for qid in dataset.queries}
                scores = score_runs(dataset.qrels, runs)
                results.append(
                    {**base, "fusion": mode, "rrf_k": rrf_k, "dense_weight": weight, "fused": scores}
                )
            best = max(results, key=lambda r: r["fused"]["ndcg@10"])
            print(
                f"{time.strftime('%H:%M:%S')} k1={k1} b={b} title={title_weight}: "
                f"bm25 {bm25_only['ndcg@10']:.4f}; "
                f"best so far {best['fused']['ndcg@10']:.4f} ({best['fusion']}, k={best['rrf_k']}, "
                f"w={best['dense_weight']}, k1={best['k1']}, b={best['b']}, title={best['title_weight']})",
                file=sys.stderr,
            )
        service.close()
    dense_only = score_runs(dataset.qrels, {q: fuse([], d, "rrf", 60, 1.0) for q, d in dense.items()})
    results.sort(key=lambda r: -r["fused"]["ndcg@10"])
    report = {
        "dataset": dataset.name,
        "split": args.split,
        "dense": dense_only,
        "best": results[0],
        "all": results,
    }
    write_report(args.output, report, indent=1)
    print(json.dumps(report["best"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

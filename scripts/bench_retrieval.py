"""Retrieval latency on the embedded store at 10,000 and 100,000 chunks (a benchmark, not a test).

Measures what a question costs before any LLM: query embedding + BM25 + dense + fusion, through the real
retrieval pipeline with Needle's default settings. The corpora are synthetic (encoding 100,000 chunks
with MiniLM would take over an hour on 2 cores): chunk text is 150 words drawn from SciFact's own
vocabulary with its word frequencies, and embeddings are random unit vectors of the model's dimension,
which costs search exactly what real ones do (see ``synthetic_corpus.py``). Queries are real SciFact claims,
embedded by the real model.

    .venv/bin/python scripts/bench_retrieval.py --sizes 10000 100000 --output results/bench_retrieval.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch
from synthetic_corpus import SCIFACT, synthetic_chunks, vocabulary

from pipelines.base import stage_timer
from pipelines.base.models import resolve_model
from pipelines.base.settings import load_settings
from pipelines.lab.evaluation import percentile, write_report
from pipelines.querying.pipeline import build_retrieval_pipeline, build_text_embedder
from pipelines.stores import EmbeddedBackend, EmbeddedDocumentStore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the query embedder")
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--output", default="results/bench_retrieval.json")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    stage_timer.install()
    words, weights = vocabulary(args.dataset / "corpus.jsonl")
    with (args.dataset / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle][: args.queries]
    report: dict[str, object] = {"threads": args.threads, "queries": len(queries), "sizes": {}}
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="needle-bench-") as scratch:
            settings = load_settings(_env_file=None, data_dir=Path(scratch))
            embedder = build_text_embedder(resolve_model(settings.embedding_model))
            embedder.warm_up()
            dim = embedder.embedding_backend.model.get_embedding_dimension()
            started = time.perf_counter()
            documents = synthetic_chunks(size, dim, words, weights)
            store = EmbeddedDocumentStore(Path(scratch) / "store")
            store.write_documents(documents)
            build_seconds = time.perf_counter() - started
            started = time.perf_counter()
            reloaded = EmbeddedDocumentStore(Path(scratch) / "store")
            load_seconds = time.perf_counter() - started
            assert reloaded.count_documents() == size
            backend = EmbeddedBackend(settings, documents=reloaded)
            pipeline = build_retrieval_pipeline(settings, backend, embedder)
            for query in queries[:5]:  # warm caches and lazy initialisation
                pipeline.run({"query_embedder": {"text": query}, "bm25_retriever": {"query": query}})
            totals: list[float] = []
            stages: dict[str, list[float]] = collections.defaultdict(list)
            for query in queries:
                with stage_timer.collect_timings() as timings:
                    started = time.perf_counter()
                    result = pipeline.run(
                        {
                            "query_embedder": {"text": query},
                            "bm25_retriever": {"query": query},
                            "fusion": {"query": query},
                        }
                    )
                    totals.append((time.perf_counter() - started) * 1000)
                assert result["fusion"]["documents"]
                for name, ms in timings.items():
                    stages[name].append(ms)
            entry = {
                "chunks": size,
                "p50_ms": round(statistics.median(totals), 2),
                "p95_ms": round(percentile(totals, 0.95), 2),
                "stage_p50_ms": {
                    name: round(statistics.median(values), 2) for name, values in stages.items()
                },
                "build_and_persist_seconds": round(build_seconds, 1),
                "load_seconds": round(load_seconds, 1),
            }
            print(json.dumps(entry), file=sys.stderr)
            report["sizes"][str(size)] = entry  # type: ignore[index]
    write_report(args.output, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

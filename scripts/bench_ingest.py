"""Ingest throughput: chunks/s through the whole indexing pipeline vs the raw encoder, in the same run.

The pipeline (convert, clean, chunk, embed, write with persistence and index rebuild) runs on N SciFact
abstracts with an empty embedding cache; then the raw sentence-transformers model encodes exactly the
texts the pipeline embedded (title + chunk), with the same batch size. The ratio says how much of
indexing time is anything other than the model.

    .venv/bin/python scripts/bench_ingest.py --documents 1000 --output results/bench_ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from pipelines.base.settings import load_settings
from pipelines.lab.evaluation import BeirDataset, index_corpus, load_beir, write_report
from pipelines.service.facade import NeedleService

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--output", default="results/bench_ingest.json")
    args = parser.parse_args()

    full = load_beir(args.dataset, "test")
    subset = dict(sorted(full.corpus.items())[: args.documents])
    dataset = BeirDataset(full.name, subset, {}, {})
    with tempfile.TemporaryDirectory(prefix="needle-ingest-bench-") as scratch:
        settings = load_settings(_env_file=None, data_dir=Path(scratch))
        service = NeedleService(settings, embedding_cache_path=Path(scratch) / "empty-cache.sqlite3")
        figures = index_corpus(service, dataset)
        assert figures["chunks_encoded"] == figures["chunks"], "the cache must be empty for this benchmark"
        embedder = service.document_embedder
        texts = [
            embedder.embedding_separator.join([str(doc.meta.get("title") or ""), doc.content or ""])
            for doc in service.store.filter_documents()
        ]
        model = embedder.embedding_backend.model
        started = time.perf_counter()
        model.encode(
            texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        raw_seconds = time.perf_counter() - started
        service.close()
    raw_rate = len(texts) / raw_seconds
    report = {
        "documents": len(subset),
        "chunks": int(figures["chunks"]),
        "pipeline_seconds": round(figures["index_seconds"], 2),
        "pipeline_chunks_per_second": round(figures["chunks_per_second"], 2),
        "raw_encoder_seconds": round(raw_seconds, 2),
        "raw_encoder_chunks_per_second": round(raw_rate, 2),
        "ratio": round(figures["chunks_per_second"] / raw_rate, 3),
    }
    write_report(args.output, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

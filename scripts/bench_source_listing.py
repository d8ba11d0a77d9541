"""What it costs the Slack bot to know every source's audience on each question (a benchmark, not a test).

A private answer needs the audiences that exist now (``pipelines.records.source_changes``). This builds a
synthetic
embedded store (``synthetic_corpus.py``: SciFact-like text, random vectors, 4 chunks a source) and
measures, per size:

- ``list_all_ms``: listing every source as the store does it (``source_summaries`` + ``SourceInfo``),
  what each question would cost if the bot listed afresh;
- ``current_unchanged_ms``: ``SourceListing.current()`` when nothing changed (one record-store read);
- ``current_after_change_ms``: the first ``current()`` after another connection stamped a change.

Medians of ``--repeats`` calls. Run:

    .venv/bin/python scripts/bench_source_listing.py --chunks 10000 50000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("TQDM_DISABLE", "1")

from synthetic_corpus import SCIFACT, batches, vocabulary

from pipelines.indexing.sources import source_info
from pipelines.records.audience import ADMIN
from pipelines.records.source_changes import SourceChanges, SourceListing
from pipelines.stores import EmbeddedDocumentStore
from pipelines.stores.backends import EmbeddedBackend
from pipelines.stores.records import SqliteRecordStore

DIMENSION = 384


def _median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def bench(size: int, words: list[str], weights: list[int], repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="needle-bench-listing-") as scratch:
        store = EmbeddedDocumentStore(Path(scratch) / "store")
        for batch in batches(size, DIMENSION, words, weights, 25_000):
            store.write_documents(batch)
        backend = SimpleNamespace(documents=store)

        def list_all() -> list:
            summaries = EmbeddedBackend.source_summaries(backend)  # type: ignore[arg-type]
            sources = [source_info(meta, count) for meta, count in summaries]
            return [source for source in sources if ADMIN.may_see(source.audience)]

        records = SqliteRecordStore(Path(scratch) / "records.sqlite3")
        other = SqliteRecordStore(Path(scratch) / "records.sqlite3")
        changes = SourceChanges(records)
        changes.touch()
        listing = SourceListing(list_all, changes, settle_seconds=0.0)
        listing.current()
        after_change = []
        for _ in range(repeats):
            SourceChanges(other).touch()
            started = time.perf_counter()
            listing.current()
            after_change.append((time.perf_counter() - started) * 1000)
        result = {
            "chunks": size,
            "sources": len(list_all()),
            "list_all_ms": _median_ms(list_all, repeats),
            "current_unchanged_ms": _median_ms(listing.current, repeats * 20),
            "current_after_change_ms": round(statistics.median(after_change), 3),
        }
        records.close()
        other.close()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=SCIFACT / "corpus.jsonl", help="a BEIR corpus.jsonl")
    args = parser.parse_args()
    words, weights = vocabulary(args.corpus)
    for size in args.chunks:
        print(bench(size, words, weights, args.repeats), file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

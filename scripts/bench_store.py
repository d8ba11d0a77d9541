"""The embedded store's bookkeeping at 10,000 to 1,000,000 chunks (a benchmark, not a test).

For each corpus size this builds a synthetic store (``synthetic_corpus.py``: SciFact-like text, random
unit vectors of MiniLM's dimension), then starts a second process on the same directory, as ``needle
serve`` runs beside ``needle ingest``, and measures:

- ``load_s``: how long that process takes to open the store;
- ``memory_mb``: its resident memory once loaded and after the queries (the whole store, held in memory);
- ``query_p50_ms`` / ``query_p95_ms``: the store's share of one question, in that process: BM25 over a
  SciFact claim plus dense search with a unit vector, each returning Needle's default 200 candidates;
- ``write_10_chunks_s`` / ``delete_10_chunks_s``: writing a new 10-chunk source, and deleting one, from
  this process (``replace_sources``, what ingest and delete call), median of ``--repeats``;
- ``visible_to_other_process_s``: from the start of that write until the other process's BM25 search
  returns the new chunk (it polls), median of ``--repeats``.

Embedding and conversion are left out: this measures what the store costs, which is what grew with the
corpus. Run:

    .venv/bin/python scripts/bench_store.py --chunks 10000 100000 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
from haystack import Document
from synthetic_corpus import SCIFACT, batches, vocabulary

from pipelines.base.settings import load_settings
from pipelines.lab.evaluation import percentile, write_report
from pipelines.stores import EmbeddedDocumentStore

DIMENSION = 384  # MiniLM's
BATCH = 25_000


def _memory_mb() -> tuple[float, float]:
    """(resident, peak resident) memory of this process in MB, from ``/proc``."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _open(path: Path) -> EmbeddedDocumentStore:
    settings = load_settings(_env_file=None, data_dir=path.parent)
    return EmbeddedDocumentStore(
        path, bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b, title_weight=settings.bm25_title_weight
    )


def reader(path: Path, queries: list[str]) -> None:
    """The second process: opens the store, answers commands from stdin with JSON lines on stdout."""
    started = time.perf_counter()
    store = _open(path)
    load_s = time.perf_counter() - started
    rss, _ = _memory_mb()
    print(json.dumps({"load_s": load_s, "memory_mb": rss, "count": store.count_documents()}), flush=True)
    settings = load_settings(_env_file=None)
    rng = np.random.default_rng(1)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "watch":  # poll until the chunk is found (or gone), report when
            print(json.dumps({"ready": True}), flush=True)
            while True:
                found = any(
                    # every chunk of the source shares the token: ask for all ten, rows are not in id order
                    doc.id == command["id"]
                    for doc in store.bm25_retrieval(command["token"], top_k=20)
                )
                if found == command["present"]:
                    print(json.dumps({"seen_at": time.time()}), flush=True)
                    break
                time.sleep(0.005)
        elif command["do"] == "query":
            timings = []
            for query in queries:
                vector = rng.standard_normal(DIMENSION).astype(np.float32)
                begun = time.perf_counter()
                store.bm25_retrieval(query, top_k=settings.bm25_top_k)
                store.embedding_retrieval(vector.tolist(), top_k=settings.dense_top_k)
                timings.append((time.perf_counter() - begun) * 1000)
            rss, peak = _memory_mb()
            print(json.dumps({"timings": timings, "memory_mb": rss, "peak_mb": peak}), flush=True)
        elif command["do"] == "stop":
            return


def _ask(process: subprocess.Popen[str], command: dict[str, Any] | None = None) -> dict[str, Any]:
    if command is not None:
        assert process.stdin is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("the reader process died")
    return json.loads(line)


def _source(name: str, token: str) -> list[Document]:
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    vectors = rng.standard_normal((10, DIMENSION)).astype(np.float32)
    return [
        Document(
            id=f"{name}-{i}",
            content=f"{token} chunk {i} of a newly uploaded policy about travel and expenses",
            meta={"source_id": name, "title": f"Policy {name}"},
            embedding=vectors[i].tolist(),
        )
        for i in range(10)
    ]


def bench(
    size: int, words: list[str], weights: list[int], queries: list[str], repeats: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="needle-bench-store-") as scratch:
        path = Path(scratch) / "store"
        started = time.perf_counter()
        store = _open(path)
        for batch in batches(size, DIMENSION, words, weights, BATCH):
            store.write_documents(batch)
        build_s = time.perf_counter() - started
        print(f"{size}: built in {build_s:.0f} s, {len(store.segment_names())} segments", file=sys.stderr)
        process = subprocess.Popen(
            [sys.executable, __file__, "--reader", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")},
        )
        try:
            opened = _ask(process)
            assert opened["count"] == size, opened
            writes, deletes, visible, visible_after = [], [], [], []
            for repeat in range(repeats):
                name, token = f"bench{repeat}", f"zqvisible{repeat}"
                _ask(process, {"do": "watch", "id": f"{name}-0", "token": token, "present": True})
                begun = time.time()
                store.replace_sources({name: _source(name, token)})
                done = time.time()
                seen = _ask(process)["seen_at"]
                writes.append(done - begun)
                visible.append(seen - begun)
                visible_after.append(seen - done)
            for repeat in range(repeats):
                name, token = f"bench{repeat}", f"zqvisible{repeat}"
                _ask(process, {"do": "watch", "id": f"{name}-0", "token": token, "present": False})
                begun = time.time()
                store.replace_sources({name: []})
                deletes.append(time.time() - begun)
                _ask(process)
            queried = _ask(process, {"do": "query"})
            _ask_stop(process)
        finally:
            process.kill()
        timings = queried["timings"]
        return {
            "chunks": size,
            "write_10_chunks_s": round(statistics.median(writes), 3),
            "delete_10_chunks_s": round(statistics.median(deletes), 3),
            "visible_to_other_process_s": round(statistics.median(visible), 3),
            "query_p50_ms": round(statistics.median(timings), 1),
            "query_p95_ms": round(percentile(timings, 0.95), 1),
            "memory_mb": round(queried["memory_mb"]),
            "load_s": round(opened["load_s"], 2),
            "write_10_chunks_max_s": round(max(writes), 3),
            "delete_10_chunks_max_s": round(max(deletes), 3),
            "visible_after_write_returned_s": round(statistics.median(visible_after), 3),
            "peak_memory_mb": round(queried["peak_mb"]),
            "build_s": round(build_s, 1),
            "segments": len(store.segment_names()),
        }


def _ask_stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps({"do": "stop"}) + "\n")
    process.stdin.flush()
    process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by corpus size")
    parser.add_argument("--output", default="results/bench_store.json")
    parser.add_argument("--reader", type=Path, help=argparse.SUPPRESS)  # the second process
    args = parser.parse_args()

    with (args.dataset / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle][: args.queries]
    if args.reader:
        reader(args.reader, queries)
        return 0
    words, weights = vocabulary(args.dataset / "corpus.jsonl")
    report = {str(size): bench(size, words, weights, queries, args.repeats) for size in args.chunks}
    write_report(args.output, {"cores": os.cpu_count(), "queries": len(queries), "sizes": report})
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

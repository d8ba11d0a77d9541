"""``needle eval``: retrieval quality and speed on a BEIR-format dataset, through Needle's real pipelines.

The corpus goes through the same indexing pipeline as an uploaded file (convert, clean, chunk, embed,
write) into a fresh store; every query of the split goes through the same retrieval pipeline as a
question from Slack (query embedding, BM25, dense, fusion, optional reranker; no LLM). Chunk results are
scored at document level (a document ranks by its best chunk) with ``pytrec_eval``, the reference
implementation of trec_eval's measures.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haystack import Document
from haystack.dataclasses import ByteStream

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings

METRICS = ("ndcg@10", "recall@100", "mrr@10")
INDEX_BATCH = 512
#: Chunks each retriever returns per query, so that 100 distinct documents survive for Recall@100.
EVAL_DEPTH = 200


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset: ``corpus`` maps id -> (title, text); ``qrels`` query id -> {doc id: grade}."""

    name: str
    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``; keep queries that have judgements.

    :raises NeedleError: a file is missing or malformed (the message names it).
    """
    folder = Path(folder)
    paths = {
        "corpus": folder / "corpus.jsonl",
        "queries": folder / "queries.jsonl",
        "qrels": folder / "qrels" / f"{split}.tsv",
    }
    for path in paths.values():
        if not path.is_file():
            raise NeedleError(
                f"{path} not found: a BEIR dataset has corpus.jsonl, queries.jsonl, qrels/{split}.tsv"
            )
    corpus: dict[str, tuple[str, str]] = {}
    for record in _jsonl(paths["corpus"]):
        corpus[str(record["_id"])] = (str(record.get("title") or ""), str(record.get("text") or ""))
    queries = {str(record["_id"]): str(record["text"]) for record in _jsonl(paths["queries"])}
    qrels: dict[str, dict[str, int]] = {}
    with paths["qrels"].open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) < 3:
                raise NeedleError(f"{paths['qrels']}:{number}: expected query-id, corpus-id, score")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    judged = {qid: text for qid, text in queries.items() if qid in qrels}
    return BeirDataset(name=folder.name, corpus=corpus, queries=judged, qrels=qrels)


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise NeedleError(f"{path}:{number}: not JSON ({error.msg})") from None


def index_corpus(
    service: Any, dataset: BeirDataset, progress: Callable[[int, int], None] | None = None
) -> dict[str, float]:
    """Run the corpus (title + text) through the service's indexing pipeline; returns timing figures."""
    items = sorted(dataset.corpus.items())
    started = time.perf_counter()
    chunks = 0
    misses = 0
    for start in range(0, len(items), INDEX_BATCH):
        streams = [
            ByteStream(
                data=(text or title or " ").encode("utf-8"),
                mime_type="text/plain",
                meta={"source_id": doc_id, "title": title, "file_name": f"{doc_id}.txt", "file_type": "text"},
            )
            for doc_id, (title, text) in items[start : start + INDEX_BATCH]
        ]
        result = service.indexing_pipeline.run({"router": {"sources": streams}})
        chunks += int(result["writer"]["documents_written"])
        misses += service.indexing_pipeline.get_component("embedder").last_run_misses
        if progress:
            progress(min(start + INDEX_BATCH, len(items)), len(items))
    seconds = time.perf_counter() - started
    return {
        "index_seconds": seconds,
        "chunks": chunks,
        "chunks_encoded": misses,
        "chunks_per_second": chunks / seconds,
    }


def _document_run(chunks: list[Document], depth: int = 100) -> dict[str, float]:
    """Chunk ranking -> document ranking (best chunk wins), scored 1/rank so the order is kept exactly."""
    ranked: list[str] = []
    for chunk in chunks:
        doc_id = str(chunk.meta.get("source_id"))
        if doc_id not in ranked:
            ranked.append(doc_id)
        if len(ranked) == depth:
            break
    return {doc_id: 1.0 / rank for rank, doc_id in enumerate(ranked, start=1)}


def score_runs(qrels: dict[str, dict[str, int]], runs: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10, Recall@100 and MRR@10 (mean over the judged queries) with pytrec_eval."""
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    top10 = {qid: dict(sorted(run.items(), key=lambda kv: -kv[1])[:10]) for qid, run in runs.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    per_query = evaluator.evaluate(runs)
    queries = [qid for qid in qrels if qid in runs]
    if not queries:
        raise NeedleError("no judged query produced a result")

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return round(sum(values) / len(qrels), 4) if values else 0.0

    return {
        "ndcg@10": mean(per_query[q]["ndcg_cut_10"] for q in queries),
        "recall@100": mean(per_query[q]["recall_100"] for q in queries),
        "mrr@10": mean(mrr[q]["recip_rank"] for q in queries),
    }


def eval_settings(settings: Settings) -> Settings:
    """The user's settings, with retrieval depth raised so 100 distinct documents can be scored."""
    return replace_settings(
        settings,
        bm25_top_k=max(settings.bm25_top_k, EVAL_DEPTH),
        dense_top_k=max(settings.dense_top_k, EVAL_DEPTH),
        top_k=50,
        reranker_top_k=max(settings.reranker_top_k, 100),
    )


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


@dataclass
class RetrievedLists:
    """Per query: the BM25, dense, fused and (optionally) reranked chunk lists, and the time taken."""

    bm25: dict[str, list[Document]]
    dense: dict[str, list[Document]]
    fused: dict[str, list[Document]]
    reranked: dict[str, list[Document]] | None
    query_ms: list[float]


def retrieve_all(
    service: Any,
    settings: Settings,
    queries: dict[str, str],
    fused_depth: int = EVAL_DEPTH,
    filters: dict[str, Any] | None = None,
) -> RetrievedLists:
    """Run every query through a retrieval pipeline built like the service's, over the service's store.

    :param filters: applied in both retrievers' store queries (a console viewer's audience), as a
        question's are."""
    from pipelines.base.models import resolve_model
    from pipelines.querying.pipeline import build_ranker, build_retrieval_pipeline

    ranker = (
        build_ranker(settings, resolve_model(settings.reranker_model)) if settings.reranker_model else None
    )
    text_embedder = service.embedders.new_text_embedder()
    pipeline = build_retrieval_pipeline(settings, service.backend, text_embedder, ranker)
    pipeline.warm_up()
    lists = RetrievedLists({}, {}, {}, {} if ranker else None, [])
    for qid, text in queries.items():
        data: dict[str, Any] = {
            "query_embedder": {"text": text},
            "bm25_retriever": {"query": text, "filters": filters},
            "embedding_retriever": {"filters": filters},
            "fusion": {"query": text, "top_k": settings.reranker_top_k if ranker else fused_depth},
        }
        if ranker:
            data["ranker"] = {"query": text, "top_k": settings.reranker_top_k}
        started = time.perf_counter()
        result = pipeline.run(data, include_outputs_from={"bm25_retriever", "embedding_retriever", "fusion"})
        lists.query_ms.append((time.perf_counter() - started) * 1000)
        lists.bm25[qid] = result["bm25_retriever"]["documents"]
        lists.dense[qid] = result["embedding_retriever"]["documents"]
        lists.fused[qid] = result["fusion"]["documents"]
        if lists.reranked is not None:
            lists.reranked[qid] = result["ranker"]["documents"]
    return lists


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_eval(
    folder: str | Path,
    split: str,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Index ``folder``'s corpus into a fresh store and score every judged query of ``split``."""
    from pipelines.service.facade import NeedleService

    say = progress or (lambda message: None)
    dataset = load_beir(folder, split)
    with tempfile.TemporaryDirectory(prefix="needle-eval-") as scratch:
        # A fresh store, but the embedding cache of the user's data dir: re-runs do not re-encode.
        store_settings = replace_settings(eval_settings(settings), data_dir=Path(scratch), store="memory")
        service = NeedleService(
            store_settings, embedding_cache_path=settings.data_dir / "embedding-cache.sqlite3"
        )
        say(f"indexing {len(dataset.corpus)} documents from {folder}")
        indexing = index_corpus(
            service, dataset, lambda done, total: say(f"indexed {done}/{total} documents")
        )
        say(f"running {len(dataset.queries)} {split} queries")
        lists = retrieve_all(service, store_settings, dataset.queries)
        service.close()

    def measured(per_query: dict[str, list[Document]]) -> dict[str, float]:
        return score_runs(dataset.qrels, {qid: _document_run(docs) for qid, docs in per_query.items()})

    return {
        "dataset": dataset.name,
        "split": split,
        "queries": len(dataset.queries),
        "documents": len(dataset.corpus),
        "chunks": int(indexing["chunks"]),
        "bm25": measured(lists.bm25),
        "dense": measured(lists.dense),
        "fused": measured(lists.fused),
        "reranked": measured(lists.reranked) if lists.reranked is not None else None,
        "index_seconds": round(indexing["index_seconds"], 2),
        "chunks_per_second": round(indexing["chunks_per_second"], 2),
        "chunks_encoded": int(indexing["chunks_encoded"]),
        "query_ms": {
            "p50": round(statistics.median(lists.query_ms), 2),
            "p95": round(percentile(lists.query_ms, 0.95), 2),
        },
        "settings": {
            key: value
            for key, value in settings.public_summary().items()
            if key not in ("llm_api", "llm_model", "store")
        }
        | {
            "bm25_k1": settings.bm25_k1,
            "bm25_b": settings.bm25_b,
            "bm25_title_weight": settings.bm25_title_weight,
            "chunk_words": settings.chunk_words,
            "chunk_overlap_words": settings.chunk_overlap_words,
        },
    }


def write_report(path: str | Path, report: dict[str, Any], indent: int = 2) -> None:
    """Save a benchmark or evaluation report as JSON (UTF-8, one trailing newline), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def file_level_scores(ranked_files: dict[str, list[str]], expected: dict[str, str]) -> dict[str, float]:
    """Hit@1 and MRR@5 when each question has one right file (the sample handbook's test sets)."""
    hits = 0.0
    reciprocal = 0.0
    for question, files in ranked_files.items():
        distinct = list(dict.fromkeys(files))[:5]
        if distinct[:1] == [expected[question]]:
            hits += 1
        if expected[question] in distinct:
            reciprocal += 1 / (distinct.index(expected[question]) + 1)
    count = max(1, len(ranked_files))
    return {"hit@1": round(hits / count, 4), "mrr@5": round(reciprocal / count, 4)}


def language_report(
    service: Any, questions: list[dict[str, str]], depth: int = 30
) -> dict[str, dict[str, float]]:
    """BM25 alone, dense alone, fusion that ignores language, and Needle's language-aware fusion.

    Shows whether letting an embedder that does not read the question's language vote in fusion hurts,
    and whether the language-aware default does at least as well as BM25 alone.
    """
    from pipelines.querying.components.rank_fusion import RankFusion

    settings = service.settings
    blind = RankFusion(
        mode=settings.fusion, rrf_k=settings.rrf_k, dense_weight=settings.dense_weight, top_k=depth
    )
    aware = RankFusion(
        mode=settings.fusion,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        top_k=depth,
        dense_languages=settings.embedding_languages,
    )
    expected = {q["question"]: q["expected_file"] for q in questions}
    ranked: dict[str, dict[str, list[str]]] = {"bm25": {}, "dense": {}, "fused_blind": {}, "fused": {}}
    for question in expected:
        embedding = service.text_embedder.run(text=question)["embedding"]
        bm25 = service.store.bm25_retrieval(question, top_k=depth)
        dense = service.store.embedding_retrieval(embedding, top_k=depth)
        lists = {
            "bm25": bm25,
            "dense": dense,
            "fused_blind": blind.run(bm25_documents=bm25, dense_documents=dense)["documents"],
            "fused": aware.run(bm25_documents=bm25, dense_documents=dense, query=question)["documents"],
        }
        for name, documents in lists.items():
            ranked[name][question] = [str(doc.meta.get("file_name")) for doc in documents]
    return {name: file_level_scores(files, expected) for name, files in ranked.items()}

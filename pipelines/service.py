"""The one object the faces talk to: ingest, list and delete sources; ask questions; read traces.

The CLI, the Slack bot and the admin console each hold one :class:`NeedleService`. It owns the store, the
models and the two pipelines, so a process keeps one copy of each in memory however many faces it runs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haystack import Document
from haystack.core.errors import PipelineRuntimeError
from haystack.dataclasses import ByteStream

from pipelines import stage_timer
from pipelines.answers import Answer, IngestResult, Passage, SourceInfo
from pipelines.citations import number_sources, related_sources
from pipelines.components.cached_embedder import CachedDocumentEmbedder, EmbeddingCache
from pipelines.errors import NeedleError, RejectedFileError, SourceNotFoundError, StoreUnavailableError
from pipelines.file_inspector import SUPPORTED_EXTENSIONS, guess_title, inspect_file, safe_file_name
from pipelines.indexing import CONVERSION_VERSION, build_document_embedder, build_indexing_pipeline
from pipelines.llm import build_chat_generator
from pipelines.metrics import Metrics
from pipelines.models import resolve_model
from pipelines.prompt import render_messages
from pipelines.querying import TRACED_NODES, build_query_pipeline, build_ranker, build_text_embedder
from pipelines.settings import Settings
from pipelines.stores import build_backend
from pipelines.text import is_mostly_cjk
from pipelines.traces import Rating

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
#: Meta that, when unchanged on re-ingest, makes the re-ingest a no-op.
_IDENTITY_KEYS = ("source_hash", "title", "url", "tags", "index_config")
PREVIEW_CHARS = 240
#: Entries of each retriever's list kept in a trace (the lists run to 200; nobody reads that far).
TRACE_LIST_LIMIT = 50


@dataclass(frozen=True)
class QueryOptions:
    """Per-question overrides of the retrieval settings (the admin debugger's knobs)."""

    bm25_top_k: int | None = None
    dense_top_k: int | None = None
    top_k: int | None = None
    fusion: str | None = None
    rrf_k: int | None = None
    bm25_weight: float | None = None
    dense_weight: float | None = None
    rerank: bool | None = None  # None: as configured; False skips a configured reranker for this question
    answerability_threshold: float | None = None


def nothing_indexed_message(question: str) -> str:
    """What an empty store says, in the question's language: not "not found", since nothing was searched."""
    if is_mostly_cjk(question):
        return "还没有任何文档被收录，所以我现在无法回答。请联系 Needle 管理员在管理控制台中添加文档。"
    return (
        "No documents have been added to Needle yet, so I can't answer questions. "
        "A Needle admin can add them in the admin console."
    )


def source_id_for(file_name: str) -> str:
    """A stable, readable id for a file: its slugged stem plus a short hash of the whole name.

    Uploading a file with the same name again replaces the source; the hash keeps ``a.md`` and ``a.pdf``
    apart.
    """
    name = safe_file_name(file_name).lower()
    stem = re.sub(r"[^a-z0-9]+", "-", Path(name).stem).strip("-")[:40] or "source"
    return f"{stem}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:6]}"  # noqa: S324 - an id, not security


def title_from_file_name(file_name: str) -> str:
    stem = Path(safe_file_name(file_name)).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else file_name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _filters(tags: Iterable[str] | None, source_ids: Iterable[str] | None) -> dict[str, Any] | None:
    conditions = []
    if tags:
        conditions.append({"field": "meta.tags", "operator": "in", "value": sorted(set(tags))})
    if source_ids:
        conditions.append({"field": "meta.source_id", "operator": "in", "value": sorted(set(source_ids))})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"operator": "AND", "conditions": conditions}


@contextmanager
def _store_read() -> Iterator[None]:
    """Any failure reading the store is logged in full and reaches people as one plain sentence."""
    try:
        yield
    except Exception as error:
        logger.exception("document store read failed")
        raise StoreUnavailableError("The document store could not be read") from error


def _ranked(documents: list[Document] | None) -> list[dict[str, Any]]:
    """A retriever's list as stored in a trace: rank, score, where the chunk comes from, a preview."""
    return [
        {
            "rank": rank,
            "id": doc.id,
            "score": doc.score,
            "source_id": doc.meta.get("source_id"),
            "title": doc.meta.get("title"),
            "page": doc.meta.get("page"),
            "chunk_index": doc.meta.get("chunk_index"),
            "retrieval": doc.meta.get("retrieval"),
            "preview": (doc.content or "")[:PREVIEW_CHARS],
        }
        for rank, doc in enumerate((documents or [])[:TRACE_LIST_LIMIT], start=1)
    ]


class NeedleService:
    """Needle's core behind one facade.

    Thread-safe: questions may run concurrently; ingests and deletions run one at a time.
    """

    def __init__(self, settings: Settings, embedding_cache_path: Path | None = None) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        stage_timer.install()
        self.metrics = Metrics()
        self._ingest_lock = threading.Lock()

        model = resolve_model(settings.embedding_model)
        self.text_embedder = build_text_embedder(model)
        self.text_embedder.warm_up()  # loads the model once; the document embedder shares it
        self.embedding_dim = int(self.text_embedder.embedding_backend.model.get_embedding_dimension())
        self.document_embedder = build_document_embedder(settings, model)
        self.document_embedder.warm_up()

        # Chunks indexed under other chunking or another embedder are re-indexed, not skipped, on re-ingest.
        self._index_config = (
            f"{settings.embedding_model}|{settings.chunk_words}|{settings.chunk_overlap_words}"
            f"|conversion-{CONVERSION_VERSION}"
        )
        self.backend = build_backend(settings, self.embedding_dim)
        self.store = self.backend.documents
        self.traces = self.backend.trace_store()
        ranker = None
        if settings.reranker_model:
            ranker = build_ranker(settings, resolve_model(settings.reranker_model))
            ranker.warm_up()
        self.generator = build_chat_generator(settings)
        self.embedding_cache = EmbeddingCache(
            embedding_cache_path or settings.data_dir / "embedding-cache.sqlite3"
        )
        self.indexing_pipeline = build_indexing_pipeline(
            settings, self.backend, CachedDocumentEmbedder(self.document_embedder, self.embedding_cache)
        )
        self.query_pipeline = build_query_pipeline(
            settings, self.backend, self.text_embedder, self.generator, ranker=ranker
        )
        self.has_ranker = ranker is not None
        # With a reranker, a twin pipeline without it lets the debugger compare; its components are new
        # instances (a component belongs to one pipeline) but share the loaded model and the store.
        self._unranked_pipeline = (
            build_query_pipeline(
                settings, self.backend, build_text_embedder(model), build_chat_generator(settings)
            )
            if ranker is not None
            else self.query_pipeline
        )

    def close(self) -> None:
        """Release the databases (traces, embedding cache); the service is unusable afterwards."""
        self.traces.close()
        self.embedding_cache.close()

    # ------------------------------------------------------------------------------------------------
    # Sources
    # ------------------------------------------------------------------------------------------------
    def ingest_file(self, path: str | Path, **kwargs: Any) -> IngestResult:
        """Index the file at ``path``; see :meth:`ingest_bytes` for the keyword arguments."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            return IngestResult(path.name, "rejected", reason=f"the file cannot be read ({error.strerror})")
        return self.ingest_bytes(path.name, data, **kwargs)

    def ingest_bytes(self, file_name: str, data: bytes, **kwargs: Any) -> IngestResult:
        """Index one file as one source; see :meth:`_ingest_bytes`. Counted in the ingest metrics."""
        try:
            result = self._ingest_bytes(file_name, data, **kwargs)
        except Exception:
            self.metrics.ingests.labels(status="failed").inc()
            raise
        self.metrics.ingests.labels(status=result.status).inc()
        if result.status == "indexed":
            self.metrics.chunks_written.inc(result.chunks)
        return result

    def _ingest_bytes(
        self,
        file_name: str,
        data: bytes,
        *,
        title: str | None = None,
        url: str | None = None,
        tags: Iterable[str] | None = None,
        uploaded_by: str | None = None,
        source_id: str | None = None,
        force: bool = False,
    ) -> IngestResult:
        """Index one file as one source, replacing the source's earlier version.

        Identical bytes with identical title, URL, tags and index settings are a no-op ("unchanged")
        unless ``force`` is set. A title, URL or tags not given (``None`` or blank; tags ``None``) keep
        what the source already has: re-uploading a new version does not wipe its tags. Tags given as an
        empty list clear them.

        Rejections (unreadable, empty, unsupported, too large) come back as a result with a reason and
        leave the store exactly as it was; a store failure raises :class:`StoreUnavailableError`.
        """
        name = safe_file_name(file_name)
        try:
            inspected = inspect_file(name, data, max_bytes=int(self.settings.max_upload_mb * 1024 * 1024))
        except RejectedFileError as error:
            logger.info("rejected %s: %s", name, error.reason)
            return IngestResult(name, "rejected", reason=error.reason)

        sid = source_id or source_id_for(name)
        with self._ingest_lock:
            existing = self._chunks_of(sid)
            previous = existing[0].meta if existing else {}
            meta = {
                "source_id": sid,
                "title": (title or "").strip()
                or previous.get("title")
                or guess_title(inspected)
                or title_from_file_name(name),
                "file_name": name,
                "file_type": inspected.kind,
                "url": (url or "").strip() or previous.get("url") or None,
                "tags": sorted({tag.strip().lower() for tag in tags if tag.strip()})
                if tags is not None
                else list(previous.get("tags") or []),
                "uploaded_by": uploaded_by,
                "source_hash": inspected.sha256,
                "size_bytes": len(data),
                "index_config": self._index_config,
            }
            unchanged = existing and all(existing[0].meta.get(key) == meta[key] for key in _IDENTITY_KEYS)
            if unchanged and not force:
                # A crash between the store's write and the original's can leave the original missing.
                self._keep_original(sid, name, data, only_if_missing=True)
                return IngestResult(name, "unchanged", source_id=sid, chunks=len(existing))
            meta["indexed_at"] = _now()
            stream = ByteStream(data=inspected.data, meta=meta, mime_type=inspected.mime_type)
            try:
                result = self.indexing_pipeline.run({"router": {"sources": [stream]}})
            except PipelineRuntimeError as error:
                if error.component_name == "writer":
                    logger.exception("store write failed for %s", name)
                    raise StoreUnavailableError("The document store could not save this file") from error
                logger.warning("conversion of %s failed", name, exc_info=error)
                return IngestResult(name, "rejected", reason="the file could not be converted to text")
            written = int(result.get("writer", {}).get("documents_written", 0))
        if written == 0:
            hint = " (is it a scanned image without a text layer?)" if inspected.kind == "pdf" else ""
            return IngestResult(name, "rejected", reason=f"no text could be extracted from the file{hint}")
        self._keep_original(sid, name, data)
        logger.info("indexed %s as %s (%d chunks)", name, sid, written)
        return IngestResult(name, "indexed", source_id=sid, chunks=written)

    def _original_dir(self, source_id: str) -> Path:
        return self.settings.data_dir / "originals" / source_id

    def _keep_original(
        self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False
    ) -> None:
        """Keep the uploaded bytes, so a source can be re-indexed (new model, new chunking) later."""
        folder = self._original_dir(source_id)
        if only_if_missing and (folder / file_name).is_file():
            return
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.name != file_name:
                old.unlink()
        tmp = folder / f".{file_name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / file_name)

    def reindex_source(self, source_id: str) -> IngestResult:
        """Index a source again from its kept original (same title, URL and tags), under current settings."""
        chunks = self._chunks_of(source_id)
        if not chunks:
            raise SourceNotFoundError(f"no source with id {source_id!r}")
        meta = chunks[0].meta
        original = self._original_dir(source_id) / str(meta.get("file_name"))
        if not original.is_file():
            raise NeedleError(f"the original file of {source_id!r} is not kept here; upload it again")
        return self.ingest_bytes(
            str(meta.get("file_name")),
            original.read_bytes(),
            title=meta.get("title"),
            url=meta.get("url"),
            tags=meta.get("tags") or [],
            uploaded_by=meta.get("uploaded_by"),
            source_id=source_id,
            force=True,
        )

    def ingest_paths(self, paths: Iterable[str | Path], **kwargs: Any) -> list[IngestResult]:
        """Index files and folders (recursively, supported extensions only), one source per file."""
        return [self.ingest_file(path, **kwargs) for path in expand_paths(paths)]

    def delete_source(self, source_id: str) -> int:
        """Remove every chunk of ``source_id``; returns how many were removed."""
        with self._ingest_lock:
            chunks = self._chunks_of(source_id)
            if not chunks:
                raise SourceNotFoundError(f"no source with id {source_id!r}")
            self.store.delete_documents([doc.id for doc in chunks])
            shutil.rmtree(self._original_dir(source_id), ignore_errors=True)
        return len(chunks)

    def list_sources(self) -> list[SourceInfo]:
        """Every source with its chunk count, newest first."""
        with _store_read():
            summaries = self.backend.source_summaries()
        sources = [
            SourceInfo(
                source_id=str(meta.get("source_id")),
                title=str(meta.get("title", "")),
                file_name=str(meta.get("file_name", "")),
                file_type=str(meta.get("file_type", "")),
                url=meta.get("url"),
                tags=list(meta.get("tags") or []),
                chunks=count,
                size_bytes=int(meta.get("size_bytes") or 0),
                uploaded_by=meta.get("uploaded_by"),
                indexed_at=str(meta.get("indexed_at", "")),
                source_hash=str(meta.get("source_hash", "")),
            )
            for meta, count in summaries
        ]
        return sorted(sources, key=lambda source: (source.indexed_at, source.title), reverse=True)

    def chunk(self, chunk_id: str) -> Passage | None:
        """One chunk by id, with its full text (traces keep only a preview of the lists they record)."""
        found = self._filter({"field": "id", "operator": "==", "value": chunk_id})
        return Passage.from_document(1, found[0]) if found else None

    def source_chunks(self, source_id: str) -> list[Passage]:
        """A source's chunks in reading order, numbered from 1."""
        chunks = sorted(self._chunks_of(source_id), key=lambda doc: doc.meta.get("chunk_index", 0))
        if not chunks:
            raise SourceNotFoundError(f"no source with id {source_id!r}")
        return [Passage.from_document(number, doc) for number, doc in enumerate(chunks, start=1)]

    def stats(self) -> dict[str, Any]:
        sources = self.list_sources()
        return {
            "sources": len(sources),
            "chunks": sum(source.chunks for source in sources),
            "last_updated": max((source.indexed_at for source in sources), default=None),
        }

    def readiness(self) -> dict[str, dict[str, Any]]:
        """What ``/readyz`` reports: the store answers, the model is loaded, the LLM is set up or off."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            checks["store"] = {"ok": True, "chunks": self.store.count_documents()}
        except Exception as error:
            logger.warning("readiness: store check failed: %s", type(error).__name__)
            checks["store"] = {"ok": False, "error": "the document store is not reachable"}
        checks["embedding_model"] = {"ok": self.text_embedder.embedding_backend is not None}
        checks["llm"] = self._llm_check()
        return checks

    def _llm_check(self) -> dict[str, Any]:
        """Off is fine; a TGI or endpoint URL must answer HTTP; serverless is not probed (it is billed)."""
        mode = self.settings.llm_api
        if mode in ("none", "serverless"):
            return {"ok": True, "mode": mode, "probed": False}
        import urllib.error
        import urllib.request

        url = str(self.settings.llm_url).rstrip("/") + "/health"
        request = urllib.request.Request(url, method="GET")  # noqa: S310 - an http(s) URL from settings
        if self.settings.hf_token:
            request.add_header("Authorization", f"Bearer {self.settings.hf_token.get_secret_value()}")
        try:
            with urllib.request.urlopen(request, timeout=3):  # noqa: S310
                return {"ok": True, "mode": mode, "probed": True}
        except urllib.error.HTTPError as error:  # it answered: reachable, even if /health is not a route
            return {"ok": error.code < 500, "mode": mode, "probed": True, "status": error.code}
        except (urllib.error.URLError, TimeoutError, OSError):
            return {"ok": False, "mode": mode, "probed": True, "error": "the language model is not reachable"}

    def _chunks_of(self, source_id: str) -> list[Document]:
        return self._filter({"field": "meta.source_id", "operator": "==", "value": source_id})

    def _filter(self, filters: dict[str, Any] | None) -> list[Document]:
        with _store_read():
            return self.store.filter_documents(filters=filters)

    # ------------------------------------------------------------------------------------------------
    # Questions
    # ------------------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        history: list[dict[str, str]] | None = None,
        tags: Iterable[str] | None = None,
        source_ids: Iterable[str] | None = None,
        origin: str = "api",
        user_id: str | None = None,
        on_text: Callable[[str], None] | None = None,
        options: QueryOptions | None = None,
    ) -> Answer:
        """Answer ``question`` from the indexed sources and record a trace.

        :param history: earlier turns of the conversation, ``{"role": "user"|"assistant", "text": ...}``.
        :param tags: answer only from sources carrying any of these tags.
        :param on_text: receives each piece of streamed LLM text as it arrives.
        :raises NeedleError: the question is empty or too long.
        :raises StoreUnavailableError: the store could not be searched.
        """
        question = " ".join(question.split())
        if not question:
            raise NeedleError("Please ask a question.")
        if len(question) > MAX_QUESTION_CHARS:
            raise NeedleError(f"Please keep questions under {MAX_QUESTION_CHARS} characters.")
        options = options or QueryOptions()
        history = [turn for turn in (history or []) if turn.get("text")][-6:]
        retrieval_query = self._retrieval_query(question, history)
        filters = _filters(tags, source_ids)
        s = self.settings
        data: dict[str, Any] = {
            "query_embedder": {"text": retrieval_query},
            "bm25_retriever": {
                "query": retrieval_query,
                "filters": filters,
                "top_k": options.bm25_top_k or s.bm25_top_k,
            },
            "embedding_retriever": {"filters": filters, "top_k": options.dense_top_k or s.dense_top_k},
            "fusion": {
                "top_k": s.reranker_top_k,
                "mode": options.fusion,
                "rrf_k": options.rrf_k,
                "bm25_weight": options.bm25_weight,
                "dense_weight": options.dense_weight,
                "query": question,
            },
            "prompt_builder": {"question": question, "history": history},
            # A follow-up ("what about part-timers?") is judged with the thread's topic it was searched with.
            "gate": {"question": str(retrieval_query), "threshold": options.answerability_threshold},
            "llm": {"question": question, "streaming_callback": on_text},
        }
        rerank = self.has_ranker and options.rerank is not False
        pipeline = self.query_pipeline if rerank else self._unranked_pipeline
        if rerank:
            data["ranker"] = {"query": retrieval_query, "top_k": options.top_k or s.top_k}
        else:
            data["fusion"]["top_k"] = options.top_k or s.top_k

        trace_id = uuid.uuid4().hex
        started = time.perf_counter()
        self.metrics.questions.labels(origin=origin).inc()
        with stage_timer.collect_timings() as timings:
            try:
                result = pipeline.run(
                    data, include_outputs_from=set(TRACED_NODES) & set(pipeline.graph.nodes)
                )
            except PipelineRuntimeError as error:
                self.metrics.answers.labels(kind="failed").inc()
                logger.exception("query pipeline failed at %s (trace %s)", error.component_name, trace_id)
                if error.component_name == "query_embedder":
                    raise NeedleError("The embedding model failed on this question") from error
                raise StoreUnavailableError("The document store could not be searched") from error
        timings = {name: round(ms, 2) for name, ms in timings.items()}
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)

        final = (result.get("ranker") or result.get("fusion") or {}).get("documents", [])
        passages = [Passage.from_document(number, doc) for number, doc in enumerate(final, start=1)]
        llm = result["llm"]
        answerability = result.get("gate", {}).get("answerability") or {}
        text, citations = number_sources(llm["text"], passages) if llm["found"] else (llm["text"], [])
        if not passages and not filters and self._store_is_empty():
            text = nothing_indexed_message(question)
        answer = Answer(
            question=question,
            text=text,
            kind=llm["kind"],
            citations=citations,
            passages=passages,
            trace_id=trace_id,
            notice=llm["notice"],
            timings_ms=timings,
            found=bool(llm["found"]),
            related=[] if llm["found"] else related_sources(passages),
            answerability=answerability,
        )
        self._record_trace(answer, result, origin, user_id, retrieval_query, history, filters, options, llm)
        self.metrics.answers.labels(kind=answer.kind).inc()
        self.metrics.observe_timings(timings)
        return answer

    def _store_is_empty(self) -> bool:
        try:
            return self.store.count_documents() == 0
        except Exception:  # the answer already says nothing was found; an empty-store hint is a bonus
            logger.warning("could not count the store's documents", exc_info=True)
            return False

    def _retrieval_query(self, question: str, history: list[dict[str, str]]) -> str:
        """What to search for a question: a follow-up ("and for part-timers?") is rewritten by the LLM into
        a standalone question, or (no LLM, or it failed) searched with the thread's first and previous
        questions; a first or self-contained question as it is. A ``RetrievalQuery`` (a ``str``) whose
        ``method`` (``"none"``, ``"heuristic"`` or ``"llm"``) says which."""
        from pipelines.followups import build_retrieval_query

        return build_retrieval_query(
            question,
            history,
            generator=self.generator,
            rewrite_timeout_seconds=self.settings.llm_rewrite_timeout_seconds,
        )

    def _record_trace(
        self,
        answer: Answer,
        result: dict[str, Any],
        origin: str,
        user_id: str | None,
        retrieval_query: str,
        history: list[dict[str, str]],
        filters: dict[str, Any] | None,
        options: QueryOptions,
        llm: dict[str, Any],
    ) -> None:
        prompt_messages = result.get("prompt_builder", {}).get("prompt") or []
        trace = {
            "trace_id": answer.trace_id,
            "created_at": time.time(),
            "origin": origin,
            "user_id": user_id,
            "question": answer.question,
            "retrieval_query": str(retrieval_query),
            "retrieval_query_method": getattr(retrieval_query, "method", "none"),
            "history": history,
            "filters": filters,
            "settings": {
                **self.settings.public_summary(),
                **{key: value for key, value in vars(options).items() if value is not None},
            },
            "bm25": _ranked(result.get("bm25_retriever", {}).get("documents")),
            "dense": _ranked(result.get("embedding_retriever", {}).get("documents")),
            "fused": _ranked(result.get("fusion", {}).get("documents")),
            "reranked": _ranked(result["ranker"]["documents"]) if "ranker" in result else None,
            "prompt": render_messages(prompt_messages),
            "llm_used": self.generator is not None,
            "answerability": answer.answerability,
            "answer": {
                "text": answer.text,
                "kind": answer.kind,
                "found": answer.found,
                "notice": answer.notice,
                "cited": llm["cited"],
                "model": llm["model"],
                "reply": llm.get("reply", ""),
                "citations": [citation.__dict__ for citation in answer.citations],
                "related": [citation.__dict__ for citation in answer.related],
            },
            "passages": [passage.__dict__ for passage in answer.passages],
            "timings_ms": answer.timings_ms,
        }
        try:
            self.traces.save(trace)
        except Exception:  # a trace is for debugging; never fail an employee's answer because of it
            logger.exception("could not record trace %s", answer.trace_id)

    # ------------------------------------------------------------------------------------------------
    # Traces and feedback
    # ------------------------------------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        return self.traces.get(trace_id)

    def recent_traces(self, limit: int = 50, origin: str | None = None) -> list[dict[str, Any]]:
        return self.traces.recent(limit=limit, origin=origin)

    def record_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None:
        """Store a 👍/👎 for a trace. :raises NeedleError: the trace does not exist."""
        try:
            self.traces.add_feedback(trace_id, rating, user_id=user_id, reason=reason)
        except KeyError:
            raise NeedleError(f"no answer with trace id {trace_id!r}") from None
        self.metrics.feedback.labels(rating=rating).inc()

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[dict[str, Any]]:
        return self.traces.feedback(limit=limit, rating=rating)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the supported files inside folders (sorted, hidden files skipped)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                child
                for child in sorted(path.rglob("*"))
                if child.is_file()
                and child.suffix.lower() in SUPPORTED_EXTENSIONS
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
        else:
            files.append(path)
    return files

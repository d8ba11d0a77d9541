"""The answering side of Needle: a question in, an answer with citations and a recorded trace out.

:class:`Answerer` runs the query pipeline with the filters that who-asks-where allows (tags, audience),
the live retrieval configuration and the question's own overrides, then numbers the citations and records
everything an admin needs to explain the answer later.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from haystack import Document
from haystack.core.errors import PipelineRuntimeError

from pipelines.base import stage_timer
from pipelines.base.errors import NeedleError, StoreUnavailableError
from pipelines.base.metrics import Metrics
from pipelines.base.settings import Settings
from pipelines.querying.citations import number_sources, related_sources
from pipelines.querying.components.answer_generator import GENERATED
from pipelines.querying.pipeline import TRACED_NODES
from pipelines.querying.prompt import render_messages
from pipelines.records.answers import Answer, Passage
from pipelines.records.audience import PUBLIC, Viewer, audience_filter, combine
from pipelines.records.retrieval_config import ConfigStore, Promotion
from pipelines.stores.traces import RankedEntry, Trace
from pipelines.text.basics import is_mostly_cjk

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
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


def _with_live_config(options: QueryOptions, live: Promotion | None) -> QueryOptions:
    """The question's own overrides (the debugger's knobs) win; the live configuration fills the rest."""
    if live is None:
        return options
    fill = {
        name: value
        for name, value in live.values.items()
        if hasattr(options, name) and getattr(options, name) is None
    }
    return dataclasses.replace(options, **fill)


def nothing_indexed_message(question: str) -> str:
    """What an empty store says, in the question's language: not "not found", since nothing was searched."""
    if is_mostly_cjk(question):
        return "还没有任何文档被收录，所以我现在无法回答。请联系 Needle 管理员在管理控制台中添加文档。"
    return (
        "No documents have been added to Needle yet, so I can't answer questions. "
        "A Needle admin can add them in the admin console."
    )


def _filters(tags: Iterable[str] | None, source_ids: Iterable[str] | None) -> dict[str, Any] | None:
    conditions = []
    if tags:
        conditions.append({"field": "meta.tags", "operator": "in", "value": sorted(set(tags))})
    if source_ids:
        conditions.append({"field": "meta.source_id", "operator": "in", "value": sorted(set(source_ids))})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"operator": "AND", "conditions": conditions}


def trace_entries(documents: list[Document] | None) -> list[RankedEntry]:
    """A retriever's list as stored in a trace: rank, score, where the chunk comes from, a preview.

    Shared with the retrieval lab's comparison traces, so the debugger reads both alike."""
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


@dataclass(frozen=True)
class _Asked:
    """Who asked what, where and under which settings: the trace's account of the question."""

    origin: str
    user_id: str | None
    retrieval_query: str
    history: list[dict[str, str]]
    filters: dict[str, Any] | None
    options: QueryOptions
    viewer: Viewer
    config_id: str
    context: dict[str, str]


class Answerer:
    """Answers questions; safe to call from many threads at once (the pipelines hold no per-question
    state)."""

    def __init__(
        self,
        settings: Settings,
        store: Any,
        query_pipeline: Any,
        unranked_pipeline: Any,
        has_ranker: bool,
        generator: Any,
        traces: Any,
        configs: ConfigStore,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.store = store
        self.query_pipeline = query_pipeline
        self._unranked_pipeline = unranked_pipeline
        self.has_ranker = has_ranker
        self.generator = generator
        self.traces = traces
        self.configs = configs
        self.metrics = metrics

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
        viewer: Viewer = PUBLIC,
        context: dict[str, str] | None = None,
    ) -> Answer:
        """Answer ``question`` from the indexed sources and record a trace.

        :param history: earlier turns of the conversation, ``{"role": "user"|"assistant", "text": ...}``.
        :param tags: answer only from sources carrying any of these tags.
        :param viewer: who will read the answer, and where: retrieval sees only the sources they may see
            (see :mod:`pipelines.records.audience`). The default sees sources for everyone only.
        :param on_text: receives each piece of streamed LLM text as it arrives.
        :param context: what the asking face knows of the question's circumstances (the lab: case and
            configuration), kept in the trace as given. Where an answer is in Slack is recorded after it
            is posted, with ``TraceStore.set_location``.
        :raises NeedleError: the question is empty or too long.
        :raises StoreUnavailableError: the store could not be searched.
        """
        question = " ".join(question.split())
        if not question:
            raise NeedleError("Please ask a question.")
        if len(question) > MAX_QUESTION_CHARS:
            raise NeedleError(f"Please keep questions under {MAX_QUESTION_CHARS} characters.")
        live = self.configs.live()  # read per question: a promotion applies at once, in every process
        options = _with_live_config(options or QueryOptions(), live)
        history = [turn for turn in (history or []) if turn.get("text")][-6:]
        retrieval_query = self._retrieval_query(question, history)
        filters = combine(_filters(tags, source_ids), audience_filter(viewer))
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
        if not passages and self._store_is_empty():
            text = nothing_indexed_message(question)
        # A model's answer that names no passage (or only numbers that do not exist) is not sourced.
        uncited = llm["kind"] == GENERATED and bool(passages) and not citations
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
            related=related_sources(passages) if uncited or not llm["found"] else [],
            answerability=answerability,
            uncited=uncited,
        )
        asked = _Asked(
            origin=origin,
            user_id=user_id,
            retrieval_query=retrieval_query,
            history=history,
            filters=filters,
            options=options,
            viewer=viewer,
            config_id=live.config_id if live else "default",
            context=dict(context or {}),
        )
        self._record_trace(answer, result, asked, llm)
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
        from pipelines.querying.followups import build_retrieval_query

        return build_retrieval_query(
            question,
            history,
            generator=self.generator,
            rewrite_timeout_seconds=self.settings.llm_rewrite_timeout_seconds,
        )

    def _record_trace(
        self, answer: Answer, result: dict[str, Any], asked: _Asked, llm: dict[str, Any]
    ) -> None:
        prompt_messages = result.get("prompt_builder", {}).get("prompt") or []
        trace: Trace = {
            "trace_id": answer.trace_id,
            "created_at": time.time(),
            "origin": asked.origin,
            "user_id": asked.user_id,
            "question": answer.question,
            "retrieval_query": str(asked.retrieval_query),
            "retrieval_query_method": getattr(asked.retrieval_query, "method", "none"),
            "history": asked.history,
            "filters": asked.filters,
            "viewer": asked.viewer.describe(),
            "context": asked.context,
            "retrieval_config": asked.config_id,
            "settings": {
                **self.settings.public_summary(),
                **{key: value for key, value in vars(asked.options).items() if value is not None},
            },
            "bm25": trace_entries(result.get("bm25_retriever", {}).get("documents")),
            "dense": trace_entries(result.get("embedding_retriever", {}).get("documents")),
            "fused": trace_entries(result.get("fusion", {}).get("documents")),
            "reranked": trace_entries(result["ranker"]["documents"]) if "ranker" in result else None,
            "prompt": render_messages(prompt_messages),
            "llm_used": self.generator is not None,
            "answerability": answer.answerability,
            "answer": {
                "text": answer.text,
                "kind": answer.kind,
                "found": answer.found,
                "uncited": answer.uncited,
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

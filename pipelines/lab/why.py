"""``needle why``: why a source (or chunk) was, or was not, given to the answerer for a question.

For every chunk of the target this reports what each stage did with it, under the live retrieval
configuration (or the settings of a trace being re-examined): its BM25 rank and score over the whole
corpus, the question terms it matches and lacks after analysis, its dense rank and cosine, whether a
filter (tags, sources, the audience) or the language gate kept it out, its fused rank and score with the
formula that produced them, and whether it reached the answerer. Plain hints then say what to change.

The retrievers are the service's own (the same components the answerer runs, over the same store), run
once at the configured depth, which is what fusion sees and what a trace records, and once over every
chunk, so a chunk at BM25 rank 900 still gets a rank. Everything after retrieval (term matching,
filters, fusion arithmetic, hints) is plain Python on the retrieved lists.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.querying.components.rank_fusion import RankFusion
from pipelines.records.audience import ADMIN, Viewer, audience_filter, audience_of, combine
from pipelines.records.audience import describe as describe_audience
from pipelines.text.analysis import ENGLISH_STOP_WORDS, analyze, content_terms
from pipelines.text.basics import query_language

#: Elasticsearch pages results 10,000 at a time; "the whole corpus" stops there on a bigger index.
MAX_WHOLE_CORPUS = 10_000
#: How similar (cosine of the words' embeddings) a chunk's word must be to a missing question word for a
#: "no shared stem" hint ("bike" and "bicycles").
NEAR_WORD_COSINE = 0.62
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


@dataclass(frozen=True)
class Fusion:
    """How the fused list was made: the mode, its weights, and whether the dense list took part."""

    mode: str
    bm25_weight: float
    dense_weight: float
    rrf_k: int
    bm25_candidates: int  # BM25 chunks fusion sees (NEEDLE_BM25_TOP_K)
    dense_candidates: int
    top_k: int  # passages given to the answerer (or to the reranker, with one)
    question_language: str
    dense_languages: list[str] | None
    dense_left_out: str | None  # why the dense list was left out of fusion, or None

    @property
    def formula(self) -> str:
        if self.mode == "rrf":
            return (
                f"fused = {self.bm25_weight:g} / ({self.rrf_k} + BM25 rank) + "
                f"{self.dense_weight:g} / ({self.rrf_k} + dense rank)"
            )
        return (
            f"fused = {self.bm25_weight:g} × BM25 score min-max normalised over the {self.bm25_candidates} "
            f"BM25 candidates + {self.dense_weight:g} × cosine min-max normalised over the "
            f"{self.dense_candidates} dense candidates"
        )


@dataclass(frozen=True)
class ChunkWhy:
    """One chunk of the target, stage by stage. Ranks start at 1; ``None`` means "not in that list"."""

    chunk_id: str
    source_id: str
    title: str
    chunk_index: int | None
    preview: str
    excluded_by: list[str]  # "tag filter 'it'", "source filter", "audience: channel:C1" ...
    bm25_rank: int | None  # over every chunk the filters allow
    bm25_score: float | None
    matched_terms: list[str]  # question terms (after analysis) the chunk contains
    missing_terms: list[str]
    dense_rank: int | None
    cosine: float | None
    fused_rank: int | None  # in the fused list of every candidate; None: neither retriever offered it
    fused_score: float | None
    bm25_part: float | None  # what each retriever added to the fused score
    dense_part: float | None
    reached_answerer: bool
    hints: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Explanation:
    question: str
    target: str
    retrieval_query: str
    question_terms: list[str]
    dropped_words: list[str]  # question words the analyser drops (stop words)
    corpus_chunks: int
    config_id: str
    fusion: Fusion
    chunks: list[ChunkWhy]
    hints: list[str]

    @property
    def best(self) -> ChunkWhy:
        """The target's chunk that fared best (lowest fused rank, then BM25, then dense rank)."""
        far = 10**9
        return min(
            self.chunks,
            key=lambda c: (c.fused_rank or far, c.bm25_rank or far, c.dense_rank or far),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fusion"]["formula"] = self.fusion.formula
        data["best_chunk"] = self.best.chunk_id
        return data


@dataclass(frozen=True)
class Ranked:
    """One entry of a ranked list, as the explanation needs it."""

    rank: int
    chunk_id: str
    source_id: str
    score: float
    content: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class Lists:
    """What retrieval produced for one question: each retriever at the configured depth (what fusion
    sees), over the whole corpus, and the complete fused ranking of the candidates."""

    bm25: list[Ranked]
    dense: list[Ranked]
    bm25_all: list[Ranked]
    dense_all: list[Ranked]
    fused: list[Ranked]  # meta["retrieval"] holds each retriever's rank and score, as in a trace
    fusion: Fusion


# ------------------------------------------------------------------------------------------------------
# Running retrieval
# ------------------------------------------------------------------------------------------------------
def build_filters(
    tags: list[str] | None, source_ids: list[str] | None, viewer: Viewer
) -> dict[str, Any] | None:
    """The store filter the answerer builds for the same tags, sources and viewer."""
    conditions = []
    if tags:
        conditions.append({"field": "meta.tags", "operator": "in", "value": sorted(set(tags))})
    if source_ids:
        conditions.append({"field": "meta.source_id", "operator": "in", "value": sorted(set(source_ids))})
    return combine(*conditions, audience_filter(viewer))


def fusion_of(settings: Settings, question: str, has_ranker: bool = False) -> Fusion:
    language = query_language(question)
    languages = settings.embedding_languages
    left_out = None
    if languages is not None and language not in languages:
        left_out = (
            f"the question is in '{language}' and NEEDLE_EMBEDDING_LANGUAGES is {','.join(languages)}: "
            "the embedder does not read this language, so only BM25 ranks it"
        )
    return Fusion(
        mode=settings.fusion,
        bm25_weight=settings.bm25_weight,
        dense_weight=settings.dense_weight,
        rrf_k=settings.rrf_k,
        bm25_candidates=settings.bm25_top_k,
        dense_candidates=settings.dense_top_k,
        top_k=settings.reranker_top_k if has_ranker else settings.top_k,
        question_language=language,
        dense_languages=list(languages) if languages is not None else None,
        dense_left_out=left_out,
    )


def retrieve_lists(
    service: Any,
    question: str,
    settings: Settings,
    filters: dict[str, Any] | None = None,
    retrieval_query: str | None = None,
    whole_corpus: bool = True,
) -> Lists:
    """Run the service's retrievers for ``question`` under ``settings`` and fuse every candidate.

    :param retrieval_query: what was searched, when it differs from the question (a follow-up rewritten
        with its thread); fusion's language gate reads the question itself, as the answerer does.
    :param whole_corpus: also rank every chunk (``needle why``); the debugger's full fused list needs
        only the configured depth.
    """
    query = retrieval_query or question
    bm25_retriever, dense_retriever = service.backend.retrievers(settings)
    embedding = service.text_embedder.run(text=query)["embedding"]
    bm25 = bm25_retriever.run(query=query, filters=filters, top_k=settings.bm25_top_k)["documents"]
    dense = dense_retriever.run(query_embedding=embedding, filters=filters, top_k=settings.dense_top_k)[
        "documents"
    ]
    bm25_all, dense_all = bm25, dense
    if whole_corpus:
        everything = min(max(1, service.store.count_documents()), MAX_WHOLE_CORPUS)
        bm25_all = bm25_retriever.run(query=query, filters=filters, top_k=everything)["documents"]
        dense_all = dense_retriever.run(query_embedding=embedding, filters=filters, top_k=everything)[
            "documents"
        ]
    fusion = fusion_of(settings, question, getattr(service, "has_ranker", False))
    fuser = RankFusion(
        mode=fusion.mode,
        rrf_k=fusion.rrf_k,
        bm25_weight=fusion.bm25_weight,
        dense_weight=fusion.dense_weight,
        top_k=max(1, len(bm25) + len(dense)),
        dense_languages=fusion.dense_languages,
    )
    fused = fuser.run(bm25_documents=bm25, dense_documents=dense, query=question)["documents"]
    return Lists(
        bm25=_ranked(bm25),
        dense=_ranked(dense),
        bm25_all=_ranked(bm25_all),
        dense_all=_ranked(dense_all),
        fused=_ranked(fused),
        fusion=fusion,
    )


def _ranked(documents: list[Any]) -> list[Ranked]:
    return [
        Ranked(
            rank,
            str(doc.id),
            str(doc.meta.get("source_id") or ""),
            float(doc.score or 0.0),
            doc.content or "",
            dict(doc.meta),
        )
        for rank, doc in enumerate(documents, start=1)
    ]


# ------------------------------------------------------------------------------------------------------
# Traces: what a recorded answer was asked with, to explain or re-run it
# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TraceRequest:
    """What a trace says its question was asked with. Slack memberships are not in a trace (it keeps
    their counts only), so a re-run of a private answer sees what the user may see directly."""

    question: str
    retrieval_query: str
    history: list[dict[str, str]]
    tags: list[str]
    source_ids: list[str]
    viewer: Viewer
    filters: dict[str, Any] | None
    #: The retrieval settings it ran under (see ``pipelines.records.retrieval_config.TUNABLE``).
    values: dict[str, Any]
    config_id: str


def _conditions(filters: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not filters:
        return []
    if "field" in filters:
        return [filters]
    if str(filters.get("operator", "")).upper() == "AND":
        return [leaf for sub in filters.get("conditions", []) for leaf in _conditions(sub)]
    return []  # an OR (the audience filter) says nothing about tags or sources


def trace_request(trace: dict[str, Any]) -> TraceRequest:
    """Read a trace's question, filters, viewer and retrieval settings back."""
    from pipelines.records.retrieval_config import TUNABLE

    tags: list[str] = []
    source_ids: list[str] = []
    for condition in _conditions(trace.get("filters")):
        if condition.get("field") == "meta.tags":
            tags = list(condition.get("value") or [])
        elif condition.get("field") == "meta.source_id":
            source_ids = list(condition.get("value") or [])
    seen = trace.get("viewer") or {}
    viewer = (
        ADMIN
        if seen.get("unrestricted") or not seen
        else Viewer(
            user_id=seen.get("user_id"), channel_id=seen.get("channel_id"), private=bool(seen.get("private"))
        )
    )
    settings = trace.get("settings") or {}
    values = {name: settings[name] for name in TUNABLE if settings.get(name) is not None}
    question = str(trace.get("question") or "")
    config_id = str(trace.get("retrieval_config") or "default")
    if (trace.get("context") or {}).get("configuration") == "candidate":
        # A lab comparison's candidate run: asked while ``config_id`` was live, with the candidate's values.
        config_id = f"candidate over {config_id}"
    return TraceRequest(
        question=question,
        retrieval_query=str(trace.get("retrieval_query") or question),
        history=list(trace.get("history") or []),
        tags=tags,
        source_ids=source_ids,
        viewer=viewer,
        filters=trace.get("filters"),
        values=values,
        config_id=config_id,
    )


def settings_for(service: Any, request: TraceRequest) -> Settings:
    """The service's settings with the trace's retrieval settings applied."""
    from pipelines.records.retrieval_config import apply

    return apply(service.settings, request.values)


def _within(request: TraceRequest, audience: Viewer | None) -> TraceRequest:
    """``request`` narrowed to what ``audience`` may see as well (its filter ANDed to the trace's), for a
    console session that may not see everything the trace's asker could (see
    :mod:`pipelines.app.visibility`)."""
    if audience is None or audience.unrestricted:
        return request
    return replace(request, viewer=audience, filters=combine(request.filters, audience_filter(audience)))


def trace_lists(service: Any, trace: dict[str, Any], audience: Viewer | None = None) -> Lists:
    """A trace's retrieval run again (same question, filters and settings) over today's index: the full
    fused ranking, which the trace itself keeps only to the passages the answerer got.

    :param audience: also keep only what this viewer may see (``None``: the trace's own filters).
    """
    request = _within(trace_request(trace), audience)
    return retrieve_lists(
        service,
        request.question,
        settings_for(service, request),
        request.filters,
        retrieval_query=request.retrieval_query,
        whole_corpus=False,
    )


def explain_trace(
    service: Any, trace: dict[str, Any], target: str, audience: Viewer | None = None
) -> Explanation:
    """:func:`explain` for a trace's question, filters, viewer and settings.

    :param audience: explain within what this viewer may see as well (``None``: the trace's own).
    """
    request = _within(trace_request(trace), audience)
    return explain(
        service,
        request.question,
        target,
        settings=settings_for(service, request),
        tags=request.tags,
        source_ids=request.source_ids,
        viewer=request.viewer,
        retrieval_query=request.retrieval_query,
        config_id=request.config_id,
        filters=request.filters,
    )


def fusion_note(fusion: Fusion) -> str:
    """One paragraph on how the fused list was made, and whether (and why) dense was left out."""
    dense = (
        f"The dense list was LEFT OUT of fusion: {fusion.dense_left_out}."
        if fusion.dense_left_out
        else f"Both lists were fused (question language '{fusion.question_language}')."
    )
    return (
        f"Fusion: {fusion.mode}; {fusion.formula}; {fusion.bm25_candidates} BM25 and "
        f"{fusion.dense_candidates} dense candidates; the answerer gets the top {fusion.top_k}. {dense}"
    )


# ------------------------------------------------------------------------------------------------------
# Explaining
# ------------------------------------------------------------------------------------------------------
def target_chunks(service: Any, target: str) -> list[Any]:
    """The chunks of a source id, or the one chunk with that id (as
    :class:`pipelines.records.answers.Passage`).

    :raises NeedleError: neither a source nor a chunk has that id.
    """
    target = target.strip()
    chunk = service.chunk(target) if target else None
    if chunk is not None:
        return [chunk]
    try:
        return service.source_chunks(target)
    except NeedleError:
        raise NeedleError(
            f"no source or chunk with id {target!r}; see `needle sources` for source ids"
        ) from None


def explain(
    service: Any,
    question: str,
    target: str,
    *,
    settings: Settings | None = None,
    tags: list[str] | None = None,
    source_ids: list[str] | None = None,
    viewer: Viewer = ADMIN,
    retrieval_query: str | None = None,
    config_id: str | None = None,
    filters: dict[str, Any] | None = None,
) -> Explanation:
    """Why ``target`` (a source id or chunk id) was or was not given to the answerer for ``question``.

    :param settings: the retrieval settings to explain under; default: the live configuration.
    :param tags, source_ids, viewer: the filters and audience of the question, as for ``service.ask``.
    :param filters: the store filter to retrieve with, when it is known exactly (a trace's); default:
        the one ``tags``, ``source_ids`` and ``viewer`` make.
    :raises NeedleError: the question is empty or the target does not exist.
    """
    question = " ".join((question or "").split())
    if not question:
        raise NeedleError("give the question to explain")
    chunks = target_chunks(service, target)
    if settings is None:
        settings = service.configs.live_settings()
        live = service.configs.live()
        config_id = config_id or (live.config_id if live else "default")
    filters = filters if filters is not None else build_filters(tags, source_ids, viewer)
    query = retrieval_query or question
    lists = retrieve_lists(service, question, settings, filters, retrieval_query=query)
    unfiltered = None
    excluded = {c.id: _excluded_by(c.meta, tags, source_ids, viewer) for c in chunks}
    if filters is not None and any(excluded.values()):
        unfiltered = retrieve_lists(service, question, settings, None, retrieval_query=query)

    question_terms = list(dict.fromkeys(analyze(query)))
    title_weight = int(getattr(service.store, "title_weight", 1))
    near = _near_words(service, query, question_terms, chunks, title_weight)
    explained = [
        _explain_chunk(chunk, lists, unfiltered, excluded[chunk.id], question_terms, title_weight, near)
        for chunk in chunks
    ]
    dropped = sorted({word for word in _words(query) if word.lower() in ENGLISH_STOP_WORDS}, key=str.lower)
    explanation = Explanation(
        question=question,
        target=target.strip(),
        retrieval_query=query,
        question_terms=question_terms,
        dropped_words=dropped,
        corpus_chunks=service.store.count_documents(),
        config_id=config_id or "custom",
        fusion=lists.fusion,
        chunks=explained,
        hints=[],
    )
    return _with_summary(explanation)


def _excluded_by(
    meta: dict[str, Any], tags: list[str] | None, source_ids: list[str] | None, viewer: Viewer
) -> list[str]:
    reasons = []
    if tags and not set(meta.get("tags") or []) & set(tags):
        reasons.append(f"tag filter {', '.join(repr(t) for t in sorted(set(tags)))}")
    if source_ids and meta.get("source_id") not in set(source_ids):
        reasons.append("source filter")
    audience = audience_of(meta)
    if not viewer.may_see(audience):
        reasons.append(f"audience: only {describe_audience(audience)} may see it")
    return reasons


def _position(items: list[Ranked], chunk_id: str) -> Ranked | None:
    return next((item for item in items if item.chunk_id == chunk_id), None)


def _rank_in(depth: list[Ranked], whole: list[Ranked], chunk_id: str) -> Ranked | None:
    """The rank fusion saw (the configured depth, as a trace records it), else the whole-corpus rank."""
    return _position(depth, chunk_id) or _position(whole, chunk_id)


def _normalised(items: list[Ranked], rank: int) -> float:
    scores = [item.score for item in items]
    low, high = min(scores), max(scores)
    return 1.0 if high == low else (scores[rank - 1] - low) / (high - low)


def _part(fusion: Fusion, leg: str, items: list[Ranked], rank: int | None) -> float | None:
    if rank is None or (leg == "dense" and fusion.dense_left_out):
        return None
    weight = fusion.bm25_weight if leg == "bm25" else fusion.dense_weight
    if fusion.mode == "rrf":
        return weight / (fusion.rrf_k + rank)
    return weight * _normalised(items, rank)


def _explain_chunk(
    chunk: Any,
    lists: Lists,
    unfiltered: Lists | None,
    excluded_by: list[str],
    question_terms: list[str],
    title_weight: int,
    near: dict[str, tuple[str, str]],
) -> ChunkWhy:
    meta = chunk.meta
    bm25 = _rank_in(lists.bm25, lists.bm25_all, chunk.id)
    dense = _rank_in(lists.dense, lists.dense_all, chunk.id)
    fused = _position(lists.fused, chunk.id)
    in_bm25 = _position(lists.bm25, chunk.id)
    in_dense = _position(lists.dense, chunk.id)
    chunk_terms = set(analyze(_bm25_text(chunk, title_weight)))
    matched = [term for term in question_terms if term in chunk_terms]
    missing = [term for term in question_terms if term not in chunk_terms]
    fusion = lists.fusion
    reached = fused is not None and fused.rank <= fusion.top_k
    why = ChunkWhy(
        chunk_id=chunk.id,
        source_id=str(meta.get("source_id") or ""),
        title=str(meta.get("title") or meta.get("file_name") or ""),
        chunk_index=meta.get("chunk_index"),
        preview=(chunk.content or "")[:240],
        excluded_by=excluded_by,
        bm25_rank=bm25.rank if bm25 else None,
        bm25_score=bm25.score if bm25 else None,
        matched_terms=matched,
        missing_terms=missing,
        dense_rank=dense.rank if dense else None,
        cosine=dense.score if dense else None,
        fused_rank=fused.rank if fused else None,
        fused_score=fused.score if fused else None,
        bm25_part=_part(fusion, "bm25", lists.bm25, in_bm25.rank if in_bm25 else None),
        dense_part=_part(fusion, "dense", lists.dense, in_dense.rank if in_dense else None),
        reached_answerer=reached,
    )
    return _with_hints(why, fusion, unfiltered, near)


def _with_hints(
    why: ChunkWhy, fusion: Fusion, unfiltered: Lists | None, near: dict[str, tuple[str, str]]
) -> ChunkWhy:
    hints: list[str] = []
    for reason in why.excluded_by:
        hint = f"excluded by {reason}"
        if unfiltered is not None:
            fused = _position(unfiltered.fused, why.chunk_id)
            if fused is not None:
                hint += f" (without it, fused rank {fused.rank})"
        hints.append(hint)
    if not why.excluded_by:
        if not why.matched_terms and why.missing_terms:
            hints.append(
                "BM25 cannot find it: it shares no term with the question after analysis "
                f"(question terms: {', '.join(why.missing_terms)})"
            )
        for term in why.missing_terms:
            if term in near:
                asked, said = near[term]
                hints.append(f"the chunk says '{said}', the question '{asked}': no shared stem")
        if why.bm25_rank is not None and why.bm25_rank > fusion.bm25_candidates:
            hints.append(
                f"BM25 rank {why.bm25_rank} is beyond the {fusion.bm25_candidates} BM25 candidates fusion "
                "sees (NEEDLE_BM25_TOP_K)"
            )
        if why.dense_rank is not None and why.dense_rank > fusion.dense_candidates:
            hints.append(
                f"dense rank {why.dense_rank} is beyond the {fusion.dense_candidates} dense candidates "
                "fusion sees (NEEDLE_DENSE_TOP_K)"
            )
        if fusion.dense_left_out and why.dense_rank is not None:
            hints.append(f"dense rank {why.dense_rank} did not count: {fusion.dense_left_out}")
        elif fusion.dense_weight == 0 and why.dense_rank is not None:
            hints.append(f"dense rank {why.dense_rank} did not count: the dense weight is 0")
        if why.fused_rank is not None and not why.reached_answerer:
            best, leg = min((r, n) for r, n in ((why.bm25_rank, "BM25"), (why.dense_rank, "dense")) if r)
            how = (
                f"RRF (k={fusion.rrf_k}, weights BM25 {fusion.bm25_weight:g}, dense {fusion.dense_weight:g})"
                if fusion.mode == "rrf"
                else f"weighted fusion (BM25 {fusion.bm25_weight:g}, dense {fusion.dense_weight:g} on a "
                "min-max scale)"
            )
            if best < why.fused_rank:
                hints.append(f"{leg} rank {best} but {how} put it at {why.fused_rank}")
            hints.append(f"fused rank {why.fused_rank}: the answerer gets the top {fusion.top_k}")
        if why.fused_rank is None and (why.bm25_rank or why.dense_rank):
            hints.append("neither retriever ranked it among the candidates fusion sees")
        if why.reached_answerer:
            hints.append(f"reached the answerer at fused rank {why.fused_rank} of {fusion.top_k}")
    return ChunkWhy(**{**asdict(why), "hints": hints})


def _with_summary(explanation: Explanation) -> Explanation:
    best = explanation.best
    chunks = len(explanation.chunks)
    if best.reached_answerer:
        summary = f"Reached the answerer: chunk {best.chunk_id} at fused rank {best.fused_rank}."
    elif best.fused_rank is not None:
        summary = (
            f"Not given to the answerer: the best of its {chunks} chunk(s) is at fused rank "
            f"{best.fused_rank}; the answerer gets the top {explanation.fusion.top_k}."
        )
    else:
        summary = f"Not given to the answerer: none of its {chunks} chunk(s) is among the fused candidates."
    hints = [summary]
    if explanation.fusion.dense_left_out:
        hints.append(f"The dense list was left out of fusion: {explanation.fusion.dense_left_out}.")
    number = best.chunk_index + 1 if best.chunk_index is not None else "?"  # 1-based, as the console shows
    hints += [f"chunk {number}: {h}" for h in best.hints]
    return Explanation(**{**_shallow(explanation), "hints": hints})


def _shallow(explanation: Explanation) -> dict[str, Any]:
    return {name: getattr(explanation, name) for name in Explanation.__dataclass_fields__}


def _bm25_text(chunk: Any, title_weight: int) -> str:
    """The text BM25 indexes for a chunk on the embedded store (its title, then its content)."""
    title = str(chunk.meta.get("title") or "")
    return " ".join([title] * title_weight + [chunk.content or ""])


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _surface_forms(text: str) -> dict[str, str]:
    """Analysed term -> the first word of ``text`` that produced it ("bicycl" -> "bicycles")."""
    forms: dict[str, str] = {}
    for word in _words(text):
        for term in analyze(word):
            forms.setdefault(term, word.lower())
    return forms


def _near_words(
    service: Any, query: str, question_terms: list[str], chunks: list[Any], title_weight: int
) -> dict[str, tuple[str, str]]:
    """For question terms missing from a chunk: the chunk word that means nearly the same (by the
    embedding model), as ``{term: (question word, chunk word)}``. This is what tells an admin "the chunk
    says 'bicycles'" rather than only "the term 'bike' is missing"."""
    asked = _surface_forms(query)
    chunk_forms: dict[str, str] = {}
    for chunk in chunks:
        chunk_forms.update(_surface_forms(_bm25_text(chunk, title_weight)))
    topical = set(content_terms(query))  # "bike", not "can" or "my": fillers need no synonym
    missing = [t for t in question_terms if t in topical and t not in chunk_forms and t in asked]
    said = " ".join(chunk_forms.values())
    fillers = set(analyze(said)) - set(content_terms(said))
    candidates = [
        word
        for term, word in chunk_forms.items()
        if len(word) > 2 and term not in asked and term not in fillers
    ]
    if not missing or not candidates:
        return {}
    import numpy as np

    words = [asked[term] for term in missing]
    # The configured embedder's normalised vectors (local or hosted), as the answerability gate uses.
    vectors = np.asarray(service.embedders.sentence_encoder(words + candidates), dtype=np.float32)
    similarity = vectors[: len(words)] @ vectors[len(words) :].T
    near: dict[str, tuple[str, str]] = {}
    for row, term in enumerate(missing):
        best = int(similarity[row].argmax())
        if float(similarity[row, best]) >= NEAR_WORD_COSINE:
            near[term] = (words[row], candidates[best])
    return near


# ------------------------------------------------------------------------------------------------------
# Text for people
# ------------------------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_explanation(explanation: Explanation) -> str:
    """The explanation as plain text for a terminal (and the debugger's panel)."""
    fusion = explanation.fusion
    dropped = explanation.dropped_words
    lines = [
        f"Question: {explanation.question}",
        *(
            [f"Searched as: {explanation.retrieval_query}"]
            if explanation.retrieval_query != explanation.question
            else []
        ),
        f"Target: {explanation.target} ({len(explanation.chunks)} chunk(s); "
        f"{explanation.corpus_chunks} chunks indexed)",
        f"Configuration: {explanation.config_id} · {fusion.mode} · {fusion.formula} · "
        f"the answerer gets the top {fusion.top_k}",
        f"Question terms after analysis: {', '.join(explanation.question_terms) or '(none)'}"
        + (f" (dropped stop words: {', '.join(dropped)})" if dropped else ""),
        "",
        *explanation.hints,
        "",
    ]
    for chunk in sorted(explanation.chunks, key=lambda c: (c.chunk_index is None, c.chunk_index or 0)):
        where = f"chunk {chunk.chunk_index + 1}" if chunk.chunk_index is not None else "chunk"
        preview = " ".join(chunk.preview.split())[:80]  # one line, as read: no escaped "\\n"
        lines.append(f"{where} {chunk.chunk_id}: “{preview}”")
        lines.append(
            f"  BM25 rank {chunk.bm25_rank or '-'} (score {_fmt(chunk.bm25_score)}); "
            f"matched {', '.join(chunk.matched_terms) or 'nothing'}; "
            f"lacks {', '.join(chunk.missing_terms) or 'nothing'}"
        )
        lines.append(f"  dense rank {chunk.dense_rank or '-'} (cosine {_fmt(chunk.cosine)})")
        lines.append(
            f"  fused rank {chunk.fused_rank or '-'} (score {_fmt(chunk.fused_score)} = BM25 part "
            f"{_fmt(chunk.bm25_part)} + dense part {_fmt(chunk.dense_part)}); "
            f"{'reached' if chunk.reached_answerer else 'did not reach'} the answerer"
        )
        lines += [f"  - {hint}" for hint in chunk.hints]
    return "\n".join(lines)

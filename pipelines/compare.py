"""Compare the live retrieval configuration with a candidate, on the test cases or a BEIR dataset.

Both runs use the retrieval pipeline ``needle eval`` uses (:func:`pipelines.evaluation.retrieve_all`), so
a comparison on a dataset reproduces ``needle eval``'s figures for each configuration exactly, and a
comparison on the cases measures what the answerer would be given. Per case the report says whether the
candidate ranks the expected source better, worse or the same, and flags cases the live configuration
answers (the source reaches the answerer) that the candidate loses.

That pipeline records nothing, so each case's run under each configuration is kept as a retrieval trace
(origin ``compare``) in the trace store the debugger reads: "why did this case fail under the candidate"
is one click from the comparison, with the lists, the settings and ``needle why``'s panel of that run.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from haystack import Document

from pipelines.answering import trace_entries
from pipelines.answers import Passage
from pipelines.audience import ADMIN, Viewer, audience_filter
from pipelines.cases import RetrievalCase
from pipelines.errors import NeedleError
from pipelines.evaluation import EVAL_DEPTH, RetrievedLists, retrieve_all, run_eval, score_runs
from pipelines.retrieval_config import Promotion, apply, effective_values
from pipelines.settings import Settings
from pipelines.traces import Trace

logger = logging.getLogger(__name__)

Outcome = Literal["better", "worse", "same"]
Leg = Literal["live", "candidate"]
#: The origin of a comparison's retrieval traces (the traces tab can list them on their own).
TRACE_ORIGIN = "compare"


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    question: str
    live_rank: int | None  # rank of the first expected source or chunk in the fused list (1 = top)
    candidate_rank: int | None
    outcome: Outcome
    lost: bool  # reached the answerer under the live configuration, not under the candidate
    # The retrieval traces of this case's two runs (None if the trace store could not record one).
    live_trace_id: str | None = None
    candidate_trace_id: str | None = None


@dataclass(frozen=True)
class Comparison:
    live: dict[str, Any]  # the configuration's values
    candidate: dict[str, Any]
    live_metrics: dict[str, float]
    candidate_metrics: dict[str, float]
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def lost(self) -> list[CaseResult]:
        return [case for case in self.cases if case.lost]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": [case.case_id for case in self.lost]}


def _ranked_ids(chunks: list[Document], by_chunk: bool) -> list[str]:
    ranked: list[str] = []
    for chunk in chunks:
        key = str(chunk.id) if by_chunk else str(chunk.meta.get("source_id"))
        if key not in ranked:
            ranked.append(key)
    return ranked


def _first_rank(ranked: list[str], expected: set[str]) -> int | None:
    return next((rank for rank, key in enumerate(ranked, start=1) if key in expected), None)


def _measure(
    cases: list[RetrievalCase], fused: dict[str, list[Document]], top_k: int
) -> tuple[dict[str, float], dict[str, int | None]]:
    """nDCG@10, Recall@100, MRR@10 (as ``needle eval``) and hit@k (the expected item reaches the answerer),
    with each case's first relevant rank."""
    qrels: dict[str, dict[str, int]] = {}
    runs: dict[str, dict[str, float]] = {}
    ranks: dict[str, int | None] = {}
    for case in cases:
        by_chunk = bool(case.expected_chunks)
        expected = set(case.expected_chunks if by_chunk else case.expected_sources)
        ranked = _ranked_ids(fused[case.case_id], by_chunk)
        qrels[case.case_id] = dict.fromkeys(expected, 1)
        runs[case.case_id] = {key: 1.0 / rank for rank, key in enumerate(ranked[:EVAL_DEPTH], start=1)}
        ranks[case.case_id] = _first_rank(ranked, expected)
    metrics = score_runs(qrels, runs)
    hits = sum(1 for rank in ranks.values() if rank is not None and rank <= top_k)
    metrics[f"hit@{top_k}"] = round(hits / len(cases), 4)
    return metrics, ranks


def _retrieve(service: Any, settings: Settings, cases: list[RetrievalCase], viewer: Viewer) -> RetrievedLists:
    queries = {case.case_id: case.question for case in cases}
    return retrieve_all(service, settings, queries, fused_depth=EVAL_DEPTH, filters=audience_filter(viewer))


def _retrieval_trace(
    case: RetrievalCase,
    settings: Settings,
    lists: RetrievedLists,
    query_ms: float,
    leg: Leg,
    config_id: str,
    actor: str | None,
    viewer: Viewer,
) -> Trace:
    """One case's run under one configuration, in the shape of an answer's trace (no LLM, no prompt), so
    the debugger shows, re-runs and explains it as it does an answer: ``settings`` carries the
    configuration's values, which is what a re-run and "why" read back."""
    reranked = lists.reranked[case.case_id] if lists.reranked is not None else None
    final = (reranked if reranked is not None else lists.fused[case.case_id])[: settings.top_k]
    passages = [Passage.from_document(number, doc) for number, doc in enumerate(final, start=1)]
    return {
        "trace_id": uuid.uuid4().hex,
        "created_at": time.time(),
        "origin": TRACE_ORIGIN,
        "user_id": actor,
        "question": case.question,
        "retrieval_query": case.question,
        "retrieval_query_method": "none",
        "history": [],
        "filters": None,
        "viewer": viewer.describe(),
        "context": {"case_id": case.case_id, "configuration": leg},
        "retrieval_config": config_id,
        "settings": {**settings.public_summary(), **effective_values(settings)},
        "bm25": trace_entries(lists.bm25[case.case_id]),
        "dense": trace_entries(lists.dense[case.case_id]),
        "fused": trace_entries(lists.fused[case.case_id]),
        "reranked": trace_entries(reranked) if reranked is not None else None,
        "prompt": "",
        "llm_used": False,
        "answerability": {},
        "answer": {
            "text": (
                f"No answer was written: retrieval only, for test case {case.case_id} under the {leg} "
                "configuration of a comparison in the retrieval lab. The passages are what the answerer "
                "would have been given."
            ),
            "kind": "retrieval",
            "found": False,
            "notice": None,
            "cited": False,
            "model": None,
            "reply": "",
            "citations": [],
            "related": [],
        },
        "passages": [passage.__dict__ for passage in passages],
        "timings_ms": {"retrieval": round(query_ms, 2), "total": round(query_ms, 2)},
    }


def _record_traces(
    service: Any,
    cases: list[RetrievalCase],
    settings: Settings,
    lists: RetrievedLists,
    leg: Leg,
    config_id: str,
    actor: str | None,
    viewer: Viewer,
) -> dict[str, str | None]:
    """Save a retrieval trace per case; the case id -> trace id (``None`` where saving failed: a trace is
    for debugging, so a trace store that fails does not fail the comparison)."""
    recorded: dict[str, str | None] = {}
    for case, query_ms in zip(cases, lists.query_ms, strict=True):
        trace = _retrieval_trace(case, settings, lists, query_ms, leg, config_id, actor, viewer)
        try:
            service.traces.save(trace)
            recorded[case.case_id] = trace["trace_id"]
        except Exception:
            logger.exception("could not record the %s trace of case %s", leg, case.case_id)
            recorded[case.case_id] = None
    return recorded


def compare_cases(
    service: Any,
    candidate: dict[str, Any],
    cases: list[RetrievalCase] | None = None,
    actor: str | None = None,
    viewer: Viewer = ADMIN,
) -> Comparison:
    """Run the cases under the live configuration and under it with ``candidate``'s values applied,
    recording each run as a retrieval trace (``actor`` is who compared, as the traces' asker).

    :param viewer: whose audience both retrievers search: everything for the CLI and editors (as
        ``needle eval`` does), what everyone may see for a console ``viewer``, whose comparison must not
        rank, trace or link to restricted chunks."""
    cases = service.cases.list() if cases is None else cases
    if not cases:
        raise NeedleError("there are no test cases yet; add some with `needle cases add` or import a file")
    live = service.configs.live()
    live_id = live.config_id if live else "default"
    live_settings = service.configs.live_settings()
    candidate_settings = apply(live_settings, candidate)
    # Hit@k is judged at the live configuration's top-k for both, so a bigger candidate top-k shows as
    # a rank change, not as a free win.
    top_k = live_settings.top_k
    live_lists = _retrieve(service, live_settings, cases, viewer)
    cand_lists = _retrieve(service, candidate_settings, cases, viewer)
    live_metrics, live_ranks = _measure(cases, live_lists.fused, top_k)
    cand_metrics, cand_ranks = _measure(cases, cand_lists.fused, top_k)
    live_traces = _record_traces(service, cases, live_settings, live_lists, "live", live_id, actor, viewer)
    cand_traces = _record_traces(
        service,
        cases,
        candidate_settings,
        cand_lists,
        "candidate",
        f"candidate over {live_id}",
        actor,
        viewer,
    )
    results = []
    for case in cases:
        before, after = live_ranks[case.case_id], cand_ranks[case.case_id]
        far = EVAL_DEPTH + 1
        outcome: Outcome = "same"
        if (after or far) < (before or far):
            outcome = "better"
        elif (after or far) > (before or far):
            outcome = "worse"
        lost = before is not None and before <= top_k and (after is None or after > top_k)
        results.append(
            CaseResult(
                case.case_id,
                case.question,
                before,
                after,
                outcome,
                lost,
                live_trace_id=live_traces[case.case_id],
                candidate_trace_id=cand_traces[case.case_id],
            )
        )
    return Comparison(
        live=effective_values(live_settings),
        candidate=effective_values(candidate_settings),
        live_metrics=live_metrics,
        candidate_metrics=cand_metrics,
        cases=results,
    )


def compare_dataset(
    folder: str,
    split: str,
    settings: Settings,
    candidate: dict[str, Any],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``needle eval`` under both configurations: each report is exactly what ``needle eval`` prints."""
    candidate_settings = apply(settings, candidate)
    return {
        "live": run_eval(folder, split, settings, progress=progress),
        "candidate": run_eval(folder, split, candidate_settings, progress=progress),
        "candidate_values": effective_values(candidate_settings),
    }


def promote(
    service: Any, candidate: dict[str, Any], actor: str | None, note: str, confirm: bool = False
) -> tuple[Promotion, Comparison | None]:
    """Promote ``candidate`` after comparing it on the cases; refused when it loses cases the live
    configuration answers, unless ``confirm``. Without cases there is nothing to compare."""
    comparison = compare_cases(service, candidate, actor=actor) if service.cases.list() else None
    if comparison and comparison.lost and not confirm:
        lost = ", ".join(case.case_id for case in comparison.lost)
        raise NeedleError(
            f"the candidate loses {len(comparison.lost)} case(s) the live configuration answers ({lost}); "
            "confirm to promote it anyway"
        )
    metrics = (
        {"live": comparison.live_metrics, "candidate": comparison.candidate_metrics} if comparison else {}
    )
    promoted = service.configs.promote({**_live_values(service), **candidate}, actor, note, metrics)
    return promoted, comparison


def _live_values(service: Any) -> dict[str, Any]:
    live = service.configs.live()
    return dict(live.values) if live else {}

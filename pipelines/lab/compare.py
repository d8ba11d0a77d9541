"""Compare the live retrieval configuration with a candidate, on the test cases or a BEIR dataset.

On a dataset both runs use the retrieval pipeline ``needle eval`` uses
(:func:`pipelines.lab.evaluation.retrieve_all`), so a comparison reproduces ``needle eval``'s figures for each
configuration exactly. On the cases, each case is also *answered* under each configuration, through the
service's own answering path with that configuration's values (as the debugger's knobs pass them): what
the answerer receives at that side's own ``top_k``, whether the answer was found, and whether it cites the
expected source. A setting that changes what reaches the answerer or what it makes of it (``top_k``, the
answerability threshold) shows as a worse case, and as a lost case for the promote guard, even when the
fused ranking is the same.

Each case's answer under each configuration is recorded as an ordinary trace (origin ``compare``, context
``{"case_id", "configuration"}``) in the trace store the debugger reads: "why did this case fail under the
candidate" is one click from the comparison, with the lists, the settings and the answer of that run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from haystack import Document

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.lab.evaluation import EVAL_DEPTH, RetrievedLists, retrieve_all, run_eval, score_runs
from pipelines.querying.answering import QueryOptions
from pipelines.records.answers import Answer
from pipelines.records.audience import ADMIN, Viewer, audience_filter
from pipelines.records.cases import RetrievalCase
from pipelines.records.retrieval_config import Promotion, apply, effective_values
from pipelines.stores.traces import COMPARE_ORIGIN

logger = logging.getLogger(__name__)

Outcome = Literal["better", "worse", "same"]
Leg = Literal["live", "candidate"]
#: The origin of a comparison's traces (the traces tab can list them on their own).
TRACE_ORIGIN = COMPARE_ORIGIN
#: The metric of what reaches the answerer: the expected source or chunk is among the passages it is
#: given, at each configuration's own ``top_k`` (which the report shows next to it).
HIT_AT_TOP_K = "hit@top_k"
#: The share of cases answered (found) with the expected source cited.
ANSWERED = "answered"


@dataclass(frozen=True)
class CaseRun:
    """One case under one configuration: what reached the answerer and what it answered."""

    rank: int | None  # rank of the first expected source or chunk in the fused list (1 = top)
    reached: bool  # among the passages the answerer was given (the configuration's top_k)
    found: bool  # the answer was found (not "I could not find this")
    cited: bool  # the answer cites an expected source
    trace_id: str | None = None

    @property
    def answered(self) -> bool:
        return self.found and self.cited

    def standing(self) -> tuple[bool, bool, int]:
        """How good the run is for the case, best highest: answered, then reached, then fused rank."""
        return (self.answered, self.reached, -(self.rank or EVAL_DEPTH + 1))


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    question: str
    live_rank: int | None  # rank of the first expected source or chunk in the fused list (1 = top)
    candidate_rank: int | None
    outcome: Outcome
    # Answered (or, at least, given to the answerer) under the live configuration, not under the candidate.
    lost: bool
    # The traces of this case's two answers (None if the trace store could not record one).
    live_trace_id: str | None = None
    candidate_trace_id: str | None = None
    live_reached: bool = False
    candidate_reached: bool = False
    live_answered: bool = False  # found, with an expected source cited
    candidate_answered: bool = False
    live_found: bool = False
    candidate_found: bool = False

    @classmethod
    def of(cls, case: RetrievalCase, live: CaseRun, candidate: CaseRun) -> CaseResult:
        outcome: Outcome = "same"
        if candidate.standing() > live.standing():
            outcome = "better"
        elif candidate.standing() < live.standing():
            outcome = "worse"
        lost = (live.answered and not candidate.answered) or (live.reached and not candidate.reached)
        return cls(
            case.case_id,
            case.question,
            live.rank,
            candidate.rank,
            outcome,
            lost,
            live_trace_id=live.trace_id,
            candidate_trace_id=candidate.trace_id,
            live_reached=live.reached,
            candidate_reached=candidate.reached,
            live_answered=live.answered,
            candidate_answered=candidate.answered,
            live_found=live.found,
            candidate_found=candidate.found,
        )


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

    def metric_label(self, name: str) -> str:
        """A metric's name as a report shows it: ``hit@top_k`` with each side's own k ("hit@top_k (live
        k=5, candidate k=1)"), since the two sides give the answerer different numbers of passages."""
        if name != HIT_AT_TOP_K:
            return name
        live, candidate = self.live.get("top_k"), self.candidate.get("top_k")
        if live == candidate:
            return f"hit@{live}"
        return f"{HIT_AT_TOP_K} (live k={live}, candidate k={candidate})"

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


def _ranking_metrics(
    cases: list[RetrievalCase], fused: dict[str, list[Document]]
) -> tuple[dict[str, float], dict[str, int | None]]:
    """nDCG@10, Recall@100 and MRR@10 (as ``needle eval``), with each case's first relevant rank."""
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
    return score_runs(qrels, runs), ranks


def _retrieve(service: Any, settings: Settings, cases: list[RetrievalCase], viewer: Viewer) -> RetrievedLists:
    queries = {case.case_id: case.question for case in cases}
    return retrieve_all(service, settings, queries, fused_depth=EVAL_DEPTH, filters=audience_filter(viewer))


def _expected_sources(service: Any, case: RetrievalCase) -> set[str]:
    """The sources whose citation answers the case: its expected sources, and those of its chunks."""
    sources = set(case.expected_sources)
    for chunk_id in case.expected_chunks:
        chunk = service.chunk(chunk_id)
        if chunk is not None and chunk.meta.get("source_id"):
            sources.add(str(chunk.meta["source_id"]))
    return sources


def _answer(
    service: Any,
    case: RetrievalCase,
    settings: Settings,
    rank: int | None,
    leg: Leg,
    actor: str | None,
    viewer: Viewer,
) -> CaseRun:
    """Ask the case's question as an employee would, with ``settings``' retrieval values as the question's
    own options (so the live configuration cannot fill them in), and judge the answer."""
    answer: Answer = service.ask(
        case.question,
        origin=TRACE_ORIGIN,
        user_id=actor,
        options=QueryOptions(**effective_values(settings)),
        viewer=viewer,
        context={"case_id": case.case_id, "configuration": leg},
    )
    sources = _expected_sources(service, case)
    chunks = set(case.expected_chunks)
    if chunks:
        reached = any(passage.id in chunks for passage in answer.passages)
    else:
        reached = any(passage.meta.get("source_id") in sources for passage in answer.passages)
    cited = any(citation.source_id in sources for citation in answer.citations)
    trace_id = answer.trace_id if service.get_trace(answer.trace_id) is not None else None
    return CaseRun(rank, reached, answer.found, cited, trace_id)


def _answer_metrics(runs: list[CaseRun]) -> dict[str, float]:
    count = max(1, len(runs))
    return {
        HIT_AT_TOP_K: round(sum(run.reached for run in runs) / count, 4),
        ANSWERED: round(sum(run.answered for run in runs) / count, 4),
    }


def compare_cases(
    service: Any,
    candidate: dict[str, Any],
    cases: list[RetrievalCase] | None = None,
    actor: str | None = None,
    viewer: Viewer = ADMIN,
) -> Comparison:
    """Run and answer the cases under the live configuration and under it with ``candidate``'s values
    applied, recording each answer as a trace (``actor`` is who compared, as the traces' asker).

    With an LLM configured, each case is answered by it twice (once per configuration), as an employee's
    question would be: the comparison judges the answers people would get.

    :param viewer: whose audience both retrievers search: everything for the CLI and editors (as
        ``needle eval`` does), what everyone may see for a console ``viewer``, whose comparison must not
        rank, trace or link to restricted chunks."""
    cases = service.cases.list() if cases is None else cases
    if not cases:
        raise NeedleError("there are no test cases yet; add some with `needle cases add` or import a file")
    live_settings = service.configs.live_settings()
    candidate_settings = apply(live_settings, candidate)
    legs: dict[Leg, Settings] = {"live": live_settings, "candidate": candidate_settings}
    metrics: dict[Leg, dict[str, float]] = {}
    runs: dict[Leg, dict[str, CaseRun]] = {}
    for leg, settings in legs.items():
        ranking, ranks = _ranking_metrics(cases, _retrieve(service, settings, cases, viewer).fused)
        runs[leg] = {
            case.case_id: _answer(service, case, settings, ranks[case.case_id], leg, actor, viewer)
            for case in cases
        }
        metrics[leg] = {**ranking, **_answer_metrics(list(runs[leg].values()))}
    return Comparison(
        live=effective_values(live_settings),
        candidate=effective_values(candidate_settings),
        live_metrics=metrics["live"],
        candidate_metrics=metrics["candidate"],
        cases=[
            CaseResult.of(case, runs["live"][case.case_id], runs["candidate"][case.case_id]) for case in cases
        ],
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

"""Compare the live retrieval configuration with a candidate, on the test cases or a BEIR dataset.

Both runs use the retrieval pipeline ``needle eval`` uses (:func:`pipelines.evaluation.retrieve_all`), so
a comparison on a dataset reproduces ``needle eval``'s figures for each configuration exactly, and a
comparison on the cases measures what the answerer would be given. Per case the report says whether the
candidate ranks the expected source better, worse or the same, and flags cases the live configuration
answers (the source reaches the answerer) that the candidate loses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from haystack import Document

from pipelines.cases import RetrievalCase
from pipelines.errors import NeedleError
from pipelines.evaluation import EVAL_DEPTH, retrieve_all, run_eval, score_runs
from pipelines.retrieval_config import Promotion, apply, effective_values
from pipelines.settings import Settings

Outcome = Literal["better", "worse", "same"]


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    question: str
    live_rank: int | None  # rank of the first expected source or chunk in the fused list (1 = top)
    candidate_rank: int | None
    outcome: Outcome
    lost: bool  # reached the answerer under the live configuration, not under the candidate


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


def _fused_lists(service: Any, settings: Settings, cases: list[RetrievalCase]) -> dict[str, list[Document]]:
    queries = {case.case_id: case.question for case in cases}
    return retrieve_all(service, settings, queries, fused_depth=EVAL_DEPTH).fused


def compare_cases(
    service: Any, candidate: dict[str, Any], cases: list[RetrievalCase] | None = None
) -> Comparison:
    """Run the cases under the live configuration and under it with ``candidate``'s values applied."""
    cases = service.cases.list() if cases is None else cases
    if not cases:
        raise NeedleError("there are no test cases yet; add some with `needle cases add` or import a file")
    live_settings = service.configs.live_settings()
    candidate_settings = apply(live_settings, candidate)
    # Hit@k is judged at the live configuration's top-k for both, so a bigger candidate top-k shows as
    # a rank change, not as a free win.
    top_k = live_settings.top_k
    live_metrics, live_ranks = _measure(cases, _fused_lists(service, live_settings, cases), top_k)
    cand_metrics, cand_ranks = _measure(cases, _fused_lists(service, candidate_settings, cases), top_k)
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
        results.append(CaseResult(case.case_id, case.question, before, after, outcome, lost))
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
    comparison = compare_cases(service, candidate) if service.cases.list() else None
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

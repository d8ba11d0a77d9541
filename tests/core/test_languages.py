"""Language-aware retrieval: Chinese questions are not dragged down by an English-only embedder."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.lab.evaluation import language_report
from pipelines.service.facade import NeedleService

DATA = Path(__file__).parents[1] / "data"


def test_chinese_questions_retrieve_at_least_as_well_as_bm25_alone(handbook_service: NeedleService) -> None:
    questions = json.loads((DATA / "chinese_questions.json").read_text(encoding="utf-8"))
    report = language_report(handbook_service, questions)
    assert report["fused"]["mrr@5"] >= report["bm25"]["mrr@5"]
    assert report["fused"]["hit@1"] >= report["bm25"]["hit@1"] >= 0.9
    assert report["fused"]["mrr@5"] >= report["fused_blind"]["mrr@5"]


def test_english_questions_keep_the_embedder(handbook_service: NeedleService) -> None:
    questions = [
        q for q in json.loads((DATA / "handbook_questions.json").read_text()) if q["language"] == "en"
    ]
    report = language_report(handbook_service, questions)
    assert report["fused"] == report["fused_blind"]  # English questions are fused exactly as before
    assert report["fused"]["hit@1"] >= 0.9


def test_chinese_fusion_records_why_the_dense_list_was_left_out(handbook_service: NeedleService) -> None:
    answer = handbook_service.ask("上海办公室每天的午餐补贴是多少？")
    retrieval = answer.passages[0].meta["retrieval"]
    assert retrieval["dense"] is None
    assert retrieval["dense_skipped"] == "the embedder does not cover zh"
    trace = handbook_service.get_trace(answer.trace_id)
    assert trace["dense"]  # the dense retriever still ran, and the debugger can show what it found

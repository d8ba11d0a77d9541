"""``needle why``: every stage's verdict on a target chunk, consistent with the trace and with compare."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.errors import NeedleError
from pipelines.indexing.sources import source_id_for
from pipelines.lab.evaluation import EVAL_DEPTH, retrieve_all
from pipelines.lab.why import explain, format_explanation
from pipelines.records.audience import ADMIN, Viewer
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.core.test_retrieval_lab import handbook_cases


def _chunk_rank(documents: list, expected: set[str]) -> int | None:
    return next((r for r, d in enumerate(documents, start=1) if d.meta.get("source_id") in expected), None)


def test_why_explains_every_handbook_case_missed_at_rank_1_as_the_trace_and_compare_see_it(
    handbook_service: NeedleService,
) -> None:
    service = handbook_service
    cases = handbook_cases()
    settings = service.configs.live_settings()
    fused = retrieve_all(
        service, settings, {c.case_id: c.question for c in cases}, fused_depth=EVAL_DEPTH
    ).fused
    missed = []
    for case in cases:
        ranked_sources = list(dict.fromkeys(str(d.meta.get("source_id")) for d in fused[case.case_id]))
        if ranked_sources[:1] != case.expected_sources:
            missed.append(case)
    assert 0 < len(missed) < len(cases)

    for case in missed:
        explanation = explain(service, case.question, case.expected_sources[0])
        best = explanation.best
        # The same fused ranking `needle compare` and `needle eval` build, chunk for chunk.
        assert best.fused_rank == _chunk_rank(fused[case.case_id], set(case.expected_sources)), case
        assert best.fused_rank != 1
        assert best.reached_answerer == (best.fused_rank is not None and best.fused_rank <= settings.top_k)
        assert explanation.hints and best.hints, case
        assert explanation.hints[0].startswith(("Reached", "Not given"))
        if best.fused_rank is not None and not best.reached_answerer:
            assert any(f"fused rank {best.fused_rank}" in hint for hint in best.hints)

        # The trace of the same question reports the same BM25 and dense ranks (it keeps the top 50).
        answer = service.ask(case.question, viewer=ADMIN)
        trace = service.get_trace(answer.trace_id)
        assert trace is not None
        for leg, attribute in (("bm25", "bm25_rank"), ("dense", "dense_rank")):
            traced = {item["id"]: item["rank"] for item in trace[leg]}
            for chunk in explanation.chunks:
                rank = getattr(chunk, attribute)
                if chunk.chunk_id in traced:
                    assert rank == traced[chunk.chunk_id], (case.question, leg, chunk.chunk_id)
                else:
                    assert rank is None or rank > len(trace[leg]), (case.question, leg, chunk.chunk_id)
        for item in trace["fused"]:
            match = [c for c in explanation.chunks if c.chunk_id == item["id"]]
            assert not match or match[0].fused_rank == item["rank"]


def test_why_names_the_missing_stem_the_filter_the_audience_and_the_language_gate(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    service = service_factory()
    bikes = tmp_path / "cycling.md"
    bikes.write_text(
        "# Cycling to the office\n\nBicycles may be parked in the covered racks in the basement garage. "
        "Showers and lockers are next to the racks.\n"
    )
    secret = tmp_path / "board-minutes.md"
    secret.write_text("# Board minutes\n\nThe board discussed parking for bicycles and the garage.\n")
    assert service.ingest_file(bikes, tags=["facilities"]).status == "indexed"
    assert service.ingest_file(secret, audience="channel:C0BOARD").status == "indexed"
    for name in ("leave-policy.md", "it-setup-guide.md"):
        service.ingest_file(HANDBOOK / name, tags=["it"] if name.startswith("it") else ["hr"])
    source = source_id_for("cycling.md")
    question = "Can I bring my bike to work?"

    plain = explain(service, question, source)
    chunk = plain.best
    assert "bike" in chunk.missing_terms and "bike" in plain.question_terms
    assert "the chunk says 'bicycles', the question 'bike': no shared stem" in chunk.hints
    assert chunk.dense_rank is not None and chunk.cosine is not None and chunk.excluded_by == []
    assert chunk.fused_rank is not None and plain.fusion.mode == "weighted"
    # The fused score is the sum of the two parts, as the formula says.
    parts = (chunk.bm25_part or 0.0) + (chunk.dense_part or 0.0)
    assert chunk.fused_score == pytest.approx(parts)
    assert "min-max" in plain.fusion.formula and plain.to_dict()["fusion"]["formula"]

    filtered = explain(service, question, source, tags=["it"])
    assert filtered.best.excluded_by == ["tag filter 'it'"]
    assert filtered.best.fused_rank is None and not filtered.best.reached_answerer
    assert any(
        h.startswith("excluded by tag filter 'it' (without it, fused rank") for h in filtered.best.hints
    )

    hidden = explain(service, "bicycles garage", source_id_for("board-minutes.md"), viewer=Viewer())
    assert hidden.best.excluded_by == ["audience: only channel:C0BOARD may see it"]
    seen = explain(
        service, "bicycles garage", source_id_for("board-minutes.md"), viewer=Viewer(channel_id="C0BOARD")
    )
    assert seen.best.excluded_by == [] and seen.best.bm25_rank is not None

    chinese = explain(service, "我每年有多少天年假？", source_id_for("leave-policy.md"))
    assert chinese.fusion.dense_left_out and "zh" in chinese.fusion.dense_left_out
    assert any("left out of fusion" in hint for hint in chinese.hints)
    assert all(c.dense_part is None for c in chinese.chunks)

    rrf = explain(
        service, question, source, settings=service.settings.model_copy(update={"fusion": "rrf", "top_k": 1})
    )
    assert "/ (60 + BM25 rank)" in rrf.fusion.formula
    assert rrf.best.fused_score == pytest.approx((rrf.best.bm25_part or 0) + (rrf.best.dense_part or 0))
    text = format_explanation(rrf)
    assert "fused rank" in text
    # A chunk's start is quoted as it reads, never as Python's repr with literal "\\n".
    assert "\\n" not in text and "\\'" not in text
    shown = " ".join(rrf.best.preview.split())[:40]
    assert f"{rrf.best.chunk_id}: “{shown}" in text

    with pytest.raises(NeedleError, match="no source or chunk"):
        explain(service, question, "no-such-source")
    one_chunk = explain(service, question, chunk.chunk_id)
    assert [c.chunk_id for c in one_chunk.chunks] == [chunk.chunk_id]


def test_needle_why_on_the_command_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["ingest", str(HANDBOOK / "office-facilities.html"), str(HANDBOOK / "leave-policy.md")]) == 0
    )
    capsys.readouterr()
    source = source_id_for("office-facilities.html")
    assert cli.main(["why", "Can I bring my bike to work?", source, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == source and report["config_id"] == "default"
    assert report["chunks"] and {"bm25_rank", "dense_rank", "fused_rank", "hints"} <= set(report["chunks"][0])
    assert report["fusion"]["formula"].startswith("fused =")
    assert cli.main(["why", "Can I bring my bike to work?", source]) == 0
    assert "BM25 rank" in capsys.readouterr().out
    assert cli.main(["why", "vacation", "nope"]) == 1
    assert "no source or chunk" in capsys.readouterr().err

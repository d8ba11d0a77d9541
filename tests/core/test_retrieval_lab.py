"""The retrieval lab's core: test cases, the live configuration and comparing a candidate with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.errors import NeedleError
from pipelines.base.settings import load_settings
from pipelines.cli import common
from pipelines.indexing.sources import source_id_for
from pipelines.lab.compare import compare_cases, compare_dataset, promote
from pipelines.lab.why import explain_trace, trace_request
from pipelines.records.audience import ADMIN
from pipelines.records.audit import AuditLog
from pipelines.records.cases import CaseStore, RetrievalCase
from pipelines.records.retrieval_config import ConfigStore, parse_assignments
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore
from tests.conftest import HANDBOOK
from tests.core.test_evaluation import write_beir

HANDBOOK_QUESTIONS = Path(__file__).parent.parent / "data" / "handbook_answers.jsonl"


def handbook_cases() -> list[RetrievalCase]:
    """The answerable handbook questions of the test suite, as cases: each should find its document."""
    cases = []
    for number, line in enumerate(HANDBOOK_QUESTIONS.read_text(encoding="utf-8").splitlines()):
        item = json.loads(line)
        if item.get("source"):
            cases.append(
                RetrievalCase(item["question"], [source_id_for(item["source"])], case_id=f"handbook-{number}")
            )
    return cases


def test_cases_are_added_listed_removed_and_round_trip(records: RecordStore) -> None:
    cases = CaseStore(records)
    first = cases.add(
        RetrievalCase("Can I bring my bike to work?", ["office-facilities-1a2b3c"], added_by="ann")
    )
    second = cases.add(RetrievalCase("VPN?", expected_chunks=["chunk-9"], origin="debugger"))
    assert [case.case_id for case in cases.list()] == [first.case_id, second.case_id]
    exported = cases.export_lines()
    assert cases.remove(first.case_id) and not cases.remove(first.case_id)
    assert [case.case_id for case in cases.list()] == [second.case_id]
    cases.import_lines(exported)
    assert {case.case_id for case in cases.list()} == {first.case_id, second.case_id}
    assert cases.get(first.case_id) == first


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"question": "ok", "expected_sources": ["a"]}', "not json"], "line 2"),
        (['{"question": "no source"}'], "line 1: a case needs at least one expected"),
        (['["a list"]'], "line 1: not a JSON object"),
        (['{"question": "  ", "expected_sources": ["a"]}'], "needs a question"),
    ],
)
def test_a_bad_import_names_the_line_and_adds_nothing(
    records: RecordStore, lines: list[str], message: str
) -> None:
    cases = CaseStore(records)
    with pytest.raises(NeedleError, match=message):
        cases.import_lines(lines)
    assert cases.list() == []


def test_promotions_are_validated_kept_audited_and_rolled_back(records: RecordStore, tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    configs = ConfigStore(records, settings, AuditLog(records))
    assert configs.live() is None and configs.live_settings().dense_weight == 0.75
    with pytest.raises(NeedleError, match="NEEDLE_TOP_K"):
        configs.promote({"top_k": 0}, "ann", "too few")
    with pytest.raises(NeedleError, match="note"):
        configs.promote({"top_k": 3}, "ann", " ")
    first = configs.promote(parse_assignments("dense_weight=0.5"), "ann", "denser")
    assert configs.live_settings().dense_weight == 0.5
    second = configs.promote({"fusion": "rrf", "dense_weight": 0.5}, "bob", "try rrf")
    assert configs.live_settings().fusion == "rrf"
    assert [p.config_id for p in configs.history()] == [second.config_id, first.config_id]

    back = configs.rollback(first.config_id, "ann")
    assert configs.live_settings().fusion == "weighted" and configs.live_settings().dense_weight == 0.5
    assert back.rolled_back_from == first.config_id
    configs.rollback("default", "ann")
    assert configs.live_settings().dense_weight == 0.75
    actions = [entry.action for entry in configs.audit.entries()]
    assert actions == ["retrieval.rollback", "retrieval.rollback", "retrieval.promote", "retrieval.promote"]
    with pytest.raises(NeedleError, match="no promoted configuration"):
        configs.rollback("nope", "ann")


@pytest.mark.parametrize("raw", ["dense_weight", "colour=blue", "top_k=", "fusion=rrf,,embedding_model=x"])
def test_candidates_name_only_retrieval_settings(raw: str) -> None:
    with pytest.raises(NeedleError):
        parse_assignments(raw)


@pytest.mark.slow
def test_handbook_cases_show_a_worse_candidate_case_by_case(handbook_service: NeedleService) -> None:
    """Without the dense retriever, paraphrased questions rank their documents lower: the comparison
    shows it per case and in the metrics. (Slow: each of the 47 cases is answered under both
    configurations.)"""
    cases = handbook_cases()
    comparison = compare_cases(handbook_service, {"dense_weight": 0}, cases=cases)
    assert len(comparison.cases) == len(cases) == 47
    outcomes = {result.outcome for result in comparison.cases}
    assert "worse" in outcomes
    worse = [r for r in comparison.cases if r.outcome == "worse"]
    better = [r for r in comparison.cases if r.outcome == "better"]
    assert len(worse) > len(better)
    assert comparison.candidate_metrics["ndcg@10"] < comparison.live_metrics["ndcg@10"]
    for result in comparison.cases:  # "lost": answered (or given to the answerer) live, not any more
        if result.lost:
            assert result.outcome == "worse"
            assert (result.live_answered and not result.candidate_answered) or (
                result.live_reached and not result.candidate_reached
            )
        if result.live_reached and not result.candidate_reached:
            assert result.lost and result.live_rank is not None and result.live_rank <= 5
    assert comparison.lost and comparison.candidate_metrics["answered"] < comparison.live_metrics["answered"]
    assert comparison.candidate["dense_weight"] == 0 and comparison.live["dense_weight"] == 0.75

    same = compare_cases(handbook_service, {}, cases=cases[:10])
    assert same.live_metrics == same.candidate_metrics and not same.lost
    assert {r.outcome for r in same.cases} == {"same"}


def test_a_candidate_top_k_that_stops_giving_the_answerer_its_passage_loses_the_case(
    handbook_service: NeedleService,
) -> None:
    """Issue 22.11: ``top_k`` changes what the answerer receives, not the fused ranking, so a comparison
    that judged both sides at the live top_k called ``top_k=1`` "the same" on every case and let it be
    promoted. Each side is judged at its own top_k, and a case whose passage no longer reaches the
    answerer is lost: the promotion is refused."""
    question = "Can I expense a taxi from the airport at night?"
    answer = handbook_service.ask(question, viewer=ADMIN)
    second = answer.passages[1]  # the answer is in a chunk the answerer gets, but not the first one
    case = RetrievalCase(question, expected_chunks=[second.id], case_id="taxi")
    comparison = compare_cases(handbook_service, {"top_k": 1}, cases=[case])
    [result] = comparison.cases
    assert result.live_rank == result.candidate_rank == 2  # the fused ranking is the same...
    assert result.live_reached and not result.candidate_reached  # ...but the answerer no longer gets it
    assert result.outcome == "worse" and result.lost and comparison.lost == [result]
    assert comparison.live_metrics["hit@top_k"] == 1.0 and comparison.candidate_metrics["hit@top_k"] == 0.0
    assert comparison.metric_label("hit@top_k") == "hit@top_k (live k=5, candidate k=1)"
    candidate = handbook_service.get_trace(result.candidate_trace_id or "")
    assert candidate is not None and len(candidate["passages"]) == 1
    assert candidate["settings"]["top_k"] == 1 and candidate["context"]["configuration"] == "candidate"


def test_a_gate_threshold_that_stops_answers_loses_the_cases_it_answered(
    service_factory: Callable[..., NeedleService],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The answerability threshold changes no ranking at all, only whether an answer is given: a threshold
    that turns answers into "I could not find this" loses every case the live configuration answered,
    on the command line (exit 1, LOST) and for the promote guard."""
    service = service_factory()
    for name in ("office-facilities.html", "leave-policy.md"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    facilities = source_id_for("office-facilities.html")
    service.add_case(RetrievalCase("Where can I leave my bike?", [facilities], case_id="bike"))

    comparison = compare_cases(service, {"answerability_threshold": 1.0})
    [result] = comparison.cases
    assert result.live_rank == result.candidate_rank and result.live_reached and result.candidate_reached
    assert result.live_answered and not result.candidate_found and not result.candidate_answered
    assert result.outcome == "worse" and result.lost
    assert (comparison.live_metrics["answered"], comparison.candidate_metrics["answered"]) == (1.0, 0.0)
    candidate = service.get_trace(result.candidate_trace_id or "")
    assert candidate is not None and candidate["answer"]["found"] is False

    with pytest.raises(NeedleError, match="loses 1 case"):
        promote(service, {"answerability_threshold": 1.0}, "ann", "stricter gate")
    assert service.configs.live() is None

    monkeypatch.setattr(common, "service", lambda: service)  # the command, on this service
    capsys.readouterr()
    assert cli.main(["compare", "--candidate", "answerability_threshold=1"]) == cli.EXIT_ERROR
    printed = capsys.readouterr().out
    assert "LOST" in printed and "answer: answered -> not found" in printed


def test_the_live_configuration_applies_to_the_next_question_in_every_process(
    service_factory: Callable[..., NeedleService],
) -> None:
    serving = service_factory()
    for name in ("leave-policy.md", "it-setup-guide.md"):
        serving.ingest_file(HANDBOOK / name)
    admin = service_factory()  # another process on the same data directory

    answer = serving.ask("How many vacation days do I get?")
    trace = serving.get_trace(answer.trace_id)
    assert trace is not None and trace["retrieval_config"] == "default"
    assert trace["settings"]["top_k"] == 5
    # A case for a chunk the answerer gets today that neither retriever ranks first.
    firsts = {trace["bm25"][0]["id"], trace["dense"][0]["id"]}
    chunk = next(p.id for p in answer.passages if p.id not in firsts)
    admin.cases.add(RetrievalCase("How many vacation days do I get?", expected_chunks=[chunk]))

    shallow = {"bm25_top_k": 1, "dense_top_k": 1}
    with pytest.raises(NeedleError, match="loses 1 case"):
        promote(admin, shallow, "ann", "one candidate per retriever")
    assert admin.configs.live() is None
    promoted, comparison = promote(admin, {"top_k": 3, "fusion": "rrf"}, "ann", "fewer passages")
    assert comparison is not None and not comparison.lost
    assert promoted.metrics["candidate"]["hit@top_k"] == 1.0

    answer = serving.ask("How many vacation days do I get?")
    trace = serving.get_trace(answer.trace_id)
    assert trace is not None and trace["retrieval_config"] == promoted.config_id
    assert trace["settings"]["top_k"] == 3 and trace["settings"]["fusion"] == "rrf"
    assert len(answer.passages) == 3

    admin.configs.rollback("default", "ann")
    assert len(serving.ask("How many vacation days do I get?").passages) == 5


@pytest.mark.slow
def test_compare_on_a_dataset_reproduces_needle_eval(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_beir(tmp_path / "mini")
    assert cli.main(["eval", "--dataset", str(folder), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    report = compare_dataset(str(folder), "test", load_settings(), {"dense_weight": 0})
    for leg in ("bm25", "dense", "fused"):
        assert report["live"][leg] == evaluated[leg]
    assert report["candidate"]["bm25"] == evaluated["bm25"]
    assert report["candidate_values"]["dense_weight"] == 0


def test_the_command_line_runs_the_loop(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", str(HANDBOOK / "leave-policy.md"), str(HANDBOOK / "it-setup-guide.md")]) == 0
    source = source_id_for("leave-policy.md")
    assert cli.main(["cases", "add", "How many vacation days do I get?", "--source", source]) == 0
    assert (
        cli.main(
            ["cases", "add", "How do I connect to the VPN?", "--source", source_id_for("it-setup-guide.md")]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["compare", "--candidate", "dense_weight=0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["cases"]) == 2 and report["lost"] == []
    for case in report["cases"]:  # each run's trace, and where the console shows it
        for leg in ("live", "candidate"):
            trace_id = case[f"{leg}_trace_id"]
            assert trace_id and case[f"{leg}_trace_url"].endswith(f"/admin/?trace={trace_id}")
    assert cli.main(["config", "promote", "top_k=4", "--note", "shorter prompts", "--by", "ann"]) == 0
    assert "promoted" in capsys.readouterr().out
    assert cli.main(["config", "show"]) == 0
    assert json.loads(capsys.readouterr().out)["values"]["top_k"] == 4
    assert cli.main(["config", "rollback"]) == 0
    assert cli.main(["config", "show"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["values"]["top_k"] == 5
    assert cli.main(["compare", "--candidate", "colour=blue"]) == 1
    assert "not a retrieval setting" in capsys.readouterr().err


def test_cases_add_refuses_an_unknown_source_by_name_and_stores_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in ``--source`` would store a case no configuration can pass; the CLI asks the service's
    check (the console's too), so there is one rule for every face."""
    checked: list[RetrievalCase] = []
    add_case = NeedleService.add_case

    def spy(self: NeedleService, case: RetrievalCase) -> RetrievalCase:
        checked.append(case)
        return add_case(self, case)

    monkeypatch.setattr(NeedleService, "add_case", spy)
    assert cli.main(["ingest", str(HANDBOOK / "leave-policy.md")]) == 0
    known = source_id_for("leave-policy.md")
    capsys.readouterr()
    question = "How many vacation days do I get?"
    assert cli.main(["cases", "add", question, "--source", f"{known},leave-polcy-typo"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert "'leave-polcy-typo'" in captured.err and "nothing added" in captured.err and not captured.out
    assert [case.expected_sources for case in checked] == [[known, "leave-polcy-typo"]]
    assert cli.main(["cases", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert cli.main(["cases", "add", question, "--source", known]) == 0
    assert "added case" in capsys.readouterr().out and len(checked) == 2
    assert cli.main(["cases", "list", "--json"]) == 0
    assert [case["expected_sources"] for case in json.loads(capsys.readouterr().out)] == [[known]]


def _source_rank(trace: dict, source_id: str) -> int | None:
    """The rank of a source in a trace's fused list, counting each source once (as the comparison does)."""
    ranked: list[str] = []
    for entry in trace["fused"]:
        if entry["source_id"] not in ranked:
            ranked.append(entry["source_id"])
    return ranked.index(source_id) + 1 if source_id in ranked else None


def test_each_case_of_a_comparison_links_to_a_trace_of_its_run_under_each_configuration(
    service_factory: Callable[..., NeedleService],
) -> None:
    """Each case's two runs are traces the debugger opens, re-runs and explains under the settings that
    run used: "why did this case fail under the candidate?" starts from the comparison."""
    service = service_factory()
    for name in ("office-facilities.html", "leave-policy.md", "it-setup-guide.md"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    facilities = source_id_for("office-facilities.html")
    service.add_case(RetrievalCase("Can I bring my bike to work?", [facilities], case_id="bike"))

    comparison = compare_cases(service, {"dense_weight": 0}, actor="ann")
    [result] = comparison.cases
    live = service.get_trace(result.live_trace_id or "")
    candidate = service.get_trace(result.candidate_trace_id or "")
    assert live is not None and candidate is not None and live["trace_id"] != candidate["trace_id"]
    for trace, leg in ((live, "live"), (candidate, "candidate")):
        assert (trace["origin"], trace["user_id"], trace["question"]) == (
            "compare",
            "ann",
            "Can I bring my bike to work?",
        )
        assert trace["context"] == {"case_id": "bike", "configuration": leg}
        assert trace["viewer"]["unrestricted"] is True and trace["answer"]["kind"] == "extractive"
        assert len(trace["passages"]) == trace["settings"]["top_k"] == 5
        cited = {citation["source_id"] for citation in trace["answer"]["citations"]}
        assert trace["answer"]["found"] and facilities in cited
    # Both were asked while the default configuration was live; the candidate with its own values.
    assert live["retrieval_config"] == candidate["retrieval_config"] == "default"
    assert trace_request(candidate).config_id == "candidate over default"
    assert result.live_answered and result.candidate_answered
    assert live["settings"]["dense_weight"] == 0.75 and candidate["settings"]["dense_weight"] == 0
    # The traces hold the rankings the comparison measured.
    assert result.live_rank is not None
    assert _source_rank(live, facilities) == result.live_rank
    assert _source_rank(candidate, facilities) == result.candidate_rank
    # The debugger's re-run and "why" read the run's own settings back from its trace.
    assert trace_request(candidate).values["dense_weight"] == 0
    why = explain_trace(service, candidate, facilities)
    assert why.config_id == "candidate over default" and why.fusion.mode == live["settings"]["fusion"]
    listed = {t["trace_id"] for t in service.recent_traces(origin="compare")}
    assert listed == {live["trace_id"], candidate["trace_id"]}

    # A promotion's comparison is traced too, by who promoted.
    _, promoted_with = promote(service, {"top_k": 6}, "bob", "one more passage")
    assert promoted_with is not None
    assert service.get_trace(promoted_with.cases[0].candidate_trace_id or "")["user_id"] == "bob"


def test_cases_import_checks_every_line_as_cases_add_does_and_imports_all_or_nothing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case file kept in a repository is imported whole or not at all: every bad line is named with
    its number and reason in one run (an unknown source by the rule ``cases add`` applies), exit 2, and
    the cases stored before are left as they were."""
    assert cli.main(["ingest", str(HANDBOOK / "leave-policy.md")]) == 0
    known = source_id_for("leave-policy.md")
    assert cli.main(["cases", "add", "Can I carry over leave?", "--source", known]) == 0
    assert cli.main(["cases", "add", "Where do I park?", "--source", "parking-typo"]) == cli.EXIT_USAGE
    refused_by_add = "no source with id 'parking-typo'"
    assert refused_by_add in capsys.readouterr().err
    assert cli.main(["cases", "export"]) == 0
    before = capsys.readouterr().out

    good = [
        json.dumps({"question": "How many vacation days do I get?", "expected_sources": [known]}),
        json.dumps({"question": "Sick days?", "expected_chunks": ["any-chunk"], "tags": ["hr"]}),
    ]
    file = tmp_path / "cases.jsonl"
    file.write_text(
        "\n".join(
            [
                good[0],
                json.dumps({"question": "Where do I park?", "expected_sources": [known, "parking-typo"]}),
                "",
                "not json",
                json.dumps({"question": "VPN?", "expected_sources": "it-setup-guide"}),
                good[1],
                json.dumps({"question": "Two typos", "expected_sources": ["typo-a", "typo-b"]}),
                json.dumps({"question": " ", "expected_sources": [known]}),
            ]
        ),
        encoding="utf-8",
    )
    assert cli.main(["cases", "import", str(file)]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert not captured.out
    assert captured.err.splitlines() == [
        f"{file}:2: {refused_by_add}",
        f"{file}:4: not JSON (Expecting value at column 1)",
        f'{file}:5: "expected_sources" must be a list of strings',
        f"{file}:7: no source with id 'typo-a'",
        f"{file}:7: no source with id 'typo-b'",
        f"{file}:8: a case needs a question",
        f"needle cases import: 5 bad line(s) in {file}; nothing imported "
        "(`needle sources` lists the source ids)",
    ]
    assert cli.main(["cases", "export"]) == 0
    assert capsys.readouterr().out == before  # nothing added, nothing changed

    file.write_text("\n".join(good) + "\n", encoding="utf-8")
    assert cli.main(["cases", "import", str(file), "--by", "ann"]) == 0
    assert capsys.readouterr().out == "imported 2 cases\n"
    assert cli.main(["cases", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [case["question"] for case in listed] == [
        "Can I carry over leave?",
        "How many vacation days do I get?",
        "Sick days?",
    ]
    assert [(case["origin"], case["added_by"]) for case in listed[1:]] == [("import", "ann")] * 2


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"\xff\xfe{", "not UTF-8 text")],
)
def test_cases_import_of_an_unreadable_file_is_a_usage_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    file = tmp_path / "cases.jsonl"
    if content is not None:
        file.write_bytes(content)
    assert cli.main(["cases", "import", str(file)]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert cli.main(["cases", "import"]) == cli.EXIT_USAGE
    assert "give the JSON-lines file" in capsys.readouterr().err


def test_the_trace_list_leaves_out_comparison_runs_unless_asked_for_them(
    service_factory: Callable[..., NeedleService],
) -> None:
    """A comparison over N cases records 2N answers as traces; the Traces tab's default "All" lists
    the questions people asked, its "Lab comparisons" filter lists those runs, and each opens by id."""
    from admin.tabs.traces import ORIGINS, TracesActions

    service = service_factory()
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    question = "How many vacation days do I get?"
    service.add_case(RetrievalCase(question, [source_id_for("leave-policy.md")]))
    asked = service.ask(question, origin="cli")
    [result] = compare_cases(service, {"dense_weight": 0}, actor="ann").cases
    runs = {result.live_trace_id, result.candidate_trace_id}
    assert None not in runs

    # The tab's own handler, outside a request: a console without sign-in, which sees every trace.
    tab = TracesActions(service, debugger=None)  # type: ignore[arg-type]  # rows are not opened here
    listed = {origin: [row[-1] for row in tab.recent(origin, 50)] for _, origin in ORIGINS}
    assert ORIGINS[0] == ("All", "all") and listed["all"] == [asked.trace_id]
    [lab] = [origin for label, origin in ORIGINS if label.startswith("Lab comparisons")]
    assert set(listed[lab]) == runs
    assert listed["cli"] == [asked.trace_id]
    assert all((service.get_trace(trace_id) or {}).get("origin") == lab for trace_id in runs)

"""The answer an employee reads, measured: the harness itself, and the handbook set against its goals.

The handbook set (``tests/data/handbook_answers.jsonl``) is the held-out set the docs report; the gate
was calibrated on ``handbook_answers_dev.jsonl`` (115 other questions over the same documents) and the
shared development data, never on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.cli import main
from pipelines.lab.answer_eval import (
    AnswerCase,
    contains_gold,
    load_answer_dataset,
    load_squad,
    run_answer_eval,
    sample_cases,
)
from tests.conftest import HANDBOOK, make_settings

DATA = Path(__file__).parents[1] / "data"

#: The goals of the issue "answers employees can trust", per language, in extract mode. Not reached yet
#: (see docs/answer-quality.md): the strict xfail below turns green, and fails, once they are.
GOALS = {"accuracy": 0.95, "citation_rate": 0.98, "abstention": 0.90, "false_abstention": 0.05}
#: What the default reaches today on the held-out handbook set, less a small margin: a regression guard.
FLOORS = {
    "en": {"accuracy": 0.78, "citation_rate": 0.81, "abstention": 0.52, "false_abstention": 0.16},
    # The Chinese gate was rebalanced on the development data (fewer false abstentions, fewer refusals).
    "zh": {"accuracy": 0.70, "citation_rate": 0.80, "abstention": 0.60, "false_abstention": 0.20},
}


def test_gold_strings_match_whatever_the_case_spacing_or_width() -> None:
    assert contains_gold("Full-time employees get 25  Vacation days.", ["25 vacation days"])
    assert contains_gold("每位全职员工每年享有２５天带薪年假", ["25天"])
    assert not contains_gold("You get 28 days.", ["25"])


def test_a_squad_file_becomes_documents_with_some_held_back(tmp_path: Path) -> None:
    def article(n: int) -> dict:
        answer = {"text": str(n * 7), "answer_start": 0}
        qa = {"id": str(n), "question": f"What is fact {n}?", "answers": [answer]}
        return {"title": f"Article {n}", "paragraphs": [{"context": f"Fact {n} is {n * 7}.", "qas": [qa]}]}

    articles = [article(n) for n in range(8)]
    path = tmp_path / "mini.json"
    path.write_text(json.dumps({"data": articles}), encoding="utf-8")
    dataset = load_squad(path, holdout=0.25)
    assert len(dataset.documents) == 6 and len(dataset.cases) == 8
    held = [case for case in dataset.cases if case.unanswerable]
    assert len(held) == 2 and all(case.gold == () and case.source is None for case in held)
    for case in dataset.cases:
        if not case.unanswerable:
            assert case.source in dataset.documents and case.gold
    assert load_squad(path, holdout=0.25) == dataset, "the held-back documents are a fixed choice"


def test_question_files_are_checked_line_by_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nThe answer is 42.\n", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q?", "gold": ["42"], "source": "missing.md"}\n', encoding="utf-8")
    with pytest.raises(NeedleError, match=r"missing\.md"):
        load_answer_dataset(bad, corpus)
    bad.write_text('{"question": "q?"}\n', encoding="utf-8")
    with pytest.raises(NeedleError, match="needs 'gold' and 'source'"):
        load_answer_dataset(bad, corpus)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(NeedleError, match=r"bad\.jsonl:1"):
        load_answer_dataset(bad, corpus)


def test_the_development_questions_never_repeat_a_held_out_one() -> None:
    """Tuning on ``handbook_answers_dev.jsonl`` says nothing about the held-out set only while the two
    share no question; both load against the handbook (every source exists, every line is valid)."""
    held_out = load_answer_dataset(DATA / "handbook_answers.jsonl", HANDBOOK).cases
    development = load_answer_dataset(DATA / "handbook_answers_dev.jsonl", HANDBOOK).cases

    def key(case: AnswerCase) -> str:
        return " ".join(case.question.casefold().split())

    assert not {key(case) for case in held_out} & {key(case) for case in development}
    for cases in (held_out, development):
        assert len({key(case) for case in cases}) == len(cases)
        assert sum(case.unanswerable for case in cases) >= len(cases) / 4
        assert {case.language for case in cases} == {"en", "zh"}


def test_sampling_keeps_the_mix_and_is_fixed() -> None:
    cases = [AnswerCase(f"q{n}", ("x",), "a", n % 4 == 0) for n in range(100)]
    chosen = sample_cases(cases, 20)
    assert len(chosen) == 20 and sum(case.unanswerable for case in chosen) == 5
    assert chosen == sample_cases(cases, 20)


def test_eval_answers_scores_a_small_set_end_to_end(tmp_path: Path, data_dir: Path, capsys) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(record, ensure_ascii=False)
            for record in [
                {
                    "question": "How many vacation days do full-time employees get?",
                    "gold": ["25"],
                    "source": "leave-policy.md",
                },
                {"question": "How do stock options vest?", "unanswerable": True},
            ]
        ),
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leave-policy.md").write_bytes((HANDBOOK / "leave-policy.md").read_bytes())
    assert main(["eval-answers", "--dataset", str(questions), "--corpus", str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    overall = report["overall"]
    assert (overall["answerable"], overall["unanswerable"]) == (1, 1)
    assert overall["accuracy"] == 1.0 and overall["citation_rate"] == 1.0
    assert overall["abstention"] == 1.0 and overall["false_abstention"] == 0.0
    assert (overall["reached"], overall["stopped"]) == (1, 1), "extract mode: the gate stops stock options"
    assert report["mode"] == "extract" and "cases" not in report
    assert not (data_dir / "store").exists(), "the evaluation builds its own store, not the user's"


@pytest.fixture(scope="module")
def handbook_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The held-out handbook set through the harness, once for the tests below."""
    dataset = load_answer_dataset(DATA / "handbook_answers.jsonl", HANDBOOK)
    assert len(dataset.cases) >= 60
    assert sum(case.unanswerable for case in dataset.cases) * 3 >= len(dataset.cases)
    return run_answer_eval(dataset, make_settings(tmp_path_factory.mktemp("handbook-eval")))


def _misses(report: dict) -> list[tuple[str, str]]:
    return [(case["question"], case["answer"][:120]) for case in report["cases"] if not case["correct"]]


@pytest.mark.slow  # answers the 71 held-out questions twice (about 50 s): run by .ci/run after the suite
def test_the_handbook_set_stays_above_todays_figures(handbook_report: dict) -> None:
    for language, floors in FLOORS.items():
        figures = handbook_report["languages"][language]
        for name, floor in floors.items():
            worse = figures[name] > floor if name == "false_abstention" else figures[name] < floor
            assert not worse, (language, name, figures, _misses(handbook_report))


@pytest.mark.xfail(strict=True, reason="the issue's goals are not reached yet; see docs/answer-quality.md")
@pytest.mark.slow
def test_the_handbook_set_meets_the_issues_goals(handbook_report: dict) -> None:
    for language, figures in handbook_report["languages"].items():
        assert figures["accuracy"] >= GOALS["accuracy"], language
        assert figures["citation_rate"] >= GOALS["citation_rate"], language
        assert figures["abstention"] >= GOALS["abstention"], language
        assert figures["false_abstention"] <= GOALS["false_abstention"], language


def test_with_an_llm_the_harness_shows_the_gate_and_not_found_replies(tmp_path: Path, tgi) -> None:
    """The harness in LLM mode, against the local TGI-protocol server: a question nothing in the
    documents relates to never reaches the model, one that relates does, and a model reply "not in the
    documents" counts as an abstention. The report counts what reached the model."""
    url, state = tgi

    def reply(messages: list[dict]) -> str:
        prompt = messages[-1]["content"]
        if "vacation days" not in prompt.split("Question:")[-1]:
            return "The passages do not contain this."
        return "Full-time employees get 25 vacation days per year [1]."

    state.reply = reply
    questions = tmp_path / "questions.jsonl"
    records = [
        {"question": "How many vacation days do I get?", "gold": ["25"], "source": "leave-policy.md"},
        {"question": "How many days can I carry over?", "gold": ["5"], "source": "leave-policy.md"},
        {"question": "How many days off can I take to look after my sick kid?", "unanswerable": True},
        {"question": "What is the airspeed velocity of an unladen swallow?", "unanswerable": True},
    ]
    questions.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leave-policy.md").write_bytes((HANDBOOK / "leave-policy.md").read_bytes())
    settings = make_settings(tmp_path / "data", llm_api="tgi", llm_url=url, llm_timeout_seconds=5)
    report = run_answer_eval(load_answer_dataset(questions, corpus), settings)
    assert report["mode"] == "llm:tgi"
    asked = [request["body"]["messages"][-1]["content"].split("Question:")[-1] for request in state.requests]
    assert len(asked) == 3 and not any("swallow" in text for text in asked)
    by_question = {case["question"]: case for case in report["cases"]}
    assert by_question["How many vacation days do I get?"]["correct"] is True
    assert by_question["How many days can I carry over?"]["found"] is False
    assert by_question["How many days off can I take to look after my sick kid?"]["found"] is False
    overall = report["overall"]
    assert overall["abstention"] == 1.0 and overall["false_abstention"] == 0.5
    assert (overall["reached"], overall["reach"], overall["stopped"], overall["stop"]) == (2, 1.0, 1, 0.5)

"""Answers employees can trust: abstain when the documents are silent, one citation per document."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines.answers import Passage
from pipelines.citations import number_sources, related_sources
from pipelines.cli import main
from pipelines.components.answer_generator import says_not_found
from pipelines.service import NeedleService
from tests.conftest import HANDBOOK


def passage(number: int, source: str, page: int | None = None) -> Passage:
    meta = {"source_id": source, "title": source.title(), "file_name": f"{source}.pdf", "page": page}
    return Passage(number, f"chunk-{number}", "text", 1.0, meta)


class TestNumberSources:
    def test_one_entry_per_document_numbered_in_order_of_first_citation(self) -> None:
        passages = [passage(1, "leave", 2), passage(2, "travel", 1), passage(3, "leave", 4)]
        text, citations = number_sources("> a [3]\n> b [2]\n> c [1]", passages)
        assert text == "> a [1]\n> b [2]\n> c [1]"
        numbered = [(c.number, c.source_id, c.pages) for c in citations]
        assert numbered == [(1, "leave", [2, 4]), (2, "travel", [1])]
        assert citations[0].location == "leave.pdf, pages 2, 4"

    def test_adjacent_citations_of_one_document_collapse_and_unknown_numbers_go(self) -> None:
        passages = [passage(1, "leave"), passage(2, "leave"), passage(3, "travel")]
        text, citations = number_sources("Yes [1][2], see also [9] and [3].", passages)
        assert text == "Yes [1], see also  and [2]."
        assert [c.number for c in citations] == [1, 2]

    def test_related_sources_are_distinct_and_at_most_three(self) -> None:
        passages = [passage(n, name) for n, name in enumerate(["a", "a", "b", "c", "d"], start=1)]
        assert [c.source_id for c in related_sources(passages)] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "reply",
    [
        "I could not find this in the documents.",
        "The passages do not contain information about stock options.",
        "There is no information about wedding leave in the provided documents.",
        "文档中没有提到婚假。",
    ],
)
def test_not_found_replies_are_recognised(reply: str) -> None:
    assert says_not_found(reply)


@pytest.mark.parametrize(
    "reply",
    ["You get 25 vacation days [1].", "The passages do not mention it, but the VPN uses port 443 [2]."],
)
def test_answers_with_citations_are_not_taken_for_not_found(reply: str) -> None:
    assert not says_not_found(reply)


@pytest.mark.parametrize(
    "question", ["How do stock options vest?", "Can I bring my dog to the office?", "公司有股票期权吗？"]
)
def test_a_question_the_handbook_does_not_answer_gets_no_quote(
    handbook_service: NeedleService, question: str
) -> None:
    answer = handbook_service.ask(question)
    assert answer.found is False and answer.kind == "no_answer"
    assert answer.citations == [] and ">" not in answer.text
    assert 1 <= len(answer.related) <= 3
    assert len({c.source_id for c in answer.related}) == len(answer.related)
    trace = handbook_service.get_trace(answer.trace_id)
    assert trace["answerability"]["answerable"] is False
    assert trace["answerability"]["score"] < trace["answerability"]["threshold"]
    assert trace["answer"]["related"] and trace["answer"]["found"] is False


def test_an_answered_question_cites_each_document_once(handbook_service: NeedleService) -> None:
    answer = handbook_service.ask("How many vacation days do I get?")
    assert answer.found is True
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert len({c.source_id for c in answer.citations}) == len(answer.citations)
    assert answer.to_dict()["found"] is True


def test_the_gate_off_answers_whatever_was_retrieved(service_factory) -> None:
    service = service_factory(answerability_threshold=0)
    service.ingest_file(HANDBOOK / "benefits-overview.docx")
    answer = service.ask("How do stock options vest?")
    assert answer.found is True and answer.citations


@pytest.mark.parametrize(
    ("question", "expected", "who"),
    [
        ("How many vacation days do I get?", "No documents have been added", "admin"),
        ("我有多少天年假？", "还没有任何文档", "管理员"),
    ],
)
def test_an_empty_store_says_nothing_was_indexed_in_the_questions_language(
    empty_service: NeedleService, question: str, expected: str, who: str
) -> None:
    answer = empty_service.ask(question)
    assert answer.found is False and answer.citations == [] and answer.related == []
    assert expected in answer.text and who in answer.text


def test_with_an_llm_the_gate_skips_the_call_when_nothing_answers(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    before = len(state.requests)
    answer = llm_service.ask("How do stock options vest?")
    assert len(state.requests) == before, "the LLM must not be called for a question the documents miss"
    assert answer.found is False and answer.citations == []


def test_an_llm_reply_saying_not_found_becomes_found_false(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.reply = lambda messages: "I could not find this in the documents."
    answer = llm_service.ask("How many vacation days do I get?")
    assert len(state.requests) == 1
    assert answer.found is False and answer.kind == "no_answer" and answer.citations == []
    assert answer.related
    trace = llm_service.get_trace(answer.trace_id)
    assert trace["answer"]["reply"] == "I could not find this in the documents."


def test_llm_citations_map_to_the_deduplicated_sources(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.reply = lambda messages: "You get 25 days [2][1] and can carry over 5 [1]."
    answer = llm_service.ask("How many vacation days do I get?")
    assert answer.found is True
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert max(numbers) == len(answer.citations) and sorted(set(numbers)) == list(range(1, max(numbers) + 1))


def test_ask_answers_a_file_of_questions_as_json_lines_in_order(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(HANDBOOK / "leave-policy.md")]) == 0
    capsys.readouterr()
    questions = tmp_path / "questions.txt"
    questions.write_text(
        'How many vacation days do I get?\n\n{"question": "How do stock options vest?"}\n', encoding="utf-8"
    )
    assert main(["ask", "--json", "--questions", str(questions)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    asked = [line["question"] for line in lines]
    assert asked == ["How many vacation days do I get?", "How do stock options vest?"]
    assert [line["found"] for line in lines] == [True, False]
    assert {"answer", "citations", "passages", "trace_id", "related"} <= set(lines[0])


def test_ask_without_a_question_is_a_usage_error(data_dir: Path) -> None:
    assert main(["ask"]) == 2

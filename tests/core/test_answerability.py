"""Answers employees can trust: abstain when the documents are silent, one citation per document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.querying.citations import number_sources, related_sources
from pipelines.querying.components.answer_generator import says_not_found
from pipelines.records.answers import Passage
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK, make_settings
from tests.support.fake_tgi import FakeTGIState, fake_tgi_server


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


def test_with_an_llm_the_gate_skips_the_call_when_nothing_relates(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    before = len(state.requests)
    answer = llm_service.ask("What is the airspeed velocity of an unladen swallow?")
    assert len(state.requests) == before, "the LLM must not be called when nothing retrieved relates"
    assert answer.found is False and answer.citations == []
    assert answer.answerability["rule"] == "related"
    assert answer.answerability["reason"] == "nothing in the passages relates to the question"


@pytest.fixture(scope="module")
def handbook_llm(handbook_service: NeedleService) -> Iterator[tuple[NeedleService, FakeTGIState]]:
    """The whole handbook (the session's indexed store, opened by a second service as a replica would)
    answered by the local TGI-protocol server."""
    with fake_tgi_server() as (url, state):
        settings = make_settings(
            handbook_service.settings.data_dir, llm_api="tgi", llm_url=url, llm_timeout_seconds=5
        )
        service = NeedleService(settings)
        yield service, state
        service.close()


@pytest.fixture
def llm_over_handbook(handbook_llm: tuple[NeedleService, FakeTGIState]) -> tuple[NeedleService, FakeTGIState]:
    service, state = handbook_llm
    state.requests.clear()
    state.mode = "ok"
    state.reply = lambda messages: "I could not find this in the documents."
    return service, state


def _cite_passage_with(text: str, answer: str) -> Callable[[list[dict[str, Any]]], str]:
    def reply(messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        for number, body in re.findall(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', prompt, re.S):
            if text in body:
                return f"{answer} [{number}]."
        return "I could not find this in the documents."

    return reply


PER_DIEM = "What's the per diem for meals when travelling in Germany?"


def test_with_an_llm_a_question_worded_unlike_the_handbook_reaches_the_model(
    handbook_service: NeedleService, llm_over_handbook: tuple[NeedleService, FakeTGIState]
) -> None:
    """The issue's example: the meals section is the top passage, but "diem" and "germany" are not in it.
    The extract's gate abstains; in front of an LLM the gate lets it through and the model answers."""
    assert handbook_service.ask(PER_DIEM).found is False, "the extract mode keeps its gate"
    service, state = llm_over_handbook
    state.reply = _cite_passage_with("60 EUR", "Acme pays for meals up to 60 EUR per day")
    answer = service.ask(PER_DIEM)
    assert len(state.requests) == 1
    assert answer.found is True and answer.kind == "generated"
    assert "60 EUR" in answer.text and answer.citations
    assert answer.answerability["answerable"] is True and answer.answerability["rule"] == "related"
    assert answer.answerability["score"] < answer.answerability["threshold"]


def test_with_an_llm_the_models_not_found_reply_is_the_abstention(
    llm_over_handbook: tuple[NeedleService, FakeTGIState],
) -> None:
    """A question the handbook does not answer but whose passages relate ("vesting" of pensions) reaches
    the model, and its "not in the documents" reply is what the employee reads."""
    service, state = llm_over_handbook
    answer = service.ask("How do stock options vest?")
    assert len(state.requests) == 1
    assert answer.found is False and answer.kind == "no_answer" and answer.citations == []
    assert answer.related


def test_a_failed_llm_falls_back_to_an_extract_only_under_the_extracts_gate(
    llm_over_handbook: tuple[NeedleService, FakeTGIState],
) -> None:
    """The LLM mode's gate lets weakly related passages through for the model to judge; when the model
    fails, the extract that replaces its answer may quote them only if the extract's own gate would."""
    service, state = llm_over_handbook
    state.mode = "error"
    weak = service.ask(PER_DIEM)
    assert len(state.requests) == 1 and weak.found is False and weak.citations == []
    assert "returned an error" in weak.notice
    strong = service.ask("How many vacation days do I get?")
    assert strong.kind == "fallback" and strong.found is True and strong.citations


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


def test_the_chinese_gate_lets_a_paraphrased_answerable_question_through(
    handbook_service: NeedleService,
) -> None:
    """Chinese questions are judged on terms alone (the embedder does not read Chinese); the gate was
    rebalanced on the Chinese development data so that paraphrases like these are answered, while the
    handbook's missing topics (股票期权, above) are still refused."""
    answer = handbook_service.ask("今年没休完的年假最多能带几天到明年？")  # scored 0.18 before: refused
    assert answer.found is True and answer.citations, answer.answerability
    assert answer.answerability["score"] >= answer.answerability["threshold"]
    assert "5天" in answer.text

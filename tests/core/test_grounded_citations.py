"""After generation: citations name real passages, link them, and an uncited answer says it is unsourced.

The model is the local TGI-protocol server with scripted replies; everything after it is Needle's code."""

from __future__ import annotations

import re
from typing import Any

from pipelines.cli.asking import _format_answer
from pipelines.querying.citations import UNCITED_NOTE
from pipelines.service.facade import NeedleService

QUESTION = "How many vacation days do I get?"


def _passage_numbers(messages: list[dict[str, Any]]) -> dict[str, int]:
    """The prompt's passages: a phrase of each one's text -> its number."""
    passages = re.findall(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', messages[-1]["content"], re.S)
    return {body: int(number) for number, body in passages}


def _number_of(messages: list[dict[str, Any]], phrase: str) -> int:
    return next(number for body, number in _passage_numbers(messages).items() if phrase in body)


def test_a_citation_of_a_passage_that_does_not_exist_is_dropped(llm_service: NeedleService, tgi) -> None:
    _, state = tgi

    def reply(messages: list[dict[str, Any]]) -> str:
        return f"You get 25 vacation days [{_number_of(messages, '25 vacation days')}] and a bonus day [9]."

    state.reply = reply
    answer = llm_service.ask(QUESTION)
    assert len(answer.passages) < 9
    assert answer.text == "You get 25 vacation days [1] and a bonus day ."
    assert [c.file_name for c in answer.citations] == ["leave-policy.md"]
    assert answer.uncited is False and answer.related == []


def test_an_answer_citing_nothing_says_so_in_its_footer(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.reply = lambda messages: "Everyone gets 30 vacation days."
    answer = llm_service.ask(QUESTION)
    assert answer.found is True and answer.kind == "generated" and answer.citations == []
    assert answer.uncited is True and answer.related, "the sources it may come from, offered to check"
    shown = _format_answer(answer)
    assert UNCITED_NOTE in shown and "Sources:" not in shown
    trace = llm_service.get_trace(answer.trace_id)
    assert trace["answer"]["uncited"] is True and trace["answer"]["related"]


def test_an_answer_citing_only_missing_passages_counts_as_uncited(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.reply = lambda messages: "Everyone gets 30 vacation days [7][8]."
    answer = llm_service.ask(QUESTION)
    assert answer.text == "Everyone gets 30 vacation days ."
    assert answer.citations == [] and answer.uncited is True


def test_each_citation_links_the_passages_it_names(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    cited: list[int] = []

    def reply(messages: list[dict[str, Any]]) -> str:
        numbers = sorted(_passage_numbers(messages).values())
        cited[:] = [numbers[2], numbers[0], numbers[1]]
        return f"First [{cited[0]}]. Second [{cited[1]}][{cited[2]}]."

    state.reply = reply
    answer = llm_service.ask(QUESTION)
    by_number = {passage.number: passage for passage in answer.passages}
    named: dict[str, list[str]] = {}
    for number in cited:
        passage = by_number[number]
        named.setdefault(str(passage.meta["source_id"]), []).append(passage.id)
    assert {c.source_id: c.passage_ids for c in answer.citations} == named
    for citation in answer.citations:
        for passage_id in citation.passage_ids:
            assert llm_service.chunk(passage_id).meta["source_id"] == citation.source_id
    assert answer.uncited is False

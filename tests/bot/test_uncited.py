"""Slack shows an answer that cites nothing as unsourced, not under "Sources"."""

from __future__ import annotations

from bot.blocks import answer_blocks
from bot.traces import answer_from_trace
from pipelines.querying.citations import UNCITED_NOTE
from pipelines.records.answers import Answer, Citation


def _related() -> Citation:
    return Citation(1, "leave", "Leave Policy", "leave-policy.md", None, None, 0, None)


def test_an_uncited_answer_is_shown_as_not_sourced_with_the_documents_to_check() -> None:
    answer = Answer(
        "q?", "Everyone gets 30 days.", "generated", [], [], "t1", related=[_related()], uncited=True
    )
    text = "\n".join(str(block) for block in answer_blocks(answer))
    assert UNCITED_NOTE in text and "Leave Policy" in text
    assert "*Sources*" not in text and "Might be related" not in text


def test_a_shared_answer_keeps_its_uncited_footer() -> None:
    trace = {
        "trace_id": "t1",
        "question": "q?",
        "answer": {"text": "x", "kind": "generated", "related": [_related().__dict__], "uncited": True},
    }
    answer = answer_from_trace(trace)
    assert answer is not None and answer.uncited and answer.related

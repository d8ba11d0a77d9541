"""An answer given from a verified answer, as Slack shows it: "Verified by <@U…>" mentions the expert
when the stored expert is a Slack user id; a name, and the command line's output, stay plain text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot import blocks
from pipelines.knowledge.verified import VerifiedAnswer, VerifiedMatch
from pipelines.records.answers import Answer
from pipelines.service.facade import NeedleService


def _documents_answer() -> Answer:
    return Answer(
        question="Can I bring my dog to the office?",
        text="I could not find this in the documents.",
        kind="no_answer",
        citations=[],
        passages=[],
        trace_id="trace-1",
        found=False,
    )


def _verified(expert: str, answer: str = "Dogs are welcome on Fridays.") -> VerifiedAnswer:
    return VerifiedAnswer(
        answer_id="abc123",
        question="Can I bring my dog to the office?",
        answer=answer,
        expert=expert,
        verified_on="2026-11-02",
        review_by="2027-05-02",
    )


def _section_text(built: list[blocks.Block]) -> str:
    return "\n".join(block["text"]["text"] for block in built if block["type"] == "section")


@pytest.mark.parametrize("expert", ["U0EXPERT1", "W0GRIDUSER"])
def test_a_slack_experts_label_mentions_them(
    service_factory: Callable[..., NeedleService], expert: str
) -> None:
    desk = service_factory().knowledge
    given = desk.answer_with(_documents_answer(), VerifiedMatch(_verified(expert), 0.9, "dog"))
    assert given.text.endswith(f"_Verified by @{expert} on 2026-11-02_")  # the core (and CLI) text: plain

    shown = _section_text(blocks.answer_blocks(given))
    assert shown.endswith(f"_Verified by <@{expert}> on 2026-11-02_")
    assert f"@{expert} on" not in shown.replace(f"<@{expert}>", "")
    assert blocks.answer_text(given).endswith(f"_Verified by <@{expert}> on 2026-11-02_")


def test_a_name_and_the_experts_own_text_stay_as_written(
    service_factory: Callable[..., NeedleService],
) -> None:
    desk = service_factory().knowledge
    by_name = desk.answer_with(_documents_answer(), VerifiedMatch(_verified("jane.doe"), 0.9, "dog"))
    assert _section_text(blocks.answer_blocks(by_name)).endswith("_Verified by @jane.doe on 2026-11-02_")
    assert "<@" not in blocks.answer_text(by_name)

    # An id in the answer's own words is the expert's text, escaped as always: only the label mentions.
    quoting = _verified("U0EXPERT1", answer="Verified by @U0EXPERT1 on 2026-11-02 <@U0BOSS> says yes.")
    given = desk.answer_with(_documents_answer(), VerifiedMatch(quoting, 0.9, "dog"))
    shown = blocks.answer_text(given)
    assert shown.startswith("Verified by @U0EXPERT1 on 2026-11-02 &lt;@U0BOSS&gt; says yes. [1]")
    assert shown.endswith("_Verified by <@U0EXPERT1> on 2026-11-02_")
    assert shown.count("<@") == 1


def test_an_answer_not_given_from_a_verified_answer_is_unchanged() -> None:
    plain = Answer(
        question="Who signs off?",
        text="Ask _Verified by @U0EXPERT1 on 2026-11-02_ [1]",
        kind="generated",
        citations=[],
        passages=[],
        trace_id="trace-2",
        verified={"id": "x", "expert": "U0EXPERT1", "date": "2026-11-02"},  # inconsistent on purpose
    )
    assert "<@" not in blocks.answer_text(plain)

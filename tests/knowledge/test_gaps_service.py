"""Gap topics from real answers: the real pipelines, the bundled embedder, the console's visibility rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipelines.app.visibility import ConsoleView
from pipelines.records.audience import PUBLIC, Viewer
from pipelines.records.escalations import Escalation
from pipelines.service import NeedleService
from tests.conftest import HANDBOOK

pytestmark = pytest.mark.slow  # a service, an ingest and a dozen answers: about 15 s

SALARY_NOTE = (
    b"# Salary bands 2027\n\nThe salary band for a senior engineer is 85,000 to 105,000 EUR. "
    b"Bands are reviewed every April by the People Team.\n"
)


def _ask_as_gap(
    service: NeedleService, question: str, user: str, channel: str, viewer: Viewer | None = None
) -> str:
    """Ask as a Slack user; an answer given anyway gets that user's 👎, so the question is a gap."""
    answer = service.ask(
        question, origin="slack", user_id=user, viewer=viewer or Viewer(user_id=user, channel_id=channel)
    )
    if answer.found:
        service.record_feedback(answer.trace_id, "down", user_id=user, reason="not what I asked")
    return answer.trace_id


def test_gap_topics_group_by_meaning_count_people_and_hide_restricted_answers(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    service.ingest_file(HANDBOOK / "leave-policy.md")
    service.ingest_bytes("salary-bands.md", SALARY_NOTE, audience="channel:C0HR1234")
    answered = service.ask("How many vacation days do I get?", origin="slack", user_id="U0HAPPY")
    service.record_feedback(answered.trace_id, "up", user_id="U0HAPPY")  # a 👍 is no gap

    pets = [
        _ask_as_gap(service, "Can I bring my dog to the office?", "U0ANN", "C0GENERAL"),
        _ask_as_gap(service, "Are pets allowed at work?", "U0BOB", "C0RANDOM"),
        _ask_as_gap(service, "Is my puppy welcome in the office?", "U0CAT", "C0GENERAL"),
        _ask_as_gap(
            service, "Can I bring my dog to the office?", "U0ANN", "C0GENERAL"
        ),  # the same person again
    ]
    shares = [
        _ask_as_gap(service, "Do employees get stock options?", "U0DAN", "C0GENERAL"),
        _ask_as_gap(service, "How does the equity grant vest?", "U0EVE", "C0GENERAL"),
    ]
    service.knowledge.escalations.open(
        Escalation(
            shares[1],
            "C0GENERAL",
            "1765000000.000100",
            "U0EVE",
            "S0PEOPLE",
            "How does the equity grant vest?",
        )
    )
    hr = Viewer(user_id="U0HR", channel_id="C0HR1234")
    restricted = _ask_as_gap(
        service, "What is the salary band for a senior engineer?", "U0HR", "C0HR1234", hr
    )
    assert "salary-bands" in str(service.get_trace(restricted)["answer"]["citations"])

    topics = service.knowledge.gaps(since_seconds=3600)
    by_trace = {trace_id: topic for topic in topics for trace_id in topic.trace_ids}
    assert answered.trace_id not in by_trace
    pet_topic = by_trace[pets[0]]
    assert topics[0] is pet_topic  # asked by the most people
    assert {by_trace[t].topic for t in pets} == {pet_topic.topic}
    assert (pet_topic.count, pet_topic.people) == (4, 3)
    assert pet_topic.channels == ["C0GENERAL", "C0RANDOM"]
    assert len(pet_topic.examples) == 3 and set(pet_topic.examples) <= {
        "Can I bring my dog to the office?",
        "Are pets allowed at work?",
        "Is my puppy welcome in the office?",
    }
    assert pet_topic.first_asked <= pet_topic.last_asked
    share_topic = by_trace[shares[0]]
    assert share_topic is by_trace[shares[1]] and share_topic is not pet_topic
    assert share_topic.reasons.get("escalated") == 1
    assert restricted in by_trace and by_trace[restricted].hidden == 0

    # A console viewer (everyone's audience): the restricted answer still counts, but neither its trace
    # nor its question is shown, and nothing in the report names the restricted source.
    viewer_topics = service.knowledge.gaps(3600, may_see_trace=ConsoleView(service, PUBLIC).visible_trace_ids)
    assert sum(topic.count for topic in viewer_topics) == sum(topic.count for topic in topics)
    assert restricted not in {t for topic in viewer_topics for t in topic.trace_ids}
    assert sum(topic.hidden for topic in viewer_topics) == 1
    shown = str([topic.to_dict() for topic in viewer_topics])
    assert "salary" not in shown.lower()
    assert set(pets) <= {t for topic in viewer_topics for t in topic.trace_ids}

    # Usage over the same answers: counts of everything, top questions only those the reader may see.
    usage = service.knowledge.usage(3600)
    assert (usage.questions, usage.up) == (8, 1) and usage.down >= 1 and usage.escalations == 1
    assert usage.answered + usage.abstained == 8 and usage.days[-1].questions == 8
    assert usage.top_questions[0] == {"question": "Can I bring my dog to the office?", "count": 2}
    everyone = service.knowledge.usage(3600, may_see_trace=ConsoleView(service, PUBLIC).visible_trace_ids)
    assert everyone.questions == 8
    assert (
        "salary" not in str(everyone.top_questions).lower() and "salary" in str(usage.top_questions).lower()
    )

    # Questions asked before the period are not in it.
    assert service.knowledge.gaps(since_seconds=1e-6) == []

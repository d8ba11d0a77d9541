"""The Gaps tab as an API client sees it: topics from real answers, and the verified-answer form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, Console
from tests.conftest import HANDBOOK

pytestmark = pytest.mark.slow  # a console, an ingest and answers


def _day(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).date().isoformat()


@pytest.fixture(scope="module")
def client(console: Console) -> Iterator[Client]:
    client = Client(console.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    yield client
    client.close()


def test_gap_topics_and_a_verified_answer_saved_from_one(client: Client, console: Console) -> None:
    service = console.service
    service.ingest_file(HANDBOOK / "leave-policy.md")
    traces = []
    for user, question in (
        ("U0ANN", "Can I bring my dog to the office?"),
        ("U0BOB", "Are pets allowed at work?"),
    ):
        answer = service.ask(question, origin="slack", user_id=user)
        if answer.found:
            service.record_feedback(answer.trace_id, "down", user_id=user)
        traces.append(answer.trace_id)

    table, line = client.predict("30d", api_name="/gaps")
    [row] = table["data"]
    assert row[1:3] == [2, 2] and "Can I bring my dog to the office?" in row[3]
    assert set(row[-1].split()) == set(traces)
    assert line.startswith("1 topics, 2 questions")
    with pytest.raises(AppError, match="not a period"):
        client.predict("lately", api_name="/gaps")

    assert client.predict(traces[1], api_name="/verified_from_trace") == "Are pets allowed at work?"
    status, verified = client.predict(
        "Can I bring my dog to the office?",
        "Dogs are welcome on Fridays.",
        "U0EXPERT",
        "",
        "",
        traces[0],
        api_name="/add_verified",
    )
    assert "Saved verified answer" in status and "Verified by @U0EXPERT" in status
    [listed] = verified["data"]
    assert listed[1:3] == ["Can I bring my dog to the office?", "U0EXPERT"] and listed[5] == "verified"
    item = service.knowledge.verified.get(listed[0])
    assert item.trace_id == traces[0]
    assert [e.actor for e in service.audit.entries(action="verified.add")] == [ADMIN_USER]

    with pytest.raises(AppError, match=r"Nothing was saved: .*YYYY-MM-DD"):
        client.predict("Q?", "A", "", "next year", "", "", api_name="/add_verified")

    status, verified = client.predict(listed[0], api_name="/expire_verified")
    assert "no longer given as verified" in status and verified["data"][0][5] == "expired"
    status, verified = client.predict(listed[0], api_name="/remove_verified")
    assert verified["data"] == [] or verified["data"] == [[""] * len(listed)]


def test_usage_tab_draws_the_cores_figures(client: Client, console: Console) -> None:
    console.service.ask("How many vacation days do I get?", origin="slack", user_id="U0CAT")
    summary, per_day, *_charts, channels, top = client.predict("30d", api_name="/usage")
    report = console.service.knowledge.usage(30 * 86400)
    assert f"**{report.questions}** questions" in summary
    assert top["data"] == [[row["count"], row["question"]] for row in report.top_questions]
    assert per_day["mark"] == "bar" and per_day["columns"][:2] == ["day", "questions"]
    assert per_day["datatypes"]["day"] == "temporal"  # dates (ms since the epoch), not text labels
    drawn = [[_day(row[0]), row[1]] for row in per_day["data"]]
    assert drawn == [[day.day, day.questions] for day in report.days]
    assert channels["data"] == [[row["channel"], row["questions"]] for row in report.channels]
    with pytest.raises(AppError, match="not a period"):
        client.predict("whenever", api_name="/usage")

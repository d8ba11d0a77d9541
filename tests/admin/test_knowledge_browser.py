"""Issue 27's console tabs in a real browser (Debian's headless Chromium) at 1280 px: the Gaps tab shows
the questions Needle could not answer as a topic, the Usage tab draws its charts and top questions, and
the link in an expert's renewal reminder (``?verified=<id>``) opens the answer ready to renew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from pipelines.records.audience import Viewer
from tests.admin.conftest import ARTIFACTS, Console
from tests.admin.test_browser import _log_in, browser  # noqa: F401 - the shared Chromium fixture
from tests.conftest import HANDBOOK

#: Three wordings of one question the handbook does not answer, from three people in one channel.
PETS = (
    ("U0ANN", "Can I bring my dog to the office?"),
    ("U0BOB", "Are pets allowed at work?"),
    ("U0CAT", "Is it okay to bring my puppy into the office?"),
)
ANSWERED = "How many vacation days do I get?"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 - the fixture's value
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    """A 2-core machine shared by several test runs is slow: wait up to 15 s for the page."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.mark.slow
def test_gaps_and_usage_tabs_show_what_people_asked_and_the_reminders_link_renews(
    console_factory: Callable[..., Console],
    page: Page,
) -> None:
    console = console_factory()
    service = console.service
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    for user, question in PETS:
        answer = service.ask(question, origin="slack", user_id=user, viewer=Viewer(user, "C0GENERAL"))
        assert not answer.found  # the documents are silent: Needle abstains
    for user in ("U0ANN", "U0DAN"):
        answered = service.ask(ANSWERED, origin="slack", user_id=user, viewer=Viewer(user, "C0GENERAL"))
        assert answered.found
    service.record_feedback(answered.trace_id, "up", user_id="U0DAN")
    past = service.knowledge.add_verified(
        "Where do I park my bike?",
        "In the covered racks by the north entrance.",
        "U0EXPERT",
        verified_on=dt.date(2025, 1, 6),
        review_by="2025-07-06",
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _log_in(page, console.url)

    # Gaps: one topic, asked by three people, with an example question, its channel and why.
    page.get_by_role("tab", name="Gaps").click()
    expect(page.locator("#gaps-summary")).to_contain_text("1 topics, 3 questions in the last 30d")
    table = page.locator("#gaps-table")
    row = table.locator("tbody tr").first
    expect(row).to_contain_text("Can I bring my dog to the office?")
    expect(row).to_contain_text("C0GENERAL")
    expect(row).to_contain_text("abstained 3")
    expect(row.locator("td").nth(1)).to_have_text("3")  # People
    expect(row.locator("td").nth(2)).to_have_text("3")  # Questions
    expect(table).not_to_contain_text(ANSWERED)  # an answered question is no gap
    page.screenshot(path="/tmp/knowledge-gaps-1280.png", full_page=True)
    # A click on the topic fills the verified-answer form with its question.
    table.get_by_role("gridcell", name=PETS[0][1]).first.click()
    expect(page.locator("#verified-question textarea")).to_have_value(
        next(q for _, q in reversed(PETS))  # the first example: the newest question
    )

    # Usage: the summary's figures, five charts drawn, and the top questions.
    page.get_by_role("tab", name="Usage").click()
    expect(page.locator("#usage-summary")).to_contain_text("5 questions in the last 30d")
    expect(page.locator("#usage-summary")).to_contain_text("2 answered, 3 abstained")
    expect(page.locator("#usage-summary")).to_contain_text("100% helpful")
    charts = page.locator(".vega-embed")
    expect(charts).to_have_count(5)
    for index in range(5):
        expect(charts.nth(index).locator("canvas, svg").first).to_be_visible()
    top = page.get_by_label("Top questions")
    # Cell by cell, in order: the question asked twice first, then the three asked once (newest first).
    expected = [ANSWERED, *(question for _, question in reversed(PETS))]
    report = service.knowledge.usage(30 * 86400)
    assert [(row["question"], row["count"]) for row in report.top_questions] == list(
        zip(expected, [2, 1, 1, 1], strict=True)
    )
    cells = [
        str(value)
        for question, count in zip(expected, [2, 1, 1, 1], strict=True)
        for value in (count, question)
    ]
    expect(top.get_by_role("gridcell")).to_have_text(cells)
    page.screenshot(path="/tmp/knowledge-usage-1280.png", full_page=True)

    # The expert's reminder links ?verified=<id>: the Gaps tab opens on that answer, ready to renew.
    page.goto(f"{console.url}?verified={past.answer_id}")
    expect(page.get_by_role("tab", name="Gaps")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#verified-chosen input, #verified-chosen textarea").first).to_have_value(
        past.answer_id
    )
    status = page.locator("#verified-status")
    expect(status).to_contain_text("passed its review date (2025-07-06)")
    expect(status).to_contain_text("In the covered racks by the north entrance.")
    expect(page.locator("#verified-table")).to_contain_text("past review")
    page.locator("#verified-status").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/knowledge-verified-link-1280.png", full_page=True)
    page.locator("#verified-renew").click()
    expect(status).to_contain_text(f"Renewed `{past.answer_id}`".replace("`", ""))
    expect(page.locator("#verified-table")).not_to_contain_text("past review")
    assert service.knowledge.verified.get(past.answer_id).is_current()

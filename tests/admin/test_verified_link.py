"""The link in an expert's renewal reminder (``/admin/?verified=<id>``): the console opens the Gaps tab
on that verified answer, ready to renew, and a renewal gives it as verified again (handlers, no browser;
tests/admin/test_knowledge_browser.py follows the same link in Chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import gradio as gr
import pytest
from gradio.context import LocalContext
from starlette.requests import Request

from admin.tabs.gaps import GAPS_TAB, GapsActions
from pipelines.knowledge.verified import default_review_by, today
from pipelines.service.facade import NeedleService

PASSWORD = "a long enough password"


def _page_request(query: str, username: str | None = None) -> gr.Request:
    """The request of a page load at ``/admin/?<query>``, as Gradio hands it to a load event."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/",
        "query_string": query.encode(),
        "headers": [],
    }
    return gr.Request(request=Request(scope), username=username)


@pytest.fixture
def signed_in() -> Iterator[Callable[[str], None]]:
    """Make the current event's account ``username`` (what Gradio sets for a signed-in event)."""
    tokens = []

    def sign_in(username: str) -> None:
        tokens.append(LocalContext.request.set(_page_request("", username)))

    yield sign_in
    for token in reversed(tokens):
        LocalContext.request.reset(token)


def test_the_reminders_link_opens_the_answer_past_review_and_renew_gives_it_again(
    service_factory: Callable[..., NeedleService], signed_in: Callable[[str], None]
) -> None:
    service = service_factory()
    service.accounts.add("ed", PASSWORD, "editor", actor="test")
    signed_in("ed")
    desk = service.knowledge
    past = desk.add_verified(
        "Can I bring my dog to the office?",
        "Dogs are welcome on Fridays.\nKeep them on a lead.",
        "U0EXPERT",
        verified_on=dt.date(2025, 1, 6),
        review_by="2025-07-06",
    )
    assert [item.answer_id for item in desk.verified.due_for_review()] == [past.answer_id]
    actions = GapsActions(service)

    tab, chosen, renew_by, status, listed = actions.open_linked(_page_request(f"verified={past.answer_id}"))
    assert isinstance(tab, gr.Tabs) and tab.selected == GAPS_TAB
    assert chosen == past.answer_id
    assert renew_by == default_review_by(today()).isoformat()
    assert "passed its review date (2025-07-06)" in status and "Verified by @U0EXPERT" in status
    assert "> Dogs are welcome on Fridays\\.\n> Keep them on a lead\\." in status
    assert [row[0] for row in listed] == [past.answer_id] and listed[0][5] == "past review"

    # Without the parameter (or with an empty one) the page opens as always.
    for query in ("", "verified=", "trace=abc"):
        assert all(isinstance(value, type(gr.skip())) for value in actions.open_linked(_page_request(query)))

    status, listed = actions.renew_verified(chosen, renew_by, _page_request("", "ed"))
    assert f"given as verified until {renew_by}" in status
    renewed = desk.verified.get(past.answer_id)
    assert renewed.is_current() and renewed.review_by == renew_by and listed[0][5] == "verified"
    assert desk.verified.due_for_review() == []
    [edit] = service.audit.entries(action="verified.edit")
    assert edit.actor == "ed"
    with pytest.raises(gr.Error, match=r"Nothing was renewed: .*after today"):
        actions.renew_verified(chosen, "2020-01-01", _page_request("", "ed"))


def test_an_unknown_id_or_one_outside_the_viewers_audience_shows_nothing(
    service_factory: Callable[..., NeedleService], signed_in: Callable[[str], None]
) -> None:
    service = service_factory()
    service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    hidden = service.knowledge.add_verified(
        "When is the board meeting?", "Thursday at 9.", "U0EXPERT", audience="channel:C0BOARD1"
    )
    signed_in("vera")
    actions = GapsActions(service)
    for answer_id in ("nosuchid", hidden.answer_id):
        _tab, chosen, renew_by, status, listed = actions.open_linked(_page_request(f"verified={answer_id}"))
        assert (chosen, renew_by) == ("", "")
        assert status == f"No verified answer `{answer_id}` to show."
        assert "board" not in status and listed == []

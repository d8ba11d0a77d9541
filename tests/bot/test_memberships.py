"""Slack memberships for private answers, read from the local Slack Web API as Slack pages them, and the
share check over a trace's sources."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.memberships import Memberships
from bot.sharing import not_shareable, used_sources
from pipelines.records.audience import Viewer
from tests.bot.slack_api import BOT_TOKEN


def client_for(api) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=f"{api.url}/api/")


def test_memberships_come_from_groups_and_paged_channel_lists(slack_api):
    slack_api.usergroups = {"S0HR": ["U1", "U2"], "S0FIN": ["U3"]}
    slack_api.channel_members = {"C0BIG": [f"U{n}" for n in range(100, 550)] + ["U1"], "C0SMALL": ["U9"]}
    memberships = Memberships(ttl_seconds=300)
    principals = ["everyone", "usergroup:S0HR", "usergroup:S0FIN", "channel:C0BIG", "channel:C0SMALL"]
    viewer = memberships.viewer(client_for(slack_api), "U1", principals, channel_id="D1")
    assert viewer == Viewer(
        user_id="U1",
        channel_id="D1",
        private=True,
        usergroups=frozenset({"S0HR"}),
        channels=frozenset({"C0BIG"}),
    )
    pages = slack_api.of("conversations.members")
    assert len([c for c in pages if c.args["channel"] == "C0BIG"]) == 3  # 451 members, 200 a page
    # Cached: another user's viewer asks Slack nothing more.
    calls = len(slack_api.calls)
    other = memberships.viewer(client_for(slack_api), "U3", principals)
    assert other.usergroups == frozenset({"S0FIN"}) and not other.channels
    assert len(slack_api.calls) == calls


def test_a_refusing_slack_means_no_membership_and_is_asked_again(slack_api):
    slack_api.usergroups = {"S0HR": ["U1"]}
    slack_api.failures["usergroups.users.list"] = "missing_scope"
    memberships = Memberships(ttl_seconds=300)
    client = client_for(slack_api)
    assert memberships.viewer(client, "U1", ["usergroup:S0HR"]).usergroups == frozenset()
    del slack_api.failures["usergroups.users.list"]
    assert memberships.viewer(client, "U1", ["usergroup:S0HR"]).usergroups == frozenset({"S0HR"})
    # Unknown groups and channels (deleted since the audience was set) are answered with Slack's errors.
    assert memberships.members(client, "usergroup", "S0GONE") == frozenset()
    assert memberships.members(client, "channel", "C0GONE") == frozenset()
    errors = {c.response.get("error") for c in slack_api.calls}
    assert {"no_such_subteam", "channel_not_found"} <= errors


def test_a_zero_ttl_asks_slack_every_time(slack_api):
    slack_api.usergroups = {"S0HR": ["U1"]}
    memberships = Memberships(ttl_seconds=0)
    for _ in range(2):
        memberships.viewer(client_for(slack_api), "U1", ["usergroup:S0HR"])
    assert len(slack_api.of("usergroups.users.list")) == 2


TRACE = {
    "answer": {
        "citations": [{"source_id": "pub", "title": "Leave policy"}],
        "related": [{"source_id": "gone", "title": "Old memo"}],
    },
    "passages": [
        {"meta": {"source_id": "pub", "title": "Leave policy"}},
        {"meta": {"source_id": "hr", "title": "Salary bands", "audience": ["usergroup:S0HR"]}},
    ],
}


def test_a_share_is_refused_for_any_source_the_channel_may_not_see():
    assert set(used_sources(TRACE)) == {"pub", "gone", "hr"}
    audiences = {"pub": ["everyone"], "hr": ["usergroup:S0HR"]}
    channel = Viewer(user_id="U1", channel_id="C0GENERAL")
    # "gone" is no longer indexed and has no recorded audience: refused rather than guessed.
    assert not_shareable(TRACE, audiences, channel) == ["Old memo", "Salary bands"]
    audiences |= {"gone": ["everyone"], "hr": ["everyone"]}  # audiences widened since
    assert not_shareable(TRACE, audiences, channel) == []
    board = {"pub": ["everyone"], "gone": ["channel:C0BOARD"], "hr": ["channel:C0BOARD"]}
    assert not_shareable(TRACE, board, Viewer(channel_id="C0BOARD")) == []
    assert not_shareable(TRACE, board, channel) == ["Old memo", "Salary bands"]

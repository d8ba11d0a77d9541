"""An audience changed by another process reaches the very next question, in every face of the bot, and
the status line counts exactly what the asker may see (the count the App Home shows).

The real Bolt app over signed HTTP against the local Slack stand-in, on a real core; ``needle audience``
is played by a second :class:`NeedleService` on the same data directory (its own store and record-store
connections, as a terminal's process has). Slack's member lists are cached (five minutes by default); the
audiences they are checked against are not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from pipelines.service.facade import NeedleService
from tests.bot.replies import finished_answers, trace_of, wait_answers
from tests.bot.slack_requests import event_envelope, mention, message
from tests.conftest import HANDBOOK, make_settings

GUIDE = "it-setup-guide.md"
VPN = "Which port does the Acme Connect VPN use?"
#: Slack's view: who is in the IT channel.
MEMBERS = {"CIT": ["U50", "U51"], "C0GENERAL": ["U50", "U51", "U52"]}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    """The leave policy for everyone and the IT guide (each test starts with it for one admin only)."""
    service = NeedleService(make_settings(tmp_path_factory.mktemp("audiences")))
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    assert service.ingest_file(HANDBOOK / GUIDE, audience="user:U0ADMIN").status == "indexed"
    yield service
    service.close()


@pytest.fixture
def terminal(service) -> Iterator:
    """``needle audience SOURCE MEMBERS`` run in another process against the bot's data directory."""
    other = NeedleService(service.settings)
    [guide] = [s for s in other.list_sources() if s.file_name == GUIDE]
    other.set_source_audience(guide.source_id, "user:U0ADMIN", actor="cli")

    def set_audience(members: str) -> None:
        other.set_source_audience(guide.source_id, members, actor="cli")
        # The next question comes later than the embedded store's readers take to see another process's
        # write (a quarter of a second).
        time.sleep(service.store.refresh_seconds + 0.05)

    yield set_audience
    other.close()


def dm(bot, user: str, channel: str, text: str = VPN) -> None:
    ts = bot.slack.add_user_message(channel, user, text)
    bot.send.event(message(channel, user, text, ts, channel_type="im"))


def cites_guide(bot, channel: str, count: int) -> bool:
    answer = wait_answers(bot.slack, channel, count)[count - 1]
    trace = bot.runtime.service.get_trace(trace_of(answer["blocks"]))
    return any(passage["meta"]["file_name"] == GUIDE for passage in trace["passages"])


def test_a_widened_audience_reaches_the_next_direct_message_and_a_narrowed_one_leaves_it(
    start_bot, service, terminal
):
    bot = start_bot(service=service)
    bot.slack.channel_members = MEMBERS
    dm(bot, "U50", "D50")
    assert not cites_guide(bot, "D50", 1)  # for the admin only: the memberships are now cached

    terminal("channel:CIT")
    dm(bot, "U50", "D50")
    assert cites_guide(bot, "D50", 2)  # U50 is in #it: the next DM may use the guide
    dm(bot, "U52", "D52")
    assert not cites_guide(bot, "D52", 1)  # U52 is not
    members_calls = len(bot.slack.of("conversations.members"))

    terminal("user:U0ADMIN")
    dm(bot, "U50", "D50")
    assert not cites_guide(bot, "D50", 3)  # narrowed again: no longer, at once
    assert len(bot.slack.of("conversations.members")) == members_calls  # Slack's lists stay cached


def test_the_status_and_the_app_home_count_what_the_asker_may_see(start_ai_bot, service, terminal):
    terminal("channel:CIT")
    bot = start_ai_bot(service=service)
    bot.slack.channel_members = MEMBERS
    for user in ("U50", "U52"):
        dm(bot, user, f"D{user[1:]}")
        event = {"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home", "event_ts": "1.1"}
        bot.send.post(json.dumps(event_envelope(event)), "application/json")
    bot.settle()
    statuses = {c.args["channel_id"]: c.args["status"] for c in bot.slack.of("assistant.threads.setStatus")}
    homes = {c.args["user_id"]: json.dumps(c.args["view"]) for c in bot.slack.of("views.publish")}
    assert statuses["D50"] == "is searching 2 sources..." and "I know *2* sources" in homes["U50"]
    assert statuses["D52"] == "is searching 1 source..." and "I know *1* source " in homes["U52"]
    assert cites_guide(bot, "D50", 1) and not cites_guide(bot, "D52", 1)

    # In #it everyone may see the guide, whoever asks: the channel's count.
    ts = bot.slack.add_user_message("CIT", "U52", f"<@UBOT> {VPN}")
    bot.send.event(mention("CIT", "U52", VPN, ts))
    bot.settle()
    assert bot.slack.of("assistant.threads.setStatus")[-1].args["status"] == "is searching 2 sources..."
    assert finished_answers(bot.slack, "CIT")

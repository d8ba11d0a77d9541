"""The App Home's links to the user's last questions survive a restart and work on every replica.

Where an answered question is in Slack is kept with its trace in the core, not in the bot's memory: a
question asked of one bot is listed, with Slack's link to its thread, by a new bot process over the same
data directory (its own service, connections, runtime and Bolt app; nothing carried over in memory).
The real Bolt app over signed HTTP, against the local Slack stand-in, on the streamed path (a workspace
with Slack's AI-app methods) and the posted one (placeholder and ``chat.update``).
"""

from __future__ import annotations

import json

import pytest

from tests.bot.conftest import ingest_bot_files, running_bot
from tests.bot.replies import text_of, wait_answers
from tests.bot.slack_api import WORKSPACE_URL, slack_api_server
from tests.bot.slack_requests import event_envelope, mention, message
from tests.bot.test_mentions import VACATION

SICK = "How many sick days do I get?"
CARRY = "Can I carry unused vacation days over to next year?"
SOMEONE_ELSE = "What is the parental leave policy?"


def open_home(bot, user: str) -> str:
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home", "event_ts": "1.1"}
    before = len(bot.slack.of("views.publish"))
    assert bot.send.post(json.dumps(event_envelope(event)), "application/json").status_code == 200
    published = bot.slack.wait_for(lambda s: len(s.of("views.publish")) > before and s.of("views.publish"))
    return text_of(published[-1].args["view"]["blocks"])


@pytest.mark.parametrize("ai_apps", [True, False], ids=["streamed", "posted"])
def test_a_new_process_links_the_questions_asked_before(service_factory, ai_apps):
    with slack_api_server(ai_apps=ai_apps) as slack:
        first = service_factory()
        ingest_bot_files(first, {"leave-policy.md": []})
        with running_bot(first, slack) as bot:
            # A mention at the top of a channel: answered in the question's own thread.
            top = slack.add_user_message("C1", "U4", f"<@UBOT> {VACATION}")
            assert bot.send.event(mention("C1", "U4", VACATION, top)).status_code == 200
            # A mention inside someone's thread: the link opens that thread at the question.
            parent = slack.add_user_message("C2", "U9", "Leave questions here, please.")
            inside = slack.add_user_message("C2", "U4", f"<@UBOT> {SICK}", thread_ts=parent)
            assert bot.send.event(mention("C2", "U4", SICK, inside, thread_ts=parent)).status_code == 200
            # A direct message, and someone else's question.
            direct = slack.add_user_message("D4", "U4", CARRY)
            assert bot.send.event(message("D4", "U4", CARRY, direct, channel_type="im")).status_code == 200
            other = slack.add_user_message("C3", "U5", f"<@UBOT> {SOMEONE_ELSE}")
            assert bot.send.event(mention("C3", "U5", SOMEONE_ELSE, other)).status_code == 200
            for channel in ("C1", "C2", "D4", "C3"):
                wait_answers(slack, channel, 1)
            bot.settle()
        first.close()  # the first process is gone

        # A restart, or another replica: a new service over the same data directory and a new bot.
        second = service_factory()
        assert second.settings.data_dir == first.settings.data_dir and second is not first
        with running_bot(second, slack) as replica:
            text = open_home(replica, "U4")

    asked = text.split("*Your last questions*")[1].split("*What I can answer from*")[0]
    assert f"<{WORKSPACE_URL}archives/C1/p{top.replace('.', '')}|{VACATION}>" in asked
    in_thread = f"{WORKSPACE_URL}archives/C2/p{inside.replace('.', '')}?thread_ts={parent}&cid=C2"
    assert f"<{in_thread}|{SICK}>" in asked
    assert f"<{WORKSPACE_URL}archives/D4/p{direct.replace('.', '')}|{CARRY}>" in asked
    assert asked.count("• ") == 3  # the three questions, each once (answered concurrently: any order)
    assert SOMEONE_ELSE not in asked and "C3" not in asked  # only the user's own questions


def test_the_home_asks_for_the_users_own_traces(start_bot, bot_service, monkeypatch):
    """The App Home reads the user's traces (a query by user), not a scan of everyone's newest."""
    bot = start_bot()
    calls: list[dict] = []
    real = bot_service.recent_traces

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(bot_service, "recent_traces", recording)
    open_home(bot, "U0SOLO")
    assert calls and all(call.get("user_id") == "U0SOLO" for call in calls)

""" "Save as verified answer" (a message shortcut) and the expert's renewal reminder: the real Bolt app
over signed HTTP, the shortcut's payload as Slack documents it (``message_action``), the stand-in Web API.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from slack_sdk import WebClient

from bot.listeners.shortcuts.save_verified import CALLBACK_ID
from bot.reminders import remind_experts, send_stale_digests
from pipelines.records.escalations import Escalation, EscalationLog
from tests.bot.replies import trace_of, wait_answers
from tests.bot.slack_api import BOT_TOKEN, TEAM_ID
from tests.bot.slack_requests import mention
from tests.bot.test_mentions import VACATION

pytestmark = pytest.mark.slow  # a bot, answers and the verified answer's indexing

_ids = itertools.count(1)


def shortcut(user: str, channel: str, message: dict) -> dict:
    """A message shortcut's payload as Slack sends it (type ``message_action``)."""
    return {
        "type": "message_action",
        "callback_id": CALLBACK_ID,
        "trigger_id": f"trigger-v{next(_ids)}",
        "response_url": f"https://hooks.slack.example/response/v{next(_ids)}",
        "team": {"id": TEAM_ID, "domain": "needle-test"},
        "user": {"id": user, "name": user.lower()},
        "channel": {"id": channel, "name": "help"},
        "message_ts": message["ts"],
        "message": message,
        "action_ts": "1765000000.000200",
    }


def test_an_experts_reply_in_an_ask_a_person_thread_becomes_a_verified_answer(start_bot, bot_service):
    bot = start_bot()
    root = bot.slack.add_user_message("CHELP", "U5", "<@UBOT> Can I bring my dog to the office?")
    bot.send.event(mention("CHELP", "U5", "Can I bring my dog to the office?", root))
    [answer] = wait_answers(bot.slack, "CHELP", 1)
    trace_id = trace_of(answer["blocks"])
    EscalationLog(bot.runtime.records).open(  # as the bot's "Ask a person" records it
        Escalation(trace_id, "CHELP", root, "U5", "S0HELP", "Can I bring my dog to the office?")
    )
    reply_ts = bot.slack.add_user_message("CHELP", "U0EXPERT", "Dogs are welcome on Fridays.", thread_ts=root)
    reply = {
        "type": "message",
        "user": "U0EXPERT",
        "ts": reply_ts,
        "thread_ts": root,
        "text": "Dogs are welcome on Fridays.",
    }
    try:
        assert bot.send.interaction(shortcut("U0EXPERT", "CHELP", reply)).status_code == 200
        [told] = bot.slack.wait_for(
            lambda s: [c.args for c in s.of("chat.postEphemeral") if "verified answer" in c.args["text"]]
        )
        assert told["user"] == "U0EXPERT" and told["channel"] == "CHELP"
        [item] = [i for i in bot_service.knowledge.verified.list() if i.trace_id == trace_id]
        assert (item.question, item.answer, item.expert) == (
            "Can I bring my dog to the office?",
            "Dogs are welcome on Fridays.",
            "U0EXPERT",
        )
        assert item.audience == ["channel:CHELP"] and item.answer_id in told["text"]

        # A shortcut on a message in a thread nobody asked a person in, and not Needle's: explained.
        other = bot.slack.add_user_message("CHELP", "U7", "lunch?")
        bot.send.interaction(
            shortcut("U7", "CHELP", {"type": "message", "user": "U7", "ts": other, "text": "lunch?"})
        )
        bot.slack.wait_for(
            lambda s: [c for c in s.of("chat.postEphemeral") if "works on an expert" in c.args["text"]]
        )
    finally:
        for item in bot_service.knowledge.verified.list():
            bot_service.knowledge.remove_verified(item.answer_id, actor="test")


def test_a_needle_answer_saved_as_verified_and_the_one_reminder_past_review(start_bot, bot_service):
    bot = start_bot()
    root = bot.slack.add_user_message("CHELP", "U5", f"<@UBOT> {VACATION}")
    bot.send.event(mention("CHELP", "U5", VACATION, root))
    [answer] = wait_answers(bot.slack, "CHELP", 1)
    trace = bot_service.get_trace(trace_of(answer["blocks"]))
    try:
        bot.send.interaction(shortcut("U0LEAD", "CHELP", answer))
        bot.slack.wait_for(
            lambda s: [c for c in s.of("chat.postEphemeral") if "Saved as a verified" in c.args["text"]]
        )
        [item] = [i for i in bot_service.knowledge.verified.list() if i.trace_id == trace["trace_id"]]
        assert (
            item.question == VACATION and item.answer == trace["answer"]["text"] and item.expert == "U0LEAD"
        )

        # Past its review date: no longer given as verified, and its expert gets one DM with a link.
        long_ago = dt.date.today() - dt.timedelta(days=300)
        stale = bot_service.knowledge.verified.add(
            "Can I bring my dog?",
            "Fridays.",
            "U0EXPERT",
            verified_on=long_ago,
            review_by=long_ago + dt.timedelta(days=1),
        )
        client = WebClient(token=BOT_TOKEN, base_url=f"{bot.slack.url}/api/")
        assert remind_experts(bot.runtime, client) == 1
        assert remind_experts(bot.runtime, client) == 0  # recorded: not repeated
        [dm] = [c.args for c in bot.slack.of("chat.postMessage") if c.args.get("channel") == "U0EXPERT"]
        assert "passed its review date" in dm["text"] and f"?verified={stale.answer_id}" in dm["text"]
    finally:
        for item in bot_service.knowledge.verified.list():
            bot_service.knowledge.remove_verified(item.answer_id, actor="test")


def test_stale_cited_sources_are_marked_and_their_owner_gets_one_digest_a_week(start_bot, bot_service):
    bot = start_bot()
    answer = bot_service.ask(VACATION)
    cited = answer.citations[0]
    assert "last reviewed" not in cited.date_label
    [source] = [s for s in bot_service.list_sources() if s.source_id == cited.source_id]
    freshness = bot_service.knowledge.freshness
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    try:
        review = freshness.set_owner(source, "U0OWNER", review_by=yesterday, actor="test")
        assert review.is_stale() and review.last_reviewed == (source.modified_at or source.indexed_at)[:10]
        marked = bot_service.ask(VACATION)
        [again] = [c for c in marked.citations if c.source_id == source.source_id]
        assert again.date_label == f"last reviewed {review.last_reviewed}"
        assert marked.to_dict()["citations"][0]["date_label"].startswith("last reviewed")
        assert [r.source_id for r in freshness.stale(bot_service.list_sources())] == [source.source_id]

        client = WebClient(token=BOT_TOKEN, base_url=f"{bot.slack.url}/api/")
        assert send_stale_digests(bot.runtime, client) == 1
        assert send_stale_digests(bot.runtime, client) == 0  # at most one a week
        [dm] = [c.args for c in bot.slack.of("chat.postMessage") if c.args.get("channel") == "U0OWNER"]
        assert source.title in dm["text"] and f"review was due {yesterday}" in dm["text"]
    finally:
        bot_service.records.delete("source_review", source.source_id)
    assert "last reviewed" not in bot_service.ask(VACATION).citations[0].date_label

"""Mentions, DMs, thread follow-ups, retries and request verification, over real HTTP to the real app."""

from __future__ import annotations

import time

from bot import messages
from tests.bot.slack_api import BOT_ID, BOT_USER_ID
from tests.bot.slack_requests import mention, message

VACATION = "How many vacation days do full-time employees get per year?"


def final_answer(slack, channel: str, placeholder_ts: str) -> dict:
    """The ``chat.update`` that carried the finished answer (it has feedback buttons)."""
    return slack.wait_for(
        lambda s: next(
            (
                call.args
                for call in s.of("chat.update")
                if call.args["ts"] == placeholder_ts
                and call.args["channel"] == channel
                and any(block["type"] == "actions" for block in call.args["blocks"])
            ),
            None,
        )
    )


def bot_message_ts(slack, channel: str) -> str:
    """The ts of the bot's first message in ``channel`` (its placeholder, later edited into the answer)."""
    return slack.wait_for(
        lambda s: next(
            (m["ts"] for m in s.messages.get(channel, {}).values() if m.get("bot_id") == BOT_ID), None
        )
    )


def all_text(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            parts.append(element.get("text") if isinstance(element.get("text"), str) else str(element))
    return "\n".join(parts)


def test_mention_is_answered_in_its_thread_with_sources_and_buttons(start_bot, bot_service):
    bot = start_bot()
    ts = bot.slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    started = time.monotonic()
    response = bot.send.event(mention("C1", "U1", VACATION, ts))
    ack_seconds = time.monotonic() - started
    assert response.status_code == 200
    assert ack_seconds < 1.0

    placeholder = bot.slack.wait_for(lambda s: s.of("chat.postMessage"))[0]
    assert placeholder.args["thread_ts"] == ts
    assert placeholder.args["text"] == messages.PLACEHOLDER
    answer = final_answer(bot.slack, "C1", bot_message_ts(bot.slack, "C1"))
    text = all_text(answer["blocks"])
    assert "25" in answer["text"]
    assert "Leave Policy" in text and "leave-policy.md" in text
    assert "updated 20" in text or "indexed 20" in text
    buttons = next(block for block in answer["blocks"] if block["type"] == "actions")["elements"]
    trace_id = buttons[0]["value"]
    assert [b["action_id"] for b in buttons] == ["feedback_up", "feedback_down"]
    trace = bot_service.get_trace(trace_id)
    assert trace["origin"] == "slack" and trace["user_id"] == "U1" and trace["question"] == VACATION
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 1
    assert not bot.slack.of("chat.postEphemeral")  # U1 is not an admin: no debug link


def test_bad_signature_and_stale_timestamp_get_401(start_bot):
    bot = start_bot()
    event = mention("C1", "U1", VACATION, "1700000000.000100")
    assert bot.send.event(event, secret="not-the-secret").status_code == 401
    assert bot.send.event(event, timestamp=int(time.time()) - 301).status_code == 401
    bot.settle()
    assert not [call for call in bot.slack.calls if call.method.startswith("chat.")]


def test_retries_and_duplicate_events_answer_once(start_bot):
    bot = start_bot()
    ts = bot.slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    event = mention("C1", "U1", VACATION, ts)
    assert bot.send.event(event, event_id="EvSAME").status_code == 200
    for retry in (1, 2):
        assert bot.send.event(event, event_id="EvSAME", retry=retry).status_code == 200
    # Slack also delivers the same message as message.channels, under another event id.
    assert (
        bot.send.event(message("C1", "U1", f"<@UBOT> {VACATION}", ts), event_id="EvOTHER").status_code == 200
    )
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 1
    assert len([c for c in bot.slack.of("chat.update") if c.args["blocks"][-1]["type"] == "actions"]) == 1


def test_a_retry_whose_first_delivery_never_arrived_is_answered(start_bot):
    """Dropping retries outright would lose the question when the first delivery was lost on the way."""
    bot = start_bot()
    ts = bot.slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    assert bot.send.event(mention("C1", "U1", VACATION, ts), event_id="EvLOST", retry=1).status_code == 200
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 1


def test_bot_messages_edits_and_own_messages_are_ignored(start_bot):
    bot = start_bot()
    ignored = [
        {**message("C1", "U2", "hello", "1.1", channel_type="im"), "bot_id": "B999"},
        {**message("D1", "U2", "edited", "1.2", channel_type="im"), "subtype": "message_changed"},
        message("D1", BOT_USER_ID, "my own answer", "1.3", channel_type="im"),
        {**mention("C1", "U2", VACATION, "1.4"), "edited": {"user": "U2", "ts": "1.5"}},
    ]
    for event in ignored:
        assert bot.send.event(event).status_code == 200
    bot.settle()
    assert not [call for call in bot.slack.calls if call.method.startswith("chat.")]


def test_direct_message_is_answered_in_the_dm(start_bot):
    bot = start_bot()
    ts = bot.slack.add_user_message("D1", "U1", VACATION)
    bot.send.event(message("D1", "U1", VACATION, ts, channel_type="im"))
    placeholder = bot.slack.wait_for(lambda s: s.of("chat.postMessage"))[0]
    assert placeholder.args["channel"] == "D1" and not placeholder.args.get("thread_ts")
    answer = final_answer(bot.slack, "D1", bot_message_ts(bot.slack, "D1"))
    assert "25" in answer["text"]


def test_thread_follow_up_uses_the_thread_as_history(start_bot, bot_service):
    bot = start_bot()
    ts = bot.slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    bot.send.event(mention("C1", "U1", VACATION, ts))
    bot.settle()
    follow_up = "And how many can I carry over?"
    reply_ts = bot.slack.add_user_message("C1", "U1", follow_up, thread_ts=ts)
    bot.send.event(message("C1", "U1", follow_up, reply_ts, thread_ts=ts))
    bot.settle()

    placeholders = bot.slack.of("chat.postMessage")
    assert [p.args["thread_ts"] for p in placeholders] == [ts, ts]
    assert bot.slack.of("conversations.replies")[0].args["ts"] == ts
    second = [c for c in bot.slack.of("chat.update") if c.args["blocks"][-1]["type"] == "actions"][-1]
    trace = bot_service.get_trace(second.args["blocks"][-1]["elements"][0]["value"])
    assert trace["history"][0] == {"role": "user", "text": VACATION}
    assert trace["history"][1]["role"] == "assistant" and "25" in trace["history"][1]["text"]
    assert VACATION in trace["retrieval_query"]

    # A thread the bot never answered in is people talking to each other: left alone.
    other = bot.slack.add_user_message("C1", "U2", "lunch?")
    other_reply = bot.slack.add_user_message("C1", "U3", "sure", thread_ts=other)
    bot.send.event(message("C1", "U3", "sure", other_reply, thread_ts=other))
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 2


def test_empty_mention_gets_a_hint(start_bot):
    bot = start_bot()
    bot.send.event({**mention("C1", "U1", "", "5.1"), "text": "<@UBOT>"})
    hint = bot.slack.wait_for(lambda s: s.of("chat.postEphemeral"))[0]
    assert hint.args["text"] == messages.EMPTY_QUESTION and hint.args["thread_ts"] == "5.1"

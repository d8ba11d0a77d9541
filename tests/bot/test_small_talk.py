"""Greetings and thanks get a short friendly reply (or none) and never a search, wherever the bot listens:
DMs, assistant threads, mentions, ``/needle`` and thread follow-ups in every mode.

The real Bolt app over signed HTTP against the local Slack stand-in. "Never a search" is checked in the
core: no trace was recorded for the user (every answer, found or not, records one).
"""

from __future__ import annotations

import pytest

from bot import messages
from tests.bot.replies import finished_answers, trace_of
from tests.bot.slack_requests import mention, message
from tests.bot.test_mentions import VACATION
from tests.bot.test_native import assistant_event


def searched(service, user: str) -> list[str]:
    """The questions the core answered for ``user`` (one trace each), oldest first."""
    return [trace["question"] for trace in reversed(service.recent_traces(limit=50, user_id=user))]


def dm(bot, user: str, text: str, channel: str = "D31") -> str:
    ts = bot.slack.add_user_message(channel, user, text)
    assert bot.send.event(message(channel, user, text, ts, channel_type="im")).status_code == 200
    return ts


def posted(bot, channel: str) -> list[dict]:
    return [c.args for c in bot.slack.of("chat.postMessage") if c.args["channel"] == channel]


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("thanks!", messages.SMALL_TALK_THANKS),
        ("hi", messages.SMALL_TALK_GREETING),
        ("Hello Needle :wave:", messages.SMALL_TALK_GREETING),
        ("谢谢", messages.SMALL_TALK_THANKS),
        ("ok great", None),
    ],
)
def test_a_direct_message_of_small_talk_gets_a_short_reply_and_no_search(start_bot, bot_service, text, reply):
    bot = start_bot()
    user = "U3" + "".join(f"{ord(char):X}" for char in text)[:8]
    dm(bot, user, text)
    bot.settle()
    assert [p["text"] for p in posted(bot, "D31")] == ([reply] if reply else [])
    assert not searched(bot_service, user)
    assert not bot.slack.of("chat.update")  # no placeholder became an answer


def test_small_talk_does_not_use_up_the_rate_limit_and_a_question_is_still_answered(start_bot, bot_service):
    bot = start_bot(slack_rate_limit_per_minute=1)
    for text in ("hi", "thanks!", "hello again"):
        dm(bot, "U40", text)
    bot.settle()
    dm(bot, "U40", VACATION)
    bot.settle()
    texts = [p["text"] for p in posted(bot, "D31")]
    hello, thanks = messages.SMALL_TALK_GREETING, messages.SMALL_TALK_THANKS
    assert sorted(texts[:3]) == sorted([hello, thanks, hello])  # handled concurrently: in any order
    assert messages.PLACEHOLDER in texts[3:] and not bot.slack.of("chat.postEphemeral")
    assert searched(bot_service, "U40") == [VACATION]


def test_a_mention_and_a_slash_command_of_thanks_get_a_reply_and_no_search(start_bot, bot_service):
    bot = start_bot()
    ts = bot.slack.add_user_message("C31", "U41", "<@UBOT> thanks!")
    bot.send.event(mention("C31", "U41", "thanks!", ts))
    bot.settle()
    [reply] = posted(bot, "C31")
    assert (reply["text"], reply["thread_ts"]) == (messages.SMALL_TALK_THANKS, ts)

    assert bot.send.command("thanks", user="U41", channel="C31").json()["text"] == messages.SMALL_TALK_THANKS
    assert bot.send.command("hi", user="U41", channel="C31").json()["text"] == messages.SMALL_TALK_GREETING
    bot.settle()
    assert not searched(bot_service, "U41")
    assert not bot.slack.of("response_url")  # the ack was the whole reply


def test_an_assistant_thread_answers_thanks_without_a_search_or_a_title(start_ai_bot, bot_service):
    bot = start_ai_bot()
    thread = "1700000000.000100"
    bot.send.event(assistant_event("assistant_thread_started"))
    bot.settle()
    for text in ("thanks!", "hi", VACATION):
        ts = bot.slack.add_user_message("D7", "U47", text, thread_ts=thread)
        bot.send.event(message("D7", "U47", text, ts, thread_ts=thread, channel_type="im"))
        bot.settle()
    replies = [p["text"] for p in posted(bot, "D7")][1:]  # after the thread's greeting
    assert replies[:2] == [messages.SMALL_TALK_THANKS, messages.SMALL_TALK_GREETING]
    # The thread is titled after its first question, not after "thanks!"; the status only for it.
    [title] = bot.slack.of("assistant.threads.setTitle")
    assert title.args["title"] == VACATION
    assert len(bot.slack.of("assistant.threads.setStatus")) == 1
    [answer] = finished_answers(bot.slack, "D7")
    trace = bot_service.get_trace(trace_of(answer["blocks"]))
    assert searched(bot_service, "U47") == [VACATION]
    # Neither the small talk nor the bot's replies to it are the question's history.
    assert trace["history"] == []


def test_thanks_in_a_thread_set_to_answer_every_message_is_still_left_alone(start_bot, bot_service):
    bot = start_bot(slack_followups="all")
    root = bot.slack.add_user_message("C32", "U42", f"<@UBOT> {VACATION}")
    bot.send.event(mention("C32", "U42", VACATION, root))
    bot.settle()
    for text in ("thanks, that helps!", "I'm part-time, by the way"):
        ts = bot.slack.add_user_message("C32", "U42", text, thread_ts=root)
        bot.send.event(message("C32", "U42", text, ts, thread_ts=root))
        bot.settle()
    assert searched(bot_service, "U42") == [VACATION, "I'm part-time, by the way"]

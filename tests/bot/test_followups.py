"""Later messages in a thread Needle answered: questions are answered, thanks and talk among colleagues are
not, mentions always are; ``NEEDLE_SLACK_FOLLOWUPS`` switches between questions, all and mention-only.

Real signed events over HTTP to the real Bolt app. A message left alone is waited for by the listener's
debug log line for that very message (so the bot has decided, not merely not got to it yet), then for the
bot to go quiet; only then is "nothing was posted" asserted.
"""

from __future__ import annotations

import logging

import pytest

from bot import messages
from bot.history import MAX_TURNS, history_from_replies, mentions_someone_else
from tests.bot.slack_requests import mention, message
from tests.bot.test_mentions import VACATION, final_answer

LISTENER = "bot.listeners.events.messages"


@pytest.fixture(autouse=True)
def _listener_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LISTENER)


def ask_in_channel(bot, text: str = VACATION, *, user: str = "U1") -> str:
    """Mention the bot at the top of C1 and wait for its answer; returns the thread's ts."""
    ts = bot.slack.add_user_message("C1", user, f"<@UBOT> {text}")
    bot.send.event(mention("C1", user, text, ts))
    bot.settle()
    return ts


def reply(bot, thread_ts: str, text: str, *, user: str = "U1") -> str:
    """A plain message in the thread, as Slack delivers it (``message.channels``); returns its ts."""
    ts = bot.slack.add_user_message("C1", user, text, thread_ts=thread_ts)
    bot.send.event(message("C1", user, text, ts, thread_ts=thread_ts))
    return ts


def left_alone(bot, caplog: pytest.LogCaptureFixture, ts: str) -> str:
    """Wait for the listener's decision not to answer message ``ts``; returns the reason it logged."""
    record = bot.slack.wait_for(
        lambda _: next(
            (
                r
                for r in caplog.records
                if r.name == LISTENER and r.getMessage().startswith(f"not answering C1/{ts} ")
            ),
            None,
        ),
        timeout=10,
    )
    return record.getMessage().rsplit(": ", 1)[1]


def answers(bot) -> list[dict]:
    """The finished answers (updates carrying the feedback buttons), in order."""
    return [call.args for call in bot.slack.of("chat.update") if call.args["blocks"][-1]["type"] == "actions"]


def trace_of(service, answer: dict) -> dict:
    return service.get_trace(answer["blocks"][-1]["elements"][0]["value"])


def test_thanks_and_talk_among_colleagues_get_no_reply_but_a_follow_up_question_does(
    start_bot, bot_service, caplog
):
    bot = start_bot()
    thread = ask_in_channel(bot)
    assert len(bot.slack.of("chat.postMessage")) == 1

    ignored = {
        reply(bot, thread, "thanks, that helps!"): "acknowledgement",
        reply(bot, thread, "ok great"): "acknowledgement",
        reply(bot, thread, "<@U0DAVE> are you taking yours in August?", user="U2"): "mentions_other",
        reply(bot, thread, "<!subteam^S0HR|@people> is this still current?", user="U2"): "mentions_other",
        reply(bot, thread, "<!here> who is in the office in August?", user="U3"): "mentions_other",
        reply(bot, thread, "谢谢 :pray:", user="U3"): "acknowledgement",
    }
    assert {ts: left_alone(bot, caplog, ts) for ts in ignored} == ignored
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 1
    assert not bot.slack.of("chat.postEphemeral")  # not even a notice: these were not for the bot

    question = reply(bot, thread, "what about part-timers?")
    bot.settle()
    placeholders = bot.slack.of("chat.postMessage")
    assert len(placeholders) == 2 and placeholders[1].args["thread_ts"] == thread
    answer = final_answer(bot.slack, "C1", placeholders_ts(bot)[1])
    trace = trace_of(bot_service, answer)
    assert trace["question"] == "what about part-timers?"
    # Searched with the thread's topic, the leave policy fills the passages (alone, "what about
    # part-timers?" finds one leave passage among travel and IT ones).
    assert leave_passages(trace) >= 3 and "pro rata" in passages_text(trace)
    # The history the answer saw holds the thread's questions, not the thanks or the colleagues' talk.
    assert [turn["text"] for turn in trace["history"] if turn["role"] == "user"] == [VACATION]
    assert trace["retrieval_query"] == f"{VACATION} what about part-timers?"
    assert not [r for r in listener_skips(caplog) if f"C1/{question} " in r.getMessage()]


def passages_text(trace: dict) -> str:
    return " ".join(passage["content"] for passage in trace["passages"])


def leave_passages(trace: dict) -> int:
    return sum(passage["meta"]["file_name"] == "leave-policy.md" for passage in trace["passages"])


def placeholders_ts(bot) -> list[str]:
    """The ts of the bot's messages in C1, oldest first (each placeholder becomes an answer)."""
    return sorted(ts for ts, m in bot.slack.messages["C1"].items() if m.get("bot_id"))


def listener_skips(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LISTENER and r.getMessage().startswith("not answering")]


def test_the_thread_topic_carries_over_two_follow_ups(start_bot, bot_service, caplog):
    bot = start_bot()
    thread = ask_in_channel(bot, "How many vacation days do I get?")
    reply(bot, thread, "by when do I have to use them?")
    bot.settle()
    left_alone(bot, caplog, reply(bot, thread, "thanks!"))
    reply(bot, thread, "and for part-timers")  # no question mark: still a question
    bot.settle()

    first, second, third = (trace_of(bot_service, answer) for answer in answers(bot))
    assert first["retrieval_query"] == "How many vacation days do I get?"
    assert second["retrieval_query"] == "How many vacation days do I get? by when do I have to use them?"
    assert third["question"] == "and for part-timers"
    assert third["retrieval_query"] == (
        "How many vacation days do I get? by when do I have to use them? and for part-timers"
    )
    assert leave_passages(third) >= 3 and "pro rata" in passages_text(third)


def test_chatter_the_bot_left_alone_is_not_searched_with_the_follow_up(start_bot, bot_service, caplog):
    """Without an LLM a follow-up is searched with the thread's questions, and only those: what the bot
    ignored as chatter ("haha nice, see you at lunch") is neither searched nor the answer's history."""
    bot = start_bot()
    thread = ask_in_channel(bot)
    chatter = reply(bot, thread, "haha nice, see you at lunch", user="U2")
    assert left_alone(bot, caplog, chatter) == "statement"
    reply(bot, thread, "and for part-time staff?")
    bot.settle()
    trace = trace_of(bot_service, answers(bot)[-1])
    assert trace["question"] == "and for part-time staff?"
    assert trace["retrieval_query"] == f"{VACATION} and for part-time staff?"
    assert [turn["text"] for turn in trace["history"] if turn["role"] == "user"] == [VACATION]


def test_a_mention_is_always_answered(start_bot, caplog):
    bot = start_bot()
    thread = ask_in_channel(bot)
    ts = bot.slack.add_user_message("C1", "U2", "<@UBOT> thanks", thread_ts=thread)
    # Slack sends both events for a mention in a thread; the message event is left to the mention listener.
    bot.send.event(message("C1", "U2", "<@UBOT> thanks", ts, thread_ts=thread))
    bot.send.event(mention("C1", "U2", "thanks", ts, thread_ts=thread))
    # Mentioning a colleague too does not matter when the bot is mentioned.
    text = "<@U0DAVE> <@UBOT> how many days can Dave carry over?"
    ts = bot.slack.add_user_message("C1", "U2", text, thread_ts=thread)
    bot.send.event(message("C1", "U2", text, ts, thread_ts=thread))
    bot.send.event({**mention("C1", "U2", "", ts, thread_ts=thread), "text": text})
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 3
    assert [p.args["thread_ts"] for p in bot.slack.of("chat.postMessage")][1:] == [thread, thread]
    assert not listener_skips(caplog)


def test_mention_only_answers_no_follow_up_without_a_mention(start_bot, caplog):
    bot = start_bot(slack_followups="mention-only")
    thread = ask_in_channel(bot)
    assert left_alone(bot, caplog, reply(bot, thread, "what about part-timers?")) == "mention_only"
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 1

    ts = bot.slack.add_user_message("C1", "U1", "<@UBOT> what about part-timers?", thread_ts=thread)
    bot.send.event(mention("C1", "U1", "what about part-timers?", ts, thread_ts=thread))
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 2


def test_all_answers_every_follow_up_but_small_talk(start_bot, bot_service, caplog):
    bot = start_bot(slack_followups="all")
    thread = ask_in_channel(bot)
    reply(bot, thread, "I'm part-time, by the way")
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 2
    assert trace_of(bot_service, answers(bot)[-1])["question"] == "I'm part-time, by the way"
    assert not listener_skips(caplog)
    assert left_alone(bot, caplog, reply(bot, thread, "thanks, that helps!")) == "acknowledgement"
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 2


def test_direct_messages_are_always_answered(start_bot):
    bot = start_bot()
    for text in ("How many vacation days do I get?", "I'm part-time"):
        ts = bot.slack.add_user_message("D1", "U1", text)
        bot.send.event(message("D1", "U1", text, ts, channel_type="im"))
        bot.settle()
    assert [p.args["channel"] for p in bot.slack.of("chat.postMessage")] == ["D1", "D1"]
    assert len(answers(bot)) == 2


# --- the thread as the bot sees it (pure functions) ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("<@U0DAVE> are you taking yours in August?", True),
        ("<@U0DAVE|dave> and you?", True),
        ("<!subteam^S0HR|@people> is this current?", True),
        ("<!here> lunch?", True),
        ("<!channel|@channel> reminder", True),
        ("<@UBOT> what about part-timers?", False),
        ("<@UBOT|needle> what about part-timers?", False),
        ("what about part-timers?", False),
        ("mail me at dave@example.com", False),
    ],
)
def test_mentions_someone_else(text: str, other: bool) -> None:
    assert mentions_someone_else(text, "UBOT") is other


def test_history_leaves_out_thanks_and_talk_among_colleagues_and_keeps_the_first_question() -> None:
    def user(text: str, ts: int) -> dict:
        return {"type": "message", "user": "U1", "text": text, "ts": f"{ts}.0"}

    def bot(text: str, ts: int) -> dict:
        return {"type": "message", "subtype": "bot_message", "bot_id": "BBOT", "text": text, "ts": f"{ts}.0"}

    replies = [
        user(f"<@UBOT> {VACATION}", 1),
        bot("25 days [1]", 2),
        user("thanks, that helps!", 3),
        user("<@U0DAVE> are you taking yours in August?", 4),
        user("haha nice, see you at lunch", 5),
        user("by when do I have to use them?", 6),
        bot("By 31 March [1]", 7),
        user("what about part-timers?", 8),
        bot("Pro rata [1]", 9),
        user("and contractors?", 10),
        bot("Their own agreement [1]", 11),
        user("<@UBOT> thanks", 12),
        bot(messages.SMALL_TALK_THANKS, 13),
        user("and in Paris", 14),
    ]
    history = history_from_replies(replies, current_ts="14.0", bot_user_id="UBOT", bot_id="BBOT")
    assert len(history) == MAX_TURNS
    assert history[0] == {"role": "user", "text": VACATION}  # the thread's topic survives the cut
    # "<@UBOT> thanks" was said to the bot, but it is small talk: neither it nor the reply is history.
    assert [turn["text"] for turn in history[1:]] == [
        "By 31 March [1]",
        "what about part-timers?",
        "Pro rata [1]",
        "and contractors?",
        "Their own agreement [1]",
    ]

    def asked(upto: int = 9, **how: object) -> list[str]:
        found = history_from_replies(
            replies[:upto], current_ts="14.0", bot_user_id="UBOT", bot_id="BBOT", **how
        )
        return [turn["text"] for turn in found if turn["role"] == "user"]

    assert asked() == [
        VACATION,
        "by when do I have to use them?",
        "what about part-timers?",
    ]  # no thanks, nothing said to Dave, no chatter the bot left alone
    # The channel's follow-up mode decides what the bot answered, so what is history: with "all" the
    # chatter was answered; with "mention-only" only the mentions were.
    assert asked(7, mode="all") == [
        VACATION,
        "are you taking yours in August?",
        "haha nice, see you at lunch",
        "by when do I have to use them?",
    ]
    assert asked(mode="mention-only") == [VACATION]
    # In a DM or an assistant thread every message was for the bot; only small talk is left out.
    assert asked(7, direct=True) == asked(7, mode="all")

"""The real Slack app over real HTTP for hardening tests, built from the bot tests' own parts.

``running_bot`` (from the bot tests) serves the Bolt app as ``needle serve`` does in HTTP mode, talking to
the local Slack Web API stand-in of ``tests/bot/slack_api.py``; requests are signed like Slack's.
"""

from __future__ import annotations

import time

from bot import messages
from tests.bot.conftest import BotHarness, running_bot
from tests.bot.slack_api import BOT_ID, SlackState
from tests.bot.slack_requests import mention

__all__ = ["TECHNICAL", "ask_by_mention", "running_bot"]

#: Strings that betray an exception, a stack or an internal address in what an employee reads.
TECHNICAL = (
    "Traceback",
    "Error(",
    "Exception",
    "ConnectionError",
    "ConnectError",
    "HTTPError",
    "Timeout(",
    "127.0.0.1",
    "localhost",
    "overloaded",
    "<html",
    "Bad Gateway",
    "errno",
)


def final_reply(
    slack: SlackState, channel: str, placeholder_ts: str, timeout: float = 30.0
) -> tuple[str, float]:
    """The text of the finished reply in place of the placeholder, and when it arrived (monotonic)."""

    def finished(state: SlackState) -> tuple[str, float] | None:
        for call in reversed(state.of("chat.update")):
            if call.args.get("channel") != channel or call.args.get("ts") != placeholder_ts:
                continue
            blocks = call.args.get("blocks") or []
            done = any(block.get("type") == "actions" for block in blocks) or call.args.get("text") in (
                messages.STORE_DOWN,
                messages.UNEXPECTED,
            )
            if done:
                return str(call.args.get("text", "")) + "\n" + str(blocks), call.at
        return None

    return slack.wait_for(finished, timeout=timeout)


def ask_by_mention(
    bot: BotHarness, channel: str, user: str, question: str, timeout: float = 30.0
) -> tuple[str, float]:
    """Mention the bot like a user does; returns the reply and the seconds from the request to the reply."""
    ts = bot.slack.add_user_message(channel, user, f"<@UBOT> {question}")
    started = time.monotonic()
    response = bot.send.event(mention(channel, user, question, ts))
    assert response.status_code == 200, response.text
    placeholder = bot.slack.wait_for(
        lambda s: next(
            (
                call.args
                for call in s.of("chat.postMessage")
                if call.args.get("channel") == channel and call.args.get("thread_ts") == ts
            ),
            None,
        ),
        timeout=timeout,
    )
    placeholder_ts = next(
        m["ts"]
        for m in bot.slack.messages[channel].values()
        if m.get("bot_id") == BOT_ID and m.get("thread_ts") == placeholder["thread_ts"]
    )
    text, at = final_reply(bot.slack, channel, placeholder_ts, timeout=timeout)
    return text, at - started

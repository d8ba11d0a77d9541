"""A Slack thread's earlier turns as the core's ``history``, so a follow-up like "and for part-timers?"
is understood in the context of the question before it."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages

logger = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
MAX_TURNS = 6


def strip_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text or "").split())


def history_from_replies(
    replies: list[dict[str, Any]], *, current_ts: str, bot_user_id: str | None, bot_id: str | None
) -> list[dict[str, str]]:
    """Turn ``conversations.replies`` messages into user/assistant turns, oldest first.

    The current question, the bot's placeholders and other bots' messages are left out.
    """
    turns: list[dict[str, str]] = []
    for message in replies:
        if message.get("ts") == current_ts or message.get("subtype") not in (
            None,
            "bot_message",
            "thread_broadcast",
        ):
            continue
        text = message.get("text") or ""
        from_bot = (bot_user_id and message.get("user") == bot_user_id) or (
            bot_id and message.get("bot_id") == bot_id
        )
        if from_bot:
            if text and text != messages.PLACEHOLDER:
                turns.append({"role": "assistant", "text": text})
        elif not message.get("bot_id"):
            question = strip_mentions(text)
            if question:
                turns.append({"role": "user", "text": question})
    return turns[-MAX_TURNS:]


def thread_history(
    client: WebClient,
    channel: str,
    thread_ts: str,
    *,
    current_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
) -> list[dict[str, str]]:
    """The thread's history; an empty history (logged) if Slack will not give it, so the question is
    still answered on its own."""
    try:
        response = client.conversations_replies(channel=channel, ts=thread_ts, limit=50)
    except SlackApiError as error:
        logger.warning(
            "conversations.replies failed for %s/%s: %s", channel, thread_ts, error.response.get("error")
        )
        return []
    return history_from_replies(
        list(response.get("messages") or []), current_ts=current_ts, bot_user_id=bot_user_id, bot_id=bot_id
    )

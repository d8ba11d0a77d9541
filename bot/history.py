"""A Slack thread's earlier turns as the core's ``history``, so a follow-up like "and for part-timers?"
is understood in the context of the thread's questions; and who a message in a thread is addressed to."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from pipelines.querying.followups import FollowupMode, classify_followup, small_talk

logger = logging.getLogger(__name__)

_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
#: A user group (``<!subteam^S123|@hr>``), ``<!here>``, ``<!channel>`` or ``<!everyone>``.
_GROUP_MENTION = re.compile(r"<!(?:subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|[^>]*)?>")
MAX_TURNS = 6


def strip_mentions(text: str) -> str:
    """The text without user, user-group, @here/@channel/@everyone mentions."""
    return " ".join(_GROUP_MENTION.sub(" ", _USER_MENTION.sub(" ", text or "")).split())


def mentions_bot(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and bot_user_id in _USER_MENTION.findall(text or "")


def mentions_someone_else(text: str, bot_user_id: str | None) -> bool:
    """The message mentions a person other than the bot, a user group, @here, @channel or @everyone."""
    text = text or ""
    return any(user != bot_user_id for user in _USER_MENTION.findall(text)) or bool(
        _GROUP_MENTION.search(text)
    )


#: What the bot says that is not an answer: never a turn of the conversation.
_NOT_ANSWERS = frozenset(
    {
        messages.PLACEHOLDER,
        messages.ASSISTANT_GREETING,
        messages.SMALL_TALK_GREETING,
        messages.SMALL_TALK_THANKS,
    }
)


def history_from_replies(
    replies: list[dict[str, Any]],
    *,
    current_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    mode: FollowupMode = "questions",
    direct: bool = False,
) -> list[dict[str, str]]:
    """Turn ``conversations.replies`` messages into user/assistant turns, oldest first.

    Only what the bot was asked and answered is history, because the history is what a follow-up is
    searched with: the current question, the bot's placeholders, greeting and small-talk replies, other
    bots' messages, small talk, and every message the bot left alone in the thread (what
    :func:`~pipelines.querying.followups.classify_followup` decides under the channel's follow-up ``mode``:
    thanks,
    talk among colleagues, "haha nice, see you at lunch") are left out. In a DM or an assistant thread
    (``direct``) every message is for the bot, so only small talk is left out. Of a long thread the first
    user turn (the thread's topic) and the last turns are kept, ``MAX_TURNS`` in all.
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
            if text and text not in _NOT_ANSWERS:
                turns.append({"role": "assistant", "text": text})
        elif not message.get("bot_id"):
            question = strip_mentions(text)
            if question and _asked_the_bot(text, question, bot_user_id, mode, direct):
                turns.append({"role": "user", "text": question})
    if len(turns) <= MAX_TURNS:
        return turns
    first = turns[0] if turns[0]["role"] == "user" else None
    if first is None:
        return turns[-MAX_TURNS:]
    return [first, *turns[-(MAX_TURNS - 1) :]]


def _asked_the_bot(
    text: str, question: str, bot_user_id: str | None, mode: FollowupMode, direct: bool
) -> bool:
    """Whether a user's message in the thread was a question the bot answered (the listeners' rule)."""
    if small_talk(question) is not None:
        return False
    if direct or mentions_bot(text, bot_user_id):
        return True
    return classify_followup(
        question, mentions_other=mentions_someone_else(text, bot_user_id), mode=mode
    ).answer


def thread_history(
    client: WebClient,
    channel: str,
    thread_ts: str,
    *,
    current_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    mode: FollowupMode = "questions",
    direct: bool = False,
) -> list[dict[str, str]]:
    """The thread's history (see :func:`history_from_replies`); an empty history (logged) if Slack will
    not give it, so the question is still answered on its own."""
    try:
        response = client.conversations_replies(channel=channel, ts=thread_ts, limit=50)
    except SlackApiError as error:
        logger.warning(
            "conversations.replies failed for %s/%s: %s", channel, thread_ts, error.response.get("error")
        )
        return []
    return history_from_replies(
        list(response.get("messages") or []),
        current_ts=current_ts,
        bot_user_id=bot_user_id,
        bot_id=bot_id,
        mode=mode,
        direct=direct,
    )

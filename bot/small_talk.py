"""Greetings and thanks said to Needle: a short friendly reply, or none, and never a search.

"thanks!" in a DM once got a quote about a thank-you bonus, and "hi" got "I could not find this": a
message that only greets, thanks or acknowledges (the core's :func:`~pipelines.querying.followups.small_talk`)
is not a question. Wherever the bot listens (DMs, assistant threads, mentions, ``/needle``), a greeting
gets a one-line hello and thanks a "you're welcome"; a plain acknowledgement ("ok great", "got it",
"bye") gets nothing. In channel threads, people's small talk among themselves is left alone as before.
Small talk does not count against the user's rate limit, and it neither titles an assistant thread nor
enters a thread's history.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from pipelines.querying.followups import SmallTalk

logger = logging.getLogger(__name__)

#: What the bot says back; a kind without a reply gets none.
REPLIES: dict[SmallTalk, str] = {
    "greeting": messages.SMALL_TALK_GREETING,
    "thanks": messages.SMALL_TALK_THANKS,
}


def reply_for(kind: SmallTalk) -> str | None:
    return REPLIES.get(kind)


def answer_small_talk(
    client: WebClient,
    kind: SmallTalk,
    *,
    channel: str,
    user_id: str,
    thread_ts: str | None,
    ephemeral: bool = False,
) -> None:
    """Reply to small talk where it was said (in its thread; as an ephemeral in a channel whose answers
    are private by default); a failed post only costs the pleasantry, and is logged."""
    text = reply_for(kind)
    logger.info("small talk (%s) from %s in %s: %s", kind, user_id, channel, "reply" if text else "no reply")
    if text is None:
        return
    try:
        if ephemeral:
            client.chat_postEphemeral(channel=channel, user=user_id, thread_ts=thread_ts, text=text)
        else:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    except SlackApiError as error:
        logger.warning("could not reply to small talk in %s: %s", channel, error.response.get("error"))

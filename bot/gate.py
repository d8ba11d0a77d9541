"""Whether a question gets answered at all: not twice, only where allowed, not faster than the limit.

The checks run in this order on purpose: a Slack retry must be dropped silently before it could count
against the user's rate limit or trigger a second "not here" notice.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.runtime import BotRuntime

logger = logging.getLogger(__name__)


def admit(
    runtime: BotRuntime,
    client: WebClient,
    *,
    user_id: str,
    channel: str,
    message_ts: str,
    thread_ts: str | None,
) -> bool:
    """``True`` if the question should be answered; otherwise the user has been told why (if they should)."""
    if not runtime.handled.claim(f"msg:{channel}:{message_ts}"):
        logger.info("dropping a repeated delivery of %s/%s", channel, message_ts)
        return False
    if not runtime.channel_allowed(channel):
        tell(client, channel, user_id, thread_ts, messages.CHANNEL_NOT_ALLOWED)
        return False
    if not runtime.limiter.allow(user_id):
        logger.info("rate limit reached for %s", user_id)
        tell(
            client,
            channel,
            user_id,
            thread_ts,
            messages.RATE_LIMITED.format(limit=runtime.limiter.per_minute),
        )
        return False
    return True


def tell(client: WebClient, channel: str, user_id: str, thread_ts: str | None, text: str) -> None:
    """Say something to one user: in a DM as a message, in a channel as an ephemeral only they see."""
    try:
        if channel.startswith("D"):
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        else:
            client.chat_postEphemeral(channel=channel, user=user_id, thread_ts=thread_ts, text=text)
    except SlackApiError as error:
        logger.warning("could not notify %s in %s: %s", user_id, channel, error.response.get("error"))

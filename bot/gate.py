"""Whether a question gets answered at all: not twice, only where allowed, not faster than the limit.

The checks run in this order on purpose: a Slack retry must be dropped silently before it could count
against the user's rate limit or trigger a second "not here" notice. They read and write the shared record
store, so they run after Slack's ack (Bolt acknowledges events before it calls a listener), and every
replica sees the same answers: a retry that lands on another process is dropped there too.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.runtime import BotRuntime
from pipelines.records.channel_settings import ChannelSettings

logger = logging.getLogger(__name__)


def admit(
    runtime: BotRuntime,
    client: WebClient,
    *,
    user_id: str,
    channel: str,
    message_ts: str,
    thread_ts: str | None,
    event_id: str | None = None,
    counts: bool = True,
) -> ChannelSettings | None:
    """The channel's settings if the question should be answered; ``None`` otherwise, and the user has
    been told why (if they should).

    :param event_id: the Events API delivery's id (a retry carries the same one).
    :param counts: whether the message counts against the user's rate limit (small talk does not).
    """
    try:
        if event_id and not runtime.handled.claim(f"event:{event_id}"):
            logger.info("dropping repeated event %s", event_id)
            return None
        if not runtime.handled.claim(f"msg:{channel}:{message_ts}"):
            logger.info("dropping a repeated delivery of %s/%s", channel, message_ts)
            return None
        runtime.purge_if_due()
        settings = runtime.channel(channel)
        if not settings.enabled:
            tell(client, channel, user_id, thread_ts, messages.CHANNEL_NOT_ALLOWED)
            return None
        allowed = runtime.limiter.allow(user_id) if counts else True
    except Exception:  # the record store: say so in plain words rather than answer unchecked
        logger.exception("could not read the bot's shared state for %s in %s", user_id, channel)
        tell(client, channel, user_id, thread_ts, messages.SETTINGS_DOWN)
        return None
    if not allowed:
        logger.info("rate limit reached for %s", user_id)
        tell(
            client,
            channel,
            user_id,
            thread_ts,
            messages.RATE_LIMITED.format(limit=runtime.limiter.per_minute),
        )
        return None
    return settings


def tell(client: WebClient, channel: str, user_id: str, thread_ts: str | None, text: str) -> None:
    """Say something to one user: in a DM as a message, in a channel as an ephemeral only they see."""
    try:
        if channel.startswith("D"):
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        else:
            client.chat_postEphemeral(channel=channel, user=user_id, thread_ts=thread_ts, text=text)
    except SlackApiError as error:
        logger.warning("could not notify %s in %s: %s", user_id, channel, error.response.get("error"))

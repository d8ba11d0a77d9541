"""The assistant status ("Needle is searching 15 sources...") under a thread while an answer is made.

``assistant.threads.setStatus`` works in assistant threads and, with ``chat:write``, in channel threads;
a workspace that refuses it is remembered (:mod:`bot.features`) and its answers show the placeholder
message of the update path instead. Slack clears the status by itself when the bot replies in the thread.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.features import STATUS, SlackFeatures

logger = logging.getLogger(__name__)


def show_searching(
    client: WebClient, features: SlackFeatures, channel: str, thread_ts: str, source_count: int | None
) -> bool:
    """Set the "searching" status with the rotating loading messages; ``False`` if Slack refused it."""
    if not features.offered(STATUS):
        return False
    sources = messages.sources_phrase(source_count)
    try:
        client.assistant_threads_setStatus(
            channel_id=channel,
            thread_ts=thread_ts,
            status=messages.STATUS_SEARCHING.format(sources=sources),
            loading_messages=[line.format(sources=sources) for line in messages.LOADING_MESSAGES],
        )
    except SlackApiError as error:
        features.failed(STATUS, error.response.get("error"))
        return False
    return True


def clear(client: WebClient, channel: str, thread_ts: str) -> None:
    """Remove the status when the answer could not be posted (Slack would show it for two minutes)."""
    try:
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status="")
    except SlackApiError as error:
        logger.warning("could not clear the status in %s: %s", channel, error.response.get("error"))

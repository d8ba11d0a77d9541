"""``/needle help``, ``/needle sources`` and ``/needle <question>`` (answered privately, shareable);
``/needle thanks`` and ``/needle hi`` get a short reply at once (:mod:`bot.small_talk`).

Slack needs the ack within three seconds, and the ack is all that runs before it: the channel's settings,
the rate limit and the sources are store reads and writes (Elasticsearch in production), so they run after
an immediate placeholder (Bolt has already answered Slack by then), and a refusal replaces the
placeholder. Only the answer itself goes to the worker pool.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import blocks, messages
from bot.answering import answer_privately
from bot.runtime import BotRuntime
from bot.small_talk import reply_for
from pipelines.querying.followups import small_talk
from pipelines.text.basics import counted

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    name = runtime.settings.slack_command

    def on_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = " ".join((command.get("text") or "").split())
        user_id, channel = command["user_id"], command["channel_id"]
        if text.lower() in ("", "help"):
            ack(text="How to use Needle", blocks=blocks.help_blocks(name))
            return
        if text.lower() == "sources":
            ack(text="Looking up the sources...")
            send_sources(runtime, client, respond, user_id, channel)
            return
        chatter = small_talk(text)
        if chatter is not None:  # "/needle thanks": not a question, never searched
            reply = reply_for(chatter)
            if reply is None:
                ack(text="How to use Needle", blocks=blocks.help_blocks(name))
            else:
                ack(text=reply, blocks=blocks.text_blocks(reply))
            return
        ack(text=messages.PLACEHOLDER, blocks=blocks.placeholder_blocks())
        if admitted(runtime, respond, user_id, channel):
            runtime.submit(answer_privately, runtime, client, respond, text, user_id, channel)

    app.command(name)(on_command)


def admitted(runtime: BotRuntime, respond: Respond, user_id: str, channel: str) -> bool:
    """The gate of a slash question (channel enabled, rate limit); a refusal replaces the placeholder."""
    try:
        allowed_here = runtime.channel_allowed(channel)
        within_limit = allowed_here and runtime.limiter.allow(user_id)
    except Exception:
        logger.exception("could not read the bot's shared state for %s in %s", user_id, channel)
        respond(text=messages.SETTINGS_DOWN, replace_original=True)
        return False
    if not allowed_here:
        respond(text=messages.CHANNEL_NOT_ALLOWED, replace_original=True)
        return False
    if not within_limit:
        respond(text=messages.RATE_LIMITED.format(limit=runtime.limiter.per_minute), replace_original=True)
        return False
    return True


def send_sources(
    runtime: BotRuntime, client: WebClient, respond: Respond, user_id: str, channel: str
) -> None:
    """The sources this channel answers from (its tags) that both the channel and the user may see: what
    a mention here may cite, without showing the asker a title their own answers could not use. In a DM,
    what the user may see."""
    try:
        person = runtime.private_viewer(client, user_id)
        if channel.startswith("D"):
            sources, tags = runtime.visible_sources(person), None
        else:
            tags = runtime.channel_tags(channel)
            room = runtime.channel_viewer(user_id, channel)
            sources = [s for s in runtime.visible_sources(room, tags) if person.may_see(s.audience)]
    except Exception:
        logger.exception("could not list sources for Slack")
        respond(text=messages.SOURCES_FAILED, replace_original=True)
        return
    header = messages.SOURCES_HERE if tags else None
    respond(
        text=f"I know {counted(len(sources), 'source')}.",
        blocks=blocks.sources_blocks(sources, header=header, tags=tags),
        replace_original=True,
    )

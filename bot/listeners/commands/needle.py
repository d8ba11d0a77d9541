"""``/needle help``, ``/needle sources`` and ``/needle <question>`` (answered privately, shareable)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import blocks, messages
from bot.answering import answer_privately
from bot.runtime import BotRuntime
from pipelines.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    name = runtime.settings.slack_command

    def on_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        text = " ".join((command.get("text") or "").split())
        user_id, channel = command["user_id"], command["channel_id"]
        if text.lower() in ("", "help"):
            ack(text="How to use Needle", blocks=blocks.help_blocks(name))
            return
        if text.lower() == "sources":
            ack(text="Looking up the sources...")
            runtime.submit(_send_sources, runtime, respond)
            return
        if not runtime.channel_allowed(channel):
            ack(text=messages.CHANNEL_NOT_ALLOWED)
            return
        if not runtime.limiter.allow(user_id):
            ack(text=messages.RATE_LIMITED.format(limit=runtime.limiter.per_minute))
            return
        ack(text=messages.PLACEHOLDER, blocks=blocks.placeholder_blocks())
        runtime.submit(answer_privately, runtime, respond, text, user_id, channel)

    app.command(name)(on_command)


def _send_sources(runtime: BotRuntime, respond: Respond) -> None:
    try:
        sources = runtime.service.list_sources()
    except NeedleError:
        logger.exception("could not list sources for Slack")
        respond(text=messages.SOURCES_FAILED, replace_original=True)
        return
    respond(
        text=f"I know {len(sources)} sources.", blocks=blocks.sources_blocks(sources), replace_original=True
    )

"""``@Needle question`` in a channel: answered in the message's thread (``@Needle thanks`` gets a short
reply instead, see :mod:`bot.small_talk`)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import messages as wording
from bot.answering import Conversation, answer_in_conversation
from bot.gate import admit, tell
from bot.history import strip_mentions
from bot.runtime import BotRuntime
from bot.small_talk import answer_small_talk
from pipelines.querying.followups import small_talk


def register(app: App, runtime: BotRuntime) -> None:
    def on_mention(
        event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if event.get("bot_id") or event.get("edited") or not event.get("user"):
            return
        channel, ts = event["channel"], event["ts"]
        thread_ts = event.get("thread_ts")
        reply_thread = thread_ts or ts
        question = strip_mentions(event.get("text", ""))
        chatter = small_talk(question) if question else None
        where = admit(
            runtime,
            client,
            user_id=event["user"],
            channel=channel,
            message_ts=ts,
            thread_ts=reply_thread,
            event_id=body.get("event_id"),
            counts=chatter is None,
        )
        if where is None:
            return
        if not question:
            tell(client, channel, event["user"], reply_thread, wording.EMPTY_QUESTION)
            return
        if chatter is not None:
            private_here = where.ephemeral and not channel.startswith("D")
            answer_small_talk(
                client,
                chatter,
                channel=channel,
                user_id=event["user"],
                thread_ts=reply_thread,
                ephemeral=private_here,
            )
            return
        conversation = Conversation.from_event(
            event,
            context,
            question,
            reply_thread_ts=reply_thread,
            private=channel.startswith("D"),
            channel_settings=where,
        )
        answer_in_conversation(runtime, client, conversation)

    app.event("app_mention")(on_mention)

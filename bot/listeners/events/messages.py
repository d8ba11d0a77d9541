"""Plain messages: a DM to the bot, or a follow-up in a channel thread where the bot already answered.

Channel messages that mention the bot are left to the ``app_mention`` listener (Slack sends both events
for one message); edits, deletions and bot messages are ignored.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.answering import Conversation, answer_in_conversation
from bot.gate import admit
from bot.history import strip_mentions
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    def on_message(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return
        channel, ts, text = event["channel"], event["ts"], event.get("text", "")
        thread_ts = event.get("thread_ts")
        direct = event.get("channel_type") == "im"
        if not direct:
            mentioned = context.bot_user_id and f"<@{context.bot_user_id}" in text
            follow_up = (
                runtime.settings.slack_thread_followups
                and thread_ts
                and f"{channel}:{thread_ts}" in runtime.threads
            )
            if mentioned or not follow_up:
                return
        question = strip_mentions(text)
        if not question or not admit(
            runtime, client, user_id=event["user"], channel=channel, message_ts=ts, thread_ts=thread_ts
        ):
            return
        reply_thread = thread_ts if (thread_ts or not direct) else None
        conversation = Conversation.from_event(
            event, context, question, reply_thread_ts=reply_thread, private=direct
        )
        answer_in_conversation(runtime, client, conversation)

    app.event("message")(on_message)

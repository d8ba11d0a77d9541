"""Plain messages: a DM to the bot, or a follow-up in a channel thread where the bot already answered.

Channel messages that mention the bot are left to the ``app_mention`` listener (Slack sends both events
for one message); edits, deletions and bot messages are ignored. In a thread, only follow-ups meant for
the bot are answered (``NEEDLE_SLACK_FOLLOWUPS``): the core's
:func:`~pipelines.querying.followups.classify_followup`
decides, and why a message was left alone is logged at debug level. Greetings and thanks in a DM get a
short reply and no search (:mod:`bot.small_talk`); in a channel thread they are left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.answering import Conversation, answer_in_conversation
from bot.gate import admit
from bot.history import mentions_bot, mentions_someone_else, strip_mentions
from bot.runtime import BotRuntime
from bot.small_talk import answer_small_talk
from pipelines.querying.followups import classify_followup, small_talk

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_message(
        event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return
        channel, ts, text = event["channel"], event["ts"], event.get("text", "")
        thread_ts = event.get("thread_ts")
        direct = event.get("channel_type") == "im"
        question = strip_mentions(text)
        if not direct:
            if mentions_bot(text, context.bot_user_id):
                return  # answered by the app_mention listener
            if not thread_ts or not _followed(runtime, f"{channel}:{thread_ts}"):
                return  # not a thread the bot answered in: people talking to each other
            try:
                mode = runtime.channel(channel).followups
            except Exception:
                logger.exception("could not read the follow-up setting of %s", channel)
                return
            decision = classify_followup(
                question, mentions_other=mentions_someone_else(text, context.bot_user_id), mode=mode
            )
            if not decision.answer:
                logger.debug("not answering %s/%s in thread %s: %s", channel, ts, thread_ts, decision.reason)
                return
        if not question:
            return
        chatter = small_talk(question) if direct else None  # a thread's small talk was left alone above
        where = admit(
            runtime,
            client,
            user_id=event["user"],
            channel=channel,
            message_ts=ts,
            thread_ts=thread_ts,
            event_id=body.get("event_id"),
            counts=chatter is None,
        )
        if where is None:
            return
        if chatter is not None:
            answer_small_talk(client, chatter, channel=channel, user_id=event["user"], thread_ts=thread_ts)
            return
        reply_thread = thread_ts if (thread_ts or not direct) else None
        conversation = Conversation.from_event(
            event, context, question, reply_thread_ts=reply_thread, private=direct, channel_settings=where
        )
        answer_in_conversation(runtime, client, conversation)

    app.event("message")(on_message)


def _followed(runtime: BotRuntime, key: str) -> bool:
    """Whether the bot answered in this thread (any replica); unknown (store down) counts as no."""
    try:
        return key in runtime.threads
    except Exception:
        logger.exception("could not read which threads the bot answered in")
        return False

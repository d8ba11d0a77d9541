"""Slack's assistant / agent view through Bolt's ``Assistant`` middleware.

A new thread gets a greeting and suggested prompts; every question in it gets the thread's title (the
first question), the status while Needle works, and the same answer path as mentions and DMs. Greetings
and thanks get a short reply (:mod:`bot.small_talk`): no search, no status, no title. The
"context changed" event (which channel the user is looking at) is acknowledged and not stored: Needle
does not use it, and Bolt's default store would edit the bot's first message on every change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Assistant, BoltContext, BoltRequest, BoltResponse, SetSuggestedPrompts
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    is_other_message_sub_event_in_assistant_thread,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.answering import Conversation, answer_in_conversation
from bot.features import ASSISTANT
from bot.gate import admit
from bot.history import strip_mentions
from bot.prompts import suggested_prompts, thread_title
from bot.runtime import BotRuntime
from bot.small_talk import answer_small_talk
from pipelines.base.errors import NeedleError
from pipelines.querying.followups import small_talk

logger = logging.getLogger(__name__)


class OnlyAssistantEvents(Assistant):
    """Bolt's ``Assistant``, skipped for requests it cannot handle.

    Bolt runs it as a global middleware on every request (mentions, commands, clicks, retries), where it
    tries each of its listeners' matchers through Bolt's argument injection: about 0.1 ms of CPU per
    request on the ack path. Each of those matchers starts with one of the predicates below (the
    listeners' own matchers are added to them, never in place of them), and the middleware's last check
    is the second one, so a request that passes neither would only have been handed on by it.
    """

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if not (is_assistant_event(req.body) or is_other_message_sub_event_in_assistant_thread(req.body)):
            return next()
        return super().process(req=req, resp=resp, next=next)


def build_assistant(runtime: BotRuntime) -> Assistant:
    assistant = OnlyAssistantEvents(logger=logger)

    @assistant.thread_started
    def on_thread_started(
        payload: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        set_suggested_prompts: SetSuggestedPrompts,
    ) -> None:
        thread = payload["assistant_thread"]
        event_id = body.get("event_id")
        try:
            if event_id and not runtime.handled.claim(f"event:{event_id}"):
                return  # Slack's retry of a thread already greeted (here or on another replica)
        except Exception:
            logger.exception("could not check whether the thread was already greeted")
            return
        try:
            client.chat_postMessage(
                channel=thread["channel_id"], thread_ts=thread["thread_ts"], text=messages.ASSISTANT_GREETING
            )
        except SlackApiError as error:
            logger.warning("could not greet in %s: %s", thread["channel_id"], error.response.get("error"))
        configured = list(runtime.settings.slack_suggested_prompts)
        try:
            # Titles become prompts: only those of sources this user may see.
            sources = (
                []
                if configured
                else runtime.visible_sources(runtime.private_viewer(client, thread["user_id"]))
            )
        except NeedleError:
            logger.warning("no sources for suggested prompts: the store cannot be read", exc_info=True)
            sources = []
        prompts = suggested_prompts(configured, sources)
        if not prompts:
            return
        try:
            set_suggested_prompts(prompts=prompts, title=messages.SUGGESTIONS_TITLE)
        except SlackApiError as error:
            runtime.features.failed(ASSISTANT, error.response.get("error"))

    @assistant.thread_context_changed
    def on_context_changed() -> None:
        return

    @assistant.user_message
    def on_user_message(
        payload: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if payload.get("subtype") or payload.get("bot_id") or not payload.get("user"):
            return
        channel, ts, thread_ts = payload["channel"], payload["ts"], payload["thread_ts"]
        question = strip_mentions(payload.get("text", ""))
        if not question:
            return
        chatter = small_talk(question)
        where = admit(
            runtime,
            client,
            user_id=payload["user"],
            channel=channel,
            message_ts=ts,
            thread_ts=thread_ts,
            event_id=body.get("event_id"),
            counts=chatter is None,
        )
        if where is None:
            return
        if chatter is not None:  # no search, no status, and the thread keeps waiting for its title
            answer_small_talk(client, chatter, channel=channel, user_id=payload["user"], thread_ts=thread_ts)
            return
        if _first_question(runtime, f"title:{channel}:{thread_ts}"):
            _set_title(runtime, client, channel, thread_ts, question)
        conversation = Conversation.from_event(
            payload, context, question, reply_thread_ts=thread_ts, private=True
        )
        answer_in_conversation(runtime, client, conversation)

    return assistant


def _first_question(runtime: BotRuntime, key: str) -> bool:
    """Whether this is the thread's first question (any replica); a store failure skips the title."""
    try:
        return runtime.threads.claim(key)
    except Exception:
        logger.warning("could not check the thread's title", exc_info=True)
        return False


def _set_title(runtime: BotRuntime, client: WebClient, channel: str, thread_ts: str, question: str) -> None:
    """Title the thread after its first question (Slack lists assistant threads by title)."""
    try:
        client.assistant_threads_setTitle(
            channel_id=channel, thread_ts=thread_ts, title=thread_title(question)
        )
    except SlackApiError as error:
        runtime.features.failed(ASSISTANT, error.response.get("error"))


def register(app: App, runtime: BotRuntime) -> None:
    app.assistant(build_assistant(runtime))

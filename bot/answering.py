"""Answering one question in Slack: placeholder at once, the core's answer after, errors in plain words.

Listeners call :func:`answer_in_conversation` (mentions, DMs, follow-ups) or :func:`answer_privately`
(the slash command). Both return quickly; the core runs on the runtime's worker pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages
from bot.history import thread_history
from bot.runtime import BotRuntime
from pipelines.answers import Answer
from pipelines.errors import NeedleError, StoreUnavailableError
from pipelines.links import trace_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversation:
    """Where a question was asked and where its answer goes."""

    question: str
    user_id: str
    channel: str
    message_ts: str
    #: The thread to answer in; ``None`` answers at the top level (a DM outside a thread).
    reply_thread_ts: str | None
    #: The thread whose earlier turns are the question's history, if any.
    history_thread_ts: str | None
    private: bool
    bot_user_id: str | None = None
    bot_id: str | None = None

    @classmethod
    def from_event(
        cls,
        event: dict[str, Any],
        context: BoltContext,
        question: str,
        reply_thread_ts: str | None,
        private: bool,
    ) -> Conversation:
        """The conversation of a Slack message event: a mention, a DM or a reply in a thread."""
        return cls(
            question=question,
            user_id=event["user"],
            channel=event["channel"],
            message_ts=event["ts"],
            reply_thread_ts=reply_thread_ts,
            history_thread_ts=event.get("thread_ts"),
            private=private,
            bot_user_id=context.bot_user_id,
            bot_id=context.bot_id,
        )


def ask_core(
    runtime: BotRuntime, question: str, user_id: str, channel: str, **kwargs: object
) -> Answer | str:
    """The core's answer, or the one sentence to show instead; the cause of a failure is logged."""
    try:
        return runtime.service.ask(
            question,
            tags=runtime.channel_tags(channel),
            origin="slack",
            user_id=user_id,
            **kwargs,  # type: ignore[arg-type]
        )
    except StoreUnavailableError:
        logger.exception("store unavailable while answering %s in %s", user_id, channel)
        return messages.STORE_DOWN
    except NeedleError as error:  # its message is written for people (empty or too long a question)
        logger.info("question refused for %s: %s", user_id, error)
        return str(error)
    except Exception:
        logger.exception("unexpected failure while answering %s in %s", user_id, channel)
        return messages.UNEXPECTED


def answer_in_conversation(runtime: BotRuntime, client: WebClient, conversation: Conversation) -> None:
    """Post the placeholder now (so the user sees something within a second) and answer on the pool."""
    try:
        posted = client.chat_postMessage(
            channel=conversation.channel,
            thread_ts=conversation.reply_thread_ts,
            text=messages.PLACEHOLDER,
            blocks=blocks.placeholder_blocks(),
        )
    except SlackApiError as error:
        logger.error("could not post in %s: %s", conversation.channel, error.response.get("error"))
        return
    if conversation.reply_thread_ts:
        runtime.threads.claim(f"{conversation.channel}:{conversation.reply_thread_ts}")
    runtime.submit(_complete, runtime, client, conversation, str(posted["ts"]))


def _complete(
    runtime: BotRuntime, client: WebClient, conversation: Conversation, placeholder_ts: str
) -> None:
    history = []
    if conversation.history_thread_ts:
        history = thread_history(
            client,
            conversation.channel,
            conversation.history_thread_ts,
            current_ts=conversation.message_ts,
            bot_user_id=conversation.bot_user_id,
            bot_id=conversation.bot_id,
        )
    updater = StreamingUpdater(
        lambda partial: _update(
            client, conversation.channel, placeholder_ts, partial, blocks.streaming_blocks(partial)
        ),
        runtime.settings.slack_stream_update_seconds,
    )
    result = ask_core(
        runtime,
        conversation.question,
        conversation.user_id,
        conversation.channel,
        history=history,
        on_text=updater.on_text,
    )
    updater.close()
    if isinstance(result, str):
        _update(client, conversation.channel, placeholder_ts, result, blocks.text_blocks(result))
        return
    admin = runtime.is_admin(conversation.user_id)
    debug_url = trace_url(runtime.settings, result.trace_id) if admin else None
    _update(
        client,
        conversation.channel,
        placeholder_ts,
        blocks.answer_text(result),
        blocks.answer_blocks(result, debug_url=debug_url if conversation.private else None),
        final=True,
    )
    if debug_url and not conversation.private:
        try:  # the link is for the admin, not for everyone in the channel
            client.chat_postEphemeral(
                channel=conversation.channel,
                user=conversation.user_id,
                thread_ts=conversation.reply_thread_ts,
                text="Debug this answer",
                blocks=blocks.debug_blocks(debug_url),
            )
        except SlackApiError as error:
            logger.warning("could not send the debug link: %s", error.response.get("error"))


def _update(
    client: WebClient, channel: str, ts: str, text: str, message_blocks: list[dict], *, final: bool = False
) -> None:
    attempts = 3 if final else 1
    for attempt in range(attempts):
        try:
            client.chat_update(channel=channel, ts=ts, text=text, blocks=message_blocks)
            return
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "ratelimited" and attempt + 1 < attempts:
                time.sleep(float(error.response.headers.get("Retry-After", 1)))
                continue
            log = logger.error if final else logger.warning
            log("chat.update failed in %s: %s", channel, code)
            return


class StreamingUpdater:
    """Shows streamed LLM text by editing the placeholder, at most once per ``interval`` seconds.

    Slack allows about one message edit per second per channel; editing on every token would be throttled
    and would make the final answer arrive late.
    """

    def __init__(self, publish: Callable[[str], None], interval: float) -> None:
        self._publish = publish
        self._interval = interval
        self._text = ""
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._closed = False
        self.updates = 0

    def on_text(self, delta: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._text += delta
            now = time.monotonic()
            if now - self._last < self._interval or not self._text.strip():
                return
            self._last = now
            text = self._text
        self._publish(text)
        self.updates += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True


def answer_privately(
    runtime: BotRuntime, respond: Respond, question: str, user_id: str, channel: str
) -> None:
    """The slash command's answer, replacing its ephemeral placeholder via the response URL.

    A response URL allows five messages, and ephemeral messages cannot be edited with chat.update, so
    the private answer arrives whole rather than streamed.
    """
    result = ask_core(runtime, question, user_id, channel)
    if isinstance(result, str):
        respond(text=result, blocks=blocks.text_blocks(result), replace_original=True)
        return
    debug_url = trace_url(runtime.settings, result.trace_id) if runtime.is_admin(user_id) else None
    respond(
        text=blocks.answer_text(result),
        blocks=blocks.answer_blocks(result, show_question=True, share_button=True, debug_url=debug_url),
        replace_original=True,
        response_type="ephemeral",
    )

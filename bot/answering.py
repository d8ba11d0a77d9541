"""Answering one question in Slack: something visible at once, the core's answer after, errors in plain
words.

Listeners call :func:`answer_in_conversation` (mentions, DMs, follow-ups, assistant threads) or
:func:`answer_privately` (the slash command). Both return quickly; the core runs on the runtime's worker
pool. Where the workspace offers them, the answer is native: the assistant status shows what Needle is
doing and the text streams into the thread (:class:`~bot.writers.StreamWriter`). Otherwise a placeholder
is posted and edited (:class:`~bot.writers.UpdateWriter`); which path a workspace gets is decided by
Slack's first refusal and remembered (:mod:`bot.features`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages, status
from bot.features import STREAMING
from bot.history import thread_history
from bot.runtime import BotRuntime
from bot.writers import FinalReply, StreamWriter, UpdateWriter, placeholder
from pipelines.base.errors import NeedleError, StoreUnavailableError
from pipelines.querying.followups import FollowupMode
from pipelines.records.answers import Answer
from pipelines.records.audience import Viewer
from pipelines.records.channel_settings import ChannelSettings
from pipelines.stores.traces import SlackLocation

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
    #: The asker's workspace: Slack's streaming methods need it outside DMs.
    team_id: str | None = None
    #: The channel answers privately by default: the answer is an ephemeral only the asker sees.
    ephemeral: bool = False
    #: The channel's user group that "Ask a person" calls in (channel answers only).
    escalation_usergroup: str | None = None
    #: The channel's tags as the gate read them for this event (``None``: not read); the status line
    #: counts the sources from them instead of reading the settings again. The answer reads them afresh.
    channel_tags: tuple[str, ...] | None = None
    #: The channel's follow-up mode as the gate read it: which of the thread's messages the bot answered,
    #: and so which are the question's history.
    followups: FollowupMode = "questions"

    @classmethod
    def from_event(
        cls,
        event: dict[str, Any],
        context: BoltContext,
        question: str,
        reply_thread_ts: str | None,
        private: bool,
        channel_settings: ChannelSettings | None = None,
    ) -> Conversation:
        """The conversation of a Slack message event: a mention, a DM or a reply in a thread.

        :param channel_settings: the channel's settings as the gate read them (ephemeral, escalation).
        """
        ephemeral = bool(channel_settings and channel_settings.ephemeral) and not private
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
            team_id=event.get("team") or context.team_id or context.enterprise_id,
            ephemeral=ephemeral,
            escalation_usergroup=None
            if private or ephemeral or channel_settings is None
            else channel_settings.escalation_usergroup,
            channel_tags=None if channel_settings is None else tuple(channel_settings.tags),
            followups="questions" if channel_settings is None else channel_settings.followups,
        )

    def viewer(self, runtime: BotRuntime, client: WebClient) -> Viewer:
        """Who will read the answer: the asker alone (with Slack memberships) or everyone in the channel.

        :raises NeedleError: the store cannot say which audiences exist.
        """
        if self.private or self.ephemeral:
            return runtime.private_viewer(client, self.user_id, self.channel)
        return runtime.channel_viewer(self.user_id, self.channel)


def ask_core(
    runtime: BotRuntime,
    question: str,
    user_id: str,
    channel: str,
    viewer: Callable[[], Viewer],
    **kwargs: object,
) -> Answer | str:
    """The core's answer for ``viewer`` (built here, so a failure to build it is told like any other),
    or the one sentence to show instead; the cause of a failure is logged."""
    try:
        return runtime.service.ask(
            question,
            tags=runtime.channel_tags(channel),
            origin="slack",
            user_id=user_id,
            viewer=viewer(),
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
    """Show that Needle is on it (status, or a placeholder) now, and answer on the worker pool."""
    channel = conversation.channel
    if conversation.ephemeral:
        runtime.submit(_complete_ephemeral, runtime, client, conversation)
        return
    # Slack streams only into threads: a DM outside a thread is answered in the question's own thread.
    stream_thread = conversation.reply_thread_ts or conversation.message_ts
    viewer: Viewer | None = None
    native = False
    if runtime.features.offered(STREAMING):
        # The reader the answer is built for, built once: the status counts what the answer may use.
        viewer = _viewer_or_none(runtime, client, conversation)
        count = None if viewer is None else runtime.source_count(channel, viewer, conversation.channel_tags)
        native = status.show_searching(client, runtime.features, channel, stream_thread, count)
    if native:
        writer: StreamWriter | UpdateWriter = StreamWriter(
            client,
            runtime.features,
            channel=channel,
            thread_ts=stream_thread,
            recipient_user_id=conversation.user_id,
            recipient_team_id=conversation.team_id,
            interval=runtime.settings.slack_stream_update_seconds,
        )
        reply_thread: str | None = stream_thread
    else:
        placeholder_ts = placeholder(client, channel, conversation.reply_thread_ts)
        if placeholder_ts is None:
            return
        writer = UpdateWriter(client, channel, placeholder_ts, runtime.settings.slack_stream_update_seconds)
        reply_thread = conversation.reply_thread_ts
    if reply_thread:
        _follow(runtime, f"{channel}:{reply_thread}")
    runtime.submit(_complete, runtime, client, conversation, writer, reply_thread, viewer)


def _viewer_or_none(runtime: BotRuntime, client: WebClient, conversation: Conversation) -> Viewer | None:
    """The conversation's reader; ``None`` (logged) when the stores cannot say, so the answer path
    builds it again and tells the user in plain words if it still cannot."""
    try:
        return conversation.viewer(runtime, client)
    except Exception:
        logger.warning("could not build the reader of %s's question for the status", conversation.user_id)
        return None


def _complete(
    runtime: BotRuntime,
    client: WebClient,
    conversation: Conversation,
    writer: StreamWriter | UpdateWriter,
    reply_thread: str | None,
    viewer: Viewer | None = None,
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
            mode=conversation.followups,
            direct=conversation.private,
        )
    result = ask_core(
        runtime,
        conversation.question,
        conversation.user_id,
        conversation.channel,
        lambda: viewer or conversation.viewer(runtime, client),
        history=history,
        on_text=writer.on_text,
    )
    if isinstance(result, str):
        delivered = writer.finish(FinalReply(result, blocks.text_blocks(result)))
    else:
        delivered = _deliver_answer(runtime, client, conversation, writer, result, reply_thread)
    if not delivered and isinstance(writer, StreamWriter):
        status.clear(client, conversation.channel, reply_thread or conversation.message_ts)


def _deliver_answer(
    runtime: BotRuntime,
    client: WebClient,
    conversation: Conversation,
    writer: StreamWriter | UpdateWriter,
    answer: Answer,
    reply_thread: str | None,
) -> bool:
    debug_url, trace_hint = runtime.debug_for(conversation.user_id, answer.trace_id)
    # In a channel the debug link or trace id is for the admin alone: sent as an ephemeral, not shown to all.
    in_message = conversation.private
    shown: dict[str, Any] = {"debug_url": debug_url, "trace_hint": trace_hint} if in_message else {}
    # Slack's feedback_buttons come with the AI-app features; a workspace without streaming keeps the
    # classic buttons its messages always had.
    shown["native_feedback"] = isinstance(writer, StreamWriter) and not writer.fell_back
    shown["escalate"] = bool(conversation.escalation_usergroup) and answer.found
    delivered = writer.finish(
        FinalReply(
            text=blocks.answer_text(answer),
            blocks=blocks.answer_blocks(answer, **shown),
            tail=blocks.answer_tail_blocks(answer, **shown),
            markdown=answer.text,
        )
    )
    if delivered:
        _record_location(runtime, conversation, answer.trace_id, reply_thread)
    if (debug_url or trace_hint) and not in_message:
        hint = blocks.debug_blocks(debug_url) if debug_url else blocks.trace_hint_blocks(answer.trace_id)
        try:
            client.chat_postEphemeral(
                channel=conversation.channel,
                user=conversation.user_id,
                thread_ts=reply_thread,
                text="Debug this answer",
                blocks=hint,
            )
        except SlackApiError as error:
            logger.warning("could not send the debug link: %s", error.response.get("error"))
    return delivered


def answer_privately(
    runtime: BotRuntime, client: WebClient, respond: Respond, question: str, user_id: str, channel: str
) -> None:
    """The slash command's answer, replacing its ephemeral placeholder via the response URL.

    A response URL allows five messages, and ephemeral messages cannot be edited with chat.update, so
    the private answer arrives whole rather than streamed.
    """
    result = ask_core(
        runtime, question, user_id, channel, lambda: runtime.private_viewer(client, user_id, channel)
    )
    if isinstance(result, str):
        respond(text=result, blocks=blocks.text_blocks(result), replace_original=True)
        return
    debug_url, trace_hint = runtime.debug_for(user_id, result.trace_id)
    respond(
        text=blocks.answer_text(result),
        blocks=blocks.answer_blocks(
            result,
            show_question=True,
            share_button=True,
            debug_url=debug_url,
            trace_hint=trace_hint,
            native_feedback=False,  # an ephemeral message: classic buttons
        ),
        replace_original=True,
        response_type="ephemeral",
    )


def _record_location(
    runtime: BotRuntime, conversation: Conversation, trace_id: str, reply_thread: str | None
) -> None:
    """Keep with the trace where the answered question is (ids only), for links from any process; a
    failure only costs the App Home its link to this question."""
    location: SlackLocation = {
        "channel": conversation.channel,
        "message_ts": conversation.message_ts,
        "thread_ts": reply_thread,
    }
    try:
        runtime.service.record_slack_location(trace_id, location)
    except Exception:
        logger.warning("could not record where answer %s is in Slack", trace_id, exc_info=True)


def _follow(runtime: BotRuntime, key: str) -> None:
    """Remember a thread the bot answers in (shared by replicas); a store failure only costs follow-ups."""
    try:
        runtime.threads.remember(key)
    except Exception:
        logger.warning("could not remember thread %s for follow-ups", key, exc_info=True)


def _complete_ephemeral(runtime: BotRuntime, client: WebClient, conversation: Conversation) -> None:
    """A channel whose answers are private by default: the asker alone gets the answer, as an ephemeral
    with "Share in channel" (which re-checks what the channel may see)."""
    channel, user_id = conversation.channel, conversation.user_id
    result = ask_core(
        runtime, conversation.question, user_id, channel, lambda: conversation.viewer(runtime, client)
    )
    if isinstance(result, str):
        text, shown = result, blocks.text_blocks(result)
    else:
        text = blocks.answer_text(result)
        debug_url, trace_hint = runtime.debug_for(user_id, result.trace_id)
        shown = blocks.answer_blocks(
            result,
            show_question=True,
            share_button=True,
            debug_url=debug_url,
            trace_hint=trace_hint,
            native_feedback=False,
        )
    try:
        client.chat_postEphemeral(
            channel=channel, user=user_id, thread_ts=conversation.reply_thread_ts, text=text, blocks=shown
        )
    except SlackApiError as error:
        logger.error("could not send a private answer in %s: %s", channel, error.response.get("error"))

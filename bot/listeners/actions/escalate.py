""" "Ask a person": on an answer in a channel with an escalation user group, a click posts in the thread,
mentioning the group with the question, the first lines of Needle's answer and its sources
(:func:`bot.blocks.escalation_text`), and records it for the admins' feedback view.

The click is acknowledged at once; reading the channel's settings, recording and posting come after the
ack (on Bolt's listener thread, not queued behind answers). One call per answer: the record is created
atomically (any replica), so a second click, or a second person's, is told that help was already asked
for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages
from bot.gate import tell
from bot.runtime import BotRuntime
from bot.traces import answer_from_trace
from pipelines.records.escalations import Escalation, EscalationLog

logger = logging.getLogger(__name__)

#: Record collection of the threads where a person was asked to help (read by the admin console).


def register(app: App, runtime: BotRuntime) -> None:
    def on_escalate(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        escalate(runtime, client, body, str(action.get("value") or ""))  # after the ack, on Bolt's thread

    app.action(blocks.ESCALATE)(on_escalate)


def _built_for(trace: Mapping[str, Any], channel: str) -> bool:
    """Whether the traced answer was built for everyone in ``channel``, so the ping may quote it there.

    The button is only on such answers; a click carrying another answer's trace id (a private one) gets
    the question alone in the ping.
    """
    viewer = trace.get("viewer") or {}
    shared = not viewer.get("private") and not viewer.get("unrestricted")
    return shared and viewer.get("channel_id") == channel


def escalate(runtime: BotRuntime, client: WebClient, body: dict[str, Any], trace_id: str) -> None:
    """Call the channel's escalation user group into the answer's thread, once per answer."""
    user_id = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or ""
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or message.get("ts")
    try:
        group = runtime.channel(channel).escalation_usergroup if channel else None
        trace = runtime.service.get_trace(trace_id)
        answer = answer_from_trace(trace)
        if not group or trace is None or answer is None or not thread_ts:
            tell(client, channel, user_id, thread_ts, messages.ESCALATE_UNAVAILABLE)
            return
        escalation = Escalation(trace_id, channel, thread_ts, user_id, group, answer.question)
        if not EscalationLog(runtime.records).open(escalation):
            tell(client, channel, user_id, thread_ts, messages.ESCALATE_ALREADY)
            return
    except Exception:
        logger.exception("could not record the escalation of %s", trace_id)
        tell(client, channel, user_id, thread_ts, messages.ESCALATE_FAILED)
        return
    text = blocks.escalation_text(group, user_id, answer, quote_answer=_built_for(trace, channel))
    try:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    except SlackApiError as error:
        logger.error("could not post the escalation in %s: %s", channel, error.response.get("error"))
        EscalationLog(runtime.records).forget(trace_id)  # not called in: let the user try again
        tell(client, channel, user_id, thread_ts, messages.ESCALATE_FAILED)
        return
    try:
        after = {"channel_id": channel, "thread_ts": thread_ts, "usergroup": group}
        runtime.channels.audit.record(f"slack:{user_id}", "slack.escalate", f"trace {trace_id}", None, after)
    except Exception:
        logger.warning("could not audit the escalation of %s", trace_id, exc_info=True)
    tell(client, channel, user_id, thread_ts, messages.ESCALATE_DONE)

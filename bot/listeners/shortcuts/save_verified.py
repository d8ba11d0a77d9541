""" "Save as verified answer": a message shortcut on an expert's reply in the thread "Ask a person"
opened, or on a Needle answer. The message becomes a verified answer to the thread's question
(:meth:`pipelines.knowledge.desk.KnowledgeDesk.add_verified`): the expert is the reply's author (for a
Needle answer, the person who saves it), the audience the channel's (a DM's: the person's). The person
who saved it is told, privately, with its id and review-by date.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.gate import tell
from bot.runtime import BotRuntime
from pipelines.base.errors import NeedleError

logger = logging.getLogger(__name__)

CALLBACK_ID = "save_verified_answer"
NOT_HERE = (
    "“Save as verified answer” works on an expert's reply in a thread where someone asked a person, "
    "or on one of Needle's answers."
)


def register(app: App, runtime: BotRuntime) -> None:
    def on_shortcut(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        save(runtime, client, body)

    app.shortcut(CALLBACK_ID)(on_shortcut)


def _trace_in_blocks(message: dict[str, Any]) -> str | None:
    """The trace id a Needle answer's feedback buttons carry."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "feedback_buttons":
                return str(element["positive_button"]["value"]).split(":", 1)[1]
            if str(element.get("action_id") or "").startswith("feedback") and element.get("value"):
                return str(element["value"])
    return None


def save(runtime: BotRuntime, client: WebClient, body: dict[str, Any]) -> None:
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or ""
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or message.get("ts")
    desk = runtime.service.knowledge
    trace_id = _trace_in_blocks(message) if message.get("bot_id") else None
    trace = runtime.service.get_trace(trace_id) if trace_id else None
    if trace is not None:  # a Needle answer: its question and the text Needle gave
        question, answer, expert = str(trace.get("question") or ""), str(trace["answer"]["text"]), user
    else:
        found = desk.question_in_thread(channel, thread_ts, runtime.records) if thread_ts else None
        if found is None or message.get("bot_id"):
            tell(client, channel, user, thread_ts, NOT_HERE)
            return
        question, trace_id = found
        answer, expert = str(message.get("text") or ""), str(message.get("user") or user)
    audience = f"channel:{channel}" if channel[:1] in ("C", "G") else f"user:{user}"
    try:
        item = desk.add_verified(question, answer, expert, audience=audience, trace_id=trace_id, actor=user)
    except NeedleError as error:
        tell(client, channel, user, thread_ts, f"Not saved: {error}.")
        return
    except Exception:
        logger.exception("could not save a verified answer from %s", channel)
        tell(client, channel, user, thread_ts, "Not saved: Needle could not store it. Please try again.")
        return
    tell(
        client,
        channel,
        user,
        thread_ts,
        f"✅ Saved as a verified answer to “{question}” (id `{item.answer_id}`, verified by <@{expert}>, "
        f"review by {item.review_by}). Questions with the same meaning here are answered from it first.",
    )

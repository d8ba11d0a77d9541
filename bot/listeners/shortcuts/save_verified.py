""" "Save as verified answer": a message shortcut on an expert's reply in the thread "Ask a person"
opened, or on a Needle answer. The message becomes a verified answer to the thread's question
(:meth:`pipelines.knowledge.desk.KnowledgeDesk.add_verified`): the expert is the reply's author (for a
Needle answer, the person who saves it), the audience the channel's (a DM's: the person's). The person
who saved it is told, privately, with its id and review-by date.

Also here: the reminder an expert gets, once, when one of their verified answers passes its review-by
date (:func:`remind_experts`), checked hourly by a background thread of the bot.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.gate import tell
from bot.runtime import BotRuntime
from pipelines.app.links import admin_base_url
from pipelines.base.errors import NeedleError

logger = logging.getLogger(__name__)

CALLBACK_ID = "save_verified_answer"
REMINDER_SECONDS = 3600
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
NOT_HERE = (
    "“Save as verified answer” works on an expert's reply in a thread where someone asked a person, "
    "or on one of Needle's answers."
)


def register(app: App, runtime: BotRuntime) -> None:
    def on_shortcut(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        save(runtime, client, body)

    app.shortcut(CALLBACK_ID)(on_shortcut)
    _start_reminders(runtime, app.client)


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


def remind_experts(runtime: BotRuntime, client: WebClient) -> int:
    """DM each expert whose verified answer passed its review-by date, once per answer and date (the
    claim is recorded before the DM and dropped if Slack refuses it, so the next run tries again).
    Returns how many were sent."""
    sent = 0
    desk = runtime.service.knowledge
    for item in desk.verified.due_for_review():
        if not _SLACK_USER.match(item.expert) or not desk.verified.claim_reminder(item):
            continue
        link = f"{admin_base_url(runtime.service.settings)}/?verified={item.answer_id}"
        text = (
            f"Your verified answer to “{item.question}” passed its review date ({item.review_by}), so Needle "
            f"no longer gives it as verified. If it is still right, renew it (a new review-by date in the "
            f"Gaps tab, id `{item.answer_id}`): {link}"
        )
        try:
            client.chat_postMessage(channel=item.expert, text=text)
            sent += 1
        except SlackApiError as error:
            logger.warning("could not remind %s: %s", item.expert, error.response.get("error"))
            desk.verified.forget_reminder(item)
    return sent


def _start_reminders(runtime: BotRuntime, client: WebClient) -> None:
    def loop() -> None:
        stop = threading.Event()
        while not stop.is_set():
            try:
                remind_experts(runtime, client)
            except Exception:
                logger.exception("verified-answer reminders failed")
            stop.wait(REMINDER_SECONDS)

    threading.Thread(target=loop, name="needle-verified-reminders", daemon=True).start()

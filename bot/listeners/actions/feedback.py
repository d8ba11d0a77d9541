"""👍 / 👎 on answers: Slack's ``feedback_buttons`` on posted and streamed answers, classic buttons on
ephemeral ones. Every click counts once (:mod:`bot.votes`); a 👎 also opens a modal for an optional
reason. The clicking user is told that the vote was recorded."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages
from bot.runtime import BotRuntime
from bot.votes import Rating, parse_feedback_value, record_vote
from pipelines.base.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def vote(
        body: dict[str, Any], client: WebClient, respond: Respond, rating: Rating, trace_id: str
    ) -> None:
        user_id = body["user"]["id"]
        try:
            outcome = record_vote(runtime.service, trace_id, user_id, rating)
        except NeedleError:
            logger.exception("could not store feedback for %s", trace_id)
            acknowledge(body, client, respond, messages.FEEDBACK_FAILED)
            return
        if rating == "down":
            _ask_reason(body, client, trace_id)
        if outcome == "unchanged":
            text = messages.VOTE_UNCHANGED
        else:
            text = messages.VOTE_UP_RECORDED if rating == "up" else messages.VOTE_DOWN_RECORDED
        acknowledge(body, client, respond, text)

    def on_feedback_buttons(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        parsed = parse_feedback_value(str(action.get("value") or ""))
        if parsed is None:
            logger.warning("feedback with an unknown value: %r", action.get("value"))
            return
        vote(body, client, respond, *parsed)

    def on_up(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        vote(body, client, respond, "up", str(action["value"]))

    def on_down(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        vote(body, client, respond, "down", str(action["value"]))

    app.action(blocks.FEEDBACK)(on_feedback_buttons)
    app.action(blocks.FEEDBACK_UP)(on_up)
    app.action(blocks.FEEDBACK_DOWN)(on_down)


def _ask_reason(body: dict[str, Any], client: WebClient, trace_id: str) -> None:
    """Open the optional-reason modal; the 👎 is already recorded, so a failure only costs the reason."""
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    try:
        client.views_open(
            trigger_id=body["trigger_id"],
            view=blocks.feedback_modal(trace_id, channel, message.get("thread_ts") or message.get("ts")),
        )
    except SlackApiError as error:
        logger.warning("views.open failed: %s", error.response.get("error"))


def acknowledge(body: dict[str, Any], client: WebClient, respond: Respond, text: str) -> None:
    """Tell the clicking user only: an ephemeral in the message's thread, or via the response URL when
    the answer itself is ephemeral (slash command answers)."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id")
    try:
        if container.get("is_ephemeral") or not channel:
            respond(text=text, replace_original=False, response_type="ephemeral")
        else:
            client.chat_postEphemeral(
                channel=channel, user=body["user"]["id"], thread_ts=message.get("thread_ts"), text=text
            )
    except SlackApiError as error:
        logger.warning("could not acknowledge feedback: %s", error.response.get("error"))

"""👍 is stored at once; 👎 opens a short modal for the reason (stored on submit, or without one on close)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages
from bot.runtime import BotRuntime
from pipelines.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_up(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            runtime.service.record_feedback(action["value"], "up", user_id=user_id)
            text = messages.FEEDBACK_THANKS
        except NeedleError:
            logger.exception("could not store feedback for %s", action.get("value"))
            text = messages.FEEDBACK_FAILED
        acknowledge(body, client, respond, text)

    def on_down(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        try:
            client.views_open(
                trigger_id=body["trigger_id"],
                view=blocks.feedback_modal(
                    action["value"], channel, message.get("thread_ts") or message.get("ts")
                ),
            )
        except SlackApiError as error:  # the modal could not open: keep the 👎 without a reason
            logger.warning("views.open failed: %s", error.response.get("error"))
            try:
                runtime.service.record_feedback(action["value"], "down", user_id=body["user"]["id"])
            except NeedleError:
                logger.exception("could not store feedback for %s", action.get("value"))

    app.action(blocks.FEEDBACK_UP)(on_up)
    app.action(blocks.FEEDBACK_DOWN)(on_down)


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

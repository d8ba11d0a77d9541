"""The 👎 modal: the vote was recorded on the click; a submitted reason is added to it. Skipping or
closing the modal records nothing new (the modal does not ask to be told when it closes)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.runtime import BotRuntime
from bot.votes import record_vote
from pipelines.base.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        reason = (values.get(blocks.REASON_BLOCK, {}).get(blocks.REASON_INPUT, {}) or {}).get("value")
        try:
            trace_id = json.loads(view.get("private_metadata") or "{}")["trace_id"]
            record_vote(runtime.service, trace_id, body["user"]["id"], "down", reason)
        except (KeyError, ValueError, NeedleError):
            logger.exception("could not store the reason for a 👎")
            ack(
                response_action="errors",
                errors={blocks.REASON_BLOCK: "Sorry, your reason could not be saved."},
            )
            return
        ack(response_action="update", view=blocks.feedback_thanks_view())

    app.view(blocks.FEEDBACK_VIEW)(on_submit)

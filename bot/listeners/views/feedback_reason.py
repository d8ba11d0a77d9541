"""The 👎 modal: submitted with a reason, or closed without one; either way the 👎 is stored once."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.runtime import BotRuntime
from pipelines.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def store(view: dict[str, Any], user_id: str, reason: str | None) -> bool:
        try:
            trace_id = json.loads(view.get("private_metadata") or "{}")["trace_id"]
            runtime.service.record_feedback(trace_id, "down", user_id=user_id, reason=reason)
        except (KeyError, ValueError, NeedleError):
            logger.exception("could not store 👎 feedback")
            return False
        return True

    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        reason = (values.get(blocks.REASON_BLOCK, {}).get(blocks.REASON_INPUT, {}) or {}).get("value")
        if store(view, body["user"]["id"], reason):
            ack(response_action="update", view=blocks.feedback_thanks_view())
        else:
            ack(
                response_action="errors",
                errors={blocks.REASON_BLOCK: "Sorry, your feedback could not be saved."},
            )

    def on_close(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        store(view, body["user"]["id"], None)

    app.view(blocks.FEEDBACK_VIEW)(on_submit)
    app.view_closed(blocks.FEEDBACK_VIEW)(on_close)

"""Edited and deleted messages in channels a Slack connector syncs: the thread is fetched again on the
channel's next sync (:func:`pipelines.connectors.slack_edits.note_message_event` decides and marks).

Registered before the plain-message listener: Bolt runs the first listener that matches, and the
plain-message listener ignores these subtypes anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot.runtime import BotRuntime
from pipelines.connectors.slack_edits import note_message_event

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_edit(event: dict[str, Any], context: BoltContext) -> None:
        try:
            note_message_event(runtime.records, event, context.bot_user_id)
        except Exception:
            logger.exception("could not mark a Slack thread for its next sync")

    app.event({"type": "message", "subtype": "message_changed"})(on_edit)
    app.event({"type": "message", "subtype": "message_deleted"})(on_edit)

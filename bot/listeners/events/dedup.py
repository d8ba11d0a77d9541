"""Drops a second delivery of the same event id (Slack's retries) before any listener sees it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.runtime import BotRuntime

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def drop_repeated_events(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not runtime.handled.claim(f"event:{event_id}"):
            logger.info("dropping repeated event %s", event_id)
            return BoltResponse(status=200, body="")
        return next()

    app.middleware(drop_repeated_events)

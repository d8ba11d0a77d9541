"""The App Home tab: how to ask, and what the bot knows, refreshed each time the tab is opened."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import home_view
from bot.runtime import BotRuntime
from pipelines.errors import NeedleError

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        try:
            stats = runtime.service.stats()
        except NeedleError:
            logger.exception("could not read the store for the App Home")
            stats = None
        try:
            client.views_publish(user_id=event["user"], view=home_view(stats, runtime.settings.slack_command))
        except SlackApiError as error:
            logger.error("views.publish failed: %s", error.response.get("error"))

    app.event("app_home_opened")(on_home_opened)

"""The App Home tab, refreshed each time it is opened: what Needle knows (counts and the sources the user
may see, with links and dates), the user's last questions with links to their threads, and how to ask."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.asked import last_questions
from bot.blocks import AskedQuestion, home_view
from bot.runtime import BotRuntime
from pipelines.base.errors import NeedleError
from pipelines.records.answers import SourceInfo

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        publish_home(runtime, client, event["user"])  # on Bolt's listener thread, after the ack

    app.event("app_home_opened")(on_home_opened)


def publish_home(runtime: BotRuntime, client: WebClient, user_id: str) -> None:
    """Build and publish ``user_id``'s App Home: only the sources they may see, counted from those."""
    stats: dict[str, Any] | None
    sources: list[SourceInfo] | None
    try:
        sources = runtime.visible_sources(runtime.private_viewer(client, user_id))
        stats = visible_stats(sources)
    except NeedleError:
        logger.exception("could not read the store for the App Home")
        stats, sources = None, None
    questions: list[AskedQuestion] = []
    try:
        questions = last_questions(
            runtime.service, runtime.workspace_url.get(client), user_id, runtime.settings.slack_home_questions
        )
    except Exception:  # the traces are a nicety here: the tab still shows what Needle knows
        logger.exception("could not read %s's last questions for the App Home", user_id)
    view = home_view(
        stats,
        runtime.settings.slack_command,
        sources=sources,
        questions=questions,
        source_limit=runtime.settings.slack_home_sources,
    )
    try:
        client.views_publish(user_id=user_id, view=view)
    except SlackApiError as error:
        logger.error("views.publish failed: %s", error.response.get("error"))


def visible_stats(sources: list[SourceInfo]) -> dict[str, Any]:
    """The App Home's counts over the sources the user may see (the store's totals would reveal how much
    is kept from them)."""
    return {
        "sources": len(sources),
        "chunks": sum(source.chunks for source in sources),
        "last_updated": max((source.indexed_at for source in sources), default=None),
    }

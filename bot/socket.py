"""Socket Mode: the bot connects out to Slack over a websocket, so no public URL is needed."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from pipelines.base.settings import ENV_PREFIX, Settings


def socket_mode_handler(bolt: App, settings: Settings) -> SocketModeHandler:
    """A handler over Bolt's app; ``connect()`` runs it in background threads, ``close()`` stops it.

    :raises ValueError: no app-level token (``xapp-...``).
    """
    if settings.slack_app_token is None:
        raise ValueError(
            f"{ENV_PREFIX}SLACK_APP_TOKEN (xapp-...) is required when {ENV_PREFIX}SLACK_MODE=socket"
        )
    return SocketModeHandler(
        bolt, app_token=settings.slack_app_token.get_secret_value(), web_client=bolt.client
    )

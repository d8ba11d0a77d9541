"""The Slack bot as a face of ``needle serve``: an HTTP route, or a Socket Mode connection, or nothing.

The bot starts when Slack answers (:mod:`bot.startup`): a Slack that is unreachable, or a revoked token,
leaves the server and its other faces running, makes ``/readyz`` say why, and is tried again with backoff.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from slack_bolt import App

from bot.app import build_app, build_client, quiet_sdk_debug
from bot.http import EVENTS_PATH, add_routes
from bot.runtime import BotRuntime, tune_interpreter
from bot.socket import socket_mode_handler
from bot.startup import SlackStart
from pipelines.app.links import ADMIN_PATH
from pipelines.app.server import add_readiness_check
from pipelines.base.settings import ENV_PREFIX, Settings
from pipelines.service.facade import NeedleService

logger = logging.getLogger(__name__)


def admin_mounted(app: FastAPI) -> bool:
    """Whether the admin console is served by this app (so a "Debug this answer" link can work).

    Asked when an answer is made, not at mount time: faces may be mounted in any order.
    """
    return any(str(getattr(route, "path", "")).startswith(ADMIN_PATH) for route in app.routes)


def check_configuration(settings: Settings) -> None:
    """Refuse a configuration no wait would fix. :raises ValueError: the missing setting, named."""
    if settings.slack_mode == "http" and settings.slack_signing_secret is None:
        raise ValueError(f"{ENV_PREFIX}SLACK_SIGNING_SECRET is required when {ENV_PREFIX}SLACK_MODE=http")
    if settings.slack_mode != "http" and settings.slack_app_token is None:
        raise ValueError(
            f"{ENV_PREFIX}SLACK_APP_TOKEN (xapp-...) is required when {ENV_PREFIX}SLACK_MODE=socket"
        )


def mount(app: FastAPI, service: NeedleService) -> None:
    """Add the bot to ``app`` when Slack is configured (``NEEDLE_SLACK_BOT_TOKEN``).

    HTTP mode adds ``POST /slack/events``; Socket Mode connects when the server starts and disconnects
    when it stops. Either way the bot comes up when Slack answers (see :mod:`bot.startup`), and its state
    is the ``slack`` check of ``/readyz``. The bot's worker pool is shut down with the server.

    :raises ValueError: the signing secret (HTTP mode) or the app token (Socket Mode) is missing.
    """
    settings = service.settings
    if not settings.slack_enabled:
        logger.info("Slack bot is off: NEEDLE_SLACK_BOT_TOKEN is not set")
        return
    check_configuration(settings)
    interval = tune_interpreter(settings)
    quiet_sdk_debug()
    runtime = BotRuntime.create(service)
    logger.info(
        "Slack bot: %d answer threads, interpreter switch interval %.4f s", settings.slack_workers, interval
    )
    client = build_client(settings)
    app.state.slack_runtime = runtime
    runtime.admin_console = lambda: admin_mounted(app)

    def build() -> App:
        return build_app(service, runtime=runtime, client=client)

    if settings.slack_mode == "http":
        assert settings.slack_signing_secret is not None  # check_configuration refused to go on without it
        start = SlackStart.over(client, build)
        # The route serves the app once it is built (503 until then): add_routes only dispatches to it.
        add_routes(app, start, settings.slack_signing_secret.get_secret_value())  # type: ignore[arg-type]
        logger.info("Slack bot listening on %s (HTTP mode)", EVENTS_PATH)
    else:
        connected = []

        def connect(bolt: App) -> None:
            handler = socket_mode_handler(bolt, settings)
            try:
                handler.connect()
            except Exception:
                handler.close()
                raise
            connected.append(handler)
            logger.info("Slack bot connected (Socket Mode)")

        def disconnect() -> None:
            for handler in connected:
                handler.close()

        start = SlackStart.over(client, build, connect)
        app.router.on_shutdown.append(disconnect)
    app.state.slack_start = start
    add_readiness_check(app, "slack", start.readiness)
    app.router.on_startup.append(start.start)
    app.router.on_shutdown.append(start.stop)
    app.router.on_shutdown.append(runtime.shutdown)

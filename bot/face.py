"""The Slack bot as a face of ``needle serve``: an HTTP route, or a Socket Mode connection, or nothing."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from bot.app import build_app, quiet_sdk_debug
from bot.http import EVENTS_PATH, add_routes
from bot.runtime import BotRuntime, tune_interpreter
from bot.socket import socket_mode_handler
from pipelines.links import ADMIN_PATH
from pipelines.service import NeedleService

logger = logging.getLogger(__name__)


def admin_mounted(app: FastAPI) -> bool:
    """Whether the admin console is served by this app (so a "Debug this answer" link can work).

    Asked when an answer is made, not at mount time: faces may be mounted in any order.
    """
    return any(str(getattr(route, "path", "")).startswith(ADMIN_PATH) for route in app.routes)


def mount(app: FastAPI, service: NeedleService) -> None:
    """Add the bot to ``app`` when Slack is configured (``NEEDLE_SLACK_BOT_TOKEN``).

    HTTP mode adds ``POST /slack/events``; Socket Mode connects when the server starts and disconnects
    when it stops. The bot's worker pool is shut down with the server.
    """
    settings = service.settings
    if not settings.slack_enabled:
        logger.info("Slack bot is off: NEEDLE_SLACK_BOT_TOKEN is not set")
        return
    interval = tune_interpreter(settings)
    quiet_sdk_debug()
    runtime = BotRuntime.create(service)
    logger.info(
        "Slack bot: %d answer threads, interpreter switch interval %.4f s", settings.slack_workers, interval
    )
    bolt = build_app(service, runtime=runtime)
    app.state.slack_runtime = runtime
    runtime.admin_console = lambda: admin_mounted(app)
    if settings.slack_mode == "http":
        assert settings.slack_signing_secret is not None  # build_app refused to start without it
        add_routes(app, bolt, settings.slack_signing_secret.get_secret_value())
        logger.info("Slack bot listening on %s (HTTP mode)", EVENTS_PATH)
    else:
        handler = socket_mode_handler(bolt, settings)

        def connect() -> None:
            handler.connect()
            logger.info("Slack bot connected (Socket Mode)")

        app.router.on_startup.append(connect)
        app.router.on_shutdown.append(handler.close)
    app.router.on_shutdown.append(runtime.shutdown)

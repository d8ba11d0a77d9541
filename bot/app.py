"""The app factory: a Bolt app over the core service, with every listener registered. Nothing else."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.listeners import register_listeners
from bot.runtime import BotRuntime
from pipelines.base.settings import ENV_PREFIX, Settings
from pipelines.service.facade import NeedleService

#: The logger of slack_sdk's ``WebClient`` (and of the clients Bolt makes per request from ours).
SDK_LOGGER = "slack_sdk.web.base_client"


def quiet_sdk_debug() -> int:
    """Give slack_sdk's Web API logger the level in force as its own; returns that level.

    Before and after every Web API call the client formats debug lines (the URL, parameters, headers,
    the response's body) whenever its logger's *own* level is DEBUG or unset, which it is unless someone
    sets it; ``logging`` then drops them. That is about 0.3 ms of CPU per call, on the threads that share
    the interpreter with the ones acknowledging Slack. With the level in force as the logger's own, the
    same lines are logged (none, unless the level is DEBUG, which is left alone) without the formatting.
    Process-wide, so it is called where the bot runs as a server (``bot.face.mount``), after the server
    configured logging, not in tests.
    """
    sdk_logger = logging.getLogger(SDK_LOGGER)
    level = sdk_logger.getEffectiveLevel()
    if sdk_logger.level == logging.NOTSET and level > logging.DEBUG:
        sdk_logger.setLevel(level)
    return level


def build_client(settings: Settings) -> WebClient:
    """The Web API client; ``NEEDLE_SLACK_API_URL`` points it at a local Slack stand-in in tests."""
    if settings.slack_bot_token is None:
        raise ValueError(f"{ENV_PREFIX}SLACK_BOT_TOKEN (xoxb-...) is not set")
    base_url = (settings.slack_api_url or WebClient.BASE_URL).rstrip("/") + "/"
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def build_app(
    service: NeedleService,
    *,
    settings: Settings | None = None,
    runtime: BotRuntime | None = None,
    client: WebClient | None = None,
) -> App:
    """A Bolt app answering from ``service``.

    :param settings: the bot's settings (default: the service's); tests vary Slack options this way over
        one indexed service.
    :param runtime: pass one in to keep a handle on the worker pool (shutdown, waiting in tests).
    :raises ValueError: the bot token, or in HTTP mode the signing secret, is missing.
    """
    runtime = runtime or BotRuntime.create(service, settings)
    settings = runtime.settings
    http = settings.slack_mode == "http"
    if http and settings.slack_signing_secret is None:
        raise ValueError(f"{ENV_PREFIX}SLACK_SIGNING_SECRET is required when {ENV_PREFIX}SLACK_MODE=http")
    app = App(
        name="needle",
        client=client or build_client(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value()
        if settings.slack_signing_secret
        else None,
        request_verification_enabled=http,
        # Bolt's middleware that adds say_stream, set_status and set_suggested_prompts to the arguments of
        # every event and message listener, run on each matching request before the ack (about 0.02 ms):
        # no listener here takes them. The assistant's listeners get them from Bolt's Assistant itself.
        attaching_conversation_kwargs_enabled=False,
    )
    register_listeners(app, runtime)
    return app

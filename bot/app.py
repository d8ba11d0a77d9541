"""The app factory: a Bolt app over the core service, with every listener registered. Nothing else."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.listeners import register_listeners
from bot.runtime import BotRuntime
from pipelines.service import NeedleService
from pipelines.settings import ENV_PREFIX, Settings


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
    )
    register_listeners(app, runtime)
    return app

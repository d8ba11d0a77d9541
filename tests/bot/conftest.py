"""Fixtures for the Slack bot: a local Slack Web API, the real bot behind a real HTTP server, the core.

``bot_service`` is a real :class:`NeedleService` with three handbook files (leave policy tagged ``hr``,
IT guide tagged ``it``, travel policy untagged); tests may record feedback on it but not ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from bot.app import build_app
from bot.http import EVENTS_PATH, add_routes
from bot.runtime import BotRuntime
from pipelines.service import NeedleService
from pipelines.settings import Settings
from tests.bot.slack_api import APP_TOKEN, BOT_TOKEN, SlackState, slack_api_server
from tests.bot.slack_requests import SIGNING_SECRET, SlackSender
from tests.conftest import HANDBOOK, make_settings
from tests.support.uvicorn_server import start as start_server

BOT_FILES = {"leave-policy.md": ["hr"], "it-setup-guide.md": ["it"], "travel-and-expenses-policy.pdf": []}


def slack_overrides(api: SlackState, **overrides: Any) -> dict[str, Any]:
    """The settings of a bot talking to the local Slack ``api``."""
    return {
        "slack_bot_token": BOT_TOKEN,
        "slack_app_token": APP_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_mode": "http",
        "slack_api_url": f"{api.url}/api/",
        **overrides,
    }


def ingest_bot_files(service: NeedleService, names: dict[str, list[str]] = BOT_FILES) -> None:
    for name, tags in names.items():
        result = service.ingest_file(HANDBOOK / name, tags=tags)
        assert result.status == "indexed", result


@pytest.fixture(scope="session")
def bot_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    service = NeedleService(make_settings(tmp_path_factory.mktemp("bot")))
    ingest_bot_files(service)
    yield service
    service.traces.close()


@pytest.fixture
def slack_api() -> Iterator[SlackState]:
    with slack_api_server() as state:
        yield state


@dataclass
class BotHarness:
    url: str
    slack: SlackState
    send: SlackSender
    runtime: BotRuntime
    settings: Settings

    def settle(self) -> None:
        """Wait for the bot to finish everything it started."""
        self.slack.settle()
        assert self.runtime.wait_idle(30)
        self.slack.settle(quiet=0.2)


@contextmanager
def running_bot(service: NeedleService, slack: SlackState, **overrides: Any) -> Iterator[BotHarness]:
    """The real Bolt app behind uvicorn (as ``needle serve`` runs it in HTTP mode), talking to ``slack``."""
    settings = make_settings(service.settings.data_dir, **slack_overrides(slack, **overrides))
    runtime = BotRuntime.create(service, settings)
    app = FastAPI()
    add_routes(app, build_app(service, runtime=runtime))
    server = start_server(app)
    harness = BotHarness(
        server.base_url, slack, SlackSender(server.base_url + EVENTS_PATH, slack.url), runtime, settings
    )
    try:
        yield harness
    finally:
        runtime.wait_idle(30)
        harness.send.close()
        server.stop()
        runtime.shutdown()


@pytest.fixture
def start_bot(bot_service: NeedleService, slack_api: SlackState) -> Iterator[Callable[..., BotHarness]]:
    """Start the real Bolt app behind uvicorn: ``start_bot(service=None, **setting_overrides)``."""
    with ExitStack() as running:

        def start(service: NeedleService | None = None, **overrides: Any) -> BotHarness:
            return running.enter_context(running_bot(service or bot_service, slack_api, **overrides))

        yield start

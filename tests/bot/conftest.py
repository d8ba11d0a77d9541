"""Fixtures for the Slack bot: a local Slack Web API, the real bot behind a real HTTP server, the core.

``slack_api`` is a workspace without Slack's AI-app methods (the bot's placeholder-and-``chat.update``
path); ``ai_slack`` offers streaming and the assistant methods (the native path). ``start_bot`` and
``start_ai_bot`` run the bot against one or the other.

``bot_service`` is a real :class:`NeedleService` with three handbook files (leave policy tagged ``hr``,
IT guide tagged ``it``, travel policy untagged); tests may record feedback on it but not ingest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from bot.app import build_app
from bot.http import EVENTS_PATH, add_routes
from bot.runtime import BotRuntime
from pipelines.base.settings import Settings
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore, SqliteRecordStore
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


@pytest.fixture
def ai_slack() -> Iterator[SlackState]:
    with slack_api_server(ai_apps=True) as state:
        yield state


@dataclass
class BotHarness:
    url: str
    slack: SlackState
    send: SlackSender
    runtime: BotRuntime
    settings: Settings
    #: The data directory whose ``records.sqlite3`` holds this bot's shared state (channel settings,
    #: handled events, rate limits): what ``needle channels`` run with ``NEEDLE_DATA_DIR`` there changes.
    records_dir: Path

    def settle(self) -> None:
        """Wait for the bot to finish everything it started."""
        self.slack.settle()
        assert self.runtime.wait_idle(30)
        self.slack.settle(quiet=0.2)


@contextmanager
def running_bot(
    service: NeedleService,
    slack: SlackState,
    *,
    admin_console: bool = False,
    records_dir: Path | None = None,
    **overrides: Any,
) -> Iterator[BotHarness]:
    """The real Bolt app behind uvicorn (as ``needle serve`` runs it in HTTP mode), talking to ``slack``.

    :param admin_console: whether the deployment serves the admin console (debug links need it).
    :param records_dir: where the bot's shared records live; default a fresh directory, so tests over
        the session's service do not share handled events and rate limits. Two bots given the same
        directory are two replicas: each opens its own connection, as separate processes would.
    """
    settings = make_settings(service.settings.data_dir, **slack_overrides(slack, **overrides))
    own_dir = records_dir is None
    records_dir = Path(tempfile.mkdtemp(prefix="needle-bot-records-")) if own_dir else records_dir
    records: RecordStore = SqliteRecordStore(records_dir / "records.sqlite3")
    runtime = BotRuntime.create(service, settings, records)
    runtime.admin_console = lambda: admin_console
    app = FastAPI()
    add_routes(app, build_app(service, runtime=runtime), SIGNING_SECRET)
    server = start_server(app)
    harness = BotHarness(
        server.base_url,
        slack,
        SlackSender(server.base_url + EVENTS_PATH, slack.url),
        runtime,
        settings,
        records_dir,
    )
    try:
        yield harness
    finally:
        runtime.wait_idle(30)
        harness.send.close()
        server.stop()
        runtime.shutdown()
        records.close()


@pytest.fixture
def start_bot(bot_service: NeedleService, slack_api: SlackState) -> Iterator[Callable[..., BotHarness]]:
    """Start the real Bolt app behind uvicorn: ``start_bot(service=None, **setting_overrides)``."""
    with ExitStack() as running:

        def start(service: NeedleService | None = None, **overrides: Any) -> BotHarness:
            return running.enter_context(running_bot(service or bot_service, slack_api, **overrides))

        yield start


@pytest.fixture
def start_ai_bot(bot_service: NeedleService, ai_slack: SlackState) -> Iterator[Callable[..., BotHarness]]:
    """``start_bot`` against a workspace that offers streaming and the assistant methods."""
    with ExitStack() as running:

        def start(service: NeedleService | None = None, **overrides: Any) -> BotHarness:
            return running.enter_context(running_bot(service or bot_service, ai_slack, **overrides))

        yield start

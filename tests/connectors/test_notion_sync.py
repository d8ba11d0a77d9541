"""A Notion workspace synced end to end: the local Notion API, the real connector and sync engine, the
embedded store with the bundled model, and ``needle ask`` as an admin, a member and an outsider.

The sync runs through the service's connector manager (``needle connectors`` is not on the command line
yet); every question goes through ``needle ask``, a separate service over the same data directory. The
leak sweeps through the Slack bot and the console's View as are in :mod:`tests.connectors.sweeps`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.settings import get_settings
from pipelines.connectors.state import SyncRun
from pipelines.service import NeedleService
from tests.bot.slack_api import SlackState, slack_api_server
from tests.connectors.sweeps import Probe, set_environment, slack_environment, sweep_bot, sweep_console
from tests.support.fake_notion import FakeNotionState, fake_notion, heading, paragraph, table

QUESTION = "What is the guest Wi-Fi password in the Lisbon office?"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("NEEDLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def ask(capsys: pytest.CaptureFixture[str], question: str, *viewer: str) -> dict:
    capsys.readouterr()
    assert cli.main(["ask", "--json", *viewer, question]) == 0
    return json.loads(capsys.readouterr().out)


def sync(service: NeedleService) -> SyncRun:
    run = service.connectors.sync("wiki", actor="test")
    assert run.status == "succeeded", run.error
    return run


@pytest.mark.slow
def test_a_synced_workspace_answers_from_a_table_keeps_its_audience_and_forgets_deleted_pages(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = FakeNotionState()
    with fake_notion(state) as (url, _):
        handbook = state.add_page(
            "Office handbook",
            [
                heading(1, "Guest Wi-Fi"),
                paragraph("Each office runs its own guest network; the passwords change every quarter."),
                table(
                    [
                        ["Office", "Guest network", "Guest Wi-Fi password"],
                        ["Berlin", "Needle-Guest", "blue-heron-42"],
                        ["Lisbon", "Needle-PT", "sardine-harbour-7"],
                    ],
                    header=True,
                ),
            ],
        )
        old = state.add_page(
            "Legacy VPN guide",
            [paragraph("Connect to the legacy VPN at vpn-legacy.acme.example with the blue client.")],
        )
        monkeypatch.setenv("NEEDLE_CONNECTOR_WIKI_TOKEN", state.token)
        service = NeedleService(get_settings())
        service.connectors.create(
            "notion", "wiki", {"base_url": url, "delay": "0"}, audience="channel:C0STAFF", actor="test"
        )
        assert (sync(service).added, service.connectors.show("wiki").documents) == (2, 2)
        handbook_url = state.page_object(handbook)["url"]

        # A member of the channel, asking there, gets the fact from the table, cited by the page's URL.
        member = ask(capsys, QUESTION, "--as-user", "U0MEMBER", "--channel", "C0STAFF")
        assert "sardine-harbour-7" in member["answer"]
        assert [c["url"] for c in member["citations"]] == [handbook_url]
        assert member["citations"][0]["title"] == "Office handbook"

        # Someone outside the channel, asking in a DM, gets nothing from it: no text, citation or passage.
        outsider = ask(capsys, QUESTION, "--as-user", "U0OUTSIDER")
        leaked = json.dumps(outsider)
        assert "sardine" not in leaked and "Office handbook" not in leaked and handbook_url not in leaked
        assert outsider["citations"] == [] and outsider["passages"] == []

        # A revoked token fails the sync in plain words and removes nothing.
        monkeypatch.setenv("NEEDLE_CONNECTOR_WIKI_TOKEN", "ntn_revoked_0000")
        failed = service.connectors.sync("wiki", actor="test")
        assert failed.status == "failed" and "401 unauthorized" in (failed.error or "")
        assert "ntn_revoked_0000" not in (failed.error or "") and len(service.list_sources()) == 2
        monkeypatch.setenv("NEEDLE_CONNECTOR_WIKI_TOKEN", state.token)

        # A page moved to the trash in Notion is pruned on the next sync.
        vpn = "How do I connect to the legacy VPN?"
        assert "vpn-legacy.acme.example" in ask(capsys, vpn)["answer"]
        state.trash(old)
        run = sync(service)
        assert (run.listed, run.removed, run.unchanged) == (1, 1, 1)
        after = ask(capsys, vpn)
        assert "vpn-legacy" not in json.dumps(after)
        capsys.readouterr()
        assert cli.main(["sources", "--json"]) == 0
        assert [source["title"] for source in json.loads(capsys.readouterr().out)] == ["Office handbook"]
        # The token is in no record the sync left behind.
        status = service.connectors.show("wiki")
        assert state.token not in json.dumps(status, default=str)


# The sweeps through the Slack bot and the console's View as share one workspace, synced once for the
# module, its pages for the #staff channel (the connector's configured audience: Notion does not say who
# may read a page). Slack knows the member (in #staff) and the outsider (not in it).
STAFF, GENERAL = "C0STAFF", "C0GENERAL"
MEMBER, OUTSIDER, UNKNOWN = "U0MEMBER", "U0OUTSIDER", "U0NOBODY"
FACT = "sardine-harbour-7"


@dataclass
class SweptWorkspace:
    service: NeedleService
    slack: SlackState
    environment: dict[str, str]
    handbook: str  # its source id
    tells: list[str]  # what would give the page away: its facts, title, URL and source id


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweptWorkspace]:
    root = tmp_path_factory.mktemp("notion")
    state = FakeNotionState()
    with pytest.MonkeyPatch.context() as patch, fake_notion(state) as (url, _), slack_api_server() as slack:
        page = state.add_page(
            "Office handbook",
            [
                heading(1, "Guest Wi-Fi"),
                table(
                    [
                        ["Office", "Guest network", "Guest Wi-Fi password"],
                        ["Berlin", "Needle-Guest", "blue-heron-42"],
                        ["Lisbon", "Needle-PT", FACT],
                    ],
                    header=True,
                ),
            ],
        )
        slack.add_user(MEMBER, "member", email="member@example.com")
        slack.add_user(OUTSIDER, "outsider", email="outsider@example.com")
        slack.add_channel(STAFF, "staff", private=True, members=[MEMBER])
        slack.add_channel(GENERAL, "general", members=[MEMBER, OUTSIDER])
        environment = {
            "NEEDLE_DATA_DIR": str(root / "data"),
            "NEEDLE_CONNECTOR_WIKI_TOKEN": state.token,
            **slack_environment(slack),
        }
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.chdir(root)  # no stray .env
        get_settings.cache_clear()
        service = NeedleService(get_settings())
        service.connectors.create(
            "notion", "wiki", {"base_url": url, "delay": "0"}, audience=f"channel:{STAFF}", actor="test"
        )
        assert sync(service).added == 1
        (source,) = service.list_sources()
        assert source.audience == [f"channel:{STAFF}"]
        tells = [FACT, "blue-heron-42", "Office handbook", state.page_object(page)["url"], source.source_id]
        yield SweptWorkspace(service, slack, environment, source.source_id, tells)
        service.close()
    get_settings.cache_clear()


@pytest.fixture
def swept(shared_workspace: SweptWorkspace, monkeypatch: pytest.MonkeyPatch) -> SweptWorkspace:
    set_environment(shared_workspace.environment, monkeypatch)
    return shared_workspace


@pytest.mark.slow
def test_the_leak_sweep_through_the_slack_bot(
    swept: SweptWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    """The #staff member gets the fact in #staff and in a DM (Slack says they are in #staff); the outsider,
    an unknown user and a mention in #general (read by outsiders) get nothing of the page."""
    sweep_bot(
        swept.service,
        swept.slack,
        caplog,
        question=QUESTION,
        fact=FACT,
        tells=swept.tells,
        granted=[Probe("mention in #staff", MEMBER, STAFF), Probe("DM, member", MEMBER)],
        denied=[
            Probe("DM, outsider", OUTSIDER),
            Probe("DM, unknown", UNKNOWN),
            Probe("mention in #general by the member", MEMBER, GENERAL),
            Probe("mention in #general by the outsider", OUTSIDER, GENERAL),
        ],
    )


@pytest.mark.slow
def test_the_leak_sweep_through_the_console_view_as(swept: SweptWorkspace) -> None:
    """View as #staff shows the fact; as the outsider, an unknown user or #general, nothing of the page."""
    sweep_console(
        swept.service,
        question=QUESTION,
        fact=FACT,
        tells=swept.tells,
        restricted={swept.handbook},
        granted=[(MEMBER, STAFF)],
        denied=[(OUTSIDER, ""), (UNKNOWN, ""), (OUTSIDER, GENERAL), (MEMBER, GENERAL)],
    )

"""Confluence end to end: the sync engine indexes a local Confluence's pages with their audiences, and
``needle ask --as-user`` answers a member from a restricted page while outsiders and unmapped people get
nothing of it (the leak sweep); a permission change at the source moves the audience on the next sync
without re-embedding anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines import cli
from pipelines.base.settings import get_settings
from pipelines.connectors.people import SlackPeople
from pipelines.service import NeedleService
from tests.bot.slack_api import SlackState, slack_api_server
from tests.connectors.sweeps import Probe, set_environment, slack_environment, sweep_bot, sweep_console
from tests.connectors.test_confluence import SLACK, build_site
from tests.support.fake_confluence import FakeConfluenceState, fake_confluence

FACT = "91,500"  # only in "Salary bands 2027", restricted to finance through its parent
QUESTION = "What does salary band L4 top out at?"
MEMBER, OUTSIDER, UNMAPPED = "U0ALICE1", "U0BOB001", "U0CAROL1"  # carol is in finance, but not in Slack


@dataclass
class Wiki:
    service: NeedleService
    state: FakeConfluenceState
    slack: SlackState
    writes: list[str]
    #: the variables the CLI and the sync read (the data directory, the token, the console's password)
    environment: dict[str, str]

    def sync(self) -> Any:
        return self.service.connectors.sync("wiki")

    def source(self, title: str) -> dict[str, Any]:
        return next(s.to_dict() for s in self.service.list_sources() if s.title == title)


@contextmanager
def synced_wiki(root: Path) -> Iterator[Wiki]:
    """A Needle data directory the CLI shares, with a Data Center ``wiki`` connector synced once."""
    state = build_site(cloud=False)
    with pytest.MonkeyPatch.context() as patch, fake_confluence(state) as url, slack_api_server() as slack:
        for email, user in SLACK.items():  # Slack knows alice, bob and dave by email; carol has no account
            slack.add_user(user, email.split("@")[0], email=email)
        environment = {
            "NEEDLE_DATA_DIR": str(root / "data"),
            "NEEDLE_CONNECTOR_WIKI_TOKEN": state.token,
            # the deployment's Slack (the people directory, users.lookupByEmail) and the console's owner
            **slack_environment(slack),
        }
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.chdir(root)  # no stray .env
        get_settings.cache_clear()
        service = NeedleService(get_settings())
        assert isinstance(service.connectors.people, SlackPeople)  # the real directory, over the stand-in
        writes: list[str] = []
        for name in ("write_documents", "delete_documents", "replace_sources"):
            original = getattr(service.store, name)

            def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                writes.append(_name)
                return _original(*args, **kwargs)

            patch.setattr(service.store, name, counted)
        service.connectors.create("confluence", "wiki", {"url": url, "cloud": "false", "spaces": "ENG,FIN"})
        run = service.connectors.sync("wiki")
        assert (run.status, run.added, run.failed) == ("succeeded", 8, 0), run
        yield Wiki(service, state, slack, writes, environment)
    get_settings.cache_clear()


@pytest.fixture
def wiki(tmp_path: Path) -> Iterator[Wiki]:
    """A wiki of its own, for a test that changes Confluence."""
    with synced_wiki(tmp_path) as wiki:
        yield wiki


@pytest.fixture(scope="module")
def shared_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wiki]:
    with synced_wiki(tmp_path_factory.mktemp("wiki")) as wiki:
        yield wiki


@pytest.fixture
def swept(shared_wiki: Wiki, monkeypatch: pytest.MonkeyPatch) -> Wiki:
    """The module's wiki, for the sweeps, which only read it; its variables set again for this test (the
    suite clears every NEEDLE_ variable before each test)."""
    set_environment(shared_wiki.environment, monkeypatch)
    return shared_wiki


def ask_as(user: str, capsys: pytest.CaptureFixture[str], question: str = QUESTION) -> dict[str, Any]:
    assert cli.main(["ask", "--json", "--as-user", user, question]) == 0
    output = capsys.readouterr().out
    return {"raw": output, **json.loads(output)}


@pytest.mark.slow
def test_the_leak_sweep_through_needle_ask_as_user(swept: Wiki, capsys: pytest.CaptureFixture[str]) -> None:
    bands = swept.source("Salary bands 2027")
    assert bands["audience"] == [f"user:{MEMBER}"]
    assert bands["url"].endswith("/confluence/pages/viewpage.action?pageId=103")
    assert swept.source("Onboarding")["tags"] == ["onboarding", "policy"]  # Confluence's labels
    restricted = {bands["source_id"], swept.source("Salaries")["source_id"]}
    # carol may read Salaries, its child and Budget in Confluence, but has no Slack account: `show` names her
    assert swept.service.connectors.show("wiki").unmapped == {"carol@example.com": 3}

    member = ask_as(MEMBER, capsys)
    assert FACT in member["answer"]
    assert bands["source_id"] in {c["source_id"] for c in member["citations"]}

    for outsider in (OUTSIDER, UNMAPPED, "U0NOBODY1"):
        answer = ask_as(outsider, capsys)
        assert FACT not in answer["raw"], outsider
        assert "Salary bands" not in answer["raw"] and "salary review" not in answer["raw"], outsider
        seen = {c["source_id"] for c in answer["citations"]} | {
            p.get("source_id") for p in answer["passages"]
        }
        assert not seen & restricted, outsider


@pytest.mark.slow
def test_a_permission_change_moves_the_audience_without_re_embedding(
    wiki: Wiki, capsys: pytest.CaptureFixture[str]
) -> None:
    assert FACT not in ask_as(OUTSIDER, capsys)["raw"]
    wiki.state.pages["102"].read_users = ["key-bob"]  # bob may now read Salaries, so its child too
    wiki.writes.clear()
    before = len(wiki.state.requests)
    run = wiki.sync()
    assert (run.status, run.added, run.removed, run.failed) == ("succeeded", 0, 0, 0)
    fetched = [
        r.path
        for r in wiki.state.requests[before:]
        if r.path.startswith(("/download/", "/rest/api/content/1"))
    ]
    assert [
        path for path in fetched if not path.endswith(("/restriction/byOperation/read", "/child/attachment"))
    ] == []
    assert wiki.writes == []  # no chunk written or deleted: the audience changed in place
    assert wiki.source("Salary bands 2027")["audience"] == [f"user:{MEMBER}", f"user:{OUTSIDER}"]
    assert FACT in ask_as(OUTSIDER, capsys)["answer"]

    # and back: the restriction narrowed again at the source, the outsider loses the page
    wiki.state.pages["102"].read_users = []
    wiki.sync()
    assert FACT not in ask_as(OUTSIDER, capsys)["raw"]
    assert wiki.writes == []


@pytest.mark.slow
def test_a_page_deleted_in_confluence_leaves_the_index(
    wiki: Wiki, capsys: pytest.CaptureFixture[str]
) -> None:
    del wiki.state.pages["104"]
    run = wiki.sync()
    assert run.removed == 1
    assert "Incident runbook" not in {s.title for s in wiki.service.list_sources()}


#: What would give the restricted pages away: their facts and titles.
TELLS = [FACT, "Salary bands 2027", "salary review happens in March"]


@pytest.mark.slow
def test_the_leak_sweep_through_the_slack_bot(swept: Wiki, caplog: pytest.LogCaptureFixture) -> None:
    """DMs and a channel mention through the real Bolt app: only the member's DM carries the fact."""
    sweep_bot(
        swept.service,
        swept.slack,  # the workspace the sync mapped people in
        caplog,
        question=QUESTION,
        fact=FACT,
        tells=TELLS,
        granted=[Probe("DM, member", MEMBER)],
        denied=[
            Probe("DM, outsider", OUTSIDER),
            Probe("DM, unmapped", UNMAPPED),
            Probe("mention in #general by the member", MEMBER, "C0GENERAL"),  # read by the whole channel
        ],
    )


@pytest.mark.slow
def test_the_leak_sweep_through_the_console_view_as(swept: Wiki) -> None:
    """The debugger's "View as" a Slack user, through the console's API on a real server."""
    sweep_console(
        swept.service,
        question=QUESTION,
        fact=FACT,
        tells=TELLS,
        restricted={swept.source("Salary bands 2027")["source_id"], swept.source("Salaries")["source_id"]},
        granted=[(MEMBER, "")],
        denied=[(OUTSIDER, ""), (UNMAPPED, "")],
    )

"""The Google Drive connector end to end: synced by the real sync engine into a real service (bundled
model, embedded store) from the local Drive stand-in, then asked through ``needle ask --as-user``, the
Slack bot and the console's View as (the last two in :mod:`tests.connectors.sweeps`).

The leak sweep: a question whose answer is only in a restricted file (HR's salary bands, restricted to
the HR group, carol and the folder's owner), asked as a mapped member (dave, through the HR group), a
mapped outsider (alice) and a Slack user no Drive permission names: the member gets the fact, the others
get nothing of the file (no answer text, citation, passage or title). Then a sharing change in Drive
changes the audience at the next sync without the file being downloaded or embedded again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines import cli
from pipelines.base.settings import get_settings
from pipelines.connectors.people import SlackPeople
from pipelines.connectors.sync import connector_source_id
from pipelines.service import NeedleService
from tests.bot.slack_api import SlackState, slack_api_server
from tests.conftest import make_settings
from tests.connectors.gdrive_world import DOMAIN, PEOPLE, Directory, populate, user
from tests.connectors.sweeps import Probe, set_environment, slack_environment, sweep_bot, sweep_console
from tests.support.fake_gdrive import FakeDriveState, fake_gdrive

QUESTION = "What is the top of the L5 salary band?"
FACT = "151,000"
SECRET_MARKERS = (FACT, "Salary bands", "reviewed every April")  # never the question's words


@pytest.fixture
def synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[NeedleService, FakeDriveState, str]]:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("NEEDLE_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    with fake_gdrive(tmp_path) as (url, state, key_file):
        populate(state)
        monkeypatch.setenv("NEEDLE_CONNECTOR_DRIVE_SERVICE_ACCOUNT_FILE", str(key_file))
        service = NeedleService(make_settings(data_dir))
        service.connectors.people = Directory(PEOPLE)
        yield service, state, url
        service.close()
    get_settings.cache_clear()


def ask_as(user_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert cli.main(["ask", "--json", "--as-user", user_id, QUESTION]) == 0
    return json.loads(capsys.readouterr().out)


def leaked(answer: dict[str, Any], source_id: str) -> list[str]:
    text = json.dumps(answer)
    found = [marker for marker in SECRET_MARKERS if marker in text]
    if source_id in text:
        found.append(source_id)
    return found


@pytest.mark.slow
def test_the_leak_sweep_and_a_sharing_change_without_re_embedding(
    synced: tuple[NeedleService, FakeDriveState, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: Any,
) -> None:
    service, state, url = synced
    config = {
        "folders": "fold-policies",
        "drives": "drive-eng",
        "domain": DOMAIN,
        "api_root": url,
        "admin_email": "admin@acme.example",
    }
    service.connectors.create("gdrive", "drive", config)
    run = service.connectors.sync("drive")
    assert run.status == "succeeded", (run.error, run.failures)
    assert run.added == 8
    salaries = connector_source_id("drive", "doc-salaries")
    audiences = {s.source_id: s.audience for s in service.list_sources()}
    assert audiences[salaries] == ["user:U0BOB", "user:U0CAROL", "user:U0DAVE"]
    assert audiences[connector_source_id("drive", "doc-travel")] == ["everyone"]
    assert service.connectors.show("drive").unmapped["erin@acme.example"] == 1

    member = ask_as("U0DAVE", capsys)  # in HR through the group
    assert FACT in member["answer"]
    assert salaries in {c["source_id"] for c in member["citations"]}
    for outsider in ("U0ALICE", "U0NOBODY"):  # a mapped outsider; a Slack user no permission names
        answer = ask_as(outsider, capsys)
        assert leaked(answer, salaries) == [], outsider
        trace = service.get_trace(answer["trace_id"])  # what the debugger and the trace store keep
        assert trace is not None and leaked(json.loads(json.dumps(trace, default=str)), salaries) == []

    # HR's folder is no longer shared with the HR group: dave loses the file at the next sync, and the
    # file is neither downloaded nor embedded again (its content did not change).
    state.share("fold-hr", [user("carol@acme.example")])
    state.requests.clear()
    writes: list[str] = []
    for name in ("write_documents", "replace_sources"):  # replace_sources: how a source is re-indexed
        original = getattr(service.store, name)
        monkeypatch.setattr(
            service.store, name, lambda *a, _o=original, _n=name, **k: (writes.append(_n), _o(*a, **k))[1]
        )
    second = service.connectors.sync("drive")
    assert second.status == "succeeded" and (second.changed, second.added, second.removed) == (1, 0, 0)
    assert writes == []
    assert not [
        r for r in state.requests if r["path"].endswith("/export") or r["query"].get("alt") == "media"
    ]
    # The engine kept the connector's page tokens: the second sync read the changes feeds, not every folder.
    assert "/drive/v3/changes" in state.paths() and "/drive/v3/files" not in state.paths()
    assert {s.source_id: s.audience for s in service.list_sources()}[salaries] == [
        "user:U0BOB",
        "user:U0CAROL",
    ]
    caplog.clear()
    assert leaked(ask_as("U0DAVE", capsys), salaries) == []
    assert not [marker for marker in SECRET_MARKERS if marker in caplog.text]
    assert FACT in ask_as("U0CAROL", capsys)["answer"]


@pytest.mark.slow
def test_a_shared_drive_synced_by_the_engine_then_re_shared_is_not_embedded_again(
    synced: tuple[NeedleService, FakeDriveState, str], monkeypatch: Any
) -> None:
    """The default suite's run through the engine: a shared drive's two small Docs, their audiences from
    Drive, then a sharing change applied in place from the changes feed: no download, no chunk written."""
    service, state, url = synced
    config = {"drives": "drive-eng", "domain": DOMAIN, "api_root": url, "admin_email": "admin@acme.example"}
    service.connectors.create("gdrive", "drive", config)
    run = service.connectors.sync("drive")
    assert (run.status, run.added) == ("succeeded", 2), (run.error, run.failures)
    runbook = connector_source_id("drive", "doc-runbook")
    audiences = {s.source_id: s.audience for s in service.list_sources()}
    assert audiences == {
        runbook: ["user:U0ALICE", "user:U0FRANK"],
        connector_source_id("drive", "doc-public"): ["everyone"],
    }
    state.share("doc-runbook", [user("carol@acme.example")])
    state.requests.clear()
    writes: list[str] = []
    for name in ("write_documents", "replace_sources"):  # replace_sources: how a source is re-indexed
        original = getattr(service.store, name)
        monkeypatch.setattr(
            service.store, name, lambda *a, _o=original, _n=name, **k: (writes.append(_n), _o(*a, **k))[1]
        )
    second = service.connectors.sync("drive")
    assert (second.status, second.changed, second.unchanged) == ("succeeded", 1, 1)
    assert writes == []
    assert sorted(set(state.paths())) == [
        "/admin/directory/v1/groups/eng@acme.example/members",
        "/drive/v3/changes",
        "/drive/v3/files/doc-runbook/permissions",
    ]
    audiences = {s.source_id: s.audience for s in service.list_sources()}
    assert audiences[runbook] == ["user:U0ALICE", "user:U0CAROL", "user:U0FRANK"]


# The sweeps through the Slack bot and the console's View as share one Drive, synced once for the module,
# with Drive's people mapped by the real Slack directory (users.lookupByEmail on the Slack stand-in).
MEMBER, OUTSIDER, UNMAPPED = "U0DAVE", "U0ALICE", "U0ERIN"  # erin is in HR, but Slack knows another email


@dataclass
class SweptDrive:
    service: NeedleService
    slack: SlackState
    environment: dict[str, str]
    salaries: str


@pytest.fixture(scope="module")
def shared_drive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweptDrive]:
    root = tmp_path_factory.mktemp("drive")
    with (
        pytest.MonkeyPatch.context() as patch,
        fake_gdrive(root) as (url, state, key_file),
        slack_api_server() as slack,
    ):
        populate(state)
        for email, slack_id in PEOPLE.items():
            slack.add_user(slack_id, email.split("@")[0], email=email)
        slack.add_user(UNMAPPED, "erin", email="erin@erin-home.example")
        environment = {
            "NEEDLE_DATA_DIR": str(root / "data"),
            "NEEDLE_CONNECTOR_DRIVE_SERVICE_ACCOUNT_FILE": str(key_file),
            **slack_environment(slack),
        }
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.chdir(root)  # no stray .env
        get_settings.cache_clear()
        service = NeedleService(get_settings())
        assert isinstance(service.connectors.people, SlackPeople)
        config = {
            "folders": "fold-policies",
            "drives": "drive-eng",
            "domain": DOMAIN,
            "api_root": url,
            "admin_email": "admin@acme.example",
        }
        service.connectors.create("gdrive", "drive", config)
        run = service.connectors.sync("drive")
        assert (run.status, run.added) == ("succeeded", 8), (run.error, run.failures)
        salaries = connector_source_id("drive", "doc-salaries")
        audience = {s.source_id: s.audience for s in service.list_sources()}[salaries]
        assert audience == [f"user:{u}" for u in ("U0BOB", "U0CAROL", MEMBER)]
        assert service.connectors.show("drive").unmapped["erin@acme.example"] == 1
        yield SweptDrive(service, slack, environment, salaries)
        service.close()
    get_settings.cache_clear()


@pytest.fixture
def swept(shared_drive: SweptDrive, monkeypatch: pytest.MonkeyPatch) -> SweptDrive:
    set_environment(shared_drive.environment, monkeypatch)
    return shared_drive


@pytest.mark.slow
def test_the_leak_sweep_through_the_slack_bot(swept: SweptDrive, caplog: pytest.LogCaptureFixture) -> None:
    """DMs and a channel mention through the real Bolt app: only the HR member's DM carries the fact."""
    sweep_bot(
        swept.service,
        swept.slack,
        caplog,
        question=QUESTION,
        fact=FACT,
        tells=[*SECRET_MARKERS, swept.salaries, "doc-salaries"],
        granted=[Probe("DM, member", MEMBER)],
        denied=[
            Probe("DM, outsider", OUTSIDER),
            Probe("DM, unmapped", UNMAPPED),
            Probe("DM, unknown", "U0NOBODY"),
            Probe("mention in #general by the member", MEMBER, "C0GENERAL"),  # read by the whole channel
        ],
    )


@pytest.mark.slow
def test_the_leak_sweep_through_the_console_view_as(swept: SweptDrive) -> None:
    """The debugger's "View as" the member, the outsider, the unmapped user and a channel."""
    sweep_console(
        swept.service,
        question=QUESTION,
        fact=FACT,
        tells=[*SECRET_MARKERS, "doc-salaries"],
        restricted={swept.salaries},
        granted=[(MEMBER, "")],
        denied=[(OUTSIDER, ""), (UNMAPPED, ""), (MEMBER, "C0GENERAL")],
    )

"""``needle connectors ...`` driven through ``cli.main`` over a real service and a real directory tree.

The service is built once per test and handed to the commands (``common.service`` is what every command
calls), so the commands run the real manager, engine, pipelines and model without reloading them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.cli import common
from pipelines.connectors.base import ConnectorError
from pipelines.connectors.sync import connector_source_id
from pipelines.service import NeedleService
from tests.connectors.conftest import Doc, ScriptedConnector


@pytest.fixture
def needle(service: NeedleService, monkeypatch: pytest.MonkeyPatch) -> NeedleService:
    """Commands run against ``service``, as the login ``alice``."""
    monkeypatch.setattr(common, "service", lambda: service)
    monkeypatch.setattr(common, "writable_service", lambda: service)
    monkeypatch.setattr(common, "whoami", lambda: "alice")
    monkeypatch.setattr(common, "records_only", lambda: (service.channels, service.audit))
    return service


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()  # what earlier commands printed
    assert cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The command exits 1 with one sentence on stderr; the sentence."""
    capsys.readouterr()
    assert cli.main(list(argv)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("needle: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.slow  # several real syncs (embedding), over 1.5 s
def test_add_sync_list_show_over_a_folder(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["connectors", "add", "folder", "hr-share", "--set", f"path={share}", "--every", "30m"]
    assert cli.main(argv) == 0
    assert "added folder connector hr-share, syncing every 30m" in capsys.readouterr().out

    assert cli.main(["connectors", "sync", "hr-share"]) == 0
    out = capsys.readouterr()
    assert "succeeded: 2 added, 0 changed, 0 unchanged, 0 removed, 0 failed" in out.out
    assert out.err == ""  # no progress bar when stderr is not a terminal

    (share / "hr" / "leave-policy.md").write_text("# Leave policy\n\nNow 30 days of paid leave a year.\n")
    (share / "it" / "vpn.txt").unlink()
    run = _json(capsys, "connectors", "sync", "hr-share")
    assert isinstance(run, dict)
    assert (run["status"], run["changed"], run["removed"], run["actor"]) == ("succeeded", 1, 1, "alice")

    listed = _json(capsys, "connectors", "list")
    assert isinstance(listed, list) and [c["config"]["name"] for c in listed] == ["hr-share"]
    assert listed[0]["documents"] == 1 and listed[0]["config"]["interval"] == 1800
    assert cli.main(["connectors", "list"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split()[:5] == ["hr-share", "folder", "30m", "1", "succeeded"]

    assert cli.main(["connectors", "show", "hr-share"]) == 0
    shown = capsys.readouterr().out
    assert f"path:         {share}" in shown and "every:        30m" in shown
    assert "next run:" in shown and "UTC (in 30 min)" in shown
    rows = [line.split() for line in shown.split("Last syncs:")[1].splitlines()[2:]]
    # Newest first: STATUS ADDED CHANGED SAME REMOVED FAILED after the date and time.
    assert [row[3:9] for row in rows] == [
        ["succeeded", "0", "1", "0", "1", "0"],
        ["succeeded", "2", "0", "0", "0", "0"],
    ]


@pytest.mark.slow  # several real syncs (embedding), over 1.5 s
def test_show_says_the_error_the_failed_documents_and_which_secrets_are_set(
    needle: NeedleService,
    scripted: type[ScriptedConnector],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scripted, "secret_settings", {"api_token": "the wiki's API token"})
    monkeypatch.setenv("NEEDLE_CONNECTOR_WIKI_API_TOKEN", "s3cret-value-xyz")
    scripted.docs = {"a": Doc("# A\n\nAlpha text."), "b": Doc("# B\n\nBeta text.")}
    scripted.script = {"fetch_errors": {"b": ConnectorError("the page answered 403", document_id="b")}}
    assert cli.main(["connectors", "add", "scripted", "wiki", "--set", "site=x"]) == 0
    assert cli.main(["connectors", "sync", "wiki"]) == 1  # partial: a document failed
    out = capsys.readouterr()
    assert "partial: 1 added" in out.out and "1 failed" in out.out
    assert "the page answered 403" in out.err

    assert cli.main(["connectors", "show", "wiki"]) == 0
    shown = capsys.readouterr().out
    assert "secret api_token: set" in shown and "s3cret-value-xyz" not in shown
    assert "Documents the last sync could not index:" in shown and "the page answered 403" in shown
    assert "s3cret" not in json.dumps(_json(capsys, "connectors", "show", "wiki"))

    monkeypatch.delenv("NEEDLE_CONNECTOR_WIKI_API_TOKEN")
    scripted.script = {"listing_fails_after": 1}
    assert cli.main(["connectors", "sync", "wiki"]) == 1
    capsys.readouterr()
    assert cli.main(["connectors", "show", "wiki"]) == 0
    shown = capsys.readouterr().out
    assert "secret api_token: MISSING (set NEEDLE_CONNECTOR_WIKI_API_TOKEN)" in shown
    assert "last error:   " in shown and "503" in shown and "nothing was removed" in shown


def test_errors_are_one_sentence_and_exit_1(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = _fails(capsys, "connectors", "add", "ftp", "x")
    assert "no connector of kind 'ftp' (known: " in unknown
    assert all(kind in unknown for kind in ("folder", "web", "slack", "confluence", "gdrive", "notion"))
    assert "need --set path=" in _fails(capsys, "connectors", "add", "folder", "x")
    assert "not a duration" in _fails(
        capsys, "connectors", "add", "folder", "x", "--set", f"path={share}", "--every", "soon"
    )
    assert "--set takes key=value" in _fails(capsys, "connectors", "add", "folder", "x", "--set", "path")
    assert "not a connector name" in _fails(
        capsys, "connectors", "add", "folder", "Bad Name", "--set", f"path={share}"
    )
    for action in ("show", "sync", "pause", "resume", "confirm", "dismiss", "remove"):
        extra = ["--keep-sources"] if action == "remove" else []
        assert "no connector named 'nope'" in _fails(capsys, "connectors", action, "nope", *extra)
    assert needle.connectors.list() == []


def test_pause_resume_and_a_paused_sync_is_refused(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["connectors", "add", "folder", "share", "--set", f"path={share}"]) == 0
    assert cli.main(["connectors", "pause", "share"]) == 0
    assert "is paused; resume it first" in _fails(capsys, "connectors", "sync", "share")
    assert "is paused" in _fails(capsys, "connectors", "sync", "share", "--background")
    assert _json(capsys, "connectors", "list")[0]["next_run"] is None  # type: ignore[index]
    assert cli.main(["connectors", "resume", "share"]) == 0
    assert "next run: due now" in capsys.readouterr().out
    actions = [entry.action for entry in needle.audit.entries(limit=20)]
    assert {"connector.add", "connector.pause", "connector.resume"} <= set(actions)


@pytest.mark.slow  # several real syncs (embedding), over 1.5 s
def test_a_connectors_source_cannot_be_deleted_by_hand(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["connectors", "add", "folder", "share", "--set", f"path={share}"]) == 0
    assert cli.main(["connectors", "sync", "share"]) == 0
    sources = _json(capsys, "sources")
    assert isinstance(sources, list) and {s["connector"] for s in sources} == {"share"}
    source_id = connector_source_id("share", "it/vpn.txt")
    err = _fails(capsys, "delete", source_id)
    assert "managed by connector 'share'; remove or reconfigure the connector" in err
    assert len(needle.list_sources()) == 2


@pytest.mark.slow  # several real syncs (embedding), over 1.5 s
def test_remove_asks_keep_or_delete_and_refuses_to_guess_without_a_terminal(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        assert cli.main(["connectors", "add", "folder", name, "--set", f"path={share}"]) == 0
    assert cli.main(["connectors", "sync", "one"]) == 0
    capsys.readouterr()

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert "--keep-sources" in _fails(capsys, "connectors", "remove", "one")
    assert [c.config.name for c in needle.connectors.list()] == ["one", "two"]

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["maybe", "c"])
    monkeypatch.setattr("builtins.input", lambda question: next(answers))
    assert cli.main(["connectors", "remove", "one"]) == 0
    assert "nothing removed" in capsys.readouterr().out
    answers = iter(["d"])
    assert cli.main(["connectors", "remove", "one"]) == 0
    assert "removed connector one; 2 sources deleted" in capsys.readouterr().out
    assert needle.list_sources() == []

    assert cli.main(["connectors", "sync", "two"]) == 0
    removed = _json(capsys, "connectors", "remove", "two", "--keep-sources")
    assert removed == {"connector": "two", "sources": 2, "sources_deleted": False}
    kept = needle.list_sources()
    assert len(kept) == 2 and {source.connector for source in kept} == {None}
    assert cli.main(["delete", kept[0].source_id]) == 0  # an ordinary source again


@pytest.mark.slow  # several real syncs (embedding), over 1.5 s
def test_a_shrunken_listing_waits_for_confirm_or_dismiss(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(3):
        (share / "hr" / f"note-{number}.md").write_text(f"# Note {number}\n\nMemo number {number}.\n")
    assert cli.main(["connectors", "add", "folder", "share", "--set", f"path={share}"]) == 0
    assert cli.main(["connectors", "sync", "share"]) == 0
    for number in range(3):
        (share / "hr" / f"note-{number}.md").unlink()
    assert cli.main(["connectors", "sync", "share"]) == 0
    out = capsys.readouterr()
    assert "needs-confirmation" in out.out and "confirm or dismiss" in out.err
    assert cli.main(["connectors", "show", "share"]) == 0
    shown = capsys.readouterr().out
    assert (
        "NEEDS CONFIRMATION: The last sync of 'share' listed 2 documents where the last good sync saw 5"
        in (shown)
    )
    assert "remove the 3 documents" in shown
    assert cli.main(["connectors", "dismiss", "share"]) == 0
    assert len(needle.list_sources()) == 5
    assert "has no sync awaiting confirmation" in _fails(capsys, "connectors", "confirm", "share")
    assert cli.main(["connectors", "sync", "share"]) == 0
    assert _json(capsys, "connectors", "confirm", "share") == {"connector": "share", "removed": 3}
    assert len(needle.list_sources()) == 2


@pytest.mark.slow  # a real sync through the worker, over 1.5 s
def test_sync_in_the_background_is_a_job_a_worker_runs(
    needle: NeedleService, share: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["connectors", "add", "folder", "share", "--set", f"path={share}", "--every", "1h"]) == 0
    job = _json(capsys, "connectors", "sync", "share", "--background")
    assert isinstance(job, dict) and (job["kind"], job["status"]) == ("sync", "queued")
    assert "queued or running already" in _fails(capsys, "connectors", "sync", "share", "--background")
    listed = _json(capsys, "jobs", "list")
    assert [(j["job_id"], j["file_name"]) for j in listed] == [(job["job_id"], "sync of share")]  # type: ignore[union-attr]

    finished = needle.ingest_worker().run_once()
    assert finished is not None and finished.job_id == job["job_id"]
    assert (finished.status, finished.result["added"], finished.submitted_by) == ("done", 2, "alice")  # type: ignore[index]
    assert needle.connectors.show("share").runs[0].actor == "alice"
    assert len(needle.list_sources()) == 2

"""The Connectors tab's handlers over a real service: what an editor does, what a viewer may, and that
a connector's sources are read-only in the Sources tab."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest

from admin.jobs import IndexingJobs
from admin.render import md_text, source_rows
from admin.roles import required_role
from admin.tabs.connectors import ConnectorsActions
from admin.tabs.sources import SourcesActions
from pipelines.records.answers import SourceInfo
from pipelines.service.facade import NeedleService


@dataclass
class Request:
    """What the handlers read of Gradio's request: the signed-in account."""

    username: str


ED = Request("ed")


@pytest.fixture
def tab(service_factory: Callable[..., NeedleService]) -> ConnectorsActions:
    return ConnectorsActions(service_factory())


def _tree(tmp_path: Path, count: int) -> Path:
    root = tmp_path / "share"
    root.mkdir(exist_ok=True)
    for number in range(count):
        (root / f"memo-{number}.md").write_text(f"# Memo {number}\n\nThe memo number {number}.\n")
    return root


def test_an_editor_adds_queues_pauses_and_removes_and_each_change_is_audited(
    tab: ConnectorsActions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, 1)
    message, rows, detail, history = tab.add("folder", "hr-share", f"path={root}\n", "2h", "", ED)  # type: ignore[arg-type]
    assert "Added **hr\\-share**, syncing every 2h" in message and history == []
    assert rows == [["hr-share", "folder", "2h", 0, "never synced", rows[0][5], "", "everyone"]]
    assert f"**path**: {md_text(str(root))}" in detail and "**documents**: 0" in detail

    with pytest.raises(gr.Error, match="not a duration"):
        tab.add("folder", "other", f"path={root}", "soon", "", ED)  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="one key=value per line"):
        tab.add("folder", "other", "path", "", "", ED)  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="exists already"):
        tab.add("folder", "hr-share", f"path={root}", "", "", ED)  # type: ignore[arg-type]

    message, *_ = tab.sync_now("hr-share", ED)  # type: ignore[arg-type]
    assert "Queued a sync of **hr\\-share** as job" in message
    job = tab.service.jobs.active_sync("hr-share")
    assert job is not None and (job.kind, job.submitted_by) == ("sync", "ed")
    with pytest.raises(gr.Error, match="queued or running already"):
        tab.sync_now("hr-share", ED)  # type: ignore[arg-type]

    message, rows, detail, _ = tab.pause("hr-share", ED)  # type: ignore[arg-type]
    assert rows[0][4] == "paused" and "**next run**: paused" in detail
    tab.resume("hr-share", ED)  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="Pick a connector first"):
        tab.pause("", ED)  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="keep or delete its sources"):
        tab.remove("hr-share", None, ED)  # type: ignore[arg-type]
    message, rows, detail, history = tab.remove("hr-share", "keep", ED)  # type: ignore[arg-type]
    assert "Removed **hr\\-share**" in message and rows == [] and detail == ""

    entries = tab.service.audit.entries(actor="ed")
    assert {e.action for e in entries} >= {
        "connector.add",
        "connector.sync",
        "connector.pause",
        "connector.resume",
        "connector.remove",
    }


def test_details_say_which_secrets_are_set_never_their_values(
    tab: ConnectorsActions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.connectors.folder import FolderConnector

    monkeypatch.setattr(FolderConnector, "secret_settings", {"token": "a share token"})
    monkeypatch.setenv("NEEDLE_CONNECTOR_SHARE_TOKEN", "hunter2-secret")
    tab.add("folder", "share", f"path={_tree(tmp_path, 1)}", "", "", ED)  # type: ignore[arg-type]
    detail, _ = tab.show("share")
    assert "secret **token**: set" in detail and "hunter2" not in detail
    monkeypatch.delenv("NEEDLE_CONNECTOR_SHARE_TOKEN")
    detail, _ = tab.show("share")
    assert "missing (set `NEEDLE_CONNECTOR_SHARE_TOKEN`)" in detail


def test_viewers_read_and_editors_change() -> None:
    for handler in ("listing", "show", "select_row"):
        assert required_role(f"ConnectorsActions.{handler}") == "viewer"
    for handler in ("add", "sync_now", "pause", "resume", "confirm", "dismiss", "remove"):
        assert required_role(f"ConnectorsActions.{handler}") == "editor"


def test_the_sources_table_marks_a_connectors_source_read_only() -> None:
    common = dict(
        title="T",
        file_name="t.md",
        file_type="md",
        url=None,
        tags=[],
        chunks=1,
        size_bytes=3,
        uploaded_by="connector:share",
        indexed_at="2026-12-07T10:00:00+00:00",
        source_hash="h",
    )
    synced = SourceInfo(source_id="a", connector="share", **common)  # type: ignore[arg-type]
    uploaded = SourceInfo(source_id="b", **{**common, "uploaded_by": "alice"})  # type: ignore[arg-type]
    assert source_rows([synced, uploaded])[0][7] == "🔗 connector share (read-only)"
    assert source_rows([synced, uploaded])[1][7] == "alice"


@pytest.mark.slow  # real syncs (embedding several documents)
def test_the_needs_confirmation_prompt_shows_the_counts_and_confirm_removes(
    tab: ConnectorsActions, tmp_path: Path
) -> None:
    root = _tree(tmp_path, 4)
    tab.add("folder", "share", f"path={root}", "", "", ED)  # type: ignore[arg-type]
    tab.service.connectors.sync("share", actor="ed")
    for number in range(1, 4):
        (root / f"memo-{number}.md").unlink()
    tab.service.connectors.sync("share", actor="ed")
    detail, history = tab.show("share")
    assert "Needs confirmation." in detail and "listed 1 document where the last good sync saw 4" in detail
    assert [row[1] for row in history] == ["needs-confirmation", "succeeded"]
    assert history[1][2:7] == [4, 0, 0, 0, 0]
    assert tab.listing()[0][4] == "needs confirmation"
    message, rows, detail, _ = tab.confirm("share", ED)  # type: ignore[arg-type]
    assert "removed 3 documents" in message and rows[0][3] == 1 and "Needs confirmation" not in detail
    # The Sources tab refuses to delete it, with the reason.
    sources = SourcesActions(tab.service, IndexingJobs())
    source = tab.service.list_sources()[0]
    with pytest.raises(gr.Error, match="managed by connector 'share'; remove or reconfigure"):
        sources.delete(source.source_id, ED)  # type: ignore[arg-type]
    assert len(tab.service.list_sources()) == 1


def test_the_jobs_panel_counts_a_sync_in_documents() -> None:
    from admin.tabs.jobs import job_notes, job_progress
    from pipelines.records.jobs import Job

    running = Job("j1", "sync of share", "running", 0.0, {"connector": "share"}, done=3, total=8, kind="sync")
    assert job_progress(running) == "3 of 8 documents"
    result = {"status": "succeeded", "listed": 8, "added": 2, "changed": 1, "unchanged": 5}
    done = Job("j1", "sync of share", "done", 0.0, {"connector": "share"}, result=result, kind="sync")
    assert job_progress(done) == "8 documents"
    assert job_notes(done) == "2 added, 1 changed, 5 unchanged, 0 removed, 0 failed"


def test_a_viewer_gets_counts_not_the_names_of_failed_documents_or_principals(tmp_path: Path) -> None:
    from admin.tabs.connectors import details
    from pipelines.connectors.manager import ConnectorStatus
    from pipelines.connectors.state import ConnectorConfig, FailedDocument, SyncRun

    run = SyncRun(
        "r1",
        "wiki",
        0.0,
        status="partial",
        failed=1,
        failures=[FailedDocument("p1", "Layoffs 2027 plan", "the page answered 403")],
    )
    status = ConnectorStatus(
        config=ConnectorConfig("wiki", "scripted", {"site": "x"}),
        documents=3,
        last_run=run,
        next_run=None,
        needs_confirmation=None,
        runs=[run],
        unmapped={"ceo@example.com": 2},
    )
    full, read_only = details(status), details(status, full=False)
    assert "Layoffs 2027 plan" in full and "ceo@example\\.com" in full
    assert "Layoffs" not in read_only and "ceo@" not in read_only
    assert "could not index**: 1" in read_only and "unmapped principals**: 1" in read_only

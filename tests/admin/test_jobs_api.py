"""Background ingest jobs through the console's endpoints: queue an upload, follow it, cancel, retry.

The worker runs in the test (``service.ingest_worker().run_once()``), as ``needle serve``'s worker thread
or ``needle worker`` would, so what the request did and what the worker did stay apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from admin.tabs.jobs import JOB_HEADERS
from pipelines.samples import handbook_dir
from tests.admin.conftest import Console

HANDBOOK = handbook_dir()
PASSWORD = "a long enough password"
STATUS, PROGRESS, BY, NOTES = (
    JOB_HEADERS.index(name) for name in ("Status", "Progress", "Submitted by", "Notes")
)


@pytest.fixture(scope="module")
def jobs_console(console_factory: Callable[..., Console]) -> Console:
    console = console_factory()
    console.service.accounts.add("ed", PASSWORD, "editor", actor="test")
    console.service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    return console


@pytest.fixture(scope="module")
def editor(jobs_console: Console) -> Iterator[Client]:
    client = Client(jobs_console.url, auth=("ed", PASSWORD), verbose=False)
    yield client
    client.close()


@pytest.fixture(scope="module")
def viewer(jobs_console: Console) -> Iterator[Client]:
    client = Client(jobs_console.url, auth=("vera", PASSWORD), verbose=False)
    yield client
    client.close()


def _queue(client: Client, paths: list[Path], title: str = "", tags: str = "") -> tuple[list[str], str]:
    """Upload in the background; the new job ids (from the results' notes) and the status line."""
    files = [handle_file(str(path)) for path in paths]
    results, summary = client.predict(files, title, "", tags, "report", "", api_name="/upload_background")
    notes = [row[3] for row in results["data"]]
    return [note.split()[-1] for note in notes if note.startswith("background job")], summary


def _jobs(client: Client) -> dict[str, list[Any]]:
    """The jobs panel's listing, by job id (the last column)."""
    table, _timer = client.predict(api_name="/list_jobs")
    return {row[-1]: row for row in table["data"]}


def test_a_background_upload_is_queued_at_once_then_indexed_by_a_worker(
    jobs_console: Console, editor: Client, viewer: Client
) -> None:
    service = jobs_console.service
    (job_id,), summary = _queue(editor, [HANDBOOK / "leave-policy.md"], title="Leave", tags="HR, policies")

    assert f"`{job_id}`" in summary and "Background jobs" in summary
    assert service.list_sources() == []  # nothing indexed in the request
    row = _jobs(viewer)[job_id]  # viewers follow jobs too
    assert (row[0], row[STATUS], row[PROGRESS], row[BY]) == (
        "leave-policy.md",
        "⏳ queued",
        "waiting for a worker",
        "ed",
    )

    finished = service.ingest_worker().run_once()
    assert finished is not None and finished.job_id == job_id

    row = _jobs(viewer)[job_id]
    (source,) = service.list_sources()
    assert row[STATUS] == "✅ done"
    assert row[PROGRESS] == f"{source.chunks} chunks"
    assert source.source_id in row[NOTES]
    # The options the direct upload passes reached the worker: title, tags, the console user.
    assert (source.title, source.tags, source.uploaded_by) == ("Leave", ["hr", "policies"], "ed")
    table, *_ = viewer.predict(api_name="/list_sources")
    assert [r[-1] for r in table["data"]] == [source.source_id]


def test_cancel_retry_and_failures_through_the_endpoints(
    jobs_console: Console, editor: Client, viewer: Client, tmp_path: Path
) -> None:
    service = jobs_console.service
    with pytest.raises(AppError, match="one document"):  # the form is checked before anything is queued
        _queue(editor, [HANDBOOK / "it-setup-guide.md", HANDBOOK / "performance-reviews.txt"], title="Two")
    corrupt = tmp_path / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.7\nthis is not really a pdf\n")
    (job_id, broken_id), _ = _queue(editor, [HANDBOOK / "it-setup-guide.md", corrupt])
    before = len(service.jobs.list())

    with pytest.raises(AppError, match="needs the editor role"):
        viewer.predict(job_id, api_name="/cancel_job")
    assert service.jobs.get(job_id).status == "queued"  # the viewer changed nothing

    message, table, _timer = editor.predict(job_id, api_name="/cancel_job")
    assert "Cancelled" in message
    assert {row[-1]: row for row in table["data"]}[job_id][STATUS] == "🚫 cancelled"
    with pytest.raises(AppError, match="only queued or running jobs can be cancelled"):
        editor.predict(job_id, api_name="/cancel_job")
    with pytest.raises(AppError, match="Pick a job"):
        editor.predict("", api_name="/cancel_job")

    failed = service.ingest_worker().run_once()  # the cancelled job is skipped: the broken one runs
    assert failed is not None and failed.job_id == broken_id
    row = _jobs(editor)[broken_id]
    assert row[STATUS] == "❌ failed" and row[NOTES]  # the reason, for the admin to act on

    message, *_ = editor.predict(job_id, api_name="/retry_job")
    assert "queued again" in message
    assert _jobs(editor)[job_id][STATUS] == "⏳ queued"
    assert service.ingest_worker().run_once().status == "done"
    assert _jobs(editor)[job_id][STATUS] == "✅ done"
    with pytest.raises(AppError, match="only failed or cancelled jobs can be retried"):
        editor.predict(job_id, api_name="/retry_job")
    assert len(service.jobs.list()) == before  # a retry reuses its job; nothing was queued twice

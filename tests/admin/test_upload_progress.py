"""The upload's progress bar: each figure beside its own count (issue 22.19: the batch's percentage was
printed next to one file's chunk count)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from admin.jobs import IndexingJobs
from admin.tabs.sources import SourcesActions
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK


class RecordedProgress:
    """Stands where Gradio's ``gr.Progress`` goes and keeps every report."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, str | None, str | None]] = []

    def __call__(self, progress: Any, desc: str | None = None, unit: str = "steps", **_: Any) -> None:
        self.calls.append((progress, desc, unit))


def test_progress_counts_files_then_each_files_chunks(service_factory: Callable[..., NeedleService]) -> None:
    service = service_factory()
    actions = SourcesActions(service, IndexingJobs())
    progress = RecordedProgress()
    paths = [str(HANDBOOK / "leave-policy.md"), str(HANDBOOK / "it-setup-guide.md")]
    steps = list(actions.upload(paths, "", "", "", "report", "", None, progress))  # type: ignore[arg-type]
    assert "2 indexed." in steps[-1][1]
    chunk_reports = [call for call in progress.calls if call[2] == "chunks"]
    assert chunk_reports and all(isinstance(call[0], tuple) for call in chunk_reports)
    for (done, count), desc, _unit in chunk_reports:
        assert 0 <= done <= count
        assert desc and desc.startswith(("File 1 of 2, leave-policy.md", "File 2 of 2, it-setup-guide.md"))
    last = [call[0] for call in chunk_reports if call[1].startswith("File 2 of 2")][-1]
    assert last[0] == last[1]  # the second file's chunks, all embedded
    files = [call for call in progress.calls if call[2] == "files"]
    assert [call[0] for call in files] == [(0, 2), (1, 2)]
    # No fraction of the batch is ever reported beside a file's chunk count.
    assert not [call for call in progress.calls if isinstance(call[0], float) and "chunk" in (call[1] or "")]

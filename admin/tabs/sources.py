"""Sources tab: upload files, see what is indexed, delete or re-index a source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from admin import render
from admin.jobs import INDEXING_QUEUE, IndexingJobs
from admin.tabs.tables import readonly_table
from pipelines.answers import IngestResult
from pipelines.errors import NeedleError
from pipelines.file_inspector import SUPPORTED_EXTENSIONS
from pipelines.service import NeedleService


@dataclass
class SourcesTab:
    """The components other tabs refresh when sources change."""

    table: gr.Dataframe
    selected: gr.Dropdown
    refresh: Callable[[], tuple[list[list[Any]], gr.Dropdown]]


class SourcesActions:
    """The tab's event handlers: each a few lines around one call to the core."""

    def __init__(self, service: NeedleService, jobs: IndexingJobs) -> None:
        self.service = service
        self.jobs = jobs

    def refresh(self) -> tuple[list[list[Any]], gr.Dropdown]:
        sources = self.service.list_sources()
        return render.source_rows(sources), gr.Dropdown(choices=render.source_choices(sources))

    def announce_upload(self, files: list[str] | None) -> str:
        if not files:
            raise gr.Error("Choose one or more files to upload first.")
        return self.jobs.status(f"Your upload of {len(files)} file(s)")

    def announce_job(self, source_id: str | None) -> str:
        _require_source(source_id)
        return self.jobs.status("Your request")

    def upload(
        self,
        files: list[str] | None,
        title: str,
        url: str,
        tags: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way to get a progress bar
    ) -> tuple[list[list[Any]], str, list[list[Any]], gr.Dropdown]:
        """Index every file; one bad file is reported and skipped, never blocks the others."""
        if not files:
            raise gr.Error("Choose one or more files to upload first.")
        if len(files) > 1 and (title.strip() or url.strip()):
            raise gr.Error(
                "A title or URL describes one document: upload files one at a time to give each its own "
                "title or URL (tags apply to every file)."
            )
        user = request.username if request else None
        results: list[IngestResult] = []
        with self.jobs.running(f"indexing {len(files)} file(s)", user):
            for number, path in enumerate(files):
                name = Path(path).name
                progress(number / len(files), desc=f"Indexing {name} ({number + 1} of {len(files)})")
                try:
                    results.append(
                        self.service.ingest_file(
                            path,
                            title=title,
                            url=url,
                            tags=render.parse_tags(tags) or None,  # none typed: keep the source's own
                            uploaded_by=user,
                        )
                    )
                except NeedleError as error:  # the store failed: this file is not indexed, say why
                    results.append(IngestResult(name, "rejected", reason=str(error)))
            progress(1.0, desc="Done")
        table, dropdown = self.refresh()
        return render.ingest_rows(results), _summary(results), table, dropdown

    def ask_delete(self, source_id: str | None) -> tuple[gr.Group, str]:
        source = self._source(source_id)
        message = (
            f"Delete **{render.md_text(source.title)}** ({render.md_text(source.file_name)}, "
            f"{source.chunks} chunks)? Answers will no longer cite it. This cannot be undone."
        )
        return gr.Group(visible=True), message

    def cancel_delete(self) -> gr.Group:
        return gr.Group(visible=False)

    def delete(
        self, source_id: str | None, request: gr.Request
    ) -> tuple[gr.Group, str, list[list[Any]], gr.Dropdown]:
        source_id = _require_source(source_id)
        user = request.username if request else None
        with self.jobs.running(f"deleting {source_id}", user):
            removed = _call(self.service.delete_source, source_id)
        table, dropdown = self.refresh()
        return (
            gr.Group(visible=False),
            f"🗑️ Deleted `{source_id}` ({removed} chunks).",
            table,
            gr.Dropdown(choices=dropdown.choices, value=None),
        )

    def reindex(self, source_id: str | None, request: gr.Request) -> tuple[str, list[list[Any]], gr.Dropdown]:
        source_id = _require_source(source_id)
        user = request.username if request else None
        with self.jobs.running(f"re-indexing {source_id}", user):
            result = _call(self.service.reindex_source, source_id)
        table, dropdown = self.refresh()
        return _summary([result]), table, dropdown

    def select_row(self, event: gr.SelectData) -> str | None:
        """Clicking a row of the table picks that source for delete, re-index and the Chunks tab."""
        row = event.row_value or []
        return row[-1] if row else None

    def _source(self, source_id: str | None) -> Any:
        source_id = _require_source(source_id)
        for source in self.service.list_sources():
            if source.source_id == source_id:
                return source
        raise gr.Error(f"No source with id {source_id!r}; it may have been deleted. Refresh the list.")


def _require_source(source_id: str | None) -> str:
    if not source_id:
        raise gr.Error("Pick a source first (click a row of the table or use the list).")
    return source_id


def _call(method: Any, *args: Any) -> Any:
    """Run a core call, turning its person-readable errors into a message on the page."""
    try:
        return method(*args)
    except NeedleError as error:
        raise gr.Error(str(error)) from None


def _summary(results: list[IngestResult]) -> str:
    counts = {
        status: sum(r.status == status for r in results) for status in ("indexed", "unchanged", "rejected")
    }
    parts = [f"{count} {status}" for status, count in counts.items() if count]
    icon = "✅" if not counts["rejected"] else ("⚠️" if counts["rejected"] < len(results) else "❌")
    text = f"{icon} {', '.join(parts)}."
    if counts["rejected"]:
        text += " Rejected files were not indexed and the index is as it was for them; see the reasons below."
    return text


def build_sources_tab(service: NeedleService, jobs: IndexingJobs) -> SourcesTab:
    actions = SourcesActions(service, jobs)
    extensions = sorted(SUPPORTED_EXTENSIONS)
    limit_mb = service.settings.max_upload_mb
    with gr.Tab("Sources", id="sources") as tab:
        gr.Markdown(
            f"Upload documents for Needle to answer from ({', '.join(extensions)}; "
            f"at most {limit_mb:g} MB each). Uploading a file with the same name again replaces that "
            "source. One indexing job runs at a time: if another admin is indexing, your job waits and "
            "this page says so."
        )
        with gr.Row():
            with gr.Column(scale=2):
                files = gr.File(
                    label="Files",
                    file_count="multiple",
                    file_types=extensions,
                    type="filepath",
                    elem_id="upload-files",
                )
            with gr.Column(scale=1):
                title = gr.Textbox(label="Title (optional, one file only)", max_lines=1)
                url = gr.Textbox(label="URL (optional, one file only)", max_lines=1, placeholder="https://…")
                tags = gr.Textbox(
                    label="Tags (optional, comma-separated)", max_lines=1, placeholder="hr, policies"
                )
                upload_button = gr.Button("Upload and index", variant="primary")
        status = gr.Markdown(elem_id="upload-status")
        results = readonly_table(render.INGEST_HEADERS, "upload-results", "Upload results")

        gr.Markdown("### Indexed sources")
        table = readonly_table(render.SOURCE_HEADERS, "sources-table", "Sources (click a row to pick it)")
        with gr.Row():
            selected = gr.Dropdown(
                label="Source", choices=[], scale=3, allow_custom_value=True, elem_id="source-picker"
            )
            refresh_button = gr.Button("Refresh", scale=1)
            reindex_button = gr.Button("Re-index", scale=1)
            delete_button = gr.Button("Delete…", variant="stop", scale=1)
        with gr.Group(visible=False) as confirm_box:
            confirm_text = gr.Markdown()
            with gr.Row():
                confirm_button = gr.Button("Yes, delete it", variant="stop")
                cancel_button = gr.Button("Cancel")
        action_status = gr.Markdown(elem_id="source-action-status")

    upload_button.click(actions.announce_upload, [files], [status], api_visibility="private").success(
        actions.upload,
        [files, title, url, tags],
        [results, status, table, selected],
        api_name="upload",
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    tab.select(actions.refresh, None, [table, selected], api_visibility="private")
    refresh_button.click(actions.refresh, None, [table, selected], api_name="list_sources")
    table.select(actions.select_row, None, [selected], api_visibility="private")
    delete_button.click(actions.ask_delete, [selected], [confirm_box, confirm_text], api_visibility="private")
    cancel_button.click(actions.cancel_delete, None, [confirm_box], api_visibility="private")
    confirm_button.click(actions.announce_job, [selected], [action_status], api_visibility="private").success(
        actions.delete,
        [selected],
        [confirm_box, action_status, table, selected],
        api_name="delete_source",
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    reindex_button.click(actions.announce_job, [selected], [action_status], api_visibility="private").success(
        actions.reindex,
        [selected],
        [action_status, table, selected],
        api_name="reindex_source",
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    return SourcesTab(table=table, selected=selected, refresh=actions.refresh)

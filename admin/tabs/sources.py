"""Sources tab: upload files (indexed now or queued as background jobs), see what is indexed and who may
see it, delete or re-index a source, follow and cancel background jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from admin import render
from admin.jobs import INDEXING_QUEUE, IndexingJobs
from admin.roles import session_view
from admin.tabs.jobs import JobsPanel, build_jobs_panel
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.base.sizes import format_size, upload_limit_bytes
from pipelines.indexing.file_inspector import SUPPORTED_EXTENSIONS
from pipelines.indexing.sources import ConflictPolicy
from pipelines.records.answers import IngestResult
from pipelines.records.audience import describe as describe_audience
from pipelines.records.audience import parse_audience
from pipelines.service.facade import NeedleService
from pipelines.text.basics import counted

#: The upload form's choice for a file named like an indexed document whose content differs.
CONFLICT_CHOICES = [
    ("Ask me", "report"),
    ("Replace", "replace"),
    ("Keep both", "keep_both"),
]


@dataclass
class SourcesTab:
    """The components other tabs refresh when sources change."""

    table: gr.Dataframe
    selected: gr.Dropdown
    refresh: Callable[[], tuple[dict[str, Any], gr.Dropdown, str]]
    jobs: JobsPanel


@dataclass
class PendingFile:
    """An uploaded file held back by a name conflict until the admin decides (kept in the session)."""

    path: str
    file_name: str
    reason: str


class SourcesActions:
    """The tab's event handlers: each a few lines around calls to the core."""

    def __init__(self, service: NeedleService, jobs: IndexingJobs) -> None:
        self.service = service
        self.jobs = jobs

    def refresh(self) -> tuple[dict[str, Any], gr.Dropdown, str]:
        """The sources table, the source picker and the page header's counts, as they are now (a viewer's
        account sees and counts the sources for everyone only)."""
        view = session_view(self.service)
        sources = view.sources()
        answering = self.service.llm_status.headline()
        overview = render.overview_line(view.stats(), self.service.backend.kind, answering)
        return render.source_table(sources), gr.Dropdown(choices=render.source_choices(sources)), overview

    def _may_see_source(self) -> Callable[[str], bool]:
        """Whether the signed-in account may see a source, for the "waiting for another job" line: a
        viewer is not told the id of a restricted source another admin is deleting."""
        return session_view(self.service).may_see_source

    # A change runs in three steps: a check with no outputs (its refusal, the role's included, is a
    # toast and leaves no red badge or "starting…" on a line), the announcement of whether it starts now
    # or waits for another admin's job, then the change itself in the one-at-a-time indexing queue.
    def check_upload(self, files: list[str] | None, title: str, url: str, audience: str) -> None:
        if not files:
            raise gr.Error("Choose one or more files to upload first.", print_exception=False)
        _check_descriptions([(path, Path(path).name) for path in files], title, url)
        _upload_audience(audience)

    def check_source(self, source_id: str | None) -> None:
        _require_source(source_id)

    def check_audience(self, source_id: str | None, audience: str) -> None:
        """A typo in the audience is refused at once, before the job is queued."""
        _require_source(source_id)
        _call(parse_audience, _required_audience(audience))

    def announce_upload(self, files: list[str] | None) -> str:
        return self.jobs.status(f"Your upload of {len(files or [])} file(s)", self._may_see_source())

    def announce_job(self, source_id: str | None) -> str:
        return self.jobs.status("Your request", self._may_see_source())

    def upload(
        self,
        files: list[str] | None,
        title: str,
        url: str,
        tags: str,
        on_conflict: ConflictPolicy,
        audience: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way to get a progress bar
    ) -> Iterator[tuple[Any, ...]]:
        """Index every file; one bad file is reported and skipped, never blocks the others. A file named
        like an indexed document with other content waits for the admin's decision (``on_conflict``).
        ``audience`` blank keeps each source's audience (a new source is for everyone)."""
        if not files:
            raise gr.Error("Choose one or more files to upload first.")
        batch = [(path, Path(path).name) for path in files]
        yield from self._index(batch, title, url, tags, audience, on_conflict or "report", request, progress)

    def upload_background(
        self,
        files: list[str] | None,
        title: str,
        url: str,
        tags: str,
        on_conflict: ConflictPolicy,
        audience: str,
        request: gr.Request,
    ) -> tuple[list[list[Any]], str]:
        """Queue every file as a background job with the options :meth:`upload` would index it with, and
        return at once: a worker indexes them and the jobs panel follows them. The form is checked
        first, as for :meth:`upload`, so a typo queues nothing; a file whose uploaded copy is gone is
        reported and skipped."""
        if not files:
            raise gr.Error("Choose one or more files to upload first.")
        batch = [(path, Path(path).name) for path in files]
        _check_descriptions(batch, title, url)
        options = {
            "title": title,
            "url": url,
            "tags": render.parse_tags(tags) or None,  # none typed: keep the source's own
            "audience": _upload_audience(audience),  # None: keep the source's own
            "on_conflict": on_conflict or "report",
        }
        user = request.username if request else None
        rows: list[list[Any]] = []
        queued: list[str] = []
        for path, name in batch:
            try:
                data = Path(path).read_bytes()
            except OSError:
                rows.append([name, "❌ rejected", "", "the uploaded copy is gone; upload the file again", ""])
                continue
            try:
                job = self.service.jobs.submit(name, data, submitted_by=user, uploaded_by=user, **options)
            except NeedleError as error:  # the queue's store failed: this file is not queued, say why
                rows.append([name, "❌ rejected", "", str(error), ""])
                continue
            queued.append(job.job_id)
            rows.append([name, "⏳ queued", "", f"background job {job.job_id}", ""])
        return rows, _queued_summary(queued, len(batch), options["on_conflict"])

    def choose_mode(self, background: bool) -> tuple[gr.Button, gr.Button]:
        """Show the button for the chosen way of indexing: now (in this request) or in the background."""
        return gr.Button(visible=not background), gr.Button(visible=bool(background))

    def replace_conflicts(
        self,
        pending: list[PendingFile] | None,
        picked: list[str] | None,
        title: str,
        url: str,
        tags: str,
        audience: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Iterator[tuple[Any, ...]]:
        """The picked held-back files become the new versions of the documents they are named like."""
        batch, _rest = _pick(pending, picked)
        yield from self._index(batch, title, url, tags, audience, "replace", request, progress, _rest)

    def keep_both(
        self,
        pending: list[PendingFile] | None,
        picked: list[str] | None,
        title: str,
        url: str,
        tags: str,
        audience: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Iterator[tuple[Any, ...]]:
        """The picked held-back files are added as new sources beside the documents they are named like."""
        batch, _rest = _pick(pending, picked)
        yield from self._index(batch, title, url, tags, audience, "keep_both", request, progress, _rest)

    def skip_conflicts(self, pending: list[PendingFile] | None, picked: list[str] | None) -> tuple[Any, ...]:
        """Drop the picked held-back files: the indexed documents stay as they are."""
        batch, rest = _pick(pending, picked)
        kept = "skipped: the indexed document was kept as it is"
        skipped = [IngestResult(name, "unchanged", reason=kept) for _, name in batch]
        return (render.ingest_rows(skipped), f"➖ {len(skipped)} file(s) skipped.", *_conflict_outputs(rest))

    def _index(
        self,
        batch: list[tuple[str, str]],
        title: str,
        url: str,
        tags: str,
        audience: str,
        policy: ConflictPolicy,
        request: gr.Request,
        progress: gr.Progress,
        still_pending: list[PendingFile] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Index ``batch`` file by file, yielding after each so the results, the sources table and the
        header counts follow along; progress advances chunk by chunk within each file."""
        _check_descriptions(batch, title, url)
        # Checked before any file is indexed: a typo must not index a restricted document for everyone.
        members = _upload_audience(audience)
        user = request.username if request else None
        results: list[IngestResult] = []
        pending = list(still_pending or [])
        total = len(batch)
        with self.jobs.running(f"indexing {total} file(s)", user):
            # At once, in place of "starting…" or "waiting…": what runs now (the bar follows it).
            yield (gr.skip(), f"⏳ Indexing {counted(total, 'file')}…", *(gr.skip(),) * 7)
            for number, (path, name) in enumerate(batch):
                # Each figure beside its own count: the bar counts files while a file is read, then that
                # file's chunks ("12/40 chunks"), never the batch's percentage beside one file's chunks.
                progress((number, total), desc=f"Reading {name}", unit="files")

                def chunks(done: int, count: int, number: int = number, name: str = name) -> None:
                    progress((done, count), desc=f"File {number + 1} of {total}, {name}", unit="chunks")

                result = self._ingest_one(path, name, title, url, tags, members, policy, user, chunks)
                results.append(result)
                if result.status == "conflict":
                    pending.append(PendingFile(path, name, result.reason))
                yield (
                    render.ingest_rows(results),
                    _summary(results, done=number + 1 == total),
                    *self.refresh(),
                    *_conflict_outputs(pending),
                )
            progress(1.0, desc="Done")

    def _ingest_one(
        self,
        path: str,
        name: str,
        title: str,
        url: str,
        tags: str,
        audience: list[str] | None,
        policy: ConflictPolicy,
        user: str | None,
        on_chunks: Callable[[int, int], None],
    ) -> IngestResult:
        if not Path(path).is_file():
            return IngestResult(name, "rejected", reason="the uploaded copy is gone; upload the file again")
        try:
            return self.service.ingest_file(
                path,
                title=title,
                url=url,
                tags=render.parse_tags(tags) or None,  # none typed: keep the source's own
                audience=audience,  # None: keep the source's own
                uploaded_by=user,
                on_conflict=policy,
                progress=on_chunks,
            )
        except NeedleError as error:  # the store failed: this file is not indexed, say why
            return IngestResult(name, "rejected", reason=str(error))

    def ask_delete(self, source_id: str | None) -> tuple[gr.Group, str]:
        source = self._source(source_id)
        message = (
            f"Delete **{render.md_text(source.title)}** ({render.md_text(source.file_name)}, "
            f"{source.chunks} chunks)? Answers will no longer cite it. This cannot be undone."
        )
        return gr.Group(visible=True), message

    def cancel_delete(self) -> gr.Group:
        return gr.Group(visible=False)

    def delete(self, source_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        source_id = _require_source(source_id)
        user = request.username if request else None
        with self.jobs.running(f"deleting {source_id}", user, source_id):
            removed = _call(self.service.delete_source, source_id, actor=user)
        table, dropdown, overview = self.refresh()
        return (
            gr.Group(visible=False),
            f"🗑️ Deleted `{source_id}` ({removed} chunks).",
            table,
            gr.Dropdown(choices=dropdown.choices, value=None),
            overview,
        )

    def reindex(self, source_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        source_id = _require_source(source_id)
        user = request.username if request else None
        with self.jobs.running(f"re-indexing {source_id}", user, source_id):
            result = _call(self.service.reindex_source, source_id, actor=user)
        return (_summary([result]), *self.refresh())

    def set_audience(self, source_id: str | None, audience: str, request: gr.Request) -> tuple[Any, ...]:
        """Change who may see the picked source, on its chunks in place (no re-indexing); the next
        question everywhere uses the new audience. A blank field is refused (see
        :func:`_required_audience`)."""
        source_id = _require_source(source_id)
        _required_audience(audience)
        user = request.username if request else None
        with self.jobs.running(f"changing who may see {source_id}", user, source_id):
            source = _call(self.service.set_source_audience, source_id, audience, actor=user)
        shown = describe_audience(source.audience)
        message = (
            f"👥 **{render.md_text(source.title)}** is now visible to: {render.md_text(shown)}. "
            "It applies to the next question; nothing was re-indexed."
        )
        return (message, describe_audience(source.audience), *self.refresh())

    def current_audience(self, source_id: str | None) -> str:
        """The picked source's audience, to edit in place (blank when no source is picked)."""
        if not source_id:
            return ""
        source = session_view(self.service).source(source_id)
        return describe_audience(source.audience) if source else ""

    def select_row(self, event: gr.SelectData) -> str | None:
        """Clicking a row of the table picks that source for delete, re-index and the Chunks tab."""
        row = event.row_value or []
        return row[-1] if row else None

    def _source(self, source_id: str | None) -> Any:
        source_id = _require_source(source_id)
        source = session_view(self.service).source(source_id)
        if source is not None:
            return source
        raise gr.Error(f"No source with id {source_id!r}; it may have been deleted. Refresh the list.")


def _pick(
    pending: list[PendingFile] | None, picked: list[str] | None
) -> tuple[list[tuple[str, str]], list[PendingFile]]:
    """The held-back files the admin ticked, and those left waiting."""
    if not pending:
        raise gr.Error("No upload is waiting for a decision.")
    chosen = set(picked or [])
    if not chosen:
        raise gr.Error("Tick at least one of the files first.")
    batch = [(item.path, item.file_name) for item in pending if item.file_name in chosen]
    return batch, [item for item in pending if item.file_name not in chosen]


def _conflict_outputs(
    pending: list[PendingFile],
) -> tuple[list[PendingFile], gr.Group, str, gr.CheckboxGroup]:
    """The session's held-back files and the box that asks about them (hidden when none wait)."""
    if not pending:
        return [], gr.Group(visible=False), "", gr.CheckboxGroup(choices=[], value=[])
    lines = [f"- **{render.md_text(item.file_name)}**: {render.md_text(item.reason)}" for item in pending]
    text = (
        f"**{len(pending)} file(s) have the same name as an indexed document but different content.** "
        "Nothing was changed for them yet.\n\n" + "\n".join(lines) + "\n\n"
        "**Replace** makes the new file the new version of that document (its title, URL and tags stay "
        "unless you type new ones above). **Keep both** adds it as a separate source with its own id "
        "(type a title above to tell them apart). **Skip** leaves the indexed document as it is."
    )
    names = [item.file_name for item in pending]
    return pending, gr.Group(visible=True), text, gr.CheckboxGroup(choices=names, value=names)


def _check_descriptions(batch: list[tuple[str, str]], title: str, url: str) -> None:
    """Refuse a title or URL for several files before any is indexed or queued."""
    if len(batch) > 1 and ((title or "").strip() or (url or "").strip()):
        raise gr.Error(
            "A title or URL describes one document: upload files one at a time to give each its own "
            "title or URL (tags apply to every file)."
        )


def _queued_summary(job_ids: list[str], total: int, policy: str) -> str:
    """The status line after a background upload: the job ids, and where to follow them."""
    if not job_ids:
        return "❌ No file was queued; see the reasons below."
    icon = "⏳" if len(job_ids) == total else "⚠️"
    text = (
        f"{icon} Queued {len(job_ids)} of {total} file(s) for indexing in the background (job "
        f"{', '.join(f'`{job_id}`' for job_id in job_ids)}). Follow them under **Background jobs** below; "
        "the sources table updates when each is indexed."
    )
    if policy == "report":
        text += (
            " A file named like an indexed document with other content fails with that reason; upload it "
            "again choosing Replace or Keep both."
        )
    return text


def _require_source(source_id: str | None) -> str:
    if not source_id:
        raise gr.Error("Pick a source first (click a row of the table or use the list).")
    return source_id


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a core call, turning its person-readable errors into a message on the page."""
    try:
        return method(*args, **kwargs)
    except NeedleError as error:
        # Stays until closed (a vanishing toast was missed); an admin's typo is no server error to log.
        raise gr.Error(str(error), duration=None, print_exception=False) from None


def _required_audience(text: str | None) -> str:
    """A typed audience for a change; blank is refused rather than read as "everyone": clearing the box
    by mistake must not open a restricted document to the whole company."""
    if not (text or "").strip():
        raise gr.Error(
            "Type who may see this source: 'everyone', or channel:C…, usergroup:S… and user:U… ids "
            "separated by commas.",
            duration=None,
            print_exception=False,
        )
    return str(text)


def _upload_audience(text: str | None) -> list[str] | None:
    """The upload form's audience: blank keeps each source's own (``None``), else the parsed members.

    :raises gr.Error: a member that is not ``everyone``, ``channel:``, ``usergroup:`` or ``user:`` an id.
    """
    if not (text or "").strip():
        return None
    return _call(parse_audience, text)


def _summary(results: list[IngestResult], done: bool = True) -> str:
    counts = {
        status: sum(r.status == status for r in results)
        for status in ("indexed", "unchanged", "rejected", "conflict")
    }
    words = {"conflict": "waiting for your decision"}
    parts = [f"{count} {words.get(status, status)}" for status, count in counts.items() if count]
    trouble = counts["rejected"] + counts["conflict"]
    icon = "✅" if not trouble else ("⚠️" if trouble < len(results) else "❌")
    text = f"{icon if done else '⏳'} {', '.join(parts)}{'.' if done else ' so far…'}"
    if counts["rejected"]:
        text += " Rejected files were not indexed and the index is as it was for them; see the reasons below."
    if counts["conflict"]:
        text += " Files with the same name as a different indexed document wait for your decision below."
    warned = sum(bool(r.warnings) for r in results)
    if warned:
        text += f" {warned} file(s) were read with a warning; see the notes."
    return text


def build_sources_tab(service: NeedleService, jobs: IndexingJobs, overview: gr.Markdown) -> SourcesTab:
    """The tab's layout and events; ``overview`` is the page header whose counts follow every change."""
    actions = SourcesActions(service, jobs)
    extensions = sorted(SUPPORTED_EXTENSIONS)
    limit = upload_limit_bytes(service.settings.max_upload_mb)
    with gr.Tab("Sources", id="sources") as tab:
        gr.Markdown(
            f"Upload documents for Needle to answer from ({', '.join(extensions)}; "
            f"at most {format_size(limit)} each; text in any encoding). A file with the same name as an "
            "indexed document replaces it when its content is the same document's new version: when the "
            "content differs you are asked first, unless you choose otherwise below. One indexing job runs "
            "at a time: if another admin is indexing, your job waits and this page says so."
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
                title = gr.Textbox(
                    label="Title (optional, one file only)", max_lines=1, elem_id="upload-title"
                )
                url = gr.Textbox(label="URL (optional, one file only)", max_lines=1, placeholder="https://…")
                tags = gr.Textbox(
                    label="Tags (optional, comma-separated)",
                    max_lines=1,
                    placeholder="hr, policies",
                    elem_id="upload-tags",
                )
                audience = gr.Textbox(
                    "",  # a default, so API callers written before audiences existed keep working
                    label="Audience (who may see it; blank keeps each source's)",
                    max_lines=1,
                    placeholder="everyone, or channel:C0123ABCD, usergroup:S0123ABCD, user:U0123ABCD",
                    elem_id="upload-audience",
                )
                on_conflict = gr.Radio(
                    CONFLICT_CHOICES,
                    value="report",
                    label="Same file name as an indexed document, different content",
                    elem_id="upload-on-conflict",
                )
                background = gr.Checkbox(
                    False,
                    label="Index in the background",
                    info="Queue each file as a job for a worker and return at once.",
                    elem_id="upload-background",
                )
                upload_button = gr.Button("Upload and index", variant="primary")
                queue_button = gr.Button(
                    "Upload and queue", variant="primary", visible=False, elem_id="upload-queue"
                )
        status = gr.Markdown(elem_id="upload-status")
        results = readonly_table(
            render.INGEST_HEADERS,
            "upload-results",
            "Upload results",
            column_widths=render.INGEST_COLUMN_WIDTHS,
        )
        pending = gr.State([])
        with gr.Group(visible=False, elem_id="upload-conflicts") as conflict_box:
            conflict_text = gr.Markdown(elem_id="conflict-text")
            conflict_pick = gr.CheckboxGroup(label="Apply to", choices=[], elem_id="conflict-files")
            with gr.Row():
                replace_button = gr.Button("Replace", variant="primary", elem_id="conflict-replace")
                keep_button = gr.Button("Keep both", elem_id="conflict-keep-both")
                skip_button = gr.Button("Skip", elem_id="conflict-skip")
        jobs = build_jobs_panel(service, actions.refresh)

        gr.Markdown("### Indexed sources")
        table = readonly_table(
            render.SOURCE_HEADERS,
            "sources-table",
            "Sources (click a row to pick it; click a header to sort)",
            column_widths=render.SOURCE_COLUMN_WIDTHS,
            datatype=render.SOURCE_DATATYPES,
            detail_formats={4: format_size},  # the size column holds bytes (it sorts by them)
        )
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
        with gr.Row(equal_height=True):
            source_audience = gr.Textbox(
                label="Audience of the picked source (applies at once, without re-indexing)",
                max_lines=1,
                placeholder="everyone, or channel:C0123ABCD, usergroup:S0123ABCD, user:U0123ABCD",
                scale=4,
                elem_id="source-audience",
            )
            audience_button = gr.Button("Set audience", scale=1, elem_id="source-audience-set")
        action_status = gr.Markdown(elem_id="source-action-status")

    listing = [table, selected, overview]
    jobs.follow(listing)
    conflict = [pending, conflict_box, conflict_text, conflict_pick]
    indexing = {
        "outputs": [results, status, *listing, *conflict],
        # The bar runs in the status line: the sources table stays readable while a job runs.
        "show_progress_on": [status],
        "concurrency_limit": 1,
        "concurrency_id": INDEXING_QUEUE,
    }
    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    upload_button.click(actions.check_upload, [files, title, url, audience], None, **quiet).success(
        actions.announce_upload, [files], [status], **quiet
    ).success(actions.upload, [files, title, url, tags, on_conflict, audience], api_name="upload", **indexing)
    background.change(
        actions.choose_mode, [background], [upload_button, queue_button], api_visibility="private"
    )
    # Its own event, outside the one-at-a-time indexing queue: queueing a file takes no time, so it
    # never waits behind another admin's indexing.
    queue_button.click(
        actions.upload_background,
        [files, title, url, tags, on_conflict, audience],
        [results, status],
        api_name="upload_background",
        show_progress_on=[status],
    ).success(jobs.actions.listing, None, jobs.outputs, api_visibility="private")
    decision = [pending, conflict_pick, title, url, tags, audience]
    replace_button.click(actions.replace_conflicts, decision, api_name="replace_conflicts", **indexing)
    keep_button.click(actions.keep_both, decision, api_name="keep_both", **indexing)
    skip_button.click(
        actions.skip_conflicts,
        [pending, conflict_pick],
        [results, status, *conflict],
        api_name="skip_conflicts",
    )
    tab.select(actions.refresh, None, listing, api_visibility="private")
    tab.select(jobs.actions.listing, None, jobs.outputs, api_visibility="private")
    refresh_button.click(actions.refresh, None, listing, api_name="list_sources")
    table.select(actions.select_row, None, [selected], api_visibility="private")
    delete_button.click(actions.ask_delete, [selected], [confirm_box, confirm_text], api_visibility="private")
    cancel_button.click(actions.cancel_delete, None, [confirm_box], api_visibility="private")
    confirm_button.click(actions.check_source, [selected], None, **quiet).success(
        actions.announce_job, [selected], [action_status], **quiet
    ).success(
        actions.delete,
        [selected],
        [confirm_box, action_status, *listing],
        api_name="delete_source",
        show_progress_on=[action_status],  # errors show there; the table and the form stay readable
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    selected.change(actions.current_audience, [selected], [source_audience], api_visibility="private")
    audience_asked = audience_button.click(
        actions.check_audience, [selected, source_audience], None, **quiet
    ).success(actions.announce_job, [selected], [action_status], **quiet)
    audience_asked.success(
        actions.set_audience,
        [selected, source_audience],
        [action_status, source_audience, *listing],
        api_name="set_source_audience",
        show_progress_on=[action_status],  # errors show there; the table and the form stay readable
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    reindex_button.click(actions.check_source, [selected], None, **quiet).success(
        actions.announce_job, [selected], [action_status], **quiet
    ).success(
        actions.reindex,
        [selected],
        [action_status, *listing],
        api_name="reindex_source",
        show_progress_on=[action_status],  # errors show there; the table and the form stay readable
        concurrency_limit=1,
        concurrency_id=INDEXING_QUEUE,
    )
    return SourcesTab(table=table, selected=selected, refresh=actions.refresh, jobs=jobs)

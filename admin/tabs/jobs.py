"""Background jobs panel (inside the Sources tab): what the ingest workers are doing, cancel and retry.

Uploads made with "Index in the background" become jobs in the core's durable queue
(:mod:`pipelines.records.jobs`) and a worker indexes them, in ``needle serve`` or in ``needle worker`` on any
replica. This panel only reads the queue and asks it to cancel or retry; it never indexes. It refreshes
itself every :data:`POLL_SECONDS` while a job is queued or running and stops polling once none is, so an
idle console sends no requests. A viewer's account lists only the jobs of sources everyone may see
(:meth:`pipelines.app.visibility.ConsoleView.may_see_job`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.connectors import describe
from pipelines.connectors.state import SyncRun
from pipelines.records.jobs import Job
from pipelines.service.facade import NeedleService

#: How often the panel refreshes while a job is queued or running.
POLL_SECONDS = 2.0
#: How many jobs the panel lists (newest first); older ones stay in the queue's records.
LISTED = 100
JOB_HEADERS = ["File", "Status", "Progress", "Submitted by", "Submitted (UTC)", "Notes", "Job id"]
JOB_COLUMN_WIDTHS = ["18%", "11%", "14%", "10%", "13%", "22%", "12%"]
STATUS_LABELS = {
    "queued": "⏳ queued",
    "running": "⚙️ running",
    "done": "✅ done",
    "failed": "❌ failed",
    "cancelled": "🚫 cancelled",
}
#: Outputs of the sources listing (table, picker, header line) the panel refreshes when a job finishes.
SourcesRefresh = Callable[[], tuple[Any, ...]]


def is_active(job: Job) -> bool:
    """A job a worker has yet to finish: the panel keeps polling while one exists."""
    return job.status in ("queued", "running")


def job_progress(job: Job) -> str:
    """Progress in words an admin reads at a glance ("96 of 300 chunks")."""
    if job.status == "running":
        if job.cancel_requested:
            return "cancelling…"
        if job.kind == "sync":
            return f"{job.done} of {job.total} documents" if job.total else "listing the documents…"
        return f"{job.done} of {job.total} chunks" if job.total else "reading the file…"
    if job.status == "queued":
        return "waiting for a worker"
    if job.status == "done" and job.result and job.kind == "sync":
        return f"{job.result.get('listed', 0)} documents"
    if job.status == "done" and job.result:
        return f"{job.result.get('chunks', 0)} chunks"
    return ""


def job_notes(job: Job) -> str:
    """Why a job failed, or what a finished one did (the source it indexed)."""
    if job.status == "failed":
        return job.error or "failed without a reason; see the server log"
    result = job.result or {}
    if job.kind == "sync" and job.status == "done":
        return describe.counts(SyncRun.from_dict({"run_id": "", "connector": "", "started": 0, **result}))
    if job.status == "done" and result.get("source_id"):
        what = "replaced" if result.get("replaced") else str(result.get("status", "indexed"))
        return f"{what} as {result['source_id']}"
    if job.attempt > 1 and is_active(job):
        return f"attempt {job.attempt}"
    return ""


def finished_line(jobs: Sequence[Job]) -> str:
    """The panel's line once watched jobs have ended: each one's outcome, so an earlier "queued
    again…" or "cancelling…" does not stay on screen after the fact."""
    parts = [
        f"{STATUS_LABELS.get(job.status, job.status)}: job `{job.job_id}` ({render.md_text(job.file_name)})"
        + (f": {render.md_text(job_notes(job))}" if job_notes(job) else "")
        for job in jobs
    ]
    return " · ".join(parts)


def job_rows(jobs: Sequence[Job]) -> list[list[Any]]:
    """One row per job, newest first, the job id last (a click on a row picks it)."""
    ordered = sorted(jobs, key=lambda job: job.created_at, reverse=True)
    return [
        [
            job.file_name,
            STATUS_LABELS.get(job.status, job.status),
            job_progress(job),
            job.submitted_by or "",
            render.timestamp(job.created_at),
            job_notes(job),
            job.job_id,
        ]
        for job in ordered
    ]


@dataclass
class JobsPanel:
    """The panel's parts the Sources tab and the page load refresh."""

    table: gr.Dataframe
    timer: gr.Timer
    watched: gr.State
    actions: JobsActions
    message: gr.Markdown

    @property
    def outputs(self) -> list[gr.components.Component]:
        """What :meth:`JobsActions.listing` fills: the table, the timer and the ids of the active jobs."""
        return [self.table, self.timer, self.watched]

    def follow(self, sources_outputs: Sequence[gr.components.Component]) -> None:
        """Poll while jobs are active, refreshing ``sources_outputs`` (the sources table, picker and header
        line, filled by ``refresh_sources``) when one finishes; called once those components exist."""
        self.timer.tick(
            self.actions.poll,
            [self.watched],
            [*self.outputs, self.message, *sources_outputs],
            api_visibility="private",
            show_progress="hidden",
        )


class JobsActions:
    """The panel's event handlers: each a call to ``service.jobs`` and a fresh listing."""

    def __init__(self, service: NeedleService, refresh_sources: SourcesRefresh) -> None:
        self.service = service
        self.refresh_sources = refresh_sources

    def _jobs(self) -> list[Job]:
        """The newest jobs the signed-in account may see (a viewer: those of sources for everyone)."""
        return session_view(self.service).jobs(limit=LISTED)

    def listing(self) -> tuple[list[list[Any]], gr.Timer, list[str]]:
        """The jobs table, the timer (on while any job is queued or running) and the active jobs' ids,
        which the next tick compares against to notice a job that finished."""
        jobs = self._jobs()
        active = [job.job_id for job in jobs if is_active(job)]
        return job_rows(jobs), gr.Timer(active=bool(active)), active

    def poll(self, watched: list[str] | None) -> tuple[Any, ...]:
        """A timer tick: the listing, and the sources listing when a job active at the last look has
        finished since, so a background upload shows up in the sources table without a click. The
        panel's line then says how those jobs ended, in place of "queued again…" or "cancelling…"."""
        jobs = self._jobs()
        active = [job.job_id for job in jobs if is_active(job)]
        finished = [job for job in jobs if job.job_id in set(watched or []) - set(active)]
        if not finished:
            return (job_rows(jobs), gr.Timer(active=bool(active)), active, gr.skip(), *(gr.skip(),) * 3)
        return (
            job_rows(jobs),
            gr.Timer(active=bool(active)),
            active,
            finished_line(finished),
            *self.refresh_sources(),
        )

    def cancel(self, job_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Cancel the picked job: a queued one at once, a running one before anything of it is written."""
        actor = request.username if request else None
        job = _call(self.service.jobs.cancel, _require_job(job_id), actor=actor)
        if job.status == "cancelled":
            message = (
                f"🚫 Cancelled job `{job.job_id}` ({render.md_text(job.file_name)}); nothing was indexed."
            )
        else:
            message = (
                f"🚫 Cancelling job `{job.job_id}` ({render.md_text(job.file_name)}): its worker stops "
                "before writing anything, and the index stays as it was."
            )
        return (message, *self.listing())

    def retry(self, job_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Queue a failed or cancelled job again, with the same file and options."""
        actor = request.username if request else None
        job = _call(self.service.jobs.retry, _require_job(job_id), actor=actor)
        message = (
            f"🔁 Job `{job.job_id}` ({render.md_text(job.file_name)}) is queued again "
            f"(attempt {job.attempt}); a worker picks it up shortly."
        )
        return (message, *self.listing())

    def select_row(self, event: gr.SelectData) -> str:
        """Clicking a row of the jobs table picks that job for Cancel and Retry."""
        row = event.row_value or []
        return str(row[-1]) if row else ""


def _require_job(job_id: str | None) -> str:
    job_id = (job_id or "").strip()
    if not job_id:
        raise gr.Error("Pick a job first: click its row in the jobs table.", print_exception=False)
    return job_id


def _call(method: Callable[..., Job], *args: Any, **kwargs: Any) -> Job:
    """Run a queue call; its refusals ("job … is done; only queued or running jobs can be cancelled")
    are for the admin to read, not server errors."""
    try:
        return method(*args, **kwargs)
    except NeedleError as error:
        raise gr.Error(str(error), duration=None, print_exception=False) from None


def build_jobs_panel(service: NeedleService, refresh_sources: SourcesRefresh) -> JobsPanel:
    """The panel's layout and events, rendered where it is called (the Sources tab); the caller wires
    the live refresh with :meth:`JobsPanel.follow`. ``refresh_sources`` gives the sources listing."""
    actions = JobsActions(service, refresh_sources)
    gr.Markdown(
        "### Background jobs\n"
        "Files uploaded with **Index in the background** wait here for a worker (`needle serve` runs one; "
        "`needle worker` adds more, on any replica). The list follows them live while any is queued or "
        "running. Click a row to pick a job: **Cancel** stops a queued or running job before anything of it "
        "is written, **Retry** queues a failed or cancelled one again with the same file and options."
    )
    table = readonly_table(
        JOB_HEADERS,
        "jobs-table",
        "Jobs, newest first (click a row to pick it)",
        column_widths=JOB_COLUMN_WIDTHS,
    )
    with gr.Row(equal_height=True):
        picked = gr.Textbox(
            label="Job", max_lines=1, scale=3, placeholder="click a row", elem_id="job-picker"
        )
        refresh_button = gr.Button("Refresh", scale=1, elem_id="jobs-refresh")
        cancel_button = gr.Button("Cancel job", variant="stop", scale=1, elem_id="job-cancel")
        retry_button = gr.Button("Retry job", scale=1, elem_id="job-retry")
    message = gr.Markdown(elem_id="jobs-status")
    timer = gr.Timer(POLL_SECONDS, active=False)
    watched = gr.State([])

    listing = [table, timer, watched]
    refresh_button.click(actions.listing, None, listing, api_name="list_jobs")
    table.select(actions.select_row, None, [picked], api_visibility="private")
    cancel_button.click(actions.cancel, [picked], [message, *listing], api_name="cancel_job")
    retry_button.click(actions.retry, [picked], [message, *listing], api_name="retry_job")
    return JobsPanel(table=table, timer=timer, watched=watched, actions=actions, message=message)

"""Audit log tab: who changed what and when, newest first, filtered, and exported as CSV.

The log itself is the core's (:mod:`pipelines.records.audit`), written by every change wherever it was made
(console, CLI, bot); this tab only reads it. The CSV holds exactly the rows on screen, with the full
before and after values, so what an auditor downloads is what the admin looked at.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_may
from admin.tabs.tables import readonly_table
from pipelines.records.audit import AuditEntry, to_csv
from pipelines.service.facade import NeedleService

AUDIT_HEADERS = ["Time (UTC)", "Person", "Action", "What", "Change"]
AUDIT_COLUMN_WIDTHS = ["13%", "10%", "12%", "20%", "45%"]
#: The actions the core records today; the filter also accepts any other typed action.
ACTION_CHOICES = [
    ("Every action", ""),
    ("Source uploaded (source.upload)", "source.upload"),
    ("Source deleted (source.delete)", "source.delete"),
    ("Source audience changed (source.audience)", "source.audience"),
    ("Channel settings changed (channel.set)", "channel.set"),
    ("Channel back to defaults (channel.unset)", "channel.unset"),
    ("Retrieval settings promoted (retrieval.promote)", "retrieval.promote"),
    ("Retrieval settings rolled back (retrieval.rollback)", "retrieval.rollback"),
    ("Admin account added (account.add)", "account.add"),
    ("Admin account removed (account.remove)", "account.remove"),
    ("Admin role changed (account.role)", "account.role"),
    ("Admin password changed (account.password)", "account.password"),
    ("Admin signed out everywhere (account.sessions)", "account.sessions"),
    ("Background job cancelled (job.cancel)", "job.cancel"),
    ("Background job retried (job.retry)", "job.retry"),
]
EDITORS_ONLY = (
    "**The audit log is for editors and owners.** It names restricted sources and accounts that a "
    "viewer's account is not shown; ask an owner of this Needle if you need to read it."
)
#: At most this many rows are shown (and exported); narrower filters reach older entries.
MAX_ROWS = 1000
DAY = 86_400.0
#: Exports older than this are removed when the next one is written (Gradio serves its own copy).
EXPORT_LIFETIME_S = 3600.0


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_value(item)}" for key, item in value.items()) + "}"
    return str(value)


def describe_change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The entry's change in one cell: the fields that differ as "field: old → new"; a creation or a
    removal lists the values created or removed. The CSV keeps the full values."""
    if before is None and after is None:
        return ""
    if before is None:
        return "created: " + "; ".join(f"{key}: {_value(value)}" for key, value in (after or {}).items())
    if after is None:
        return "removed: " + "; ".join(f"{key}: {_value(value)}" for key, value in before.items())
    keys = list(dict.fromkeys([*before, *after]))
    changed = [
        f"{key}: {_value(before.get(key))} → {_value(after.get(key))}"
        for key in keys
        if before.get(key) != after.get(key)
    ]
    return "; ".join(changed) or "no values changed"


def audit_rows(entries: list[AuditEntry]) -> list[list[str]]:
    """One row per entry, newest first as the core returns them."""
    rows = []
    for entry in entries:
        change = describe_change(entry.before, entry.after)
        if entry.detail:
            change = f"{change} ({entry.detail})" if change else entry.detail
        rows.append([render.timestamp(entry.at), entry.actor, entry.action, entry.target, change])
    return rows


class AuditActions:
    """The tab's handlers: read the core's log with the filters, and write the CSV of what is shown."""

    def __init__(self, service: NeedleService, export_dir: Path) -> None:
        self.service = service
        self.export_dir = export_dir

    def open(self, person: str | None, action: str | None, days: float | None) -> tuple[Any, ...]:
        """On opening the tab: the log for editors and owners; a viewer reads a note instead of an error.

        Viewers do not read the log: its entries name restricted sources, audiences and accounts that a
        viewer's account is not shown anywhere else."""
        if not session_may(self.service.accounts, "editor"):
            skipped = (gr.skip(),) * 4
            return (*skipped, gr.Markdown(EDITORS_ONLY, visible=True), gr.Column(visible=False))
        return (*self.search(person, action, days), gr.Markdown(visible=False), gr.Column(visible=True))

    def search(self, person: str | None, action: str | None, days: float | None) -> tuple[Any, ...]:
        """Entries by ``person`` and ``action`` (blank: anyone, any action) in the last ``days`` days
        (0 or blank: all time), newest first; with the summary line and the CSV of exactly these rows."""
        if days is not None and days < 0:
            raise gr.Error("The number of days cannot be negative (0 shows the whole log).")
        since = time.time() - float(days) * DAY if days else None
        entries = self.service.audit.entries(
            actor=(person or "").strip() or None,
            action=(action or "").strip() or None,
            since=since,
            limit=MAX_ROWS,
        )
        return (
            audit_rows(entries),
            _summary(len(entries), person, action, days),
            self._export(entries),
            gr.Dropdown(choices=self._people()),
        )

    def _people(self) -> list[tuple[str, str]]:
        """Everyone who appears in the recent log, for the person filter."""
        people = sorted({entry.actor for entry in self.service.audit.entries(limit=MAX_ROWS)})
        return [("Everyone", ""), *((person, person) for person in people)]

    def _export(self, entries: list[AuditEntry]) -> str:
        """Write the CSV of ``entries`` to a new file (one per search: two admins never share one)."""
        for old in self.export_dir.glob("needle-audit-*.csv"):
            if old.stat().st_mtime < time.time() - EXPORT_LIFETIME_S:
                old.unlink(missing_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            newline="",
            suffix=".csv",
            prefix=f"needle-audit-{stamp}-",
            dir=self.export_dir,
            delete=False,
        ) as handle:
            handle.write(to_csv(entries))
        return handle.name


def _summary(count: int, person: str | None, action: str | None, days: float | None) -> str:
    parts = [f"by {render.md_text(person)}" if person else "by anyone"]
    parts.append(f"action {render.md_text(action)}" if action else "any action")
    parts.append(f"in the last {int(days)} day(s)" if days else "at any time")
    more = f" (the newest {MAX_ROWS}; narrow the filters to see older ones)" if count >= MAX_ROWS else ""
    return f"**{count}** change(s) {', '.join(parts)}, newest first{more}. The CSV holds these rows."


def build_audit_tab(service: NeedleService) -> gr.Tab:
    """The tab's layout and events."""
    export_dir = Path(tempfile.mkdtemp(prefix="needle-audit-"))
    actions = AuditActions(service, export_dir)
    with gr.Tab("Audit log", id="audit") as tab:
        note = gr.Markdown(visible=False, elem_id="audit-note")
        with gr.Column(visible=False) as panel:
            _audit_panel_and_events(actions, tab, note, panel)
    return tab


def _audit_panel_and_events(actions: AuditActions, tab: gr.Tab, note: gr.Markdown, panel: gr.Column) -> None:
    """The filters, the table and their events, inside the panel only editors and owners see."""
    gr.Markdown(
        "Every change made to Needle (sources, audiences, channel settings, retrieval settings, admin "
        "accounts), whether made here, with the `needle` command or elsewhere: who, when, and the "
        "values before and after. Entries cannot be edited or removed."
    )
    with gr.Row(equal_height=True):
        person = gr.Dropdown(
            [("Everyone", "")],
            value="",
            label="Person",
            allow_custom_value=True,
            scale=2,
            elem_id="audit-person",
        )
        action = gr.Dropdown(
            ACTION_CHOICES,
            value="",
            label="Action",
            allow_custom_value=True,
            scale=3,
            elem_id="audit-action",
        )
        days = gr.Number(
            value=30,
            label="Last N days (0: all time)",
            minimum=0,
            maximum=36_500,
            precision=0,
            scale=1,
            elem_id="audit-days",
        )
        show_button = gr.Button("Show", variant="primary", scale=1, elem_id="audit-show")
    with gr.Row(equal_height=True):
        summary = gr.Markdown(elem_id="audit-summary")
        download = gr.DownloadButton("Download CSV", scale=0, min_width=180, elem_id="audit-download")
    table = readonly_table(AUDIT_HEADERS, "audit-table", "Changes", column_widths=AUDIT_COLUMN_WIDTHS)
    filters = [person, action, days]
    outputs = [table, summary, download, person]
    tab.select(actions.open, filters, [*outputs, note, panel], api_visibility="private")
    show_button.click(actions.search, filters, outputs, api_name="audit_log", show_progress_on=[summary])
    action.input(actions.search, filters, outputs, api_visibility="private")
    person.input(actions.search, filters, outputs, api_visibility="private")

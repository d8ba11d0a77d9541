"""Connectors tab: the connectors that keep sources in sync, their sync history, and their controls.

Thin handlers over ``service.connectors`` (:class:`pipelines.connectors.manager.ConnectorManager`): add,
sync now (queued as a background job a worker runs, like ``needle connectors sync --background``), pause,
resume, confirm or dismiss a shrunken listing, remove (keeping or deleting the sources). Every change is
audited by the core as the signed-in account. Editors and owners change; viewers read (see
:mod:`admin.roles`). Secrets are shown as set or missing, never their values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_may
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.connectors import describe
from pipelines.connectors.manager import ConnectorManager, ConnectorStatus, secret_variable
from pipelines.connectors.schedule import queue_sync
from pipelines.records.audience import describe as describe_audience
from pipelines.service.facade import NeedleService

CONNECTOR_HEADERS = ["Name", "Kind", "Every", "Documents", "State", "Next run", "Last sync", "Audience"]
#: Widths that keep every column on screen in a 1280 px window (long cells wrap).
CONNECTOR_COLUMN_WIDTHS = ["12%", "7%", "6%", "9%", "13%", "17%", "26%", "10%"]
HISTORY_HEADERS = [
    "Started",
    "Status",
    "Added",
    "Changed",
    "Unchanged",
    "Removed",
    "Failed",
    "Took",
    "By",
    "Why",
]
REMOVE_CHOICES = [("Keep its sources (as ordinary sources)", "keep"), ("Delete its sources", "delete")]


def connector_rows(statuses: list[ConnectorStatus]) -> list[list[Any]]:
    return [
        [
            status.config.name,
            status.config.kind,
            describe.format_duration(status.config.interval),
            status.documents,
            describe.state_words(status),
            describe.next_run_words(status),
            describe.counts(status.last_run) if status.last_run else "",
            describe_audience(status.config.audience),
        ]
        for status in statuses
    ]


def history_rows(status: ConnectorStatus) -> list[list[Any]]:
    return [
        [
            render.timestamp(run.started),
            run.status,
            run.added,
            run.changed,
            run.unchanged,
            run.removed,
            run.failed,
            describe.duration_of(run),
            run.actor or "",
            run.error or "",
        ]
        for run in status.runs
    ]


def details(status: ConnectorStatus, full: bool = True) -> str:
    """The picked connector in words: settings, secrets, next run, last error, failed documents,
    unmapped principals (Markdown; every value escaped). Without ``full`` (a viewer's account) the
    failed documents and unmapped principals are counted, not named: a document's title and the people
    of a restricted source are not for everyone."""
    config = status.config
    lines = [f"### {render.md_text(config.name)} ({render.md_text(config.kind)})"]
    for key, value in sorted(config.config.items()):
        lines.append(f"- **{render.md_text(key)}**: {render.md_text(value)}")
    for key, present in status.secrets.items():
        state = "set" if present else f"missing (set `{secret_variable(config.name, key)}`)"
        lines.append(f"- secret **{render.md_text(key)}**: {state}")
    lines.append(f"- **documents**: {status.documents}")
    lines.append(f"- **next run**: {render.md_text(describe.next_run_words(status))}")
    error = describe.last_error(status)
    if error:
        lines.append(f"- **last error**: {render.md_text(error)}")
    if status.needs_confirmation is not None:
        sentence = describe.confirmation_sentence(config.name, status.needs_confirmation)
        lines.append(f"\n⚠️ **Needs confirmation.** {render.md_text(sentence)}")
    failures = status.runs[0].failures if status.runs else []
    if not full:
        if failures:
            lines.append(f"- **documents the last sync could not index**: {len(failures)}")
        if status.unmapped:
            lines.append(f"- **unmapped principals**: {len(status.unmapped)}")
        return "\n".join(lines)
    if failures:
        lines.append("\n**Documents the last sync could not index:**")
        lines += [f"- {render.md_text(f.title or f.id)}: {render.md_text(f.reason)}" for f in failures]
    if status.unmapped:
        lines.append("\n**Unmapped principals** (they grant nothing until mapped to Slack users):")
        lines += [f"- {render.md_text(who)} ({count} documents)" for who, count in status.unmapped.items()]
    return "\n".join(lines)


def kinds_text() -> str:
    """What each kind needs, beside the form."""
    lines = ["**Kinds and their settings** (one `key=value` per line):"]
    for kind, cls in ConnectorManager.kinds().items():
        settings = ", ".join(
            f"`{key}`{' (required)' if key in cls.required_settings else ''}" for key in cls.settings
        )
        lines.append(f"- **{kind}** (every {describe.format_duration(cls.default_interval)}): {settings}")
    return "\n".join(lines)


def _settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise NeedleError(f"settings are one key=value per line, not {line.strip()!r}")
        settings[key.strip()] = value.strip()
    return settings


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The core's refusals are for the admin to read, not server errors."""
    try:
        return method(*args, **kwargs)
    except NeedleError as error:
        raise gr.Error(str(error), duration=None, print_exception=False) from None


def _actor(request: gr.Request | None) -> str | None:
    return request.username if request else None


def _require(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise gr.Error("Pick a connector first: click its row in the table.", print_exception=False)
    return name


class ConnectorsActions:
    """The tab's event handlers: each a call to ``service.connectors`` and a fresh listing."""

    def __init__(self, service: NeedleService) -> None:
        self.service = service

    @property
    def manager(self) -> ConnectorManager:
        return self.service.connectors

    def listing(self) -> list[list[Any]]:
        return connector_rows(self.manager.list())

    def show(self, name: str | None) -> tuple[str, list[list[Any]]]:
        """The picked connector's details and sync history."""
        if not (name or "").strip():
            return "", []
        status = _call(self.manager.show, name.strip(), history=20)
        return details(status, full=session_may(self.service.accounts, "editor")), history_rows(status)

    def select_row(self, event: gr.SelectData) -> str:
        row = event.row_value or []
        return str(row[0]) if row else ""

    def _after(self, name: str | None, message: str) -> tuple[Any, ...]:
        shown = self.show(name) if name and self.manager.records.get(name) else ("", [])
        return (message, self.listing(), *shown)

    def add(
        self, kind: str, name: str, settings: str, every: str, audience: str, request: gr.Request
    ) -> tuple[Any, ...]:
        interval = _call(describe.parse_duration, every) if (every or "").strip() else None
        config = _call(
            self.manager.create,
            kind,
            name,
            _call(_settings, settings),
            interval=interval,
            audience=audience or None,
            actor=_actor(request),
        )
        message = (
            f"➕ Added **{render.md_text(config.name)}**, syncing every "
            f"{describe.format_duration(config.interval)}; a running worker starts its first sync."
        )
        return self._after(config.name, message)

    def sync_now(self, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        job = _call(queue_sync, self.manager, self.service.jobs, name, _actor(request))
        message = (
            f"🔄 Queued a sync of **{render.md_text(name)}** as job `{job.job_id}` (see Background jobs)."
        )
        return self._after(name, message)

    def pause(self, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        _call(self.manager.pause, name, actor=_actor(request))
        return self._after(name, f"⏸️ Paused **{render.md_text(name)}**: no sync runs until it is resumed.")

    def resume(self, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        _call(self.manager.resume, name, actor=_actor(request))
        return self._after(name, f"▶️ Resumed **{render.md_text(name)}**.")

    def confirm(self, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        removed = _call(self.manager.confirm, name, actor=_actor(request))
        return self._after(name, f"✅ Confirmed: removed {removed} documents of **{render.md_text(name)}**.")

    def dismiss(self, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        _call(self.manager.dismiss, name, actor=_actor(request))
        message = f"↩️ Dismissed: **{render.md_text(name)}** keeps every document; the next sync judges again."
        return self._after(name, message)

    def remove(self, name: str | None, choice: str | None, request: gr.Request) -> tuple[Any, ...]:
        name = _require(name)
        if choice not in ("keep", "delete"):
            raise gr.Error("Choose whether to keep or delete its sources first.", print_exception=False)
        count = _call(self.manager.remove, name, delete_sources=choice == "delete", actor=_actor(request))
        what = "deleted" if choice == "delete" else "kept as ordinary sources"
        return self._after(None, f"🗑️ Removed **{render.md_text(name)}**; {count} sources {what}.")


def build_connectors_tab(service: NeedleService) -> ConnectorsActions:
    """The tab's layout and events."""
    actions = ConnectorsActions(service)
    with gr.Tab("Connectors", id="connectors") as tab:
        gr.Markdown(
            "Connectors keep sources in sync with where documents live. A worker (`needle serve` runs one) "
            "syncs each when it is due; **Sync now** queues one at once. Their sources are read-only in "
            "the Sources tab: change them at their source, or here. Viewers read; editors and owners change."
        )
        table = readonly_table(
            CONNECTOR_HEADERS,
            "connectors-table",
            "Connectors (click a row to pick it)",
            column_widths=CONNECTOR_COLUMN_WIDTHS,
        )
        with gr.Row(equal_height=True):
            picked = gr.Textbox(label="Connector", max_lines=1, scale=2, elem_id="connector-picker")
            refresh = gr.Button("Refresh", scale=1, elem_id="connectors-refresh")
            sync = gr.Button("Sync now", variant="primary", scale=1, elem_id="connector-sync")
            pause = gr.Button("Pause", scale=1, elem_id="connector-pause")
            resume = gr.Button("Resume", scale=1, elem_id="connector-resume")
        message = gr.Markdown(elem_id="connectors-status")
        detail = gr.Markdown(elem_id="connector-details")
        with gr.Row(equal_height=True):
            confirm = gr.Button("Confirm removal", scale=1, elem_id="connector-confirm")
            dismiss = gr.Button("Dismiss (keep them)", scale=1, elem_id="connector-dismiss")
            remove_choice = gr.Radio(
                REMOVE_CHOICES, value=None, label="On removal", scale=2, elem_id="connector-remove-choice"
            )
            remove = gr.Button("Remove connector", variant="stop", scale=1, elem_id="connector-remove")
        history = readonly_table(HISTORY_HEADERS, "connector-history", "Sync history, newest first")
        with gr.Accordion("Add a connector", open=False):
            gr.Markdown(kinds_text())
            with gr.Row():
                kind = gr.Dropdown(
                    list(ConnectorManager.kinds()), label="Kind", elem_id="connector-kind", scale=1
                )
                name = gr.Textbox(label="Name", placeholder="hr-share", max_lines=1, scale=1)
                every = gr.Textbox(label="Every (blank: the kind's default)", placeholder="1h", scale=1)
                audience = gr.Textbox(label="Audience (blank: everyone)", max_lines=1, scale=2)
            settings = gr.Textbox(label="Settings", lines=3, placeholder="path=/mnt/share/handbook")
            add = gr.Button("Add connector", variant="primary", elem_id="connector-add")

        changed = [message, table, detail, history]
        tab.select(actions.listing, None, [table], api_visibility="private")
        refresh.click(actions.listing, None, [table], api_name="list_connectors")
        table.select(actions.select_row, None, [picked], api_visibility="private")
        picked.change(actions.show, [picked], [detail, history], api_name="show_connector")
        add.click(actions.add, [kind, name, settings, every, audience], changed, api_name="add_connector")
        sync.click(actions.sync_now, [picked], changed, api_name="sync_connector")
        pause.click(actions.pause, [picked], changed, api_name="pause_connector")
        resume.click(actions.resume, [picked], changed, api_name="resume_connector")
        confirm.click(actions.confirm, [picked], changed, api_name="confirm_connector")
        dismiss.click(actions.dismiss, [picked], changed, api_name="dismiss_connector")
        remove.click(actions.remove, [picked, remove_choice], changed, api_name="remove_connector")
    return actions

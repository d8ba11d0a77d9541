"""Traces tab: what people asked (in Slack, the CLI and here), what Needle answered, how they rated it."""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.debugger import DEBUGGER_TAB, DebuggerTab
from admin.tabs.tables import readonly_table
from pipelines.service.facade import NeedleService

ORIGINS = [
    ("All", "all"),
    ("Slack", "slack"),
    ("CLI", "cli"),
    ("Admin console", "admin"),
    ("API", "api"),
    ("Lab comparisons", "compare"),
]


class TracesActions:
    def __init__(self, service: NeedleService, debugger: DebuggerTab) -> None:
        self.service = service
        self.debugger = debugger

    def recent(self, origin: str, limit: float) -> list[list[Any]]:
        """Newest first; ``origin`` "all" shows every face. A viewer's account lists only answers built
        from sources for everyone (see :mod:`pipelines.app.visibility`)."""
        count = max(1, min(int(limit or 50), 1000))
        view = session_view(self.service)
        return render.trace_rows(view.recent_traces(limit=count, origin=None if origin == "all" else origin))

    def open_row(self, event: gr.SelectData) -> tuple[Any, ...]:
        """A click on any cell of a row opens that row's trace (its id is the last column) in the debugger."""
        row = event.row_value or []
        if not row:
            raise gr.Error("Click a row with a trace.")
        return (gr.Tabs(selected=DEBUGGER_TAB), *self.debugger.show_trace(str(row[-1])))


def build_traces_tab(service: NeedleService, debugger: DebuggerTab, tabs: gr.Tabs) -> gr.Tab:
    actions = TracesActions(service, debugger)
    with gr.Tab("Traces", id="traces") as tab:
        gr.Markdown(
            "Recent questions with their answers and feedback. Click a row to open its trace in the "
            "retrieval debugger; every trace also has a stable link (`/admin/?trace=<id>`), the one Slack's "
            "“Debug this answer” button opens."
        )
        with gr.Row():
            origin = gr.Dropdown(ORIGINS, value="all", label="From", scale=2)
            limit = gr.Number(value=50, label="How many", minimum=1, maximum=1000, precision=0, scale=1)
            refresh_button = gr.Button("Refresh", scale=1)
        table = readonly_table(
            render.TRACE_HEADERS, "traces-table", "Recent answers (click a row to debug it)"
        )
    tab.select(actions.recent, [origin, limit], [table], api_visibility="private")
    refresh_button.click(actions.recent, [origin, limit], [table], api_name="recent_traces")
    origin.input(actions.recent, [origin, limit], [table], api_visibility="private")
    table.select(actions.open_row, None, [tabs, *debugger.outputs], api_visibility="private")
    return tab

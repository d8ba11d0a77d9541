"""Feedback tab: the 👍/👎 people gave, with their reasons; each opens the answer's trace."""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin import render
from admin.tabs.debugger import DEBUGGER_TAB, DebuggerTab
from admin.tabs.tables import readonly_table
from pipelines.service import NeedleService

RATINGS = [("All", "all"), ("👍 Helpful", "up"), ("👎 Not helpful", "down")]


class FeedbackActions:
    def __init__(self, service: NeedleService, debugger: DebuggerTab) -> None:
        self.service = service
        self.debugger = debugger

    def filtered(self, rating: str, contains: str) -> list[list[Any]]:
        """Newest first; ``contains`` matches the reason, question or answer (any case)."""
        if rating not in ("all", "up", "down"):
            raise gr.Error("Rating must be all, up or down.")
        items = self.service.feedback(limit=500, rating=None if rating == "all" else rating)
        needle = (contains or "").strip().casefold()
        if needle:
            items = [
                item
                for item in items
                if any(
                    needle in str(item.get(key) or "").casefold() for key in ("reason", "question", "answer")
                )
            ]
        return render.feedback_rows(items)

    def open_row(self, event: gr.SelectData) -> tuple[Any, ...]:
        row = event.row_value or []
        if not row:
            raise gr.Error("Click a row with feedback.")
        return (gr.Tabs(selected=DEBUGGER_TAB), *self.debugger.show_trace(str(row[-1])))


def build_feedback_tab(service: NeedleService, debugger: DebuggerTab, tabs: gr.Tabs) -> gr.Tab:
    actions = FeedbackActions(service, debugger)
    with gr.Tab("Feedback", id="feedback") as tab:
        gr.Markdown("What people said about answers. Click a row to open the answer's trace in the debugger.")
        with gr.Row():
            rating = gr.Radio(RATINGS, value="all", label="Rating", scale=2)
            contains = gr.Textbox(label="Containing", max_lines=1, scale=2)
            refresh_button = gr.Button("Refresh", scale=1)
        table = readonly_table(
            render.FEEDBACK_HEADERS, "feedback-table", "Feedback (click a row to debug the answer)"
        )
    tab.select(actions.filtered, [rating, contains], [table], api_visibility="private")
    refresh_button.click(actions.filtered, [rating, contains], [table], api_name="feedback")
    rating.input(actions.filtered, [rating, contains], [table], api_visibility="private")
    contains.submit(actions.filtered, [rating, contains], [table], api_visibility="private")
    table.select(actions.open_row, None, [tabs, *debugger.outputs], api_visibility="private")
    return tab

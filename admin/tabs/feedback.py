"""Feedback tab: the 👍/👎 people gave, with their reasons. A row selects an answer, which opens in the
debugger or becomes a retrieval test case (the Retrieval lab's form, opened on its question)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.debugger import DEBUGGER_TAB, DebuggerTab
from admin.tabs.tables import readonly_table
from pipelines.records.escalations import EscalationLog
from pipelines.service.facade import NeedleService

RATINGS = [("All", "all"), ("👍 Helpful", "up"), ("👎 Not helpful", "down")]
ESCALATION_HEADERS = ["When (UTC)", "Channel", "Asked by", "User group", "Question", "Trace id"]


class FeedbackActions:
    def __init__(self, service: NeedleService, debugger: DebuggerTab) -> None:
        self.service = service
        self.debugger = debugger

    def filtered(self, rating: str, contains: str) -> list[list[Any]]:
        """Newest first; ``contains`` matches the reason, question or answer (any case). A viewer's
        account sees votes on answers built from sources for everyone only."""
        if rating not in ("all", "up", "down"):
            raise gr.Error("Rating must be all, up or down.")
        view = session_view(self.service)
        items = view.feedback(limit=500, rating=None if rating == "all" else rating)
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

    def escalations(self) -> list[list[Any]]:
        """Answers someone asked a person about ("Ask a person" in Slack), newest first; a viewer's
        account sees those whose answers it may see."""
        escalations = EscalationLog(self.service.records).list()
        visible = session_view(self.service).visible_trace_ids(item.trace_id for item in escalations)
        return [
            [
                render.timestamp(item.at),
                item.channel_id,
                item.user_id,
                item.usergroup,
                item.question,
                item.trace_id,
            ]
            for item in escalations
            if item.trace_id in visible
        ]

    def select_row(self, event: gr.SelectData) -> tuple[str, str]:
        """A click on a row selects its answer (the trace id is the last column)."""
        row = event.row_value or []
        if not row:
            raise gr.Error("Click a row with feedback.")
        rating, question = row[1], row[4]
        return str(row[-1]), f"Selected: {rating} “{render.md_text(question)}”"

    def open_selected(self, trace_id: str) -> tuple[Any, ...]:
        if not (trace_id or "").strip():
            raise gr.Error("Click a row first.")
        return (gr.Tabs(selected=DEBUGGER_TAB), *self.debugger.show_trace(trace_id))


@dataclass
class FeedbackTab:
    """The selected answer and the button that turns it into a test case (wired by the lab tab)."""

    selected: gr.Textbox
    add_case: gr.Button


def build_feedback_tab(service: NeedleService, debugger: DebuggerTab, tabs: gr.Tabs) -> FeedbackTab:
    actions = FeedbackActions(service, debugger)
    with gr.Tab("Feedback", id="feedback") as tab:
        gr.Markdown(
            "What people said about answers. Click a row to select the answer, then open its trace in the "
            "debugger, or turn a 👎 into a retrieval test case."
        )
        with gr.Row():
            rating = gr.Radio(RATINGS, value="all", label="Rating", scale=2)
            contains = gr.Textbox(label="Containing", max_lines=1, scale=2)
            refresh_button = gr.Button("Refresh", scale=1)
        table = readonly_table(
            render.FEEDBACK_HEADERS, "feedback-table", "Feedback (click a row to select it)"
        )
        with gr.Row():
            chosen = gr.Markdown("Selected: nothing yet.", elem_id="feedback-selected-text")
            selected = gr.Textbox(label="Trace id", max_lines=1, elem_id="feedback-selected", scale=2)
            open_button = gr.Button("Open in debugger", scale=1, elem_id="feedback-open")
            add_case = gr.Button(
                "Add as a test case", variant="primary", scale=1, elem_id="feedback-add-case"
            )
        escalated = readonly_table(
            ESCALATION_HEADERS, "escalations-table", 'Asked for a person ("Ask a person" in Slack)'
        )
    tab.select(actions.filtered, [rating, contains], [table], api_visibility="private")
    # The public event first: it takes the name "escalations" (a private one would take it otherwise).
    refresh_button.click(actions.escalations, None, [escalated], api_name="escalations")
    tab.select(actions.escalations, None, [escalated], api_visibility="private")
    refresh_button.click(actions.filtered, [rating, contains], [table], api_name="feedback")
    rating.input(actions.filtered, [rating, contains], [table], api_visibility="private")
    contains.submit(actions.filtered, [rating, contains], [table], api_visibility="private")
    table.select(actions.select_row, None, [selected, chosen], api_visibility="private")
    open_button.click(actions.open_selected, [selected], [tabs, *debugger.outputs], api_visibility="private")
    return FeedbackTab(selected=selected, add_case=add_case)

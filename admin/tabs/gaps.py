"""Gaps tab: what people asked that Needle could not answer well, grouped into topics, and the form
that turns an expert's answer into a verified answer (from a topic, or from a trace by id).

Reading goes through :func:`session_view`: a topic counts every question, but shows a viewer's account
only the questions and trace links of answers it may see (see :mod:`pipelines.knowledge.gaps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.knowledge.gaps import parse_since
from pipelines.knowledge.verified import default_review_by, today
from pipelines.service import NeedleService

GAP_HEADERS = [
    "Topic",
    "People",
    "Questions",
    "Examples",
    "Channels",
    "First asked",
    "Last asked",
    "Why",
    "Traces",
]
#: Fits 1280 px without a horizontal scroll: the examples get the room, a trace id wraps in its cell.
GAP_COLUMN_WIDTHS = ["5%", "6%", "8%", "30%", "9%", "9%", "9%", "9%", "15%"]
GAPS_TAB = "gaps"
VERIFIED_HEADERS = ["Id", "Question", "Expert", "Verified on", "Review by", "State", "Audience"]


class GapsActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def topics(self, since: str) -> tuple[list[list[Any]], str]:
        """The gap topics of the period, most people first."""
        try:
            seconds = parse_since(since)
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None
        view = session_view(self.service)
        topics = self.service.knowledge.gaps(
            seconds, may_see_trace=None if view.unrestricted else view.visible_trace_ids
        )
        rows = [
            [
                topic.topic,
                topic.people,
                topic.count,
                "\n".join(topic.examples) or f"({topic.hidden} answers you may not see)",
                ", ".join(topic.channels),
                render.timestamp(topic.first_asked),
                render.timestamp(topic.last_asked),
                ", ".join(f"{name} {count}" for name, count in sorted(topic.reasons.items())),
                " ".join(topic.trace_ids[:5]),
            ]
            for topic in topics
        ]
        line = f"{len(topics)} topics, {sum(t.count for t in topics)} questions in the last {since or '30d'}."
        return rows, line

    def select_topic(self, event: gr.SelectData) -> tuple[str, str]:
        """A click on a topic fills the form with its first example and newest trace."""
        row = event.row_value or []
        if not row:
            raise gr.Error("Click a topic.")
        examples = str(row[3] or "").split("\n")
        traces = str(row[-1] or "").split()
        question = examples[0] if not examples[0].startswith("(") else ""
        return question, traces[0] if traces else ""

    def from_trace(self, trace_id: str) -> str:
        """The question of a trace (one this account may see) for the form."""
        trace_id = (trace_id or "").strip()
        if not trace_id:
            raise gr.Error("Give a trace id.")
        try:
            trace = session_view(self.service).trace(trace_id)
        except NeedleError as error:
            raise gr.Error(str(error), print_exception=False) from None
        if trace is None:
            raise gr.Error(f"No trace {trace_id!r}.", print_exception=False)
        return str(trace.get("question") or "")

    def save_verified(
        self,
        question: str,
        answer: str,
        expert: str,
        review_by: str,
        audience: str,
        trace_id: str,
        request: gr.Request,
    ) -> tuple[str, list[list[Any]]]:
        actor = request.username if request else None
        try:
            item = self.service.knowledge.add_verified(
                question,
                answer,
                (expert or "").strip() or actor or "admin",
                review_by=(review_by or "").strip() or None,
                audience=(audience or "").strip() or None,
                trace_id=(trace_id or "").strip() or None,
                actor=actor,
            )
        except NeedleError as error:
            raise gr.Error(f"Nothing was saved: {error}.", print_exception=False) from None
        message = (
            f"✅ Saved verified answer `{item.answer_id}` ({render.md_text(item.label())}, review by "
            f"{item.review_by}). Questions with the same meaning are answered from it first."
        )
        return message, self.verified()

    def verified(self) -> list[list[Any]]:
        """Every verified answer this account may see (its audience), newest change first."""
        view = session_view(self.service)
        return [
            [
                item.answer_id,
                item.question,
                item.expert,
                item.verified_on,
                item.review_by,
                "verified"
                if item.is_current()
                else item.status
                if item.status == "expired"
                else "past review",
                ", ".join(item.audience),
            ]
            for item in self.service.knowledge.verified.list()
            if view.viewer.may_see(item.audience)
        ]

    def open_verified(self, answer_id: str) -> tuple[str, str, str, list[list[Any]]]:
        """One verified answer picked for renewal (the expert's reminder links ``?verified=<id>``): its id
        and a new review-by date (six months on) in the boxes beside "Renew", and what it says. An id this
        account may not see reads as an unknown one."""
        answer_id = (answer_id or "").strip()
        listed = self.verified()
        try:
            item = self.service.knowledge.verified.get(answer_id)
        except NeedleError:
            item = None
        if item is None or not session_view(self.service).viewer.may_see(item.audience):
            return "", "", f"No verified answer `{render.md_text(answer_id)}` to show.", listed
        state = (
            "is given as verified"
            if item.is_current()
            else "was expired by hand"
            if item.status == "expired"
            else f"passed its review date ({item.review_by}) and is no longer given as verified"
        )
        quoted = "\n".join(f"> {render.md_text(line)}" for line in item.answer.splitlines())
        message = (
            f"Verified answer `{item.answer_id}` to “{render.md_text(item.question)}” "
            f"({render.md_text(item.label())}) {state}.\n\n{quoted}\n\n"
            "If it is still right, press **Renew** (with the review-by date beside it)."
        )
        return item.answer_id, default_review_by(today()).isoformat(), message, listed

    def open_linked(self, request: gr.Request) -> tuple[Any, ...]:
        """When the page loads with ``?verified=<id>`` (the link in the expert's renewal reminder in
        Slack): the Gaps tab, opened on that answer (:meth:`open_verified`); otherwise nothing changes."""
        answer_id = (request.query_params.get("verified") or "").strip() if request else ""
        if not answer_id:
            return tuple(gr.skip() for _ in range(5))  # the tabs and the four of open_verified
        return (gr.Tabs(selected=GAPS_TAB), *self.open_verified(answer_id))

    def select_verified(self, event: gr.SelectData) -> str:
        """A click on a verified answer's row picks its id for Renew, Expire or Remove."""
        row = event.row_value or []
        return str(row[0]) if row else ""

    def renew_verified(
        self, answer_id: str, review_by: str, request: gr.Request
    ) -> tuple[str, list[list[Any]]]:
        """A new review-by date (default: six months on): given as verified again, audited as an edit."""
        actor = request.username if request else None
        review = (review_by or "").strip() or default_review_by(today()).isoformat()
        try:
            item = self.service.knowledge.edit_verified(
                (answer_id or "").strip(), review_by=review, actor=actor
            )
        except NeedleError as error:
            raise gr.Error(f"Nothing was renewed: {error}.", print_exception=False) from None
        return f"Renewed `{item.answer_id}`: given as verified until {item.review_by}.", self.verified()

    def expire_verified(self, answer_id: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        actor = request.username if request else None
        try:
            item = self.service.knowledge.expire_verified((answer_id or "").strip(), actor=actor)
        except NeedleError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return f"Expired `{item.answer_id}`: it is no longer given as verified.", self.verified()

    def remove_verified(self, answer_id: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        actor = request.username if request else None
        try:
            item = self.service.knowledge.remove_verified((answer_id or "").strip(), actor=actor)
        except NeedleError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return f"Removed `{item.answer_id}` and its source.", self.verified()


@dataclass
class GapsTab:
    """What the page's load needs to open a linked verified answer (``?verified=<id>``): the outputs of
    :meth:`GapsActions.open_linked` after the tabs."""

    actions: GapsActions
    linked_outputs: list[Any]


def build_gaps_tab(service: NeedleService) -> GapsTab:
    actions = GapsActions(service)
    with gr.Tab("Gaps", id=GAPS_TAB) as tab:
        gr.Markdown(
            "Questions Needle could not answer, answered with a 👎, or took to a person, grouped by meaning. "
            "Click a topic to answer it once, as a verified answer."
        )
        with gr.Row():
            since = gr.Textbox(value="30d", label="Period (30d, 12h, 2w)", max_lines=1, scale=1)
            refresh = gr.Button("Refresh", scale=1)
        summary = gr.Markdown(elem_id="gaps-summary")
        table = readonly_table(
            GAP_HEADERS, "gaps-table", "Gap topics (most people first)", column_widths=GAP_COLUMN_WIDTHS
        )
        gr.Markdown("### Save a verified answer")
        with gr.Row():
            trace_id = gr.Textbox(label="From trace id (optional)", max_lines=1, elem_id="verified-trace")
            load_trace = gr.Button("Use this trace's question", scale=0)
        question = gr.Textbox(label="Question", max_lines=2, elem_id="verified-question")
        answer = gr.Textbox(label="Answer", lines=4, elem_id="verified-answer")
        with gr.Row():
            expert = gr.Textbox(label="Expert (Slack id or name; default: you)", max_lines=1)
            review_by = gr.Textbox(label="Review by (YYYY-MM-DD; default: in six months)", max_lines=1)
            audience = gr.Textbox(label="Audience (blank: everyone; channel:C…)", max_lines=1)
        save = gr.Button("Save verified answer", variant="primary", elem_id="verified-save")
        status = gr.Markdown(elem_id="verified-status")
        verified = readonly_table(VERIFIED_HEADERS, "verified-table", "Verified answers")
        with gr.Row():
            chosen = gr.Textbox(label="Verified answer id", max_lines=1, scale=2, elem_id="verified-chosen")
            renew_by = gr.Textbox(
                label="New review-by (YYYY-MM-DD; default: in six months)",
                max_lines=1,
                scale=2,
                elem_id="verified-renew-by",
            )
            renew = gr.Button("Renew", scale=1, elem_id="verified-renew")
            expire = gr.Button("Expire", scale=1)
            remove = gr.Button("Remove", variant="stop", scale=1)
    refresh.click(actions.topics, [since], [table, summary], api_name="gaps")
    tab.select(actions.topics, [since], [table, summary], api_visibility="private")
    since.submit(actions.topics, [since], [table, summary], api_visibility="private")
    table.select(actions.select_topic, None, [question, trace_id], api_visibility="private")
    load_trace.click(actions.from_trace, [trace_id], [question], api_name="verified_from_trace")
    save.click(
        actions.save_verified,
        [question, answer, expert, review_by, audience, trace_id],
        [status, verified],
        api_name="add_verified",
    )
    tab.select(actions.verified, None, [verified], api_visibility="private")
    refresh.click(actions.verified, None, [verified], api_name="verified_answers")
    expire.click(actions.expire_verified, [chosen], [status, verified], api_name="expire_verified")
    remove.click(actions.remove_verified, [chosen], [status, verified], api_name="remove_verified")
    renew.click(actions.renew_verified, [chosen, renew_by], [status, verified], api_name="renew_verified")
    verified.select(actions.select_verified, None, [chosen], api_visibility="private")
    return GapsTab(actions, [chosen, renew_by, status, verified])

"""Retrieval debugger: ask with any retrieval knobs, or open a recorded trace, and see every stage.

Questions asked here and traces opened from Slack's "Debug this answer" link are shown by the same
renderer, so an admin explains a Slack answer with exactly the view they use to experiment. Below the
trace: the full fused ranking (the trace keeps only the passages the answerer got), how fusion was done
and whether the dense list was left out, a source's ranks in every list with ``needle why``'s
explanation, a re-run of the trace with its own question and settings, and "this question should have
found…", which turns the question into a retrieval test case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.tables import readonly_table
from pipelines.app.visibility import ConsoleView
from pipelines.base.errors import NeedleError
from pipelines.lab.why import (
    Explanation,
    Ranked,
    format_explanation,
    fusion_note,
    trace_request,
)
from pipelines.querying.answering import QueryOptions
from pipelines.records.audience import ADMIN, Viewer
from pipelines.records.cases import RetrievalCase
from pipelines.service.facade import NeedleService

DEBUGGER_TAB = "debugger"
NO_RERANKER_NOTE = "no reranker model configured (NEEDLE_RERANKER_MODEL)"
#: Entries of the full fused ranking shown (the issue asks for at least 50; the candidates run to 400).
FULL_FUSED_ROWS = 200
FIND_HEADERS = [
    "Chunk",
    "BM25 rank",
    "BM25 score",
    "Dense rank",
    "Cosine",
    "Fused rank",
    "Fused score",
    "To answerer",
    "Text",
]
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,30}$")
#: What the "view as" boxes say to an account that may not use them (see ``pipelines.app.visibility``).
VIEW_AS_REFUSED = "Editors and owners only: your account sees what everyone may see."


@dataclass
class DebuggerTab:
    """What other tabs need to open a trace here: the id box, the outputs and the handler that fills them."""

    trace_id: gr.Textbox
    outputs: list[Any]
    show_trace: Callable[[str], tuple[Any, ...]]
    #: The two "view as" boxes, and the handler that disables them for a viewer when the page opens.
    view_as: list[gr.Textbox]
    view_as_controls: Callable[[], tuple[gr.Textbox, gr.Textbox]]


class DebuggerActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def view_as_controls(self) -> tuple[gr.Textbox, gr.Textbox]:
        """ "View as" stays usable for editors and owners; a viewer's boxes are disabled and say why (the
        core refuses it for them anyway, see :meth:`ConsoleView.answer_viewer`)."""
        if session_view(self.service).unrestricted:
            return gr.Textbox(), gr.Textbox()
        return (
            gr.Textbox(value="", interactive=False, placeholder=VIEW_AS_REFUSED),
            gr.Textbox(value="", interactive=False, placeholder=VIEW_AS_REFUSED),
        )

    def filter_choices(self) -> tuple[gr.Dropdown, ...]:
        """Tags and sources as they are now (those this account may see), for the filters and the two
        source pickers."""
        sources = session_view(self.service).sources()
        choices = render.source_choices(sources)
        return (
            gr.Dropdown(choices=render.tag_choices(sources)),
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=choices),
        )

    def ask(
        self,
        question: str,
        tags: list[str] | None,
        source_ids: list[str] | None,
        bm25_top_k: float,
        dense_top_k: float,
        top_k: float,
        fusion: str,
        rrf_k: float,
        bm25_weight: float,
        dense_weight: float,
        rerank: bool,
        view_user: str = "",
        view_channel: str = "",
        request: gr.Request | None = None,
    ) -> tuple[Any, ...]:
        """Answer as Slack would, with this form's retrieval settings, and show the trace it leaves.

        ``view_user``/``view_channel``: answer as this Slack user, or as posted in this channel, would be
        answered (its audience applies); both blank: as an admin, who sees every source. A viewer's
        account answers with the sources for everyone and may not "view as" (see
        :mod:`pipelines.app.visibility`).
        """
        if fusion not in ("rrf", "weighted"):
            raise gr.Error("Fusion must be 'rrf' or 'weighted'.")
        options = QueryOptions(
            bm25_top_k=_positive(bm25_top_k, "BM25 top-k"),
            dense_top_k=_positive(dense_top_k, "Dense top-k"),
            top_k=_positive(top_k, "Passages to the answerer"),
            fusion=fusion,
            rrf_k=_positive(rrf_k, "RRF k"),
            bm25_weight=_weight(bm25_weight, "BM25 weight"),
            dense_weight=_weight(dense_weight, "Dense weight"),
            rerank=bool(rerank) if self.service.has_ranker else None,
        )
        requested = view_as(view_user, view_channel)
        try:
            viewer = session_view(self.service).answer_viewer(requested)
            answer = self.service.ask(
                question or "",
                tags=tags or None,
                source_ids=source_ids or None,
                origin="admin",
                user_id=request.username if request else None,
                options=options,
                viewer=viewer,
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return self.show_trace(answer.trace_id)

    def rerun(self, trace_id: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Ask an opened trace's question again with its own history, filters, viewer and settings (a
        viewer's account re-runs it with the sources for everyone)."""
        view = session_view(self.service)
        trace = self._trace(trace_id, view)
        asked = trace_request(trace)
        fields = QueryOptions.__dataclass_fields__
        options = QueryOptions(**{name: value for name, value in asked.values.items() if name in fields})
        try:
            answer = self.service.ask(
                asked.question,
                history=asked.history,
                tags=asked.tags or None,
                source_ids=asked.source_ids or None,
                origin="admin",
                user_id=request.username if request else None,
                options=options,
                viewer=view.rerun_viewer(trace),
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return self.show_trace(answer.trace_id)

    def ranking(self, trace_id: str) -> tuple[Any, ...]:
        """The trace's full fused ranking, recomputed with its question, filters and settings, and how
        fusion made it (including whether, and why, the dense list was left out)."""
        trace_id = (trace_id or "").strip()
        view = session_view(self.service)
        # Runs whenever the trace id box changes, also while an admin types into it: stay quiet.
        trace = self.service.get_trace(trace_id) if render.TRACE_ID_PATTERN.match(trace_id) else None
        if trace is None or not view.may_see_trace(trace):
            return [], "", [], ""
        lists = view.trace_lists(trace)
        recorded = next(
            (
                i["retrieval"]["dense_skipped"]
                for i in trace.get("fused") or []
                if (i.get("retrieval") or {}).get("dense_skipped")
            ),
            None,
        )
        note = fusion_note(lists.fusion)
        if recorded and not lists.fusion.dense_left_out:
            note += f" When the question was answered, the dense list was left out: {recorded}."
        rows = render.fused_rows(_as_trace_items(lists.fused[:FULL_FUSED_ROWS]))
        return rows, render.md_text(note), [], ""  # and clear the previous trace's "find" results

    def find(self, trace_id: str, target: str) -> tuple[list[list[Any]], str]:
        """A source's (or chunk's) ranks in every list for the opened trace, and why."""
        view = session_view(self.service)
        trace = self._trace(trace_id, view)
        if not (target or "").strip():
            raise gr.Error("Pick a source (or paste a chunk id) to find.")
        try:
            explanation = view.explain_trace(trace, target)
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return find_rows(explanation), format_explanation(explanation)

    def add_case(
        self, trace_id: str, source_id: str, chunk_ids: str, note: str, request: gr.Request | None = None
    ) -> str:
        """ "This question should have found…": the opened trace's question becomes a test case."""
        trace = self._trace(trace_id, session_view(self.service))
        chunks = render.parse_tags(chunk_ids)
        if not (source_id or "").strip() and not chunks:
            raise gr.Error("Pick the source that should have been found (or give a chunk id).")
        sources = [source_id.strip()] if (source_id or "").strip() else []
        try:
            case = self.service.add_case(
                RetrievalCase(
                    question=str(trace.get("question") or ""),
                    expected_sources=sources,
                    expected_chunks=chunks,
                    added_by=request.username if request else None,
                    origin="debugger",
                    trace_id=trace["trace_id"],
                    note=(note or "").strip() or None,
                )
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return f"Added test case `{case.case_id}`; compare configurations on it in the Retrieval lab tab."

    def _trace(self, trace_id: str, view: ConsoleView) -> dict[str, Any]:
        trace_id = (trace_id or "").strip()
        if not render.TRACE_ID_PATTERN.match(trace_id):
            raise gr.Error("Open a trace first (ask a question, or paste a trace id and open it).")
        try:
            trace = view.trace(trace_id)
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        if trace is None:
            raise gr.Error(f"No trace with id {trace_id}.")
        return trace

    def show_trace(self, trace_id: str) -> tuple[Any, ...]:
        """Every stage of one recorded answer, in the order of :attr:`DebuggerTab.outputs`."""
        trace_id = (trace_id or "").strip()
        if not render.TRACE_ID_PATTERN.match(trace_id):
            raise gr.Error(
                "That is not a trace id (32 letters and digits, as in a 'Debug this answer' link)."
            )
        try:
            trace = session_view(self.service).trace(trace_id)
        except NeedleError as error:  # it used documents this account may not see
            raise gr.Error(str(error)) from None
        if trace is None:
            raise gr.Error(f"No trace with id {trace_id}; it may come from another Needle installation.")
        reranked = trace.get("reranked")
        settings = trace.get("settings") or {}
        return (
            trace_id,
            render.trace_heading(trace),
            trace.get("question", ""),
            render.answer_text(trace),
            render.citation_rows(trace),
            render.timing_rows(trace.get("timings_ms")),
            render.ranked_rows(trace.get("bm25")),
            render.ranked_rows(trace.get("dense")),
            render.fused_rows(trace.get("fused")),
            render.ranked_rows(reranked),
            "" if reranked is not None else _not_reranked_note(self.service.has_ranker),
            trace.get("prompt") or "(no prompt: the answer was built without the LLM)",
            {
                "settings": settings,
                "filters": trace.get("filters"),
                "retrieval_query": trace.get("retrieval_query"),
            },
            render.trace_feedback_rows(trace.get("feedback")),
        )


def view_as(user_id: str | None, channel_id: str | None) -> Viewer:
    """The debugger's "view as": blank is an admin (every source); a channel id is an answer posted in
    that channel (a DM id, D…, is private); a user id alone is a private answer to that user. Slack's
    group and channel memberships are not looked up: a user sees what is shared with them directly."""
    user = (user_id or "").strip().upper() or None
    channel = (channel_id or "").strip().upper() or None
    for value, what in ((user, "user id"), (channel, "channel id")):
        if value is not None and not _SLACK_ID.match(value):
            raise gr.Error(f"The {what} to view as is a Slack id such as U0123ABCD or C0123ABCD.")
    if user is None and channel is None:
        return ADMIN
    if channel is not None and not channel.startswith("D"):
        return Viewer(user_id=user, channel_id=channel, private=False)
    return Viewer(user_id=user, private=True)


def _as_trace_items(items: list[Ranked]) -> list[dict[str, Any]]:
    """Ranked chunks in the shape a trace stores them, so the fused table renders them alike."""
    return [
        {
            "rank": item.rank,
            "id": item.chunk_id,
            "score": item.score,
            "source_id": item.source_id,
            "title": item.meta.get("title"),
            "page": item.meta.get("page"),
            "chunk_index": item.meta.get("chunk_index"),
            "retrieval": item.meta.get("retrieval"),
            "preview": item.content[:240],
        }
        for item in items
    ]


def find_rows(explanation: Explanation) -> list[list[Any]]:
    """One row per chunk of the target: its rank and score in every list, and whether it was used."""

    def score(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    rows = []
    for chunk in sorted(explanation.chunks, key=lambda c: (c.fused_rank or 10**9, c.chunk_index or 0)):
        rows.append(
            [
                "" if chunk.chunk_index is None else chunk.chunk_index + 1,
                chunk.bm25_rank or "",
                score(chunk.bm25_score),
                chunk.dense_rank or "",
                score(chunk.cosine),
                chunk.fused_rank or "",
                score(chunk.fused_score),
                "yes" if chunk.reached_answerer else ("excluded" if chunk.excluded_by else "no"),
                chunk.preview,
            ]
        )
    return rows


def _not_reranked_note(has_ranker: bool) -> str:
    return (
        "Not reranked: switched off for this question."
        if has_ranker
        else f"Not reranked: {NO_RERANKER_NOTE}."
    )


def _positive(value: float | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 1 or value != int(value):
        raise gr.Error(f"{name} must be a whole number of at least 1.")
    return int(value)


def _weight(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if value < 0:
        raise gr.Error(f"{name} cannot be negative.")
    return float(value)


#: Column widths by table, so that at 1280 px every header and score fits without breaking inside a word.
_WIDTHS = {
    tuple(render.RANKED_HEADERS): ["6%", "8%", "18%", "6%", "6%", "56%"],
    tuple(render.FUSED_HEADERS): ["6%", "8%", "6%", "7%", "6%", "7%", "14%", "6%", "6%", "34%"],
    tuple(render.CITATION_HEADERS): ["11%", "34%", "37%", "18%"],
}


def _table(label: str, headers: list[str], elem_id: str) -> gr.Dataframe:
    widths = _WIDTHS.get(tuple(headers))
    return readonly_table(headers, elem_id, label, column_widths=widths, max_height=420)


def build_debugger_tab(service: NeedleService) -> DebuggerTab:
    actions = DebuggerActions(service)
    s = service.settings
    with gr.Tab("Retrieval debugger", id=DEBUGGER_TAB) as tab:
        with gr.Row():
            question = gr.Textbox(
                label="Question",
                placeholder="How many vacation days do I get?",
                scale=4,
                elem_id="debug-question",
            )
            ask_button = gr.Button("Ask and trace", variant="primary", scale=1, elem_id="debug-ask")
        with gr.Accordion("Filters and retrieval settings", open=False):
            with gr.Row():
                tags = gr.Dropdown(
                    label="Only sources tagged", choices=[], multiselect=True, allow_custom_value=True
                )
                source_ids = gr.Dropdown(
                    label="Only these sources", choices=[], multiselect=True, allow_custom_value=True
                )
            with gr.Row():
                bm25_top_k = gr.Number(label="BM25 top-k", value=s.bm25_top_k, minimum=1, precision=0)
                dense_top_k = gr.Number(label="Dense top-k", value=s.dense_top_k, minimum=1, precision=0)
                top_k = gr.Number(label="Passages to the answerer", value=s.top_k, minimum=1, precision=0)
            with gr.Row():
                fusion = gr.Radio(["rrf", "weighted"], value=s.fusion, label="Fusion")
                rrf_k = gr.Number(label="RRF k", value=s.rrf_k, minimum=1, precision=0)
                bm25_weight = gr.Number(label="BM25 weight", value=s.bm25_weight, minimum=0)
                dense_weight = gr.Number(label="Dense weight", value=s.dense_weight, minimum=0)
                rerank = gr.Checkbox(
                    label="Rerank",
                    value=service.has_ranker,
                    interactive=service.has_ranker,
                    info=(
                        "rescore the fused list with NEEDLE_RERANKER_MODEL (this question only)"
                        if service.has_ranker
                        else NO_RERANKER_NOTE
                    ),
                )
        with gr.Row():
            view_user = gr.Textbox(
                label="View as user (Slack user id)",
                value="",
                max_lines=1,
                placeholder="blank: an admin, who sees every source",
                elem_id="debug-view-user",
            )
            view_channel = gr.Textbox(
                label="…or as posted in channel (channel id)",
                value="",
                max_lines=1,
                placeholder="C0123ABCD: only sources that channel's members may all see",
                elem_id="debug-view-channel",
            )
        with gr.Row():
            trace_id = gr.Textbox(label="Trace id", max_lines=1, scale=4, elem_id="debug-trace-id")
            open_button = gr.Button("Open trace", scale=1)
            rerun_button = gr.Button("Re-run this trace", scale=1, elem_id="debug-rerun")
        heading = gr.Markdown(elem_id="debug-heading")
        with gr.Row():
            with gr.Column(scale=2):
                asked = gr.Textbox(label="Question asked", interactive=False, max_lines=3)
                answer = gr.Textbox(label="Answer", interactive=False, lines=4, elem_id="debug-answer")
            with gr.Column(scale=2):
                citations = _table("Citations", render.CITATION_HEADERS, "debug-citations")
            with gr.Column(scale=1):
                timings = _table("Time per stage (ms)", render.TIMING_HEADERS, "debug-timings")
        # One above the other: side by side, each list had 600 px at 1280 and broke its scores and headers.
        bm25 = _table("BM25 (keyword) list", render.RANKED_HEADERS, "debug-bm25")
        dense = _table("Dense (embedding) list", render.RANKED_HEADERS, "debug-dense")
        fused = _table(
            "Fused list, with each retriever's rank and score", render.FUSED_HEADERS, "debug-fused"
        )
        reranked = _table("Reranked list", render.RANKED_HEADERS, "debug-reranked")
        rerank_note = gr.Markdown()
        fusion_text = gr.Markdown(elem_id="debug-fusion-note")
        full_fused = _table(
            "Full fused ranking: every candidate, recomputed with the trace's question, filters and settings",
            render.FUSED_HEADERS,
            "debug-fused-full",
        )
        with gr.Group():
            gr.Markdown("**Find a source in every list**, and why it ranks where it does (`needle why`).")
            with gr.Row():
                find_source = gr.Dropdown(
                    label="Source (type to search) or a chunk id",
                    choices=[],
                    allow_custom_value=True,
                    filterable=True,
                    scale=4,
                    elem_id="debug-find-source",
                )
                find_button = gr.Button("Find and explain", scale=1, elem_id="debug-find")
            found = readonly_table(
                FIND_HEADERS,
                "debug-find-table",
                "Its chunks in every list",
                column_widths=["6%", "7%", "8%", "7%", "8%", "7%", "8%", "8%", "41%"],
            )
            why_text = gr.Textbox(
                label="Why", interactive=False, lines=10, buttons=["copy"], elem_id="debug-why"
            )
        with gr.Group():
            gr.Markdown("**This question should have found…** — save it as a retrieval test case.")
            with gr.Row():
                case_source = gr.Dropdown(
                    label="The right source (type to search)",
                    choices=[],
                    allow_custom_value=True,
                    filterable=True,
                    scale=3,
                    elem_id="debug-case-source",
                )
                case_chunks = gr.Textbox(label="…or chunk ids (comma-separated)", max_lines=1, scale=2)
                case_note = gr.Textbox(label="Note", max_lines=1, scale=2)
                case_button = gr.Button("Add as a test case", scale=1, elem_id="debug-add-case")
            case_status = gr.Markdown(elem_id="debug-case-status")
        prompt = gr.Textbox(
            label="Exact prompt sent to the LLM",
            interactive=False,
            lines=12,
            buttons=["copy"],
            elem_id="debug-prompt",
        )
        with gr.Row():
            feedback = _table("Feedback on this answer", render.TRACE_FEEDBACK_HEADERS, "debug-feedback")
            with gr.Accordion("Settings and filters used", open=False):
                used = gr.JSON(show_label=False)

    outputs = [
        trace_id,
        heading,
        asked,
        answer,
        citations,
        timings,
        bm25,
        dense,
        fused,
        reranked,
        rerank_note,
        prompt,
        used,
        feedback,
    ]
    knobs = [
        question,
        tags,
        source_ids,
        bm25_top_k,
        dense_top_k,
        top_k,
        fusion,
        rrf_k,
        bm25_weight,
        dense_weight,
        rerank,
        view_user,
        view_channel,
    ]
    pickers = [tags, source_ids, find_source, case_source]
    tab.select(actions.filter_choices, None, pickers, api_visibility="private")
    ask_button.click(actions.ask, knobs, outputs, api_name="debug_query", concurrency_limit=4)
    question.submit(actions.ask, knobs, outputs, api_visibility="private", concurrency_limit=4)
    open_button.click(actions.show_trace, [trace_id], outputs, api_name="open_trace")
    trace_id.submit(actions.show_trace, [trace_id], outputs, api_visibility="private")
    rerun_button.click(actions.rerun, [trace_id], outputs, api_name="rerun_trace", concurrency_limit=4)
    # Every way a trace is opened (asked here, opened, re-run, a row of another tab, a link) sets the id.
    trace_id.change(
        actions.ranking,
        [trace_id],
        [full_fused, fusion_text, found, why_text],
        api_visibility="private",
        concurrency_limit=4,
    )
    find_button.click(actions.find, [trace_id, find_source], [found, why_text], api_name="find_in_lists")
    case_button.click(
        actions.add_case, [trace_id, case_source, case_chunks, case_note], [case_status], api_name="add_case"
    )
    return DebuggerTab(
        trace_id=trace_id,
        outputs=outputs,
        show_trace=actions.show_trace,
        view_as=[view_user, view_channel],
        view_as_controls=actions.view_as_controls,
    )

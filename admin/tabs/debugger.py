"""Retrieval debugger: ask with any retrieval knobs, or open a recorded trace, and see every stage.

Questions asked here and traces opened from Slack's "Debug this answer" link are shown by the same
renderer, so an admin explains a Slack answer with exactly the view they use to experiment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.tabs.tables import readonly_table
from pipelines.errors import NeedleError
from pipelines.service import NeedleService, QueryOptions

DEBUGGER_TAB = "debugger"
NO_RERANKER_NOTE = "no reranker model configured (NEEDLE_RERANKER_MODEL)"


@dataclass
class DebuggerTab:
    """What other tabs need to open a trace here: the id box, the outputs and the handler that fills them."""

    trace_id: gr.Textbox
    outputs: list[Any]
    show_trace: Callable[[str], tuple[Any, ...]]


class DebuggerActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def filter_choices(self) -> tuple[gr.Dropdown, gr.Dropdown]:
        sources = self.service.list_sources()
        return gr.Dropdown(choices=render.tag_choices(sources)), gr.Dropdown(
            choices=render.source_choices(sources)
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
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """Answer as Slack would, with this form's retrieval settings, and show the trace it leaves."""
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
        try:
            answer = self.service.ask(
                question or "",
                tags=tags or None,
                source_ids=source_ids or None,
                origin="admin",
                user_id=request.username if request else None,
                options=options,
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return self.show_trace(answer.trace_id)

    def show_trace(self, trace_id: str) -> tuple[Any, ...]:
        """Every stage of one recorded answer, in the order of :attr:`DebuggerTab.outputs`."""
        trace_id = (trace_id or "").strip()
        if not render.TRACE_ID_PATTERN.match(trace_id):
            raise gr.Error(
                "That is not a trace id (32 letters and digits, as in a 'Debug this answer' link)."
            )
        trace = self.service.get_trace(trace_id)
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


_WIDTHS = {
    len(render.RANKED_HEADERS): ["7%", "9%", "20%", "6%", "7%", "51%"],
    len(render.FUSED_HEADERS): ["5%", "8%", "6%", "7%", "6%", "7%", "15%", "5%", "5%", "36%"],
}


def _table(label: str, headers: list[str], elem_id: str) -> gr.Dataframe:
    widths = _WIDTHS.get(len(headers)) if headers[-1] == "Text" else None
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
            trace_id = gr.Textbox(label="Trace id", max_lines=1, scale=4, elem_id="debug-trace-id")
            open_button = gr.Button("Open trace", scale=1)
        heading = gr.Markdown(elem_id="debug-heading")
        with gr.Row():
            with gr.Column(scale=3):
                asked = gr.Textbox(label="Question asked", interactive=False, max_lines=3)
                answer = gr.Textbox(label="Answer", interactive=False, lines=4, elem_id="debug-answer")
            with gr.Column(scale=2):
                citations = _table("Citations", render.CITATION_HEADERS, "debug-citations")
            with gr.Column(scale=1):
                timings = _table("Time per stage (ms)", render.TIMING_HEADERS, "debug-timings")
        with gr.Row():
            bm25 = _table("BM25 (keyword) list", render.RANKED_HEADERS, "debug-bm25")
            dense = _table("Dense (embedding) list", render.RANKED_HEADERS, "debug-dense")
        fused = _table(
            "Fused list, with each retriever's rank and score", render.FUSED_HEADERS, "debug-fused"
        )
        reranked = _table("Reranked list", render.RANKED_HEADERS, "debug-reranked")
        rerank_note = gr.Markdown()
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
    ]
    tab.select(actions.filter_choices, None, [tags, source_ids], api_visibility="private")
    ask_button.click(actions.ask, knobs, outputs, api_name="debug_query", concurrency_limit=4)
    question.submit(actions.ask, knobs, outputs, api_visibility="private", concurrency_limit=4)
    open_button.click(actions.show_trace, [trace_id], outputs, api_name="open_trace")
    trace_id.submit(actions.show_trace, [trace_id], outputs, api_visibility="private")
    return DebuggerTab(trace_id=trace_id, outputs=outputs, show_trace=actions.show_trace)

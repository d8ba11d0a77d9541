"""Retrieval lab: test cases from real questions, a candidate configuration against the live one, and
promotion (with a note, refused when it loses cases unless confirmed), history and rollback.

The handlers are thin: cases are :mod:`pipelines.records.cases`, comparing and promoting
:mod:`pipelines.lab.compare`,
the live configuration and its history :mod:`pipelines.records.retrieval_config`. Every change is made as the
console's signed-in user, which the audit log records. A viewer's account lists, exports and compares
on only the cases whose expected sources (and trace) everyone may see
(:meth:`pipelines.app.visibility.ConsoleView.may_see_case`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.feedback import FeedbackTab
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.lab.compare import Comparison, compare_cases, promote
from pipelines.records.cases import RetrievalCase, export_lines
from pipelines.records.retrieval_config import Promotion, effective_values, parse_assignments
from pipelines.service.facade import NeedleService

LAB_TAB = "lab"
CASE_HEADERS = ["Case id", "Question", "Should find", "From", "Added by", "Note", "Trace id"]
METRIC_HEADERS = ["Metric", "Live", "Candidate", "Change"]
OUTCOME_HEADERS = [
    "Outcome",
    "Live rank",
    "Candidate rank",
    "Lost?",
    "Case id",
    "Question",
    "Live answer",
    "Candidate answer",
    "Live trace",
    "Candidate trace",
]
#: The trace columns are links (Markdown); the rest plain text, so a question cannot inject markup.
OUTCOME_DATATYPES = ["str", "str", "str", "str", "str", "str", "str", "str", "markdown", "markdown"]
HISTORY_HEADERS = ["Config id", "Promoted (UTC)", "By", "Values", "Note", "Rolled back from"]
OUTCOME_LABELS = {"better": "⬆️ better", "worse": "⬇️ worse", "same": "= same"}
MAX_IMPORT_BYTES = 5 * 1024 * 1024


# ------------------------------------------------------------------------------------------------------
# Rows and text (pure)
# ------------------------------------------------------------------------------------------------------
def case_rows(cases: list[RetrievalCase]) -> list[list[Any]]:
    return [
        [
            case.case_id,
            case.question,
            ", ".join([*case.expected_sources, *(f"chunk {c[:12]}…" for c in case.expected_chunks)]),
            case.origin,
            case.added_by or "",
            case.note or "",
            case.trace_id or "",
        ]
        for case in cases
    ]


def metric_rows(comparison: Comparison) -> list[list[Any]]:
    rows = []
    for name, live in comparison.live_metrics.items():
        candidate = comparison.candidate_metrics.get(name, 0.0)
        change = candidate - live
        label = comparison.metric_label(name)
        rows.append([label, f"{live:.4f}", f"{candidate:.4f}", f"{change:+.4f}" if change else "0"])
    return rows


def trace_link(trace_id: str | None) -> str:
    """A comparison trace as a link to the console's stable trace URL (``?trace=<id>``, the form Slack's
    "Debug this answer" opens): one click shows that run in the debugger, with "why" one more away."""
    if not trace_id or not render.TRACE_ID_PATTERN.match(trace_id):
        return "-"
    return f"[{trace_id[:8]}…](?trace={trace_id})"


def answer_text(reached: bool, found: bool, answered: bool) -> str:
    """One run's answer to a case, in a cell: answered from the expected source, or what went wrong."""
    if answered:
        return "✅ answered"
    if found:
        return "cites other sources"
    return "not found" + ("" if reached else " (source not given)")


def outcome_rows(comparison: Comparison) -> list[list[Any]]:
    """Lost cases first, then worse, better, same: what an admin must look at comes first; each with
    the links to its two runs' traces."""
    order = {"worse": 1, "better": 2, "same": 3}
    ordered = sorted(comparison.cases, key=lambda c: 0 if c.lost else order[c.outcome])
    return [
        [
            OUTCOME_LABELS[case.outcome],
            case.live_rank or "-",
            case.candidate_rank or "-",
            "⚠️ LOST" if case.lost else "",
            case.case_id,
            case.question,
            answer_text(case.live_reached, case.live_found, case.live_answered),
            answer_text(case.candidate_reached, case.candidate_found, case.candidate_answered),
            trace_link(case.live_trace_id),
            trace_link(case.candidate_trace_id),
        ]
        for case in ordered
    ]


def comparison_summary(comparison: Comparison) -> str:
    counts = {outcome: sum(1 for c in comparison.cases if c.outcome == outcome) for outcome in OUTCOME_LABELS}
    changed = {k: v for k, v in comparison.candidate.items() if comparison.live.get(k) != v}
    what = ", ".join(f"{k}={v}" for k, v in changed.items()) or "no change"
    line = (
        f"Candidate ({render.md_text(what)}) on {len(comparison.cases)} case(s): "
        f"**{counts['better']}** better, **{counts['worse']}** worse, **{counts['same']}** the same."
    )
    if comparison.lost:
        line += (
            f" ⚠️ **{len(comparison.lost)} case(s) lost**: the live configuration answers them from their "
            "source (or gives it to the answerer) and the candidate does not. Promoting needs your "
            "confirmation."
        )
    return line


def live_text(live: Promotion | None, values: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    if live is None:
        return f"**Live configuration:** the environment's defaults · {render.md_text(shown)}"
    return (
        f"**Live configuration:** `{live.config_id}` promoted by {render.md_text(live.promoted_by or '?')} "
        f"on {render.timestamp(live.at)} UTC (“{render.md_text(live.note)}”) · {render.md_text(shown)}"
    )


def history_rows(history: list[Promotion]) -> list[list[Any]]:
    return [
        [
            item.config_id,
            render.timestamp(item.at),
            item.promoted_by or "",
            ", ".join(f"{k}={v}" for k, v in item.values.items()) or "(defaults)",
            item.note,
            item.rolled_back_from or "",
        ]
        for item in history
    ]


def rollback_choices(history: list[Promotion]) -> list[tuple[str, str]]:
    """Earlier configurations, most recent first (the one before the live one is the default pick),
    then the environment's defaults."""
    choices = [
        (f"{item.config_id} — {item.note[:60]}", item.config_id) for item in history[1:] if item.config_id
    ]
    return [*choices, ("the environment's defaults", "default")]


# ------------------------------------------------------------------------------------------------------
# Handlers
# ------------------------------------------------------------------------------------------------------
class LabActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def cases(self) -> tuple[list[list[Any]], gr.Dropdown, gr.Dropdown]:
        """The case list, the remove picker and the source picker, as they are now (what the signed-in
        account may see)."""
        view = session_view(self.service)
        cases = view.cases()
        return (
            case_rows(cases),
            gr.Dropdown(choices=[(f"{c.case_id} — {c.question[:60]}", c.case_id) for c in cases], value=None),
            gr.Dropdown(choices=render.source_choices(view.sources())),
        )

    def from_trace(self, trace_id: str) -> tuple[Any, ...]:
        """Switch to this tab with the "add a case" form on a trace's question (the feedback tab's 👎)."""
        return (gr.Tabs(selected=LAB_TAB), *self.prefill(trace_id))

    def prefill(self, trace_id: str) -> tuple[str, str, str, str]:
        """The "add a case" form on a trace's question, its 👎 reasons as the note."""
        trace_id = (trace_id or "").strip()
        if not render.TRACE_ID_PATTERN.match(trace_id):
            raise gr.Error("Select an answer first (its trace id).")
        try:
            trace = session_view(self.service).trace(trace_id)
        except NeedleError as error:  # it used documents this account may not see
            raise gr.Error(str(error)) from None
        if trace is None:
            raise gr.Error(f"No trace with id {trace_id}.")
        note = "; ".join(str(f.get("reason")) for f in trace.get("feedback") or [] if f.get("reason"))
        status = "Pick the source that should have answered this question, then add the case."
        return str(trace.get("question", "")), trace_id, note, status

    def add(
        self,
        question: str,
        trace_id: str,
        source_id: str,
        chunk_ids: str,
        note: str,
        request: gr.Request | None = None,
    ) -> tuple[Any, ...]:
        sources = [source_id.strip()] if (source_id or "").strip() else []
        trace_id = (trace_id or "").strip()
        origin = "console"  # typed in by an admin
        if trace_id:
            origin = "feedback" if self._has_negative_feedback(trace_id) else "trace"
        try:
            case = self.service.add_case(
                RetrievalCase(
                    question=question or "",
                    expected_sources=sources,
                    expected_chunks=render.parse_tags(chunk_ids),
                    added_by=_actor(request),
                    origin=origin,
                    trace_id=trace_id or None,
                    note=(note or "").strip() or None,
                )
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return (f"Added case `{case.case_id}`.", *self.cases())

    def _has_negative_feedback(self, trace_id: str) -> bool:
        trace = self.service.get_trace(trace_id) or {}
        return any(item.get("rating") == "down" for item in trace.get("feedback") or [])

    def remove(self, case_id: str) -> tuple[Any, ...]:
        if not (case_id or "").strip():
            raise gr.Error("Pick a case to remove.")
        if not self.service.cases.remove(case_id.strip()):
            raise gr.Error(f"No case {case_id}; it may have been removed already.")
        return (f"Removed case `{render.md_text(case_id)}`.", *self.cases())

    def import_file(self, path: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        if not path:
            raise gr.Error("Choose a JSON-lines file of cases to import.")
        file = Path(path)
        if file.stat().st_size > MAX_IMPORT_BYTES:
            raise gr.Error("That file is over 5 MB; a case file is a few kilobytes.")
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
            added = self.service.import_cases(lines, added_by=_actor(request))
        except UnicodeDecodeError:
            raise gr.Error("That file is not UTF-8 text (JSON lines).") from None
        except NeedleError as error:
            raise gr.Error(f"Nothing imported: {error}") from None
        return (f"Imported {len(added)} case(s).", *self.cases())

    def export_file(self) -> str:
        """The cases the signed-in account may see as JSON lines (as ``needle cases export`` writes
        them), in a file the browser downloads."""
        lines = export_lines(session_view(self.service).cases())
        if not lines:
            raise gr.Error("There are no cases to export yet.")
        folder = Path(tempfile.mkdtemp(prefix="needle-cases-"))
        path = folder / "needle-cases.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    def compare(self, candidate: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        """The live configuration and the candidate on every case the signed-in account may see (each
        run kept as a trace, by the signed-in user)."""
        try:
            values = parse_assignments(candidate or "")
            view = session_view(self.service)
            comparison = compare_cases(
                self.service, values, cases=view.cases(), actor=_actor(request), viewer=view.viewer
            )
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        return comparison_summary(comparison), metric_rows(comparison), outcome_rows(comparison)

    def promote(
        self, candidate: str, note: str, confirm: bool, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        """Make the candidate live; refused when it loses cases the live configuration answers, unless
        confirmed."""
        try:
            values = parse_assignments(candidate or "")
            if not values:
                raise NeedleError("write the candidate's settings first, e.g. dense_weight=0.5")
            promoted, comparison = promote(self.service, values, _actor(request), note or "", bool(confirm))
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        lost = f" ({len(comparison.lost)} lost case(s) confirmed)" if comparison and comparison.lost else ""
        status = f"Promoted `{promoted.config_id}`{lost}: it applies to the next question, in every process."
        return (status, *self.configuration())

    @staticmethod
    def unconfirm() -> bool:
        """After a promotion, untick "promote even if cases are lost": it confirms one promotion only."""
        return False

    def rollback(self, config_id: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        if not (config_id or "").strip():
            raise gr.Error("Pick the configuration to return to.")
        try:
            promoted = self.service.configs.rollback(config_id.strip(), _actor(request))
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        status = f"Rolled back to {render.md_text(config_id)}: `{promoted.config_id}` is live."
        return (status, *self.configuration())

    def configuration(self) -> tuple[Any, ...]:
        """The live configuration, the history and the rollback picker."""
        configs = self.service.configs
        history = configs.history()
        choices = rollback_choices(history)
        return (
            live_text(configs.live(), effective_values(configs.live_settings())),
            history_rows(history),
            gr.Dropdown(choices=choices, value=choices[0][1]),
        )

    def refresh(self) -> tuple[Any, ...]:
        return (*self.cases(), *self.configuration())


def _actor(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request else None


# ------------------------------------------------------------------------------------------------------
# Layout
# ------------------------------------------------------------------------------------------------------
@dataclass
class LabTab:
    """What other tabs need to open the "add a case" form on a trace."""

    question: gr.Textbox
    trace_id: gr.Textbox
    note: gr.Textbox
    status: gr.Markdown
    from_trace: Any


def build_lab_tab(service: NeedleService, tabs: gr.Tabs, feedback: FeedbackTab | None = None) -> LabTab:
    actions = LabActions(service)
    with gr.Tab("Retrieval lab", id=LAB_TAB) as tab:
        gr.Markdown(
            "Turn bad answers into **test cases**, compare a **candidate** retrieval configuration with the "
            "live one on every case, **promote** the winner with a note, and **roll back** in one click."
        )
        status = gr.Markdown(elem_id="lab-status")
        with gr.Accordion("Add a test case", open=True):
            with gr.Row():
                question = gr.Textbox(label="Question", max_lines=2, scale=3, elem_id="lab-question")
                trace_id = gr.Textbox(label="From trace id", max_lines=1, scale=2, elem_id="lab-trace-id")
                load_button = gr.Button("Load the trace's question", scale=1)
            with gr.Row():
                source = gr.Dropdown(
                    label="Should find this source (type to search)",
                    choices=[],
                    allow_custom_value=True,
                    filterable=True,
                    scale=3,
                    elem_id="lab-source",
                )
                chunks = gr.Textbox(label="…or these chunk ids (comma-separated)", max_lines=1, scale=2)
                note = gr.Textbox(label="Note", max_lines=1, scale=2, elem_id="lab-note")
                add_button = gr.Button("Add case", variant="primary", scale=1, elem_id="lab-add")
        table = readonly_table(
            CASE_HEADERS,
            "lab-cases",
            "Test cases",
            column_widths=["10%", "30%", "16%", "8%", "9%", "14%", "13%"],
            max_height=360,
        )
        with gr.Row():
            remove_pick = gr.Dropdown(
                label="Case", choices=[], scale=3, allow_custom_value=True, elem_id="lab-remove-pick"
            )
            remove_button = gr.Button("Remove case", variant="stop", scale=1)
            import_file = gr.File(
                label="Import JSON lines", file_types=[".jsonl", ".json", ".txt"], type="filepath", scale=2
            )
            import_button = gr.Button("Import", scale=1)
            export_button = gr.DownloadButton("Export JSON lines", scale=1)

        gr.Markdown("### Compare a candidate configuration")
        with gr.Row():
            candidate = gr.Textbox(
                label="Candidate (KEY=VALUE, ...)",
                placeholder="dense_weight=0.5,fusion=rrf",
                max_lines=1,
                scale=4,
                elem_id="lab-candidate",
            )
            compare_button = gr.Button("Compare", variant="primary", scale=1, elem_id="lab-compare")
        summary = gr.Markdown(elem_id="lab-summary")
        with gr.Row():
            metrics = readonly_table(
                METRIC_HEADERS,
                "lab-metrics",
                "Live and candidate (nDCG@10, Recall@100, MRR@10, hit@top_k, answered)",
            )
        outcomes = readonly_table(
            OUTCOME_HEADERS,
            "lab-outcomes",
            "Per case (lost cases first; a trace opens that run in the debugger)",
            column_widths=["9%", "6%", "8%", "7%", "10%", "24%", "9%", "9%", "9%", "9%"],
            datatype=OUTCOME_DATATYPES,
            max_height=420,
        )
        with gr.Row():
            promote_note = gr.Textbox(
                label="Why promote (kept with it)", max_lines=1, scale=3, elem_id="lab-note-promote"
            )
            confirm = gr.Checkbox(
                label="Promote even if cases are lost", value=False, scale=1, elem_id="lab-confirm"
            )
            promote_button = gr.Button("Promote candidate", variant="primary", scale=1, elem_id="lab-promote")

        gr.Markdown("### Live configuration and history")
        live = gr.Markdown(elem_id="lab-live")
        history = readonly_table(
            HISTORY_HEADERS,
            "lab-history",
            "Promotions, newest first",
            column_widths=["11%", "16%", "10%", "30%", "23%", "10%"],
            max_height=320,
        )
        with gr.Row():
            # Any value: a script's session never loaded the choices; the core refuses unknown ids.
            rollback_pick = gr.Dropdown(
                label="Return to", choices=[], scale=3, allow_custom_value=True, elem_id="lab-rollback-pick"
            )
            rollback_button = gr.Button("Roll back", variant="stop", scale=1, elem_id="lab-rollback")

    case_outputs = [table, remove_pick, source]
    config_outputs = [live, history, rollback_pick]
    tab.select(actions.refresh, None, [*case_outputs, *config_outputs], api_visibility="private")
    load_button.click(
        actions.prefill, [trace_id], [question, trace_id, note, status], api_name="lab_from_trace"
    )
    add_button.click(
        actions.add,
        [question, trace_id, source, chunks, note],
        [status, *case_outputs],
        api_name="add_test_case",
    )
    remove_button.click(actions.remove, [remove_pick], [status, *case_outputs], api_name="remove_test_case")
    import_button.click(actions.import_file, [import_file], [status, *case_outputs], api_name="import_cases")
    export_button.click(actions.export_file, None, [export_button], api_name="export_cases")
    compare_button.click(
        actions.compare, [candidate], [summary, metrics, outcomes], api_name="compare", concurrency_limit=1
    )
    promote_button.click(
        actions.promote,
        [candidate, promote_note, confirm],
        [status, *config_outputs],
        api_name="promote",
        concurrency_limit=1,
    ).success(actions.unconfirm, None, [confirm], api_visibility="private")
    rollback_button.click(actions.rollback, [rollback_pick], [status, *config_outputs], api_name="rollback")
    if feedback is not None:  # the feedback tab's "add as a test case" opens this form on the answer
        feedback.add_case.click(
            actions.from_trace,
            [feedback.selected],
            [tabs, question, trace_id, note, status],
            api_visibility="private",
        ).then(actions.cases, None, case_outputs, api_visibility="private")
    return LabTab(
        question=question, trace_id=trace_id, note=note, status=status, from_trace=actions.from_trace
    )

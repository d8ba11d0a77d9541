"""The console's read-only tables: every tab lists rows of text people read and click, never edit.

On a narrow screen (a phone, 390 px) a table of seven or ten columns squeezed each to one character per
line. There, the tables named in :data:`NARROW_COLUMNS` show only the columns that matter, at widths
that fit, and a click on a row shows every column of that row in a detail box under the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from admin import render

#: Screens at most this wide show the narrow layout.
NARROW_PX = 640
#: Per table (its ``elem_id``): the columns shown on a narrow screen and their share of the width (%).
NARROW_COLUMNS: dict[str, dict[int, int]] = {
    "sources-table": {0: 60, 6: 40},  # Title, Audience
    "upload-results": {0: 40, 1: 25, 3: 35},  # File, Result, Notes
    "jobs-table": {0: 45, 1: 25, 2: 30},  # File, Status, Progress
    "debug-bm25": {0: 16, 2: 32, 5: 52},  # Rank, Source, Text
    "debug-dense": {0: 16, 2: 32, 5: 52},
    "debug-reranked": {0: 16, 2: 32, 5: 52},
    "debug-fused": {0: 16, 6: 32, 9: 52},  # Rank, Source, Text
    "debug-fused-full": {0: 16, 6: 32, 9: 52},
    "debug-find-table": {0: 18, 5: 20, 8: 62},  # Chunk, Fused rank, Text
    "debug-feedback": {1: 25, 2: 75},  # Rating, Reason
    "traces-table": {0: 30, 3: 70},  # Time, Question
    "feedback-table": {1: 15, 4: 85},  # Rating, Question
    "audit-table": {1: 25, 2: 30, 3: 45},  # Person, Action, What
    "accounts-table": {0: 60, 1: 40},  # Username, Role
}


def _narrow_css() -> str:
    rules = [".row-detail { display: none !important; }", f"@media (max-width: {NARROW_PX}px) {{"]
    rules.append("  .row-detail { display: block !important; }")
    for elem_id, shown in NARROW_COLUMNS.items():
        keep = "".join(f':not([data-heading="{i}"]):not([data-col="{i}"])' for i in shown)
        rules.append(
            f"  #{elem_id} th[data-heading]{keep}, #{elem_id} [role=gridcell][data-col]{keep} "
            "{ display: none !important; }"
        )
        for index, percent in shown.items():
            # Header cells are table cells (a percentage of the fixed-layout table), body cells flex items.
            rules.append(
                f'  #{elem_id} th[data-heading="{index}"] {{ width: {percent}% !important; '
                "min-width: 0 !important; max-width: none !important; }"
            )
            rules.append(
                f'  #{elem_id} [role=gridcell][data-col="{index}"] {{ width: {percent}% !important; '
                f"min-width: 0 !important; max-width: none !important; flex: 0 0 {percent}% !important; }}"
            )
        rules.append(
            f"  #{elem_id} table.header-table {{ width: 100% !important; table-layout: fixed !important; }}"
        )
        rules.append(f"  #{elem_id} .virtual-body {{ width: 100% !important; }}")
    rules.append("}")
    return "\n".join(rules)


#: Table headers break between words, never inside one (Gradio's default turned "Chunks" into "Ch/un/ks").
TABLE_CSS = """
.gradio-container table th, .gradio-container table th * {
    word-break: normal !important;
    overflow-wrap: normal !important;
    hyphens: none !important;
}
""" + _narrow_css()


class RowDetail:
    """A clicked row, every column of it, for the detail box of a narrow screen."""

    def __init__(
        self, headers: Sequence[str], formats: dict[int, Callable[[Any], str]] | None = None
    ) -> None:
        self.headers = list(headers)
        self.formats = formats or {}

    def show(self, event: gr.SelectData) -> str:
        """The row as "**Header**: value" lines, as plain text (cells hold documents' words)."""
        row = list(event.row_value or [])
        lines = []
        for index, (header, value) in enumerate(zip(self.headers, row, strict=False)):
            shown = self.formats[index](value) if index in self.formats else value
            if shown not in (None, ""):
                lines.append(f"**{render.md_text(header)}**: {render.md_text(shown)}")
        return "  \n".join(lines)


def readonly_table(
    headers: list[str],
    elem_id: str,
    label: str | None = None,
    detail_formats: dict[int, Callable[[Any], str]] | None = None,
    **options: Any,
) -> gr.Dataframe:
    """A table of strings with wrapped cells; ``options`` go to ``gr.Dataframe`` (widths, height, and
    ``datatype`` for columns that should sort as numbers). A table in :data:`NARROW_COLUMNS` gets its
    row detail box (``detail_formats``: how to show a column's raw value, e.g. a size in bytes)."""
    options.setdefault("datatype", "str")
    table = gr.Dataframe(
        headers=headers,
        label=label,
        interactive=False,
        wrap=True,
        elem_id=elem_id,
        **options,
    )
    if elem_id in NARROW_COLUMNS:
        detail = gr.Markdown(elem_id=f"{elem_id}-detail", elem_classes=["row-detail"])
        table.select(RowDetail(headers, detail_formats).show, None, [detail], api_visibility="private")
    return table

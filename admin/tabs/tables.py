"""The console's read-only tables: every tab lists rows of text people read and click, never edit."""

from __future__ import annotations

from typing import Any

import gradio as gr

#: Table headers break between words, never inside one (Gradio's default turned "Chunks" into "Ch/un/ks").
TABLE_CSS = """
.gradio-container table th, .gradio-container table th * {
    word-break: normal !important;
    overflow-wrap: normal !important;
    hyphens: none !important;
}
"""


def readonly_table(
    headers: list[str], elem_id: str, label: str | None = None, **options: Any
) -> gr.Dataframe:
    """A table of strings with wrapped cells; ``options`` go to ``gr.Dataframe`` (widths, height, and
    ``datatype`` for columns that should sort as numbers)."""
    options.setdefault("datatype", "str")
    return gr.Dataframe(
        headers=headers,
        label=label,
        interactive=False,
        wrap=True,
        elem_id=elem_id,
        **options,
    )

"""The console's read-only tables: every tab lists rows of text people read and click, never edit."""

from __future__ import annotations

from typing import Any

import gradio as gr


def readonly_table(
    headers: list[str], elem_id: str, label: str | None = None, **options: Any
) -> gr.Dataframe:
    """A table of strings with wrapped cells; ``options`` go to ``gr.Dataframe`` (widths, height)."""
    return gr.Dataframe(
        headers=headers,
        datatype="str",
        label=label,
        interactive=False,
        wrap=True,
        elem_id=elem_id,
        **options,
    )

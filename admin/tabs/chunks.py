"""Chunks tab: read one source the way the retrievers see it, chunk by chunk, with its metadata."""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_view
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.service.facade import NeedleService


class ChunksActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def source_list(self) -> gr.Dropdown:
        """The sources this account may read (a viewer: those for everyone)."""
        return gr.Dropdown(choices=render.source_choices(session_view(self.service).sources()))

    def show(self, source_id: str | None, contains: str) -> tuple[list[list[Any]], str]:
        """The chunks in reading order; ``contains`` narrows them to those with that text."""
        if not source_id:
            raise gr.Error("Pick a source first.")
        try:
            passages = session_view(self.service).source_chunks(source_id)
        except NeedleError as error:
            raise gr.Error(str(error)) from None
        rows = render.chunk_rows(passages, contains)
        found = f", {len(rows)} containing “{render.md_text(contains.strip())}”" if contains.strip() else ""
        return rows, f"{len(passages)} chunks{found}."


def build_chunks_tab(service: NeedleService) -> gr.Tab:
    actions = ChunksActions(service)
    with gr.Tab("Chunks", id="chunks") as tab:
        gr.Markdown(
            "A source as the retrievers see it: its chunks in reading order, with page, position and "
            "content hash. Use the search box to find the chunk that holds a sentence."
        )
        with gr.Row():
            source = gr.Dropdown(
                label="Source", choices=[], scale=3, allow_custom_value=True, elem_id="chunks-source"
            )
            contains = gr.Textbox(label="Only chunks containing", max_lines=1, scale=2)
            show_button = gr.Button("Show chunks", variant="primary", scale=1)
        summary = gr.Markdown()
        table = readonly_table(
            render.CHUNK_HEADERS,
            "chunks-table",
            column_widths=["5%", "6%", "8%", "7%", "14%", "60%"],
            max_height="75vh",  # room for several whole chunks, not one and a half
        )
    tab.select(actions.source_list, None, [source], api_visibility="private")
    show_button.click(actions.show, [source, contains], [table, summary], api_name="source_chunks")
    contains.submit(actions.show, [source, contains], [table, summary], api_visibility="private")
    source.input(actions.show, [source, contains], [table, summary], api_visibility="private")
    return tab

"""Rewrite tables in converted text as one labelled sentence per row."""

from __future__ import annotations

from dataclasses import replace

from haystack import Document, component

from pipelines.indexing.conversion.tables import linearize_aligned_tables, linearize_pipe_tables


@component
class TableLinearizer:
    """Turn every table row into "Header: cell; Header: cell." (see
    :mod:`pipelines.indexing.conversion.tables`).

    It runs after conversion because that is where all formats meet in one shape: trafilatura (HTML), the
    DOCX converter (``table_format="markdown"``) and the Markdown converter (which leaves pipe tables as
    written) all emit pipe tables, and the PDF converter emits columns separated by spaces. Space-aligned
    columns are read only in PDFs (``aligned_file_types``): in Markdown or plain text, aligned runs of
    spaces are as likely to be code or ASCII art.
    """

    def __init__(self, aligned_file_types: list[str] | None = None) -> None:
        """
        :param aligned_file_types: the ``file_type`` metas whose text is searched for space-aligned tables;
            ``["pdf"]`` by default.
        """
        self.aligned_file_types = ["pdf"] if aligned_file_types is None else list(aligned_file_types)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """The documents with their tables linearized; page breaks (form feeds) are kept."""
        out = []
        for document in documents:
            aligned = document.meta.get("file_type") in self.aligned_file_types
            pages = []
            for page in (document.content or "").split("\f"):
                text = linearize_aligned_tables(page) if aligned else page
                pages.append(linearize_pipe_tables(text))
            content = "\f".join(pages)
            out.append(document if content == document.content else replace(document, content=content))
        return {"documents": out}

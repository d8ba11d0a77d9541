"""Drop running headers, footers and page numbers from paged (PDF) documents."""

from __future__ import annotations

from dataclasses import replace

from haystack import Document, component

from pipelines.indexing.conversion.furniture import remove_page_furniture


@component
class PageFurnitureRemover:
    """Remove the lines a PDF repeats on every page (see :mod:`pipelines.indexing.conversion.furniture`).

    Runs on documents whose pages are separated by form feeds (the PDF converter's output) and keeps the
    form feeds, so the chunker still knows each chunk's page. Other documents pass through unchanged.
    """

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """The documents, with page furniture removed from those that have pages."""
        out = []
        for document in documents:
            text = document.content or ""
            if "\f" not in text and document.meta.get("file_type") != "pdf":
                out.append(document)
                continue
            cleaned = "\f".join(remove_page_furniture(text.split("\f")))
            out.append(replace(document, content=cleaned))
        return {"documents": out}

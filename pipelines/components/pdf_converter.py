"""PDF to text that keeps the page's layout: table columns stay apart and paragraphs stay separated."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from haystack import Document, component
from haystack.components.converters.utils import get_bytestream_from_source
from haystack.dataclasses import ByteStream
from pypdf import PageObject, PdfReader

logger = logging.getLogger(__name__)

#: Layout text with less than this share of the plain text's characters has lost some (pypdf drops rotated
#: text in layout mode, for one), so the page falls back to plain text.
MIN_LAYOUT_SHARE = 0.9


def _characters(text: str) -> int:
    return sum(1 for char in text if not char.isspace())


def page_text(page: PageObject) -> str:
    """The page's text in pypdf's layout mode, or in plain mode when layout mode fails or loses text.

    Plain mode joins a table's cells with single spaces ("London, Paris, New York, Zurich, Tokyo 240 EUR")
    and runs paragraphs together; layout mode places text where it is printed, so columns are separated by
    runs of spaces and paragraphs by blank lines, which :mod:`pipelines.conversion.tables` and the
    chunker's line joining rely on. Layout mode is younger and stricter than plain mode, so any page it
    cannot read, or reads with fewer characters, is taken in plain mode instead of losing the file.
    """
    plain = page.extract_text() or ""
    try:
        layout = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # pypdf's layout mode raises on some malformed fonts that plain mode tolerates
        logger.debug("layout extraction failed; using plain text", exc_info=True)
        return plain
    return layout if _characters(layout) >= MIN_LAYOUT_SHARE * _characters(plain) else plain


@component
class LayoutPdfToDocument:
    """Convert PDFs to one document each, pages separated by form feeds, in layout mode (see
    :func:`page_text`).

    Haystack's ``PyPDFToDocument`` offers layout mode too, but for the whole file: one page that layout
    mode cannot read would lose the file. A file pypdf cannot open is skipped with a warning, as Haystack's
    converters do, so the service reports it as unreadable.
    """

    @component.output_types(documents=list[Document])
    def run(self, sources: list[str | Path | ByteStream]) -> dict[str, list[Document]]:
        """One document per readable PDF, with the source's meta."""
        documents = []
        for path_or_stream in sources:
            try:
                source = get_bytestream_from_source(path_or_stream)
                reader = PdfReader(io.BytesIO(source.data))
                text = "\f".join(page_text(page) for page in reader.pages)
            except Exception as error:
                logger.warning("could not read a PDF (%s); skipping it", type(error).__name__)
                continue
            documents.append(Document(content=text, meta=dict(source.meta)))
        return {"documents": documents}

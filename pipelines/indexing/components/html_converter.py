"""HTML to text: trafilatura (through Haystack) for real pages, Python's own parser for deeply nested ones."""

from __future__ import annotations

import logging
from pathlib import Path

from haystack import Document, component
from haystack.components.converters import HTMLToDocument
from haystack.components.converters.utils import get_bytestream_from_source
from haystack.dataclasses import ByteStream

from pipelines.indexing.conversion.html_text import TextTooLongError, too_deep_for_lxml, visible_text
from pipelines.indexing.file_inspector import too_many_characters

logger = logging.getLogger(__name__)


@component
class NeedleHtmlToDocument:
    """Convert HTML pages to one document each, refusing a page whose text passes ``max_chars``.

    Haystack's ``HTMLToDocument`` (trafilatura) keeps the main content and drops navigation, which is what
    answers need; but it finds nothing in a page nested deeper than lxml parses (256 levels) and the file
    was then refused as having no text. When trafilatura finds nothing and the page is nested that deep,
    its visible text is read by :func:`pipelines.indexing.conversion.html_text.visible_text` instead. A
    page with
    no text at all still yields no document. The page's size is bounded by the upload limit, so its text
    is too; it is measured against ``max_chars`` once extracted.
    """

    def __init__(self, max_chars: int | None = None) -> None:
        self.max_chars = max_chars
        self._trafilatura = HTMLToDocument()

    @component.output_types(documents=list[Document])
    def run(self, sources: list[str | Path | ByteStream]) -> dict[str, list[Document]]:
        """One document per HTML page with text, with the source's meta.

        :raises RejectedFileError: the page's text passes ``max_chars`` characters.
        """
        documents = []
        for path_or_stream in sources:
            source = get_bytestream_from_source(path_or_stream)
            file_name = str(source.meta.get("file_name") or "the page")
            self._check_visible_text(file_name, source.data)
            found = self._trafilatura.run(sources=[source])["documents"]
            text = (found[0].content or "") if found else self._deep_text(file_name, source.data)
            if self.max_chars is not None and len(text) > self.max_chars:
                raise too_many_characters(file_name, self.max_chars)
            if text.strip():
                documents.append(Document(content=text, meta=dict(source.meta)))
        return {"documents": documents}

    def _check_visible_text(self, file_name: str, data: bytes) -> None:
        """Refuse a page whose visible text alone passes ``max_chars``, before trafilatura builds its tree
        (a 44 MB page of paragraphs took it minutes). A page of fewer bytes than that cannot hold so much
        text, so only larger ones pay for the linear pass."""
        if self.max_chars is None or len(data) <= self.max_chars:
            return
        try:
            visible_text(data.decode("utf-8", errors="replace"), self.max_chars)
        except TextTooLongError:
            raise too_many_characters(file_name, self.max_chars) from None

    def _deep_text(self, file_name: str, data: bytes) -> str:
        """The visible text of a page trafilatura found nothing in, if that is because of its depth."""
        if not too_deep_for_lxml(data):
            return ""  # lxml read it whole and trafilatura found no main text: keep its verdict
        logger.info("%s is nested deeper than lxml parses; read without a tree", file_name)
        return visible_text(data.decode("utf-8", errors="replace"))

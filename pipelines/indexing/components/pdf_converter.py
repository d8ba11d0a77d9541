"""PDF to text that keeps the page's layout: table columns stay apart and paragraphs stay separated."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from haystack import Document, component
from haystack.components.converters.utils import get_bytestream_from_source
from haystack.dataclasses import ByteStream
from pypdf import PageObject, PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from pipelines.base.errors import RejectedFileError
from pipelines.indexing.file_inspector import too_many_characters

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
    runs of spaces and paragraphs by blank lines, which :mod:`pipelines.indexing.conversion.tables` and the
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


#: Decoded content-stream bytes one page may hold. A page of text is tens of kilobytes; pypdf's plain
#: mode takes time quadratic in a page's text (2 MB of text operators: 9 s on a busy 2-core machine,
#: 8 MB: 140 s), so a larger page is refused before its text is extracted.
MAX_PAGE_CONTENT_BYTES = 2_000_000
#: Decoded content-stream bytes all pages may hold together (pages may share one stream, so a small file
#: can make every page decode the same 70 MB).
MAX_CONTENT_BYTES = 48_000_000
#: Levels of drawings within drawings (form XObjects) a page may nest. pypdf follows them recursively
#: and, past Python's recursion limit (about 300 levels), drops the page's text with a log line only.
MAX_FORM_DEPTH = 100


def content_bytes(page: PageObject) -> int:
    """The size of the page's content streams once decoded (pypdf refuses a stream past its own limits
    with ``LimitReachedError``). Decoding is done once: pypdf keeps the result for the extraction."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    resolved = contents.get_object()
    streams = resolved if isinstance(resolved, ArrayObject) else [resolved]
    return sum(len(stream.get_object().get_data()) for stream in streams if stream is not None)


def form_depth(page: PageObject, limit: int = MAX_FORM_DEPTH) -> int:
    """How many levels deep the page's form XObjects nest (each form counted once, so shared and cyclic
    forms end), stopping once past ``limit``."""
    depth = 0
    frontier: list[Any] = [page.get("/Resources")]
    seen: set[tuple[int, int] | int] = set()
    while frontier and depth <= limit:
        found: list[Any] = []
        for resources in frontier:
            xobjects = _resolved(_resolved(resources).get("/XObject"))
            for reference in xobjects.values():
                indirect = isinstance(reference, IndirectObject)
                key = (reference.idnum, reference.generation) if indirect else id(reference)
                form = _resolved(reference)
                if key not in seen and form.get("/Subtype") == "/Form":
                    seen.add(key)
                    found.append(form.get("/Resources"))
        depth += bool(found)
        frontier = found
    return depth


def _resolved(value: Any) -> DictionaryObject:
    value = value.get_object() if value is not None else None
    return value if isinstance(value, DictionaryObject) else DictionaryObject()


@component
class LayoutPdfToDocument:
    """Convert PDFs to one document each, pages separated by form feeds, in layout mode (see
    :func:`page_text`).

    Haystack's ``PyPDFToDocument`` offers layout mode too, but for the whole file: one page that layout
    mode cannot read would lose the file. Unlike Haystack's converters, a PDF that cannot be read is not
    skipped silently: the file is refused with the reason (:class:`RejectedFileError`), so the admin is not
    told to look for a scanned image when pypdf hit a decompression limit. A file that yields more than
    ``max_chars`` characters, or pages heavier than :data:`MAX_PAGE_CONTENT_BYTES`, is refused page by
    page as it is read, before the rest is extracted.
    """

    def __init__(self, max_chars: int | None = None) -> None:
        self.max_chars = max_chars

    @component.output_types(documents=list[Document])
    def run(self, sources: list[str | Path | ByteStream]) -> dict[str, list[Document]]:
        """One document per PDF, with the source's meta.

        :raises RejectedFileError: the PDF cannot be read, or is larger than Needle reads.
        """
        documents = []
        for path_or_stream in sources:
            source = get_bytestream_from_source(path_or_stream)
            text = self._text(str(source.meta.get("file_name") or "the PDF"), source.data)
            documents.append(Document(content=text, meta=dict(source.meta)))
        return {"documents": documents}

    def _text(self, file_name: str, data: bytes) -> str:
        pages: list[str] = []
        characters = content = 0
        try:
            for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):
                size = content_bytes(page)
                content += size
                if size > MAX_PAGE_CONTENT_BYTES or content > MAX_CONTENT_BYTES:
                    raise RejectedFileError(file_name, _too_heavy(number, size, content))
                if form_depth(page) > MAX_FORM_DEPTH:
                    raise RejectedFileError(
                        file_name,
                        f"page {number} of the PDF nests drawings within drawings (form XObjects) more than "
                        f"{MAX_FORM_DEPTH} levels deep; its text cannot be read",
                    )
                pages.append(page_text(page))
                characters += len(pages[-1])
                if self.max_chars is not None and characters > self.max_chars:
                    raise too_many_characters(file_name, self.max_chars)
        except RejectedFileError:
            raise
        except LimitReachedError as error:
            raise RejectedFileError(
                file_name,
                f"page {len(pages) + 1} of the PDF is larger than Needle reads ({error}); it may be a "
                "compression bomb and was not read",
            ) from None
        except Exception as error:  # pypdf raises many exception types on hostile input
            logger.warning("could not read a PDF (%s)", type(error).__name__)
            raise RejectedFileError(
                file_name, f"the text of page {len(pages) + 1} of the PDF cannot be read ({_short(error)})"
            ) from None
        return "\f".join(pages)


def _too_heavy(number: int, size: int, total: int) -> str:
    if size > MAX_PAGE_CONTENT_BYTES:
        return (
            f"page {number} of the PDF holds {size / 1e6:.1f} MB of drawing instructions, over the "
            f"{MAX_PAGE_CONTENT_BYTES / 1e6:.1f} MB a page may hold; it was not read"
        )
    return (
        f"the PDF's pages hold more than {MAX_CONTENT_BYTES / 1e6:.0f} MB of drawing instructions "
        f"(over the limit at page {number}); it was not read"
    )


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]

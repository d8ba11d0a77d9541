"""Decide what a file really is, and refuse it with a reason before it can touch the store.

Haystack's converters log a warning and return nothing for a file they cannot read; an admin who uploaded
a password-protected PDF deserves a sentence that says so. The inspector looks at the bytes (not the file
name) to pick a converter, and rejects what no converter can read: empty, oversized, encrypted, corrupt,
binary, compressed-bomb and unsupported files.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Literal

from pipelines.base.errors import RejectedFileError
from pipelines.base.sizes import format_size
from pipelines.text.decoding import DecodedText
from pipelines.text.decoding import decode_text as read_text

FileKind = Literal["pdf", "docx", "html", "markdown", "text"]

MIME_TYPES: dict[FileKind, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
}
SUPPORTED_EXTENSIONS: dict[str, FileKind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
}
SUPPORTED_DESCRIPTION = "PDF, Word (.docx), HTML, Markdown and plain-text files"

#: A DOCX's parts, uncompressed, may not exceed this (a real handbook chapter is a few MB).
MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_DOCX_COMPRESSION_RATIO = 100
#: XML elements a DOCX's parts may hold in all. python-docx keeps every element in memory and converts
#: tables cell by cell: 800,000 elements (one table of tiny cells) took 370 MB and most of a minute. A
#: 300-page Word document has about 150,000.
MAX_DOCX_XML_ELEMENTS = 300_000
#: Bytes of a UTF-8 (or any supported encoding's) character at most: a text file of more than
#: ``4 * max_chars`` bytes has more than ``max_chars`` characters whatever its encoding.
_MAX_BYTES_PER_CHAR = 4
MAX_PDF_PAGES = 2000

_HTML_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)


@dataclass(frozen=True)
class InspectedFile:
    """A file that passed inspection, with what the pipeline needs to convert it."""

    file_name: str
    kind: FileKind
    data: bytes
    sha256: str
    #: What the admin should know about how the text was read (a guessed encoding, replaced bytes).
    warnings: tuple[str, ...] = ()

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.kind]

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def safe_file_name(name: str) -> str:
    """The base name of an uploaded file, with directory parts and control characters removed.

    Browsers and Slack send whatever name the user's machine had; ``../../etc/passwd`` must not become a
    path, and a name is only ever used for display and for the source id.
    """
    base = PurePath(name.replace("\\", "/")).name
    # Bytes that are not UTF-8 (a name from an old archive) arrive as lone surrogates, which no JSON or
    # UTF-8 encoder accepts; bidirectional controls (U+202E) make "evil\u202egpj.exe" read "evilexe.jpg".
    base = re.sub(r"[\ud800-\udfff]", "\ufffd", base)
    base = re.sub(r"[\x00-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", base)
    base = base.strip().lstrip(".")
    return base[:200] or "unnamed"


def check_size(file_name: str, size: int, max_bytes: int) -> None:
    """Refuse a file over the upload limit; callers with a path check its size before reading it.

    :raises RejectedFileError: the file is larger than ``max_bytes``.
    """
    if size > max_bytes:
        raise RejectedFileError(
            file_name, f"the file is {format_size(size)}, over the upload limit of {format_size(max_bytes)}"
        )


def too_many_characters(file_name: str, max_chars: int) -> RejectedFileError:
    """The refusal of a file that yields more than ``max_chars`` characters of text (one wording for the
    inspector and every converter that counts while it extracts)."""
    return RejectedFileError(
        file_name,
        f"the file holds more than {max_chars:,} characters of text, the most one file may yield "
        "(NEEDLE_MAX_FILE_CHARS); split it into smaller files",
    )


def inspect_file(name: str, data: bytes, *, max_bytes: int, max_chars: int | None = None) -> InspectedFile:
    """Identify ``data`` and check that it can be converted.

    ``max_chars`` bounds the text a file may yield: plain text and Markdown are measured here, a Word
    document's parts are counted by a streaming scan before anything parses them whole; PDF and HTML are
    counted by their converters, while they extract.

    :raises RejectedFileError: with a reason a person can act on.
    """
    file_name = safe_file_name(name)
    if not data:
        raise RejectedFileError(file_name, "the file is empty")
    check_size(file_name, len(data), max_bytes)
    kind, decoded = _sniff_kind(file_name, data, max_chars)
    if max_chars is not None and decoded is not None and kind != "html" and len(decoded.text) > max_chars:
        raise too_many_characters(file_name, max_chars)
    digest = hashlib.sha256(data).hexdigest()
    if kind == "pdf":
        _check_pdf(file_name, data)
    elif kind == "docx":
        _check_docx(file_name, data, max_chars)
    if decoded is None:
        return InspectedFile(file_name=file_name, kind=kind, data=data, sha256=digest)
    # The converters read UTF-8; hand them UTF-8 whatever the file's own encoding was.
    return InspectedFile(
        file_name=file_name,
        kind=kind,
        data=decoded.text.encode("utf-8"),
        sha256=digest,
        warnings=decoded.warnings,
    )


def _sniff_kind(
    file_name: str, data: bytes, max_chars: int | None = None
) -> tuple[FileKind, DecodedText | None]:
    """The file's kind from its bytes, and for text kinds its decoded text (decoded once, used twice).

    A text or Markdown file too large to hold at most ``max_chars`` characters in any encoding is refused
    before it is decoded (a 45 MB line would otherwise be decoded and scanned for its encoding first)."""
    extension = PurePath(file_name).suffix.lower()
    declared = SUPPORTED_EXTENSIONS.get(extension)
    head = data[:1024]
    if head.lstrip()[:5] == b"%PDF-":
        return "pdf", None
    if head.startswith(b"PK\x03\x04"):
        return "docx", None  # checked in detail by _check_docx, which rejects other archives
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RejectedFileError(
            file_name, "this is a legacy Office file (.doc/.xls); save it as .docx or PDF and upload that"
        )
    most_bytes = None if max_chars is None else _MAX_BYTES_PER_CHAR * max_chars
    if most_bytes is not None and declared in ("text", "markdown") and len(data) > most_bytes:
        raise too_many_characters(file_name, most_bytes // _MAX_BYTES_PER_CHAR)
    decoded = decode_text(file_name, data, declared=declared)
    if not decoded.text.strip():
        raise RejectedFileError(file_name, "the file contains only whitespace, no text")
    if declared in ("html", "markdown", "text"):
        return declared, decoded
    if _HTML_SNIFF.match(decoded.text[:1024].encode("utf-8")):
        return "html", decoded
    if declared is None and extension:
        raise RejectedFileError(
            file_name, f"'{extension}' files are not supported; Needle reads {SUPPORTED_DESCRIPTION}"
        )
    return "text", decoded


def decode_text(file_name: str, data: bytes, *, declared: FileKind | None = None) -> DecodedText:
    """Decode a text file in whatever encoding it was saved in; see :mod:`pipelines.text.decoding`.

    :raises RejectedFileError: binary content, or text in no recognisable encoding.
    """
    what = f"'{PurePath(file_name).suffix}' " if declared is None and PurePath(file_name).suffix else ""
    reason = f"this {what}file is binary, not text; Needle reads {SUPPORTED_DESCRIPTION}"
    return read_text(file_name, data, binary_reason=reason)


def _check_pdf(file_name: str, data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedFileError(file_name, "the PDF is password-protected; upload an unprotected copy")
        pages = len(reader.pages)
    except RejectedFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError) as error:
        raise RejectedFileError(
            file_name, f"the PDF is damaged and cannot be read ({_short(error)})"
        ) from None
    except Exception as error:  # pypdf raises many exception types on hostile input
        raise RejectedFileError(file_name, f"the PDF cannot be read ({_short(error)})") from None
    if pages == 0:
        raise RejectedFileError(file_name, "the PDF has no pages")
    if pages > MAX_PDF_PAGES:
        raise RejectedFileError(file_name, f"the PDF has {pages} pages, over the limit of {MAX_PDF_PAGES}")


def _check_docx(file_name: str, data: bytes, max_chars: int | None = None) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if "word/document.xml" not in names:
                raise RejectedFileError(
                    file_name,
                    f"this is a ZIP archive, not a Word document; Needle reads {SUPPORTED_DESCRIPTION}",
                )
            uncompressed = sum(info.file_size for info in infos)
            compressed = max(1, sum(info.compress_size for info in infos))
            if (
                uncompressed > MAX_DOCX_UNCOMPRESSED_BYTES
                or uncompressed / compressed > MAX_DOCX_COMPRESSION_RATIO
            ):
                raise RejectedFileError(
                    file_name,
                    f"the document expands to {format_size(uncompressed)} when unpacked; "
                    "it looks like a compression bomb and was not opened",
                )
            bad = archive.testzip()
            if bad is not None:
                raise RejectedFileError(file_name, f"the Word document is damaged (part {bad} is corrupt)")
            _scan_docx_xml(file_name, archive, max_chars)
    except RejectedFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
        raise RejectedFileError(
            file_name, f"the Word document is damaged and cannot be opened ({_short(error)})"
        ) from None
    try:
        import docx

        docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, ValueError, lxml errors on broken parts
        raise RejectedFileError(
            file_name, f"the Word document is damaged and cannot be opened ({_short(error)})"
        ) from None


def _scan_docx_xml(file_name: str, archive: zipfile.ZipFile, max_chars: int | None) -> None:
    """Count the elements and text characters of a DOCX's XML parts as a stream, and refuse it as soon as
    either passes its bound, before python-docx parses any part whole.

    The archive's totals (size, ratio) let through a few megabytes that unpack to 190 MB of text or of
    tiny table cells; parsed whole, that took 3 GB of memory and kept the indexing lane for many
    minutes. The scan keeps only the element being read, so its memory stays flat whatever the part's
    size; entities are never resolved.
    """
    from lxml import etree

    elements = characters = 0
    for info in archive.infolist():
        if not info.filename.endswith((".xml", ".rels")):
            continue
        with archive.open(info) as part:
            try:
                elements, characters = _count_xml(file_name, part, elements, characters, max_chars)
            except etree.XMLSyntaxError as error:  # entity bombs too: lxml refuses their amplification
                raise RejectedFileError(
                    file_name, f"the Word document is damaged and cannot be opened ({_short(error)})"
                ) from None


def _count_xml(
    file_name: str, part: IO[bytes], elements: int, characters: int, max_chars: int | None
) -> tuple[int, int]:
    """Add one XML part's elements and text characters to the counts, refusing past either bound."""
    from lxml import etree

    for _, element in etree.iterparse(part, events=("end",), resolve_entities=False, no_network=True):
        elements += 1
        characters += len(element.text or "") if isinstance(element.tag, str) else 0
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        if elements > MAX_DOCX_XML_ELEMENTS:
            raise RejectedFileError(
                file_name,
                f"the Word document has more than {MAX_DOCX_XML_ELEMENTS:,} XML elements "
                "(paragraphs, runs, table cells); it is too large to convert, split it into smaller "
                "documents",
            )
        if max_chars is not None and characters > max_chars:
            raise too_many_characters(file_name, max_chars)
    return elements, characters


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]


_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,3}\s+(.+?)\s*#*\s*$", re.M)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def guess_title(inspected: InspectedFile) -> str | None:
    """The document's own title, when it declares one: a Markdown heading, HTML ``<title>``, DOCX or PDF
    properties, or a short first line of a text file. ``None`` when there is nothing convincing."""
    try:
        title = _guess_title(inspected)
    except Exception:  # a title is a nicety; a broken property must not reject the file
        return None
    title = " ".join(html.unescape(title or "").split())
    return title[:200] or None


#: A "title" that is a file name ("parking.html", "Microsoft Word - minutes.docx"): what a converter wrote
#: when the author gave none. The document's first heading says more.
_FILE_NAME_TITLE = re.compile(
    r"\.(?:html?|pdf|docx?|odt|rtf|txt|md|markdown|rst|pptx?|xlsx?|pages|tex)\s*$", re.IGNORECASE
)
#: Pages read for a PDF's first heading: enough to tell a repeated page header from the heading.
_TITLE_PAGES = 3


def _names_a_file(title: str) -> bool:
    return bool(_FILE_NAME_TITLE.search(title.strip()))


def _first_pdf_heading(reader: object) -> str | None:
    """The first line of a PDF that reads as a heading, after page headers and footers repeated on
    every page are set aside."""
    from pipelines.indexing.conversion.furniture import remove_page_furniture
    from pipelines.text.basics import is_heading

    pages = [page.extract_text() or "" for page in reader.pages[:_TITLE_PAGES]]  # type: ignore[attr-defined]
    for page in remove_page_furniture(pages):
        for line in page.splitlines():
            line = " ".join(line.split())
            if line and is_heading(line) and not _names_a_file(line):
                return line.lstrip("#").strip()
    return None


def _guess_title(inspected: InspectedFile) -> str | None:
    if inspected.kind == "markdown":
        match = _MARKDOWN_HEADING.search(inspected.data.decode("utf-8"))
        return match.group(1) if match else None
    if inspected.kind == "html":
        match = _HTML_TITLE.search(inspected.data.decode("utf-8"))
        return _TAG.sub("", match.group(1) or match.group(2)) if match else None
    if inspected.kind == "docx":
        import docx

        document = docx.Document(io.BytesIO(inspected.data))
        if document.core_properties.title and not _names_a_file(document.core_properties.title):
            return document.core_properties.title
        for paragraph in document.paragraphs[:10]:
            if paragraph.style is not None and paragraph.style.name.lower().startswith(("title", "heading")):
                return paragraph.text
        return None
    if inspected.kind == "pdf":
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(inspected.data))
        metadata = reader.metadata
        if metadata and metadata.title and not _names_a_file(metadata.title):
            return metadata.title
        return _first_pdf_heading(reader)
    first = inspected.data.decode("utf-8").strip().splitlines()[0].strip()
    return first if len(first) <= 80 and not first.endswith((".", "。", ":", "：")) else None

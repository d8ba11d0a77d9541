"""The date a document carries about itself: when it was last modified (or, failing that, created).

Citations used to show when Needle indexed a file, which says nothing about how current the policy is: a
2019 handbook indexed yesterday looked fresh. Files usually record their own date: PDF metadata
(``/ModDate``, ``/CreationDate``), DOCX core properties (``modified``, ``created``), HTML ``<meta>`` tags
(``article:modified_time``, ``last-modified``, ``dcterms.modified``, ``date``) or a ``<time datetime>``,
and Markdown front matter (``updated``, ``last_modified``, ``date``). Dates come back as ISO 8601 strings:
``2026-11-02`` for a date, ``2026-11-02T09:00:00+00:00`` for a moment.

Every reader is best effort: a malformed date or property means "no date", never a rejected file.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import logging
import re
import zipfile
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Dates outside this range are placeholders ("D:00000101", 1 January 1970), not real dates.
EARLIEST_YEAR = 1980
LATEST_YEAR = 2200
#: Largest docProps/core.xml read (it is a few hundred bytes in practice).
MAX_CORE_XML_BYTES = 1_000_000


def normalize_date(value: Any) -> str | None:
    """``value`` (a date, a datetime or a date string) as ISO 8601, or ``None`` when it is no date.

    Strings may be ISO 8601 (``2026-10-01``, ``2026-10-01T09:00:00Z``), an HTTP/e-mail date
    (``Thu, 01 Oct 2026 09:00:00 GMT``) or a PDF date (``D:20261001090000+01'00'``).
    """
    if isinstance(value, dt.datetime):
        parsed: dt.date | None = value
    elif isinstance(value, dt.date):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_date_string(value.strip())
    else:
        parsed = None
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    if isinstance(parsed, dt.datetime):
        parsed = parsed.replace(microsecond=0)
    return parsed.isoformat()


_PDF_DATE = re.compile(
    r"^D?:?(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?:(?P<z>Z)|(?P<sign>[+-])(?P<tzh>\d{2})'?(?P<tzm>\d{2})?'?)?"
)


def _parse_date_string(text: str) -> dt.date | None:
    if not text:
        return None
    if text.startswith("D:") or re.fullmatch(r"\d{8,14}.*", text):
        return _parse_pdf_date(text)
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
        try:
            parsed = parse(iso)
        except ValueError:
            continue
        if isinstance(parsed, dt.datetime) and len(iso) == 10:
            return parsed.date()  # "2026-10-01" is a day, not midnight
        return parsed
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _parse_pdf_date(text: str) -> dt.date | None:
    match = _PDF_DATE.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    try:
        if parts["hour"] is None:
            return dt.date(int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1))
        tz: dt.tzinfo | None = None
        if parts["z"]:
            tz = dt.UTC
        elif parts["sign"]:
            offset = dt.timedelta(hours=int(parts["tzh"]), minutes=int(parts["tzm"] or 0))
            tz = dt.timezone(offset if parts["sign"] == "+" else -offset)
        return dt.datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"]),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


def _first_date(*values: Any) -> str | None:
    for value in values:
        if (date := normalize_date(value)) is not None:
            return date
    return None


# Readers, one per format ------------------------------------------------------------------------------------


def pdf_date(data: bytes) -> str | None:
    """``/ModDate``, else ``/CreationDate``, from the PDF's document information dictionary."""
    from pypdf import PdfReader

    info = PdfReader(io.BytesIO(data)).metadata
    if info is None:
        return None
    return _first_date(info.get("/ModDate"), info.get("/CreationDate"))


_CORE_DATE = re.compile(
    rb"<dcterms:(?P<name>modified|created)\b[^>]*>(?P<value>[^<]{4,40})</dcterms:(?P=name)>"
)


def docx_date(data: bytes) -> str | None:
    """``modified``, else ``created``, from the Word file's core properties (``docProps/core.xml``).

    Read straight from the zip rather than through python-docx: one small part, no document parsing.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            info = archive.getinfo("docProps/core.xml")
        except KeyError:
            return None
        if info.file_size > MAX_CORE_XML_BYTES:
            return None
        core = archive.read(info)
    found = {
        match["name"].decode(): match["value"].decode("utf-8", "replace")
        for match in _CORE_DATE.finditer(core)
    }
    return _first_date(found.get("modified"), found.get("created"))


#: ``<meta>`` names and properties, most specific first: a modification date beats a publication date.
HTML_META_NAMES = (
    "article:modified_time",
    "og:updated_time",
    "last-modified",
    "dcterms.modified",
    "dc.date.modified",
    "datemodified",
    "modified",
    "revised",
    "article:published_time",
    "dcterms.date",
    "dc.date",
    "dcterms.created",
    "datepublished",
    "date",
)


#: Bytes of a page searched for its date: ``<meta>`` sits in ``<head>`` and a date's ``<time>`` near the
#: top; parsing a whole 44 MB page into a tree for them took over a gigabyte.
HTML_DATE_SCAN_BYTES = 1_000_000


def html_date(data: bytes) -> str | None:
    """The page's date from ``<meta>`` (see ``HTML_META_NAMES``, and ``http-equiv="last-modified"``),
    else from its first ``<time datetime="...">``, in its first :data:`HTML_DATE_SCAN_BYTES` bytes."""
    import lxml.html

    data = data[:HTML_DATE_SCAN_BYTES]

    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = re.sub(r"^\s*<\?xml[^>]*>", "", data.decode("utf-16", "replace")).encode()
    root = lxml.html.document_fromstring(data)  # bytes: lxml honours the page's declared charset
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        name = meta.get("property") or meta.get("name") or meta.get("http-equiv") or meta.get("itemprop")
        content = meta.get("content")
        if name and content:
            found.setdefault(name.strip().casefold(), content)
    date = _first_date(*(found.get(name) for name in HTML_META_NAMES))
    if date is None:
        date = _first_date(*(time.get("datetime") for time in root.iter("time")))
    return date


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.DOTALL)
#: Front matter keys, most specific first (Hugo, Jekyll, MkDocs and Docusaurus spellings).
MARKDOWN_DATE_KEYS = ("last_modified", "last_modified_at", "lastmod", "updated", "modified", "date")


def markdown_date(data: bytes) -> str | None:
    """The date in the Markdown file's YAML front matter (see ``MARKDOWN_DATE_KEYS``)."""
    import yaml

    match = _FRONT_MATTER.match(_decode_text(data))
    if match is None:
        return None
    try:
        front = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError:
        return None
    if not isinstance(front, dict):
        return None
    keys = {str(key).casefold(): value for key, value in front.items()}
    return _first_date(*(keys.get(key) for key in MARKDOWN_DATE_KEYS))


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


READERS: dict[str, Callable[[bytes], str | None]] = {
    "application/pdf": pdf_date,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": docx_date,
    "text/html": html_date,
    "text/markdown": markdown_date,
}


def document_date(data: bytes, mime_type: str | None) -> str | None:
    """The document's own date as ISO 8601, or ``None`` when the format has none or the file says none."""
    reader = READERS.get(mime_type or "")
    if reader is None:
        return None
    try:
        return reader(data)
    except Exception:  # a date is a nicety; a broken property must never stop indexing
        logger.debug("could not read the date of a %s file", mime_type, exc_info=True)
        return None

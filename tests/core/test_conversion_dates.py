"""The document's own date reaches every chunk as ``modified_at``, from each format's own metadata."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from pipelines.indexing.components.source_dates import DATE_META_KEY, SourceDateReader
from pipelines.indexing.conversion.dates import document_date, normalize_date
from pipelines.indexing.file_inspector import MIME_TYPES
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK

SAMPLE_DATE = "2026-11-02T09:00:00+00:00"  # what scripts/make_samples.py writes into the PDFs and DOCX files
BODY = "Visitors must be registered in VisitorDesk at least 24 hours before they arrive at reception."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("D:20261102090000Z", "2026-11-02T09:00:00+00:00"),
        ("D:20261001090000+01'00'", "2026-10-01T09:00:00+01:00"),
        ("D:20261001", "2026-10-01"),
        ("2026-10-01", "2026-10-01"),
        ("2026-10-01T09:00:00Z", "2026-10-01T09:00:00+00:00"),
        ("2026-10-01T09:00:00.123+02:00", "2026-10-01T09:00:00+02:00"),
        ("Thu, 01 Oct 2026 09:00:00 GMT", "2026-10-01T09:00:00+00:00"),
        (dt.date(2026, 10, 1), "2026-10-01"),
        ("D:00000101000000Z", None),  # placeholders, not dates
        ("1970-01-01", None),
        ("next Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_normalised_to_iso_8601(value: object, expected: str | None) -> None:
    assert normalize_date(value) == expected


@pytest.mark.parametrize(
    "file_name", ["travel-and-expenses-policy.pdf", "code-of-conduct.pdf", "benefits-overview.docx"]
)
def test_sample_pdf_and_docx_files_carry_their_date(file_name: str) -> None:
    kind = "pdf" if file_name.endswith(".pdf") else "docx"
    assert document_date((HANDBOOK / file_name).read_bytes(), MIME_TYPES[kind]) == SAMPLE_DATE


def test_a_pdf_modification_date_wins_over_its_creation_date() -> None:
    writer = PdfWriter(clone_from=PdfReader(HANDBOOK / "code-of-conduct.pdf"))
    writer.add_metadata({"/ModDate": "D:20261215103000+01'00'"})
    buffer = io.BytesIO()
    writer.write(buffer)
    assert document_date(buffer.getvalue(), MIME_TYPES["pdf"]) == "2026-12-15T10:30:00+01:00"


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        (
            '<meta property="article:modified_time" content="2026-09-30T10:00:00+02:00">'
            '<meta name="date" content="2025-01-01">',
            "",
            "2026-09-30T10:00:00+02:00",
        ),
        (
            '<meta http-equiv="last-modified" content="Thu, 01 Oct 2026 09:00:00 GMT">',
            "",
            "2026-10-01T09:00:00+00:00",
        ),
        ('<meta name="dcterms.modified" content="2026-08-01">', "", "2026-08-01"),
        ('<meta name="DATE" content="2026-07-01">', "", "2026-07-01"),
        ("", '<p>Updated <time datetime="2026-05-04">4 May</time></p>', "2026-05-04"),
        ('<meta name="date" content="soon">', "<p>No date here.</p>", None),
    ],
)
def test_html_dates(head: str, body: str, expected: str | None) -> None:
    html = f"<html><head><title>T</title>{head}</head><body>{body}</body></html>".encode()
    assert document_date(html, MIME_TYPES["html"]) == expected


def test_markdown_front_matter_dates() -> None:
    markdown = MIME_TYPES["markdown"]
    assert document_date(b"---\ntitle: X\nupdated: 2026-10-05\ndate: 2025-01-01\n---\n# X\n", markdown) == (
        "2026-10-05"
    )
    assert document_date(b"---\ndate: 2026-10-05 14:30:00\n---\n# X\n", markdown) == "2026-10-05T14:30:00"
    assert document_date(b"# No front matter\n\ndate: 2026-10-05\n", markdown) is None
    assert document_date(b"---\n: not yaml [\n---\n", markdown) is None


def test_broken_files_have_no_date() -> None:
    assert document_date(b"%PDF-1.4 broken", MIME_TYPES["pdf"]) is None
    assert document_date(b"PK\x03\x04 not a zip", MIME_TYPES["docx"]) is None
    assert document_date(b"plain text 2026-10-01", MIME_TYPES["text"]) is None


def test_the_reader_adds_the_date_and_keeps_a_date_given_with_the_file() -> None:
    from haystack.dataclasses import ByteStream

    data = (HANDBOOK / "code-of-conduct.pdf").read_bytes()
    plain = ByteStream(data, meta={"file_name": "c.pdf"}, mime_type=MIME_TYPES["pdf"])
    given = ByteStream(data, meta={DATE_META_KEY: "2020-01-01"}, mime_type=MIME_TYPES["pdf"])
    read = SourceDateReader().run(sources=[plain, given])["sources"]
    assert read[0].meta == {"file_name": "c.pdf", DATE_META_KEY: SAMPLE_DATE}
    assert read[1].meta == {DATE_META_KEY: "2020-01-01"}
    assert plain.meta == {"file_name": "c.pdf"}  # the caller's stream is not changed


# Through the indexing pipeline ----------------------------------------------------------------------


def _chunk_metas(service: NeedleService, path: Path) -> list[dict]:
    result = service.ingest_file(path)
    assert result.status == "indexed", result.reason
    return [passage.meta for passage in service.source_chunks(str(result.source_id))]


@pytest.mark.parametrize("file_name", ["travel-and-expenses-policy.pdf", "benefits-overview.docx"])
def test_every_chunk_of_a_dated_sample_carries_the_date(empty_service: NeedleService, file_name: str) -> None:
    metas = _chunk_metas(empty_service, HANDBOOK / file_name)
    assert len(metas) > 1
    assert {meta[DATE_META_KEY] for meta in metas} == {SAMPLE_DATE}
    assert all(meta["indexed_at"] != meta[DATE_META_KEY] for meta in metas)
    assert all("page" in meta and "chunk_index" in meta for meta in metas)


def test_html_markdown_and_docx_uploads_carry_their_dates(
    empty_service: NeedleService, tmp_path: Path
) -> None:
    html = tmp_path / "visitors.html"
    html.write_text(
        '<html><head><title>Visitors</title><meta name="last-modified" content="2026-10-01"></head>'
        f"<body><main><article><h1>Visitors</h1><p>{BODY}</p></article></main></body></html>",
        encoding="utf-8",
    )
    markdown = tmp_path / "visitors.md"
    markdown.write_text(
        f"---\ntitle: Visitors\nupdated: 2026-09-15\n---\n# Visitors\n\n{BODY}\n", encoding="utf-8"
    )
    word = tmp_path / "visitors.docx"
    document = docx.Document()
    document.add_paragraph(BODY)
    document.core_properties.modified = dt.datetime(2026, 8, 20, 12, 0, 0)
    document.save(str(word))
    text = tmp_path / "visitors.txt"
    text.write_text(BODY, encoding="utf-8")

    assert {meta[DATE_META_KEY] for meta in _chunk_metas(empty_service, html)} == {"2026-10-01"}
    assert {meta[DATE_META_KEY] for meta in _chunk_metas(empty_service, markdown)} == {"2026-09-15"}
    assert {meta[DATE_META_KEY] for meta in _chunk_metas(empty_service, word)} == {
        "2026-08-20T12:00:00+00:00"
    }
    assert all(DATE_META_KEY not in meta for meta in _chunk_metas(empty_service, text))


def test_samples_without_a_date_get_no_date(empty_service: NeedleService) -> None:
    for file_name in ["leave-policy.md", "holidays-calendar-2027.html", "emergency-procedures.txt"]:
        assert all(DATE_META_KEY not in meta for meta in _chunk_metas(empty_service, HANDBOOK / file_name))

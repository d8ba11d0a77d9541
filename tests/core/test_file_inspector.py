from __future__ import annotations

import pytest

from pipelines.base.errors import RejectedFileError
from pipelines.indexing.file_inspector import guess_title, inspect_file, safe_file_name
from tests.core.bad_files import HANDBOOK, bad_files, real_pdf

LIMIT = 1_000_000


@pytest.mark.parametrize("case", sorted(bad_files(LIMIT)))
def test_bad_files_are_rejected_with_a_reason(case: str) -> None:
    name, data, reason = bad_files(LIMIT)[case]
    with pytest.raises(RejectedFileError) as error:
        inspect_file(name, data, max_bytes=LIMIT)
    assert reason.lower() in error.value.reason.lower()


@pytest.mark.parametrize(
    ("file_name", "kind"),
    [
        ("leave-policy.md", "markdown"),
        ("code-of-conduct.pdf", "pdf"),
        ("benefits-overview.docx", "docx"),
        ("office-facilities.html", "html"),
        ("emergency-procedures.txt", "text"),
    ],
)
def test_handbook_files_are_identified(file_name: str, kind: str) -> None:
    inspected = inspect_file(file_name, (HANDBOOK / file_name).read_bytes(), max_bytes=LIMIT)
    assert inspected.kind == kind
    assert len(inspected.sha256) == 64


def test_content_wins_over_a_wrong_extension() -> None:
    assert inspect_file("policy.txt", real_pdf(), max_bytes=LIMIT).kind == "pdf"
    html = b"<!DOCTYPE html><html><body><p>Hello</p></body></html>"
    assert inspect_file("page", html, max_bytes=LIMIT).kind == "html"


def test_utf16_text_with_a_bom_is_converted_to_utf8() -> None:
    inspected = inspect_file("notes.txt", "Grüße aus Köln".encode("utf-16"), max_bytes=LIMIT)
    assert inspected.data.decode("utf-8") == "Grüße aus Köln"


def test_path_traversal_names_are_reduced_to_a_base_name() -> None:
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("C:\\Users\\x\\..\\secret.md") == "secret.md"
    assert safe_file_name("\x00\x1f") == "unnamed"
    assert inspect_file("../../x/notes.md", b"# Notes\nHello.", max_bytes=LIMIT).file_name == "notes.md"


@pytest.mark.parametrize(
    ("file_name", "title"),
    [
        ("leave-policy.md", "Leave Policy"),
        ("leave-policy-zh.md", "休假制度（中文版）"),
        ("travel-and-expenses-policy.pdf", "Travel and Expenses Policy"),
    ],
)
def test_titles_come_from_the_document(file_name: str, title: str) -> None:
    inspected = inspect_file(file_name, (HANDBOOK / file_name).read_bytes(), max_bytes=LIMIT)
    assert guess_title(inspected) == title


@pytest.mark.parametrize("metadata_title", ["parking.html", "Microsoft Word - travel.docx"])
def test_a_pdf_titled_with_a_file_name_takes_its_first_heading(metadata_title: str) -> None:
    """Converters write the source file's name as the PDF's title; the first heading says more (the
    page header repeated on every page is not a heading)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(HANDBOOK / "travel-and-expenses-policy.pdf"))
    writer.add_metadata({"/Title": metadata_title})
    buffer = io.BytesIO()
    writer.write(buffer)
    inspected = inspect_file("travel.pdf", buffer.getvalue(), max_bytes=LIMIT)
    assert guess_title(inspected) == "Travel and Expenses Policy"

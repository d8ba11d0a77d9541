"""Hostile files are refused while they are read, each with its own reason; deep HTML is read.

Small versions of the cases of ``scripts/bench_hostile_inputs.py`` (which runs them at the upload limit
and measures time and memory): the budgets are set low here, or pypdf's limits lowered, so each test
takes well under a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from haystack import Document
from haystack.dataclasses import ByteStream
from pypdf import apply_configuration

from pipelines import cli
from pipelines.base.errors import RejectedFileError
from pipelines.indexing import file_inspector
from pipelines.indexing.components import pdf_converter
from pipelines.indexing.components.chunker import SentenceChunker
from pipelines.indexing.components.html_converter import NeedleHtmlToDocument
from pipelines.indexing.components.pdf_converter import LayoutPdfToDocument
from pipelines.indexing.file_inspector import inspect_file
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.support import hostile_files as hostile

LIMIT = 50 * 1024 * 1024


def _pdf(data: bytes, name: str = "hostile.pdf") -> ByteStream:
    return ByteStream(data, mime_type="application/pdf", meta={"file_name": name})


def _html(data: bytes, name: str = "page.html") -> ByteStream:
    return ByteStream(data, mime_type="text/html", meta={"file_name": name})


# -- text ------------------------------------------------------------------------------------------------
def test_a_text_file_too_large_for_the_budget_in_any_encoding_is_refused_before_decoding() -> None:
    with pytest.raises(RejectedFileError, match=r"more than 1,000 characters of text.*NEEDLE_MAX_FILE_CHARS"):
        inspect_file("minified.txt", hostile.long_line(4001), max_bytes=LIMIT, max_chars=1000)


def test_a_text_file_over_the_budget_once_decoded_is_refused() -> None:
    data = "é".encode() * 1500  # 3,000 bytes, 1,500 characters
    with pytest.raises(RejectedFileError, match="more than 1,000 characters"):
        inspect_file("notes.md", data, max_bytes=LIMIT, max_chars=1000)
    assert inspect_file("notes.md", data, max_bytes=LIMIT, max_chars=1500).kind == "markdown"


# -- Word documents --------------------------------------------------------------------------------------
def test_a_docx_that_unpacks_to_more_text_than_the_budget_is_refused_while_scanned() -> None:
    bomb = hostile.docx_text_bomb(400_000)
    assert inspect_file("ok.docx", bomb, max_bytes=LIMIT).kind == "docx"  # passes the archive checks
    with pytest.raises(RejectedFileError, match="more than 50,000 characters of text"):
        inspect_file("handbook.docx", bomb, max_bytes=LIMIT, max_chars=50_000)


def test_a_docx_of_too_many_xml_elements_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = hostile.docx_cell_bomb(300_000)  # about 25,000 elements, few characters
    assert inspect_file("ok.docx", bomb, max_bytes=LIMIT, max_chars=50_000).kind == "docx"
    monkeypatch.setattr(file_inspector, "MAX_DOCX_XML_ELEMENTS", 5000)
    with pytest.raises(RejectedFileError, match=r"more than 5,000 XML elements"):
        inspect_file("table.docx", bomb, max_bytes=LIMIT, max_chars=50_000)


def test_an_xlsx_bomb_is_refused_as_not_a_word_document_without_unpacking() -> None:
    with pytest.raises(RejectedFileError, match="not a Word document"):
        inspect_file("budget.xlsx", hostile.xlsx_bomb(2_000_000), max_bytes=LIMIT)


# -- PDF -------------------------------------------------------------------------------------------------
def test_a_pdf_stream_past_pypdfs_limit_is_refused_as_a_possible_bomb() -> None:
    data = hostile.pdf_inflating_stream(300_000)
    # pypdf's 75 MB limit, scaled down
    with apply_configuration(zlib_maximum_output_length=100_000), pytest.raises(RejectedFileError) as refused:
        LayoutPdfToDocument().run(sources=[_pdf(data, "drawing.pdf")])
    assert refused.value.file_name == "drawing.pdf"
    assert "page 1 of the PDF is larger than Needle reads" in refused.value.reason
    assert "compression bomb" in refused.value.reason and "scanned" not in refused.value.reason


def test_a_pdf_page_with_too_much_content_is_refused_before_extraction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pdf_converter, "MAX_PAGE_CONTENT_BYTES", 100_000)
    with pytest.raises(RejectedFileError, match=r"page 1 of the PDF holds 0\.3 MB of drawing instructions"):
        LayoutPdfToDocument().run(sources=[_pdf(hostile.pdf_inflating_stream(300_000))])


def test_pdf_pages_sharing_too_much_content_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_converter, "MAX_CONTENT_BYTES", 1000)
    with pytest.raises(RejectedFileError, match="pages hold more than"):
        LayoutPdfToDocument().run(sources=[_pdf((HANDBOOK / "travel-and-expenses-policy.pdf").read_bytes())])


def test_a_pdf_with_more_text_than_the_budget_is_refused() -> None:
    data = hostile.pdf_text_stream(8000)
    assert "facilities" not in LayoutPdfToDocument().run(sources=[_pdf(data)])["documents"][0].content
    with pytest.raises(RejectedFileError, match="more than 2,000 characters"):
        LayoutPdfToDocument(max_chars=2000).run(sources=[_pdf(data)])


def test_a_pdf_whose_text_sits_under_nested_forms_is_read() -> None:
    (document,) = LayoutPdfToDocument().run(sources=[_pdf(hostile.pdf_nested_forms(20))])["documents"]
    assert "Parking permits are issued by the facilities team" in document.content


def test_a_pdf_nesting_forms_deeper_than_pypdf_follows_is_refused_with_that_reason() -> None:
    with pytest.raises(RejectedFileError, match="more than 100 levels deep") as refused:
        LayoutPdfToDocument().run(sources=[_pdf(hostile.pdf_nested_forms(400))])
    assert "scanned" not in refused.value.reason


# -- HTML ------------------------------------------------------------------------------------------------
def test_html_nested_deeper_than_lxml_parses_is_read_with_its_text() -> None:
    (document,) = NeedleHtmlToDocument().run(sources=[_html(hostile.nested_html(3000))])["documents"]
    assert document.content == "Parking permits are issued by the facilities team every January."
    assert document.meta["file_name"] == "page.html"


def test_deep_html_keeps_scripts_and_styles_out() -> None:
    page = (
        "<html><head><title>T</title><style>.x{content:'STYLE'}</style></head><body>"
        + "<div>" * 400
        + "<script>alert('SCRIPT')</script><p>Badges are worn <b>visibly</b>.</p>"
        + "<p>Lost badges are reported.</p>"
        + "</div>" * 400
        + "</body></html>"
    )
    (document,) = NeedleHtmlToDocument().run(sources=[_html(page.encode())])["documents"]
    assert document.content.splitlines() == ["Badges are worn visibly.", "Lost badges are reported."]


def test_shallow_html_without_main_text_still_yields_nothing() -> None:
    empty = _html(b"<html><body><div></div></body></html>")
    assert NeedleHtmlToDocument().run(sources=[empty])["documents"] == []


def test_html_with_more_text_than_the_budget_is_refused() -> None:
    page = (HANDBOOK / "office-facilities.html").read_bytes()
    assert NeedleHtmlToDocument(max_chars=100_000).run(sources=[_html(page)])["documents"]
    for data in (page, hostile.nested_html(1000)):  # read by trafilatura, and by html.parser
        with pytest.raises(RejectedFileError, match="more than 30 characters"):
            NeedleHtmlToDocument(max_chars=30).run(sources=[_html(data)])


def test_a_page_whose_visible_text_passes_the_budget_is_refused_before_trafilatura(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converter = NeedleHtmlToDocument(max_chars=2000)
    monkeypatch.setattr(converter, "_trafilatura", None)  # never reached: refused before
    with pytest.raises(RejectedFileError, match="more than 2,000 characters"):
        converter.run(sources=[_html(hostile.legacy_encoded_html(20_000))])


# -- chunks ----------------------------------------------------------------------------------------------
def test_a_document_yielding_more_chunks_than_the_budget_is_refused() -> None:
    text = " ".join(f"Sentence number {i} has a few words in it." for i in range(200))
    document = Document(content=text, meta={"file_name": "long.txt"})
    chunks = SentenceChunker(chunk_words=50, overlap_words=0, max_chunks=40).run([document])["documents"]
    assert len(chunks) > 3
    with pytest.raises(RejectedFileError, match=r"more than 3 chunks.*NEEDLE_MAX_FILE_CHUNKS") as refused:
        SentenceChunker(chunk_words=50, overlap_words=0, max_chunks=3).run([document])
    assert refused.value.file_name == "long.txt"


# -- through the service ---------------------------------------------------------------------------------
def test_the_service_refuses_past_either_budget_with_the_reason_and_keeps_nothing(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory(max_file_chars=2000, max_file_chunks=2)
    pdf = service.ingest_file(HANDBOOK / "travel-and-expenses-policy.pdf")
    assert pdf.status == "rejected" and "more than 2,000 characters of text" in (pdf.reason or "")
    chunks = service.ingest_bytes("long.md", ("# Notes\n\n" + "A sentence of words. " * 90).encode())
    assert chunks.status == "rejected" and "more than 2 chunks" in (chunks.reason or "")
    assert service.list_sources() == []
    short = service.ingest_bytes("short.md", b"# Parking\n\nPermits are issued in January.\n")
    assert short.status == "indexed"


def test_deep_html_is_indexed_by_the_service(service_factory: Callable[..., NeedleService]) -> None:
    result = service_factory().ingest_bytes("parking.html", hostile.nested_html(5000))
    assert result.status == "indexed", result.reason


def test_a_file_over_the_upload_limit_is_refused_without_being_read(
    service_factory: Callable[..., NeedleService], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)  # sparse: 3 MB on paper, nothing on disk
    service = service_factory(max_upload_mb=1)
    reads: list[Path] = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real_read(self))
    result = service.ingest_file(huge)
    assert result.status == "rejected" and "over the upload limit of 1 MB" in (result.reason or "")
    assert huge not in reads


def test_the_background_queue_refuses_a_file_over_the_limit_from_its_size(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEEDLE_MAX_UPLOAD_MB", "1")
    huge = data_dir.parent / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)
    assert cli.main(["ingest", "--background", "--json", str(huge), str(HANDBOOK / "leave-policy.md")]) == 1
    out = capsys.readouterr()
    assert [job["file_name"] for job in json.loads(out.out)] == ["leave-policy.md"]
    assert "rejected   huge.txt: the file is 3.1 MB, over the upload limit of 1 MB" in out.err


def test_a_refusal_inside_the_pipeline_records_the_upload_by_its_size(
    service_factory: Callable[..., NeedleService],
) -> None:
    """Haystack snapshots every input when a component raises; the upload must not be listed byte by
    byte (1.3 GB for a 44 MB file)."""
    from haystack.core.errors import PipelineRuntimeError

    from pipelines.indexing.pipeline import UploadStream

    service = service_factory(max_file_chars=2000)
    data = (HANDBOOK / "travel-and-expenses-policy.pdf").read_bytes()
    stream = UploadStream(data=data, meta={"file_name": "travel.pdf"}, mime_type="application/pdf")
    with pytest.raises(PipelineRuntimeError) as failed:
        service.sources.indexing_pipeline.run({"router": {"sources": [stream]}})
    snapshot = json.dumps(failed.value.pipeline_snapshot.to_dict())
    assert f"<{len(data)} bytes>" in snapshot
    assert len(snapshot) < len(data)

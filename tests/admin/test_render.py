"""What the console shows for the core's objects: plain text, blanks where a retriever missed."""

from __future__ import annotations

from admin import render
from pipelines.records.answers import IngestResult, SourceInfo


def test_markdown_escaping_leaves_no_live_html_or_links() -> None:
    escaped = render.md_text("<img src=x onerror=alert(1)> [click](http://evil) **bold**")
    assert "<img" not in escaped
    assert "](" not in escaped
    assert "**" not in escaped


def test_fused_rows_show_each_retrievers_part_and_blank_for_a_miss() -> None:
    item = {
        "rank": 1,
        "score": 0.03,
        "title": "Leave Policy",
        "page": 2,
        "chunk_index": 0,
        "preview": "<b>Vacation</b>",
        "retrieval": {"bm25": None, "dense": {"rank": 3, "score": 0.61}, "fused_score": 0.0159},
    }
    row = render.fused_rows([item])[0]
    assert row == [1, "0.0159", "", "", 3, "0.6100", "Leave Policy", "2", "1", "<b>Vacation</b>"]


def test_timings_are_slowest_first_with_total_last() -> None:
    rows = render.timing_rows({"bm25_retriever": 3.0, "total": 50.0, "query_embedder": 20.04})
    assert rows == [["query_embedder", 20.0], ["bm25_retriever", 3.0], ["total", 50.0]]


def test_tags_split_on_commas_and_lines() -> None:
    assert render.parse_tags(" HR, policies\n,travel ") == ["HR", "policies", "travel"]


def test_citation_rows_read_old_and_new_traces_and_mark_related_sources() -> None:
    base = {
        "number": 1,
        "source_id": "travel",
        "title": "Travel",
        "file_name": "travel.pdf",
        "url": None,
        "page": 2,
        "chunk_index": 4,
        "indexed_at": "2026-11-20T10:00:00+00:00",
    }
    old = {"answer": {"citations": [base]}}  # written before citations had "pages"
    assert render.citation_rows(old) == [[1, "Travel", "travel.pdf, page 2", 5]]
    new = {"answer": {"citations": [{**base, "pages": [2, 4], "modified_at": None}]}}
    assert render.citation_rows(new)[0][2] == "travel.pdf, pages 2, 4"
    not_found = {"answer": {"citations": [], "related": [base]}}
    assert render.citation_rows(not_found)[0][2] == "travel.pdf, page 2 (might be related, not cited)"


def _source(size_bytes: int, title: str = "Doc") -> SourceInfo:
    return SourceInfo(
        source_id=f"doc-{size_bytes}",
        title=title,
        file_name="doc.md",
        file_type="markdown",
        url=None,
        tags=["hr"],
        chunks=2,
        size_bytes=size_bytes,
        uploaded_by="alice",
        indexed_at="2026-12-01T10:00:00+00:00",
        source_hash="0" * 64,
    )


def test_the_sources_table_holds_bytes_and_shows_readable_sizes() -> None:
    table = render.source_table([_source(1946), _source(61), _source(55_012_345)])
    assert [row[4] for row in table["data"]] == [1946, 61, 55_012_345]  # what the table sorts by
    # MB and KB are decimal, as on the upload form and in a refusal (one helper: pipelines.base.sizes).
    assert [row[4] for row in table["metadata"]["display_value"]] == ["1.9 KB", "61 B", "55 MB"]
    assert len(table["headers"]) == len(render.SOURCE_COLUMN_WIDTHS) == len(render.SOURCE_DATATYPES)


def test_ingest_rows_show_conflicts_replacements_and_warnings_in_the_notes() -> None:
    rows = render.ingest_rows(
        [
            IngestResult("a.md", "conflict", "a-1", reason="a different document … is already indexed"),
            IngestResult("b.txt", "indexed", "b-2", 3, warnings=("the file is not UTF-8; read as Big5",)),
            IngestResult("c.md", "indexed", "c-3", 1, replaced=True),
        ]
    )
    assert rows[0][1:4] == ["⚠️ same name", 0, "a different document … is already indexed"]
    assert rows[1][1] == "✅ indexed" and rows[1][3] == "⚠️ the file is not UTF-8; read as Big5"
    assert rows[2][1] == "🔁 replaced"


def test_the_header_counts_read_as_english():
    one = render.overview_line({"sources": 1, "chunks": 1, "last_updated": None}, "memory", "no LLM")
    many = render.overview_line({"sources": 15, "chunks": 65, "last_updated": None}, "memory", "qwen")
    assert one.startswith("**1** source · **1** chunk · last indexed never")
    assert many.startswith("**15** sources · **65** chunks") and many.endswith("answers by qwen")

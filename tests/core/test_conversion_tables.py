"""Tables become one labelled sentence per row, in every format, through the real indexing pipeline."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from pipelines.indexing.conversion.tables import (
    linearize_aligned_tables,
    linearize_pipe_tables,
    linearize_row,
)
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK


def _chunk_texts(service: NeedleService, path: Path) -> list[str]:
    result = service.ingest_file(path)
    assert result.status == "indexed", result.reason
    return [passage.content for passage in service.source_chunks(str(result.source_id))]


def _assert_no_raw_table_lines(texts: list[str]) -> None:
    for text in texts:
        for line in text.splitlines():
            assert not line.startswith("|"), line
            assert "---|" not in line, line


# Rows -------------------------------------------------------------------------------------------------------


def test_a_row_is_one_sentence_with_its_labels() -> None:
    header = ["Location", "Maximum per night"]
    row = ["London, Paris, New York, Zurich, Tokyo", "240 EUR"]
    assert linearize_row(row, header) == (
        "Location: London, Paris, New York, Zurich, Tokyo; Maximum per night: 240 EUR."
    )
    assert linearize_row(["2 July 2027", "", "Founders' Day."]) == "2 July 2027; Founders' Day."
    assert linearize_row(["", " "], header) == ""
    assert linearize_row(["丧假", "5天"], ["假期类型", "天数"]) == "假期类型：丧假；天数：5天。"


# Pipe tables (Markdown, DOCX, HTML through trafilatura) ---------------------------------------------


def test_pipe_tables_with_a_header_become_labelled_rows() -> None:
    text = (
        "4. Other leave\n\n"
        "| Type of leave | Allowance | Notes |\n"
        "|---|:---:|---|\n"
        "| Bereavement leave | 5 days at full pay | Close family |\n"
        "| Jury service | As required | Full pay \\| send the summons |\n"
        "\nQuestions? Ask the People Team."
    )
    assert linearize_pipe_tables(text).splitlines() == [
        "4. Other leave",
        "",
        "Type of leave: Bereavement leave; Allowance: 5 days at full pay; Notes: Close family.",
        "Type of leave: Jury service; Allowance: As required; Notes: Full pay | send the summons.",
        "",
        "Questions? Ask the People Team.",
    ]


def test_headerless_pipe_rows_keep_their_cells_in_order_and_other_pipes_are_left_alone() -> None:
    text = "| 2 July 2027 | Friday | Founders' Day | \n| 24 December 2027 | Friday | Christmas Eve | \nA | B"
    assert linearize_pipe_tables(text).splitlines() == [
        "2 July 2027; Friday; Founders' Day.",
        "24 December 2027; Friday; Christmas Eve.",
        "A | B",
    ]


def test_a_header_without_rows_is_dropped() -> None:
    assert linearize_pipe_tables("Before.\n| Day | Room |\n|---|---|\nAfter.") == "Before.\nAfter."


# Space-aligned tables (PDF layout text) -------------------------------------------------------------


def test_the_pdf_hotel_table_becomes_labelled_rows() -> None:
    page = (
        PdfReader(HANDBOOK / "travel-and-expenses-policy.pdf").pages[1].extract_text(extraction_mode="layout")
    )
    lines = linearize_aligned_tables(page).splitlines()
    assert "Location: London, Paris, New York, Zurich, Tokyo; Maximum per night: 240 EUR." in lines
    assert "Location: Standard limit (all other cities); Maximum per night: 160 EUR." in lines
    assert not any(line.startswith("Location ") for line in lines)  # no bare header left
    assert sum(line.lstrip().startswith("-   when") for line in lines) == 4  # list items are no table


def test_aligned_tables_with_wrapped_cells_and_without_header() -> None:
    text = (
        "Class          Examples                   Handling\n"
        "Public         Website, press releases    No restrictions\n"
        "Confidential   Contracts, roadmaps        Need to know; no external\n"
        "                                          sharing\n"
        "\n"
        "Dublin         08:00                      18:00\n"
        "Shanghai       09:00                      18:00\n"
    )
    assert linearize_aligned_tables(text).splitlines() == [
        "Class: Public; Examples: Website, press releases; Handling: No restrictions.",
        "Class: Confidential; Examples: Contracts, roadmaps; Handling: Need to know; no external sharing.",
        "",
        "Dublin; 08:00; 18:00.",
        "Shanghai; 09:00; 18:00.",
    ]


def test_prose_and_lists_are_not_tables() -> None:
    text = (
        "Acme Widgets Ltd. | Travel and Expenses Policy                 INTERNAL\n"
        "\n"
        "-   when travelling between 22:00 and 06:00;\n"
        "-   when carrying heavy or valuable equipment;\n"
        "1.  Open AppShelf and install Acme Connect.\n"
        "2.  Start Acme Connect.\n"
        "A paragraph of prose whose words are separated by single spaces only.\n"
    )
    assert linearize_aligned_tables(text) == text


# Through the indexing pipeline, real files ----------------------------------------------------------


def test_pdf_table_rows_reach_the_chunks_with_their_labels(empty_service: NeedleService) -> None:
    texts = _chunk_texts(empty_service, HANDBOOK / "travel-and-expenses-policy.pdf")
    lines = [line for text in texts for line in text.splitlines()]
    assert "Location: London, Paris, New York, Zurich, Tokyo; Maximum per night: 240 EUR." in lines
    assert "Location: Shanghai; Maximum per night: 180 EUR." in lines
    assert not any("Location Maximum per night" in text for text in texts)


def test_markdown_table_rows_reach_the_chunks_with_their_labels(empty_service: NeedleService) -> None:
    texts = _chunk_texts(empty_service, HANDBOOK / "leave-policy.md")
    joined = "\n".join(texts)
    assert "Type of leave: Bereavement leave; Allowance: 5 days at full pay;" in joined
    assert (
        "Type of leave: Volunteering; Allowance: 2 days per year; Notes: For registered charities." in joined
    )
    _assert_no_raw_table_lines(texts)


def test_html_table_rows_reach_the_chunks_with_their_labels(empty_service: NeedleService) -> None:
    texts = _chunk_texts(empty_service, HANDBOOK / "holidays-calendar-2027.html")
    lines = [line for text in texts for line in text.splitlines()]
    assert "Date: 17 March 2027; Day: Wednesday; Holiday: St Patrick's Day." in lines
    assert "24 December 2027; Friday; Christmas Eve – office closed all day." in lines  # no header row
    assert "Date Day Holiday" not in lines
    _assert_no_raw_table_lines(texts)


def test_docx_table_rows_reach_the_chunks_with_their_labels(empty_service: NeedleService) -> None:
    texts = _chunk_texts(empty_service, HANDBOOK / "benefits-overview.docx")
    lines = [line for text in texts for line in text.splitlines()]
    assert (
        "Benefit: Learning budget; Provider: PeopleHub Learning; What Acme pays: 1,500 EUR per year + 3 days."
        in (lines)
    )
    _assert_no_raw_table_lines(texts)


@pytest.mark.parametrize("suffix", [".html", ".docx"])
def test_tables_in_uploaded_files(empty_service: NeedleService, tmp_path: Path, suffix: str) -> None:
    """Tables in files other than the samples: HTML with <th> cells outside <thead>, a Word table."""
    path = tmp_path / f"parking{suffix}"
    intro = "Visitors can park in the basement car park when they have registered with reception first."
    if suffix == ".html":
        path.write_text(
            "<html><head><title>Parking</title></head><body><main><article><h1>Parking</h1>"
            f"<p>{intro}</p><table><tr><th>Level</th><th>Spaces</th><th>Who</th></tr>"
            "<tr><td>-1</td><td>12</td><td>Visitors</td></tr>"
            "<tr><td>-2</td><td>40</td><td>Staff with a permit</td></tr></table>"
            "</article></main></body></html>",
            encoding="utf-8",
        )
    else:
        document = docx.Document()
        document.add_heading("Parking", level=1)
        document.add_paragraph(intro)
        table = document.add_table(rows=3, cols=3)
        for row, cells in zip(
            table.rows,
            [("Level", "Spaces", "Who"), ("-1", "12", "Visitors"), ("-2", "40", "Staff with a permit")],
            strict=True,
        ):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
        document.save(str(path))
    texts = _chunk_texts(empty_service, path)
    lines = [line for text in texts for line in text.splitlines()]
    assert "Level: -1; Spaces: 12; Who: Visitors." in lines
    assert "Level: -2; Spaces: 40; Who: Staff with a permit." in lines
    _assert_no_raw_table_lines(texts)


def test_the_london_hotel_question_is_answered_with_the_figure(handbook_service: NeedleService) -> None:
    answer = handbook_service.ask("What is the hotel limit per night in London?")
    quoted = [line for line in answer.text.splitlines() if line.startswith("> ")]
    assert quoted and "240 EUR" in quoted[0], answer.text
    assert "London" in quoted[0]

"""PDF conversion: page furniture goes, sentences stay whole across line breaks, pages stay exact."""

from __future__ import annotations

from typing import Any

import pytest
from pypdf import PageObject

from pipelines.base.errors import RejectedFileError
from pipelines.indexing.components.page_furniture import PageFurnitureRemover
from pipelines.indexing.components.pdf_converter import LayoutPdfToDocument
from pipelines.indexing.conversion.furniture import is_page_number, remove_page_furniture
from pipelines.service.facade import NeedleService
from pipelines.text.basics import split_sentences
from tests.conftest import HANDBOOK

TRAVEL = HANDBOOK / "travel-and-expenses-policy.pdf"


def _page(header: str, body: str, footer: str) -> str:
    return f"{header}\n\n{body}\n\n{footer}"


def test_repeated_headers_and_page_numbers_are_removed() -> None:
    pages = [
        _page(
            "Acme Widgets Ltd. | Travel Policy     INTERNAL",
            f"{topic} is covered on this page.\nAsk the People Team about {topic.lower()}.",
            f"Page {n} of 3",
        )
        for n, topic in enumerate(["Leave", "Sick pay", "Parental leave"], start=1)
    ]
    cleaned = remove_page_furniture(pages)
    assert len(cleaned) == 3
    for page in cleaned:
        assert "INTERNAL" not in page and "Page" not in page
        assert page.strip().splitlines()[0].endswith("is covered on this page.")


def test_headers_that_differ_only_in_numbers_are_furniture_but_body_lines_are_not() -> None:
    bodies = [
        ["1. Scope", "This policy applies to everyone.", "It starts in 2027.", "Ask HR."],
        ["2. Leave", "You get 25 days.", "Carry over 5 days.", "Request in PeopleHub."],
        ["3. Sick pay", "Full pay for 20 days.", "Certificates from day 4.", "Tell your manager."],
        ["4. Parental leave", "26 weeks at full pay.", "6 weeks for partners.", "Tell us 15 weeks ahead."],
    ]
    pages = [
        "\n".join([f"Handbook 2027 - section {n}", *body, f"- {n} -"])
        for n, body in enumerate(bodies, start=1)
    ]
    cleaned = remove_page_furniture(pages)
    assert [page.splitlines() for page in cleaned] == bodies
    # A single page keeps its header: there is nothing to compare it with.
    assert remove_page_furniture(["Acme | Policy\nText."]) == ["Acme | Policy\nText."]


@pytest.mark.parametrize(
    "line", ["Page 3 of 5", "page 3", "3 / 5", "- 3 -", "第 3 页", "第3页 共5页", "Seite 2 von 4"]
)
def test_page_number_lines(line: str) -> None:
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["Page layout tips", "3 days per year", "The limit is 3 of 5 nights."])
def test_text_is_not_a_page_number(line: str) -> None:
    assert not is_page_number(line)


def test_the_component_keeps_the_pages() -> None:
    document = LayoutPdfToDocument().run(sources=[TRAVEL])["documents"][0]
    cleaned = PageFurnitureRemover().run(documents=[document])["documents"][0]
    assert cleaned.content.count("\f") == 3 == document.content.count("\f")
    assert "INTERNAL" in document.content and "Page 2 of 4" in document.content
    assert "INTERNAL" not in cleaned.content and "Page 2 of 4" not in cleaned.content
    assert "Acme Widgets Ltd." in cleaned.content  # the company's name in the text stays


def test_layout_mode_failures_fall_back_to_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    original = PageObject.extract_text

    def layout_fails(self: PageObject, *args: Any, **kwargs: Any) -> str:
        if kwargs.get("extraction_mode") == "layout":
            raise KeyError("/Parent")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", layout_fails)
    document = LayoutPdfToDocument().run(sources=[TRAVEL])["documents"][0]
    assert document.content.count("\f") == 3
    assert "London, Paris, New York, Zurich, Tokyo 240 EUR" in document.content  # plain mode's row


def test_unreadable_pdfs_are_refused_with_the_reason() -> None:
    from haystack.dataclasses import ByteStream

    stream = ByteStream(b"%PDF-1.4 broken", mime_type="application/pdf", meta={"file_name": "broken.pdf"})
    with pytest.raises(RejectedFileError, match="cannot be read") as refused:
        LayoutPdfToDocument().run(sources=[stream])
    assert refused.value.file_name == "broken.pdf"


def test_pdf_chunks_have_no_furniture_and_whole_sentences(empty_service: NeedleService) -> None:
    result = empty_service.ingest_file(TRAVEL)
    chunks = empty_service.source_chunks(str(result.source_id))
    assert [chunk.meta["page"] for chunk in chunks] == sorted(chunk.meta["page"] for chunk in chunks)
    texts = [chunk.content for chunk in chunks]
    assert not any("INTERNAL" in text or "Page 1 of 4" in text or "of 4" in text for text in texts)
    sentences = {sentence for text in texts for sentence in split_sentences(text)}
    # Each of these was cut at a line break of the PDF before.
    assert "If breakfast is included in your hotel rate, the daily limit is 45 EUR." in sentences
    insurance = "All approved business trips are covered by the Acme group travel insurance, policy number "
    assert f"{insurance}ACM-TRV-2291." in sentences
    high_risk = "also need approval from the Head of Security, who will brief you before departure."
    assert any(
        line.endswith(high_risk) and line.startswith("- Trips")
        for text in texts
        for line in text.splitlines()
    )
    # Headings keep lines of their own, unpunctuated, and are not glued to the paragraph after them.
    lines = [line for text in texts for line in text.splitlines()]
    assert "14. Meals while travelling" in lines
    assert "5. Hotels and accommodation" in lines
    assert not any(line.startswith("14. Meals while travelling ") for line in lines)

from __future__ import annotations

import itertools
import time

from haystack import Document

from pipelines.indexing.components.chunker import MAX_TOKEN_CHARS, SentenceChunker, _break_long_tokens
from pipelines.text.basics import word_count


def _sentences(n: int, words: int = 10) -> str:
    return " ".join(f"Sentence {i} " + " ".join(["word"] * (words - 3)) + " end." for i in range(n))


def test_chunks_stay_within_the_target_and_overlap_by_whole_sentences() -> None:
    chunker = SentenceChunker(chunk_words=50, overlap_words=12)
    chunks = chunker.run([Document(content=_sentences(30), meta={"source_id": "s"})])["documents"]
    assert len(chunks) > 5
    for chunk in chunks:
        assert word_count(chunk.content) <= 50
    for previous, following in itertools.pairwise(chunks):
        last_sentence = previous.content.split(". ")[-1].rstrip(".")
        assert following.content.startswith(last_sentence)
    assert [chunk.meta["chunk_index"] for chunk in chunks] == list(range(len(chunks)))


def test_every_sentence_is_kept() -> None:
    text = _sentences(25)
    chunks = SentenceChunker(chunk_words=40, overlap_words=0).run(
        [Document(content=text, meta={"source_id": "s"})]
    )
    assert " ".join(chunk.content for chunk in chunks["documents"]) == text


def test_pdf_pages_are_recorded_and_never_mixed_in_one_chunk() -> None:
    text = (
        _sentences(3)
        + "\f"
        + "Business class is allowed only for flights longer than 8 hours."
        + "\f"
        + _sentences(2)
    )
    chunks = SentenceChunker(chunk_words=200, overlap_words=20).run(
        [Document(content=text, meta={"source_id": "s", "file_type": "pdf"})]
    )["documents"]
    assert [chunk.meta["page"] for chunk in chunks] == [1, 2, 3]
    assert "Business class" in chunks[1].content


def test_non_paged_documents_have_no_page() -> None:
    chunks = SentenceChunker().run([Document(content="One. Two.", meta={"source_id": "s"})])["documents"]
    assert chunks[0].meta["page"] is None


def test_chinese_text_is_chunked_without_spaces() -> None:
    text = "每位全职员工每年享有25天带薪年假。" * 40
    chunks = SentenceChunker(chunk_words=60, overlap_words=10).run(
        [Document(content=text, meta={"source_id": "z"})]
    )
    documents = chunks["documents"]
    assert len(documents) > 3
    assert all(" " not in doc.content and doc.meta["language"] == "zh" for doc in documents)


def test_ids_are_deterministic_and_content_hash_is_set() -> None:
    doc = Document(content=_sentences(8), meta={"source_id": "s"})
    first = SentenceChunker(chunk_words=30, overlap_words=5).run([doc])["documents"]
    second = SentenceChunker(chunk_words=30, overlap_words=5).run([doc])["documents"]
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert all(len(c.meta["content_hash"]) == 64 for c in first)


def test_wrapped_pdf_lines_are_joined_into_one_sentence() -> None:
    text = "Receipts must be uploaded\nwithin 30 days of the trip.\nMeals are capped."
    chunk = SentenceChunker().run([Document(content=text, meta={"source_id": "s"})])["documents"][0]
    assert "Receipts must be uploaded within 30 days of the trip." in chunk.content


def test_empty_documents_give_no_chunks() -> None:
    assert SentenceChunker().run([Document(content="  \n ", meta={"source_id": "s"})])["documents"] == []


def _chunk_lines(text: str, file_type: str = "pdf") -> list[str]:
    document = Document(content=text, meta={"source_id": "s", "file_type": file_type})
    return SentenceChunker().run([document])["documents"][0].content.splitlines()


# Lines wrapped at the page's width, as pypdf extracts them from the travel policy's page 4.
MEALS_PAGE = """14. Meals while travelling
When you travel on business, Acme pays for meals up to 60 EUR per day, covering breakfast, lunch,
dinner, snacks, drinks and tips combined. If breakfast is included in your hotel rate, the daily limit is 45
EUR. There is no fixed daily allowance: we reimburse what you actually spend, up to the limit, against
receipts. Alcohol is not reimbursed, except as part of client entertainment.

15. Client entertainment
Client entertainment is reimbursed up to 90 EUR per person, including the Acme employees present.
Record the names and companies of all attendees and the business purpose in your claim.

16. What is not reimbursed
- hotel minibar, films and other personal entertainment;
- laundry, unless the trip lasts 5 nights or more;
Questions: expenses@acme.example
Owner: Finance Director"""


def test_sentences_wrapped_before_a_capital_or_a_figure_are_joined() -> None:
    lines = _chunk_lines(MEALS_PAGE)
    paragraph = " ".join(MEALS_PAGE.splitlines()[1:5])
    assert paragraph.startswith("When you travel") and paragraph.endswith("client entertainment.")
    assert paragraph in lines
    assert "If breakfast is included in your hotel rate, the daily limit is 45 EUR." in paragraph


def test_headings_list_items_and_short_lines_keep_their_lines() -> None:
    lines = _chunk_lines(MEALS_PAGE)
    for line in [
        "14. Meals while travelling",
        "15. Client entertainment",
        "16. What is not reimbursed",
        "- hotel minibar, films and other personal entertainment;",
        "- laundry, unless the trip lasts 5 nights or more;",
        "Questions: expenses@acme.example",  # short lines ended there: they did not reach the margin
        "Owner: Finance Director",
    ]:
        assert line in lines


def test_rules_under_plain_text_headings_are_not_glued_to_the_paragraph() -> None:
    text = "Why we review performance\n-------------------------\nReviews at Acme are meant to help you grow."
    assert _chunk_lines(text, "text") == [
        "Why we review performance",
        "-------------------------",
        "Reviews at Acme are meant to help you grow.",
    ]


def test_docx_and_html_paragraphs_are_never_joined_unless_the_next_starts_in_lower_case() -> None:
    text = (
        "Health insurance\nAcme provides health insurance through BrightCare Health on the plan\nDental care"
    )
    for file_type in ("docx", "html"):
        assert _chunk_lines(text, file_type) == text.splitlines()


def test_chinese_lines_wrapped_mid_sentence_are_joined_without_a_space() -> None:
    text = (
        "每位全职员工每年享有25天带薪年假（按自然年计算），"
        "兼职员工按合同工作时间折算，年中入职的员工按实际在\n职月份折算。"
    )
    assert _chunk_lines(text, "text") == [text.replace("\n", "")]


def test_a_leading_item_number_stays_with_its_text() -> None:
    text = "Key dates:\n3. Manager review and calibration: managers draft ratings in February."
    assert _chunk_lines(text, "text") == [
        "Key dates:",
        "3. Manager review and calibration: managers draft ratings in February.",
    ]


def test_table_rows_keep_a_line_each() -> None:
    text = "Location: London; Maximum per night: 240 EUR.\nLocation: Shanghai; Maximum per night: 180 EUR."
    assert _chunk_lines(text) == text.splitlines()


def _long_run(chars: int) -> str:
    """A run of ``chars`` characters without whitespace (minified data), inside a sentence."""
    unit = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "Intro. " + (unit * (chars // len(unit) + 1))[:chars] + " end."


def test_a_huge_token_is_cut_into_bounded_pieces_and_loses_nothing() -> None:
    text = _long_run(200_000)
    chunks = SentenceChunker(chunk_words=200, overlap_words=0).run(
        [Document(content=text, meta={"source_id": "s", "file_type": "text"})]
    )["documents"]
    pieces = [piece for chunk in chunks for piece in chunk.content.split()]
    assert all(len(piece) <= MAX_TOKEN_CHARS for piece in pieces)
    assert "".join(pieces) == "".join(text.split())  # every character kept, in order
    assert all(word_count(chunk.content) <= 200 for chunk in chunks)


def test_cutting_long_tokens_takes_time_linear_in_their_length() -> None:
    """8 times the text takes about 8 times as long (the quadratic cut took about 60 times: every slice
    copied the whole run). The best of three runs, so a busy machine does not decide it."""

    def best_time(text: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            _break_long_tokens(text)
            times.append(time.perf_counter() - start)
        return min(times)

    small, large = _long_run(256 * 1024), _long_run(2 * 1024 * 1024)
    assert best_time(large) < 24 * best_time(small) + 0.05

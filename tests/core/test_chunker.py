from __future__ import annotations

import itertools

from haystack import Document

from pipelines.components.chunker import SentenceChunker
from pipelines.text import word_count


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

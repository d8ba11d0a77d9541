"""Split converted documents into overlapping, sentence-aligned chunks that remember their page."""

from __future__ import annotations

import hashlib
import re

from haystack import Document, component

from pipelines.text import CJK_CHAR, is_mostly_cjk, split_sentences, word_count

_CJK_EDGE = re.compile(f"{CJK_CHAR.pattern}|[\u3000-\u303f\uff00-\uffef]")
_LINE_END_PUNCTUATION = re.compile(r"[.!?:;。！？；：]\s*$")
_LIST_OR_HEADING = re.compile(r"^\s*(?:[-*•#]|\d+[.)]\s|[A-Z][^a-z]{0,40}$)")


def _join_wrapped_lines(page: str) -> str:
    """Re-join lines that a PDF or text editor wrapped mid-sentence; keep real line breaks as boundaries.

    A line ending without punctuation followed by a line starting in lower case is a soft wrap; list
    items, headings and lines after sentence punctuation keep their break, which the sentence splitter
    then treats as a paragraph boundary.
    """
    lines = [line.strip() for line in page.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if (
            out
            and not _LINE_END_PUNCTUATION.search(out[-1])
            and not _LIST_OR_HEADING.match(line)
            and (line[0].islower() or line[0] in ",)")
        ):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n\n".join(out)


#: Longer runs without whitespace (minified data, base64) are cut, so every chunk stays bounded.
MAX_TOKEN_CHARS = 80
_LONG_TOKEN = re.compile(rf"[^\s{CJK_CHAR.pattern.strip('[]')}]{{{MAX_TOKEN_CHARS + 1},}}")


def _break_long_tokens(text: str) -> str:
    return _LONG_TOKEN.sub(
        lambda m: " ".join(
            m.group(0)[i : i + MAX_TOKEN_CHARS] for i in range(0, len(m.group(0)), MAX_TOKEN_CHARS)
        ),
        text,
    )


def _split_long(sentence: str, max_words: int) -> list[str]:
    """Cut a sentence longer than a whole chunk (tables, lists without punctuation) into word windows."""
    if word_count(sentence) <= max_words:
        return [sentence]
    if is_mostly_cjk(sentence):
        size = int(max_words / 0.6)
        return [sentence[i : i + size] for i in range(0, len(sentence), size)]
    words = sentence.split()
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@component
class SentenceChunker:
    """Pack whole sentences into chunks of about ``chunk_words`` words, overlapping by whole sentences.

    Works offline and for Chinese (sentences end at ``。！？`` too). Pages are separated by form feeds in
    the converters' output; chunks never span a page break, so a citation's "page 3" is exact. Every
    chunk gets a deterministic id from its source id and position, so re-indexing a source overwrites
    rather than duplicates.
    """

    def __init__(self, chunk_words: int = 200, overlap_words: int = 40) -> None:
        if chunk_words <= 0:
            raise ValueError("chunk_words must be positive")
        if not 0 <= overlap_words < chunk_words:
            raise ValueError("overlap_words must be between 0 and chunk_words - 1")
        self.chunk_words = chunk_words
        self.overlap_words = overlap_words

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Chunk every document; documents without text produce no chunks."""
        chunks: list[Document] = []
        for document in documents:
            chunks.extend(self._chunk(document))
        return {"documents": chunks}

    def _sentences_with_pages(self, document: Document) -> list[tuple[str, int | None]]:
        text = document.content or ""
        paged = "\f" in text or document.meta.get("file_type") == "pdf"
        result: list[tuple[str, int | None]] = []
        for page_number, page in enumerate(text.split("\f"), start=1):
            for sentence in split_sentences(_join_wrapped_lines(page)):
                for piece in _split_long(_break_long_tokens(" ".join(sentence.split())), self.chunk_words):
                    result.append((piece, page_number if paged else None))
        return result

    def _chunk(self, document: Document) -> list[Document]:
        sentences = self._sentences_with_pages(document)
        groups: list[list[tuple[str, int | None]]] = []
        current: list[tuple[str, int | None]] = []
        size = 0.0
        fresh = 0  # sentences in `current` that are not overlap from the previous chunk
        for sentence in sentences:
            words = word_count(sentence[0])
            if current and sentence[1] != current[-1][1]:
                # A new page starts a new chunk, so a citation's page is the page its text is on.
                groups.append(current)
                current, size, fresh = [], 0.0, 0
            if fresh and size + words > self.chunk_words:
                groups.append(current)
                current = self._overlap_tail(current)
                size = sum(word_count(text) for text, _ in current)
                fresh = 0
            if not fresh and size + words > self.chunk_words:
                current, size = [], 0.0  # the overlap and this sentence do not fit together
            current.append(sentence)
            size += words
            fresh += 1
        if fresh:
            groups.append(current)

        source_id = document.meta.get("source_id", "")
        out = []
        for chunk_index, group in enumerate(groups):
            content = _join(group)
            digest = content_hash(content)
            meta = {
                **document.meta,
                "chunk_index": chunk_index,
                "chunk_count": len(groups),
                "page": group[0][1],
                "content_hash": digest,
                "language": "zh" if is_mostly_cjk(content) else "en",
            }
            chunk_id = hashlib.sha256(f"{source_id}\x00{chunk_index}\x00{digest}".encode()).hexdigest()
            out.append(Document(id=chunk_id, content=content, meta=meta))
        return out

    def _overlap_tail(self, group: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
        """The trailing whole sentences of ``group`` that fit in the overlap (never the whole group)."""
        tail: list[tuple[str, int | None]] = []
        size = 0.0
        for sentence in reversed(group[1:]):
            words = word_count(sentence[0])
            if size + words > self.overlap_words:
                break
            tail.insert(0, sentence)
            size += words
        return tail


def _join(group: list[tuple[str, int | None]]) -> str:
    """Join sentences with a space, with nothing between CJK sentences (Chinese uses no spaces), and with a
    line break after a heading or list item, so the extractive answerer can still tell them apart."""
    parts: list[str] = []
    for text, _ in group:
        if parts:
            if not _LINE_END_PUNCTUATION.search(parts[-1]) or not parts[-1].strip():
                parts.append("\n")
            elif not (_CJK_EDGE.match(parts[-1][-1:]) and _CJK_EDGE.match(text[:1])):
                parts.append(" ")
        parts.append(text)
    return "".join(parts)

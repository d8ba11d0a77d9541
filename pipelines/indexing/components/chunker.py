"""Split converted documents into overlapping, sentence-aligned chunks that remember their page."""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from haystack import Document, component

from pipelines.base.errors import RejectedFileError
from pipelines.text.basics import (
    CJK_CHAR,
    is_heading,
    is_list_item,
    is_mostly_cjk,
    split_sentences,
    word_count,
)

_CJK_EDGE = re.compile(f"{CJK_CHAR.pattern}|[\u3000-\u303f\uff00-\uffef]")
_LINE_END_PUNCTUATION = re.compile(r"[.!?:;。！？；：]\s*$")
_SENTENCE_END = re.compile(r"[.!?。！？]['\"”’)\]]*$")
_CLAUSE_END = re.compile(r"[:;：；]$")
_TABLE_ROW = re.compile(r"^\|")
_RULE = re.compile(r"^[-=_*~#.·]{3,}$")  # "-----" under a plain-text heading, "***" between sections
_HYPHENATED = re.compile(r"[A-Za-z]-$")
_LOWER_START = re.compile(r"^[a-z,;)\]）」]")
_NUMBER_ONLY = re.compile(r"^(?:\(?\d{1,3}(?:\.\d{1,3})*[.)]|[A-Za-z][.)])$")
#: Converters whose lines are already whole paragraphs (one per block element): they never wrap text, so
#: only a line that starts in lower case can continue the one before.
UNWRAPPED_FILE_TYPES = frozenset({"docx", "html"})
#: A line at least this share of the text's wrap width reached the margin, so its sentence may go on.
FULL_LINE_SHARE = 0.7


def wrap_width(text: str) -> int:
    """The width at which ``text`` was wrapped: the 75th percentile of its line lengths (short headings,
    last lines of paragraphs and blank lines pull the median down; a rare long line does not count)."""
    lengths = sorted(len(line.strip()) for line in text.split("\n") if line.strip())
    return lengths[(len(lengths) * 3) // 4] if lengths else 0


def _starts_block(line: str) -> bool:
    """A line that begins something of its own: a heading, a list item, a table row or a rule."""
    return is_heading(line) or is_list_item(line) or bool(_TABLE_ROW.match(line) or _RULE.match(line))


def _continues(previous: str, last_line: str, line: str, width: int | None) -> bool:
    """Whether ``line`` continues the sentence that ``previous`` (ending with the physical line
    ``last_line``) left unfinished.

    PDFs, plain text and Markdown wrap long sentences at a fixed ``width``, so a wrapped sentence may go on
    with any word: "... the daily limit is 45" / "EUR. There is ...". It does when the line before reached
    the margin, did not end the sentence and is no heading, and the next line starts no heading, list item
    or table row. A line in lower case always continues; after a colon or semicolon only such a line does.
    ``width`` is ``None`` for text that is never wrapped (DOCX, HTML), where only the lower-case rule holds.
    """
    if _SENTENCE_END.search(previous) or _RULE.match(last_line) or _RULE.match(line):
        return False
    if line[0] in "-*•+" and is_list_item(line):
        return False
    if _LOWER_START.match(line):
        return True
    if width is None or _CLAUSE_END.search(previous) or len(last_line) < FULL_LINE_SHARE * width:
        return False
    return not (is_heading(previous) or _starts_block(line))


def _glue(previous: str, line: str) -> str:
    if _CJK_EDGE.match(previous[-1:]) and _CJK_EDGE.match(line[:1]):
        return previous + line  # Chinese wraps between characters, with no space to restore
    if _HYPHENATED.search(previous) and line[0].islower():
        return previous + line  # "missing-" / "receipt" is "missing-receipt"
    return f"{previous} {line}"


def _logical_lines(page: str, width: int | None = None) -> list[str]:
    """The page's lines with wrapped sentences re-joined: one line per paragraph, heading, list item or
    table row. A blank line always ends a paragraph. See :func:`_continues` for ``width``."""
    out: list[str] = []
    last_line = ""  # the physical line that ends out[-1]; empty after a blank line
    for raw in page.split("\n"):
        line = raw.strip()
        if line and last_line and _continues(out[-1], last_line, line, width):
            out[-1] = _glue(out[-1], line)
        elif line:
            out.append(line)
        last_line = line
    return out


def _line_sentences(line: str) -> list[str]:
    """The sentences of one logical line; a leading "3." or "a)" stays with the text it numbers."""
    sentences = split_sentences(line)
    if len(sentences) > 1 and _NUMBER_ONLY.match(sentences[0]):
        sentences[:2] = [f"{sentences[0]} {sentences[1]}"]
    return sentences


#: Longer runs without whitespace (minified data, base64) are cut, so every chunk stays bounded.
MAX_TOKEN_CHARS = 80
_LONG_TOKEN = re.compile(rf"[^\s{CJK_CHAR.pattern.strip('[]')}]{{{MAX_TOKEN_CHARS + 1},}}")


def _cut_token(match: re.Match[str]) -> str:
    """The match in slices of ``MAX_TOKEN_CHARS`` joined by spaces. ``match.group(0)`` is taken once:
    each call copies the match, so calling it per slice made a megabyte-long run quadratic."""
    token = match.group(0)
    return " ".join(token[i : i + MAX_TOKEN_CHARS] for i in range(0, len(token), MAX_TOKEN_CHARS))


def _break_long_tokens(text: str) -> str:
    return _LONG_TOKEN.sub(_cut_token, text)


def _split_long(sentence: str, max_words: int) -> list[str]:
    """Cut a sentence longer than a whole chunk (tables, lists without punctuation) into word windows."""
    if word_count(sentence) <= max_words:
        return [sentence]
    if is_mostly_cjk(sentence):
        size = int(max_words / 0.6)
        return [sentence[i : i + size] for i in range(0, len(sentence), size)]
    words = sentence.split()
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


class _Sentence(NamedTuple):
    text: str
    page: int | None
    new_line: bool  # the sentence starts a line of its own: a paragraph, heading, list item or table row


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@component
class SentenceChunker:
    """Pack whole sentences into chunks of about ``chunk_words`` words, overlapping by whole sentences.

    Works offline and for Chinese (sentences end at ``。！？`` too). Lines that a PDF, a text file or
    Markdown wrapped mid-sentence are joined first (see :func:`_continues`), so no sentence is cut at a
    line break, and each chunk keeps one line per paragraph, heading, list item and table row. Pages are
    separated by form feeds in the converters' output; chunks never span a page break, so a citation's
    "page 3" is exact. Every chunk gets a deterministic id from its source id and position, so re-indexing
    a source overwrites rather than duplicates.

    A document that would yield more than ``max_chunks`` chunks is refused (:class:`RejectedFileError`)
    as soon as the count is passed, before anything is embedded: embedding is the slow stage, and one
    file must not hold the indexing lane for an hour.
    """

    def __init__(
        self, chunk_words: int = 200, overlap_words: int = 40, max_chunks: int | None = None
    ) -> None:
        if chunk_words <= 0:
            raise ValueError("chunk_words must be positive")
        if not 0 <= overlap_words < chunk_words:
            raise ValueError("overlap_words must be between 0 and chunk_words - 1")
        self.chunk_words = chunk_words
        self.overlap_words = overlap_words
        self.max_chunks = max_chunks

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Chunk every document; documents without text produce no chunks."""
        chunks: list[Document] = []
        for document in documents:
            chunks.extend(self._chunk(document))
        return {"documents": chunks}

    def _sentences_with_pages(self, document: Document) -> list[_Sentence]:
        text = document.content or ""
        paged = "\f" in text or document.meta.get("file_type") == "pdf"
        width = None if document.meta.get("file_type") in UNWRAPPED_FILE_TYPES else wrap_width(text)
        result: list[_Sentence] = []
        for page_number, page in enumerate(text.split("\f"), start=1):
            for line in _logical_lines(page, width):
                new_line = True
                for sentence in _line_sentences(line):
                    for piece in _split_long(
                        _break_long_tokens(" ".join(sentence.split())), self.chunk_words
                    ):
                        result.append(_Sentence(piece, page_number if paged else None, new_line))
                        new_line = False
        return result

    def _chunk(self, document: Document) -> list[Document]:
        sentences = self._sentences_with_pages(document)
        groups: list[list[_Sentence]] = []
        current: list[_Sentence] = []
        size = 0.0
        fresh = 0  # sentences in `current` that are not overlap from the previous chunk
        for sentence in sentences:
            words = word_count(sentence.text)
            if current and sentence.page != current[-1].page:
                # A new page starts a new chunk, so a citation's page is the page its text is on.
                groups.append(current)
                current, size, fresh = [], 0.0, 0
                self._check_count(document, len(groups))
            if fresh and size + words > self.chunk_words:
                groups.append(current)
                self._check_count(document, len(groups))
                current = self._overlap_tail(current)
                size = sum(word_count(kept.text) for kept in current)
                fresh = 0
            if not fresh and size + words > self.chunk_words:
                current, size = [], 0.0  # the overlap and this sentence do not fit together
            current.append(sentence)
            size += words
            fresh += 1
        if fresh:
            groups.append(current)
            self._check_count(document, len(groups))

        source_id = document.meta.get("source_id", "")
        out = []
        for chunk_index, group in enumerate(groups):
            content = _join(group)
            digest = content_hash(content)
            meta = {
                **document.meta,
                "chunk_index": chunk_index,
                "chunk_count": len(groups),
                "page": group[0].page,
                "content_hash": digest,
                "language": "zh" if is_mostly_cjk(content) else "en",
            }
            chunk_id = hashlib.sha256(f"{source_id}\x00{chunk_index}\x00{digest}".encode()).hexdigest()
            out.append(Document(id=chunk_id, content=content, meta=meta))
        return out

    def _check_count(self, document: Document, chunks: int) -> None:
        if self.max_chunks is not None and chunks > self.max_chunks:
            words = self.max_chunks * (self.chunk_words - self.overlap_words)
            raise RejectedFileError(
                str(document.meta.get("file_name") or "the file"),
                f"the file yields more than {self.max_chunks:,} chunks (about {words:,} words), the most "
                "one file may have (NEEDLE_MAX_FILE_CHUNKS); split it into smaller files",
            )

    def _overlap_tail(self, group: list[_Sentence]) -> list[_Sentence]:
        """The trailing whole sentences of ``group`` that fit in the overlap (never the whole group)."""
        tail: list[_Sentence] = []
        size = 0.0
        for sentence in reversed(group[1:]):
            words = word_count(sentence.text)
            if size + words > self.overlap_words:
                break
            tail.insert(0, sentence)
            size += words
        return tail


def _join(group: list[_Sentence]) -> str:
    """Join sentences as the document laid them out: a line break where a paragraph, heading, list item or
    table row begins (so headings stay on lines of their own, recognisable by :func:`is_heading`), else a
    space, or nothing between CJK sentences (Chinese uses no spaces)."""
    parts: list[str] = []
    for text, _, new_line in group:
        if parts:
            if new_line or not _LINE_END_PUNCTUATION.search(parts[-1]):
                parts.append("\n")
            elif not (_CJK_EDGE.match(parts[-1][-1:]) and _CJK_EDGE.match(text[:1])):
                parts.append(" ")
        parts.append(text)
    return "".join(parts)

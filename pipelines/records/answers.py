"""What the core hands to its faces: answers with citations, ingest results and source listings.

Plain dataclasses with ``to_dict()`` so the CLI can print JSON, Slack can build blocks and the console
can fill tables without knowing anything about Haystack documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from haystack import Document


def date_label(modified_at: str | None, indexed_at: str | None) -> str:
    """A source's date as people are shown it, wherever it is shown (an answer's sources, a listing):
    ``updated 2026-03-02`` when the document carries its own date, else ``indexed 2026-11-30`` (when
    Needle read it); empty when neither is known. The index date is never called "updated": a file
    re-read today may not have changed for months."""
    if modified_at:
        return f"updated {modified_at[:10]}"
    return f"indexed {indexed_at[:10]}" if indexed_at else ""


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: what ``[n]`` in the answer text points at.

    One citation is one document, however many of its passages the answer quotes: ``pages`` lists the
    cited pages (PDFs), ``page`` is the first of them, and ``passage_ids`` the chunks the answer named,
    in order of first citation (the link from ``[n]`` to the passage itself). ``modified_at`` is the
    document's own date where the file carries one; ``indexed_at`` is when Needle read it.
    """

    number: int
    source_id: str
    title: str
    file_name: str
    url: str | None
    page: int | None
    chunk_index: int | None
    indexed_at: str | None
    pages: list[int] = field(default_factory=list)
    modified_at: str | None = None
    passage_ids: list[str] = field(default_factory=list)
    #: Set when the source is past its review-by date (issue 27): when it was last reviewed.
    last_reviewed: str | None = None

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Citation:
        """A citation as a trace stored it; traces written before ``pages`` existed had only ``page``."""
        page = stored.get("page")
        return cls(**{**stored, "pages": stored.get("pages") or ([page] if page else [])})

    @property
    def location(self) -> str:
        """Where to look: the URL if the source has one, else the file name and pages."""
        if self.url:
            return self.url
        return f"{self.file_name}, {self.pages_label}" if self.pages else self.file_name

    @property
    def pages_label(self) -> str:
        """``page 3`` or ``pages 2, 4``; empty for documents without pages."""
        if not self.pages:
            return ""
        word = "page" if len(self.pages) == 1 else "pages"
        return f"{word} {', '.join(str(page) for page in self.pages)}"

    @property
    def date_label(self) -> str:
        """``updated 2026-03-02`` (the document's own date) or ``indexed 2026-11-30`` (Needle's); for a
        source past its review-by date, ``last reviewed 2025-01-10``."""
        if self.last_reviewed:
            return f"last reviewed {self.last_reviewed[:10]}"
        return date_label(self.modified_at, self.indexed_at)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as shown to people (number, text, scores) rather than a store document."""

    number: int
    id: str
    content: str
    score: float | None
    meta: dict[str, Any]

    @classmethod
    def from_document(cls, number: int, document: Document) -> Passage:
        meta = {key: value for key, value in document.meta.items() if key != "retrieval"}
        retrieval = document.meta.get("retrieval")
        if retrieval:
            meta["retrieval"] = retrieval
        return cls(number, document.id, document.content or "", document.score, meta)

    def citation(self, number: int | None = None) -> Citation:
        """This passage as citation ``number`` (default: the passage's own number)."""
        meta = self.meta
        page = meta.get("page")
        return Citation(
            number=self.number if number is None else number,
            source_id=str(meta.get("source_id", "")),
            title=str(meta.get("title") or meta.get("file_name") or "Untitled"),
            file_name=str(meta.get("file_name", "")),
            url=meta.get("url") or None,
            page=page,
            chunk_index=meta.get("chunk_index"),
            indexed_at=meta.get("indexed_at"),
            pages=[page] if page else [],
            modified_at=meta.get("modified_at") or None,
            passage_ids=[self.id],
        )


AnswerKind = Literal["generated", "extractive", "fallback", "no_answer", "verified"]


@dataclass(frozen=True)
class Answer:
    """An answer to one question, with the passages it was given and those it cites."""

    question: str
    text: str
    kind: AnswerKind
    citations: list[Citation]
    passages: list[Passage]
    trace_id: str
    notice: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: ``False`` when Needle decided the documents do not answer the question (then nothing is cited).
    found: bool = True
    #: When not found: up to three sources that might be related, offered as links, never quoted.
    related: list[Citation] = field(default_factory=list)
    #: Why the answerability gate decided as it did (scores, threshold), for traces and the debugger.
    answerability: dict[str, Any] = field(default_factory=dict)
    #: The model answered without citing any passage it was given: shown with ``UNCITED_NOTE`` and the
    #: ``related`` sources instead of as a sourced answer.
    uncited: bool = False
    #: Given from a verified answer (issue 27): ``{"id", "expert", "date"}``; ``None`` otherwise.
    verified: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``answer`` repeats ``text`` under the name scripts expect."""
        data = {"answer": self.text, **dataclasses.asdict(self)}
        for key, citations in (("citations", self.citations), ("related", self.related)):
            for citation, source in zip(data[key], citations, strict=True):
                citation["location"] = source.location
                citation["date_label"] = source.date_label
        return data


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file: indexed, unchanged (same bytes as before), rejected with a reason, or
    not indexed because a different document with the same file name is indexed (``conflict``: the
    ``source_id`` is that document's, the ``reason`` describes it), or ``failed`` for a reason that is
    not the file's content (the embedder failed; ``reason`` says what), reported while the rest go on.

    ``warnings`` say what the admin should check although the file was read (a guessed text encoding,
    bytes replaced); ``replaced`` is true when an earlier, different version of the source was replaced.
    """

    file_name: str
    status: Literal["indexed", "unchanged", "rejected", "conflict", "failed"]
    source_id: str | None = None
    chunks: int = 0
    reason: str = ""
    warnings: tuple[str, ...] = ()
    replaced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SourceInfo:
    """A source (one uploaded file) as listed to people, with its chunk count."""

    source_id: str
    title: str
    file_name: str
    file_type: str
    url: str | None
    tags: list[str]
    chunks: int
    size_bytes: int
    uploaded_by: str | None
    indexed_at: str
    source_hash: str
    #: Who may see it: ``["everyone"]`` or channel/usergroup/user members (see
    #: ``pipelines.records.audience``).
    audience: list[str] = dataclasses.field(default_factory=lambda: ["everyone"])
    #: The document's own date where the file carries one (as its citations show it).
    modified_at: str | None = None
    #: The connector that keeps it in sync, if one does: then it is changed at its source, not by hand.
    connector: str | None = None

    @property
    def date_label(self) -> str:
        """The same date its citations show: see :func:`date_label`."""
        return date_label(self.modified_at, self.indexed_at)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

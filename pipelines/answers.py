"""What the core hands to its faces: answers with citations, ingest results and source listings.

Plain dataclasses with ``to_dict()`` so the CLI can print JSON, Slack can build blocks and the console
can fill tables without knowing anything about Haystack documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from haystack import Document


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: what ``[n]`` in the answer text points at."""

    number: int
    source_id: str
    title: str
    file_name: str
    url: str | None
    page: int | None
    chunk_index: int | None
    indexed_at: str | None

    @property
    def location(self) -> str:
        """Where to look: the URL if the source has one, else the file name and page."""
        if self.url:
            return self.url
        return f"{self.file_name}, page {self.page}" if self.page else self.file_name


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

    def citation(self) -> Citation:
        meta = self.meta
        return Citation(
            number=self.number,
            source_id=str(meta.get("source_id", "")),
            title=str(meta.get("title") or meta.get("file_name") or "Untitled"),
            file_name=str(meta.get("file_name", "")),
            url=meta.get("url") or None,
            page=meta.get("page"),
            chunk_index=meta.get("chunk_index"),
            indexed_at=meta.get("indexed_at"),
        )


AnswerKind = Literal["generated", "extractive", "fallback", "no_answer"]


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``answer`` repeats ``text`` under the name scripts expect."""
        data = {"answer": self.text, **dataclasses.asdict(self)}
        for citation, source in zip(data["citations"], self.citations, strict=True):
            citation["location"] = source.location
        return data


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file: indexed, unchanged (same bytes as before), or rejected with a reason."""

    file_name: str
    status: Literal["indexed", "unchanged", "rejected"]
    source_id: str | None = None
    chunks: int = 0
    reason: str = ""

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

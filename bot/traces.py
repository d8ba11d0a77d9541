"""Rebuild an :class:`Answer` from its stored trace, so a shared answer is the one the asker saw."""

from __future__ import annotations

from typing import Any

from pipelines.records.answers import Answer, Citation


def answer_from_trace(trace: dict[str, Any] | None) -> Answer | None:
    if not trace:
        return None
    stored = trace.get("answer") or {}
    try:
        citations = [Citation.from_stored(citation) for citation in stored.get("citations") or []]
        related = [Citation.from_stored(citation) for citation in stored.get("related") or []]
    except TypeError:
        citations, related = [], []
    return Answer(
        question=str(trace.get("question", "")),
        text=str(stored.get("text", "")),
        kind=stored.get("kind", "extractive"),
        citations=citations,
        passages=[],
        trace_id=str(trace.get("trace_id", "")),
        notice=str(stored.get("notice", "")),
        found=bool(stored.get("found", True)),
        related=related,
        uncited=bool(stored.get("uncited", False)),
    )

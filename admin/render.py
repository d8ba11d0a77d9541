"""Turn the core's objects into the rows and text the console shows.

Pure functions with no Gradio in them, so what an admin sees can be tested without a browser. Every cell
is plain text: documents are uploaded by anyone with a login and may contain HTML or Markdown, which the
console must show as written, never interpret.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from pipelines.base.sizes import format_size
from pipelines.records.answers import Citation, IngestResult, Passage, SourceInfo
from pipelines.records.audience import describe as describe_audience
from pipelines.text.basics import counted

SOURCE_HEADERS = [
    "Title",
    "File name",
    "Type",
    "Chunks",
    "Size",
    "Tags",
    "Audience",
    "Uploaded by",
    "Indexed at (UTC)",
    "Source id",
]
#: Widths that fit the sources table in a 1280 px window: every column on screen, every header unbroken.
SOURCE_COLUMN_WIDTHS = ["14%", "12%", "8%", "7%", "7%", "8%", "15%", "9%", "10%", "10%"]
#: Columns holding numbers: they sort as numbers (the size by its bytes, shown as "4.5 KB").
SOURCE_DATATYPES = ["str", "str", "str", "number", "number", "str", "str", "str", "str", "str"]
INGEST_HEADERS = ["File", "Result", "Chunks", "Notes", "Source id"]
INGEST_COLUMN_WIDTHS = ["18%", "14%", "7%", "45%", "16%"]
CHUNK_HEADERS = ["#", "Page", "Position", "Words", "Content hash", "Text"]
RANKED_HEADERS = ["Rank", "Score", "Source", "Page", "Chunk", "Text"]
FUSED_HEADERS = [
    "Rank",
    "Fused score",
    "BM25 rank",
    "BM25 score",
    "Dense rank",
    "Dense score",
    "Source",
    "Page",
    "Chunk",
    "Text",
]
CITATION_HEADERS = ["[n]", "Title", "Where", "Chunk"]
TIMING_HEADERS = ["Stage", "ms"]
TRACE_HEADERS = ["Time (UTC)", "From", "User", "Question", "Answer", "Kind", "👍", "👎", "Trace id"]
FEEDBACK_HEADERS = ["Time (UTC)", "Rating", "Reason", "User", "Question", "Answer", "Trace id"]
TRACE_FEEDBACK_HEADERS = ["Time (UTC)", "Rating", "Reason", "User"]

#: Trace ids are uuid4 hex; anything else in a URL or a text box is refused before it reaches the store.
TRACE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def md_text(text: object) -> str:
    """``text`` made inert for a Markdown component: every character Markdown or HTML reads is escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(str(text), quote=False))


def timestamp(value: float | str | None) -> str:
    """Seconds since the epoch or an ISO string, as ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        try:
            moment = datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_tags(text: str | None) -> list[str]:
    """Tags typed as ``hr, policies`` (commas or new lines)."""
    return [tag.strip() for tag in re.split(r"[,\n]", text or "") if tag.strip()]


def overview_line(stats: dict[str, Any], store_kind: str, answering: str) -> str:
    """The console's header: what is indexed, where, and how answers are made (``answering``: the LLM
    and how its last call went, from ``LLMStatus.headline``)."""
    answering = md_text(answering)
    return (
        f"{counted(stats['sources'], 'source', '**')} · {counted(stats['chunks'], 'chunk', '**')} · "
        "last indexed "
        f"{timestamp(stats['last_updated']) or 'never'} · store: {md_text(store_kind)} · "
        f"answers by {answering}"
    )


def source_table(sources: list[SourceInfo]) -> dict[str, Any]:
    """The sources table: sizes are bytes underneath (so sorting is by size) and shown as "4.5 KB"."""
    rows = source_rows(sources)
    shown = [[*row[:4], format_size(row[4]), *row[5:]] for row in rows]
    return {
        "headers": SOURCE_HEADERS,
        "data": rows,
        "metadata": {"display_value": shown, "styling": [["" for _ in row] for row in rows]},
    }


def source_rows(sources: list[SourceInfo]) -> list[list[Any]]:
    """One row per source; the size in bytes (see :func:`source_table` for how it is shown)."""
    return [
        [
            source.title,
            source.file_name,
            source.file_type,
            source.chunks,
            source.size_bytes,
            ", ".join(source.tags),
            describe_audience(source.audience),
            (
                f"🔗 connector {source.connector} (read-only)"
                if source.connector
                else source.uploaded_by or ""
            ),
            timestamp(source.indexed_at),
            source.source_id,
        ]
        for source in sources
    ]


def source_choices(sources: list[SourceInfo]) -> list[tuple[str, str]]:
    """Dropdown entries: a readable label, the source id as value."""
    return [(f"{source.title} — {source.file_name}", source.source_id) for source in sources]


def tag_choices(sources: list[SourceInfo]) -> list[str]:
    return sorted({tag for source in sources for tag in source.tags})


INGEST_LABELS = {
    "indexed": "✅ indexed",
    "unchanged": "➖ unchanged",
    "rejected": "❌ rejected",
    "conflict": "⚠️ same name",
}


def ingest_rows(results: list[IngestResult]) -> list[list[Any]]:
    """One row per file: what happened, and in Notes why (a rejection's reason, a conflict, warnings)."""
    rows = []
    for result in results:
        label = "🔁 replaced" if result.replaced else INGEST_LABELS[result.status]
        notes = [result.reason] if result.reason else []
        notes += [f"⚠️ {warning}" for warning in result.warnings]
        rows.append([result.file_name, label, result.chunks, "\n".join(notes), result.source_id or ""])
    return rows


def chunk_rows(passages: list[Passage], contains: str | None = None) -> list[list[Any]]:
    """A source's chunks in reading order, optionally only those containing ``contains`` (any case)."""
    needle = (contains or "").strip().casefold()
    return [
        [
            passage.number,
            passage.meta.get("page") or "",
            _position(passage.meta),
            len(passage.content.split()),
            passage.meta.get("content_hash") or "",
            passage.content,
        ]
        for passage in passages
        if not needle or needle in passage.content.casefold()
    ]


def _position(meta: dict[str, Any]) -> str:
    index, count = meta.get("chunk_index"), meta.get("chunk_count")
    if index is None:
        return ""
    return f"{index + 1} of {count}" if count else str(index + 1)


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _where(item: dict[str, Any]) -> tuple[str, str, str]:
    chunk = item.get("chunk_index")
    return (
        str(item.get("title") or item.get("source_id") or ""),
        "" if item.get("page") is None else str(item["page"]),
        "" if chunk is None else str(chunk + 1),
    )


def ranked_rows(items: list[dict[str, Any]] | None) -> list[list[Any]]:
    """A retriever's (or the reranker's) list from a trace: rank, score, where, the chunk's start."""
    return [
        [item["rank"], _score(item.get("score")), *_where(item), item.get("preview", "")]
        for item in items or []
    ]


def fused_rows(items: list[dict[str, Any]] | None) -> list[list[Any]]:
    """The fused list with what each retriever contributed: a blank rank means that retriever missed it."""
    rows = []
    for item in items or []:
        retrieval = item.get("retrieval") or {}
        bm25, dense = retrieval.get("bm25") or {}, retrieval.get("dense") or {}
        rows.append(
            [
                item["rank"],
                _score(retrieval.get("fused_score", item.get("score"))),
                bm25.get("rank", ""),
                _score(bm25.get("score")),
                dense.get("rank", ""),
                _score(dense.get("score")),
                *_where(item),
                item.get("preview", ""),
            ]
        )
    return rows


def citation_rows(trace: dict[str, Any]) -> list[list[Any]]:
    """Cited sources, or (when the answer found nothing) the "might be related" ones, marked as such."""
    answer = trace.get("answer", {})
    related = not answer.get("citations") and answer.get("related")
    rows = []
    for stored in answer.get("citations") or answer.get("related") or []:
        citation = Citation.from_stored(stored)
        where = f"{citation.location} (might be related, not cited)" if related else citation.location
        chunk = citation.chunk_index
        rows.append([citation.number, citation.title, where, "" if chunk is None else chunk + 1])
    return rows


def timing_rows(timings: dict[str, float] | None) -> list[list[Any]]:
    """Time per pipeline stage, slowest first, with the total last."""
    timings = dict(timings or {})
    total = timings.pop("total", None)
    rows: list[list[Any]] = [
        [stage, round(ms, 1)] for stage, ms in sorted(timings.items(), key=lambda kv: -kv[1])
    ]
    if total is not None:
        rows.append(["total", round(total, 1)])
    return rows


def answer_text(trace: dict[str, Any]) -> str:
    """The answer as the employee saw it, then why Needle did or did not answer (the gate's evidence)."""
    answer = trace.get("answer") or {}
    text = answer.get("text", "")
    notice = answer.get("notice")
    parts = [f"{text}\n\n({notice})" if notice else text]
    gate = answerability_text(trace.get("answerability"))
    if gate:
        parts.append(gate)
    if answer.get("reply") and answer.get("reply") != text:
        parts.append(f"The language model replied: {answer['reply']}")
    return "\n\n".join(parts)


def answerability_text(evidence: dict[str, Any] | None) -> str:
    """One paragraph on the answerability decision: the score against the threshold, and its inputs."""
    if not evidence:
        return ""
    verdict = "answer" if evidence.get("answerable") else "do not answer"
    similarity = evidence.get("sentence_similarity")
    characters = evidence.get("character_coverage")
    inputs = [f"term coverage {evidence.get('coverage', 0):.2f}"]
    if similarity is not None:
        inputs.append(f"best sentence similarity {similarity:.2f}")
    if characters is not None:
        inputs.append(f"character coverage {characters:.2f}")
    missing = ", ".join(evidence.get("missing_terms") or []) or "none"
    return (
        f"Answerability: {verdict} (score {evidence.get('score', 0):.2f}, threshold "
        f"{evidence.get('threshold', 0):.2f}; {'; '.join(inputs)}; question terms missing from the best "
        f"passage: {missing}). {evidence.get('reason', '')}"
    )


def trace_heading(trace: dict[str, Any]) -> str:
    """The debugger's header for a trace: whose question, when, from where, and the link to come back to."""
    trace_id = str(trace.get("trace_id", ""))
    who = trace.get("user_id") or "unknown user"
    kind = (trace.get("answer") or {}).get("kind", "")
    return (
        f"**Trace** `{trace_id}` · from **{md_text(trace.get('origin', ''))}** by {md_text(who)} · "
        f"{timestamp(trace.get('created_at'))} UTC · answer kind: {md_text(kind)} · "
        f"[stable link](?trace={trace_id})"
    )


def trace_rows(summaries: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            timestamp(row.get("created_at")),
            row.get("origin", ""),
            row.get("user_id") or "",
            row.get("question", ""),
            _shorten(row.get("answer", "")),
            row.get("kind", ""),
            row.get("up", 0),
            row.get("down", 0),
            row.get("trace_id", ""),
        ]
        for row in summaries
    ]


def feedback_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            timestamp(item.get("created_at")),
            "👍" if item.get("rating") == "up" else "👎",
            item.get("reason") or "",
            item.get("user_id") or "",
            item.get("question", ""),
            _shorten(item.get("answer", "")),
            item.get("trace_id", ""),
        ]
        for item in items
    ]


def trace_feedback_rows(items: list[dict[str, Any]] | None) -> list[list[Any]]:
    return [
        [
            timestamp(item.get("created_at")),
            "👍" if item.get("rating") == "up" else "👎",
            item.get("reason") or "",
            item.get("user_id") or "",
        ]
        for item in items or []
    ]


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

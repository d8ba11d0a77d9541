"""Answer traces and feedback, kept in SQLite under the data directory.

A trace is everything needed to explain an answer later: the question, the settings, each retriever's
list with scores, the fused and reranked lists, the exact prompt, the answer and the time per stage.
Slack's "Debug this answer" link and the admin console both read traces by id. Once the bot has posted
an answer, the trace also keeps where it is in Slack (:class:`SlackLocation`, ids only), so any process
can link to the thread.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

from pipelines.base.sqlite import SharedDatabase

Rating = Literal["up", "down"]


class RankedEntry(TypedDict):
    """One chunk of a retriever's (or the fused) list, as kept in a trace: never the whole text."""

    rank: int
    id: str
    score: float | None
    source_id: str | None
    title: str | None
    page: int | None
    chunk_index: int | None
    retrieval: dict[str, Any] | None
    preview: str


class TracedAnswer(TypedDict):
    text: str
    kind: str
    found: bool
    notice: str | None
    cited: bool
    model: str | None
    reply: str
    citations: list[dict[str, Any]]
    related: list[dict[str, Any]]


class FeedbackEntry(TypedDict):
    user_id: str | None
    rating: Rating
    reason: str | None
    created_at: float


class SlackLocation(TypedDict):
    """Where an answered question is in Slack, recorded once the answer is posted there: ids only (no
    names, no text), so it says nothing a trace's reader could not already know from the trace.

    ``message_ts`` is the question's message; ``thread_ts`` the thread the answer is in (``None`` for an
    answer at the top level of a DM). With the workspace's URL they make Slack's link to the thread.
    """

    channel: str
    message_ts: str
    thread_ts: str | None


#: The origin of the retrieval lab's comparison traces: kept apart from employees' questions (the traces
#: tab lists them on their own), so it is the trace store's word, shared by the lab and the service.
COMPARE_ORIGIN = "compare"

_SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
_SLACK_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")


def checked_location(location: SlackLocation) -> SlackLocation:
    """``location`` as stored: its three ids and nothing else.

    :raises ValueError: the channel is not a Slack id or a ts is not a Slack timestamp.
    """
    channel, message_ts, thread_ts = (
        location.get("channel"),
        location.get("message_ts"),
        location.get("thread_ts"),
    )
    if not isinstance(channel, str) or not _SLACK_ID.fullmatch(channel):
        raise ValueError("the channel must be a Slack channel id")
    for ts in (message_ts, thread_ts) if thread_ts is not None else (message_ts,):
        if not isinstance(ts, str) or not _SLACK_TS.fullmatch(ts):
            raise ValueError("a message or thread ts must be a Slack timestamp")
    return {"channel": channel, "message_ts": message_ts, "thread_ts": thread_ts}  # type: ignore[typeddict-item]


class Trace(TypedDict, total=False):
    """Everything recorded about one answer; the same shape in SQLite and in Elasticsearch (stored as
    JSON), read back by the console's debugger and the bot. ``feedback`` is added when read."""

    trace_id: str
    created_at: float
    origin: str
    user_id: str | None
    question: str
    retrieval_query: str
    retrieval_query_method: str
    history: list[dict[str, str]]
    filters: dict[str, Any] | None
    viewer: dict[str, Any]
    context: dict[str, str]  # what the asking face passed with the question (the lab: case and leg)
    location: SlackLocation  # where the answered question is in Slack, added once the answer is posted
    retrieval_config: str
    settings: dict[str, Any]
    bm25: list[RankedEntry]
    dense: list[RankedEntry]
    fused: list[RankedEntry]
    reranked: list[RankedEntry] | None
    prompt: str
    llm_used: bool
    answerability: dict[str, Any]
    answer: TracedAnswer
    passages: list[dict[str, Any]]
    timings_ms: dict[str, float]
    feedback: list[FeedbackEntry]


class TraceSummary(TypedDict):
    """A trace as listed (no retrieval lists), with its current votes."""

    trace_id: str
    created_at: float
    origin: str
    user_id: str | None
    question: str
    answer: str
    kind: str
    up: int
    down: int
    location: SlackLocation | None


class FeedbackItem(TypedDict):
    """A vote as listed in the feedback view, with its trace's question and answer."""

    trace_id: str
    user_id: str | None
    rating: Rating
    reason: str | None
    created_at: float
    question: str
    answer: str


class TraceStore(Protocol):
    """Traces and votes, implemented over SQLite (:class:`SqliteTraceStore`) and Elasticsearch
    (:class:`pipelines.stores.traces_es.ElasticsearchTraceStore`). One vote per user per answer: the latest
    replaces the earlier one (a 👎's reason is kept when the same vote comes again without one)."""

    def save(self, trace: Trace) -> None: ...

    def get(self, trace_id: str) -> Trace | None: ...

    def recent(
        self,
        limit: int = 50,
        origin: str | None = None,
        user_id: str | None = None,
        exclude_origins: Sequence[str] = (),
    ) -> list[TraceSummary]: ...

    def set_location(self, trace_id: str, location: SlackLocation) -> None:
        """Record where the trace's answered question is in Slack (replacing an earlier location).

        :raises KeyError: no trace with this id.
        :raises ValueError: the location is not Slack ids (:func:`checked_location`).
        """
        ...

    def add_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None: ...

    def feedback_for(self, trace_id: str) -> list[FeedbackEntry]: ...

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackItem]: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id   TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    origin     TEXT NOT NULL,
    user_id    TEXT,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_created ON traces (created_at DESC);
CREATE INDEX IF NOT EXISTS traces_user ON traces (user_id, created_at DESC);
CREATE TABLE IF NOT EXISTS trace_locations (
    trace_id   TEXT PRIMARY KEY REFERENCES traces (trace_id),
    channel    TEXT NOT NULL,
    message_ts TEXT NOT NULL,
    thread_ts  TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id   TEXT NOT NULL REFERENCES traces (trace_id),
    user_id    TEXT,
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason     TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id);
"""


_SUMMARY_COLUMNS = ("trace_id", "created_at", "origin", "user_id", "question", "answer", "kind")


def _location(row: Any) -> SlackLocation:
    return {"channel": row["channel"], "message_ts": row["message_ts"], "thread_ts": row["thread_ts"]}


class SqliteTraceStore(SharedDatabase):
    """A small SQLite database of traces and feedback; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def save(self, trace: Trace) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trace["trace_id"],
                    trace.get("created_at", time.time()),
                    trace.get("origin", "unknown"),
                    trace.get("user_id"),
                    trace["question"],
                    trace["answer"]["text"],
                    trace["answer"]["kind"],
                    json.dumps(trace, ensure_ascii=False, default=str),
                ),
            )

    def get(self, trace_id: str) -> Trace | None:
        with self._cursor() as cursor:
            row = cursor.execute(
                "SELECT t.payload, l.channel, l.message_ts, l.thread_ts FROM traces t"
                " LEFT JOIN trace_locations l ON l.trace_id = t.trace_id WHERE t.trace_id = ?",
                (trace_id,),
            ).fetchone()
        if row is None:
            return None
        trace: Trace = json.loads(row["payload"])
        if row["channel"] is not None:
            trace["location"] = _location(row)
        trace["feedback"] = self.feedback_for(trace_id)
        return trace

    def recent(
        self,
        limit: int = 50,
        origin: str | None = None,
        user_id: str | None = None,
        exclude_origins: Sequence[str] = (),
    ) -> list[TraceSummary]:
        """Newest traces first, as summaries (no retrieval lists), with their vote counts; optionally
        only one origin's or one asker's, or without some origins'."""
        query = (
            "SELECT t.trace_id, t.created_at, t.origin, t.user_id, t.question, t.answer, t.kind,"
            " SUM(f.rating = 'up') AS up, SUM(f.rating = 'down') AS down,"
            " l.channel, l.message_ts, l.thread_ts"
            " FROM traces t LEFT JOIN feedback f ON f.trace_id = t.trace_id"
            " LEFT JOIN trace_locations l ON l.trace_id = t.trace_id"
            " WHERE (:origin IS NULL OR t.origin = :origin) AND (:user IS NULL OR t.user_id = :user)"
            " AND t.origin NOT IN (SELECT value FROM json_each(:excluded))"
            " GROUP BY t.trace_id ORDER BY t.created_at DESC LIMIT :limit"
        )
        excluded = json.dumps(list(exclude_origins))
        params = {"origin": origin, "user": user_id, "limit": limit, "excluded": excluded}
        with self._cursor() as cursor:
            rows = cursor.execute(query, params).fetchall()
        summaries: list[TraceSummary] = []
        for row in rows:
            summary = {key: row[key] for key in _SUMMARY_COLUMNS}
            summary.update(up=row["up"] or 0, down=row["down"] or 0)
            summary["location"] = _location(row) if row["channel"] is not None else None
            summaries.append(summary)  # type: ignore[arg-type]
        return summaries

    def set_location(self, trace_id: str, location: SlackLocation) -> None:
        where = checked_location(location)
        with self._cursor() as cursor:
            if cursor.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
                raise KeyError(trace_id)
            cursor.execute(
                "INSERT OR REPLACE INTO trace_locations VALUES (?, ?, ?, ?)",
                (trace_id, where["channel"], where["message_ts"], where["thread_ts"]),
            )

    def add_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None:
        if rating not in ("up", "down"):
            raise ValueError("rating must be 'up' or 'down'")
        reason = (reason or "").strip()[:1000] or None
        with self._cursor() as cursor:
            if cursor.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
                raise KeyError(trace_id)
            cursor.execute("BEGIN IMMEDIATE")
            try:
                if user_id is not None:  # one vote per user and answer: the latest replaces the earlier
                    earlier = cursor.execute(
                        "SELECT rating, reason FROM feedback WHERE trace_id = ? AND user_id = ?"
                        " ORDER BY id DESC LIMIT 1",
                        (trace_id, user_id),
                    ).fetchone()
                    if earlier is not None and earlier["rating"] == rating and reason is None:
                        reason = earlier["reason"]
                    cursor.execute(
                        "DELETE FROM feedback WHERE trace_id = ? AND user_id = ?", (trace_id, user_id)
                    )
                cursor.execute(
                    "INSERT INTO feedback (trace_id, user_id, rating, reason, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (trace_id, user_id, rating, reason, time.time()),
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise

    def feedback_for(self, trace_id: str) -> list[FeedbackEntry]:
        with self._cursor() as cursor:
            rows = cursor.execute(
                "SELECT user_id, rating, reason, created_at FROM feedback WHERE trace_id = ? ORDER BY id",
                (trace_id,),
            ).fetchall()
        return [dict(row) for row in rows]  # type: ignore[misc]

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackItem]:
        """Newest feedback first, each with its trace's question and answer."""
        query = (
            "SELECT f.trace_id, f.user_id, f.rating, f.reason, f.created_at, t.question, t.answer"
            " FROM feedback f JOIN traces t ON t.trace_id = f.trace_id"
            " WHERE (:rating IS NULL OR f.rating = :rating)"
            " ORDER BY f.id DESC LIMIT :limit"
        )
        params = {"rating": rating, "limit": limit}
        with self._cursor() as cursor:
            return [dict(row) for row in cursor.execute(query, params).fetchall()]  # type: ignore[misc]

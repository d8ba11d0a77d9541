"""Answer traces and feedback, kept in SQLite under the data directory.

A trace is everything needed to explain an answer later: the question, the settings, each retriever's
list with scores, the fused and reranked lists, the exact prompt, the answer and the time per stage.
Slack's "Debug this answer" link and the admin console both read traces by id.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pipelines.sqlite import open_shared

Rating = Literal["up", "down"]

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


class TraceStore:
    """A small SQLite database of traces and feedback; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection = open_shared(self.path)
        self._connection.row_factory = sqlite3.Row
        with self._cursor() as cursor:
            cursor.executescript(_SCHEMA)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def save(self, trace: dict[str, Any]) -> None:
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

    def get(self, trace_id: str) -> dict[str, Any] | None:
        with self._cursor() as cursor:
            row = cursor.execute("SELECT payload FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
        if row is None:
            return None
        trace = json.loads(row["payload"])
        trace["feedback"] = self.feedback_for(trace_id)
        return trace

    def recent(self, limit: int = 50, origin: str | None = None) -> list[dict[str, Any]]:
        """Newest traces first, as summaries (no retrieval lists), with their feedback counts."""
        query = (
            "SELECT t.trace_id, t.created_at, t.origin, t.user_id, t.question, t.answer, t.kind,"
            " SUM(f.rating = 'up') AS up, SUM(f.rating = 'down') AS down"
            " FROM traces t LEFT JOIN feedback f ON f.trace_id = t.trace_id"
            " WHERE (:origin IS NULL OR t.origin = :origin)"
            " GROUP BY t.trace_id ORDER BY t.created_at DESC LIMIT :limit"
        )
        params = {"origin": origin, "limit": limit}
        with self._cursor() as cursor:
            rows = cursor.execute(query, params).fetchall()
        return [{**dict(row), "up": row["up"] or 0, "down": row["down"] or 0} for row in rows]

    def add_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None:
        if rating not in ("up", "down"):
            raise ValueError("rating must be 'up' or 'down'")
        with self._cursor() as cursor:
            if cursor.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
                raise KeyError(trace_id)
            cursor.execute(
                "INSERT INTO feedback (trace_id, user_id, rating, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                (trace_id, user_id, rating, (reason or "").strip()[:1000] or None, time.time()),
            )

    def feedback_for(self, trace_id: str) -> list[dict[str, Any]]:
        with self._cursor() as cursor:
            rows = cursor.execute(
                "SELECT user_id, rating, reason, created_at FROM feedback WHERE trace_id = ? ORDER BY id",
                (trace_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[dict[str, Any]]:
        """Newest feedback first, each with its trace's question and answer."""
        query = (
            "SELECT f.trace_id, f.user_id, f.rating, f.reason, f.created_at, t.question, t.answer"
            " FROM feedback f JOIN traces t ON t.trace_id = f.trace_id"
            " WHERE (:rating IS NULL OR f.rating = :rating)"
            " ORDER BY f.id DESC LIMIT :limit"
        )
        params = {"rating": rating, "limit": limit}
        with self._cursor() as cursor:
            return [dict(row) for row in cursor.execute(query, params).fetchall()]

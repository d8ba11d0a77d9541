"""Traces and feedback in Elasticsearch, so several Needle processes share them and keep no state.

With ``NEEDLE_STORE=elasticsearch`` every replica (bot, admin, CLI) writes traces to and reads them from
the same cluster: the "Debug this answer" link works whichever replica answered. Same interface
(:class:`pipelines.stores.traces.TraceStore`) as the SQLite store. The request bodies are built by small
functions so they can be unit-tested without a cluster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from pipelines.stores.traces import (
    FeedbackEntry,
    FeedbackItem,
    Rating,
    SlackLocation,
    Trace,
    TraceSummary,
    checked_location,
)

TRACES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "trace_id": {"type": "keyword"},
        "created_at": {"type": "double"},
        "origin": {"type": "keyword"},
        "user_id": {"type": "keyword"},
        "question": {"type": "text"},
        "answer": {"type": "text", "index": False},
        "kind": {"type": "keyword"},
        "payload": {"type": "keyword", "index": False, "doc_values": False},
        # Where the answered question is in Slack (ids), set by a partial update once it is posted; kept in
        # ``_source`` only. An index created before it existed keeps it the same way (``dynamic: false``).
        "location": {"type": "object", "enabled": False},
    },
}
FEEDBACK_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "trace_id": {"type": "keyword"},
        "user_id": {"type": "keyword"},
        "rating": {"type": "keyword"},
        "reason": {"type": "text"},
        "created_at": {"type": "double"},
        "question": {"type": "text", "index": False},
        "answer": {"type": "text", "index": False},
    },
}


def trace_document(trace: Trace) -> dict[str, Any]:
    """The indexed form of a trace: searchable summary fields plus the whole trace as JSON."""
    return {
        "trace_id": trace["trace_id"],
        "created_at": trace.get("created_at", time.time()),
        "origin": trace.get("origin", "unknown"),
        "user_id": trace.get("user_id"),
        "question": trace["question"],
        "answer": trace["answer"]["text"],
        "kind": trace["answer"]["kind"],
        "payload": json.dumps(trace, ensure_ascii=False, default=str),
    }


def recent_query(
    limit: int, origin: str | None, user_id: str | None = None, exclude_origins: Sequence[str] = ()
) -> dict[str, Any]:
    terms = [{"term": {name: value}} for name, value in (("origin", origin), ("user_id", user_id)) if value]
    query: dict[str, Any] = {"bool": {"filter": terms}} if terms else {"match_all": {}}
    if exclude_origins:
        query = {"bool": {"filter": terms, "must_not": [{"terms": {"origin": list(exclude_origins)}}]}}
    return {
        "query": query,
        "sort": [{"created_at": "desc"}],
        "size": limit,
        "_source": ["trace_id", "created_at", "origin", "user_id", "question", "answer", "kind", "location"],
    }


def feedback_query(
    limit: int, rating: Rating | None = None, trace_ids: list[str] | None = None
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if rating:
        filters.append({"term": {"rating": rating}})
    if trace_ids is not None:
        filters.append({"terms": {"trace_id": trace_ids}})
    return {
        "query": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "sort": [{"created_at": "desc" if trace_ids is None else "asc"}],
        "size": limit,
    }


class ElasticsearchTraceStore:
    """Traces in ``<prefix>-traces``, feedback in ``<prefix>-feedback`` (created on first use)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.traces_index = f"{prefix}-traces"
        self.feedback_index = f"{prefix}-feedback"
        for index, mapping in ((self.traces_index, TRACES_MAPPING), (self.feedback_index, FEEDBACK_MAPPING)):
            if not self.client.indices.exists(index=index):
                self.client.indices.create(index=index, mappings=mapping)

    def close(self) -> None:
        self.client.close()

    def save(self, trace: Trace) -> None:
        self.client.index(index=self.traces_index, id=trace["trace_id"], document=trace_document(trace))

    def get(self, trace_id: str) -> Trace | None:
        response = self.client.options(ignore_status=404).get(index=self.traces_index, id=trace_id)
        if not response.get("found"):
            return None
        trace: Trace = json.loads(response["_source"]["payload"])
        if response["_source"].get("location"):
            trace["location"] = response["_source"]["location"]
        trace["feedback"] = self.feedback_for(trace_id)
        return trace

    def recent(
        self,
        limit: int = 50,
        origin: str | None = None,
        user_id: str | None = None,
        exclude_origins: Sequence[str] = (),
    ) -> list[TraceSummary]:
        body = recent_query(limit, origin, user_id, exclude_origins)
        hits = self.client.search(index=self.traces_index, **body)["hits"]["hits"]
        summaries = [hit["_source"] for hit in hits]
        counts: dict[str, dict[str, int]] = {}
        if summaries:
            body = feedback_query(10_000, trace_ids=[s["trace_id"] for s in summaries])
            for hit in self.client.search(index=self.feedback_index, **body)["hits"]["hits"]:
                entry = counts.setdefault(hit["_source"]["trace_id"], {"up": 0, "down": 0})
                entry[hit["_source"]["rating"]] += 1
        return [
            {**s, "location": s.get("location"), **counts.get(s["trace_id"], {"up": 0, "down": 0})}  # type: ignore[misc]
            for s in summaries
        ]

    def set_location(self, trace_id: str, location: SlackLocation) -> None:
        """A partial update of the trace's document: the (large) payload is neither read nor rewritten."""
        where = checked_location(location)
        response = self.client.options(ignore_status=404).update(
            index=self.traces_index, id=trace_id, doc={"location": where}, refresh="wait_for"
        )
        if response.meta.status == 404:
            raise KeyError(trace_id)

    def add_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None:
        if rating not in ("up", "down"):
            raise ValueError("rating must be 'up' or 'down'")
        trace = self.client.options(ignore_status=404).get(index=self.traces_index, id=trace_id)
        if not trace.get("found"):
            raise KeyError(trace_id)
        reason = (reason or "").strip()[:1000] or None
        # One vote per user and answer: the vote's id is (answer, user), so the latest replaces the earlier.
        vote_id = f"{trace_id}:{user_id}" if user_id is not None else None
        if vote_id is not None and reason is None:
            earlier = self.client.options(ignore_status=404).get(index=self.feedback_index, id=vote_id)
            if earlier.get("found") and earlier["_source"].get("rating") == rating:
                reason = earlier["_source"].get("reason")
        self.client.index(
            index=self.feedback_index,
            id=vote_id,
            document={
                "trace_id": trace_id,
                "user_id": user_id,
                "rating": rating,
                "reason": reason,
                "created_at": time.time(),
                "question": trace["_source"]["question"],
                "answer": trace["_source"]["answer"],
            },
            refresh="wait_for",
        )

    def feedback_for(self, trace_id: str) -> list[FeedbackEntry]:
        body = feedback_query(1000, trace_ids=[trace_id])
        hits = self.client.search(index=self.feedback_index, **body)["hits"]["hits"]
        return [
            {key: hit["_source"].get(key) for key in ("user_id", "rating", "reason", "created_at")}  # type: ignore[misc]
            for hit in hits
        ]

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackItem]:
        hits = self.client.search(index=self.feedback_index, **feedback_query(limit, rating))["hits"]["hits"]
        return [hit["_source"] for hit in hits]

"""Source freshness: every source has an owner and may have a review-by date.

The owner is whoever was set with ``needle owner SOURCE_ID USER`` (kept here, audited), else who
uploaded it (a connector's sources carry their connector's owner as uploader). Past its review-by date a
source is *stale*: answers citing it say "last reviewed DATE" beside the citation (the date its review
was last set, else the document's own date, else when it was indexed), ``needle stale`` lists such
sources, and each owner gets at most one Slack message a week listing their stale sources cited that
week (:meth:`Freshness.claim_weekly_digest`; the bot sends it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.base.errors import NeedleError
from pipelines.records.answers import Answer, SourceInfo
from pipelines.records.audit import AuditLog
from pipelines.stores.records import RecordStore
from pipelines.stores.traces import TraceStore

COLLECTION = "source_review"
DIGESTS = "stale_digests"
WEEK = 7 * 86400


@dataclass(frozen=True)
class SourceReview:
    source_id: str
    title: str
    owner: str | None
    review_by: str | None
    last_reviewed: str | None

    def is_stale(self, on: dt.date | None = None) -> bool:
        today = on or dt.datetime.now(dt.UTC).date()
        return bool(self.review_by) and dt.date.fromisoformat(str(self.review_by)) < today

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Freshness:
    """Owners and review-by dates of sources, over the record store; changes are audited."""

    def __init__(self, records: RecordStore, audit: AuditLog) -> None:
        self.records = records
        self.audit = audit

    def set_owner(
        self, source: SourceInfo, owner: str | None, review_by: str | None = None, actor: str | None = None
    ) -> SourceReview:
        """Set the owner and/or the review-by date (``YYYY-MM-DD``); a date in the future records today
        as the day the source was last reviewed (someone checked it and says when to check again).

        :raises NeedleError: a bad owner or date."""
        before = self.review(source)
        owner = (owner or "").strip().lstrip("@") or before.owner
        if owner and (len(owner) > 80 or any(ch.isspace() for ch in owner)):
            raise NeedleError("the owner must be one user name or Slack id, e.g. U0123ABCD")
        fields: dict[str, Any] = {"owner": owner, "review_by": before.review_by}
        body: dict[str, Any] = {"last_reviewed": before.last_reviewed}
        if review_by:
            try:
                fields["review_by"] = dt.date.fromisoformat(review_by.strip()).isoformat()
            except ValueError:
                raise NeedleError(f"not a date: {review_by!r} (use YYYY-MM-DD)") from None
            today = dt.datetime.now(dt.UTC).date()
            if dt.date.fromisoformat(fields["review_by"]) > today:
                body["last_reviewed"] = today.isoformat()
        self.records.put(COLLECTION, source.source_id, fields, body)
        after = self.review(source)
        self.audit.record(
            actor,
            "source.owner",
            f"source {source.source_id}",
            before=before.to_dict(),
            after=after.to_dict(),
        )
        return after

    def review(self, source: SourceInfo) -> SourceReview:
        record = self.records.get(COLLECTION, source.source_id)
        fields = record.fields if record else {}
        body = record.body if record else {}
        last = body.get("last_reviewed") or source.modified_at or source.indexed_at
        return SourceReview(
            source_id=source.source_id,
            title=source.title,
            owner=str(fields.get("owner") or source.uploaded_by or "") or None,
            review_by=str(fields["review_by"]) if fields.get("review_by") else None,
            last_reviewed=str(last)[:10] if last else None,
        )

    def stale(self, sources: Iterable[SourceInfo], on: dt.date | None = None) -> list[SourceReview]:
        """The sources past their review-by date, the longest overdue first."""
        reviews = [self.review(source) for source in sources]
        return sorted((r for r in reviews if r.is_stale(on)), key=lambda r: str(r.review_by))

    def mark_stale_citations(self, answer: Answer, sources: Iterable[SourceInfo]) -> Answer:
        """``answer`` with "last reviewed DATE" on the citations of stale sources."""
        cited = {citation.source_id for citation in answer.citations}
        if not cited:
            return answer
        stale = {r.source_id: r for r in self.stale(s for s in sources if s.source_id in cited)}
        if not stale:
            return answer
        citations = [
            dataclasses.replace(c, last_reviewed=stale[c.source_id].last_reviewed or "unknown")
            if c.source_id in stale
            else c
            for c in answer.citations
        ]
        return dataclasses.replace(answer, citations=citations)

    def weekly_digests(
        self, traces: TraceStore, sources: Iterable[SourceInfo], now: float | None = None
    ) -> dict[str, list[SourceReview]]:
        """Per owner, their stale sources cited in the last seven days."""
        moment = now or time.time()
        stale = {r.source_id: r for r in self.stale(sources)}
        if not stale:
            return {}
        cited: set[str] = set()
        for summary in traces.recent(limit=20_000):
            if summary["created_at"] < moment - WEEK:
                break
            trace = traces.get(summary["trace_id"]) or {}
            for citation in (trace.get("answer") or {}).get("citations") or []:
                if citation.get("source_id") in stale:
                    cited.add(citation["source_id"])
        digests: dict[str, list[SourceReview]] = {}
        for source_id in sorted(cited):
            review = stale[source_id]
            if review.owner:
                digests.setdefault(review.owner, []).append(review)
        return digests

    def claim_weekly_digest(self, owner: str, now: float | None = None) -> bool:
        """``True`` at most once per owner and ISO week (atomic across processes)."""
        year, week, _ = dt.datetime.fromtimestamp(now or time.time(), dt.UTC).isocalendar()
        return self.records.create(DIGESTS, f"{owner}:{year}-W{week:02d}", {"owner": owner})

    def forget_weekly_digest(self, owner: str, now: float | None = None) -> None:
        year, week, _ = dt.datetime.fromtimestamp(now or time.time(), dt.UTC).isocalendar()
        self.records.delete(DIGESTS, f"{owner}:{year}-W{week:02d}")

"""The knowledge desk: gaps, verified answers and the answer a verified answer gives, over the stores
the service already holds. The service facade builds one and forwards to it; the faces call the service.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pipelines.base.errors import NeedleError
from pipelines.knowledge.freshness import Freshness
from pipelines.knowledge.gaps import GapTopic, gap_questions, gap_topics
from pipelines.knowledge.question_space import Encode, QuestionSpace
from pipelines.knowledge.usage import UsageReport, usage_report
from pipelines.knowledge.verified import (
    VerifiedAnswer,
    VerifiedAnswers,
    VerifiedMatch,
    VerifiedMatcher,
)
from pipelines.records.answers import Answer, Citation, SourceInfo
from pipelines.records.audience import Viewer
from pipelines.records.audit import AuditLog
from pipelines.records.escalations import EscalationLog
from pipelines.stores.records import RecordStore
from pipelines.stores.traces import TraceStore

logger = logging.getLogger(__name__)

Ingest = Callable[..., Any]
Delete = Callable[..., Any]


class KnowledgeDesk:
    """Gap topics and verified answers for one service.

    :param ingest: ``ingest_bytes(file_name, data, **options)``: writes a verified answer as a curated
        source into the document store (so it is retrieved like any document).
    :param delete: ``delete_source(source_id, actor=...)``.
    """

    def __init__(
        self,
        traces: TraceStore,
        records: RecordStore,
        audit: AuditLog,
        encode: Encode,
        ingest: Ingest,
        delete: Delete,
        exclude_origins: Sequence[str] = (),
        embedder: str | None = None,
    ) -> None:
        self.traces = traces
        self.records = records
        self.space = QuestionSpace(encode, embedder=embedder)
        self.verified = VerifiedAnswers(records, audit)
        self.matcher = VerifiedMatcher(self.verified, self.space)
        self.escalations = EscalationLog(records)
        self.freshness = Freshness(records, audit)
        self._ingest = ingest
        self._delete = delete
        self.exclude_origins = tuple(exclude_origins)

    # --- gaps ----------------------------------------------------------------------------------------
    def gaps(
        self,
        since_seconds: float,
        may_see_trace: Callable[[Iterable[str]], set[str]] | None = None,
        trace_ids: Iterable[str] | None = None,
    ) -> list[GapTopic]:
        """Gap topics of the last ``since_seconds`` (see :mod:`pipelines.knowledge.gaps`);
        ``trace_ids`` limits them to those traces (the benchmark's)."""
        questions = gap_questions(self.traces, self.escalations, since_seconds, self.exclude_origins)
        if trace_ids is not None:
            wanted = set(trace_ids)
            questions = [gap for gap in questions if gap.trace_id in wanted]
        return gap_topics(questions, self.space, may_see_trace)

    def usage(
        self, since_seconds: float, may_see_trace: Callable[[Iterable[str]], set[str]] | None = None
    ) -> UsageReport:
        """Usage figures of the last ``since_seconds`` (see :mod:`pipelines.knowledge.usage`)."""
        return usage_report(self.traces, self.escalations, since_seconds, self.exclude_origins, may_see_trace)

    def mark_stale(self, answer: Answer, sources: Callable[[], Iterable[SourceInfo]]) -> Answer:
        """``answer`` with "last reviewed DATE" beside citations of sources past their review-by date;
        unchanged when the sources cannot be read (freshness is a hint, never a reason to fail)."""
        if not answer.citations:
            return answer
        try:
            return self.freshness.mark_stale_citations(answer, sources())
        except Exception:
            logger.warning("could not check the cited sources' review dates", exc_info=True)
            return answer

    # --- verified answers ------------------------------------------------------------------------------
    def add_verified(self, question: str, answer: str, expert: str, **options: Any) -> VerifiedAnswer:
        """Store a verified answer and index it as a curated source (see :class:`VerifiedAnswers.add`)."""
        item = self.verified.add(question, answer, expert, **options)
        try:
            self._index(item, options.get("actor"))
        except Exception:
            self.verified.remove(item.answer_id, actor=options.get("actor"))
            raise
        return item

    def edit_verified(self, answer_id: str, **changes: Any) -> VerifiedAnswer:
        item = self.verified.edit(answer_id, **changes)
        self._index(item, changes.get("actor"))
        return item

    def expire_verified(self, answer_id: str, actor: str | None = None) -> VerifiedAnswer:
        return self.verified.expire(answer_id, actor=actor)

    def remove_verified(self, answer_id: str, actor: str | None = None) -> VerifiedAnswer:
        item = self.verified.remove(answer_id, actor=actor)
        try:
            self._delete(item.source_id, actor=actor)
        except NeedleError:  # its source was deleted by hand already
            logger.info("verified answer %s had no source left to delete", answer_id)
        return item

    def _index(self, item: VerifiedAnswer, actor: str | None) -> None:
        result = self._ingest(
            item.file_name,
            item.document_text().encode("utf-8"),
            title=f"Verified answer: {item.question}",
            audience=item.audience,
            uploaded_by=item.expert,
            tags=["verified"],
            source_id=item.source_id,
            actor=actor,
        )
        if result.status not in ("indexed", "unchanged"):
            raise NeedleError(f"the verified answer could not be indexed: {result.reason or result.status}")

    def question_in_thread(
        self, channel: str, thread_ts: str, records: RecordStore | None = None
    ) -> tuple[str, str | None] | None:
        """The question a Slack thread is about, and its answer's trace id: the thread "Ask a person"
        opened (its escalation, in ``records``: the bot's shared records, default the service's), else
        the thread of an answered question (its trace's location)."""
        for record in (records or self.records).query(
            "escalations", where={"channel_id": channel, "thread_ts": thread_ts}, limit=1
        ):
            question = str(record.body.get("question") or "")
            if question:
                return question, str(record.fields.get("trace_id") or record.key)
        for summary in self.traces.recent(limit=2000):
            location = summary.get("location")
            if (
                location
                and location["channel"] == channel
                and thread_ts
                in (
                    location["thread_ts"],
                    location["message_ts"],
                )
            ):
                return summary["question"], summary["trace_id"]
        return None

    def match(self, question: str, viewer: Viewer, answer: Answer) -> VerifiedMatch | None:
        """The verified answer to give for ``question`` instead of ``answer`` (the documents' own)."""
        retrieved = [str(passage.meta.get("source_id") or "") for passage in answer.passages]
        return self.matcher.match(question, viewer, retrieved=retrieved, documents_silent=not answer.found)

    def answer_with(self, answer: Answer, found: VerifiedMatch) -> Answer:
        """``answer`` given from the verified answer: its text first, labelled "Verified by @expert on
        DATE" with its own citation [1]; the sources the question retrieved follow as further sources."""
        item = found.answer
        citation = Citation(
            number=1,
            source_id=item.source_id,
            title=f"Verified answer: {item.question}",
            file_name=item.file_name,
            url=None,
            page=None,
            chunk_index=None,
            indexed_at=item.verified_on,
            modified_at=item.verified_on,
        )
        others = [c for c in [*answer.citations, *answer.related] if c.source_id != item.source_id]
        seen: set[str] = set()
        following = []
        for other in others:
            if other.source_id not in seen:
                seen.add(other.source_id)
                following.append(dataclasses.replace(other, number=len(following) + 2))
        text = f"{item.answer} [1]\n\n_{item.label()}_"
        return dataclasses.replace(
            answer,
            text=text,
            kind="verified",
            citations=[citation, *following],
            related=[],
            found=True,
            uncited=False,
            verified={"id": item.answer_id, "expert": item.expert, "date": item.verified_on},
        )

    def record_in_trace(self, answer: Answer, found: VerifiedMatch) -> None:
        """Rewrite the answer's trace to say it came from the verified answer (and how close it was)."""
        trace = self.traces.get(answer.trace_id)
        if trace is None:
            return
        trace.pop("feedback", None)
        trace.pop("location", None)
        recorded = dict(trace.get("answer") or {})
        recorded.update(
            text=answer.text,
            kind="verified",
            found=True,
            uncited=False,
            citations=[citation.__dict__ for citation in answer.citations],
            related=[],
        )
        trace["answer"] = recorded  # type: ignore[typeddict-item]
        trace["verified"] = {  # type: ignore[typeddict-unknown-key]
            **(answer.verified or {}),
            "score": round(found.score, 3),
            "wording": found.wording,
        }
        try:
            self.traces.save(trace)
        except Exception:  # a trace is for debugging; never fail an answer because of it
            logger.exception("could not record the verified answer in trace %s", answer.trace_id)

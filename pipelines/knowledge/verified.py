"""Verified answers: an expert's answer to a question, kept and given first when it is asked again.

An expert saves an answer (from Slack, the console or the command line) with the question it answers
and, optionally, other wordings of it. It is kept here, in the record store (the one of record, audited:
add, edit, expire and remove are one call each), and, by the service, as a curated source in the
document store, so that it is also retrieved like any document. A later question whose meaning is the
same (:class:`VerifiedMatcher`: the :class:`QuestionSpace` similarity to any of its wordings at least
:data:`STRONG_MATCH`, or :data:`MATCH_THRESHOLD` where the documents agree; both chosen on dev data) is
answered from it first, for viewers in its audience only. (Comparing the answer's own text too raised
recall on dev and held-out alike but answered 2 of the 60 held-out handbook questions from a wrong
verified answer, so it is not done; see docs/knowledge.md.)

Past its review-by date (six months after it was verified, unless set) an answer is no longer given as
verified; its expert is sent one reminder to renew it (:meth:`VerifiedAnswers.claim_reminder`).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from pipelines.base.errors import NeedleError
from pipelines.knowledge.question_space import QuestionSpace
from pipelines.records.audience import EVERYONE, Viewer, describe, parse_audience
from pipelines.records.audit import AuditLog
from pipelines.stores.records import Record, RecordStore

COLLECTION = "verified"
REMINDERS = "verified_reminders"
#: A question at least this similar to one of a verified answer's wordings is answered from it when the
#: documents agree (its curated source is what retrieval ranked first, or nothing else answers). Both
#: values were chosen on the dev data only (4 topics, 77 answerable dev handbook questions): the
#: settings with no dev handbook question answered from a verified answer and the most dev paraphrases
#: answered (see docs/knowledge.md and ``scripts/bench_knowledge.py --split dev --verbose``).
MATCH_THRESHOLD = 0.4
#: Similar enough to be answered from it whatever the documents say.
STRONG_MATCH = 0.8
REVIEW_MONTHS = 6
MAX_QUESTION_CHARS = 2000
MAX_ANSWER_CHARS = 8000
SOURCE_PREFIX = "verified-"


class VerifiedAnswerNotFound(NeedleError):
    """No verified answer with this id."""


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def default_review_by(verified_on: dt.date) -> dt.date:
    """Six months after ``verified_on`` (the last day of the month where that day does not exist)."""
    month = verified_on.month - 1 + REVIEW_MONTHS
    year, month = verified_on.year + month // 12, month % 12 + 1
    for day in range(verified_on.day, 27, -1):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    return dt.date(year, month, min(verified_on.day, 28))


def parse_date(raw: str | dt.date) -> dt.date:
    """``YYYY-MM-DD`` -> a date.

    :raises NeedleError: anything else."""
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise NeedleError(f"not a date: {raw!r} (use YYYY-MM-DD)") from None


@dataclass(frozen=True)
class VerifiedAnswer:
    """One expert answer. ``status`` is ``active`` or ``expired`` (expired by hand); an active answer
    past ``review_by`` is not given as verified either (:meth:`is_current`)."""

    answer_id: str
    question: str
    answer: str
    expert: str
    verified_on: str
    review_by: str
    audience: list[str] = field(default_factory=lambda: [EVERYONE])
    phrasings: list[str] = field(default_factory=list)
    status: str = "active"
    trace_id: str | None = None

    @property
    def source_id(self) -> str:
        return f"{SOURCE_PREFIX}{self.answer_id}"

    @property
    def file_name(self) -> str:
        return f"{self.source_id}.md"

    @property
    def wordings(self) -> list[str]:
        return list(dict.fromkeys([self.question, *self.phrasings]))

    def is_current(self, on: dt.date | None = None) -> bool:
        return self.status == "active" and parse_date(self.review_by) >= (on or today())

    def label(self) -> str:
        """What an answer from it says: ``Verified by @expert on DATE``."""
        return f"Verified by @{self.expert} on {self.verified_on}"

    def document_text(self) -> str:
        """The curated source's text as indexed: the question, its wordings and the answer."""
        lines = [f"# {self.question}", ""]
        lines += [f"Also asked as: {wording}" for wording in self.phrasings]
        lines += ["", self.answer, "", f"{self.label()}."]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_id"] = self.source_id
        data["current"] = self.is_current()
        return data


def _clean(text: str | None, what: str, limit: int) -> str:
    cleaned = " ".join((text or "").split()) if what == "question" else (text or "").strip()
    if not cleaned:
        raise NeedleError(f"a verified answer needs a {what}")
    if len(cleaned) > limit:
        raise NeedleError(f"the {what} is longer than {limit} characters")
    return cleaned


def _expert(raw: str | None) -> str:
    expert = (raw or "").strip().lstrip("@")
    if not expert or len(expert) > 80 or any(ch.isspace() for ch in expert):
        raise NeedleError("the expert must be one user name or Slack id, e.g. --by U0123ABCD")
    return expert


class VerifiedAnswers:
    """Verified answers over a :class:`RecordStore`; every change is audited."""

    def __init__(self, records: RecordStore, audit: AuditLog) -> None:
        self.records = records
        self.audit = audit

    def add(
        self,
        question: str,
        answer: str,
        expert: str,
        *,
        review_by: str | dt.date | None = None,
        audience: str | Iterable[str] | None = None,
        phrasings: Sequence[str] = (),
        trace_id: str | None = None,
        actor: str | None = None,
        verified_on: dt.date | None = None,
    ) -> VerifiedAnswer:
        """Store a new verified answer.

        :raises NeedleError: an empty or too long question or answer, a bad date or audience."""
        day = verified_on or today()
        review = parse_date(review_by) if review_by else default_review_by(day)
        if review <= day:
            raise NeedleError("the review-by date must be after today")
        item = VerifiedAnswer(
            answer_id=uuid.uuid4().hex[:10],
            question=_clean(question, "question", MAX_QUESTION_CHARS),
            answer=_clean(answer, "answer", MAX_ANSWER_CHARS),
            expert=_expert(expert),
            verified_on=day.isoformat(),
            review_by=review.isoformat(),
            audience=parse_audience(audience),
            phrasings=[_clean(p, "question", MAX_QUESTION_CHARS) for p in phrasings if p and p.strip()],
            trace_id=trace_id,
        )
        self._put(item)
        self.audit.record(actor, "verified.add", f"verified {item.answer_id}", after=_audited(item))
        return item

    def get(self, answer_id: str) -> VerifiedAnswer:
        """:raises VerifiedAnswerNotFound: no such id."""
        record = self.records.get(COLLECTION, (answer_id or "").strip())
        if record is None:
            raise VerifiedAnswerNotFound(f"no verified answer with id {answer_id!r}")
        return _from_record(record)

    def list(self, limit: int = 1000) -> list[VerifiedAnswer]:
        """Newest change first."""
        return [_from_record(record) for record in self.records.query(COLLECTION, limit=limit)]

    def edit(
        self,
        answer_id: str,
        *,
        actor: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        review_by: str | dt.date | None = None,
        audience: str | Iterable[str] | None = None,
        phrasings: Sequence[str] | None = None,
        expert: str | None = None,
    ) -> VerifiedAnswer:
        """Change what is given; a new review-by date (in the future) also renews an expired answer.

        :raises VerifiedAnswerNotFound: no such id. :raises NeedleError: a bad value, or nothing to change.
        """
        before = self.get(answer_id)
        changes: dict[str, Any] = {}
        if question is not None:
            changes["question"] = _clean(question, "question", MAX_QUESTION_CHARS)
        if answer is not None:
            changes["answer"] = _clean(answer, "answer", MAX_ANSWER_CHARS)
        if expert is not None:
            changes["expert"] = _expert(expert)
        if audience is not None:
            changes["audience"] = parse_audience(audience)
        if phrasings is not None:
            changes["phrasings"] = [_clean(p, "question", MAX_QUESTION_CHARS) for p in phrasings if p.strip()]
        if review_by is not None:
            review = parse_date(review_by)
            if review <= today():
                raise NeedleError("the review-by date must be after today")
            changes.update(review_by=review.isoformat(), status="active")
        if not changes:
            raise NeedleError("nothing to change: give a new question, answer, review-by date or audience")
        after = replace(before, **changes)
        self._put(after)
        self.audit.record(
            actor, "verified.edit", f"verified {answer_id}", before=_audited(before), after=_audited(after)
        )
        return after

    def expire(self, answer_id: str, actor: str | None = None) -> VerifiedAnswer:
        """No longer give it as verified (it stays listed, and can be renewed with a review-by date)."""
        before = self.get(answer_id)
        after = replace(before, status="expired")
        self._put(after)
        self.audit.record(
            actor, "verified.expire", f"verified {answer_id}", before=_audited(before), after=_audited(after)
        )
        return after

    def remove(self, answer_id: str, actor: str | None = None) -> VerifiedAnswer:
        before = self.get(answer_id)
        self.records.delete(COLLECTION, before.answer_id)
        self.audit.record(actor, "verified.remove", f"verified {answer_id}", before=_audited(before))
        return before

    def due_for_review(self, on: dt.date | None = None) -> list[VerifiedAnswer]:
        """Active answers past their review-by date."""
        day = on or today()
        return [item for item in self.list() if item.status == "active" and not item.is_current(day)]

    def claim_reminder(self, item: VerifiedAnswer) -> bool:
        """``True`` once per answer and review-by date (atomic across processes): the caller that gets
        ``True`` sends the expert's renewal reminder; everyone else sends nothing."""
        key = f"{item.answer_id}:{item.review_by}"
        return self.records.create(REMINDERS, key, {"answer_id": item.answer_id}, {"expert": item.expert})

    def forget_reminder(self, item: VerifiedAnswer) -> None:
        """The reminder could not be sent: let the next run try again."""
        self.records.delete(REMINDERS, f"{item.answer_id}:{item.review_by}")

    def _put(self, item: VerifiedAnswer) -> None:
        data = asdict(item)
        fields = {"status": item.status, "expert": item.expert, "review_by": item.review_by}
        self.records.put(COLLECTION, item.answer_id, fields, data)


def _audited(item: VerifiedAnswer) -> dict[str, Any]:
    return {
        "question": item.question,
        "answer": item.answer[:500],
        "expert": item.expert,
        "review_by": item.review_by,
        "audience": describe(item.audience),
        "status": item.status,
    }


def _from_record(record: Record) -> VerifiedAnswer:
    body = dict(record.body)
    known = {name for name in VerifiedAnswer.__dataclass_fields__}
    return VerifiedAnswer(**{key: value for key, value in body.items() if key in known})


@dataclass(frozen=True)
class VerifiedMatch:
    answer: VerifiedAnswer
    score: float
    wording: str


class VerifiedMatcher:
    """Finds the current verified answer a question asks for, within what the viewer may see.

    Wording vectors are cached by text, so a question costs one encoding plus a matrix product."""

    def __init__(
        self, store: VerifiedAnswers, space: QuestionSpace, threshold: float = MATCH_THRESHOLD
    ) -> None:
        self.store = store
        self.space = space
        self.threshold = threshold
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _wording_vectors(self, wordings: list[str]) -> np.ndarray:
        with self._lock:
            missing = [text for text in dict.fromkeys(wordings) if text not in self._vectors]
        if missing:
            fresh = self.space.vectors(missing)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
        with self._lock:
            return np.stack([self._vectors[text] for text in wordings])

    def scores(
        self, question: str, viewer: Viewer, on: dt.date | None = None
    ) -> list[tuple[VerifiedAnswer, float, str]]:
        """Every current verified answer ``viewer`` may see with its best-matching wording and score,
        the closest first."""
        items = [item for item in self.store.list() if item.is_current(on) and viewer.may_see(item.audience)]
        if not items or not question.strip():
            return []
        owners = [(item, wording) for item in items for wording in item.wordings]
        wordings = [wording for _, wording in owners]
        scores = self.space.similarity([question], wordings, right_vectors=self._wording_vectors(wordings))[0]
        best: dict[str, tuple[VerifiedAnswer, float, str]] = {}
        for (item, wording), score in zip(owners, scores, strict=True):
            if item.answer_id not in best or score > best[item.answer_id][1]:
                best[item.answer_id] = (item, float(score), wording)
        return sorted(best.values(), key=lambda entry: -entry[1])

    def match(
        self,
        question: str,
        viewer: Viewer,
        on: dt.date | None = None,
        retrieved: Sequence[str] = (),
        documents_silent: bool = False,
    ) -> VerifiedMatch | None:
        """The verified answer ``question`` asks for, or ``None``.

        A candidate must be current and in the viewer's audience. It matches when its similarity is at
        least :data:`STRONG_MATCH`, or at least :data:`MATCH_THRESHOLD` while the documents agree: its
        curated source is what retrieval ranked first for the question (``retrieved``: the source ids
        of the answer's passages, best first), or the documents answered nothing (``documents_silent``).
        """
        ranked = self.scores(question, viewer, on)
        if not ranked:
            return None
        top_source = next((source for source in retrieved if source), None)
        for item, score, wording in ranked:
            agreed = documents_silent or top_source == item.source_id
            if score >= STRONG_MATCH or (score >= self.threshold and agreed):
                return VerifiedMatch(answer=item, score=score, wording=wording)
        return None

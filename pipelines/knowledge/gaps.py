"""Knowledge gaps: what people asked that Needle could not answer well, grouped into topics.

A gap question is one Needle abstained on (its documents were silent), one somebody answered with a 👎,
or one somebody took to a person with "Ask a person". They are read from the traces, the votes and the
escalations of the last ``since`` seconds, grouped by meaning (:func:`group_by_meaning`), and each
topic lists how many questions and people, three example questions, the channels, the first and last
time it was asked and links to the traces. Topics asked by the most people come first.

Who reads the report decides what it shows (the console's rule, :mod:`pipelines.app.visibility`): every
question counts in its topic, but example questions and trace links come only from traces the reader
may see, so an answer built on a restricted source never reaches a reader outside its audience through
a topic. The caller passes that check as ``may_see_trace``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.knowledge.question_space import QuestionSpace
from pipelines.knowledge.topics import group_by_meaning
from pipelines.records.escalations import EscalationLog
from pipelines.stores.traces import TraceStore

#: Newest traces read for one report (a report covers weeks, not years).
MAX_TRACES = 10_000
EXAMPLES = 3
Reason = str  # "abstained" | "downvoted" | "escalated"


@dataclass(frozen=True)
class GapQuestion:
    """One question that went unanswered or badly answered."""

    trace_id: str
    question: str
    asked_at: float
    user_id: str | None
    channel_id: str | None
    reasons: tuple[Reason, ...]


@dataclass
class GapTopic:
    """Questions of one meaning. ``trace_ids`` and ``examples`` are those the reader may see; ``count``,
    ``people`` and ``hidden`` count every question."""

    topic: int
    count: int
    people: int
    examples: list[str]
    channels: list[str]
    first_asked: float
    last_asked: float
    reasons: dict[str, int]
    trace_ids: list[str] = field(default_factory=list)
    hidden: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["first_asked"] = _iso(self.first_asked)
        data["last_asked"] = _iso(self.last_asked)
        return data


def parse_since(raw: str | None, default_days: int = 30) -> float:
    """``30d``, ``12h``, ``2w`` or a number of days -> seconds.

    :raises ValueError: anything else (the message says what is accepted).
    """
    text = (raw or f"{default_days}d").strip().lower()
    units = {"h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "d")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a period: {raw!r} (use e.g. 30d, 12h or 2w)") from None
    if value <= 0:
        raise ValueError(f"not a period: {raw!r} (it must be positive)")
    return value * units[unit]


def gap_questions(
    traces: TraceStore,
    escalations: EscalationLog | None,
    since: float,
    exclude_origins: Sequence[str] = (),
    now: float | None = None,
) -> list[GapQuestion]:
    """Every gap question asked in the last ``since`` seconds, oldest first."""
    start = (now or time.time()) - since
    reasons: dict[str, set[str]] = {}
    summaries = {
        summary["trace_id"]: summary
        for summary in traces.recent(limit=MAX_TRACES, exclude_origins=exclude_origins)
        if summary["created_at"] >= start
    }
    for trace_id, summary in summaries.items():
        if summary["kind"] == "no_answer":
            reasons.setdefault(trace_id, set()).add("abstained")
        if summary["down"]:
            reasons.setdefault(trace_id, set()).add("downvoted")
    for escalation in escalations.list(limit=MAX_TRACES) if escalations is not None else []:
        if escalation.trace_id in summaries:
            reasons.setdefault(escalation.trace_id, set()).add("escalated")
    found: list[GapQuestion] = []
    for trace_id, why in reasons.items():
        summary = summaries[trace_id]
        location = summary.get("location")
        channel = location["channel"] if location else None
        if channel is None:
            trace = traces.get(trace_id) or {}
            channel = (trace.get("viewer") or {}).get("channel_id")
        found.append(
            GapQuestion(
                trace_id=trace_id,
                question=summary["question"],
                asked_at=summary["created_at"],
                user_id=summary["user_id"],
                channel_id=channel,
                reasons=tuple(sorted(why)),
            )
        )
    return sorted(found, key=lambda gap: gap.asked_at)


def gap_topics(
    questions: Sequence[GapQuestion],
    space: QuestionSpace,
    may_see_trace: Callable[[Iterable[str]], set[str]] | None = None,
) -> list[GapTopic]:
    """The questions grouped by meaning, the topic asked by most people first.

    :param may_see_trace: given trace ids, those the reader may see; ``None`` for a reader who sees all.
    """
    if not questions:
        return []
    labels = group_by_meaning([gap.question for gap in questions], space)
    visible = (
        set(may_see_trace(gap.trace_id for gap in questions))
        if may_see_trace is not None
        else {gap.trace_id for gap in questions}
    )
    topics: list[GapTopic] = []
    for label in sorted(set(labels)):
        members = [gap for gap, own in zip(questions, labels, strict=True) if own == label]
        shown = [gap for gap in members if gap.trace_id in visible]
        people = {gap.user_id or f"anonymous:{gap.trace_id}" for gap in members}
        reasons: dict[str, int] = {}
        for gap in members:
            for reason in gap.reasons:
                reasons[reason] = reasons.get(reason, 0) + 1
        newest_first = sorted(shown, key=lambda gap: -gap.asked_at)
        topics.append(
            GapTopic(
                topic=label,
                count=len(members),
                people=len(people),
                examples=list(dict.fromkeys(gap.question for gap in newest_first))[:EXAMPLES],
                channels=sorted({gap.channel_id for gap in members if gap.channel_id}),
                first_asked=min(gap.asked_at for gap in members),
                last_asked=max(gap.asked_at for gap in members),
                reasons=reasons,
                trace_ids=[gap.trace_id for gap in newest_first],
                hidden=len(members) - len(shown),
            )
        )
    topics.sort(key=lambda topic: (-topic.people, -topic.count, -topic.last_asked))
    for number, topic in enumerate(topics, start=1):
        topic.topic = number
    return topics


CSV_COLUMNS = ("topic", "people", "count", "examples", "channels", "first_asked", "last_asked", "reasons")


def topics_csv(topics: Iterable[GapTopic], trace_link: Callable[[str], str] | None = None) -> str:
    """The report as CSV, one topic a row (examples and trace links joined with " | ")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, "traces"])
    for topic in topics:
        data = topic.to_dict()
        writer.writerow(
            [
                data["topic"],
                data["people"],
                data["count"],
                " | ".join(topic.examples),
                " ".join(topic.channels),
                data["first_asked"],
                data["last_asked"],
                " ".join(f"{name}={count}" for name, count in sorted(topic.reasons.items())),
                " | ".join(trace_link(t) if trace_link else t for t in topic.trace_ids),
            ]
        )
    return out.getvalue()


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))

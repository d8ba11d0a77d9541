"""How Needle is used: questions per day, answered against abstained, 👍/👎, escalations, channels and
the questions asked most, over a period. Read from the traces, votes and escalations; the console's
Usage tab draws it and ``needle usage --json`` prints it.

As in the gap report, every question counts, but the top questions list only those a reader may see
(``may_see_trace``), so a question answered from a restricted source is not shown to a viewer outside
its audience.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.records.escalations import EscalationLog
from pipelines.stores.traces import TraceStore

MAX_TRACES = 20_000
TOP_QUESTIONS = 10


@dataclass
class DayUsage:
    day: str
    questions: int = 0
    answered: int = 0
    abstained: int = 0
    up: int = 0
    down: int = 0
    escalations: int = 0


@dataclass
class UsageReport:
    since_days: float
    questions: int
    answered: int
    abstained: int
    up: int
    down: int
    helpful_rate: float | None
    escalations: int
    days: list[DayUsage] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    top_questions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def usage_report(
    traces: TraceStore,
    escalations: EscalationLog | None,
    since: float,
    exclude_origins: Sequence[str] = (),
    may_see_trace: Callable[[Iterable[str]], set[str]] | None = None,
    now: float | None = None,
) -> UsageReport:
    """The figures of the last ``since`` seconds (days with no question are listed with zeros)."""
    end = now or time.time()
    start = end - since
    summaries = [
        summary
        for summary in traces.recent(limit=MAX_TRACES, exclude_origins=exclude_origins)
        if summary["created_at"] >= start
    ]
    days: dict[str, DayUsage] = {}
    moment = start
    while moment <= end:
        days.setdefault(_day(moment), DayUsage(_day(moment)))
        moment += 86400
    days.setdefault(_day(end), DayUsage(_day(end)))
    channels: Counter[str] = Counter()
    for summary in summaries:
        day = days.setdefault(_day(summary["created_at"]), DayUsage(_day(summary["created_at"])))
        day.questions += 1
        if summary["kind"] == "no_answer":
            day.abstained += 1
        else:
            day.answered += 1
        day.up += summary["up"]
        day.down += summary["down"]
        location = summary.get("location")
        channels[location["channel"] if location else f"({summary['origin']})"] += 1
    ids = {summary["trace_id"] for summary in summaries}
    for escalation in escalations.list(limit=MAX_TRACES) if escalations is not None else []:
        if escalation.trace_id in ids or escalation.at >= start:
            day = days.setdefault(_day(escalation.at), DayUsage(_day(escalation.at)))
            day.escalations += 1
    visible = set(may_see_trace(ids)) if may_see_trace is not None else ids
    asked: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for summary in summaries:
        key = " ".join(summary["question"].casefold().split()).rstrip("?？ ")
        asked[key] += 1
        if summary["trace_id"] in visible:
            shown.setdefault(key, summary["question"])
    top = [{"question": shown[key], "count": count} for key, count in asked.most_common() if key in shown][
        :TOP_QUESTIONS
    ]
    ordered = [days[key] for key in sorted(days)]
    up = sum(day.up for day in ordered)
    down = sum(day.down for day in ordered)
    return UsageReport(
        since_days=round(since / 86400, 2),
        questions=len(summaries),
        answered=sum(day.answered for day in ordered),
        abstained=sum(day.abstained for day in ordered),
        up=up,
        down=down,
        helpful_rate=round(up / (up + down), 3) if up + down else None,
        escalations=sum(day.escalations for day in ordered),
        days=ordered,
        channels=[{"channel": name, "questions": count} for name, count in channels.most_common()],
        top_questions=top,
    )

"""Questions people asked a person about ("Ask a person" in Slack), kept for the admins' feedback view.

The Slack face opens an escalation when someone presses "Ask a person" under an answer: it posts in the
thread, mentioning the channel's escalation user group, and records it here, once per answer (an atomic
create, so two clicks on two replicas call people in once). The console lists them beside the votes, so
an admin sees which answers sent people to a human and can open their traces.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.stores.records import Record, RecordStore

COLLECTION = "escalations"


@dataclass(frozen=True)
class Escalation:
    trace_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    usergroup: str
    question: str
    status: str = "open"
    at: float = 0.0


class EscalationLog:
    """Escalations over a :class:`RecordStore`, keyed by the answer's trace id."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    def open(self, escalation: Escalation) -> bool:
        """Record it; ``False`` when this answer was escalated already (by anyone, on any replica)."""
        fields = {
            "channel_id": escalation.channel_id,
            "thread_ts": escalation.thread_ts,
            "user_id": escalation.user_id,
            "usergroup": escalation.usergroup,
            "trace_id": escalation.trace_id,
            "status": escalation.status,
        }
        return self.records.create(COLLECTION, escalation.trace_id, fields, {"question": escalation.question})

    def forget(self, trace_id: str) -> None:
        """Drop an escalation that could not be posted, so the person may try again."""
        self.records.delete(COLLECTION, trace_id)

    def list(self, limit: int = 200) -> list[Escalation]:
        """Newest first."""
        return [_escalation(record) for record in self.records.query(COLLECTION, limit=limit)]


def _escalation(record: Record) -> Escalation:
    fields = record.fields
    return Escalation(
        trace_id=record.key,
        channel_id=str(fields.get("channel_id") or ""),
        thread_ts=str(fields.get("thread_ts") or ""),
        user_id=str(fields.get("user_id") or ""),
        usergroup=str(fields.get("usergroup") or ""),
        question=str(record.body.get("question") or ""),
        status=str(fields.get("status") or "open"),
        at=record.updated_at,
    )

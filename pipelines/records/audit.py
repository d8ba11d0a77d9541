"""The audit log: who changed what, when, with the values before and after.

Every change an admin makes (sources uploaded, deleted or re-indexed, channel settings, and the settings
and accounts that later features add) is one entry in the record store, so a deployment on Elasticsearch
keeps one log for all its replicas. Entries are never edited; the console reads, filters and exports them.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.stores.records import Record, RecordStore

COLLECTION = "audit"


@dataclass(frozen=True)
class AuditEntry:
    """One change. ``target`` names what changed ("source leave-policy-76ca87", "channel C0123")."""

    entry_id: str
    at: float
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str | None = None


class AuditLog:
    """Append-only entries over a :class:`RecordStore`."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    def record(
        self,
        actor: str | None,
        action: str,
        target: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Write one entry. ``actor`` is who did it (an admin account, a Slack user, ``cli``)."""
        # Time first in the key: entries written in the same instant still sort, and never collide.
        entry_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        stored = self.records.put(
            COLLECTION,
            entry_id,
            {"actor": actor or "unknown", "action": action, "target": target},
            {"before": before, "after": after, "detail": detail},
        )
        return _entry(stored)

    def entries(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: float | None = None,
        before: float | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Newest first, filtered by exact actor, action and target, and by time."""
        where = {
            name: value for name, value in (("actor", actor), ("action", action), ("target", target)) if value
        }
        return [
            _entry(record)
            for record in self.records.query(COLLECTION, where, since=since, before=before, limit=limit)
        ]


def _entry(record: Record) -> AuditEntry:
    return AuditEntry(
        entry_id=record.key,
        at=record.updated_at,
        actor=str(record.fields.get("actor")),
        action=str(record.fields.get("action")),
        target=str(record.fields.get("target")),
        before=record.body.get("before"),
        after=record.body.get("after"),
        detail=record.body.get("detail"),
    )


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """The entries as CSV (UTC times, before/after as JSON), for spreadsheets and auditors."""
    from datetime import UTC, datetime

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time_utc", "actor", "action", "target", "before", "after", "detail"])
    for entry in entries:
        writer.writerow(
            [
                datetime.fromtimestamp(entry.at, UTC).isoformat(timespec="seconds"),
                entry.actor,
                entry.action,
                entry.target,
                "" if entry.before is None else json.dumps(entry.before, ensure_ascii=False, sort_keys=True),
                "" if entry.after is None else json.dumps(entry.after, ensure_ascii=False, sort_keys=True),
                entry.detail or "",
            ]
        )
    return out.getvalue()

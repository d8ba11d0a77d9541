"""Retrieval test cases: a question and the sources (or chunks) that should answer it.

An admin who sees a bad answer turns it into a case (from a 👎, a trace or the debugger, or with
``needle cases add``); ``needle compare`` then runs every case under the live and a candidate retrieval
configuration. Cases live in the record store, so all replicas share them, and import/export as JSON
lines, so a set can live in a repository and run in CI.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipelines.errors import NeedleError
from pipelines.stores.records import Record, RecordStore

COLLECTION = "cases"
CaseOrigin = Literal["cli", "console", "feedback", "trace", "debugger", "import"]
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class RetrievalCase:
    """``expected_sources``/``expected_chunks``: any of them found counts as the case being answered."""

    question: str
    expected_sources: list[str] = field(default_factory=list)
    expected_chunks: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    case_id: str = ""
    added_by: str | None = None
    origin: CaseOrigin = "cli"
    trace_id: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrievalCase:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def check_case(case: RetrievalCase) -> RetrievalCase:
    question = " ".join(case.question.split())
    if not question:
        raise NeedleError("a case needs a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise NeedleError(f"a case's question has at most {MAX_QUESTION_CHARS} characters")
    if not case.expected_sources and not case.expected_chunks:
        raise NeedleError("a case needs at least one expected source or chunk")
    return RetrievalCase(
        **{
            **case.to_dict(),
            "question": question,
            "case_id": case.case_id or uuid.uuid4().hex[:12],
            "expected_sources": sorted(set(case.expected_sources)),
            "expected_chunks": sorted(set(case.expected_chunks)),
        }
    )


class CaseStore:
    """Cases over a :class:`RecordStore`; adding, removing and importing are audited by the caller's log."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    def add(self, case: RetrievalCase) -> RetrievalCase:
        case = check_case(case)
        fields = {"origin": case.origin, "added_by": case.added_by, "trace_id": case.trace_id}
        self.records.put(COLLECTION, case.case_id, fields, case.to_dict())
        return case

    def get(self, case_id: str) -> RetrievalCase | None:
        record = self.records.get(COLLECTION, case_id)
        return None if record is None else _case(record)

    def remove(self, case_id: str) -> bool:
        return self.records.delete(COLLECTION, case_id)

    def list(self) -> list[RetrievalCase]:
        """Oldest first: the order they were added, which is the order a report lists them."""
        return [_case(record) for record in self.records.query(COLLECTION, order="oldest", limit=10_000)]

    def import_lines(self, lines: Iterable[str], added_by: str | None = None) -> list[RetrievalCase]:
        """Add every case of a JSON-lines file; a bad line is an error naming it, and nothing is added."""
        parsed: list[RetrievalCase] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                case = RetrievalCase.from_dict({"origin": "import", "added_by": added_by, **data})
                parsed.append(check_case(case))
            except (ValueError, TypeError, NeedleError) as error:
                raise NeedleError(f"line {number}: {error}") from None
        return [self.add(case) for case in parsed]

    def export_lines(self) -> list[str]:
        return [json.dumps(case.to_dict(), ensure_ascii=False, sort_keys=True) for case in self.list()]


def _case(record: Record) -> RetrievalCase:
    return RetrievalCase.from_dict(record.body)

"""Retrieval test cases: a question and the sources (or chunks) that should answer it.

An admin who sees a bad answer turns it into a case (from a 👎, a trace or the debugger, or with
``needle cases add``); ``needle compare`` then runs every case under the live and a candidate retrieval
configuration. Cases live in the record store, so all replicas share them, and import/export as JSON
lines, so a set can live in a repository and run in CI.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from pipelines.base.errors import NeedleError, SourceNotFoundError
from pipelines.stores.records import Record, RecordStore

COLLECTION = "cases"
CaseOrigin = Literal["cli", "console", "feedback", "trace", "debugger", "import"]
MAX_QUESTION_CHARS = 2000
_TEXT_LISTS = ("expected_sources", "expected_chunks", "tags")
_OPTIONAL_TEXTS = ("case_id", "added_by", "trace_id", "note")


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


#: What is wrong with a well-formed case in this deployment (empty: nothing); see :func:`sources_indexed`.
CaseCheck = Callable[[RetrievalCase], list[str]]


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


def sources_indexed(source_chunks: Callable[[str], object]) -> CaseCheck:
    """The rule every new case passes, whichever face adds it (debugger, lab, ``needle cases add`` and
    ``import``): each expected source is indexed, since a typo would store a case no configuration can
    pass. ``source_chunks`` is :meth:`pipelines.indexing.sources.SourceLibrary.source_chunks`, which raises
    :class:`SourceNotFoundError` for an unknown id; any other error (the store is down) is not the case's
    fault and propagates. Each id is looked up once per check, so an import of many cases on one source
    reads its chunks once."""

    @functools.cache
    def missing(source_id: str) -> str | None:
        try:
            source_chunks(source_id)
        except SourceNotFoundError as error:
            return str(error)
        return None

    def check(case: RetrievalCase) -> list[str]:
        return [problem for problem in map(missing, case.expected_sources) if problem]

    return check


class CaseImportError(NeedleError):
    """Every bad line of an import, each with its number and reason, so one pass over the file fixes
    them all; nothing of the file was imported."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {number}: {reason}" for number, reason in problems))


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

    def import_lines(
        self, lines: Iterable[str], added_by: str | None = None, check: CaseCheck | None = None
    ) -> list[RetrievalCase]:
        """Add every case of a JSON-lines file, or none: every bad line (not a case, or refused by
        ``check``) is reported in one :class:`CaseImportError`, and the store is left as it was."""
        parsed: list[RetrievalCase] = []
        problems: list[tuple[int, str]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                case = check_case(_case_from_json(line, added_by))
            except (ValueError, NeedleError) as error:
                problems.append((number, str(error)))
                continue
            refused = check(case) if check else []
            if refused:
                problems.extend((number, reason) for reason in refused)
            else:
                parsed.append(case)
        if problems:
            raise CaseImportError(problems)
        return [self.add(case) for case in parsed]

    def export_lines(self) -> list[str]:
        return export_lines(self.list())


def export_lines(cases: Iterable[RetrievalCase]) -> list[str]:
    """``cases`` as the JSON lines ``needle cases export`` writes and ``import`` reads."""
    return [json.dumps(case.to_dict(), ensure_ascii=False, sort_keys=True) for case in cases]


def _case_from_json(line: str, added_by: str | None) -> RetrievalCase:
    """One imported line as a case. The file is written by hand or by another tool, so each field's
    type is checked here: a string where a list belongs would otherwise become a list of its letters.

    :raises ValueError: saying what is wrong with the line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    data = {"origin": "import", "added_by": added_by, "question": "", **data}
    if not isinstance(data["question"], str):
        raise ValueError('"question" must be a string')
    for name in _TEXT_LISTS:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f'"{name}" must be a list of strings')
    for name in _OPTIONAL_TEXTS:
        if not isinstance(data.get(name), str | None):
            raise ValueError(f'"{name}" must be a string or null')
    if data["origin"] not in get_args(CaseOrigin):
        raise ValueError(f'"origin" must be one of {", ".join(get_args(CaseOrigin))}')
    return RetrievalCase.from_dict(data)


def _case(record: Record) -> RetrievalCase:
    return RetrievalCase.from_dict(record.body)

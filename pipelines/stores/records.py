"""Needle's own records (settings, audit entries, test cases, jobs, event keys) kept with its data.

Features that store something other than chunks and traces all need the same few operations: put a
record under a key, read it back, list a collection filtered by a few fields, delete, and "create unless it
exists" for things that must happen once across replicas (a Slack event answered once). The
:class:`RecordStore` protocol names them once; :class:`SqliteRecordStore` keeps them beside the embedded
store and :mod:`pipelines.stores.records_es` in Elasticsearch, so a feature is written once and every
replica of a production deployment sees the same records.

A record has filterable ``fields`` (flat strings, numbers, booleans) and an opaque JSON ``body``: what a
feature filters on is indexed; what it only reads back (before/after values, long text) is not, which
keeps Elasticsearch mappings small and stable.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pipelines.base.sqlite import SharedDatabase

FieldValue = str | int | float | bool | None
Order = Literal["newest", "oldest"]

#: Collection names become Elasticsearch index names and SQLite values: lower-case words only.
_COLLECTION = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
#: Most records a listing returns; callers page with ``before``.
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Record:
    """One stored record: ``key`` is unique within ``collection``; ``updated_at`` is seconds since epoch."""

    collection: str
    key: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


def check_collection(collection: str) -> str:
    if not _COLLECTION.match(collection):
        raise ValueError(f"invalid record collection name {collection!r}")
    return collection


def check_fields(fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """Filterable fields must be flat scalars with plain names (they become columns and mappings)."""
    for name, value in fields.items():
        if not _FIELD.match(name):
            raise ValueError(f"invalid record field name {name!r}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(f"record field {name!r} must be a string, number, boolean or None")
    return dict(fields)


@runtime_checkable
class RecordStore(Protocol):
    """Keyed records in named collections, shared by every process that uses the same store."""

    def put(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Record:
        """Insert or replace the record under ``key``."""
        ...

    def create(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bool:
        """Insert the record unless ``key`` exists; ``True`` when this call created it (atomic across
        processes and replicas)."""
        ...

    def get(self, collection: str, key: str) -> Record | None: ...

    def delete(self, collection: str, key: str) -> bool:
        """Remove the record; ``True`` when there was one."""
        ...

    def query(
        self,
        collection: str,
        where: Mapping[str, FieldValue] | None = None,
        *,
        since: float | None = None,
        before: float | None = None,
        order: Order = "newest",
        limit: int = 100,
    ) -> list[Record]:
        """Records whose fields equal ``where``, updated in [``since``, ``before``), by ``updated_at``."""
        ...

    def purge(self, collection: str, before: float) -> int:
        """Delete the collection's records last written before ``before`` (expired keys, old counters);
        returns how many."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    key        TEXT NOT NULL,
    updated_at REAL NOT NULL,
    fields     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (collection, key)
);
CREATE INDEX IF NOT EXISTS records_updated ON records (collection, updated_at);
"""


class SqliteRecordStore(SharedDatabase):
    """Records in one SQLite table under the data directory (WAL: other processes see a write at once)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def _row(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None,
        body: Mapping[str, Any] | None,
    ) -> tuple[Record, tuple[Any, ...]]:
        record = Record(
            check_collection(collection), str(key), check_fields(fields or {}), dict(body or {}), time.time()
        )
        values = (
            record.collection,
            record.key,
            record.updated_at,
            json.dumps(record.fields, ensure_ascii=False),
            json.dumps(record.body, ensure_ascii=False, default=str),
        )
        return record, values

    def put(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Record:
        record, values = self._row(collection, key, fields, body)
        with self._cursor() as cursor:
            cursor.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", values)
        return record

    def create(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bool:
        _, values = self._row(collection, key, fields, body)
        with self._cursor() as cursor:
            cursor.execute("INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?)", values)
            return cursor.rowcount == 1

    def get(self, collection: str, key: str) -> Record | None:
        with self._cursor() as cursor:
            row = cursor.execute(
                "SELECT * FROM records WHERE collection = ? AND key = ?", (check_collection(collection), key)
            ).fetchone()
        return None if row is None else _from_row(row)

    def delete(self, collection: str, key: str) -> bool:
        with self._cursor() as cursor:
            cursor.execute(
                "DELETE FROM records WHERE collection = ? AND key = ?", (check_collection(collection), key)
            )
            return cursor.rowcount == 1

    def query(
        self,
        collection: str,
        where: Mapping[str, FieldValue] | None = None,
        *,
        since: float | None = None,
        before: float | None = None,
        order: Order = "newest",
        limit: int = 100,
    ) -> list[Record]:
        clauses, params = ["collection = ?"], [check_collection(collection)]
        for name, value in check_fields(where or {}).items():
            if value is None:
                clauses.append(f"json_extract(fields, '$.{name}') IS NULL")
            else:
                # json_extract returns 1/0 for JSON booleans, as Python's sqlite3 binds True/False.
                clauses.append(f"json_extract(fields, '$.{name}') = ?")
                params.append(value)
        if since is not None:
            clauses.append("updated_at >= ?")
            params.append(since)
        if before is not None:
            clauses.append("updated_at < ?")
            params.append(before)
        direction = "DESC" if order == "newest" else "ASC"
        sql = (
            f"SELECT * FROM records WHERE {' AND '.join(clauses)}"  # noqa: S608 - names checked above
            f" ORDER BY updated_at {direction}, key {direction} LIMIT ?"
        )
        params.append(max(0, min(limit, MAX_LIMIT)))
        with self._cursor() as cursor:
            return [_from_row(row) for row in cursor.execute(sql, params).fetchall()]

    def purge(self, collection: str, before: float) -> int:
        with self._cursor() as cursor:
            cursor.execute(
                "DELETE FROM records WHERE collection = ? AND updated_at < ?",
                (check_collection(collection), before),
            )
            return cursor.rowcount


def _from_row(row: sqlite3.Row) -> Record:
    return Record(
        collection=row["collection"],
        key=row["key"],
        fields=json.loads(row["fields"]),
        body=json.loads(row["body"]),
        updated_at=row["updated_at"],
    )

"""Needle's records in Elasticsearch: one index per collection, shared by every replica.

Same contract as :class:`pipelines.stores.records.SqliteRecordStore`. ``create`` uses Elasticsearch's
``_create`` endpoint, which refuses an existing id with 409 on every node, so "handle this Slack event
once" holds across replicas, without waiting for a refresh (Slack event keys are claimed on every
event). Puts and deletes ask for ``refresh=wait_for``: the next question, on any replica, sees a changed
setting even in a listing. Request bodies are built by small functions, unit-tested against the local
Elasticsearch test server.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pipelines.stores.records import (
    MAX_LIMIT,
    FieldValue,
    Order,
    Record,
    check_collection,
    check_fields,
)

RECORDS_MAPPING: dict[str, Any] = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}},
        # A field first written as 3 and later as 2.5 must not be mapped as a whole number.
        {"numbers": {"match_mapping_type": "long", "mapping": {"type": "double"}}},
    ],
    "properties": {
        "key": {"type": "keyword"},
        "updated_at": {"type": "double"},
        "fields": {"type": "object", "dynamic": True},
        "body": {"type": "object", "enabled": False},
    },
}


def record_document(key: str, fields: Mapping[str, FieldValue], body: Mapping[str, Any]) -> dict[str, Any]:
    return {"key": key, "updated_at": time.time(), "fields": dict(fields), "body": dict(body)}


def records_query(
    where: Mapping[str, FieldValue],
    since: float | None,
    before: float | None,
    order: Order,
    limit: int,
) -> dict[str, Any]:
    """A search body: equality on fields, a time range, newest or oldest first."""
    filters: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    for name, value in where.items():
        if value is None:
            must_not.append({"exists": {"field": f"fields.{name}"}})
        else:
            filters.append({"term": {f"fields.{name}": value}})
    window = {bound: value for bound, value in (("gte", since), ("lt", before)) if value is not None}
    if window:
        filters.append({"range": {"updated_at": window}})
    direction = "desc" if order == "newest" else "asc"
    return {
        "query": {"bool": {"filter": filters, "must_not": must_not}},
        "sort": [{"updated_at": direction}, {"key": direction}],
        "size": max(0, min(limit, MAX_LIMIT)),
    }


def _record(collection: str, source: dict[str, Any]) -> Record:
    return Record(
        collection=collection,
        key=source["key"],
        fields=source.get("fields") or {},
        body=source.get("body") or {},
        updated_at=float(source.get("updated_at") or 0.0),
    )


class ElasticsearchRecordStore:
    """Collection ``c`` lives in the index ``<prefix>-records-c``, created on first use."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._ready: set[str] = set()

    def index_name(self, collection: str) -> str:
        return f"{self.prefix}-records-{check_collection(collection)}"

    def _index(self, collection: str) -> str:
        index = self.index_name(collection)
        if index not in self._ready:
            if not self.client.indices.exists(index=index):
                # Another replica may create it between the check and here: that is fine.
                self.client.options(ignore_status=400).indices.create(index=index, mappings=RECORDS_MAPPING)
            self._ready.add(index)
        return index

    def close(self) -> None:
        self.client.close()

    def put(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Record:
        document = record_document(str(key), check_fields(fields or {}), body or {})
        self.client.index(index=self._index(collection), id=str(key), document=document, refresh="wait_for")
        return _record(collection, document)

    def create(
        self,
        collection: str,
        key: str,
        fields: Mapping[str, FieldValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bool:
        document = record_document(str(key), check_fields(fields or {}), body or {})
        # No refresh wait: an id conflict is decided on the primary shard in real time, and a get by id
        # sees the record at once; only searches (query) may lag by the refresh interval (1 s).
        response = self.client.options(ignore_status=409).create(
            index=self._index(collection), id=str(key), document=document
        )
        return response.meta.status != 409

    def get(self, collection: str, key: str) -> Record | None:
        response = self.client.options(ignore_status=404).get(index=self._index(collection), id=str(key))
        if not response.get("found"):
            return None
        return _record(collection, response["_source"])

    def delete(self, collection: str, key: str) -> bool:
        response = self.client.options(ignore_status=404).delete(
            index=self._index(collection), id=str(key), refresh="wait_for"
        )
        return response.get("result") == "deleted"

    def purge(self, collection: str, before: float) -> int:
        response = self.client.delete_by_query(
            index=self._index(collection),
            query={"bool": {"filter": [{"range": {"updated_at": {"lt": before}}}]}},
            refresh=True,
            conflicts="proceed",
        )
        return int(response.get("deleted", 0))

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
        body = records_query(check_fields(where or {}), since, before, order, limit)
        hits = self.client.search(index=self._index(collection), **body)["hits"]["hits"]
        return [_record(collection, hit["_source"]) for hit in hits]

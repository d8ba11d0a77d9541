"""Needle's records store: one contract, run against SQLite and against Elasticsearch's protocol.

The Elasticsearch store is the real ``elasticsearch`` client talking over HTTP to the local server in
``tests/support/fake_elasticsearch.py``; a live cluster is exercised by the tests behind
``NEEDLE_ELASTICSEARCH_URL`` in ``test_elasticsearch.py``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines.stores.records import RecordStore, SqliteRecordStore
from pipelines.stores.records_es import ElasticsearchRecordStore
from tests.support.fake_elasticsearch import fake_elasticsearch


def test_put_get_replace_and_delete(records: RecordStore) -> None:
    assert isinstance(records, RecordStore)
    assert records.get("channels", "C1") is None
    records.put("channels", "C1", {"enabled": True, "name": "general"}, {"tags": ["hr", "it"]})
    record = records.get("channels", "C1")
    assert record is not None
    assert (record.key, record.fields, record.body) == (
        "C1",
        {"enabled": True, "name": "general"},
        {"tags": ["hr", "it"]},
    )
    assert record.updated_at == pytest.approx(time.time(), abs=60)

    records.put("channels", "C1", {"enabled": False})
    replaced = records.get("channels", "C1")
    assert replaced is not None and replaced.fields == {"enabled": False} and replaced.body == {}

    assert records.delete("channels", "C1") is True
    assert records.delete("channels", "C1") is False
    assert records.get("channels", "C1") is None


def test_collections_are_separate(records: RecordStore) -> None:
    records.put("channels", "same", {"kind": "channel"})
    records.put("cases", "same", {"kind": "case"})
    channel, case = records.get("channels", "same"), records.get("cases", "same")
    assert channel is not None and channel.fields["kind"] == "channel"
    assert case is not None and case.fields["kind"] == "case"


def test_create_happens_once(records: RecordStore) -> None:
    assert records.create("events", "Ev1", {"team": "T1"}) is True
    assert records.create("events", "Ev1", {"team": "T2"}) is False
    kept = records.get("events", "Ev1")
    assert kept is not None and kept.fields == {"team": "T1"}


def test_concurrent_creates_have_one_winner(records: RecordStore) -> None:
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda n: records.create("events", "Ev-race", {"by": n}), range(16)))
    assert outcomes.count(True) == 1


def test_query_filters_orders_and_limits(records: RecordStore) -> None:
    for n, (actor, action) in enumerate(
        [("ann", "upload"), ("bob", "delete"), ("ann", "delete"), ("ann", "upload"), ("cy", "upload")]
    ):
        records.put("audit", f"e{n}", {"actor": actor, "action": action, "count": n}, {"n": n})
        time.sleep(0.005)  # distinct timestamps, so the order is the order written

    newest = records.query("audit", limit=3)
    assert [r.key for r in newest] == ["e4", "e3", "e2"]
    assert [r.key for r in records.query("audit", order="oldest", limit=2)] == ["e0", "e1"]
    assert [r.key for r in records.query("audit", {"actor": "ann"})] == ["e3", "e2", "e0"]
    assert [r.key for r in records.query("audit", {"actor": "ann", "action": "upload"})] == ["e3", "e0"]
    assert [r.key for r in records.query("audit", {"count": 1})] == ["e1"]
    assert records.query("audit", {"actor": "nobody"}) == []
    assert records.query("other") == []

    middle = records.get("audit", "e2")
    assert middle is not None
    window = records.query("audit", since=middle.updated_at)
    assert [r.key for r in window] == ["e4", "e3", "e2"]
    assert [r.key for r in records.query("audit", before=middle.updated_at)] == ["e1", "e0"]


def test_query_for_missing_field(records: RecordStore) -> None:
    records.put("cases", "a", {"tag": "hr"})
    records.put("cases", "b", {})
    assert [r.key for r in records.query("cases", {"tag": None})] == ["b"]


@pytest.mark.parametrize("collection", ["", "Has Space", "../x", "UPPER"])
def test_bad_collection_names_are_refused(records: RecordStore, collection: str) -> None:
    with pytest.raises(ValueError, match="collection"):
        records.put(collection, "k")


def test_fields_must_be_flat_scalars(records: RecordStore) -> None:
    with pytest.raises(ValueError, match="field"):
        records.put("cases", "k", {"nested": {"a": 1}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="field"):
        records.put("cases", "k", {"bad name": 1})
    assert records.get("cases", "k") is None  # nothing half-written


def test_a_write_is_seen_through_another_connection_at_once(tmp_path: Path) -> None:
    """Processes sharing the data directory each hold their own connection (as two here do): a setting
    changed by the CLI applies to the next question in ``needle serve`` without a restart."""
    path = tmp_path / "records.sqlite3"
    reader, writer = SqliteRecordStore(path), SqliteRecordStore(path)
    assert reader.get("channels", "C1") is None  # the reader's connection is open before the write
    writer.put("channels", "C1", {"enabled": False})
    record = reader.get("channels", "C1")
    assert record is not None and record.fields == {"enabled": False}
    reader.close()
    writer.close()


def test_elasticsearch_requests_are_what_the_store_means() -> None:
    """Writes wait for a refresh (the next question on any replica sees them); ``create`` uses
    ``_create``, which Elasticsearch refuses with 409 for an existing id on every node."""
    from elasticsearch import Elasticsearch

    with fake_elasticsearch() as (url, state):
        store = ElasticsearchRecordStore(Elasticsearch(url), "acme")
        store.put("channels", "C1", {"enabled": True})
        store.create("events", "Ev1")
        store.create("events", "Ev1")
        store.close()
    assert set(state.documents) == {"acme-records-channels", "acme-records-events"}
    mapping = state.mappings["acme-records-channels"]
    assert mapping["properties"]["body"] == {"type": "object", "enabled": False}
    writes = [(method, path) for method, path, _ in state.requests if "/_doc/" in path or "/_create/" in path]
    assert writes == [
        ("PUT", "/acme-records-channels/_doc/C1"),
        ("PUT", "/acme-records-events/_create/Ev1"),
        ("PUT", "/acme-records-events/_create/Ev1"),
    ]
    creations = [path for method, path, _ in state.requests if method == "PUT" and path.count("/") == 1]
    assert creations == ["/acme-records-channels", "/acme-records-events"]  # once per collection


def test_purge_removes_what_was_written_before_a_time(records: RecordStore) -> None:
    records.put("events", "old", {"n": 1})
    time.sleep(0.01)
    cutoff = time.time()
    records.put("events", "new", {"n": 2})
    records.put("other", "old", {"n": 3})
    assert records.purge("events", cutoff) == 1
    assert [r.key for r in records.query("events")] == ["new"]
    assert records.get("other", "old") is not None

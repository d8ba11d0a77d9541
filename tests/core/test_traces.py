"""Traces and votes: one vote per user per answer, the asker's own questions, where it was asked and
where its answer is in Slack (on SQLite and on Elasticsearch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.service.facade import NeedleService
from pipelines.stores.traces import SlackLocation, SqliteTraceStore, Trace, TraceStore
from pipelines.stores.traces_es import ElasticsearchTraceStore, recent_query
from tests.support.fake_elasticsearch import fake_elasticsearch


def _trace(trace_id: str, user_id: str | None, created_at: float) -> Trace:
    return {
        "trace_id": trace_id,
        "created_at": created_at,
        "origin": "slack",
        "user_id": user_id,
        "question": f"question {trace_id}",
        "answer": {
            "text": "answer",
            "kind": "extract",
            "found": True,
            "notice": None,
            "cited": True,
            "model": None,
            "reply": "",
            "citations": [],
            "related": [],
        },
    }


@pytest.fixture
def store(tmp_path: Path) -> SqliteTraceStore:
    store = SqliteTraceStore(tmp_path / "traces.sqlite3")
    store.save(_trace("t1", "U1", 1.0))
    store.save(_trace("t2", "U2", 2.0))
    store.save(_trace("t3", "U1", 3.0))
    return store


def test_a_user_has_one_vote_per_answer_and_the_latest_wins(store: SqliteTraceStore) -> None:
    store.add_feedback("t1", "up", user_id="U9")
    store.add_feedback("t1", "up", user_id="U9")
    assert [(f["user_id"], f["rating"]) for f in store.feedback_for("t1")] == [("U9", "up")]
    store.add_feedback("t1", "down", user_id="U9", reason="outdated")
    store.add_feedback("t1", "down", user_id="U9")  # the same vote again keeps its reason
    assert [(f["rating"], f["reason"]) for f in store.feedback_for("t1")] == [("down", "outdated")]
    store.add_feedback("t1", "up", user_id="U8")
    (summary,) = [s for s in store.recent() if s["trace_id"] == "t1"]
    assert (summary["up"], summary["down"]) == (1, 1)
    assert [item["rating"] for item in store.feedback(rating="down")] == ["down"]
    store.add_feedback("t1", "up", user_id="U9")  # changing 👎 to 👍 replaces it
    (summary,) = [s for s in store.recent() if s["trace_id"] == "t1"]
    assert (summary["up"], summary["down"]) == (2, 0)


def test_votes_without_a_user_are_each_kept(store: SqliteTraceStore) -> None:
    store.add_feedback("t2", "up")
    store.add_feedback("t2", "up")
    assert len(store.feedback_for("t2")) == 2


def test_a_vote_on_an_unknown_answer_is_refused(store: SqliteTraceStore) -> None:
    with pytest.raises(KeyError):
        store.add_feedback("nope", "up", user_id="U1")
    with pytest.raises(ValueError, match="rating"):
        store.add_feedback("t1", "meh", user_id="U1")  # type: ignore[arg-type]


def test_recent_lists_one_askers_questions(store: SqliteTraceStore) -> None:
    assert [s["trace_id"] for s in store.recent(user_id="U1")] == ["t3", "t1"]
    assert [s["trace_id"] for s in store.recent(origin="slack", user_id="U2")] == ["t2"]
    assert recent_query(5, "slack", "U1")["query"] == {
        "bool": {"filter": [{"term": {"origin": "slack"}}, {"term": {"user_id": "U1"}}]}
    }


def test_the_trace_keeps_where_the_question_was_asked(handbook_service: NeedleService) -> None:
    context = {"channel": "C0HR", "ts": "1700000000.000100", "thread_ts": "1700000000.000100"}
    answer = handbook_service.ask("How many vacation days do I get?", context=context, user_id="U1")
    trace = handbook_service.get_trace(answer.trace_id)
    assert trace is not None and trace["context"] == context
    assert trace["viewer"]["private"] is False and trace["retrieval_config"] == "default"


@pytest.fixture(params=["sqlite", "elasticsearch"])
def both_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TraceStore, TraceStore]]:
    """Two connections to one trace store (two processes, or a process before and after a restart): on
    SQLite, and on the local Elasticsearch test server through the real client."""
    if request.param == "sqlite":
        opened: list[TraceStore] = [SqliteTraceStore(tmp_path / "traces.sqlite3") for _ in range(2)]
        yield opened[0], opened[1]
        for store in opened:
            store.close()
        return
    from elasticsearch import Elasticsearch

    with fake_elasticsearch() as (url, state):
        first = ElasticsearchTraceStore(Elasticsearch(url), "needle")
        second = ElasticsearchTraceStore(Elasticsearch(url), "needle")
        yield first, second
        first.close()
        second.close()
        refused = [error for error in state.errors if error[2].get("status") == 400]
        assert not refused, refused  # nothing the fake does not speak (or Elasticsearch would refuse)


def test_where_an_answer_is_in_slack_is_kept_with_its_trace(both_stores) -> None:
    writer, reader = both_stores
    for trace_id, user, created in (("t1", "U1", 1.0), ("t2", "U2", 2.0), ("t3", "U1", 3.0)):
        writer.save(_trace(trace_id, user, created))
    in_thread: SlackLocation = {
        "channel": "C0HR",
        "message_ts": "1700000000.000200",
        "thread_ts": "1700000000.000100",
    }
    writer.set_location("t1", in_thread)
    writer.set_location("t2", {"channel": "D0U2", "message_ts": "1700000001.000100", "thread_ts": None})

    # The other connection (another replica, or this one after a restart) reads it, by user and by id.
    mine = reader.recent(origin="slack", user_id="U1")
    assert [(s["trace_id"], s["location"]) for s in mine] == [("t3", None), ("t1", in_thread)]
    trace = reader.get("t1")
    assert trace is not None and trace["location"] == in_thread and trace["question"] == "question t1"
    assert "location" not in (reader.get("t3") or {})

    moved: SlackLocation = {
        "channel": "C0HR",
        "message_ts": "1700000000.000200",
        "thread_ts": "1700000000.000200",
    }
    reader.set_location("t1", moved)  # a later location replaces the earlier
    assert writer.recent(user_id="U1")[1]["location"] == moved
    writer.add_feedback("t1", "up", user_id="U9")  # votes and location live side by side
    (summary,) = [s for s in writer.recent() if s["trace_id"] == "t1"]
    assert (summary["up"], summary["location"]) == (1, moved)


def test_a_location_is_ids_only_and_needs_its_trace(both_stores) -> None:
    store, _ = both_stores
    store.save(_trace("t1", "U1", 1.0))
    with pytest.raises(KeyError):
        store.set_location("nope", {"channel": "C1", "message_ts": "1.2", "thread_ts": None})
    bad: list[dict] = [
        {"channel": "#general", "message_ts": "1.2", "thread_ts": None},
        {"channel": "C1", "message_ts": "salary bands", "thread_ts": None},
        {"channel": "C1", "message_ts": "1.2", "thread_ts": "<@U1>"},
    ]
    for location in bad:
        with pytest.raises(ValueError, match="Slack"):
            store.set_location("t1", location)  # type: ignore[arg-type]
    # Nothing but the three ids is kept, whatever else a caller adds.
    store.set_location("t1", {"channel": "C1", "message_ts": "1.2", "thread_ts": None, "text": "x"})  # type: ignore[typeddict-unknown-key]
    trace = store.get("t1")
    assert trace is not None and trace["location"] == {
        "channel": "C1",
        "message_ts": "1.2",
        "thread_ts": None,
    }


def test_the_service_records_where_the_answer_is_in_slack(handbook_service: NeedleService) -> None:
    answer = handbook_service.ask("How many vacation days do I get?", origin="slack", user_id="U0LOC")
    where: SlackLocation = {
        "channel": "C0HR",
        "message_ts": "1700000000.000100",
        "thread_ts": "1700000000.000100",
    }
    handbook_service.record_slack_location(answer.trace_id, where)
    [summary] = handbook_service.recent_traces(origin="slack", user_id="U0LOC")
    assert summary["trace_id"] == answer.trace_id and summary["location"] == where
    with pytest.raises(NeedleError, match="no answer"):
        handbook_service.record_slack_location("nope", where)
    with pytest.raises(NeedleError, match="Slack"):
        handbook_service.record_slack_location(answer.trace_id, {**where, "channel": "general"})


def test_recent_leaves_out_the_origins_asked_to(both_stores) -> None:
    """How the Traces tab's "All" leaves out the lab's comparison runs, on both stores."""
    writer, reader = both_stores
    writer.save(_trace("t1", "U1", 1.0))
    writer.save({**_trace("c1", "ann", 2.0), "origin": "compare"})
    writer.save({**_trace("t2", "U2", 3.0), "origin": "cli"})
    assert [s["trace_id"] for s in reader.recent()] == ["t2", "c1", "t1"]
    assert [s["trace_id"] for s in reader.recent(exclude_origins=["compare"])] == ["t2", "t1"]
    assert [s["trace_id"] for s in reader.recent(exclude_origins=["compare", "cli"])] == ["t1"]
    assert [s["trace_id"] for s in reader.recent(user_id="ann", exclude_origins=["compare"])] == []
    assert [s["trace_id"] for s in reader.recent(origin="compare")] == ["c1"]

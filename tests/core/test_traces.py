"""Traces and votes: one vote per user per answer, the asker's own questions, where it was asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.service import NeedleService
from pipelines.traces import SqliteTraceStore, Trace
from pipelines.traces_es import recent_query


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

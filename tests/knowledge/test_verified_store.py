"""Verified answers' store: one audited call per change, dates checked, one reminder per review date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.knowledge.gaps import parse_since
from pipelines.knowledge.verified import VerifiedAnswerNotFound, VerifiedAnswers, default_review_by
from pipelines.records.audience import PUBLIC, Viewer
from pipelines.records.audit import AuditLog
from pipelines.stores.records import SqliteRecordStore


@pytest.fixture
def store(tmp_path: Path) -> VerifiedAnswers:
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    return VerifiedAnswers(records, AuditLog(records))


def test_add_edit_expire_remove_are_each_one_audited_action(store: VerifiedAnswers) -> None:
    item = store.add("Can I bring my dog?", "Fridays only.", "@U0EXPERT", actor="alice", phrasings=["Pets?"])
    assert (
        item.expert == "U0EXPERT"
        and item.audience == ["everyone"]
        and item.wordings
        == [
            "Can I bring my dog?",
            "Pets?",
        ]
    )
    assert item.review_by == default_review_by(dt.date.fromisoformat(item.verified_on)).isoformat()
    assert item.is_current()
    edited = store.edit(item.answer_id, actor="bob", answer="Fridays, if registered.")
    assert store.get(item.answer_id).answer == "Fridays, if registered." == edited.answer
    expired = store.expire(item.answer_id, actor="carol")
    assert expired.status == "expired" and not expired.is_current()
    renewed = store.edit(item.answer_id, actor="bob", review_by=dt.date.today() + dt.timedelta(days=30))
    assert renewed.is_current()
    store.remove(item.answer_id, actor="dan")
    with pytest.raises(VerifiedAnswerNotFound):
        store.get(item.answer_id)
    actions = [(entry.actor, entry.action) for entry in reversed(store.audit.entries())]
    assert actions == [
        ("alice", "verified.add"),
        ("bob", "verified.edit"),
        ("carol", "verified.expire"),
        ("bob", "verified.edit"),
        ("dan", "verified.remove"),
    ]


def test_bad_input_is_refused_with_a_reason_and_nothing_is_stored(store: VerifiedAnswers) -> None:
    with pytest.raises(NeedleError, match="needs a answer"):
        store.add("Q?", "  ", "U1")
    with pytest.raises(NeedleError, match="YYYY-MM-DD"):
        store.add("Q?", "A", "U1", review_by="next spring")
    with pytest.raises(NeedleError, match="after today"):
        store.add("Q?", "A", "U1", review_by="2020-01-01")
    with pytest.raises(NeedleError, match="not an audience member"):
        store.add("Q?", "A", "U1", audience="the board")
    with pytest.raises(NeedleError, match="one user name"):
        store.add("Q?", "A", "two words")
    assert store.list() == []
    item = store.add("Q?", "A", "U1")
    with pytest.raises(NeedleError, match="nothing to change"):
        store.edit(item.answer_id)


def test_past_review_date_is_not_current_and_its_reminder_is_claimed_once(store: VerifiedAnswers) -> None:
    long_ago = dt.date.today() - dt.timedelta(days=400)
    item = store.add("Q?", "A", "U1", verified_on=long_ago, review_by=long_ago + dt.timedelta(days=10))
    assert not item.is_current() and store.due_for_review() == [item]
    assert store.claim_reminder(item) is True
    assert store.claim_reminder(item) is False  # one DM per answer and review date
    store.forget_reminder(item)  # the DM failed: the next run tries again
    assert store.claim_reminder(item) is True


def test_audience_decides_who_may_be_given_it(store: VerifiedAnswers) -> None:
    item = store.add("Q?", "A", "U1", audience="channel:C0HR1234")
    assert not PUBLIC.may_see(item.audience)
    assert Viewer(channel_id="C0HR1234").may_see(item.audience)


def test_periods_read_as_people_write_them() -> None:
    assert (
        parse_since("30d") == 30 * 86400
        and parse_since("12h") == 12 * 3600
        and parse_since("2w") == 14 * 86400
    )
    assert parse_since(None) == 30 * 86400
    for bad in ("soon", "-3d", "0"):
        with pytest.raises(ValueError, match="not a period"):
            parse_since(bad)

"""Stateless replicas: two bots sharing one data directory act as one.

Each bot opens its own connection to the shared record store, as two processes or replicas would; Slack's
retry of an event may land on either, and a user's rate limit counts questions on both.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest

from bot import messages
from bot.shared import RATE, SharedKeys, SharedRateLimiter
from pipelines.stores.records import SqliteRecordStore
from tests.bot.replies import finished_answers, wait_answers
from tests.bot.test_mentions import VACATION, mention


def test_a_retry_landing_on_the_other_replica_is_not_answered_twice(start_bot, tmp_path):
    first = start_bot(records_dir=tmp_path)
    second = start_bot(records_dir=tmp_path)
    ts = first.slack.add_user_message("CREP", "U1", f"<@UBOT> {VACATION}")
    event = mention("CREP", "U1", VACATION, ts)
    assert first.send.event(event, event_id="EvREPLICA1").status_code == 200
    assert second.send.event(event, event_id="EvREPLICA1", retry=1).status_code == 200
    # Slack also delivers the same message under a new event id now and then: still one answer.
    assert second.send.event(event, event_id="EvREPLICA2").status_code == 200
    wait_answers(first.slack, "CREP", 1)
    first.settle()
    second.settle()
    assert len(finished_answers(first.slack, "CREP")) == 1
    assert len(first.slack.of("chat.postMessage")) == 1


def test_the_rate_limit_counts_questions_on_every_replica(start_bot, tmp_path):
    bots = [start_bot(records_dir=tmp_path, slack_rate_limit_per_minute=2) for _ in range(2)]
    # The limit counts per calendar minute: three questions straddling a minute's end would be two
    # windows (as docs/slack.md says), so start in a minute with time left for all three.
    into_minute = time.time() % 60
    if into_minute > 40:
        time.sleep(60.5 - into_minute)
    for number, bot in enumerate([bots[0], bots[1], bots[0]]):
        ts = bot.slack.add_user_message(f"CRATE{number}", "U7", f"<@UBOT> {VACATION}")
        assert bot.send.event(mention(f"CRATE{number}", "U7", VACATION, ts)).status_code == 200
        bot.settle()
    for bot in bots:
        bot.settle()
    refused = [c.args for c in bots[0].slack.of("chat.postEphemeral")]
    assert [r["text"] for r in refused] == [messages.RATE_LIMITED.format(limit=2)]
    assert refused[0]["channel"] == "CRATE2"
    answered = [len(finished_answers(bots[0].slack, f"CRATE{n}")) for n in range(3)]
    assert answered == [1, 1, 0]


class TestSharedState:
    """The shared memories over two connections to one SQLite file (two processes' worth of state)."""

    @pytest.fixture
    def stores(self) -> list[SqliteRecordStore]:
        path = Path(tempfile.mkdtemp()) / "records.sqlite3"
        opened = [SqliteRecordStore(path), SqliteRecordStore(path)]
        yield opened
        for store in opened:
            store.close()

    def test_a_key_is_claimed_once_across_connections(self, stores):
        keys = [SharedKeys(store, "slack_handled", ttl_seconds=60) for store in stores]
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda k=k: results.append(k.claim("event:Ev1"))) for k in keys * 5
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 9 + [True]

    def test_expired_keys_are_purged_and_forgotten(self, stores):
        now = [time.time()]
        keys = SharedKeys(stores[0], "slack_threads", ttl_seconds=60, clock=lambda: now[0])
        keys.remember("C1:1.0")
        assert "C1:1.0" in SharedKeys(stores[1], "slack_threads", ttl_seconds=60)
        now[0] += 3600  # an hour later (records carry the wall-clock time of writing)
        assert "C1:1.0" not in keys
        assert keys.purge() == 1 and stores[1].get("slack_threads", "C1:1.0") is None

    def test_rate_limit_window_per_user_across_connections(self, stores):
        now = [600.0]
        limiters = [SharedRateLimiter(store, 3, clock=lambda: now[0]) for store in stores]
        assert [limiters[i % 2].allow("U1") for i in range(4)] == [True, True, True, False]
        assert limiters[1].allow("U2")  # per user
        now[0] += 60  # the next minute
        assert limiters[0].allow("U1")
        assert len(stores[0].query(RATE, {"user": "U1"}, limit=100)) == 4

    def test_invalid_limits_are_refused(self, stores):
        with pytest.raises(ValueError, match="per_minute"):
            SharedRateLimiter(stores[0], 0)
        with pytest.raises(ValueError, match="ttl_seconds"):
            SharedKeys(stores[0], "slack_handled", ttl_seconds=0)

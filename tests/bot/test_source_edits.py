"""Edits and deletions in a synced channel reach the core through the real Bolt app: the thread is
marked for its next sync; the bot's own edits and unsynced channels write nothing."""

from __future__ import annotations

from collections.abc import Callable

from pipelines.connectors.slack_edits import EDITS, remember_synced
from tests.bot.conftest import BotHarness
from tests.bot.slack_api import BOT_ID, BOT_USER_ID


def changed(channel: str, user: str, ts: str, thread_ts: str, at: str, **extra: str) -> dict:
    message = {"type": "message", "user": user, "text": "edited", "ts": ts, "thread_ts": thread_ts, **extra}
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "ts": at,
        "message": message,
        "channel_type": "channel",
    }


def test_edit_and_delete_events_mark_synced_threads(start_bot: Callable[..., BotHarness]) -> None:
    bot = start_bot()
    slack_api = bot.slack
    records = bot.runtime.records
    remember_synced(records, ["C0SYNCED"])
    # What must not be marked goes first, so it has been handled by the time the marks are there.
    assert bot.send.event(changed("C0OTHER", "U1", "100.2", "100.1", "200.2")).status_code == 200
    bot_edit = changed("C0SYNCED", BOT_USER_ID, "300.2", "300.1", "300.3", bot_id=BOT_ID)
    assert bot.send.event(bot_edit).status_code == 200
    assert bot.send.event(changed("C0SYNCED", "U1", "100.2", "100.1", "200.1")).status_code == 200
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "C0SYNCED",
        "ts": "400.9",
        "deleted_ts": "400.1",
        "channel_type": "channel",
    }
    assert bot.send.event(deleted).status_code == 200
    slack_api.wait_for(lambda _: len(records.query(EDITS)) == 2, timeout=10)
    assert bot.runtime.wait_idle(10)
    marks = {record.key: record.fields["at"] for record in records.query(EDITS)}
    assert marks == {"C0SYNCED/100.1": "200.1", "C0SYNCED/400.1": "400.9"}
    assert not slack_api.of("chat.postMessage")  # an edit is never answered

"""Edits and deletions Slack tells the bot about, kept until the next sync of their channel reads them.

A channel's history shows when a thread last got a reply and when its first message was edited, but not
when a reply was edited or deleted. Slack does send the bot ``message_changed`` and ``message_deleted``
events for every channel it is in: the bot hands them to :func:`note_message_event`, which marks the
thread in the record store (any replica, any process), and the Slack connector folds the mark into the
thread's version when it next lists the channel, so that sync fetches the thread again.

Only channels a Slack connector synced are marked (:func:`remember_synced`), and never for the bot's own
edits (Needle updates its answers as it writes them), so an ordinary answer costs no record write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.stores.records import MAX_LIMIT, RecordStore

logger = logging.getLogger(__name__)

#: Channels some Slack connector synced: ``key`` the channel id.
SYNCED = "slack-synced-channels"
#: Threads with an edit or deletion since: ``key`` ``<channel>/<thread_ts>``, ``fields.at`` the event's ts.
EDITS = "slack-thread-edits"
#: Marks older than this are dropped; a thread whose mark was dropped is fetched once more, harmlessly.
KEEP_SECONDS = 30 * 24 * 3600.0


def remember_synced(records: RecordStore, channels: Iterable[str]) -> None:
    """Note that these channels are synced, so their edit events are worth a mark."""
    for channel in channels:
        if records.get(SYNCED, channel) is None:
            records.put(SYNCED, channel, {"channel": channel})


def note_message_event(
    records: RecordStore, event: Mapping[str, Any], bot_user_id: str | None = None
) -> str | None:
    """Mark the thread a ``message_changed`` / ``message_deleted`` event touches; returns its id
    (``<channel>/<thread_ts>``), or ``None`` when there is nothing to mark (another subtype, a channel no
    connector syncs, the bot's own edit)."""
    subtype = event.get("subtype")
    channel = str(event.get("channel") or "")
    if subtype == "message_changed":
        message = event.get("message") or {}
    elif subtype == "message_deleted":
        message = event.get("previous_message") or {"ts": event.get("deleted_ts")}
    else:
        return None
    ts = str(message.get("ts") or "")
    if not channel or not ts or message.get("bot_id") or (bot_user_id and message.get("user") == bot_user_id):
        return None
    if records.get(SYNCED, channel) is None:
        return None
    thread_ts = str(message.get("thread_ts") or ts)
    at = str(event.get("ts") or event.get("event_ts") or f"{time.time():.6f}")
    key = f"{channel}/{thread_ts}"
    records.put(EDITS, key, {"channel": channel, "thread_ts": thread_ts, "at": at})
    logger.info("Slack thread %s changed: its next sync fetches it again", key)
    return key


def edit_marks(records: RecordStore, channel: str) -> dict[str, str]:
    """``thread_ts -> ts of the latest edit or deletion event`` for one channel's marked threads."""
    records.purge(EDITS, before=time.time() - KEEP_SECONDS)
    found: dict[str, str] = {}
    for record in records.query(EDITS, {"channel": channel}, limit=MAX_LIMIT):
        found[str(record.fields["thread_ts"])] = str(record.fields["at"])
    return found

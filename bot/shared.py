"""The bot's memories that every replica must share, kept in the core's record store.

Slack retries an event it thinks was not acknowledged, and a retry may land on another process or replica
than the first delivery. Keeping "already handled", "threads I answered in" and the per-user rate-limit
counters in process memory would answer a retry twice and let a user get ``replicas x limit`` answers a
minute. They live in ``service.records`` instead (SQLite beside the embedded store, Elasticsearch in
production), whose ``create`` is an atomic insert-if-absent across processes and replicas.

These calls are store writes (an Elasticsearch ``create`` waits for a refresh), so they run after Slack's
ack, on the listener threads, never before it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pipelines.stores.records import RecordStore

logger = logging.getLogger(__name__)

#: Collections (record-store names) of the bot's shared state.
HANDLED = "slack_handled"
THREADS = "slack_threads"
RATE = "slack_rate"

#: How often one process deletes expired keys, and how many per pass.
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 500


class SharedKeys:
    """Keys remembered for ``ttl_seconds`` in one record collection, shared by every process.

    :param clock: seconds since the epoch (records carry wall-clock times, comparable across machines).
    """

    def __init__(
        self,
        records: RecordStore,
        collection: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.records = records
        self.collection = collection
        self.ttl = ttl_seconds
        self._clock = clock
        self._last_purge = clock()
        self._purge_lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """``True`` for the first claim of ``key`` by any process (atomic), ``False`` for a repeat.

        A key older than the TTL that was not purged yet still counts as claimed: Slack's event ids and
        message timestamps never come back after an hour, so that errs on the side of not answering twice.
        """
        return self.records.create(self.collection, key, {"kind": "key"})

    def remember(self, key: str) -> None:
        """Note ``key`` (again) from now on: a thread the bot answered in stays followed for the TTL."""
        self.records.put(self.collection, key, {"kind": "key"})

    def __contains__(self, key: object) -> bool:
        record = self.records.get(self.collection, str(key))
        return record is not None and self._clock() - record.updated_at < self.ttl

    def purge_due(self) -> bool:
        """Whether this process should delete expired keys now (at most every ``PURGE_EVERY_SECONDS``)."""
        with self._purge_lock:
            if self._clock() - self._last_purge < PURGE_EVERY_SECONDS:
                return False
            self._last_purge = self._clock()
            return True

    def purge(self) -> int:
        """Delete up to ``PURGE_BATCH`` expired keys; returns how many. Any replica may do it."""
        expired = self.records.query(
            self.collection, before=self._clock() - self.ttl, order="oldest", limit=PURGE_BATCH
        )
        return sum(self.records.delete(self.collection, record.key) for record in expired)


class SharedRateLimiter:
    """At most ``per_minute`` questions per user in each calendar minute, counted across replicas.

    Each accepted question creates one of ``per_minute`` numbered slots for the user's current minute;
    ``create`` is atomic, so two replicas can never both take the last slot. A fixed window (not a sliding
    one) is what an atomic insert-if-absent can enforce without a lock service; at a boundary a user may
    get up to twice the limit within sixty seconds, which is enough to stop a loop.
    """

    def __init__(self, records: RecordStore, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.records = records
        self.per_minute = per_minute
        self._clock = clock
        self.keys = SharedKeys(records, RATE, ttl_seconds=120.0, clock=clock)

    def allow(self, user_id: str) -> bool:
        """Count a question by ``user_id``; ``False`` (and not counted) when over the limit."""
        minute = int(self._clock() // 60)
        taken = len(self.records.query(RATE, {"user": user_id, "minute": minute}, limit=self.per_minute + 1))
        for slot in range(taken, self.per_minute):
            if self.records.create(RATE, f"{user_id}:{minute}:{slot}", {"user": user_id, "minute": minute}):
                return True
        return False

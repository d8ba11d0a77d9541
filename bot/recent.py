"""A bounded, time-limited set of keys: which events were already handled, which threads the bot is in.

Kept in memory on purpose: Slack retries within minutes, so a process-local memory of the last hour is
enough to stop double answers, and losing it on restart costs at most one re-tagged follow-up.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RecentKeys:
    """Remembers keys for ``ttl_seconds`` (at most ``max_keys`` of them, oldest dropped first)."""

    def __init__(
        self, ttl_seconds: float = 3600.0, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_seconds <= 0 or max_keys < 1:
            raise ValueError("ttl_seconds must be positive and max_keys at least 1")
        self._ttl = ttl_seconds
        self._max = max_keys
        self._clock = clock
        self._keys: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """Add ``key``; ``True`` the first time within the TTL, ``False`` for a repeat (atomic)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._keys:
                return False
            self._keys[key] = now
            if len(self._keys) > self._max:
                self._keys.popitem(last=False)
            return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._keys

    def _expire(self, now: float) -> None:
        while self._keys:
            oldest, seen = next(iter(self._keys.items()))
            if now - seen < self._ttl:
                break
            del self._keys[oldest]

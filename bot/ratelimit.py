"""Per-user rate limit: one employee looping a question must not use up the workers everyone shares."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """A sliding one-minute window of at most ``per_minute`` accepted questions per user."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, user_id: str) -> bool:
        """Count a question by ``user_id``; ``False`` (and not counted) when over the limit."""
        now = self._clock()
        with self._lock:
            window = self._seen.setdefault(user_id, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= self.per_minute:
                return False
            window.append(now)
            if len(self._seen) > 10_000:  # forget idle users so the dict stays small
                for user in [user for user, times in self._seen.items() if not times]:
                    del self._seen[user]
            return True

"""Who is indexing right now, so an admin whose upload is queued behind another is told what it waits for.

Gradio's ``concurrency_limit=1`` already runs indexing events one at a time; this tracker only adds the
words: which job is running, for whom and since when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: The ``concurrency_id`` shared by every event that writes to the index (upload, re-index, delete).
INDEXING_QUEUE = "indexing"


@dataclass(frozen=True)
class RunningJob:
    description: str
    user: str
    started: float


class IndexingJobs:
    """Shared by every session of one console; safe to use from Gradio's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: RunningJob | None = None

    @contextmanager
    def running(self, description: str, user: str | None) -> Iterator[None]:
        with self._lock:
            self._running = RunningJob(description, user or "an admin", time.time())
        try:
            yield
        finally:
            with self._lock:
                self._running = None

    @property
    def current(self) -> RunningJob | None:
        with self._lock:
            return self._running

    def status(self, what: str) -> str:
        """A line for the page, said before ``what`` (e.g. "Your upload") is queued."""
        job = self.current
        if job is None:
            return f"⏳ {what} is starting…"
        seconds = int(time.time() - job.started)
        return (
            f"⏳ One indexing job runs at a time. {what} is waiting for another job to finish "
            f"({job.description}, started by {job.user} {seconds} s ago); it will start by itself."
        )

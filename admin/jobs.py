"""Who is indexing right now, so an admin whose upload is queued behind another is told what it waits for.

Gradio's ``concurrency_limit=1`` already runs indexing events one at a time; this tracker only adds the
words: which job is running, for whom and since when. A job on one source names it only to an account
that may see that source: a viewer waiting behind "deleting <a restricted source>" is told "a change to
a source" instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: The ``concurrency_id`` shared by every event that writes to the index (upload, re-index, delete).
INDEXING_QUEUE = "indexing"


@dataclass(frozen=True)
class RunningJob:
    description: str
    user: str
    started: float
    #: The one source the job changes (delete, re-index, audience), so its id is shown only to those who
    #: may see it; ``None`` for uploads, whose description names no file.
    source_id: str | None = None


class IndexingJobs:
    """Shared by every session of one console; safe to use from Gradio's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: RunningJob | None = None

    @contextmanager
    def running(self, description: str, user: str | None, source_id: str | None = None) -> Iterator[None]:
        with self._lock:
            self._running = RunningJob(description, user or "an admin", time.time(), source_id)
        try:
            yield
        finally:
            with self._lock:
                self._running = None

    @property
    def current(self) -> RunningJob | None:
        with self._lock:
            return self._running

    def status(self, what: str, may_see_source: Callable[[str], bool] | None = None) -> str:
        """A line for the page, said before ``what`` (e.g. "Your upload") is queued.

        :param may_see_source: whether the asking account may see a source (a console session's
            :meth:`pipelines.app.visibility.ConsoleView.may_see_source`); ``None``: every source.
        """
        job = self.current
        if job is None:
            return f"⏳ {what} is starting…"
        seconds = int(time.time() - job.started)
        description = job.description
        if job.source_id is not None and may_see_source is not None and not may_see_source(job.source_id):
            description = "a change to a source"
        return (
            f"⏳ One indexing job runs at a time. {what} is waiting for another job to finish "
            f"({description}, started by {job.user} {seconds} s ago); it will start by itself."
        )

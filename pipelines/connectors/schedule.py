"""Due syncs become background jobs: the one queue the Jobs panel and ``needle jobs`` already show.

A worker (``needle worker``, or the ones ``needle serve`` runs) calls :func:`queue_due_syncs` before it
claims a job, at most every :data:`SCHEDULE_SECONDS`; the sync then runs as a job like an upload does,
with progress, cancel and retry. A due connector is queued once: not while a sync job of it is queued or
running, and each due time is marked in the record store atomically, so replicas polling at the same
moment queue it once between them. The engine's lease still guarantees one sync per connector at a time.
"""

from __future__ import annotations

import threading
import time

from pipelines.connectors.manager import ConnectorManager
from pipelines.records.jobs import Job, JobQueue

#: How often a worker looks for due syncs, at most (a listing of the connectors' records each time).
SCHEDULE_SECONDS = 30.0
#: Who the audit log and the job say queued a scheduled sync.
SCHEDULER = "scheduler"


def due_key(manager: ConnectorManager, name: str) -> str | None:
    """The scheduler's name for the connector's current due time: a new one after each sync, and after
    a change of its configuration (a resume, a new interval), so a due time is queued once."""
    config = manager.records.get(name)
    if config is None:
        return None
    runs = manager.records.runs(name, limit=1)
    last = runs[0].run_id if runs else "never"
    return f"{name}:{last}:{config.updated_at:.3f}"


def queue_due_syncs(manager: ConnectorManager, queue: JobQueue, now: float | None = None) -> list[Job]:
    """Queue a sync job for every due connector that has none queued or running; the jobs queued."""
    queued = []
    for name in manager.due(now):
        key = due_key(manager, name)
        if key is None:  # removed meanwhile
            continue
        job = queue.submit_sync(name, submitted_by=SCHEDULER, due_key=key)
        if job is not None:
            queued.append(job)
    return queued


class SyncScheduler:
    """The worker's ``schedule`` hook: :func:`queue_due_syncs`, at most every ``every`` seconds."""

    def __init__(self, manager: ConnectorManager, queue: JobQueue, every: float = SCHEDULE_SECONDS) -> None:
        self.manager = manager
        self.queue = queue
        self.every = every
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> list[Job]:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every:
                return []
            self._last = now
        return queue_due_syncs(self.manager, self.queue)


def queue_sync(manager: ConnectorManager, queue: JobQueue, name: str, actor: str | None) -> Job:
    """``sync --background`` and the console's "Sync now": a job for a worker.

    :raises NeedleError: no such connector, it is paused, or a sync of it is queued or running already."""
    from pipelines.base.errors import NeedleError

    config = manager.get(name)
    if config.paused:
        raise NeedleError(
            f"the connector {name!r} is paused; resume it first (`needle connectors resume {name}`)"
        )
    job = queue.submit_sync(name, submitted_by=actor)
    if job is None:
        active = queue.active_sync(name)
        which = f" (job {active.job_id}, {active.status})" if active else ""
        raise NeedleError(f"a sync of {name!r} is queued or running already{which}; see `needle jobs list`")
    if manager.audit is not None:
        manager.audit.record(actor, "connector.sync", f"connector {name}", None, {"job": job.job_id})
    return job

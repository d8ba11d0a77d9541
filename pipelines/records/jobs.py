"""Background ingest jobs: a durable queue in the record store, worked by any process.

An upload becomes a job (the file's bytes kept beside it), so the web process answers at once and a
150-page PDF does not block its admin; a worker (one thread in ``needle serve``, or ``needle worker``
processes on any replica) claims queued jobs and indexes them, reporting progress by chunks. Claiming is
an atomic create in the record store, so two workers never run the same attempt. A worker refreshes its
job's heartbeat while it works; a job whose heartbeat stops (the process died) is queued again, and
after ``MAX_ATTEMPTS`` marked failed. Indexing a source replaces its chunks in one store write, so a job
interrupted at any point leaves the old version or the new one, never half a file.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipelines.base.errors import NeedleError
from pipelines.records.audit import AuditLog
from pipelines.stores.originals import RecordOriginalStore
from pipelines.stores.records import Record, RecordStore

COLLECTION = "jobs"
CLAIMS = "job-claims"
FILES = "job-files"
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
#: What a job does: index an uploaded file, or run one connector's sync (``options["connector"]``).
JobKind = Literal["ingest", "sync"]
#: Markers that a connector's due sync was queued, one per due time, so two replicas never queue it twice.
SCHEDULED = "sync-scheduled"
#: A running job whose worker has not reported for this long is presumed dead.
STALE_SECONDS = 60.0
MAX_ATTEMPTS = 3
POLL_SECONDS = 1.0

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a running ingest when its job was cancelled: nothing of it is written."""


@dataclass(frozen=True)
class Job:
    job_id: str
    file_name: str
    status: JobStatus
    created_at: float
    options: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    worker: str | None = None
    heartbeat: float | None = None
    done: int = 0
    total: int = 0
    cancel_requested: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None
    submitted_by: str | None = None
    kind: JobKind = "ingest"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def progress(self) -> str:
        if self.status == "running" and self.total:
            unit = "documents" if self.kind == "sync" else "chunks"
            return f"{self.done} of {self.total} {unit}"
        return self.status


def _state(job: Job) -> dict[str, object]:
    """What cancel and retry change on a job, for the audit log."""
    state: dict[str, object] = {"status": "cancelling" if job.cancel_requested else job.status}
    state["attempt"] = job.attempt
    return state


def _job(record: Record) -> Job:
    return Job(**{name: record.body[name] for name in Job.__dataclass_fields__ if name in record.body})


class JobQueue:
    """The queue over a :class:`RecordStore`; every replica sharing the store shares the queue."""

    def __init__(self, records: RecordStore, audit: AuditLog | None = None) -> None:
        self.records = records
        self.audit = audit
        self.files = RecordOriginalStore(records, collection=FILES)

    def _save(self, job: Job) -> Job:
        self.records.put(COLLECTION, job.job_id, {"status": job.status}, job.to_dict())
        return job

    def submit(self, file_name: str, data: bytes, submitted_by: str | None = None, **options: Any) -> Job:
        """Queue ``data`` for indexing as ``file_name`` with :meth:`SourceLibrary.ingest_bytes` options."""
        options.setdefault("uploaded_by", submitted_by)
        job = Job(
            job_id=uuid.uuid4().hex[:12],
            file_name=file_name,
            status="queued",
            created_at=time.time(),
            options=options,
            submitted_by=submitted_by,
        )
        self.files.keep(job.job_id, file_name, data)  # the bytes first: a queued job always has its file
        return self._save(job)

    def submit_sync(
        self, connector: str, submitted_by: str | None = None, due_key: str | None = None
    ) -> Job | None:
        """Queue a sync of ``connector`` for a worker. ``None`` when one is queued or running already, or
        (with ``due_key``, the scheduler's name for one due time) when another replica queued that one
        first: the marker is created atomically, so a due sync is queued once across replicas."""
        if self.active_sync(connector) is not None:
            return None
        if due_key is not None and not self.records.create(SCHEDULED, due_key, {"connector": connector}):
            return None
        job = Job(
            job_id=uuid.uuid4().hex[:12],
            file_name=f"sync of {connector}",
            status="queued",
            created_at=time.time(),
            options={"connector": connector},
            submitted_by=submitted_by,
            kind="sync",
        )
        return self._save(job)

    def active_sync(self, connector: str) -> Job | None:
        """The queued or running sync job of ``connector``, if there is one."""
        for status in ("queued", "running"):
            for job in self.list(status, limit=1000):  # type: ignore[arg-type]
                if job.kind == "sync" and job.options.get("connector") == connector:
                    return job
        return None

    def get(self, job_id: str) -> Job | None:
        record = self.records.get(COLLECTION, job_id)
        return None if record is None else _job(record)

    def list(self, status: JobStatus | None = None, limit: int = 200) -> list[Job]:
        where = {"status": status} if status else None
        return [_job(r) for r in self.records.query(COLLECTION, where, limit=limit)]

    def cancel(self, job_id: str, actor: str | None = None) -> Job:
        """A queued job is cancelled at once; a running one stops before anything is written."""
        job = self._existing(job_id)
        if job.status == "queued":
            cancelled = self._save(_replace(job, status="cancelled"))
        elif job.status == "running":
            cancelled = self._save(_replace(job, cancel_requested=True))
        else:
            raise NeedleError(f"job {job_id} is {job.status}; only queued or running jobs can be cancelled")
        self._audited(actor, "job.cancel", job, cancelled)
        return cancelled

    def retry(self, job_id: str, actor: str | None = None) -> Job:
        job = self._existing(job_id)
        if job.status not in ("failed", "cancelled"):
            raise NeedleError(f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
        fresh = _replace(job, status="queued", attempt=job.attempt + 1, error=None, cancel_requested=False)
        retried = self._save(_replace(fresh, done=0, total=0, worker=None, heartbeat=None))
        self._audited(actor, "job.retry", job, retried)
        return retried

    def _audited(self, actor: str | None, action: str, before: Job, after: Job) -> None:
        """The change as the audit log shows it: the job's state before and after (a job is never
        removed by cancel or retry, so an entry must not read like a removal)."""
        if self.audit is not None:
            self.audit.record(
                actor, action, f"job {before.job_id} ({before.file_name})", _state(before), _state(after)
            )

    def _existing(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise NeedleError(f"no job {job_id!r}; see `needle jobs list`")
        return job

    def recover_stale(self, now: float | None = None) -> list[Job]:
        """Queue again (or fail, after ``MAX_ATTEMPTS``) running jobs whose worker stopped reporting."""
        now = time.time() if now is None else now
        recovered = []
        for job in self.list("running"):
            if job.heartbeat is not None and now - job.heartbeat < STALE_SECONDS:
                continue
            if job.attempt >= MAX_ATTEMPTS:
                failed = _replace(job, status="failed", error="the worker stopped (crashed?) too many times")
                recovered.append(self._save(failed))
            else:
                queued = _replace(job, status="queued", attempt=job.attempt + 1, worker=None, heartbeat=None)
                recovered.append(self._save(queued))
        return recovered

    def claim(self, worker: str) -> Job | None:
        """The oldest queued job, claimed by ``worker`` (atomically: one worker per attempt)."""
        queued = self.records.query(COLLECTION, {"status": "queued"}, order="oldest", limit=50)
        for job in map(_job, queued):
            if self.records.create(CLAIMS, f"{job.job_id}:{job.attempt}", {"worker": worker}):
                return self._save(_replace(job, status="running", worker=worker, heartbeat=time.time()))
        return None

    def file_of(self, job: Job) -> tuple[str, bytes]:
        kept = self.files.get(job.job_id)
        if kept is None:
            raise NeedleError(f"the file of job {job.job_id} is missing")
        return kept

    def finish(self, job: Job, status: JobStatus, **changes: Any) -> Job:
        finished = self._save(_replace(job, status=status, **changes))
        if status == "done":
            self.files.delete(job.job_id)  # failed and cancelled jobs keep their file for a retry
        return finished


def _replace(job: Job, **changes: Any) -> Job:
    return Job(**{**job.to_dict(), **changes})


def _caused_by_cancel(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, JobCancelled):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"


class Worker:
    """Runs queued jobs one at a time: ingest jobs through ``ingest`` (``SourceLibrary.ingest_bytes``),
    sync jobs through ``sync`` (``sync(connector, actor=, progress=, cancelled=)``, the connectors'
    manager). ``schedule``, when given, is called before each claim to queue the syncs that are due."""

    def __init__(
        self,
        queue: JobQueue,
        ingest: Callable[..., Any],
        name: str | None = None,
        sync: Callable[..., Any] | None = None,
        schedule: Callable[[], Any] | None = None,
    ) -> None:
        self.queue = queue
        self.ingest = ingest
        self.sync = sync
        self.schedule = schedule
        self.name = name or worker_name()
        self._stop = threading.Event()

    def run_once(self) -> Job | None:
        """Recover stale jobs, queue due syncs, claim one job and run it; the finished job, or ``None``
        when none was queued."""
        self.queue.recover_stale()
        if self.schedule is not None:
            try:
                self.schedule()
            except Exception:  # a scheduling fault must not stop the ingest jobs
                logger.exception("worker %s: due syncs could not be queued", self.name)
        job = self.queue.claim(self.name)
        return None if job is None else self._run(job)

    def _run(self, job: Job) -> Job:
        state = {"job": job, "last": 0.0}

        def progress(done: int, total: int) -> None:
            current = self.queue.get(job.job_id) or state["job"]
            if current.cancel_requested:
                raise JobCancelled(job.job_id)
            now = time.time()
            if now - state["last"] >= 0.5 or done == total:  # heartbeat and progress, not on every chunk
                state["job"] = self.queue._save(_replace(current, done=done, total=total, heartbeat=now))
                state["last"] = now

        if job.kind == "sync":
            return self._run_sync(job, state)
        try:
            file_name, data = self.queue.file_of(job)
            result = self.ingest(file_name, data, progress=progress, **job.options)
        except JobCancelled:
            return self.queue.finish(state["job"], "cancelled")
        except Exception as error:  # the reason reaches the admin; the job keeps its file for a retry
            if _caused_by_cancel(error):  # raised inside the pipeline, which wraps it
                return self.queue.finish(state["job"], "cancelled")
            logger.exception("ingest job %s failed", job.job_id)
            return self.queue.finish(state["job"], "failed", error=str(error) or type(error).__name__)
        outcome = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        if outcome.get("status") in ("rejected", "conflict"):
            return self.queue.finish(state["job"], "failed", result=outcome, error=outcome.get("reason"))
        return self.queue.finish(state["job"], "done", result=outcome)

    def _run_sync(self, job: Job, state: dict[str, Any]) -> Job:
        """A connector's sync: progress by documents, cancelled between documents (the engine keeps what
        it indexed and prunes nothing). The job fails when the sync did, with the sync's reason."""
        if self.sync is None:
            return self.queue.finish(job, "failed", error="this worker does not run connector syncs")

        lock = threading.Lock()  # the sync's thread and the heartbeat's write the same record

        def beat(**changes: Any) -> None:
            with lock:
                current = self.queue.get(job.job_id) or state["job"]
                state["job"] = self.queue._save(_replace(current, heartbeat=time.time(), **changes))

        def progress(done: int, total: int) -> None:
            now = time.time()
            if now - state["last"] >= 0.5 or done == total:
                beat(done=done, total=total)
                state["last"] = now

        def cancelled() -> bool:
            current = self.queue.get(job.job_id)
            return bool(current and current.cancel_requested)

        # A listing may take minutes before the first document: the heartbeat keeps the job from being
        # taken for a dead worker's (see recover_stale) while the sync works.
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(STALE_SECONDS / 4):
                try:
                    beat()
                except Exception:  # the store may be briefly unreachable; the next beat tries again
                    logger.warning("sync job %s: heartbeat not recorded", job.job_id, exc_info=True)

        beating = threading.Thread(target=heartbeat, name=f"sync-heartbeat-{job.job_id}", daemon=True)
        beating.start()
        try:
            run = self.sync(
                job.options["connector"], actor=job.submitted_by, progress=progress, cancelled=cancelled
            )
        except Exception as error:  # paused, removed, or syncing elsewhere: said plainly
            if not isinstance(error, NeedleError):
                logger.exception("sync job %s failed", job.job_id)
            run, reason = None, str(error) or type(error).__name__
        finally:  # stopped before the job is finished, so no late beat marks it running again
            stop.set()
            beating.join()
        if run is None:
            return self.queue.finish(state["job"], "failed", error=reason)
        outcome = run.to_dict() if hasattr(run, "to_dict") else dict(run)
        outcome.pop("failures", None)  # the sync's own record keeps them; `connectors show` lists them
        status = outcome.get("status")
        if status == "cancelled":
            return self.queue.finish(state["job"], "cancelled", result=outcome)
        if status == "failed":
            return self.queue.finish(state["job"], "failed", result=outcome, error=outcome.get("error"))
        return self.queue.finish(state["job"], "done", result=outcome)

    def run_forever(self, poll_seconds: float = POLL_SECONDS) -> None:
        """Work until :meth:`stop`; sleeps ``poll_seconds`` when the queue is empty."""
        logger.info("ingest worker %s started", self.name)
        while not self._stop.is_set():
            try:
                finished = self.run_once()
            except Exception:  # the store may be briefly unreachable: keep the worker alive
                logger.exception("ingest worker %s: queue unavailable", self.name)
                finished = None
            if finished is None:
                self._stop.wait(poll_seconds)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name=f"ingest-worker-{self.name}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

"""Background ingest jobs: queued durably, claimed once, progress by chunks, cancel, retry, crash recovery."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.errors import NeedleError
from pipelines.records.jobs import MAX_ATTEMPTS, STALE_SECONDS, JobQueue, Worker
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore
from tests.conftest import HANDBOOK


def test_a_queued_file_is_indexed_by_a_worker_with_progress(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    data = (HANDBOOK / "travel-and-expenses-policy.pdf").read_bytes()
    job = service.jobs.submit("travel-and-expenses-policy.pdf", data, submitted_by="ann", tags=["travel"])
    assert service.jobs.get(job.job_id).status == "queued"
    assert service.list_sources() == []  # nothing indexed in the request that uploaded

    seen: list[tuple[int, int]] = []
    real_save = service.jobs._save

    def watch(saved):
        if saved.status == "running" and saved.total:
            seen.append((saved.done, saved.total))
        return real_save(saved)

    service.jobs._save = watch  # type: ignore[method-assign]
    finished = service.ingest_worker().run_once()
    assert finished is not None and finished.status == "done"
    assert finished.result is not None and finished.result["status"] == "indexed"
    (source,) = service.list_sources()
    assert source.tags == ["travel"] and source.uploaded_by == "ann"
    assert seen and seen[-1][0] == seen[-1][1] == finished.result["chunks"]  # progress reached the end
    assert service.ingest_worker().run_once() is None  # the queue is empty
    assert service.jobs.files.get(job.job_id) is None  # the queued copy is gone once indexed


def test_two_workers_never_run_the_same_job(records: RecordStore) -> None:
    queue = JobQueue(records)
    for n in range(6):
        queue.submit(f"f{n}.txt", b"text")
    ran: list[str] = []

    def ingest(file_name, data, progress=None, **options):
        ran.append(file_name)
        return {"status": "indexed", "chunks": 1}

    workers = [Worker(queue, ingest, name=f"w{n}") for n in range(3)]
    with ThreadPoolExecutor(3) as pool:
        for _ in range(3):
            list(pool.map(lambda worker: worker.run_once(), workers))
    assert sorted(ran) == [f"f{n}.txt" for n in range(6)]
    assert {job.status for job in queue.list()} == {"done"}


def test_failures_keep_the_file_for_a_retry_and_rejections_say_why(records: RecordStore) -> None:
    queue = JobQueue(records)
    job = queue.submit("a.txt", b"text")
    calls = []

    def ingest(file_name, data, progress=None, **options):
        calls.append(data)
        if len(calls) == 1:
            raise NeedleError("The document store could not save this file")
        return {"status": "rejected", "reason": "the file contains only whitespace"}

    worker = Worker(queue, ingest)
    failed = worker.run_once()
    assert failed is not None and (failed.status, failed.error) == (
        "failed",
        "The document store could not save this file",
    )
    with pytest.raises(NeedleError, match="only queued or running"):
        queue.cancel(job.job_id)
    queue.retry(job.job_id)
    rejected = worker.run_once()
    assert rejected is not None and rejected.status == "failed" and "whitespace" in (rejected.error or "")
    assert calls == [b"text", b"text"] and rejected.attempt == 2


def test_cancel_before_and_during_the_run(records: RecordStore) -> None:
    queue = JobQueue(records)
    waiting = queue.submit("waiting.txt", b"x")
    assert queue.cancel(waiting.job_id).status == "cancelled"
    running = queue.submit("running.txt", b"x")

    def ingest(file_name, data, progress=None, **options):
        queue.cancel(running.job_id)  # the admin cancels while chunks are being embedded
        progress(1, 10)
        raise AssertionError("the progress callback should have stopped the ingest")

    finished = Worker(queue, ingest).run_once()
    assert finished is not None and finished.job_id == running.job_id and finished.status == "cancelled"
    with pytest.raises(NeedleError, match=r"only failed or cancelled|no job"):
        queue.retry("nope")
    assert queue.retry(running.job_id).status == "queued"
    assert queue.files.get(running.job_id) == ("running.txt", b"x")  # a cancelled job keeps its file


def test_a_job_whose_worker_died_is_queued_again_then_failed(records: RecordStore) -> None:
    queue = JobQueue(records)
    job = queue.submit("a.txt", b"x")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = queue.claim("doomed")
        assert claimed is not None and claimed.attempt == attempt  # the worker dies holding it
        later = time.time() + STALE_SECONDS + 1
        (recovered,) = queue.recover_stale(now=later)
        expected = "failed" if attempt == MAX_ATTEMPTS else "queued"
        assert recovered.status == expected
    assert queue.get(job.job_id).error == "the worker stopped (crashed?) too many times"
    assert queue.files.get(job.job_id) == ("a.txt", b"x")  # still there for a manual retry


def test_the_command_line_queues_lists_and_works_jobs(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest", "--background", "--tags", "hr", str(HANDBOOK / "leave-policy.md")]) == 0
    assert "queued" in capsys.readouterr().out
    assert cli.main(["jobs", "list", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert job["status"] == "queued" and job["options"]["tags"] == ["hr"]
    assert cli.main(["worker", "--once"]) == 0
    assert f"{job['job_id']}: done" in capsys.readouterr().out
    assert cli.main(["sources", "--json"]) == 0
    assert [s["tags"] for s in json.loads(capsys.readouterr().out)] == [["hr"]]
    assert cli.main(["jobs", "cancel", job["job_id"]]) == 1
    assert "only queued or running" in capsys.readouterr().err


def test_cancel_and_retry_are_audited(records: RecordStore) -> None:
    from pipelines.records.audit import AuditLog

    queue = JobQueue(records, AuditLog(records))
    job = queue.submit("a.txt", b"x", submitted_by="ann")
    queue.cancel(job.job_id, actor="bob")
    queue.retry(job.job_id, actor="ann")
    entries = queue.audit.entries()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("ann", "job.retry", f"job {job.job_id} (a.txt)"),
        ("bob", "job.cancel", f"job {job.job_id} (a.txt)"),
    ]
    # Each entry says what changed; neither reads like a removal in the console's audit log.
    from admin.tabs.audit import describe_change

    retry, cancel = entries
    assert describe_change(cancel.before, cancel.after) == "status: queued → cancelled"
    assert describe_change(retry.before, retry.after) == "status: cancelled → queued; attempt: 1 → 2"

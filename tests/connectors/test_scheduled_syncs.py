"""Due syncs run as background jobs: a worker queues them (once) and runs them like an upload."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.connectors.schedule import SCHEDULER, queue_due_syncs
from pipelines.records.jobs import JobQueue
from pipelines.service import NeedleService
from tests.connectors.conftest import Doc, ScriptedConnector


def test_one_worker_pass_syncs_a_due_connector_and_queues_it_once(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    scripted.docs = {"a": Doc("# Alpha\n\nThe alpha memo.")}
    service.connectors.create("scripted", "wiki", {"site": "x"}, interval=3600, actor="alice")
    paused = service.connectors.create("scripted", "idle", {"site": "y"}, actor="alice").name
    service.connectors.pause(paused, actor="alice")

    worker = service.ingest_worker()
    finished = worker.run_once()
    assert finished is not None and (finished.kind, finished.status) == ("sync", "done")
    assert (finished.options, finished.submitted_by, finished.result["added"]) == (  # type: ignore[index]
        {"connector": "wiki"},
        SCHEDULER,
        1,
    )
    assert service.connectors.show("wiki").documents == 1
    assert worker.run_once() is None  # synced a moment ago: not due; the paused one never is
    assert [job.options["connector"] for job in service.jobs.list()] == ["wiki"]


def test_a_due_connector_is_not_queued_twice_even_by_two_replicas(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    scripted.docs = {"a": Doc("# Alpha\n\nThe alpha memo.")}
    service.connectors.create("scripted", "wiki", {"site": "x"}, interval=3600, actor="alice")
    other_replica = JobQueue(service.records)  # another process over the same record store
    first = queue_due_syncs(service.connectors, service.jobs)
    assert [job.options["connector"] for job in first] == ["wiki"]
    assert queue_due_syncs(service.connectors, other_replica) == []  # queued already
    # The queued job was lost (cancelled) before it ran: the same due time is not queued again...
    service.jobs.cancel(first[0].job_id, actor="alice")
    assert queue_due_syncs(service.connectors, other_replica) == []
    # ...until something changes it: the admin resumes, or a sync runs (by hand here).
    service.connectors.sync("wiki", actor="alice")
    assert queue_due_syncs(service.connectors, service.jobs) == []  # not due for an hour
    later = time.time() + 3601
    assert [
        job.options["connector"] for job in queue_due_syncs(service.connectors, other_replica, later)
    ] == ["wiki"]


@pytest.mark.slow  # two worker passes with a real sync, about 2 s
def test_cancel_and_retry_a_sync_job(
    service: NeedleService, scripted: type[ScriptedConnector], tmp_path: Path
) -> None:
    scripted.docs = {"a": Doc("# Alpha\n\nThe alpha memo.")}
    service.connectors.create("scripted", "wiki", {"site": "x"}, actor="alice")
    job = service.jobs.submit_sync("wiki", submitted_by="alice")
    assert job is not None
    service.jobs.cancel(job.job_id, actor="alice")
    worker = service.ingest_worker()
    worker.schedule = None  # this test drives the queue by hand
    assert worker.run_once() is None
    service.jobs.retry(job.job_id, actor="alice")
    finished = worker.run_once()
    assert finished is not None and (finished.status, finished.attempt) == ("done", 2)
    assert service.connectors.show("wiki").documents == 1


@pytest.mark.slow  # a real sync through the worker
def test_a_sync_job_cancelled_while_running_stops_between_documents_and_removes_nothing(
    service: NeedleService, scripted: type[ScriptedConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.connectors import sync

    monkeypatch.setattr(sync, "CANCEL_CHECK_SECONDS", 0.0)
    scripted.docs = {name: Doc(f"# {name}\n\nThe {name} memo.") for name in ("a", "b", "c")}
    service.connectors.create("scripted", "wiki", {"site": "x"}, actor="alice")
    job = service.jobs.submit_sync("wiki", submitted_by="alice")
    assert job is not None
    fetch = scripted.fetch

    def fetch_then_cancel(
        self: ScriptedConnector, ref: object, previous_version: str | None = None
    ) -> object:
        if not scripted.fetched:  # another admin clicks Cancel while the first document is fetched
            service.jobs.cancel(job.job_id, actor="bob")
        return fetch(self, ref, previous_version)  # type: ignore[arg-type]

    monkeypatch.setattr(scripted, "fetch", fetch_then_cancel)
    worker = service.ingest_worker()
    worker.schedule = None
    finished = worker.run_once()
    assert finished is not None and finished.status == "cancelled"
    assert finished.result is not None and finished.result["status"] == "cancelled"
    assert len(scripted.fetched) < 3
    assert service.jobs.get(job.job_id).status == "cancelled"  # type: ignore[union-attr]

"""The sync engine's rules, with a scripted connector whose faults each test chooses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError, StoreUnavailableError
from pipelines.connectors.base import ConnectorError
from pipelines.connectors.sync import connector_source_id
from pipelines.records.audience import NO_ONE, Viewer, audience_filter, describe, parse_audience
from pipelines.service import NeedleService
from tests.connectors.conftest import Doc, ScriptedConnector, StoreWrites

ALICE = Viewer(user_id="U0ALICE", private=True)
BOB = Viewer(user_id="U0BOB", private=True)


def _docs(count: int) -> dict[str, Doc]:
    return {
        f"page-{n}": Doc(f"# Page {n}\n\nPage {n} says the meeting room code is {1000 + n}.\n")
        for n in range(count)
    }


def _setup(service: NeedleService, scripted: type[ScriptedConnector], count: int = 3) -> None:
    scripted.docs = _docs(count)
    service.connectors.create("scripted", "wiki", {"site": "x"})


def _visible(service: NeedleService, viewer: Viewer) -> set[str]:
    return {doc.meta["source_id"] for doc in service.store.filter_documents(audience_filter(viewer))}


def test_a_listing_that_fails_midway_removes_nothing(
    service: NeedleService, scripted: type[ScriptedConnector], writes: StoreWrites
) -> None:
    _setup(service, scripted)
    assert service.connectors.sync("wiki").added == 3
    writes.reset()
    scripted.script["listing_fails_after"] = 1
    run = service.connectors.sync("wiki")
    assert run.status == "failed"
    assert run.error == "the listing failed: the server answered 503; nothing was removed"
    assert writes.calls == [] and len(service.list_sources()) == 3
    scripted.script["listing_error"] = TimeoutError()
    run = service.connectors.sync("wiki")
    assert run.error == "the listing failed: the source did not answer in time; nothing was removed"
    assert len(service.list_sources()) == 3


def test_credentials_refused_during_fetch_stop_the_sync_and_keep_what_was_indexed(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted)
    service.connectors.sync("wiki")
    scripted.docs["page-0"].version = "2"
    scripted.docs["page-0"].text += "Updated.\n"
    del scripted.docs["page-2"]
    scripted.script["fetch_errors"] = {"page-0": ConnectorError("the token has expired; create a new one")}
    run = service.connectors.sync("wiki")
    assert run.status == "failed" and "token has expired" in (run.error or "")
    assert run.removed == 0 and len(service.list_sources()) == 3  # page-2 not pruned by a failed sync


def test_one_failing_document_is_recorded_and_the_others_synced(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted)
    scripted.script["fetch_errors"] = {
        "page-1": ConnectorError("the page answered 500 three times", document_id="page-1")
    }
    run = service.connectors.sync("wiki")
    assert (run.status, run.added, run.failed) == ("partial", 2, 1)
    assert [(f.id, f.title, f.reason) for f in run.failures] == [
        ("page-1", "Doc page-1", "the page answered 500 three times")
    ]
    scripted.script = {}  # the next sync tries it again, since it was never indexed
    run = service.connectors.sync("wiki")
    assert (run.status, run.added, run.unchanged) == ("succeeded", 1, 2)


def test_conditional_fetch_gets_the_previous_version(
    service: NeedleService, scripted: type[ScriptedConnector], writes: StoreWrites
) -> None:
    _setup(service, scripted, count=2)
    service.connectors.sync("wiki")
    assert sorted(scripted.fetched) == [("page-0", None), ("page-1", None)]
    scripted.docs["page-0"].version = "2"
    scripted.docs["page-1"].version = "2"
    scripted.script["not_modified"] = {"page-0"}
    scripted.fetched.clear()
    writes.reset()
    # page-0: the source answers "not modified"; page-1: it sends the same bytes (the content hash
    # keeps the store untouched). Neither is indexed again, and version 2 is remembered.
    run = service.connectors.sync("wiki")
    assert sorted(scripted.fetched) == [("page-0", "1"), ("page-1", "1")]
    assert (run.unchanged, run.changed) == (2, 0) and writes.calls == []
    scripted.fetched.clear()
    assert service.connectors.sync("wiki").unchanged == 2
    assert scripted.fetched == []


def test_a_shrunken_listing_needs_confirmation_and_dismiss_keeps_everything(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted, count=4)
    service.connectors.sync("wiki")
    for gone in ("page-0", "page-1", "page-2"):
        del scripted.docs[gone]
    run = service.connectors.sync("wiki")
    assert (run.status, run.listed, run.removed) == ("needs-confirmation", 1, 0)
    pending = service.connectors.show("wiki").needs_confirmation
    assert pending is not None and (pending.listed, pending.last_good, len(pending.missing)) == (1, 4, 3)
    service.connectors.dismiss("wiki", actor="alice")
    assert service.connectors.show("wiki").needs_confirmation is None
    assert len(service.list_sources()) == 4
    # Still shrunken at the next sync: asked again, never pruned on its own.
    assert service.connectors.sync("wiki").status == "needs-confirmation"
    assert len(service.list_sources()) == 4


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_a_small_shrink_prunes_without_asking(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted, count=4)
    service.connectors.sync("wiki")
    del scripted.docs["page-0"], scripted.docs["page-1"]  # half is not fewer than half
    run = service.connectors.sync("wiki")
    assert (run.status, run.removed) == ("succeeded", 2)


def test_a_connector_that_may_miss_a_document_once_removes_it_on_the_second_miss(
    service: NeedleService, scripted: type[ScriptedConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScriptedConnector, "missing_syncs_before_removal", 2)
    _setup(service, scripted, count=3)
    service.connectors.sync("wiki")
    scripted.docs["page-1"].gone = True
    scripted.docs["page-1"].version = "2"  # listed, but the fetch says 404/410
    assert service.connectors.sync("wiki").removed == 0
    assert len(service.list_sources()) == 3
    assert service.connectors.sync("wiki").removed == 1
    assert connector_source_id("wiki", "page-1") not in {s.source_id for s in service.list_sources()}


def test_audiences_from_the_source_and_an_empty_one_means_no_one(
    service: NeedleService, scripted: type[ScriptedConnector], writes: StoreWrites
) -> None:
    scripted.docs = {
        "public": Doc("# Public\n\nThe canteen opens at eight.\n"),
        "alice-only": Doc("# Review\n\nAlice's review is next Tuesday.\n", audience=("user:U0ALICE",)),
        "unmapped": Doc(
            "# Board\n\nThe merger closes in March.\n", audience=(), unmapped=("ceo@example.com",)
        ),
    }
    service.connectors.create("scripted", "wiki", {"site": "x"}, audience="channel:C0GENERAL")
    service.connectors.sync("wiki")
    public, alice, nobody = (
        connector_source_id("wiki", name) for name in ("public", "alice-only", "unmapped")
    )
    audiences = {s.source_id: s.audience for s in service.list_sources()}
    assert audiences == {public: ["channel:C0GENERAL"], alice: ["user:U0ALICE"], nobody: [NO_ONE]}
    assert _visible(service, ALICE) == {alice}
    assert service.connectors.show("wiki").unmapped == {"ceo@example.com": 1}
    assert _visible(service, BOB) == set()
    assert _visible(service, Viewer(channel_id="C0GENERAL")) == {public}
    everyone_everywhere = Viewer(
        user_id="U0ALICE", private=True, channels=frozenset({"C0GENERAL"}), usergroups=frozenset({"S0ALL"})
    )
    assert nobody not in _visible(service, everyone_everywhere)
    assert nobody not in {s.source_id for s in service.list_sources(everyone_everywhere)}
    answer = service.ask("When does the merger close?", viewer=everyone_everywhere)
    assert "March" not in answer.text and nobody not in {c.source_id for c in answer.citations}
    # The audience changes at the source: changed in place, nothing embedded again.
    writes.reset()
    scripted.docs["alice-only"].audience = ("user:U0ALICE", "user:U0BOB")
    run = service.connectors.sync("wiki")
    assert (run.changed, run.unchanged) == (1, 2)
    assert writes.calls == ["update_by_filter"]
    assert _visible(service, BOB) == {alice}


def test_one_sync_per_connector_at_a_time(service: NeedleService, scripted: type[ScriptedConnector]) -> None:
    _setup(service, scripted, count=2)
    started, release = threading.Event(), threading.Event()
    results: list[object] = []

    def slow() -> bool:
        started.set()
        release.wait(10)
        return False

    worker = threading.Thread(target=lambda: results.append(service.connectors.sync("wiki", cancelled=slow)))
    worker.start()
    assert started.wait(10)
    try:
        assert service.connectors.show("wiki").running is not None
        with pytest.raises(NeedleError, match="is running already"):
            service.connectors.sync("wiki")
        with pytest.raises(NeedleError, match="is running"):
            service.connectors.remove("wiki", delete_sources=True)
    finally:
        release.set()
        worker.join(10)
    assert results and results[0].status == "succeeded"  # type: ignore[attr-defined]
    assert service.connectors.sync("wiki").status == "succeeded"  # the lease was released


def test_a_cancelled_sync_keeps_what_it_indexed_and_removes_nothing(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted, count=3)
    service.connectors.sync("wiki")
    del scripted.docs["page-2"]
    run = service.connectors.sync("wiki", cancelled=lambda: True)
    assert run.status == "cancelled" and run.removed == 0
    assert len(service.list_sources()) == 3


def test_paused_connectors_are_not_due_and_refuse_a_sync(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted, count=1)
    assert service.connectors.due() == ["wiki"]  # never synced
    service.connectors.sync("wiki")
    assert service.connectors.due() == []
    status = service.connectors.show("wiki")
    assert status.next_run == pytest.approx(status.last_run.started + 3600)  # type: ignore[union-attr]
    assert service.connectors.due(now=status.next_run) == ["wiki"]
    service.connectors.pause("wiki", actor="alice")
    assert service.connectors.due(now=status.next_run) == []
    with pytest.raises(NeedleError, match="paused"):
        service.connectors.sync("wiki")
    service.connectors.resume("wiki", actor="alice")
    assert service.connectors.due(now=status.next_run) == ["wiki"]


def test_bad_configurations_are_refused_with_the_reason(service: NeedleService, tmp_path: Path) -> None:
    with pytest.raises(NeedleError, match="no connector of kind 'ftp'"):
        service.connectors.create("ftp", "x", {})
    with pytest.raises(NeedleError, match="need --set path"):
        service.connectors.create("folder", "share", {})
    with pytest.raises(NeedleError, match="no setting 'depth'"):
        service.connectors.create("folder", "share", {"path": str(tmp_path), "depth": "2"})
    with pytest.raises(NeedleError, match="not a directory"):
        service.connectors.create("folder", "share", {"path": str(tmp_path / "nope")})
    with pytest.raises(NeedleError, match="not a connector name"):
        service.connectors.create("folder", "Share Drive", {"path": str(tmp_path)})
    with pytest.raises(NeedleError, match="not an audience member"):
        service.connectors.create("folder", "share", {"path": str(tmp_path)}, audience="hr")
    created = service.connectors.create("folder", "share", {"path": str(tmp_path)})
    assert (created.interval, created.audience) == (3600, ["everyone"])
    with pytest.raises(NeedleError, match="exists already"):
        service.connectors.create("folder", "share", {"path": str(tmp_path)})


def test_no_one_is_an_audience_of_its_own() -> None:
    assert parse_audience("no-one") == [NO_ONE]
    assert describe([NO_ONE]) == "no one"
    with pytest.raises(NeedleError, match="'no-one'"):
        parse_audience("no-one, user:U0ALICE")


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_a_synced_source_stays_synced_through_a_reindex(
    service: NeedleService, scripted: type[ScriptedConnector]
) -> None:
    _setup(service, scripted, count=1)
    service.connectors.sync("wiki")
    source_id = connector_source_id("wiki", "page-0")
    assert service.reindex_source(source_id).status == "indexed"
    meta = service.store.filter_documents({"field": "meta.source_id", "operator": "==", "value": source_id})[
        0
    ].meta
    assert (meta["connector"], meta["url"]) == ("wiki", "https://wiki.example.com/page-0")
    assert service.ingest_bytes("page-0.md", b"# Mine\n\nA fork.\n").status == "rejected"


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_a_store_fault_while_pruning_is_recorded_and_the_next_sync_finishes_the_job(
    service: NeedleService, scripted: type[ScriptedConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(service, scripted, count=3)
    service.connectors.sync("wiki")
    del scripted.docs["page-2"]

    def down(*_args: object, **_kwargs: object) -> int:
        raise StoreUnavailableError("The document store could not be reached")

    with monkeypatch.context() as patched:
        patched.setattr(service.sources, "delete_source", down)
        run = service.connectors.sync("wiki")
    assert run.status == "failed" and "could not be reached" in (run.error or "")
    assert len(service.list_sources()) == 3
    run = service.connectors.sync("wiki")
    assert (run.status, run.removed) == ("succeeded", 1)
    assert len(service.list_sources()) == 2


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_sync_due_runs_what_is_due_and_skips_what_runs_elsewhere(
    service: NeedleService, scripted: type[ScriptedConnector], share: Path
) -> None:
    _setup(service, scripted, count=1)
    service.connectors.create("folder", "share", {"path": str(share)})
    held = service.connectors.leases.acquire("share", "replica-b")
    runs = service.connectors.sync_due()
    assert [run.connector for run in runs] == ["wiki"]
    assert service.connectors.due() == ["share"]
    service.connectors.leases.release(held)
    assert [run.connector for run in service.connectors.sync_due()] == ["share"]
    assert service.connectors.sync_due() == []

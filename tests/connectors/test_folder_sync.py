"""The folder connector over a real directory tree, indexed by the real pipelines and model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.connectors.sync import connector_source_id
from pipelines.service import NeedleService
from tests.connectors.conftest import StoreWrites


def _add(service: NeedleService, share: Path, **config: str) -> str:
    service.connectors.create("folder", "share", {"path": str(share), **config}, actor="alice")
    return "share"


def _text(service: NeedleService, doc_id: str) -> str:
    return " ".join(p.content for p in service.source_chunks(connector_source_id("share", doc_id)))


def test_first_sync_indexes_the_supported_files_with_their_origin(
    service: NeedleService, share: Path
) -> None:
    _add(service, share, url_prefix="https://files.example.com/share")
    run = service.connectors.sync("share")
    assert (run.status, run.listed, run.added, run.failed) == ("succeeded", 2, 2, 0)
    sources = {source.file_name: source for source in service.list_sources()}
    assert set(sources) == {"leave-policy.md", "vpn.txt"}  # not the image, not hidden files or folders
    assert sources["leave-policy.md"].url == "https://files.example.com/share/hr/leave-policy.md"
    assert sources["leave-policy.md"].title == "Leave policy"  # the document's own heading
    meta = service.store.filter_documents({"field": "meta.file_name", "operator": "==", "value": "vpn.txt"})[
        0
    ].meta
    assert meta["connector"] == "share" and meta["source_modified"].startswith("20")
    assert meta["uploaded_by"] == "connector:share"
    assert "27 days" in _text(service, "hr/leave-policy.md")
    assert service.connectors.show("share").documents == 2


def test_a_sync_with_nothing_changed_writes_nothing_to_the_store(
    service: NeedleService, share: Path, writes: StoreWrites
) -> None:
    _add(service, share)
    service.connectors.sync("share")
    writes.reset()
    run = service.connectors.sync("share")
    assert (run.status, run.unchanged, run.added, run.changed) == ("succeeded", 2, 0, 0)
    assert writes.calls == []
    # Touched (new time, same bytes): read again, but not indexed again.
    later = (share / "it" / "vpn.txt").stat().st_mtime + 100
    os.utime(share / "it" / "vpn.txt", (later, later))
    run = service.connectors.sync("share")
    assert (run.unchanged, run.changed) == (2, 0)
    assert writes.calls == []


def test_a_changed_file_is_indexed_again_and_only_it(
    service: NeedleService, share: Path, writes: StoreWrites
) -> None:
    _add(service, share)
    service.connectors.sync("share")
    writes.reset()
    (share / "hr" / "leave-policy.md").write_text("# Leave policy\n\nEmployees get 30 days of paid leave.\n")
    run = service.connectors.sync("share")
    assert (run.changed, run.unchanged, run.added) == (1, 1, 0)
    assert "30 days" in _text(service, "hr/leave-policy.md") and "27 days" not in _text(
        service, "hr/leave-policy.md"
    )
    assert len(service.list_sources()) == 2


def test_a_deleted_file_is_removed_with_its_original(service: NeedleService, share: Path) -> None:
    _add(service, share)
    service.connectors.sync("share")
    gone = connector_source_id("share", "it/vpn.txt")
    assert service.originals.get(gone) is not None
    (share / "it" / "vpn.txt").unlink()
    run = service.connectors.sync("share")
    assert (run.status, run.removed) == ("succeeded", 1)
    assert [source.file_name for source in service.list_sources()] == ["leave-policy.md"]
    assert service.originals.get(gone) is None


def test_symlinks_out_of_the_tree_are_not_followed(
    service: NeedleService, share: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "salaries.md").write_text("# Salaries\n\nThe CEO earns 900,000 a year.\n")
    (share / "hr" / "salaries.md").symlink_to(outside / "salaries.md")
    (share / "hr" / "everything").symlink_to(outside, target_is_directory=True)
    (share / "it" / "policy-link.md").symlink_to(share / "hr" / "leave-policy.md")  # inside: fine
    _add(service, share)
    run = service.connectors.sync("share")
    assert run.listed == 3
    assert "salaries.md" not in {source.file_name for source in service.list_sources()}
    assert not any("900,000" in doc.content for doc in service.store.filter_documents())


def test_a_missing_folder_fails_the_sync_and_keeps_the_index(
    service: NeedleService, share: Path, tmp_path: Path
) -> None:
    _add(service, share)
    service.connectors.sync("share")
    share.rename(tmp_path / "unmounted")  # an unmounted share: not an empty listing
    run = service.connectors.sync("share")
    assert run.status == "failed" and "cannot be read" in (run.error or "")
    assert "nothing was removed" in (run.error or "")
    assert len(service.list_sources()) == 2


def test_an_emptied_folder_needs_confirmation_before_anything_is_removed(
    service: NeedleService, share: Path
) -> None:
    _add(service, share)
    service.connectors.sync("share")
    for path in (share / "hr" / "leave-policy.md", share / "it" / "vpn.txt"):
        path.unlink()
    run = service.connectors.sync("share")
    assert (run.status, run.listed, run.removed) == ("needs-confirmation", 0, 0)
    status = service.connectors.show("share")
    assert status.needs_confirmation is not None
    assert (status.needs_confirmation.listed, status.needs_confirmation.last_good) == (0, 2)
    assert len(service.list_sources()) == 2
    assert service.connectors.confirm("share", actor="alice") == 2
    assert service.list_sources() == []
    assert service.connectors.show("share").needs_confirmation is None
    with pytest.raises(NeedleError, match="no sync awaiting confirmation"):
        service.connectors.confirm("share")


def test_a_file_that_cannot_be_read_as_its_type_is_recorded_and_the_rest_synced(
    service: NeedleService, share: Path
) -> None:
    (share / "it" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    _add(service, share)
    run = service.connectors.sync("share")
    assert (run.status, run.added, run.failed) == ("partial", 2, 1)
    assert run.failures[0].id == "it/broken.pdf" and run.failures[0].reason
    assert service.connectors.show("share").last_run == run


def test_a_synced_source_refuses_an_upload_of_the_same_name(service: NeedleService, share: Path) -> None:
    _add(service, share)
    service.connectors.sync("share")
    before = _text(service, "hr/leave-policy.md")
    for policy in ("replace", "keep_both", "report"):
        result = service.ingest_bytes(
            "leave-policy.md", b"# Leave\n\nUnlimited leave for all.\n", on_conflict=policy
        )
        assert result.status == "rejected"
        assert "kept in sync by the connector 'share'" in result.reason
    assert _text(service, "hr/leave-policy.md") == before
    assert len(service.list_sources()) == 2
    # Removed while keeping its sources: they are ordinary sources again, which an upload may replace.
    assert service.connectors.remove("share", delete_sources=False) == 2
    result = service.ingest_bytes("leave-policy.md", b"# Leave\n\nUnlimited leave for all.\n")
    assert result.status == "indexed"


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_remove_with_its_sources_deletes_them_and_its_records(service: NeedleService, share: Path) -> None:
    _add(service, share)
    service.connectors.sync("share")
    assert service.connectors.remove("share", delete_sources=True, actor="alice") == 2
    assert service.list_sources() == []
    assert service.connectors.list() == []
    actions = [entry.action for entry in service.audit.entries(limit=50)]
    assert "connector.add" in actions and "connector.remove" in actions


@pytest.mark.slow  # kept out of the default suite for its time budget (about 0.6 s of CPU)
def test_a_source_deleted_by_hand_comes_back_at_the_next_sync(service: NeedleService, share: Path) -> None:
    _add(service, share)
    service.connectors.sync("share")
    source_id = connector_source_id("share", "it/vpn.txt")
    with pytest.raises(NeedleError, match="managed by connector 'share'"):  # the faces refuse it
        service.delete_source(source_id)
    service.sources.delete_source(source_id)  # gone from the index some other way (a store restored, say)
    run = service.connectors.sync("share")
    assert (run.added, run.unchanged) == (1, 1)
    assert "Tunnelblick" in _text(service, "it/vpn.txt")

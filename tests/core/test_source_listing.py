"""The listing of every source is made again exactly when a source changed, in this process or another:
the stamp in the record store, the settle and age guards, and a real service seeing another process's
``needle audience`` on the next call."""

from __future__ import annotations

import time

import pytest

from pipelines.base.errors import StoreUnavailableError
from pipelines.records.answers import SourceInfo
from pipelines.records.audience import Viewer
from pipelines.records.source_changes import SourceChanges, SourceListing
from pipelines.service.facade import NeedleService
from pipelines.stores.records import SqliteRecordStore
from tests.conftest import HANDBOOK


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def source(number: int) -> SourceInfo:
    return SourceInfo(f"s{number}", f"S{number}", f"s{number}.md", "md", None, [], 1, 1, None, "2026", "h")


def test_a_listing_is_reused_until_another_process_stamps_a_change(tmp_path):
    path = tmp_path / "records.sqlite3"
    mine, theirs = SqliteRecordStore(path), SqliteRecordStore(path)  # two processes' connections
    sources = [source(1)]
    listings = []

    def list_all() -> list[SourceInfo]:
        listings.append(1)
        return list(sources)

    listing = SourceListing(list_all, SourceChanges(mine), settle_seconds=0.0)
    for _ in range(5):
        assert listing.current() == [source(1)]
    assert len(listings) == 1
    sources.append(source(2))
    SourceChanges(theirs).touch()
    assert listing.current() == [source(1), source(2)]
    assert listing.current() == [source(1), source(2)]
    assert len(listings) == 2
    mine.close()
    theirs.close()


def test_a_listing_made_as_the_change_landed_is_made_again_and_none_outlives_its_age(tmp_path):
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    clock = Clock()
    listings = []
    changes = SourceChanges(records)
    changes.touch()
    written = changes.latest().written_at
    clock.now = written + 0.1  # the store of this process may not show the change yet
    listing = SourceListing(lambda: listings.append(1) or [], changes, max_age_seconds=60.0, clock=clock)
    listing.current()
    listing.current()
    assert len(listings) == 2  # listed within the settle time: listed again
    clock.now = written + 2.0
    listing.current()
    listing.current()
    assert len(listings) == 3  # listed after it: kept
    clock.now += 61.0
    listing.current()
    assert len(listings) == 4  # too old, whatever the stamp says
    records.close()


def test_an_unreadable_record_store_is_a_store_error(tmp_path):
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    listing = SourceListing(lambda: [], SourceChanges(records))
    records.close()
    with pytest.raises(StoreUnavailableError):
        listing.current()


def test_another_process_audience_change_is_seen_by_the_next_call(service_factory):
    """Two services on one data directory, as ``needle serve`` and ``needle audience`` in a terminal."""
    serving = service_factory()
    assert serving.ingest_file(HANDBOOK / "it-setup-guide.md").status == "indexed"
    [guide] = serving.current_sources()
    assert guide.audience == ["everyone"]
    member = Viewer(user_id="U1", private=True, channels=frozenset({"CIT"}))
    outsider = Viewer(user_id="U2", private=True)
    assert serving.current_sources(outsider) == [guide]

    terminal = NeedleService(serving.settings)
    try:
        terminal.set_source_audience(guide.source_id, "channel:CIT", actor="cli")
        # The next question comes later than the embedded store's readers take to see another
        # process's write (``refresh_seconds``, a quarter of a second); the listing is no slower.
        time.sleep(serving.store.refresh_seconds + 0.05)
        [now] = serving.current_sources()
        assert now.audience == ["channel:CIT"]
        assert serving.current_sources(outsider) == [] and serving.current_sources(member) == [now]
    finally:
        terminal.close()

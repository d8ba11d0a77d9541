"""Whether any source changed, in any process: a stamp in the record store, and a listing kept by it.

Who may see a source is stored on its chunks, so a face that needs every source's audience on each
question (the Slack bot builds a private reader's memberships from the audiences that exist) would have to
list every source each time, which reads every chunk's metadata on the embedded store (59 ms at 10,000
chunks, 540 ms at 50,000, measured by ``scripts/bench_source_listing.py`` on a loaded 2-core machine).
Instead every change of a
source (a new file or version, a deletion, an audience change, a re-index, from any process) replaces one
record, ``source_changes/latest``, with a new stamp, and :class:`SourceListing` lists the sources again
only when that stamp differs from the one its listing was made under. Reading the stamp is one record-store
read per question, so ``needle audience`` run in a terminal is seen by the next question in every process.

Two guards keep a listing from outliving a change it missed: a listing made less than ``settle_seconds``
after the stamp was written is made again next time (the embedded store's readers catch up with another
process's write within a quarter of a second), and none is used longer than ``max_age_seconds`` (a change
whose stamp could not be written, or one made by a version of Needle before stamps).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.base.errors import StoreUnavailableError
from pipelines.records.answers import SourceInfo
from pipelines.stores.records import RecordStore

logger = logging.getLogger(__name__)

COLLECTION = "source_changes"
KEY = "latest"


@dataclass(frozen=True)
class Stamp:
    """The latest change: an opaque value and when it was written (seconds since the epoch)."""

    value: str
    written_at: float


class SourceChanges:
    """The stamp every change of a source replaces (one record, shared by every process)."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    def touch(self) -> None:
        """Record that a source changed. A failure is logged, not raised: the change itself is done, and
        listings notice it within their ``max_age_seconds`` anyway."""
        try:
            self.records.put(COLLECTION, KEY, body={"stamp": uuid.uuid4().hex})
        except Exception:
            logger.warning("could not record that a source changed", exc_info=True)

    def latest(self) -> Stamp | None:
        """The latest change's stamp; ``None`` before the first. :raises Exception: the record store's
        error, as it raised it."""
        record = self.records.get(COLLECTION, KEY)
        if record is None:
            return None
        return Stamp(str(record.body.get("stamp") or ""), record.updated_at)


@dataclass(frozen=True)
class _Listing:
    stamp: Stamp | None
    listed_at: float
    sources: list[SourceInfo]


class SourceListing:
    """Every source as an admin lists them, listed again only after a change (see the module docstring).

    Thread-safe: after a change one thread lists while the others wait for its listing rather than list
    too (a burst of questions lists once).

    :param list_all: lists every source (``SourceLibrary.list_sources(ADMIN)``).
    :param clock: wall-clock seconds, comparable with the record store's ``updated_at``.
    """

    def __init__(
        self,
        list_all: Callable[[], list[SourceInfo]],
        changes: SourceChanges,
        *,
        settle_seconds: float = 1.0,
        max_age_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._list_all = list_all
        self.changes = changes
        self.settle_seconds = settle_seconds
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._listing: _Listing | None = None
        self._lock = threading.Lock()

    def current(self) -> list[SourceInfo]:
        """The sources as they are now.

        :raises StoreUnavailableError: the record store or the document store cannot be read."""
        try:
            stamp = self.changes.latest()
        except Exception as error:
            raise StoreUnavailableError("Needle's records cannot be read") from error
        listing = self._listing
        if listing is not None and self._usable(listing, stamp):
            return listing.sources
        with self._lock:
            listing = self._listing
            if listing is not None and self._usable(listing, stamp):
                return listing.sources  # listed by another thread meanwhile
            listed_at = self._clock()
            sources = self._list_all()
            self._listing = _Listing(stamp, listed_at, sources)
            return sources

    def _usable(self, listing: _Listing, stamp: Stamp | None) -> bool:
        if listing.stamp != stamp or self._clock() - listing.listed_at >= self.max_age_seconds:
            return False
        return stamp is None or listing.listed_at - stamp.written_at >= self.settle_seconds

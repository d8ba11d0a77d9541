"""One sync of one connector: list, compare with the last sync, fetch what changed, index it, prune.

The rules that keep the index safe live here, once, for every connector:

* Only new and changed documents are fetched (with the previous version, for a conditional request) and
  indexed; a document whose version changed but whose bytes did not is not indexed again. A document
  whose audience changed at the source gets its new audience in place, without re-embedding.
* A listing that fails (a :class:`ConnectorError`, a timeout, any exception) removes nothing and records
  why. So does a fetch that fails for the whole connector (a :class:`ConnectorError` without a
  ``document_id``, e.g. an expired token), after keeping what was already indexed.
* One document failing (a conversion refusal, a :class:`ConnectorError` with its ``document_id``) is
  recorded with why, and the sync goes on.
* A document is removed (its source and original) once it has been missing for the connector's
  ``missing_syncs_before_removal`` syncs in a row. A listing with fewer than half the documents of the
  last good listing removes nothing: the sync is marked "needs confirmation" with the counts.
* Unchanged documents cause no store write; the state record is written only when it changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pipelines.base.disk_faults import DataDirectoryError
from pipelines.base.errors import NeedleError, SourceNotFoundError, StoreUnavailableError
from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
)
from pipelines.connectors.lease import RENEW_SECONDS, Lease, LeaseHeld, SyncLeases
from pipelines.connectors.state import (
    Confirmation,
    ConnectorConfig,
    ConnectorRecords,
    DocumentState,
    FailedDocument,
    SyncRun,
    SyncState,
)
from pipelines.indexing.sources import SourceLibrary
from pipelines.records.audience import NO_ONE, parse_audience
from pipelines.stores.access import store_read

logger = logging.getLogger(__name__)

#: A listing under this share of the last good one prunes nothing until an editor confirms.
SHRINK_GUARD = 0.5
#: Failed documents a run keeps with their reasons (the counts stay exact).
MAX_FAILURES_KEPT = 200

#: How often the ``cancelled`` check is asked, at most.
CANCEL_CHECK_SECONDS = 0.5

Progress = Callable[[int, int], None]


class SyncCancelled(Exception):
    """Raised by a ``cancelled`` check: the sync stops, keeping what it indexed and pruning nothing."""


class _Abort(Exception):
    """The whole sync must stop (listing failed, credentials refused, store down): prune nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def connector_source_id(connector: str, document_id: str) -> str:
    """The source id of a connector's document: readable, stable, and unique per connector and id."""
    tail = re.sub(r"[^a-z0-9]+", "-", document_id.lower().rsplit("/", 1)[-1]).strip("-")[:40] or "doc"
    digest = hashlib.sha1(f"{connector}\0{document_id}".encode()).hexdigest()[:8]  # noqa: S324 - an id
    return f"{connector}-{tail}-{digest}"


def effective_audience(ref: DocumentRef, config: ConnectorConfig) -> list[str]:
    """The source's own audience where it has one (an empty one: no one), else the connector's."""
    if ref.audience is None:
        return list(config.audience)
    if not ref.audience:
        return [NO_ONE]
    return parse_audience(list(ref.audience))


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectorError):
        return error.reason
    if isinstance(error, NeedleError):
        return str(error)
    if isinstance(error, TimeoutError):
        return "the source did not answer in time"
    return f"unexpected error ({type(error).__name__}); see the log"


class SyncEngine:
    """Runs syncs over one record store and one source library; ``holder`` names this process in leases."""

    def __init__(
        self, records: ConnectorRecords, leases: SyncLeases, library: SourceLibrary, holder: str
    ) -> None:
        self.records = records
        self.leases = leases
        self.library = library
        self.holder = holder

    def run(
        self,
        config: ConnectorConfig,
        connector: Connector,
        *,
        actor: str | None = None,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> SyncRun:
        """One sync under the connector's lease. :raises LeaseHeld: a sync of it is running elsewhere."""
        lease = self.leases.acquire(config.name, self.holder)
        try:
            return _Sync(self, config, connector, lease, actor, progress, cancelled).run()
        finally:
            self.leases.release(lease)


class _Sync:
    """The work of one sync; its counters become the :class:`SyncRun`."""

    def __init__(
        self,
        engine: SyncEngine,
        config: ConnectorConfig,
        connector: Connector,
        lease: Lease,
        actor: str | None,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
    ) -> None:
        self.engine = engine
        self.library = engine.library
        self.config = config
        self.connector = connector
        self.lease = lease
        self.renewed = time.time()
        self.checked = 0.0
        self.progress = progress
        self.cancelled = cancelled
        self.actor = f"connector:{config.name}"
        self.run_record = SyncRun(
            run_id=f"{config.name}:{time.time_ns():020d}:{uuid.uuid4().hex[:6]}",
            connector=config.name,
            started=time.time(),
            actor=actor,
        )
        self.counts = {"added": 0, "changed": 0, "unchanged": 0, "removed": 0}
        self.failures: list[FailedDocument] = []
        self.failed = 0

    # ------------------------------------------------------------------------------------------------
    def run(self) -> SyncRun:
        records = self.engine.records
        records.put_run(self.run_record)  # "running": visible to `show` in every replica
        before = records.state(self.config.name)
        documents = dict(before.documents)
        state = before
        status: str
        error: str | None = None
        listed = 0
        try:
            self._forget_sources_gone_from_the_index(documents)
            self.connector.restore_state(before.cursor)
            refs = self._listing()
            listed = len(refs)
            gone = self._update(refs, documents)
            state, status = self._prune(
                before, documents, {ref.id for ref in refs} - gone, listed - len(gone)
            )
            state = replace(state, cursor=self.connector.state)  # the listing was complete
        except SyncCancelled:
            status, error = "cancelled", "cancelled before it finished; nothing was removed"
            state = replace(before, documents=documents)
        except _Abort as abort:
            status, error = "failed", f"{abort.reason}; nothing was removed"
            state = replace(before, documents=documents)
        except Exception as unexpected:  # a bug or a store fault while pruning: record it, keep the rest
            logger.exception("sync of %s stopped", self.config.name)
            status, error = "failed", f"{_why(unexpected)}; the sync stopped"
            state = replace(before, documents=documents)
        except BaseException:  # Ctrl-C in a foreground sync: say so in the history, then stop
            records.put_state(replace(before, documents=documents))
            records.put_run(replace(self.run_record, status="cancelled", finished=time.time(), **self.counts))
            raise
        if state != before:
            records.put_state(state)
        finished = replace(
            self.run_record,
            status=status,  # type: ignore[arg-type]
            finished=time.time(),
            listed=listed,
            failed=self.failed,
            failures=self.failures[:MAX_FAILURES_KEPT],
            error=error,
            **self.counts,
        )
        logger.info(
            "sync of %s %s: %d listed, %s, %d failed",
            self.config.name,
            status,
            listed,
            self.counts,
            self.failed,
        )
        return records.put_run(finished)

    # ------------------------------------------------------------------------------------------------
    def _listing(self) -> list[DocumentRef]:
        """The complete listing, or :class:`_Abort`: a partial listing must never look complete."""
        refs: dict[str, DocumentRef] = {}
        try:
            for ref in self.connector.list_documents():
                refs.setdefault(ref.id, ref)  # a document listed twice is one document
                self._tick()
        except (SyncCancelled, _Abort):
            raise
        except Exception as error:
            if not isinstance(error, ConnectorError):
                logger.warning("listing of connector %s failed", self.config.name, exc_info=error)
            raise _Abort(f"the listing failed: {_why(error)}") from error
        return list(refs.values())

    def _forget_sources_gone_from_the_index(self, documents: dict[str, DocumentState]) -> None:
        """A source deleted by hand, or an index restored from an older copy: those documents are
        fetched again as new, so the index always ends up holding what the source holds."""
        if not documents:
            return
        try:
            with store_read():
                chunks = self.library.store.filter_documents(
                    {"field": "meta.connector", "operator": "==", "value": self.config.name}
                )
        except Exception as error:
            raise _Abort(f"the index could not be read ({type(error).__name__})") from error
        indexed = {str(chunk.meta.get("source_id")) for chunk in chunks}
        for doc_id in [doc_id for doc_id, doc in documents.items() if doc.source_id not in indexed]:
            del documents[doc_id]

    def _keep_lease(self, _done: int = 0, _total: int = 0) -> None:
        """Renew the lease while one long document is embedded (a chunk-progress callback: never raises;
        a lost lease stops the sync at the next document)."""
        if time.time() - self.renewed >= RENEW_SECONDS:
            try:
                self.lease = self.engine.leases.renew(self.lease)
                self.renewed = time.time()
            except Exception:
                logger.warning("sync of %s: the lease could not be renewed", self.config.name)

    def _tick(self) -> None:
        """Between documents: stop if cancelled, and keep the lease alive."""
        now = time.time()
        if self.cancelled is not None and now - self.checked >= CANCEL_CHECK_SECONDS:
            self.checked = now  # a cancel check may read the record store: not on every document
            if self.cancelled():
                raise SyncCancelled(self.config.name)
        if time.time() - self.renewed >= RENEW_SECONDS:
            try:
                self.lease = self.engine.leases.renew(self.lease)
            except LeaseHeld as lost:
                raise _Abort(f"another process took over this sync ({lost.holder})") from lost
            self.renewed = time.time()

    def _fail(self, ref: DocumentRef, reason: str) -> None:
        self.failed += 1
        self.failures.append(FailedDocument(ref.id, ref.title or ref.id, reason))

    def _update(self, refs: list[DocumentRef], documents: dict[str, DocumentState]) -> set[str]:
        """Fetch and index what is new or changed; the ids the source reported gone."""
        gone: set[str] = set()
        for done, ref in enumerate(refs, start=1):
            self._tick()
            try:
                if self._one(ref, documents):
                    gone.add(ref.id)
            except (SyncCancelled, _Abort):
                raise
            except (StoreUnavailableError, DataDirectoryError) as error:  # every next document would fail
                raise _Abort(str(error)) from error
            except ConnectorError as error:
                if error.document_id is None:
                    raise _Abort(error.reason) from error
                self._fail(ref, error.reason)
            except Exception as error:  # one bad document never stops the sync
                if not isinstance(error, NeedleError):
                    logger.warning("sync of %s: document %s failed", self.config.name, ref.id, exc_info=error)
                self._fail(ref, _why(error))
            if self.progress is not None:
                self.progress(done, len(refs))
        return gone

    def _one(self, ref: DocumentRef, documents: dict[str, DocumentState]) -> bool:
        """Bring one listed document up to date; ``True`` when the source says it is gone."""
        audience = effective_audience(ref, self.config)
        previous = documents.get(ref.id)
        if previous is not None and previous.version == ref.version:
            documents[ref.id] = self._same_content(previous, ref, audience)
            return False
        outcome = self.connector.fetch(ref, previous.version if previous else None)
        if isinstance(outcome, Gone):
            return True
        if isinstance(outcome, NotModified):
            if previous is None:  # nothing to keep: the source must send it
                raise ConnectorError(
                    "the source said 'not modified' for a document never fetched", document_id=ref.id
                )
            documents[ref.id] = self._same_content(previous, outcome.ref, audience)
            return False
        return self._index(outcome, previous, audience, documents)

    def _same_content(self, previous: DocumentState, ref: DocumentRef, audience: list[str]) -> DocumentState:
        """An unchanged document: no store write, unless its audience changed (then in place)."""
        current = replace(
            previous, version=ref.version, missing=0, url=ref.url or previous.url, unmapped=list(ref.unmapped)
        )
        if audience != previous.audience:
            self.library.set_source_audience(previous.source_id, audience, actor=self.actor)
            self.counts["changed"] += 1
            return replace(current, audience=audience)
        self.counts["unchanged"] += 1
        return current

    def _index(
        self,
        fetched: FetchedDocument,
        previous: DocumentState | None,
        audience: list[str],
        documents: dict[str, DocumentState],
    ) -> bool:
        ref = fetched.ref
        digest = hashlib.sha256(fetched.data).hexdigest()
        if previous is not None and previous.content_hash == digest:
            documents[ref.id] = replace(self._same_content(previous, ref, audience), modified=ref.modified)
            return False
        source_id = previous.source_id if previous else connector_source_id(self.config.name, ref.id)
        title = None if self.connector.titles_from_documents else (ref.title or None)
        options: dict[str, Any] = {
            "title": title,
            "url": ref.url,
            "audience": audience,
            "source_id": source_id,
            "connector": self.config.name,
            "source_modified": ref.modified,
            "tags": [str(tag) for tag in ref.meta.get("tags") or []] or None,  # a source's labels, say
            "uploaded_by": self.actor,
            "actor": self.actor,
            "progress": self._keep_lease,
        }
        result = self.library.ingest_bytes(fetched.file_name, fetched.data, **options)
        if result.status not in ("indexed", "unchanged"):
            self._fail(ref, result.reason or result.status)
            return False
        self.counts["unchanged" if result.status == "unchanged" else "changed" if previous else "added"] += 1
        documents[ref.id] = DocumentState(
            source_id=source_id,
            version=ref.version,
            content_hash=digest,
            title=ref.title,
            url=ref.url,
            modified=ref.modified,
            audience=audience,
            unmapped=list(ref.unmapped),
        )
        return False

    # ------------------------------------------------------------------------------------------------
    def _prune(
        self, before: SyncState, documents: dict[str, DocumentState], present: set[str], listed: int
    ) -> tuple[SyncState, str]:
        """Count misses, remove what has been missing long enough, unless the listing shrank suspiciously."""
        threshold = max(1, self.connector.missing_syncs_before_removal)
        removable: list[str] = []
        for doc_id in [doc_id for doc_id in documents if doc_id not in present]:
            documents[doc_id] = replace(documents[doc_id], missing=documents[doc_id].missing + 1)
            if documents[doc_id].missing >= threshold:
                removable.append(doc_id)
        last_good = before.last_good_count
        shrank = bool(last_good) and listed < last_good * SHRINK_GUARD  # type: ignore[operator]
        if shrank and removable:
            pending = Confirmation(self.run_record.run_id, listed, int(last_good or 0), sorted(removable))
            state = SyncState(self.config.name, documents, last_good, pending)
            return state, "needs-confirmation"
        self.counts["removed"] += remove_documents(self.library, documents, removable, self.actor)
        state = SyncState(self.config.name, documents, last_good if shrank else listed, None)
        return state, "partial" if self.failed else "succeeded"


def remove_documents(
    library: SourceLibrary, documents: dict[str, DocumentState], ids: list[str], actor: str
) -> int:
    """Remove these documents' sources (and originals) from the index and from ``documents``."""
    removed = 0
    for doc_id in ids:
        state = documents.get(doc_id)
        if state is None:
            continue
        with contextlib.suppress(SourceNotFoundError):  # removed by hand already: the goal is reached
            library.delete_source(state.source_id, actor=actor)
        del documents[doc_id]  # only once it is gone: a store fault leaves it for the next sync
        removed += 1
    return removed

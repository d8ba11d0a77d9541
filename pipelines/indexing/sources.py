"""The indexing side of Needle: sources in, sources listed, changed and removed.

A source is one uploaded file. :class:`SourceLibrary` turns files into chunks through the indexing
pipeline, keeps the original for re-indexing, decides what a re-upload means (a no-op, a new version, a
name conflict), changes a source's audience in place, and writes every change to the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from haystack import Document
from haystack.core.errors import PipelineRuntimeError

from pipelines.base.disk_faults import DataDirectoryError, disk_fault
from pipelines.base.errors import NeedleError, RejectedFileError, SourceNotFoundError, StoreUnavailableError
from pipelines.base.metrics import Metrics
from pipelines.base.settings import Settings
from pipelines.base.sizes import upload_limit_bytes
from pipelines.indexing.file_inspector import (
    SUPPORTED_EXTENSIONS,
    check_size,
    guess_title,
    inspect_file,
    safe_file_name,
)
from pipelines.indexing.pipeline import UploadStream
from pipelines.records.answers import IngestResult, Passage, SourceInfo
from pipelines.records.audience import ADMIN, Viewer, audience_of, parse_audience
from pipelines.records.audit import AuditLog
from pipelines.records.source_changes import SourceChanges
from pipelines.stores import SearchBackend
from pipelines.stores.access import store_read
from pipelines.stores.originals import OriginalStore

logger = logging.getLogger(__name__)

#: Meta that, when unchanged on re-ingest, makes the re-ingest a no-op.
_IDENTITY_KEYS = ("source_hash", "title", "url", "tags", "audience", "index_config")
#: What to do when a file's name matches an indexed source whose content differs: replace that source
#: (a new version), keep both (the file becomes a new source), or index nothing and report a conflict.
ConflictPolicy = Literal["replace", "keep_both", "report"]


def source_id_for(file_name: str) -> str:
    """A stable, readable id for a file: its slugged stem plus a short hash of the whole name.

    Uploading a file with the same name again replaces the source; the hash keeps ``a.md`` and ``a.pdf``
    apart.
    """
    name = safe_file_name(file_name).lower()
    stem = re.sub(r"[^a-z0-9]+", "-", Path(name).stem).strip("-")[:40] or "source"
    return f"{stem}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:6]}"  # noqa: S324 - an id, not security


def title_from_file_name(file_name: str) -> str:
    stem = Path(safe_file_name(file_name)).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else file_name


def _conflict_reason(existing: SourceInfo) -> str:
    who = f" by {existing.uploaded_by}" if existing.uploaded_by else ""
    when = existing.indexed_at.replace("T", " ")[:16]
    return (
        f"a different document with this file name is already indexed: “{existing.title}” "
        f"(source {existing.source_id}, indexed {when} UTC{who}); replace it or keep both"
    )


def source_info(meta: dict[str, Any], chunks: int = 0) -> SourceInfo:
    return SourceInfo(
        source_id=str(meta.get("source_id")),
        title=str(meta.get("title", "")),
        file_name=str(meta.get("file_name", "")),
        file_type=str(meta.get("file_type", "")),
        url=meta.get("url"),
        tags=list(meta.get("tags") or []),
        chunks=chunks,
        size_bytes=int(meta.get("size_bytes") or 0),
        uploaded_by=meta.get("uploaded_by"),
        indexed_at=str(meta.get("indexed_at", "")),
        source_hash=str(meta.get("source_hash", "")),
        audience=audience_of(meta),
        modified_at=meta.get("modified_at") or None,
        connector=meta.get("connector") or None,
    )


def _audited_source(source: SourceInfo) -> dict[str, Any]:
    """What the audit log keeps of a source version (never its text)."""
    keys = ("title", "file_name", "url", "tags", "audience", "size_bytes", "source_hash")
    return {key: getattr(source, key) for key in keys}


def _plain_callback(callback: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A plain function around ``callback``: Haystack deep-copies pipeline inputs, and a deep copy of a
    bound method or a progress object would copy its owner; a function is passed as it is."""

    def report(done: int, total: int) -> None:
        callback(done, total)

    return report


def _rejection_in(error: BaseException) -> RejectedFileError | None:
    """The :class:`RejectedFileError` a pipeline component raised, wrapped by Haystack, if any."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None or isinstance(seen, RejectedFileError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _SyncedByConnector(Exception):
    """A file named like a source a connector keeps in sync: an upload would fork that document."""

    def __init__(self, meta: dict[str, Any]) -> None:
        super().__init__(meta.get("source_id"))
        self.meta = meta

    def reason(self) -> str:
        where = f" at {self.meta['url']}" if self.meta.get("url") else ""
        return (
            f"“{self.meta.get('title')}” (source {self.meta.get('source_id')}) is kept in sync by the "
            f"connector {self.meta.get('connector')!r}; change the document at its source{where}, or "
            "rename this file to index it as another document"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SourceLibrary:
    """Ingest, list, change and delete sources. Ingests and deletions run one at a time (a lock), so two
    uploads of one file cannot interleave their chunk replacements."""

    def __init__(
        self,
        settings: Settings,
        backend: SearchBackend,
        indexing_pipeline: Any,
        originals: OriginalStore,
        audit: AuditLog,
        metrics: Metrics,
        index_config: str,
        embedder: str,
        embedder_is_local: bool,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.store = backend.documents
        self.indexing_pipeline = indexing_pipeline
        self.originals = originals
        self.audit = audit
        self.metrics = metrics
        self._index_config = index_config
        self._embedder = embedder
        self._embedder_is_local = embedder_is_local
        self._ingest_lock = threading.Lock()
        #: Every change below is stamped here, so listings in every process know to list again.
        self.changes = SourceChanges(audit.records)

    def ingest_file(self, path: str | Path, **kwargs: Any) -> IngestResult:
        """Index the file at ``path``; see :meth:`ingest_bytes` for the keyword arguments."""
        path = Path(path)
        try:
            # The size first: a file over the limit is refused without being read into memory.
            check_size(safe_file_name(path.name), path.stat().st_size, self._max_bytes)
            data = path.read_bytes()
        except RejectedFileError as error:
            self.metrics.ingests.labels(status="rejected").inc()
            return IngestResult(error.file_name, "rejected", reason=error.reason)
        except OSError as error:
            reason = f"the file cannot be read ({error.strerror})"
            return IngestResult(safe_file_name(path.name), "rejected", reason=reason)
        return self.ingest_bytes(path.name, data, **kwargs)

    @property
    def _max_bytes(self) -> int:
        return upload_limit_bytes(self.settings.max_upload_mb)

    def ingest_bytes(self, file_name: str, data: bytes, **kwargs: Any) -> IngestResult:
        """Index one file as one source; see :meth:`_ingest_bytes`. Counted in the ingest metrics."""
        try:
            result = self._ingest_bytes(file_name, data, **kwargs)
        except Exception:
            self.metrics.ingests.labels(status="failed").inc()
            raise
        self.metrics.ingests.labels(status=result.status).inc()
        if result.status == "indexed":
            self.metrics.chunks_written.inc(result.chunks)
        return result

    def _ingest_bytes(
        self,
        file_name: str,
        data: bytes,
        *,
        title: str | None = None,
        url: str | None = None,
        tags: Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        uploaded_by: str | None = None,
        source_id: str | None = None,
        force: bool = False,
        reindexing: bool = False,
        actor: str | None = None,
        on_conflict: ConflictPolicy = "replace",
        progress: Callable[[int, int], None] | None = None,
        connector: str | None = None,
        source_modified: str | None = None,
    ) -> IngestResult:
        """Index one file as one source, replacing the source's earlier version.

        A file whose name matches an indexed source with different content is handled by
        ``on_conflict`` (see :data:`ConflictPolicy`); with several such sources (kept both), "replace"
        replaces the newest. ``progress(done, total)`` is called as the file's chunks are embedded.

        Identical bytes with identical title, URL, tags and index settings are a no-op ("unchanged")
        unless ``force`` is set. A title, URL or tags not given (``None`` or blank; tags ``None``) keep
        what the source already has: re-uploading a new version does not wipe its tags. Tags given as an
        empty list clear them. ``audience`` (see :func:`pipelines.records.audience.parse_audience`)
        likewise keeps
        the source's audience when not given; a new source is for everyone.

        Rejections (unreadable, empty, unsupported, too large) come back as a result with a reason and
        leave the store exactly as it was; a store failure raises :class:`StoreUnavailableError`.

        A file named like a source made by a connector is refused (it would fork the synced document); a
        connector's own sync names the ``source_id``, its ``connector`` and the ``source_modified`` time.
        """
        name = safe_file_name(file_name)
        members = None if audience is None else parse_audience(audience)  # a bad audience: NeedleError
        try:
            inspected = inspect_file(
                name, data, max_bytes=self._max_bytes, max_chars=self.settings.max_file_chars
            )
        except RejectedFileError as error:
            logger.info("rejected %s: %s", name, error.reason)
            return IngestResult(name, "rejected", reason=error.reason)

        sid = source_id or source_id_for(name)
        with self._ingest_lock:
            if source_id is None:
                try:
                    sid, conflict = self._pick_source_id(sid, name, inspected.sha256, on_conflict)
                except _SyncedByConnector as synced:
                    return IngestResult(
                        name, "rejected", str(synced.meta.get("source_id")), reason=synced.reason()
                    )
                if conflict is not None:
                    reason = _conflict_reason(conflict)
                    return IngestResult(name, "conflict", conflict.source_id, reason=reason)
            existing = self._chunks_of(sid)
            previous = existing[0].meta if existing else {}
            meta = {
                "source_id": sid,
                "title": (title or "").strip()
                or previous.get("title")
                or guess_title(inspected)
                or title_from_file_name(name),
                "file_name": name,
                "file_type": inspected.kind,
                "url": (url or "").strip() or previous.get("url") or None,
                "tags": sorted({tag.strip().lower() for tag in tags if tag.strip()})
                if tags is not None
                else list(previous.get("tags") or []),
                "audience": members or audience_of(previous),
                "uploaded_by": uploaded_by,
                "source_hash": inspected.sha256,
                "size_bytes": len(data),
                "index_config": self._index_config,
                "embedder": self._embedder,
            }
            for key, value in (("connector", connector), ("source_modified", source_modified)):
                if value or previous.get(key):  # a synced source stays synced, through a re-index too
                    meta[key] = value or previous.get(key)
            unchanged = existing and all(existing[0].meta.get(key) == meta[key] for key in _IDENTITY_KEYS)
            if unchanged and not force:
                # A crash between the store's write and the original's can leave the original missing.
                self._keep_original(sid, name, data, only_if_missing=True)
                return IngestResult(
                    name, "unchanged", source_id=sid, chunks=len(existing), warnings=inspected.warnings
                )
            if not reindexing:  # a re-index moves the index to the configured embedder, source by source
                self._refuse_mixed_embedders()
            meta["indexed_at"] = _now()
            stream = UploadStream(data=inspected.data, meta=meta, mime_type=inspected.mime_type)
            inputs: dict[str, Any] = {"router": {"sources": [stream]}}
            if progress is not None:
                inputs["embedder"] = {"progress": _plain_callback(progress)}
            try:
                result = self.indexing_pipeline.run(inputs)
            except PipelineRuntimeError as error:
                fault = disk_fault(error, self.settings.data_dir)
                if fault is not None:  # the embedding cache or the store could not write: not the file
                    logger.info("%s was not indexed: %s", name, fault.sentence())  # the caller says it
                    raise DataDirectoryError(fault, f"{name} was not indexed") from error
                if error.component_name == "writer":
                    logger.exception("store write failed for %s", name)
                    raise StoreUnavailableError("The document store could not save this file") from error
                if error.component_name == "embedder":  # not the file's fault: say so, keep nothing
                    logger.exception("embedding failed for %s", name)
                    cause = error.__cause__
                    message = str(cause) if isinstance(cause, NeedleError) else "The embedding model failed"
                    raise NeedleError(f"{message}; {name} was not indexed") from error
                refused = _rejection_in(error)
                if refused is not None:  # a converter or the chunker refused the file, with the reason
                    logger.info("rejected %s: %s", name, refused.reason)
                    return IngestResult(name, "rejected", reason=refused.reason)
                logger.warning("conversion of %s failed", name, exc_info=error)
                return IngestResult(name, "rejected", reason="the file could not be converted to text")
            written = int(result.get("writer", {}).get("documents_written", 0))
        if written == 0:
            hint = " (is it a scanned image without a text layer?)" if inspected.kind == "pdf" else ""
            return IngestResult(name, "rejected", reason=f"no text could be extracted from the file{hint}")
        warnings = inspected.warnings
        try:
            self._keep_original(sid, name, data)
        except OSError as error:
            # The chunks are in; a missing original only blocks re-indexing, and the next upload of
            # the file keeps it (``only_if_missing``). Say so, and let the caller go on.
            logger.info("the original of %s could not be kept: %s", name, error.strerror or error)
            fault = disk_fault(error, self.settings.data_dir)
            reason = fault.sentence() if fault else (error.strerror or str(error))
            warnings = (*warnings, f"its original could not be kept for re-indexing ({reason})")
        logger.info("indexed %s as %s (%d chunks)", name, sid, written)
        after = source_info(meta, written)
        before = _audited_source(source_info(previous, len(existing))) if existing else None
        action = "source.reindex" if reindexing else "source.upload"
        self.changes.touch()
        self.audit.record(actor or uploaded_by, action, f"source {sid}", before, _audited_source(after))
        replaced = bool(existing) and previous.get("source_hash") != inspected.sha256
        return IngestResult(
            name, "indexed", source_id=sid, chunks=written, warnings=warnings, replaced=replaced
        )

    def _pick_source_id(
        self, base_id: str, file_name: str, sha256: str, policy: ConflictPolicy
    ) -> tuple[str, SourceInfo | None]:
        """The source a file with id ``base_id`` (from its name) goes to, or the source it conflicts with.

        Sources of the same name are the one at ``base_id`` and the copies kept beside it (``base_id-2``,
        ...). Identical bytes always go to the source that holds them (so re-uploading is a no-op).
        """
        either = [
            {"field": "meta.source_id", "operator": "==", "value": base_id},
            {"field": "meta.file_name", "operator": "==", "value": file_name},
        ]
        found: dict[str, dict[str, Any]] = {}
        for doc in self._filter({"operator": "OR", "conditions": either}):
            found.setdefault(str(doc.meta.get("source_id")), doc.meta)
        for meta in found.values():
            if meta.get("connector") and meta.get("file_name") == file_name:
                raise _SyncedByConnector(meta)
        same_name = sorted(
            (source_info(meta) for meta in found.values() if source_id_for(meta["file_name"]) == base_id),
            key=lambda source: source.indexed_at,
            reverse=True,
        )
        if not same_name:
            return base_id, None
        for source in same_name:
            if source.source_hash == sha256:
                return source.source_id, None
        if policy == "replace":
            return same_name[0].source_id, None
        if policy == "keep_both":
            number = 2
            while self._chunks_of(f"{base_id}-{number}"):
                number += 1
            return f"{base_id}-{number}", None
        return same_name[0].source_id, same_name[0]

    def _keep_original(
        self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False
    ) -> None:
        """Keep the uploaded bytes, so a source can be re-indexed (new model, new chunking) later."""
        self.originals.keep(source_id, file_name, data, only_if_missing=only_if_missing)

    def reindex_source(self, source_id: str, actor: str | None = None) -> IngestResult:
        """Index a source again from its kept original (same title, URL, tags and audience), under the
        current settings; the audit log names ``actor`` (default: the source's uploader)."""
        chunks = self._chunks_of(source_id)
        if not chunks:
            raise SourceNotFoundError(f"no source with id {source_id!r}")
        meta = chunks[0].meta
        original = self.originals.get(source_id)
        if original is None:
            raise NeedleError(f"the original file of {source_id!r} is not kept; upload it again")
        return self.ingest_bytes(
            original[0],
            original[1],
            title=meta.get("title"),
            url=meta.get("url"),
            tags=meta.get("tags") or [],
            uploaded_by=meta.get("uploaded_by"),
            source_id=source_id,
            force=True,
            reindexing=True,
            actor=actor,
        )

    def ingest_paths(self, paths: Iterable[str | Path], **kwargs: Any) -> list[IngestResult]:
        """Index files and folders (recursively, supported extensions only), one source per file."""
        return [self.ingest_file(path, **kwargs) for path in expand_paths(paths)]

    def delete_source(self, source_id: str, actor: str | None = None) -> int:
        """Remove every chunk of ``source_id``; returns how many were removed."""
        with self._ingest_lock:
            chunks = self._chunks_of(source_id)
            if not chunks:
                raise SourceNotFoundError(f"no source with id {source_id!r}")
            self.store.delete_documents([doc.id for doc in chunks])
            self.originals.delete(source_id)
        before = source_info(chunks[0].meta, len(chunks))
        self.changes.touch()
        self.audit.record(actor, "source.delete", f"source {source_id}", _audited_source(before), None)
        return len(chunks)

    def set_source_audience(
        self, source_id: str, audience: str | Iterable[str], actor: str | None = None
    ) -> SourceInfo:
        """Change who may see a source, on its chunks in place (no re-indexing); applies to the next
        question. :raises NeedleError: a bad audience or an unknown source."""
        members = parse_audience(audience)
        with self._ingest_lock:
            chunks = self._chunks_of(source_id)
            if not chunks:
                raise SourceNotFoundError(f"no source with id {source_id!r}")
            before = audience_of(chunks[0].meta)
            self.backend.update_source_meta(source_id, {"audience": members})
        target = f"source {source_id}"
        self.changes.touch()
        self.audit.record(actor, "source.audience", target, {"audience": before}, {"audience": members})
        return source_info({**chunks[0].meta, "audience": members}, len(chunks))

    def list_sources(self, viewer: Viewer = ADMIN) -> list[SourceInfo]:
        """Every source ``viewer`` may see, with its chunk count, newest first."""
        with store_read():
            summaries = self.backend.source_summaries()
        sources = [source_info(meta, count) for meta, count in summaries]
        sources = [source for source in sources if viewer.may_see(source.audience)]
        return sorted(sources, key=lambda source: (source.indexed_at, source.title), reverse=True)

    def chunk(self, chunk_id: str) -> Passage | None:
        """One chunk by id, with its full text (traces keep only a preview of the lists they record)."""
        found = self._filter({"field": "id", "operator": "==", "value": chunk_id})
        return Passage.from_document(1, found[0]) if found else None

    def source_chunks(self, source_id: str) -> list[Passage]:
        """A source's chunks in reading order, numbered from 1."""
        chunks = sorted(self._chunks_of(source_id), key=lambda doc: doc.meta.get("chunk_index", 0))
        if not chunks:
            raise SourceNotFoundError(f"no source with id {source_id!r}")
        return [Passage.from_document(number, doc) for number, doc in enumerate(chunks, start=1)]

    def stats(self) -> dict[str, Any]:
        sources = self.list_sources()
        return {
            "sources": len(sources),
            "chunks": sum(source.chunks for source in sources),
            "last_updated": max((source.indexed_at for source in sources), default=None),
        }

    def _refuse_mixed_embedders(self) -> None:
        """Vectors of two embedders cannot be searched together: refuse to add a second one's.

        Chunks from before ``meta.embedder`` existed were built by the local model, the only one then.
        """
        other: dict[str, Any] = {"field": "meta.embedder", "operator": "!=", "value": self._embedder}
        if self._embedder_is_local:  # unrecorded chunks are the local model's
            recorded = {"field": "meta.embedder", "operator": "!=", "value": None}
            other = {"operator": "AND", "conditions": [other, recorded]}
        with store_read():
            mixed = self.store.count_documents_by_filter(other)
        if mixed:
            raise NeedleError(
                f"This index holds {mixed} chunks embedded by another embedder than the configured one "
                f"({self._embedder}); vectors of two embedders cannot be searched together. Run "
                "`needle reindex` to rebuild the index with the configured embedder, or configure the "
                "previous one again."
            )

    def _chunks_of(self, source_id: str) -> list[Document]:
        return self._filter({"field": "meta.source_id", "operator": "==", "value": source_id})

    def _filter(self, filters: dict[str, Any] | None) -> list[Document]:
        with store_read():
            return self.store.filter_documents(filters=filters)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the supported files inside folders (sorted, hidden files skipped)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                child
                for child in sorted(path.rglob("*"))
                if child.is_file()
                and child.suffix.lower() in SUPPORTED_EXTENSIONS
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
        else:
            files.append(path)
    return files

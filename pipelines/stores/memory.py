"""The embedded document store: Haystack's in-memory store interface, persisted, fast, and growing by parts.

Haystack's ``InMemoryDocumentStore`` scores BM25 in Python over every document and compares embeddings one
by one: about 1.3 s and 2.4 s per query at 100,000 chunks. This subclass keeps the same interface (so
Haystack's ``InMemoryBM25Retriever`` and ``InMemoryEmbeddingRetriever`` use it unchanged) but searches
immutable :mod:`segments <pipelines.stores.segments>`: posting lists over analysed text (stemmed English,
CJK bigrams) scored with Lucene's BM25 over the whole corpus, and L2-normalised float32 embedding rows.

Writes cost in proportion to what they change, not to the corpus. Writing chunks adds one segment;
deleting or replacing chunks marks their rows dead in a small per-segment file; when a size tier holds
too many segments, or a segment is mostly dead, those segments are merged into one (posting lists are
renumbered, never re-analysed). Every write ends by replacing ``MANIFEST`` (the list of segments and
their dead-row files) in one atomic rename, so a process killed mid-write leaves the previous state in
force, never half a source; files no manifest refers to are removed by the next write.

Every public method that changes data (``write_documents``, ``delete_documents``, ``delete_all_documents``,
``update_by_filter``, ``delete_by_filter``, ``replace_sources`` and Haystack's ``*_async`` wrappers, which
call them) goes through one path: take the locks, catch up with the disk, persist the change, then
publish the new view; if anything fails, memory is brought back to the manifest in force. Haystack's
shared document-store suite runs against this store (``tests/core/test_store_suite.py``).

Past ``partition_from`` chunks (200,000 by default) dense search reads only the partitions of the
embedding space nearest to the question (:mod:`pipelines.stores.partitions`): exact search at a million
chunks reads 1.5 GB per question.

Several processes may share the directory (``needle serve`` and ``needle worker`` while ``needle ingest``
adds files from a terminal). A write holds an exclusive lock on ``LOCK`` and first catches up with what
another process wrote, so it never persists over someone else's sources; loading holds a shared lock, so
files are not removed while they are read; and readers look at ``MANIFEST`` at most once a
``refresh_seconds`` and then load only the segments they have not seen.

A directory written by Needle before segments (``CURRENT`` pointing at one ``gen-*`` directory) is
converted into one segment the first time it is opened.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from haystack import Document, default_from_dict, default_to_dict
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError
from haystack.utils.filters import COMPARISON_OPERATORS, document_matches_filter

from pipelines.base.disk_faults import disk_fault
from pipelines.stores.partitions import (
    PARTITION_FROM,
    PROBE_FRACTION,
    SCAN_BELOW,
    TRAINING_SAMPLE,
    Centroids,
    Inverted,
    partition_count,
)
from pipelines.stores.segments import Segment, merge, read_documents, write_atomically
from pipelines.text.analysis import analyze

logger = logging.getLogger(__name__)

FORMAT = "needle-embedded-store/3"
MANIFEST = "MANIFEST"
#: Segments whose live rows fall in one power-of-``MERGE_FACTOR`` tier are merged once there are this many.
MERGE_FACTOR = 8
#: A segment of at least this many rows is rewritten once half of them are dead.
REWRITE_DEAD_ROWS = 64


class InvalidFilterError(FilterError, ValueError):
    """A malformed filter: Haystack's ``FilterError``, and the ``ValueError`` its in-memory store raises."""


def validate_filters(filters: dict[str, Any]) -> None:
    """Refuse a malformed filter before any document is read, so a bad filter fails even on an empty store.

    :raises InvalidFilterError: when a key is missing or an operator is unknown.
    """
    if not isinstance(filters, dict):
        raise InvalidFilterError(f"a filter is a dict, not {type(filters).__name__}")
    if "field" in filters:
        for key in ("operator", "value"):
            if key not in filters:
                raise InvalidFilterError(f"'{key}' key missing in {filters}")
        if filters["operator"] not in COMPARISON_OPERATORS:
            raise InvalidFilterError(f"Unknown comparison operator '{filters['operator']}' in {filters}")
        return
    if "operator" not in filters:
        raise InvalidFilterError(f"'operator' key missing in {filters}")
    if "conditions" not in filters:
        raise InvalidFilterError(f"'conditions' key missing in {filters}")
    if str(filters["operator"]).upper() not in ("AND", "OR", "NOT"):
        raise InvalidFilterError(f"Unknown logical operator '{filters['operator']}' in {filters}")
    for condition in filters["conditions"]:
        validate_filters(condition)


def matches(filters: dict[str, Any], document: Document) -> bool:
    """Haystack's filter semantics, plus Elasticsearch's for list-valued fields.

    In Elasticsearch a condition on an array field (``meta.tags``) matches when any element matches;
    Haystack's in-memory filters compare the whole list. Needle's tag filters must behave the same on
    both stores, so list values are matched element by element here. ``NOT`` negates the conjunction of
    its conditions, as in Haystack and in Elasticsearch (``must_not`` of one ``must``).
    """
    if "field" not in filters:
        if "operator" not in filters or "conditions" not in filters:
            validate_filters(filters)  # raises, naming the missing key
        results = (matches(condition, document) for condition in filters["conditions"])
        operator = str(filters["operator"]).upper()
        if operator == "AND":
            return all(results)
        if operator == "OR":
            return any(results)
        if operator == "NOT":
            return not all(results)
        raise InvalidFilterError(f"Unknown logical operator '{filters['operator']}' in {filters}")
    field_name = filters["field"]
    value = document.meta.get(field_name.removeprefix("meta.")) if field_name.startswith("meta.") else None
    if isinstance(value, list) and filters.get("operator") in ("==", "in") and "value" in filters:
        compare = COMPARISON_OPERATORS[filters["operator"]]
        return any(compare(element, filters["value"], False) for element in value)
    return document_matches_filter(filters=filters, document=document)


@dataclass(frozen=True)
class _View:
    """What searches read: the segments in force, which of their rows are live, and corpus statistics.

    Never modified after it is published; a write publishes a new one.
    """

    version: int
    segments: tuple[Segment, ...] = ()
    live: tuple[np.ndarray | None, ...] = ()  # None: every row of the segment is live
    count: int = 0
    average_length: float = 0.0
    dimension: int | None = None
    centroids: Centroids | None = None  # set once the store is large enough to partition dense search
    inverted: tuple[Inverted | None, ...] = ()
    norms: dict[int, np.ndarray] = field(default_factory=dict, compare=False)  # see _length_norms

    def parts(self) -> Iterator[tuple[Segment, np.ndarray | None]]:
        return zip(self.segments, self.live, strict=True)


@dataclass
class _Change:
    """One write, before it is persisted: rows to add as a new segment, rows of existing segments that
    die (full dead-row masks per segment name), or everything cleared."""

    segment: Segment | None = None
    dead: dict[str, np.ndarray] = field(default_factory=dict)
    clear: bool = False


class EmbeddedDocumentStore(InMemoryDocumentStore):
    """An in-memory document store persisted under ``path``, with fast BM25 and dense search.

    :param path: a directory; created on first write.
    :param bm25_k1, bm25_b: BM25 parameters (Lucene's formula).
    :param title_weight: how many times ``meta.title`` is added to a chunk's BM25 text (0 leaves it out).
    :param refresh_seconds: how often searches check whether another process changed the store.
    :param partition_from: live embedded chunks from which dense search reads only the nearest
        partitions (:mod:`pipelines.stores.partitions`); below it every search is exact.
    """

    def __init__(
        self,
        path: str | Path,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        title_weight: int = 1,
        refresh_seconds: float = 0.25,
        partition_from: int = PARTITION_FROM,
    ) -> None:
        super().__init__(embedding_similarity_function="cosine", shared=False)
        self.partition_from = partition_from
        self.path = Path(path)
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.title_weight = title_weight
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        self._segments: dict[str, Segment] = {}  # loaded segments by name
        self._dead: dict[str, np.ndarray] = {}  # dead-row masks of the segments in force
        self._manifest: dict[str, Any] = {"version": 0, "segments": []}
        self._where: dict[str, tuple[Segment, int]] = {}  # live chunk id -> its segment and row
        self._by_source: dict[Any, set[str]] = {}  # source id -> live chunk ids
        self._centroids: Centroids | None = None
        self._assignments: dict[str, np.ndarray] = {}  # segment name -> partition of each row
        self._inverted: dict[str, Inverted | None] = {}
        self._view = _View(version=0)
        self._manifest_stat: tuple[int, int] | None = None
        self._checked_at = time.monotonic()
        if (self.path / MANIFEST).exists() or (self.path / "CURRENT").exists():
            with self._file_lock(shared=not self._needs_upgrade()):
                self._upgrade_if_needed()
                self._sync(self._read_manifest())

    # ------------------------------------------------------------------------------------------------
    # the manifest and the files it refers to
    # ------------------------------------------------------------------------------------------------
    @contextmanager
    def _file_lock(self, shared: bool = False) -> Iterator[None]:
        """Between processes: writers exclusive, loaders shared. Never nest two in one thread: the
        second ``flock`` on a new descriptor would wait for the first.

        A shared lock needs no write: on a filesystem that takes none (mounted read-only, full, another
        user's), ``LOCK`` is opened for reading, or, when it does not exist, reading goes on without it
        (no process can write there either). A write still needs ``LOCK`` opened for appending and fails
        with the filesystem's error (see :mod:`pipelines.base.disk_faults`)."""
        handle = self._open_lock_file(shared)
        if handle is None:
            yield
            return
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _open_lock_file(self, shared: bool) -> IO[str] | None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            return (self.path / "LOCK").open("a")
        except OSError as error:
            if not shared or disk_fault(error) is None:
                raise
        try:
            return (self.path / "LOCK").open("r")
        except FileNotFoundError:
            return None

    def _stat_manifest(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path / MANIFEST)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def _read_manifest(self) -> dict[str, Any]:
        """The manifest in force (an empty one before the first write). The caller holds a file lock."""
        self._manifest_stat = self._stat_manifest()
        try:
            manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 0, "segments": []}
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{self.path} holds a store of format {manifest.get('format')!r}, not {FORMAT}")
        return manifest

    def _sync(self, manifest: dict[str, Any]) -> None:
        """Make memory hold exactly ``manifest``: load the segments and dead-row files not seen yet, update
        the id lookups by difference, publish the new view. Costs what changed, not the corpus."""
        previous = {segment.name: (segment, alive) for segment, alive in self._view.parts()}
        segments: list[Segment] = []
        live: list[np.ndarray | None] = []
        dead: dict[str, np.ndarray] = {}
        for entry in manifest["segments"]:
            name = entry["name"]
            segment = self._segments.get(name)
            if segment is None:
                segment = Segment.load(self.path / name)
            segments.append(segment)
            mask = None
            if entry.get("deleted"):
                if self._manifest_entry(name).get("deleted") == entry["deleted"] and name in self._dead:
                    mask = self._dead[name]
                else:
                    mask = np.load(self.path / name / entry["deleted"])
                dead[name] = mask
            live.append(None if mask is None else ~mask)
        current = {segment.name: alive for segment, alive in zip(segments, live, strict=True)}
        # Forget rows that died or whose segment left, then learn rows that appeared.
        for name, (segment, old_live) in previous.items():
            if name in current and current[name] is None:
                continue  # still wholly live
            gone = _rows(old_live, len(segment))
            if name in current:
                gone = gone[~current[name][gone]]
            for row in gone:
                self._forget(segment, int(row))
        for segment, alive in zip(segments, live, strict=True):
            if segment.name not in previous:
                for row in _rows(alive, len(segment)):
                    self._learn(segment, int(row))
        self._segments = {segment.name: segment for segment in segments}
        self._dead = dead
        self._manifest = manifest
        self._sync_partitions(manifest, segments)
        self._view = self._build_view(manifest["version"], segments, live)

    def _sync_partitions(self, manifest: dict[str, Any], segments: list[Segment]) -> None:
        """Load the centroids and each segment's row assignments that ``manifest`` refers to."""
        name = manifest.get("centroids")
        if name is None:
            self._centroids = None
            self._assignments.clear()
            self._inverted.clear()
            return
        if self._centroids is None or self._centroids.name != name:
            self._centroids = Centroids.load(self.path, name)
            self._assignments.clear()
            self._inverted.clear()
        for segment in segments:
            if segment.name not in self._assignments:
                file = self.path / segment.name / f"assigned-{name}.npy"
                if file.exists():
                    self._assignments[segment.name] = np.load(file)
        known = {segment.name for segment in segments}
        for stale in [key for key in self._assignments if key not in known]:
            del self._assignments[stale]
            self._inverted.pop(stale, None)
        for segment in segments:
            if segment.name in self._assignments and segment.name not in self._inverted:
                self._inverted[segment.name] = Inverted.of(
                    self._assignments[segment.name], self._centroids.count
                )

    def _partition(
        self, entries: list[dict[str, Any]], dead: dict[str, np.ndarray]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Train centroids once the live embedded chunks reach ``PARTITION_FROM``, then rewrite every
        segment with its rows sorted by partition (once: later segments and merges are written sorted).
        Returns the entries in force after that, and the centroids' name (or None)."""
        centroids = self._centroids
        width = {
            self._segments[e["name"]].dimension
            for e in entries
            if self._segments[e["name"]].has_embedding.any()
        }
        if centroids is not None and width and width != {centroids.vectors.shape[1]}:
            # Every embedded chunk was deleted and another model's vectors came in: cluster those.
            centroids = self._centroids = None
            self._assignments.clear()
            self._inverted.clear()
        if centroids is None:
            pools = []
            for entry in entries:
                segment = self._segments[entry["name"]]
                usable = (
                    segment.has_embedding & ~dead[entry["name"]]
                    if entry["name"] in dead
                    else segment.has_embedding
                )
                if usable.any():
                    pools.append((segment, np.flatnonzero(usable)))
            total = sum(len(rows) for _, rows in pools)
            if total < self.partition_from:
                return entries, None
            started = time.perf_counter()
            rng = np.random.default_rng(0)
            picks = np.sort(rng.choice(total, min(TRAINING_SAMPLE, total), replace=False))
            sample, offset = [], 0
            for segment, rows in pools:
                inside = picks[(picks >= offset) & (picks < offset + len(rows))] - offset
                sample.append(segment.matrix[rows[inside]])
                offset += len(rows)
            centroids = Centroids.train(
                f"centroids-{time.time_ns()}", np.concatenate(sample), partition_count(total)
            )
            centroids.save(self.path)
            self._centroids = centroids
            self._assignments.clear()
            self._inverted.clear()
            logger.info(
                "partitioned dense search into %d parts in %.1f s",
                centroids.count,
                time.perf_counter() - started,
            )
        sorted_entries = []
        for entry in entries:
            name = entry["name"]
            segment = self._segments[name]
            if name not in self._assignments and segment.dimension == centroids.vectors.shape[1]:
                assignments = centroids.assign(segment.matrix)
                live = ~dead.pop(name) if name in dead else np.ones(len(segment), dtype=bool)
                kept = assignments[live]
                order = np.argsort(kept, kind="stable")
                segment = merge(f"seg-{time.time_ns()}", [(segment, live)], order)
                self._save_segment(segment)
                self._keep_assignments(segment.name, kept[order])
                entry = {"name": segment.name, "deleted": None}
            sorted_entries.append(entry)
        return sorted_entries, centroids.name

    def _keep_assignments(self, name: str, assignments: np.ndarray) -> None:
        """Save a segment's partition per row beside it (written before the manifest names it)."""
        assert self._centroids is not None
        with (self.path / name / f"assigned-{self._centroids.name}.npy").open("wb") as handle:
            np.save(handle, assignments)
            handle.flush()
            os.fsync(handle.fileno())
        self._assignments[name] = assignments

    def _manifest_entry(self, name: str) -> dict[str, Any]:
        return next((entry for entry in self._manifest["segments"] if entry["name"] == name), {})

    def _forget(self, segment: Segment, row: int) -> None:
        document = segment.documents[row]
        located = self._where.get(document.id)
        if located is not None and located[0].name == segment.name:
            del self._where[document.id]
            self.storage.pop(document.id, None)
            ids = self._by_source.get(document.meta.get("source_id"))
            if ids is not None:
                ids.discard(document.id)
                if not ids:
                    del self._by_source[document.meta.get("source_id")]

    def _learn(self, segment: Segment, row: int) -> None:
        document = segment.documents[row]
        self._where[document.id] = (segment, row)
        self.storage[document.id] = document
        self._by_source.setdefault(document.meta.get("source_id"), set()).add(document.id)

    def _build_view(self, version: int, segments: list[Segment], live: list[np.ndarray | None]) -> _View:
        count = 0
        total_length = 0
        dimension = None
        for segment, alive in zip(segments, live, strict=True):
            lengths = segment.postings.lengths
            count += len(segment) if alive is None else int(alive.sum())
            total_length += int(lengths.sum() if alive is None else lengths[alive].sum())
            embedded = segment.has_embedding if alive is None else segment.has_embedding & alive
            if segment.dimension and embedded.any():
                dimension = segment.dimension
        return _View(
            version=version,
            segments=tuple(segments),
            live=tuple(live),
            count=count,
            average_length=total_length / count if count else 0.0,
            dimension=dimension,
            centroids=self._centroids,
            inverted=tuple(self._inverted.get(segment.name) for segment in segments),
        )

    def _persist(self, change: _Change) -> dict[str, Any]:
        """Write ``change`` (a new segment, new dead-row files, merges) and switch ``MANIFEST`` to it in
        one atomic rename. Returns the new manifest; the caller holds the write locks."""
        self.path.mkdir(parents=True, exist_ok=True)
        version = int(self._manifest["version"]) + 1
        entries: list[dict[str, Any]] = []
        dead: dict[str, np.ndarray] = {}
        if change.clear:
            self._centroids = None
            self._assignments.clear()
            self._inverted.clear()
        else:
            for entry in self._manifest["segments"]:
                name = entry["name"]
                mask = change.dead.get(name, self._dead.get(name))
                if mask is not None and mask.all():
                    continue  # nothing live left: the segment leaves the manifest
                entries.append(dict(entry))
                if mask is not None:
                    dead[name] = mask
                    if name in change.dead:
                        entries[-1]["deleted"] = None  # written below
        if change.segment is not None:
            if not (self.path / change.segment.name).exists():
                self._save_segment(change.segment)
            entries.append({"name": change.segment.name, "deleted": None})
        entries = self._merge_where_due(entries, dead)
        entries, centroids = self._partition(entries, dead) if entries else (entries, None)
        for entry in entries:
            name = entry["name"]
            if name in dead and not entry["deleted"]:
                entry["deleted"] = f"deleted-{version}.npy"
                with (self.path / name / entry["deleted"]).open("wb") as handle:
                    np.save(handle, dead[name])
                    handle.flush()
                    os.fsync(handle.fileno())
        manifest = {"format": FORMAT, "version": version, "segments": entries, "centroids": centroids}
        write_atomically(self.path / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        self._manifest_stat = self._stat_manifest()
        self._remove_unreferenced(manifest)
        return manifest

    def _save_segment(self, segment: Segment) -> None:
        staging = self.path / f".{segment.name}.tmp"
        try:
            segment.save(staging)
            staging.rename(self.path / segment.name)
        except BaseException:  # a full disk: leave no half-written staging directory behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._segments[segment.name] = segment

    def _merge_where_due(
        self, entries: list[dict[str, Any]], dead: dict[str, np.ndarray]
    ) -> list[dict[str, Any]]:
        """Merge segments so that searches stay fast and dead rows are reclaimed: all segments of one
        size tier once it holds ``MERGE_FACTOR`` of them, and any sizeable segment that is mostly dead.
        Each chunk is rewritten about once per tier, so the cost per written chunk stays logarithmic."""
        while True:
            live_rows = {
                entry["name"]: len(self._segments[entry["name"]])
                - (int(dead[entry["name"]].sum()) if entry["name"] in dead else 0)
                for entry in entries
            }
            tiers: dict[int, list[str]] = {}
            for entry in entries:
                rows = live_rows[entry["name"]]
                tiers.setdefault(int(math.log(max(rows, 1), MERGE_FACTOR)), []).append(entry["name"])
            group = next((names for names in tiers.values() if len(names) >= MERGE_FACTOR), None)
            if group is None:
                group = next(
                    (
                        [name]
                        for name, mask in dead.items()
                        if len(mask) >= REWRITE_DEAD_ROWS
                        and mask.sum() * 2 >= len(mask)
                        and any(entry["name"] == name for entry in entries)
                    ),
                    None,
                )
            if group is None:
                return entries
            parts = [
                (
                    self._segments[name],
                    ~dead[name] if name in dead else np.ones(len(self._segments[name]), bool),
                )
                for name in group
            ]
            assignments = order = None
            if self._centroids is not None and all(name in self._assignments for name in group):
                assignments = np.concatenate(
                    [self._assignments[name][live] for name, (_, live) in zip(group, parts, strict=True)]
                )
                order = np.argsort(assignments, kind="stable")  # keep rows sorted by partition
            merged = merge(f"seg-{time.time_ns()}", parts, order)
            self._save_segment(merged)
            if assignments is not None and order is not None:
                self._keep_assignments(merged.name, assignments[order])
            logger.info("merged %d segments into %s (%d chunks)", len(group), merged.name, len(merged))
            first = next(index for index, entry in enumerate(entries) if entry["name"] in group)
            kept = [entry for entry in entries if entry["name"] not in group]
            kept.insert(first, {"name": merged.name, "deleted": None})
            for name in group:
                dead.pop(name, None)
            entries = kept

    def _remove_unreferenced(self, manifest: dict[str, Any]) -> None:
        """Files of earlier states: segments merged away or emptied, replaced dead-row files, staging
        directories of a write that crashed, and a pre-segment generation. Called under the write lock,
        so no reader (which holds the shared lock while loading) is reading them."""
        referenced = {entry["name"]: entry.get("deleted") for entry in manifest["segments"]}
        centroids = manifest.get("centroids")
        for path in self.path.iterdir():
            name = path.name
            if name in (MANIFEST, "LOCK") or name == f"{centroids}.npy":
                continue
            if name in referenced:
                for file in path.glob("deleted-*.npy"):
                    if file.name != referenced[name]:
                        file.unlink(missing_ok=True)
                for file in path.glob("assigned-*.npy"):
                    if file.name != f"assigned-{centroids}.npy":
                        file.unlink(missing_ok=True)
            elif path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif name.startswith(".") or name == "CURRENT" or name.startswith("centroids-"):
                path.unlink(missing_ok=True)

    def _needs_upgrade(self) -> bool:
        return not (self.path / MANIFEST).exists() and (self.path / "CURRENT").exists()

    def _upgrade_if_needed(self) -> None:
        """Convert a pre-segment store (``CURRENT`` naming one ``gen-*`` directory) into one segment."""
        if not self._needs_upgrade():
            return
        generation = self.path / (self.path / "CURRENT").read_text(encoding="utf-8").strip()
        started = time.perf_counter()
        documents, flags = read_documents(generation / "documents.jsonl")
        matrix = np.load(generation / "embeddings.npy")
        vectors = [matrix[row] if flag else None for row, flag in enumerate(flags)]
        segment = self._new_segment(documents, vectors, int(matrix.shape[1]) if flags.any() else 0)
        self._persist(_Change(segment=segment))
        logger.info(
            "converted %s (%d chunks) in %.1f s",
            generation.name,
            len(documents),
            time.perf_counter() - started,
        )

    def generation_files(self) -> dict[str, bytes]:
        """The bytes of every file in force (tests compare them to prove a rejection wrote nothing)."""
        if not (self.path / MANIFEST).exists():
            return {}
        files = {MANIFEST: (self.path / MANIFEST).read_bytes()}
        for entry in json.loads(files[MANIFEST])["segments"]:
            for path in sorted((self.path / entry["name"]).iterdir()):
                files[f"{entry['name']}/{path.name}"] = path.read_bytes()
        return files

    def segment_names(self) -> list[str]:
        """The segments in force, oldest first."""
        return [segment.name for segment in self._fresh_view().segments]

    # ------------------------------------------------------------------------------------------------
    # keeping up with other processes
    # ------------------------------------------------------------------------------------------------
    def _fresh_view(self) -> _View:
        """The view to search; first catches up when another process changed the manifest (checked at
        most once a ``refresh_seconds``, and only with a ``stat`` unless it changed)."""
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_seconds:
            self._checked_at = now
            if self._stat_manifest() != self._manifest_stat:
                with self._lock, self._file_lock(shared=True):
                    manifest = self._read_manifest()
                    if manifest["version"] != self._manifest["version"]:
                        self._sync(manifest)
        return self._view

    @contextmanager
    def _mutation(self) -> Iterator[None]:
        """Hold the write locks and catch up with the disk first (so a write builds on what another
        process wrote, never over it); if anything fails (a bad embedding, a full disk), bring memory
        back to the manifest in force, so memory never holds what the disk does not."""
        with self._lock, self._file_lock():
            try:
                self._upgrade_if_needed()
                manifest = self._read_manifest()
                if manifest["version"] != self._manifest["version"]:
                    self._sync(manifest)
                yield
            except Exception:
                logger.exception("store write failed; reverting to the saved state")
                manifest = self._read_manifest()
                self._sync(manifest)
                try:  # segments this write saved but never published: on a full disk, space matters
                    self._remove_unreferenced(manifest)
                except OSError:
                    logger.warning("could not remove the files of the failed write", exc_info=True)
                raise

    # ------------------------------------------------------------------------------------------------
    # mutations
    # ------------------------------------------------------------------------------------------------
    def _bm25_text(self, document: Document) -> str:
        title = str(document.meta.get("title") or "")
        return " ".join([title] * self.title_weight + [document.content or ""])

    def _new_segment(
        self, documents: list[Document], vectors: list[np.ndarray | None], dimension: int
    ) -> Segment:
        return Segment.build(
            f"seg-{time.time_ns()}",
            documents,
            vectors,
            dimension,
            [analyze(self._bm25_text(document)) for document in documents],
        )

    def _vector(self, document: Document, dimension: int | None) -> np.ndarray | None:
        """``document``'s embedding, L2-normalised; refuses another dimension than the store's."""
        if document.embedding is None:
            return None
        vector = np.asarray(document.embedding, dtype=np.float32)
        if dimension is not None and vector.shape[0] != dimension:
            raise ValueError(
                f"embedding has {vector.shape[0]} dimensions, the store holds {dimension}; "
                "re-index every source after changing the embedding model"
            )
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def _commit(self, added: dict[str, tuple[Document, np.ndarray | None]], removed: Iterable[str]) -> None:
        """Persist and publish one change: ``added`` chunks (by id, replacing any live chunk of that id)
        and ``removed`` chunk ids. The caller holds :meth:`_mutation`."""
        dead: dict[str, np.ndarray] = {}
        for document_id in {*removed, *added}:
            located = self._where.get(document_id)
            if located is None:
                continue
            segment, row = located
            if segment.name not in dead:
                previous = self._dead.get(segment.name)
                dead[segment.name] = (
                    previous.copy() if previous is not None else np.zeros(len(segment), dtype=bool)
                )
            dead[segment.name][row] = True
        if not added and not dead:
            return
        segment = None
        if added:
            dimension = self._view.dimension
            for _, vector in added.values():
                if vector is not None:
                    dimension = dimension or int(vector.shape[0])
            items = list(added.values())
            assignments = None
            if self._centroids is not None and dimension == self._centroids.vectors.shape[1]:
                stacked = np.zeros((len(items), dimension), dtype=np.float32)
                for row, (_, vector) in enumerate(items):
                    if vector is not None:
                        stacked[row] = vector
                assignments = self._centroids.assign(stacked)
                order = np.argsort(assignments, kind="stable")  # rows sorted by partition
                items, assignments = [items[int(row)] for row in order], assignments[order]
            documents = [
                Document(id=doc.id, content=doc.content, meta=dict(doc.meta), blob=doc.blob)
                for doc, _ in items
            ]
            segment = self._new_segment(documents, [vector for _, vector in items], dimension or 0)
            if assignments is not None:
                self._save_segment(segment)
                self._keep_assignments(segment.name, assignments)
        self._sync(self._persist(_Change(segment=segment, dead=dead)))

    def _prepared(self, documents: Iterable[Document]) -> Iterator[tuple[Document, np.ndarray | None]]:
        """Each document with its normalised vector, every dimension checked before anything is written
        (the first vector sets the dimension of an empty store)."""
        dimension = self._view.dimension
        for document in documents:
            vector = self._vector(document, dimension)
            if vector is not None:
                dimension = int(vector.shape[0])
            yield document, vector

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """Write and persist ``documents``; ``DuplicatePolicy.NONE`` means ``FAIL``. All or nothing.

        :raises ValueError: when ``documents`` is not a list of Documents, or an embedding has another
            dimension than the store's.
        :raises DuplicateDocumentError: for an existing id under ``FAIL``/``NONE``.
        """
        if (
            not isinstance(documents, Iterable)
            or isinstance(documents, str)
            or not all(isinstance(doc, Document) for doc in documents)
        ):
            raise ValueError("Please provide a list of Documents.")
        with self._mutation():
            added: dict[str, tuple[Document, np.ndarray | None]] = {}
            for document, vector in self._prepared(documents):
                exists = document.id in self._where or document.id in added
                if exists and policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                    raise DuplicateDocumentError(f"ID '{document.id}' already exists.")
                if exists and policy == DuplicatePolicy.SKIP:
                    continue
                added[document.id] = (document, vector)
            self._commit(added, ())
            return len(added)

    def delete_documents(self, document_ids: list[str]) -> None:
        with self._mutation():
            self._commit({}, document_ids)

    def delete_all_documents(self) -> None:
        with self._mutation():
            if self._manifest["segments"] or not (self.path / MANIFEST).exists():
                self._sync(self._persist(_Change(clear=True)))

    def _matching_ids(self, filters: dict[str, Any]) -> list[str]:
        """Live chunk ids matching ``filters``; a source-id filter is answered from the source index."""
        if filters.get("field") == "meta.source_id" and filters.get("operator") == "==":
            return sorted(self._by_source.get(filters.get("value"), ()))
        return [doc.id for doc in self._filtered(self._view, filters)]

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """Merge ``meta`` into the metadata of every document matching ``filters``, and persist.

        The filter is matched under the write lock after catching up with other processes, with the same
        semantics as ``filter_documents``. Documents are replaced (written again with their embeddings),
        never edited in place: a search running on the previous view keeps seeing the previous metadata.

        :returns: how many documents matched.
        :raises InvalidFilterError: (a ``ValueError``) for a malformed filter; nothing changes.
        """
        validate_filters(filters)
        with self._mutation():
            added: dict[str, tuple[Document, np.ndarray | None]] = {}
            for document_id in self._matching_ids(filters):
                segment, row = self._where[document_id]
                doc = segment.documents[row]
                vector = segment.matrix[row] if segment.has_embedding[row] else None
                added[doc.id] = (
                    Document(id=doc.id, content=doc.content, meta={**doc.meta, **meta}, blob=doc.blob),
                    vector,
                )
            self._commit(added, ())
            return len(added)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete every document matching ``filters``, and persist; matched as in ``update_by_filter``.

        :returns: how many documents were deleted.
        :raises InvalidFilterError: (a ``ValueError``) for a malformed filter; nothing changes.
        """
        validate_filters(filters)
        with self._mutation():
            matching = self._matching_ids(filters)
            self._commit({}, matching)
            return len(matching)

    def replace_sources(self, groups: dict[str, list[Document]]) -> int:
        """Make each group the only chunks of its source id, for all groups in one persisted step."""
        with self._mutation():
            added = {
                document.id: (document, vector)
                for document, vector in self._prepared(doc for docs in groups.values() for doc in docs)
            }
            stale = [doc_id for source_id in groups for doc_id in self._by_source.get(source_id, ())]
            self._commit(added, stale)
            return len(added)

    def replace_source(self, source_id: str, documents: list[Document]) -> int:
        return self.replace_sources({source_id: documents})

    # ------------------------------------------------------------------------------------------------
    # reads
    # ------------------------------------------------------------------------------------------------
    @staticmethod
    def _allowed(
        segment: Segment, alive: np.ndarray | None, filters: dict[str, Any] | None
    ) -> np.ndarray | None:
        """Rows of ``segment`` that are live and pass ``filters``; None when that is every row."""
        if not filters:
            return alive
        key = json.dumps(filters, sort_keys=True, default=str)
        passing = segment.mask(key, lambda document: matches(filters, document))
        return passing if alive is None else passing & alive

    def _filtered(self, view: _View, filters: dict[str, Any] | None) -> Iterator[Document]:
        for segment, alive in view.parts():
            allowed = self._allowed(segment, alive, filters)
            if allowed is None:
                yield from segment.documents
            else:
                yield from (segment.documents[int(row)] for row in np.flatnonzero(allowed))

    def count_documents(self) -> int:
        return self._fresh_view().count

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching ``filters`` (all without), without embeddings (see ``embeddings_for``).

        :raises InvalidFilterError: (a ``ValueError`` and a Haystack ``FilterError``) for a malformed filter.
        """
        view = self._fresh_view()
        if filters:
            validate_filters(filters)
        return list(self._filtered(view, filters))

    # Haystack's metadata reads iterate ``self.storage``, which a write in another thread may be changing
    # and which lags behind other processes; these read the published view, with Needle's filters.
    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        return len(self.filter_documents(filters))

    def count_unique_metadata_by_filter(
        self, filters: dict[str, Any], metadata_fields: list[str]
    ) -> dict[str, int]:
        documents = self.filter_documents(filters)
        result: dict[str, int] = {}
        for name in metadata_fields:
            key = name.removeprefix("meta.")
            result[key] = len(
                {
                    json.dumps(doc.meta[key], sort_keys=True, default=str)
                    for doc in documents
                    if doc.meta.get(key) is not None
                }
            )
        return result

    def get_metadata_fields_info(self) -> dict[str, dict[str, str]]:
        types: dict[str, str] = {}
        for document in self.filter_documents():
            for key, value in document.meta.items():
                if value is None:
                    continue
                if isinstance(value, bool):
                    types[key] = "boolean"
                elif isinstance(value, int):
                    types[key] = "int"
                elif isinstance(value, float):
                    types[key] = "float"
                else:
                    types[key] = "keyword"
        return {key: {"type": kind} for key, kind in types.items()}

    def get_metadata_field_min_max(self, metadata_field: str) -> dict[str, Any]:
        key = metadata_field.removeprefix("meta.")
        values = [
            doc.meta[key]
            for doc in self.filter_documents()
            if isinstance(doc.meta.get(key), (int, float, str))
        ]
        try:
            return {"min": min(values), "max": max(values)} if values else {"min": None, "max": None}
        except TypeError:
            return {"min": None, "max": None}

    async def count_documents_async(self) -> int:
        return self.count_documents()

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """BM25 (Lucene variant) over stemmed English and CJK bigrams; only chunks sharing a term score.

        Document frequencies, the document count and the average length are those of the live chunks of
        all segments, so scores equal those of a single index over the corpus.
        """
        view = self._fresh_view()
        if not view.count:
            return []
        scores: list[np.ndarray | None] = [None] * len(view.segments)
        for term, repeats in Counter(analyze(query)).items():
            postings: list[tuple[int, np.ndarray, np.ndarray]] = []
            frequency = 0
            for index, (segment, alive) in enumerate(view.parts()):
                found = segment.postings.of(term)
                if found is None:
                    continue
                rows, tfs = found
                if alive is not None:
                    keep = alive[rows]
                    rows, tfs = rows[keep], tfs[keep]
                if len(rows):
                    postings.append((index, rows, tfs))
                    frequency += len(rows)
            if not frequency:
                continue
            idf = np.float32(math.log(1 + (view.count - frequency + 0.5) / (frequency + 0.5)))
            weight = idf * np.float32(repeats)
            for index, rows, tfs in postings:
                # weight * tf / (norm + tf), computed in place: at a million chunks a common term's
                # posting list is hundreds of thousands long, and allocations are half the cost.
                contribution = tfs.astype(np.float32)
                denominator = self._length_norms(view, index).take(rows)
                denominator += contribution
                np.divide(contribution, denominator, out=contribution)
                contribution *= weight
                if scores[index] is None:
                    scores[index] = np.zeros(len(view.segments[index]), dtype=np.float32)
                scores[index][rows] += contribution  # rows of one posting list are distinct
        candidates = []
        for index, (segment, alive) in enumerate(view.parts()):
            segment_scores = scores[index]
            if segment_scores is None:
                continue
            allowed = self._allowed(segment, alive, filters)
            if allowed is not None:
                segment_scores = np.where(allowed, segment_scores, np.float32(0))
            rows, best = _best(np.arange(len(segment_scores)), segment_scores, top_k)
            candidates.append((index, rows[best > 0], best[best > 0]))
        results = []
        for index, row, score in _top(candidates, top_k):
            value = float(score)
            if scale_score:
                value = float(1 / (1 + np.exp(-value / 8)))
            results.append(self._result(view.segments[index].documents[row], value))
        return results

    def _length_norms(self, view: _View, index: int) -> np.ndarray:
        """BM25's length normalisation ``k1 * (1 - b + b * length / average)`` of every row of a segment,
        computed once per view (the average changes with every write)."""
        norms = view.norms.get(index)
        if norms is None:
            lengths = view.segments[index].postings.lengths
            norms = (self.bm25_k1 * ((1 - self.bm25_b) + self.bm25_b * lengths / view.average_length)).astype(
                np.float32
            )
            view.norms[index] = norms
        return norms

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """Cosine similarity with every live (filtered) chunk: one matrix-vector product per segment."""
        if not query_embedding:
            raise ValueError("query_embedding should be a non-empty list of floats")
        view = self._fresh_view()
        if view.dimension is None:
            return []
        query = np.asarray(query_embedding, dtype=np.float32)
        if query.shape[0] != view.dimension:
            raise ValueError(
                f"query embedding has {query.shape[0]} dimensions, the store holds {view.dimension}"
            )
        query = query / (np.linalg.norm(query) or 1.0)
        probe = None if view.centroids is None else view.centroids.probe(query)
        candidates = []
        for index, (segment, alive) in enumerate(view.parts()):
            if segment.dimension != view.dimension:
                continue  # a segment whose rows have no embeddings
            allowed = self._allowed(segment, alive, filters)
            allowed = segment.has_embedding if allowed is None else allowed & segment.has_embedding
            inverted = view.inverted[index] if probe is not None else None
            if inverted is None or len(segment) < SCAN_BELOW:
                rows = np.flatnonzero(allowed)
                scores = segment.matrix @ query
                scores = scores if len(rows) == len(segment) else scores[rows]
            elif int(allowed.sum()) > 2 * PROBE_FRACTION * len(segment):
                ranges = inverted.ranges(probe)  # the nearest partitions only, as views of the matrix
                rows = np.concatenate([np.arange(start, end) for start, end in ranges] or [np.zeros(0, int)])
                scores = np.concatenate(
                    [segment.matrix[start:end] @ query for start, end in ranges] or [np.zeros(0, np.float32)]
                )
                keep = allowed[rows]
                rows, scores = rows[keep], scores[keep]
            else:  # a narrow filter: scanning the rows it allows is cheaper, and exact
                rows = np.flatnonzero(allowed)
                scores = segment.matrix[rows] @ query
            candidates.append((index, *_best(rows, scores, top_k)))
        results = []
        for index, row, score in _top(candidates, top_k):
            segment = view.segments[index]
            value = (float(score) + 1) / 2 if scale_score else float(score)
            embedding = segment.matrix[row].tolist() if return_embedding else None
            results.append(self._result(segment.documents[row], value, embedding))
        return results

    @staticmethod
    def _result(document: Document, score: float, embedding: list[float] | None = None) -> Document:
        return Document(
            id=document.id, content=document.content, meta=document.meta, score=score, embedding=embedding
        )

    def embeddings_for(self, document_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored (normalised) embeddings of live chunks, by id; chunks without one are left out."""
        self._fresh_view()
        found = {}
        for document_id in document_ids:
            located = self._where.get(document_id)
            if located is not None and located[0].has_embedding[located[1]]:
                found[document_id] = located[0].matrix[located[1]]
        return found

    # ------------------------------------------------------------------------------------------------
    # serialization
    # ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            path=str(self.path),
            bm25_k1=self.bm25_k1,
            bm25_b=self.bm25_b,
            title_weight=self.title_weight,
            partition_from=self.partition_from,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddedDocumentStore:
        return default_from_dict(cls, data)


def _rows(alive: np.ndarray | None, size: int) -> np.ndarray:
    """Row numbers that are live (all of them for None)."""
    return np.arange(size) if alive is None else np.flatnonzero(alive)


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of one segment's candidates, still in row order: the global top ``k`` is among
    the segments' own, so only those are gathered across segments."""
    if len(scores) <= k:
        return rows, scores
    best = np.sort(np.argpartition(-scores, k - 1)[:k])
    return rows[best], scores[best]


def _top(candidates: list[tuple[int, np.ndarray, np.ndarray]], k: int) -> list[tuple[int, int, float]]:
    """The ``k`` best (segment, row, score) over per-segment candidates, best first; ties keep store
    order."""
    if not candidates or k <= 0:
        return []
    segment_ids = np.concatenate(
        [np.full(len(scores), index, dtype=np.int64) for index, _, scores in candidates]
    )
    rows = np.concatenate([rows for _, rows, _ in candidates])
    scores = np.concatenate([scores for _, _, scores in candidates])
    if not len(scores):
        return []
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(segment_ids[i]), int(rows[i]), float(scores[i])) for i in top]

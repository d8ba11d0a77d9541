"""The embedded document store: Haystack's in-memory store interface, with search fast enough for 100k chunks.

Haystack's ``InMemoryDocumentStore`` scores BM25 in Python over every document and compares embeddings one
by one: about 1.3 s and 2.4 s per query at 100,000 chunks. This subclass keeps the same interface (so
Haystack's ``InMemoryBM25Retriever`` and ``InMemoryEmbeddingRetriever`` use it unchanged) but searches
immutable snapshots: a ``bm25s`` sparse index over analysed text (stemmed English, CJK bigrams) and one
contiguous, L2-normalised float32 matrix of embeddings. Snapshots are rebuilt after each write, under the
write lock, so queries never wait for an index build and never see half a write.

Persistence: each write saves a new *generation* directory (``documents.jsonl`` and ``embeddings.npy``)
and then atomically points ``CURRENT`` at it. A process killed mid-ingest leaves the previous generation
in force, never half a source.

Every public method that changes data (``write_documents``, ``delete_documents``, ``delete_all_documents``,
``update_by_filter``, ``delete_by_filter``, ``replace_sources`` and Haystack's ``*_async`` wrappers, which
call them) goes through one path: take the locks, catch up with the disk, change memory, persist a new
generation, publish the new snapshot; if anything fails, memory is reloaded from the generation in force.
Haystack's shared document-store suite runs against this store (``tests/core/test_store_suite.py``).

Several processes may share the directory (``needle serve`` running while ``needle ingest`` adds files
from a terminal). A write holds an exclusive lock on ``LOCK`` and first catches up with any generation
another process wrote, so it never persists a stale copy over someone else's sources; loading holds a
shared lock, so a generation is not deleted while it is read; and readers look at ``CURRENT`` at most
once a ``refresh_seconds`` and reload when it moved.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from haystack import Document, default_from_dict, default_to_dict
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError
from haystack.utils.filters import COMPARISON_OPERATORS, document_matches_filter

from pipelines.analysis import analyze

logger = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG through its own handler; an index build is not news.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FORMAT = "needle-embedded-store/2"


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


@dataclass
class _Snapshot:
    """Search structures for one state of the store; never modified after it is built."""

    documents: list[Document]
    matrix: np.ndarray  # (n, dim) float32, rows L2-normalised; zero rows for chunks without embeddings
    bm25: bm25s.BM25 | None
    masks: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    masks_lock: threading.Lock = field(default_factory=threading.Lock)

    def mask(self, filters: dict[str, Any] | None) -> np.ndarray | None:
        """Which rows pass ``filters`` (cached: per-channel filters repeat on every question)."""
        if not filters:
            return None
        key = json.dumps(filters, sort_keys=True, default=str)
        with self.masks_lock:
            cached = self.masks.get(key)
        if cached is None:
            cached = np.fromiter(
                (matches(filters, doc) for doc in self.documents), dtype=bool, count=len(self.documents)
            )
            with self.masks_lock:
                self.masks[key] = cached
                while len(self.masks) > 64:
                    self.masks.popitem(last=False)
        return cached


class EmbeddedDocumentStore(InMemoryDocumentStore):
    """An in-memory document store persisted under ``path``, with fast BM25 and dense search.

    :param path: a directory; created on first write.
    :param bm25_k1, bm25_b: BM25 parameters (Lucene's formula).
    :param title_weight: how many times ``meta.title`` is added to a chunk's BM25 text (0 leaves it out).
    :param refresh_seconds: how often searches check whether another process switched generations.
    """

    def __init__(
        self,
        path: str | Path,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        title_weight: int = 1,
        refresh_seconds: float = 1.0,
    ) -> None:
        super().__init__(embedding_similarity_function="cosine", shared=False)
        self.path = Path(path)
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.title_weight = title_weight
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        self._embeddings: dict[str, np.ndarray] = {}
        self._dimension: int | None = None
        self._loaded: str | None = None  # the generation this process holds in memory
        self._checked_at = time.monotonic()
        self._snapshot = self._build_snapshot()
        if self._generation_on_disk() is not None:
            with self._file_lock(shared=True):
                self._reload()

    # ------------------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------------------
    def _generation_on_disk(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _current_generation(self) -> Path | None:
        name = self._generation_on_disk()
        return None if name is None else self.path / name

    @contextmanager
    def _file_lock(self, shared: bool = False) -> Iterator[None]:
        """Between processes: writers exclusive, loaders shared. Never nest two in one thread: the
        second ``flock`` on a new descriptor would wait for the first."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "LOCK").open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _load(self) -> None:
        generation = self._current_generation()
        assert generation is not None
        started = time.perf_counter()
        with (generation / "documents.jsonl").open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        matrix = np.load(generation / "embeddings.npy") if (generation / "embeddings.npy").exists() else None
        for row, record in enumerate(records):
            has_embedding = record.pop("has_embedding", False)
            document = Document.from_dict(record)
            self.storage[document.id] = document
            if has_embedding and matrix is not None:
                self._embeddings[document.id] = matrix[row]
        if matrix is not None and matrix.size:
            self._dimension = int(matrix.shape[1])
        self._snapshot = self._build_snapshot()
        self._loaded = generation.name
        logger.info("loaded %d chunks in %.1f s", len(records), time.perf_counter() - started)

    def _persist(self, snapshot: _Snapshot) -> None:
        """Write ``snapshot`` as a new generation, then switch ``CURRENT`` to it in one atomic rename."""
        self.path.mkdir(parents=True, exist_ok=True)
        previous = self._current_generation()
        name = f"gen-{time.time_ns()}"
        staging = self.path / f".{name}.tmp"
        staging.mkdir()
        documents = snapshot.documents
        with (staging / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for document in documents:
                record = document.to_dict(flatten=False)
                record.pop("embedding", None)
                record["has_embedding"] = document.id in self._embeddings
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with (staging / "embeddings.npy").open("wb") as handle:
            np.save(handle, snapshot.matrix)
            handle.flush()
            os.fsync(handle.fileno())
        staging.rename(self.path / name)
        pointer = self.path / ".CURRENT.tmp"
        pointer.write_text(name, encoding="utf-8")
        os.replace(pointer, self.path / "CURRENT")
        _fsync_directory(self.path)
        self._loaded = name
        if previous is not None and previous.exists():
            shutil.rmtree(previous, ignore_errors=True)

    def generation_files(self) -> dict[str, bytes]:
        """The bytes of the generation in force (tests compare them to prove a rejection wrote nothing)."""
        generation = self._current_generation()
        if generation is None:
            return {}
        return {path.name: path.read_bytes() for path in sorted(generation.iterdir())}

    # ------------------------------------------------------------------------------------------------
    # snapshots
    # ------------------------------------------------------------------------------------------------
    def _bm25_text(self, document: Document) -> str:
        title = str(document.meta.get("title") or "")
        return " ".join([title] * self.title_weight + [document.content or ""])

    def _build_snapshot(self) -> _Snapshot:
        documents = list(self.storage.values())
        dimension = self._dimension or 0
        matrix = np.zeros((len(documents), dimension), dtype=np.float32)
        for row, document in enumerate(documents):
            vector = self._embeddings.get(document.id)
            if vector is not None:
                matrix[row] = vector
        bm25 = None
        if documents:
            bm25 = bm25s.BM25(k1=self.bm25_k1, b=self.bm25_b, method="lucene")
            bm25.index([analyze(self._bm25_text(doc)) for doc in documents], show_progress=False)
        return _Snapshot(documents=documents, matrix=matrix, bm25=bm25)

    def _commit(self) -> None:
        """After a mutation: build the new search structures, persist them, then publish them."""
        if not self._embeddings:
            self._dimension = None  # an emptied store accepts another embedding model's vectors
        snapshot = self._build_snapshot()
        self._persist(snapshot)
        self._snapshot = snapshot

    @contextmanager
    def _mutation(self) -> Iterator[None]:
        """Hold the write locks; if anything fails (a bad embedding, a full disk), reload the generation
        still in force, so memory never holds what the disk does not."""
        with self._lock, self._file_lock():
            try:
                if self._generation_on_disk() != self._loaded:
                    self._reload()  # another process wrote since: build on its sources, not over them
                yield
            except Exception:
                logger.exception("store write failed; reverting to the saved state")
                self._reload()
                raise

    def _reload(self) -> None:
        """Memory := the generation in force. The caller holds a file lock."""
        self.storage.clear()
        self._embeddings.clear()
        self._dimension = None
        if self._current_generation() is not None:
            self._load()
        else:
            self._snapshot = self._build_snapshot()
            self._loaded = None

    def _fresh_snapshot(self) -> _Snapshot:
        """The snapshot to search; reloaded first when another process has switched generations."""
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_seconds:
            self._checked_at = now
            if self._generation_on_disk() != self._loaded:
                with self._lock:
                    if self._generation_on_disk() != self._loaded:
                        with self._file_lock(shared=True):
                            self._reload()
        return self._snapshot

    # ------------------------------------------------------------------------------------------------
    # mutations
    # ------------------------------------------------------------------------------------------------
    def _put(self, document: Document) -> None:
        if document.embedding is not None:
            vector = np.asarray(document.embedding, dtype=np.float32)
            if self._dimension is None:
                self._dimension = int(vector.shape[0])
            elif vector.shape[0] != self._dimension:
                raise ValueError(
                    f"embedding has {vector.shape[0]} dimensions, the store holds {self._dimension}; "
                    "re-index every source after changing the embedding model"
                )
            norm = float(np.linalg.norm(vector))
            self._embeddings[document.id] = vector / norm if norm else vector
        else:
            self._embeddings.pop(document.id, None)
        stored = Document(
            id=document.id, content=document.content, meta=dict(document.meta), blob=document.blob
        )
        self.storage[document.id] = stored

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
            written = 0
            for document in documents:
                if document.id in self.storage and policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                    raise DuplicateDocumentError(f"ID '{document.id}' already exists.")
                if document.id in self.storage and policy == DuplicatePolicy.SKIP:
                    continue
                self._put(document)
                written += 1
            if written:
                self._commit()
            return written

    def delete_documents(self, document_ids: list[str]) -> None:
        with self._mutation():
            removed = False
            for document_id in document_ids:
                removed |= self.storage.pop(document_id, None) is not None
                self._embeddings.pop(document_id, None)
            if removed:
                self._commit()

    def delete_all_documents(self) -> None:
        with self._mutation():
            self.storage.clear()
            self._embeddings.clear()
            self._commit()

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """Merge ``meta`` into the metadata of every document matching ``filters``, and persist.

        The filter is matched under the write lock after catching up with other processes, with the same
        semantics as ``filter_documents``. Documents are replaced, never edited in place: a search running
        on the previous snapshot keeps seeing the previous metadata.

        :returns: how many documents matched.
        :raises InvalidFilterError: (a ``ValueError``) for a malformed filter; nothing changes.
        """
        validate_filters(filters)
        with self._mutation():
            matching = [doc for doc in self.storage.values() if matches(filters, doc)]
            for doc in matching:
                self.storage[doc.id] = Document(
                    id=doc.id, content=doc.content, meta={**doc.meta, **meta}, blob=doc.blob
                )
            if matching:
                self._commit()
            return len(matching)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete every document matching ``filters``, and persist; matched as in ``update_by_filter``.

        :returns: how many documents were deleted.
        :raises InvalidFilterError: (a ``ValueError``) for a malformed filter; nothing changes.
        """
        validate_filters(filters)
        with self._mutation():
            matching = [doc_id for doc_id, doc in self.storage.items() if matches(filters, doc)]
            for doc_id in matching:
                del self.storage[doc_id]
                self._embeddings.pop(doc_id, None)
            if matching:
                self._commit()
            return len(matching)

    def replace_sources(self, groups: dict[str, list[Document]]) -> int:
        """Make each group the only chunks of its source id, for all groups in one persisted step."""
        with self._mutation():
            new_ids = {doc.id for documents in groups.values() for doc in documents}
            stale = [
                doc_id
                for doc_id, doc in self.storage.items()
                if doc.meta.get("source_id") in groups and doc_id not in new_ids
            ]
            for doc_id in stale:
                del self.storage[doc_id]
                self._embeddings.pop(doc_id, None)
            written = 0
            for documents in groups.values():
                for document in documents:
                    self._put(document)
                    written += 1
            self._commit()
            return written

    def replace_source(self, source_id: str, documents: list[Document]) -> int:
        return self.replace_sources({source_id: documents})

    # ------------------------------------------------------------------------------------------------
    # reads
    # ------------------------------------------------------------------------------------------------
    def count_documents(self) -> int:
        return len(self._fresh_snapshot().documents)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching ``filters`` (all without), without embeddings (see ``embeddings_for``).

        :raises InvalidFilterError: (a ``ValueError`` and a Haystack ``FilterError``) for a malformed filter.
        """
        documents = self._fresh_snapshot().documents
        if not filters:
            return list(documents)
        validate_filters(filters)
        return [doc for doc in documents if matches(filters, doc)]

    # Haystack's metadata reads iterate ``self.storage``, which a write in another thread may be changing
    # and which lags behind other processes; these read the published snapshot, with Needle's filters.
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
        """BM25 (Lucene variant) over stemmed English and CJK bigrams; only chunks sharing a term score."""
        snapshot = self._fresh_snapshot()
        if snapshot.bm25 is None:
            return []
        vocabulary = snapshot.bm25.vocab_dict or {}
        tokens = [token for token in analyze(query) if token in vocabulary]
        if not tokens:
            return []
        mask = snapshot.mask(filters)
        k = min(top_k, len(snapshot.documents))
        indices, scores = snapshot.bm25.retrieve(
            [tokens],
            k=k,
            show_progress=False,
            n_threads=1,
            weight_mask=None if mask is None else mask.astype(np.float32),
        )
        results = []
        for index, score in zip(indices[0], scores[0], strict=True):
            if score <= 0:
                continue
            value = float(score)
            if scale_score:
                value = float(1 / (1 + np.exp(-value / 8)))
            results.append(self._result(snapshot.documents[int(index)], value))
        return results

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """Cosine similarity with every (filtered) chunk as one matrix-vector product."""
        if not query_embedding:
            raise ValueError("query_embedding should be a non-empty list of floats")
        snapshot = self._fresh_snapshot()
        if not snapshot.documents or snapshot.matrix.shape[1] == 0:
            return []
        query = np.asarray(query_embedding, dtype=np.float32)
        if query.shape[0] != snapshot.matrix.shape[1]:
            raise ValueError(
                f"query embedding has {query.shape[0]} dimensions, the store holds {snapshot.matrix.shape[1]}"
            )
        query = query / (np.linalg.norm(query) or 1.0)
        scores = snapshot.matrix @ query
        mask = snapshot.mask(filters)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        k = min(top_k, scores.shape[0])
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        results = []
        for index in top:
            score = float(scores[index])
            if score == -np.inf:
                break
            document = snapshot.documents[int(index)]
            if document.id not in self._embeddings:
                continue
            value = (score + 1) / 2 if scale_score else score
            embedding = self._embeddings[document.id].tolist() if return_embedding else None
            results.append(self._result(document, value, embedding))
        return results

    @staticmethod
    def _result(document: Document, score: float, embedding: list[float] | None = None) -> Document:
        return Document(
            id=document.id, content=document.content, meta=document.meta, score=score, embedding=embedding
        )

    def embeddings_for(self, document_ids: Iterable[str]) -> dict[str, np.ndarray]:
        return {doc_id: self._embeddings[doc_id] for doc_id in document_ids if doc_id in self._embeddings}

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
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddedDocumentStore:
        return default_from_dict(cls, data)


def _fsync_directory(path: Path) -> None:
    """Make a rename durable: on Linux a rename is only on disk once its directory is synced."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)

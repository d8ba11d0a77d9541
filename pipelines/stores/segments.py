"""Immutable segments of the embedded store: a batch of chunks with its term postings and embeddings.

A write adds one segment (in proportion to what was written), a delete marks rows of existing segments
dead, and merging rewrites a few segments as one. Nothing in a segment changes after it is built, so a
search can read it without a lock while a writer prepares the next state, and another process loads
only the segments it has not seen yet. This is the layout Lucene uses, in numpy.

BM25 statistics (document count, document frequencies, average length) are computed at query time over
the live rows of every segment, so the scores are exactly those of one index over the whole corpus
(Lucene's BM25 formula, as ``bm25s`` computes it): adding a segment never requires re-scoring the others.

On disk a segment is a directory of ``documents.jsonl`` (chunks without embeddings), ``embeddings.npy``
(rows L2-normalised; zero rows where a chunk has none), ``terms.json`` and ``postings.npz`` (term-major
posting lists: rows and term frequencies, plus each row's length in terms).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document

#: Term frequencies are stored as uint16; a term repeated more often in one chunk counts this many times.
MAX_TF = 65_535


@dataclass
class Postings:
    """Term-major posting lists of one segment: ``rows[indptr[t]:indptr[t + 1]]`` contain term ``t``."""

    terms: dict[str, int]
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32
    tfs: np.ndarray  # uint16
    lengths: np.ndarray  # int32, one per row: its number of terms

    def of(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, term frequencies) of ``term`` in this segment, or None when no row contains it."""
        column = self.terms.get(term)
        if column is None:
            return None
        start, end = self.indptr[column], self.indptr[column + 1]
        return self.rows[start:end], self.tfs[start:end]

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> Postings:
        """Postings of analysed rows (one token list per row, in row order)."""
        terms: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.zeros(len(token_lists), dtype=np.int32)
        for row, tokens in enumerate(token_lists):
            lengths[row] = len(tokens)
            term_ids.extend(terms.setdefault(token, len(terms)) for token in tokens)
        row_ids = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
        return cls.from_pairs(terms, np.asarray(term_ids, dtype=np.int64), row_ids, None, lengths)

    @classmethod
    def from_pairs(
        cls,
        terms: dict[str, int],
        term_ids: np.ndarray,
        row_ids: np.ndarray,
        counts: np.ndarray | None,
        lengths: np.ndarray,
    ) -> Postings:
        """Postings from (term, row[, count]) pairs in any order; repeated pairs add up."""
        n_rows = max(len(lengths), 1)
        keys = term_ids.astype(np.int64) * n_rows + row_ids.astype(np.int64)
        if counts is None:
            unique, tfs = np.unique(keys, return_counts=True)
        else:
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
            unique, starts = np.unique(keys, return_index=True)
            tfs = np.add.reduceat(counts.astype(np.int64), starts) if len(keys) else np.zeros(0, np.int64)
        columns = unique // n_rows
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=len(terms)), out=indptr[1:])
        return cls(
            terms=terms,
            indptr=indptr,
            rows=(unique % n_rows).astype(np.int32),
            tfs=np.minimum(tfs, MAX_TF).astype(np.uint16),
            lengths=lengths.astype(np.int32),
        )

    def save(self, directory: Path) -> None:
        vocabulary = sorted(self.terms, key=self.terms.__getitem__)
        _write_synced(directory / "terms.json", json.dumps(vocabulary, ensure_ascii=False).encode("utf-8"))
        with (directory / "postings.npz").open("wb") as handle:
            np.savez(handle, indptr=self.indptr, rows=self.rows, tfs=self.tfs, lengths=self.lengths)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, directory: Path) -> Postings:
        vocabulary = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        with np.load(directory / "postings.npz") as arrays:
            return cls(
                terms={term: index for index, term in enumerate(vocabulary)},
                indptr=arrays["indptr"],
                rows=arrays["rows"],
                tfs=arrays["tfs"],
                lengths=arrays["lengths"],
            )


@dataclass
class Segment:
    """One immutable batch of chunks. ``matrix`` has zero columns when no chunk has an embedding."""

    name: str
    documents: list[Document]
    matrix: np.ndarray  # (rows, dim) float32, L2-normalised
    has_embedding: np.ndarray  # bool per row
    postings: Postings
    masks: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    masks_lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[1])

    def mask(self, key: str, matches: Callable[[Document], bool]) -> np.ndarray:
        """Rows passing a filter, cached by its JSON ``key``: channel and audience filters repeat on every
        question, and a segment never changes, so each filter is matched once per segment."""
        with self.masks_lock:
            cached = self.masks.get(key)
        if cached is None:
            cached = np.fromiter((matches(doc) for doc in self.documents), dtype=bool, count=len(self))
            with self.masks_lock:
                self.masks[key] = cached
                while len(self.masks) > 64:
                    self.masks.popitem(last=False)
        return cached

    @classmethod
    def build(
        cls,
        name: str,
        documents: list[Document],
        vectors: list[np.ndarray | None],
        dimension: int,
        token_lists: list[list[str]],
    ) -> Segment:
        """A segment of ``documents`` with their (already normalised) vectors and analysed text."""
        matrix = np.zeros((len(documents), dimension), dtype=np.float32)
        has_embedding = np.zeros(len(documents), dtype=bool)
        for row, vector in enumerate(vectors):
            if vector is not None:
                matrix[row] = vector
                has_embedding[row] = True
        return cls(
            name=name,
            documents=documents,
            matrix=matrix,
            has_embedding=has_embedding,
            postings=Postings.build(token_lists),
        )

    def save(self, directory: Path) -> None:
        """Write every file and sync it; the caller renames the directory into place afterwards."""
        directory.mkdir(parents=True)
        with (directory / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for document, embedded in zip(self.documents, self.has_embedding, strict=True):
                # ``Document.to_dict`` deep-copies through ``dataclasses.asdict``: a third of a bulk write.
                record: dict[str, Any] = {
                    "id": document.id,
                    "content": document.content,
                    "meta": document.meta,
                }
                if document.blob is not None:
                    record["blob"] = document.blob.to_dict()
                if document.sparse_embedding is not None:
                    record["sparse_embedding"] = document.sparse_embedding.to_dict()
                record["has_embedding"] = bool(embedded)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with (directory / "embeddings.npy").open("wb") as handle:
            np.save(handle, self.matrix)
            handle.flush()
            os.fsync(handle.fileno())
        self.postings.save(directory)
        fsync_directory(directory)

    @classmethod
    def load(cls, directory: Path) -> Segment:
        documents, has_embedding = read_documents(directory / "documents.jsonl")
        return cls(
            name=directory.name,
            documents=documents,
            matrix=np.load(directory / "embeddings.npy"),
            has_embedding=has_embedding,
            postings=Postings.load(directory),
        )


def read_documents(path: Path) -> tuple[list[Document], np.ndarray]:
    """The chunks of a ``documents.jsonl`` (a segment's, or a pre-segment generation's) and which of
    them have a row in the embedding matrix beside it."""
    documents: list[Document] = []
    flags: list[bool] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            flags.append(bool(record.pop("has_embedding", False)))
            documents.append(Document.from_dict(record))
    return documents, np.asarray(flags, dtype=bool)


def merge(name: str, parts: list[tuple[Segment, np.ndarray]], order: np.ndarray | None = None) -> Segment:
    """One segment holding the live rows (``live`` masks) of ``parts``, in order (or in ``order``, a
    permutation of those rows), without re-analysing any text: posting lists are renumbered and
    concatenated."""
    dimension = max(
        (segment.dimension for segment, live in parts if (segment.has_embedding & live).any()), default=0
    )
    documents: list[Document] = []
    matrices: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    terms: dict[str, int] = {}
    term_ids: list[np.ndarray] = []
    row_ids: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    offset = 0
    for segment, live in parts:
        keep = np.flatnonzero(live)
        documents.extend(segment.documents[int(row)] for row in keep)
        matrix = segment.matrix[keep]
        if matrix.shape[1] != dimension:  # a segment without embeddings: zero rows of the new width
            matrix = np.zeros((len(keep), dimension), dtype=np.float32)
        matrices.append(matrix)
        flags.append(segment.has_embedding[keep])
        lengths.append(segment.postings.lengths[keep])
        new_row = np.full(len(segment), -1, dtype=np.int64)
        new_row[keep] = np.arange(offset, offset + len(keep))
        local_to_merged = np.fromiter(
            (terms.setdefault(term, len(terms)) for term in segment.postings.terms),
            dtype=np.int64,
            count=len(segment.postings.terms),
        )
        columns = np.repeat(
            np.arange(len(segment.postings.terms), dtype=np.int64), np.diff(segment.postings.indptr)
        )
        alive = new_row[segment.postings.rows] >= 0
        term_ids.append(local_to_merged[columns[alive]])
        row_ids.append(new_row[segment.postings.rows[alive]])
        counts.append(segment.postings.tfs[alive])
        offset += len(keep)
    postings = Postings.from_pairs(
        terms,
        np.concatenate(term_ids) if term_ids else np.zeros(0, np.int64),
        np.concatenate(row_ids) if row_ids else np.zeros(0, np.int64),
        np.concatenate(counts) if counts else np.zeros(0, np.uint16),
        np.concatenate(lengths) if lengths else np.zeros(0, np.int32),
    )
    merged = Segment(
        name=name,
        documents=documents,
        matrix=np.concatenate(matrices) if matrices else np.zeros((0, dimension), np.float32),
        has_embedding=np.concatenate(flags) if flags else np.zeros(0, bool),
        postings=postings,
    )
    return merged if order is None else _permuted(merged, order)


def _permuted(segment: Segment, order: np.ndarray) -> Segment:
    """``segment`` with its rows in ``order`` (row ``i`` of the result is row ``order[i]``)."""
    position = np.empty(len(order), dtype=np.int32)
    position[order] = np.arange(len(order), dtype=np.int32)
    postings = segment.postings
    return Segment(
        name=segment.name,
        documents=[segment.documents[int(row)] for row in order],
        matrix=segment.matrix[order],
        has_embedding=segment.has_embedding[order],
        postings=Postings(
            terms=postings.terms,
            indptr=postings.indptr,
            rows=position[postings.rows],  # within a term, rows need not ascend
            tfs=postings.tfs,
            lengths=postings.lengths[order],
        ),
    )


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename: a reader sees the old bytes or the new, never half.

    A failed write (a full disk) removes its staging file and leaves ``path`` as it was."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        _write_synced(staging, data)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
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

"""Coarse partitions of the embedding space, so dense search on a large embedded store reads a fraction
of the vectors.

An exact dense search reads every embedding: at 1,000,000 chunks of 384 floats that is 1.5 GB per
question, about 110 ms on 2 cores however it is computed (it is bound by memory bandwidth). Past a
threshold (``NEEDLE_DENSE_PARTITION_FROM``, default :data:`PARTITION_FROM` chunks) the store clusters
its embeddings once (spherical k-means on a sample), files every row under its nearest centroid, and a
query scores only the rows of the partitions nearest to it (an inverted-file index, IVF, as in FAISS).
Rows are stored sorted by partition, so each probed partition is one matrix-vector product on a view of
the embedding matrix. Smaller stores, and any search whose filter leaves few rows, stay exact. The
price is a little recall: see :data:`PROBE_FRACTION`.

The centroids are trained once and kept: new chunks are filed under them as they are written, and
merging segments concatenates their assignments, so no write ever re-clusters the corpus.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Live embedded chunks from which dense search is partitioned; below it every search is exact.
PARTITION_FROM = 200_000
#: Vectors sampled to train the centroids, and k-means iterations.
TRAINING_SAMPLE = 25_000
ITERATIONS = 8
#: Fraction of partitions a query reads. Chosen on SciFact's train queries with partitioning forced on
#: (``scripts/eval_partitions.py``, 90 partitions): 1/16 cost 0.039 of fused nDCG@10, 1/8 0.020, 1/4
#: 0.007, 0.35 0.003.
PROBE_FRACTION = 1 / 4
#: Segments smaller than this are always scanned whole: cheaper than probing, and exact.
SCAN_BELOW = 4_096


#: Rows per partition aimed at. A probe is one matrix-vector product per partition, and large blocks
#: let BLAS use every core: at a million chunks, a quarter of 64 partitions is scored in 19 ms, a quarter
#: of 1,000 in 39 ms.
PARTITION_ROWS = 16_384


def partition_count(rows: int) -> int:
    """One partition per ``PARTITION_ROWS`` rows, within [64, 256]."""
    return int(min(256, max(64, round(rows / PARTITION_ROWS))))


@dataclass(frozen=True)
class Centroids:
    """Unit-length centroids (``count`` x dimension), stored as ``<name>.npy`` in the store directory."""

    name: str
    vectors: np.ndarray

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    def assign(self, matrix: np.ndarray, batch: int = 16_384) -> np.ndarray:
        """The nearest centroid of each row (by cosine; rows are unit length or zero)."""
        assignments = np.empty(matrix.shape[0], dtype=np.int16)
        for start in range(0, matrix.shape[0], batch):
            assignments[start : start + batch] = np.argmax(
                matrix[start : start + batch] @ self.vectors.T, axis=1
            )
        return assignments

    def probe(self, query: np.ndarray) -> np.ndarray:
        """The partitions a search for ``query`` reads: the nearest ``PROBE_FRACTION`` of them."""
        wanted = max(1, math.ceil(self.count * PROBE_FRACTION))
        scores = self.vectors @ query
        return np.argpartition(-scores, wanted - 1)[:wanted]

    @classmethod
    def train(cls, name: str, sample: np.ndarray, count: int, seed: int = 0) -> Centroids:
        """Spherical k-means (Lloyd's iterations on unit vectors) over ``sample``."""
        rng = np.random.default_rng(seed)
        count = min(count, sample.shape[0])
        centroids = sample[rng.choice(sample.shape[0], count, replace=False)].copy()
        for _ in range(ITERATIONS):
            nearest = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, nearest, sample)
            empty = ~np.bincount(nearest, minlength=count).astype(bool)
            sums[empty] = sample[rng.choice(sample.shape[0], int(empty.sum()))]  # reseed empty ones
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            centroids = sums / np.where(norms == 0, 1, norms)
        return cls(name=name, vectors=centroids.astype(np.float32))

    def save(self, directory: Path) -> None:
        with (directory / f"{self.name}.npy").open("wb") as handle:
            np.save(handle, self.vectors)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, directory: Path, name: str) -> Centroids:
        return cls(name=name, vectors=np.load(directory / f"{name}.npy"))


@dataclass(frozen=True)
class Inverted:
    """Where each partition's rows are in a segment whose rows are sorted by partition: rows
    ``starts[p]:starts[p + 1]``. Contiguous blocks let a probe score each partition with one
    matrix-vector product on a view of the embedding matrix, without copying rows."""

    starts: np.ndarray

    @classmethod
    def of(cls, assignments: np.ndarray, count: int) -> Inverted | None:
        """None when ``assignments`` is not sorted (such a segment is scanned whole)."""
        if len(assignments) > 1 and bool(np.any(assignments[1:] < assignments[:-1])):
            return None
        starts = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.bincount(assignments, minlength=count), out=starts[1:])
        return cls(starts=starts)

    def ranges(self, partitions: np.ndarray) -> list[tuple[int, int]]:
        """The row ranges of ``partitions``, in row order, adjacent ones joined."""
        joined: list[tuple[int, int]] = []
        for partition in np.sort(partitions):
            start, end = int(self.starts[partition]), int(self.starts[partition + 1])
            if start == end:
                continue
            if joined and joined[-1][1] == start:
                joined[-1] = (joined[-1][0], end)
            else:
                joined.append((start, end))
        return joined

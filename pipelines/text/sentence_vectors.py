"""Sentence embeddings for the answerer and the answerability gate, encoded once per sentence.

Both look at the sentences of the same top passages for every question; a small cache keyed by the
sentence text means the gate's encoding is reused by the extractive answerer, so the gate costs no
extra model time in extract mode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np


def cosine_similarities(vectors: Sequence[Sequence[float]], query: Sequence[float]) -> np.ndarray:
    """The cosine of each of ``vectors`` with ``query`` (0 for a zero vector)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    target = np.asarray(query, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(target) or 1.0)
    return matrix @ target / np.where(norms == 0, 1.0, norms)


class CachedSentenceEncoder:
    """A callable ``encode(sentences) -> vectors`` that remembers the last ``capacity`` sentences."""

    def __init__(self, encode: Callable[[list[str]], list[list[float]]], capacity: int = 4096) -> None:
        self._encode = encode
        self._capacity = capacity
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, sentences: list[str]) -> list[list[float]]:
        with self._lock:
            known = {s: self._vectors[s] for s in sentences if s in self._vectors}
        missing = list(dict.fromkeys(s for s in sentences if s not in known))
        if missing:
            known.update(zip(missing, self._encode(missing), strict=True))
        with self._lock:
            for sentence in dict.fromkeys(sentences):
                self._vectors[sentence] = known[sentence]
                self._vectors.move_to_end(sentence)
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        return [known[sentence] for sentence in sentences]

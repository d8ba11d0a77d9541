"""Synthetic chunks for the store and retrieval benchmarks (not a test fixture: nothing here is asserted).

Encoding 100,000 chunks with MiniLM would take over an hour on 2 cores, so benchmark corpora are made
of 150 words drawn from SciFact's own vocabulary with its word frequencies, and random unit vectors of
the model's dimension, which cost search exactly what real ones do.
"""

from __future__ import annotations

import collections
import itertools
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from haystack import Document

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def vocabulary(corpus: Path) -> tuple[list[str], list[int]]:
    """The 50,000 most frequent words of ``corpus`` (a BEIR ``corpus.jsonl``) and their counts."""
    counts: collections.Counter[str] = collections.Counter()
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            counts.update(re.findall(r"[a-z0-9]+", (record["title"] + " " + record["text"]).lower()))
    words, weights = zip(*counts.most_common(50_000), strict=True)
    return list(words), list(weights)


def synthetic_chunks(
    n: int, dim: int, words: list[str], weights: list[int], seed: int = 7, start: int = 0
) -> list[Document]:
    """``n`` chunks numbered from ``start``, four per source, with 150-word texts and 8-word titles."""
    rng = random.Random(seed + start)
    cumulative = list(itertools.accumulate(weights))  # ``choices`` would re-add 50,000 weights per call
    vectors = np.random.default_rng(seed + start).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    documents = []
    for offset in range(n):
        i = start + offset
        text = " ".join(rng.choices(words, cum_weights=cumulative, k=150))
        documents.append(
            Document(
                id=f"c{i}",
                content=text,
                meta={
                    "source_id": f"s{i // 4}",
                    "title": " ".join(rng.choices(words, cum_weights=cumulative, k=8)),
                },
                embedding=vectors[offset].tolist(),
            )
        )
    return documents


def batches(n: int, dim: int, words: list[str], weights: list[int], size: int) -> Iterator[list[Document]]:
    """``synthetic_chunks`` in batches, so a million chunks never sit in memory as Python float lists."""
    for start in range(0, n, size):
        yield synthetic_chunks(min(size, n - start), dim, words, weights, start=start)

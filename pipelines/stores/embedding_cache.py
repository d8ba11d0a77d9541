"""Document embeddings cached by model and text, so re-indexing unchanged text does not re-encode it.

Encoding is the slow stage of indexing on a CPU (tens of chunks a second). Re-indexing a source after a
title change, re-running an evaluation, or rebuilding a store after a crash should not pay for it again.
The cache key is the model and the exact text the embedder would encode (title and content), so a
different model or a changed chunk is always encoded afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, component

from pipelines.base.sqlite import SharedDatabase


class EmbeddingCache(SharedDatabase):
    """A key-value table of float32 vectors in SQLite; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(
            path, "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);"
        )

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._connection.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})",  # noqa: S608 - placeholders only
                    batch,
                ).fetchall()
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items.items()],
            )
            self._connection.execute("COMMIT")


@component
class CachedDocumentEmbedder:
    """Wraps a Haystack document embedder; only documents whose text is not cached reach it.

    :param embedder: e.g. ``SentenceTransformersDocumentEmbedder`` (its ``model`` and
        ``meta_fields_to_embed`` define the cache key).
    :param cache: where vectors are kept; ``None`` disables caching.
    """

    def __init__(self, embedder: Any, cache: EmbeddingCache | None) -> None:
        self.embedder = embedder
        self.cache = cache
        self.last_run_misses = 0

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def _key(self, document: Document) -> str:
        fields = getattr(self.embedder, "meta_fields_to_embed", None) or []
        separator = getattr(self.embedder, "embedding_separator", "\n")
        text = separator.join(
            [str(document.meta.get(name) or "") for name in fields] + [document.content or ""]
        )
        model = str(getattr(self.embedder, "model", ""))
        return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()

    @component.output_types(documents=list[Document])
    def run(
        self, documents: list[Document], progress: Callable[[int, int], None] | None = None
    ) -> dict[str, list[Document]]:
        """Embed ``documents``; ``progress(done, total)`` hears after each slice, so a console can show a
        large file advancing chunk by chunk instead of standing still until the whole file is embedded."""
        if self.cache is None or not documents:
            self.last_run_misses = len(documents)
            return {"documents": self._embed(documents, progress, len(documents))}
        keys = [self._key(document) for document in documents]
        cached = self.cache.get_many(keys)
        missing = [document for document, key in zip(documents, keys, strict=True) if key not in cached]
        self.last_run_misses = len(missing)
        fresh: dict[str, np.ndarray] = {}
        if missing:
            for document in self._embed(missing, progress, len(documents)):
                fresh[self._key(document)] = np.asarray(document.embedding, dtype=np.float32)
            self.cache.put_many(fresh)
        elif progress is not None:
            progress(len(documents), len(documents))
        vectors = {**cached, **fresh}
        out = []
        for document, key in zip(documents, keys, strict=True):
            out.append(
                Document(
                    id=document.id,
                    content=document.content,
                    meta=document.meta,
                    embedding=vectors[key].tolist(),
                )
            )
        return {"documents": out}

    def _embed(
        self, documents: list[Document], progress: Callable[[int, int], None] | None, total: int
    ) -> list[Document]:
        """The inner embedder over ``documents`` one of its batches at a time, reporting after each."""
        if progress is None:
            return list(self.embedder.run(documents=documents)["documents"]) if documents else []
        step = max(1, int(getattr(self.embedder, "batch_size", 32) or 32))
        done = total - len(documents)  # found in the cache: already done
        progress(done, total)
        embedded: list[Document] = []
        for start in range(0, len(documents), step):
            embedded.extend(self.embedder.run(documents=documents[start : start + step])["documents"])
            done += len(documents[start : start + step])
            progress(done, total)
        return embedded

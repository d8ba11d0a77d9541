"""Haystack's in-memory document store, persisted to one file so the embedded default survives restarts.

Each mutation (write, delete, replace a source) is applied in memory under a lock and then the whole store
is written to a temporary file that atomically replaces the old one. A process killed in the middle of an
ingest therefore leaves either the old file or the new one on disk, never half a source.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, default_from_dict, default_to_dict
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils.filters import COMPARISON_OPERATORS, document_matches_filter


def matches(filters: dict[str, Any], document: Document) -> bool:
    """Haystack's filter semantics, plus Elasticsearch's for list-valued fields.

    In Elasticsearch a condition on an array field (``meta.tags``) matches when any element matches;
    Haystack's in-memory filters compare the whole list. Needle's tag filters must behave the same on
    both stores, so list values are matched element by element here.
    """
    if "conditions" in filters:
        results = (matches(condition, document) for condition in filters["conditions"])
        operator = filters["operator"].upper()
        if operator == "AND":
            return all(results)
        if operator == "OR":
            return any(results)
        return not any(results)  # NOT
    field = filters["field"]
    value = document.meta.get(field.removeprefix("meta.")) if field.startswith("meta.") else None
    if isinstance(value, list) and filters["operator"] in ("==", "in"):
        compare = COMPARISON_OPERATORS[filters["operator"]]
        return any(compare(element, filters["value"], False) for element in value)
    return document_matches_filter(filters=filters, document=document)


class PersistentInMemoryDocumentStore(InMemoryDocumentStore):
    """An :class:`InMemoryDocumentStore` that loads from and saves to ``path`` (JSON, embeddings included)."""

    def __init__(
        self, path: str | Path, embedding_similarity_function: str = "cosine", **kwargs: Any
    ) -> None:
        super().__init__(embedding_similarity_function=embedding_similarity_function, shared=False, **kwargs)
        self.path = Path(path)
        self._lock = threading.RLock()
        if self.path.exists():
            self._load()

    # --- persistence -------------------------------------------------------------------------------
    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as handle:
            data = json.load(handle)
        documents = [Document.from_dict(doc) for doc in data.get("documents", [])]
        super().write_documents(documents, policy=DuplicatePolicy.OVERWRITE)

    def _persist(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        payload = {
            "format": "needle-memory-store/1",
            "documents": [d.to_dict(flatten=False) for d in self.storage.values()],
        }
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def file_size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    # --- mutations ---------------------------------------------------------------------------------
    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        with self._lock:
            written = super().write_documents(documents, policy=policy)
            self._persist()
            return written

    def delete_documents(self, document_ids: list[str]) -> None:
        with self._lock:
            super().delete_documents(document_ids)
            self._persist()

    def replace_source(self, source_id: str, documents: list[Document]) -> int:
        """Swap every chunk of ``source_id`` for ``documents`` in one persisted step."""
        with self._lock:
            new_ids = {doc.id for doc in documents}
            stale = [
                doc_id
                for doc_id, doc in self.storage.items()
                if doc.meta.get("source_id") == source_id and doc_id not in new_ids
            ]
            if stale:
                super().delete_documents(stale)
            written = super().write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
            self._persist()
            return written

    # --- reads: the base class iterates its dicts, so reads must not interleave with a write -----------
    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        with self._lock:
            if not filters:
                return list(self.storage.values())
            if "operator" not in filters:
                raise ValueError("Invalid filter syntax: a filter needs an 'operator'")
            return [doc for doc in self.storage.values() if matches(filters, doc)]

    def count_documents(self) -> int:
        with self._lock:
            return super().count_documents()

    def bm25_retrieval(self, *args: Any, **kwargs: Any) -> list[Document]:
        with self._lock:
            return super().bm25_retrieval(*args, **kwargs)

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """Cosine similarity of the query with every (filtered) chunk, computed as one matrix product."""
        if not query_embedding:
            raise ValueError("query_embedding should be a non-empty list of floats")
        with self._lock:
            candidates = [doc for doc in self.filter_documents(filters) if doc.embedding is not None]
        if not candidates:
            return []
        matrix = np.asarray([doc.embedding for doc in candidates], dtype=np.float32)
        query = np.asarray(query_embedding, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = matrix @ query / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores, kind="stable")[:top_k]
        results = []
        for index in order:
            score = float(scores[index])
            if scale_score:
                score = (score + 1) / 2
            doc = candidates[index]
            results.append(
                Document(
                    id=doc.id,
                    content=doc.content,
                    meta=doc.meta,
                    score=score,
                    embedding=doc.embedding if return_embedding else None,
                )
            )
        return results

    # --- serialization -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, path=str(self.path), embedding_similarity_function=self.embedding_similarity_function
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersistentInMemoryDocumentStore:
        return default_from_dict(cls, data)

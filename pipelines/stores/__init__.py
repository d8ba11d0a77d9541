"""Document stores and their retrievers, chosen by ``NEEDLE_STORE``; the pipelines see one shape."""

from __future__ import annotations

from typing import Any

from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

from pipelines.settings import Settings
from pipelines.stores.memory import EmbeddedDocumentStore

__all__ = [
    "EmbeddedDocumentStore",
    "build_document_store",
    "build_retrievers",
    "replace_sources",
    "source_summaries",
]


def build_document_store(settings: Settings, embedding_dim: int) -> Any:
    """The configured store: the persisted in-memory store, or Elasticsearch."""
    if settings.store == "elasticsearch":
        from pipelines.stores.elasticsearch import build_elasticsearch_store

        return build_elasticsearch_store(settings, embedding_dim)
    return EmbeddedDocumentStore(
        settings.data_dir / "store",
        bm25_k1=settings.bm25_k1,
        bm25_b=settings.bm25_b,
        title_weight=settings.bm25_title_weight,
    )


def build_retrievers(store: Any, settings: Settings) -> tuple[Any, Any]:
    """The BM25 and the embedding retriever that belong to ``store``."""
    if isinstance(store, InMemoryDocumentStore):
        from haystack.components.retrievers.in_memory import (
            InMemoryBM25Retriever,
            InMemoryEmbeddingRetriever,
        )

        return (
            InMemoryBM25Retriever(document_store=store, top_k=settings.bm25_top_k),
            InMemoryEmbeddingRetriever(document_store=store, top_k=settings.dense_top_k),
        )
    from haystack_integrations.components.retrievers.elasticsearch import (
        ElasticsearchBM25Retriever,
        ElasticsearchEmbeddingRetriever,
    )

    return (
        ElasticsearchBM25Retriever(document_store=store, top_k=settings.bm25_top_k, fuzziness="0"),
        ElasticsearchEmbeddingRetriever(document_store=store, top_k=settings.dense_top_k),
    )


def replace_sources(store: Any, groups: dict[str, list[Document]]) -> int:
    """Make each group of chunks the only chunks of its source id.

    The embedded store swaps all sources in one persisted step. Elsewhere the new chunks are written
    first and the stale ones deleted after, so a failure in between leaves the old version answerable
    rather than nothing.
    """
    if isinstance(store, EmbeddedDocumentStore):
        return store.replace_sources(groups)
    written = 0
    for source_id, documents in groups.items():
        new_ids = {doc.id for doc in documents}
        old = store.filter_documents(
            filters={"field": "meta.source_id", "operator": "==", "value": source_id}
        )
        written += store.write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
        stale = [doc.id for doc in old if doc.id not in new_ids]
        if stale:
            store.delete_documents(stale)
    return written


def source_summaries(store: Any, page_size: int = 500) -> list[tuple[dict[str, Any], int]]:
    """(metadata of one chunk, chunk count) per source, without reading every chunk out of Elasticsearch."""
    if isinstance(store, InMemoryDocumentStore):
        counts: dict[str, int] = {}
        first: dict[str, dict[str, Any]] = {}
        for document in store.filter_documents():
            source_id = str(document.meta.get("source_id"))
            counts[source_id] = counts.get(source_id, 0) + 1
            first.setdefault(source_id, document.meta)
        return [(first[source_id], count) for source_id, count in counts.items()]
    from pipelines.stores.elasticsearch import source_summaries as elasticsearch_summaries

    return elasticsearch_summaries(store.client, store._index, page_size)

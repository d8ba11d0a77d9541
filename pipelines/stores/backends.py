"""What Needle asks of a store, once: the ``SearchBackend`` protocol and its two implementations.

The embedded store (one machine, no server) and Elasticsearch (production, shared by replicas) differ in
how they retrieve, replace a source's chunks, list sources, keep traces and records, and rebuild the
index. Each difference is a method here, so :func:`pipelines.stores.build_backend` is the one place that
reads ``NEEDLE_STORE`` and nothing else in Needle asks which store it has (after Onyx's
``document_index`` interfaces and factory).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from haystack import Document
from haystack.document_stores.types import DuplicatePolicy

from pipelines.base.settings import Settings
from pipelines.stores.memory import EmbeddedDocumentStore
from pipelines.stores.originals import FileOriginalStore, OriginalStore, RecordOriginalStore
from pipelines.stores.records import RecordStore, SqliteRecordStore
from pipelines.stores.traces import TraceStore

logger = logging.getLogger(__name__)

#: Chunks copied per request while Elasticsearch re-indexes.
REINDEX_BATCH = 256


@runtime_checkable
class SearchBackend(Protocol):
    """A document store and everything store-specific Needle does with it.

    ``documents`` is a Haystack ``DocumentStore`` (filter, count, write, delete); the methods cover what
    Haystack's protocol does not.
    """

    kind: str
    documents: Any

    def retrievers(self, settings: Settings) -> tuple[Any, Any]:
        """The BM25 and the embedding retriever over ``documents``."""
        ...

    def replace_sources(self, groups: dict[str, list[Document]]) -> int:
        """Make each group of chunks the only chunks of its source id; returns the chunks written."""
        ...

    def source_summaries(self, page_size: int = 500) -> list[tuple[dict[str, Any], int]]:
        """(metadata of one chunk, chunk count) per source."""
        ...

    def update_source_meta(self, source_id: str, meta: dict[str, Any]) -> int:
        """Set ``meta`` fields on every chunk of a source, persisted and visible to the next query."""
        ...

    def trace_store(self) -> TraceStore:
        """Where answers' traces and feedback are kept."""
        ...

    def record_store(self) -> RecordStore:
        """Where Needle's settings and records are kept (channel settings, audit, cases, event keys)."""
        ...

    def original_store(self, records: RecordStore) -> OriginalStore:
        """Where uploaded files are kept for re-indexing: somewhere every replica can read."""
        ...

    def reindex(
        self, service: Any, keep_old: bool = True, progress: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Rebuild the index under the service's current settings without an outage."""
        ...


class EmbeddedBackend:
    """Needle's embedded store under the data directory, with SQLite traces beside it."""

    kind = "memory"

    def __init__(self, settings: Settings, documents: EmbeddedDocumentStore | None = None) -> None:
        self.settings = settings
        self.documents = documents or EmbeddedDocumentStore(
            settings.data_dir / "store",
            bm25_k1=settings.bm25_k1,
            bm25_b=settings.bm25_b,
            title_weight=settings.bm25_title_weight,
            partition_from=settings.dense_partition_from,
        )

    def retrievers(self, settings: Settings) -> tuple[Any, Any]:
        from haystack.components.retrievers.in_memory import (
            InMemoryBM25Retriever,
            InMemoryEmbeddingRetriever,
        )

        return (
            InMemoryBM25Retriever(document_store=self.documents, top_k=settings.bm25_top_k),
            InMemoryEmbeddingRetriever(document_store=self.documents, top_k=settings.dense_top_k),
        )

    def replace_sources(self, groups: dict[str, list[Document]]) -> int:
        """All sources swapped in one persisted step."""
        return self.documents.replace_sources(groups)

    def source_summaries(self, page_size: int = 500) -> list[tuple[dict[str, Any], int]]:
        counts: dict[str, int] = {}
        first: dict[str, dict[str, Any]] = {}
        for document in self.documents.filter_documents():
            source_id = str(document.meta.get("source_id"))
            counts[source_id] = counts.get(source_id, 0) + 1
            first.setdefault(source_id, document.meta)
        return [(first[source_id], count) for source_id, count in counts.items()]

    def update_source_meta(self, source_id: str, meta: dict[str, Any]) -> int:
        return self.documents.update_by_filter(_of_source(source_id), meta)

    def trace_store(self) -> TraceStore:
        from pipelines.stores.traces import SqliteTraceStore

        return SqliteTraceStore(self.settings.data_dir / "traces.sqlite3")

    def record_store(self) -> RecordStore:
        return self.open_records(self.settings)

    def original_store(self, records: RecordStore) -> OriginalStore:
        """Files under the data directory (one machine: the disk is shared by all its processes)."""
        return FileOriginalStore(self.settings.data_dir / "originals")

    @staticmethod
    def open_records(settings: Settings) -> RecordStore:
        """The record store alone, without loading the corpus (for commands that only change records)."""
        return SqliteRecordStore(settings.data_dir / "records.sqlite3")

    def reindex(
        self, service: Any, keep_old: bool = True, progress: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Each source again from its kept original, which also re-chunks it."""
        results = [service.reindex_source(source.source_id) for source in service.list_sources()]
        return {"store": self.kind, "sources": len(results), "chunks": sum(r.chunks for r in results)}


class ElasticsearchBackend:
    """Haystack's Elasticsearch store behind Needle's alias; traces in Elasticsearch indices too, so
    replicas share everything and hold no state of their own."""

    kind = "elasticsearch"

    def __init__(self, settings: Settings, embedding_dim: int, documents: Any | None = None) -> None:
        from pipelines.stores.elasticsearch import build_elasticsearch_store

        self.settings = settings
        self.embedding_dim = embedding_dim
        self.documents = documents or build_elasticsearch_store(settings, embedding_dim)

    def retrievers(self, settings: Settings) -> tuple[Any, Any]:
        from haystack_integrations.components.retrievers.elasticsearch import (
            ElasticsearchBM25Retriever,
            ElasticsearchEmbeddingRetriever,
        )

        return (
            ElasticsearchBM25Retriever(
                document_store=self.documents, top_k=settings.bm25_top_k, fuzziness="0"
            ),
            ElasticsearchEmbeddingRetriever(document_store=self.documents, top_k=settings.dense_top_k),
        )

    def replace_sources(self, groups: dict[str, list[Document]]) -> int:
        """New chunks first, stale ones deleted after: a failure in between leaves the old version
        answerable rather than nothing."""
        written = 0
        for source_id, documents in groups.items():
            new_ids = {doc.id for doc in documents}
            old = self.documents.filter_documents(filters=_of_source(source_id))
            written += self.documents.write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
            stale = [doc.id for doc in old if doc.id not in new_ids]
            if stale:
                self.documents.delete_documents(stale)
        return written

    def source_summaries(self, page_size: int = 500) -> list[tuple[dict[str, Any], int]]:
        """A composite aggregation on ``source_id``: never every chunk."""
        from pipelines.stores.elasticsearch import source_summaries

        return source_summaries(self.documents.client, self.documents._index, page_size)

    def update_source_meta(self, source_id: str, meta: dict[str, Any]) -> int:
        """An update-by-query, refreshed so the next question on any replica sees it."""
        return self.documents.update_by_filter(_of_source(source_id), meta, refresh=True)

    def trace_store(self) -> TraceStore:
        from pipelines.stores.elasticsearch import make_client
        from pipelines.stores.traces_es import ElasticsearchTraceStore

        return ElasticsearchTraceStore(make_client(self.settings), self.settings.elasticsearch_index)

    def record_store(self) -> RecordStore:
        return self.open_records(self.settings)

    def original_store(self, records: RecordStore) -> OriginalStore:
        """In Elasticsearch, beside the records: any replica can re-index any source."""
        return RecordOriginalStore(records)

    @staticmethod
    def open_records(settings: Settings) -> RecordStore:
        """The record store alone, without a document store."""
        from pipelines.stores.elasticsearch import make_client
        from pipelines.stores.records_es import ElasticsearchRecordStore

        return ElasticsearchRecordStore(make_client(settings), settings.elasticsearch_index)

    def reindex(
        self, service: Any, keep_old: bool = True, progress: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Copy every chunk into a new index, re-embedded with the configured model and re-analysed with
        the current mapping, then move the alias atomically; until then the old index keeps answering."""
        from pipelines.stores.elasticsearch import (
            ensure_index,
            haystack_store,
            index_definition,
            make_client,
            new_index_name,
            swap_alias_actions,
        )
        from pipelines.stores.embedding_cache import CachedDocumentEmbedder

        say = progress or logger.info
        settings = service.settings
        alias = settings.elasticsearch_index
        client = make_client(settings)
        try:
            old_index = ensure_index(client, alias, self.embedding_dim)
            new_index = new_index_name(alias)
            definition = index_definition(self.embedding_dim)
            client.indices.create(
                index=new_index, settings=definition["settings"], mappings=definition["mappings"]
            )
            target = haystack_store(settings, new_index, self.embedding_dim)
            embedder = CachedDocumentEmbedder(service.document_embedder, service.embedding_cache)
            chunks = self.documents.filter_documents()
            for start in range(0, len(chunks), REINDEX_BATCH):
                batch = [
                    Document(id=doc.id, content=doc.content, meta=doc.meta)
                    for doc in chunks[start : start + REINDEX_BATCH]
                ]
                target.write_documents(
                    embedder.run(documents=batch)["documents"], policy=DuplicatePolicy.OVERWRITE
                )
                done = min(start + REINDEX_BATCH, len(chunks))
                say(f"copied {done}/{len(chunks)} chunks into {new_index}")
            client.indices.refresh(index=new_index)
            client.indices.update_aliases(actions=swap_alias_actions(alias, old_index, new_index))
            if not keep_old and old_index != alias:
                client.indices.delete(index=old_index)
            return {
                "store": self.kind,
                "alias": alias,
                "old_index": old_index,
                "new_index": new_index,
                "chunks": len(chunks),
            }
        finally:
            client.close()


def _of_source(source_id: str) -> dict[str, Any]:
    return {"field": "meta.source_id", "operator": "==", "value": source_id}

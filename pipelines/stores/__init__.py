"""Document stores behind one ``SearchBackend``, chosen by ``NEEDLE_STORE`` in :func:`build_backend`.

This is the one place that reads which store is configured; the pipelines, the service and the faces
receive a backend and never ask which one it is. Beside the document stores live the other things Needle
persists: the record store (SQLite or Elasticsearch), answer traces, kept originals and the embedding cache.

May import only the text helpers and the base: what is stored is decided above, how it is stored here.
"""

from __future__ import annotations

from typing import Any

from pipelines.base.settings import Settings
from pipelines.stores.backends import ElasticsearchBackend, EmbeddedBackend, SearchBackend
from pipelines.stores.memory import EmbeddedDocumentStore
from pipelines.stores.records import RecordStore

__all__ = [
    "ElasticsearchBackend",
    "EmbeddedBackend",
    "EmbeddedDocumentStore",
    "SearchBackend",
    "build_backend",
    "build_document_store",
    "build_record_store",
]


def build_backend(settings: Settings, embedding_dim: int) -> SearchBackend:
    """The configured backend: the persisted embedded store, or Elasticsearch."""
    if settings.store == "elasticsearch":
        return ElasticsearchBackend(settings, embedding_dim)
    return EmbeddedBackend(settings)


def on_elasticsearch(settings: Settings) -> bool:
    """Whether the configured store is a cluster: for ``needle doctor``, whose checks differ by store."""
    return settings.store == "elasticsearch"


def build_record_store(settings: Settings) -> RecordStore:
    """The configured store's records (settings, audit, cases) without loading documents or models."""
    if settings.store == "elasticsearch":
        return ElasticsearchBackend.open_records(settings)
    return EmbeddedBackend.open_records(settings)


def build_document_store(settings: Settings, embedding_dim: int) -> Any:
    """The configured backend's Haystack document store (for tools that need only the documents)."""
    return build_backend(settings, embedding_dim).documents

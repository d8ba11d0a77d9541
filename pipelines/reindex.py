"""Rebuild the index under the current settings without an outage.

On Elasticsearch: copy every chunk into a new index, re-embedding it with the configured model (and
re-analysing it with the current mapping), then move the alias atomically; until then the old index keeps
answering. On the embedded store: re-index each source from its kept original (which also re-chunks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from haystack import Document
from haystack.document_stores.types import DuplicatePolicy

from pipelines.components.cached_embedder import CachedDocumentEmbedder
from pipelines.stores import EmbeddedDocumentStore
from pipelines.stores.elasticsearch import (
    ensure_index,
    haystack_store,
    index_definition,
    make_client,
    new_index_name,
    swap_alias_actions,
)

logger = logging.getLogger(__name__)
BATCH = 256


def reindex(
    service: Any, keep_old: bool = True, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    say = progress or logger.info
    if isinstance(service.store, EmbeddedDocumentStore):
        results = [service.reindex_source(source.source_id) for source in service.list_sources()]
        return {"store": "memory", "sources": len(results), "chunks": sum(r.chunks for r in results)}

    settings = service.settings
    alias = settings.elasticsearch_index
    client = make_client(settings)
    try:
        old_index = ensure_index(client, alias, service.embedding_dim)
        new_index = new_index_name(alias)
        definition = index_definition(service.embedding_dim)
        client.indices.create(
            index=new_index, settings=definition["settings"], mappings=definition["mappings"]
        )
        target = haystack_store(settings, new_index, service.embedding_dim)
        embedder = CachedDocumentEmbedder(service.document_embedder, service.embedding_cache)
        chunks = service.store.filter_documents()
        for start in range(0, len(chunks), BATCH):
            batch = [
                Document(id=doc.id, content=doc.content, meta=doc.meta)
                for doc in chunks[start : start + BATCH]
            ]
            target.write_documents(
                embedder.run(documents=batch)["documents"], policy=DuplicatePolicy.OVERWRITE
            )
            say(f"copied {min(start + BATCH, len(chunks))}/{len(chunks)} chunks into {new_index}")
        client.indices.refresh(index=new_index)
        client.indices.update_aliases(actions=swap_alias_actions(alias, old_index, new_index))
        if not keep_old and old_index != alias:
            client.indices.delete(index=old_index)
        return {
            "store": "elasticsearch",
            "alias": alias,
            "old_index": old_index,
            "new_index": new_index,
            "chunks": len(chunks),
        }
    finally:
        client.close()

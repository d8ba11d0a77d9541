"""Elasticsearch as Needle's production store: BM25 and dense kNN over one index.

Haystack's store creates a bare index on first use; Needle creates it first, with analysers and a mapping
made for the job, and Haystack then finds it in place. The text is indexed twice: English-analysed
(stemming, stop words) for English questions, and through the built-in ``cjk`` analyser (character
bigrams) in a subfield, so Chinese questions find Chinese passages. BM25 queries name both fields through
the index's ``default_field`` setting, because Haystack's BM25 retriever sends a ``multi_match`` without
a field list.

Needle addresses the index through an alias (``NEEDLE_ELASTICSEARCH_INDEX``). ``needle reindex`` builds a
complete new index (new embedding model, new analysers) while the bot keeps answering from the old one,
then moves the alias in one atomic request.
"""

from __future__ import annotations

import time
from typing import Any

from haystack.utils import Secret

from pipelines.base.settings import Settings

KEYWORD_META_FIELDS = (
    "source_id",
    "file_name",
    "file_type",
    "url",
    "tags",
    "uploaded_by",
    "content_hash",
    "source_hash",
    "language",
    "audience",
)


def index_definition(embedding_dim: int) -> dict[str, Any]:
    """Settings and mappings of a Needle index for an embedder with ``embedding_dim`` dimensions."""
    meta_keywords = {field: {"type": "keyword"} for field in KEYWORD_META_FIELDS}
    return {
        "settings": {
            "index": {"query": {"default_field": ["content", "content.cjk", "title^2"]}},
        },
        "mappings": {
            "dynamic_templates": [
                {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}},
            ],
            "properties": {
                "content": {
                    "type": "text",
                    "analyzer": "english",
                    "fields": {"cjk": {"type": "text", "analyzer": "cjk"}},
                },
                "title": {
                    "type": "text",
                    "analyzer": "english",
                    "fields": {"keyword": {"type": "keyword", "ignore_above": 512}},
                },
                "embedding": {
                    "type": "dense_vector",
                    "dims": embedding_dim,
                    "index": True,
                    "similarity": "cosine",
                },
                "page": {"type": "integer"},
                "chunk_index": {"type": "integer"},
                "chunk_count": {"type": "integer"},
                "size_bytes": {"type": "long"},
                "indexed_at": {"type": "date"},
                **meta_keywords,
            },
        },
    }


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection options for the Elasticsearch client, from settings (secrets stay out of logs)."""
    kwargs: dict[str, Any] = {"verify_certs": settings.elasticsearch_verify_certs, "request_timeout": 30}
    if settings.elasticsearch_ca_certs:
        kwargs["ca_certs"] = str(settings.elasticsearch_ca_certs)
    if settings.elasticsearch_username and settings.elasticsearch_password:
        kwargs["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password.get_secret_value(),
        )
    return kwargs


def make_client(settings: Settings) -> Any:
    from elasticsearch import Elasticsearch

    api_key = settings.elasticsearch_api_key.get_secret_value() if settings.elasticsearch_api_key else None
    return Elasticsearch(settings.elasticsearch_url, api_key=api_key, **client_kwargs(settings))


def new_index_name(alias: str) -> str:
    return f"{alias}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{time.time_ns() % 1_000_000:06d}"


def ensure_index(client: Any, alias: str, embedding_dim: int) -> str:
    """Make ``alias`` point at a Needle index, creating one if needed; returns the concrete index name.

    Needle reads and writes through the alias, so a re-index can build a new index beside the old one
    and switch the alias in one atomic step (see :func:`swap_alias_actions`). A concrete index that
    already has the alias's name (made by an older setup) is used as it is.
    """
    if client.indices.exists_alias(name=alias):
        return next(iter(client.indices.get_alias(name=alias)))
    if client.indices.exists(index=alias):
        return alias
    definition = index_definition(embedding_dim)
    index = new_index_name(alias)
    client.indices.create(
        index=index,
        settings=definition["settings"],
        mappings=definition["mappings"],
        aliases={alias: {"is_write_index": True}},
    )
    return index


def swap_alias_actions(alias: str, old_index: str, new_index: str) -> list[dict[str, Any]]:
    """One ``_aliases`` request that moves ``alias`` from the old index to the new one atomically."""
    return [
        {"remove": {"index": old_index, "alias": alias}},
        {"add": {"index": new_index, "alias": alias, "is_write_index": True}},
    ]


#: Listing sources reads one chunk per source without these: they are most of a chunk's bytes.
SUMMARY_EXCLUDES = ["content", "embedding"]


def sources_aggregation(after: dict[str, Any] | None = None, page_size: int = 500) -> dict[str, Any]:
    """One page of a composite aggregation over ``source_id``: chunk count and one chunk's metadata.

    Listing sources must not pull every chunk, with its text and vector, out of an index that holds
    millions; a composite aggregation pages through the sources however many there are.
    """
    composite: dict[str, Any] = {
        "size": page_size,
        "sources": [{"source_id": {"terms": {"field": "source_id"}}}],
    }
    if after:
        composite["after"] = after
    return {
        "size": 0,
        "aggs": {
            "sources": {
                "composite": composite,
                "aggs": {"first": {"top_hits": {"size": 1, "_source": {"excludes": SUMMARY_EXCLUDES}}}},
            }
        },
    }


def source_summaries(client: Any, index: str, page_size: int = 500) -> list[tuple[dict[str, Any], int]]:
    """(metadata of one chunk, chunk count) for every source in ``index``, a page at a time."""
    summaries: list[tuple[dict[str, Any], int]] = []
    after: dict[str, Any] | None = None
    while True:
        response = client.search(index=index, **sources_aggregation(after, page_size))
        aggregation = response["aggregations"]["sources"]
        for bucket in aggregation["buckets"]:
            hits = bucket["first"]["hits"]["hits"]
            meta = dict(hits[0]["_source"]) if hits else {"source_id": bucket["key"]["source_id"]}
            summaries.append((meta, int(bucket["doc_count"])))
        after = aggregation.get("after_key")
        if not aggregation["buckets"] or not after:
            return summaries


def haystack_store(settings: Settings, index: str, embedding_dim: int) -> Any:
    from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

    api_key = (
        Secret.from_token(settings.elasticsearch_api_key.get_secret_value())
        if settings.elasticsearch_api_key
        else None
    )
    return ElasticsearchDocumentStore(
        hosts=settings.elasticsearch_url,
        index=index,
        custom_mapping=index_definition(embedding_dim)["mappings"],
        embedding_similarity_function="cosine",
        api_key=api_key,
        api_key_id=None,
        **client_kwargs(settings),
    )


def build_elasticsearch_store(settings: Settings, embedding_dim: int) -> Any:
    """An ``ElasticsearchDocumentStore`` reading and writing through the Needle alias."""
    from pipelines.stores.cluster import check_version

    client = make_client(settings)
    try:
        check_version(client.info().body)
        ensure_index(client, settings.elasticsearch_index, embedding_dim)
    finally:
        client.close()
    return haystack_store(settings, settings.elasticsearch_index, embedding_dim)

"""Elasticsearch as Needle's production store: BM25 and dense kNN over one index.

Haystack's store creates a bare index on first use; Needle creates it first, with analysers and a mapping
made for the job, and Haystack then finds it in place. The text is indexed twice: English-analysed
(stemming, stop words) for English questions, and through the built-in ``cjk`` analyser (character
bigrams) in a subfield, so Chinese questions find Chinese passages. BM25 queries name both fields through
the index's ``default_field`` setting, because Haystack's BM25 retriever sends a ``multi_match`` without
a field list.
"""

from __future__ import annotations

from typing import Any

from haystack.utils import Secret

from pipelines.settings import Settings

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


def build_elasticsearch_store(settings: Settings, embedding_dim: int) -> Any:
    """An ``ElasticsearchDocumentStore`` on a Needle index, created with Needle's mapping if missing."""
    from elasticsearch import Elasticsearch
    from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

    api_key = (
        Secret.from_token(settings.elasticsearch_api_key.get_secret_value())
        if settings.elasticsearch_api_key
        else None
    )
    kwargs = client_kwargs(settings)
    client = Elasticsearch(
        settings.elasticsearch_url, api_key=api_key.resolve_value() if api_key else None, **kwargs
    )
    definition = index_definition(embedding_dim)
    if not client.indices.exists(index=settings.elasticsearch_index):
        client.indices.create(
            index=settings.elasticsearch_index,
            settings=definition["settings"],
            mappings=definition["mappings"],
        )
    client.close()
    return ElasticsearchDocumentStore(
        hosts=settings.elasticsearch_url,
        index=settings.elasticsearch_index,
        custom_mapping=definition["mappings"],
        embedding_similarity_function="cosine",
        api_key=api_key,
        api_key_id=None,
        **kwargs,
    )

"""Elasticsearch: the index definition is unit-tested here; a live cluster is used only when configured.

No Elasticsearch server can run on the build machine, so the live test runs when NEEDLE_ELASTICSEARCH_URL
points at one (for example ``docker compose -f infra/docker-compose.yml up elasticsearch``) and is
reported as skipped otherwise.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever

from pipelines.base.settings import load_settings
from pipelines.stores import ElasticsearchBackend, EmbeddedBackend, SearchBackend, build_backend
from pipelines.stores.elasticsearch import client_kwargs, index_definition

LIVE_URL = os.environ.get("NEEDLE_ELASTICSEARCH_URL")


def test_index_definition_has_dense_vector_and_analysers() -> None:
    definition = index_definition(384)
    properties = definition["mappings"]["properties"]
    assert properties["embedding"] == {
        "type": "dense_vector",
        "dims": 384,
        "index": True,
        "similarity": "cosine",
    }
    assert properties["content"]["analyzer"] == "english"
    assert properties["content"]["fields"]["cjk"]["analyzer"] == "cjk"
    for keyword in ("source_id", "tags", "file_name"):
        assert properties[keyword] == {"type": "keyword"}
    assert "content.cjk" in definition["settings"]["index"]["query"]["default_field"]


def test_credentials_are_passed_to_the_client(tmp_path) -> None:
    settings = load_settings(
        _env_file=None,
        data_dir=tmp_path,
        store="elasticsearch",
        elasticsearch_url="https://es.internal:9200",
        elasticsearch_username="needle",
        elasticsearch_password="pw",
        elasticsearch_verify_certs=False,
    )
    kwargs = client_kwargs(settings)
    assert kwargs["basic_auth"] == ("needle", "pw") and kwargs["verify_certs"] is False


def test_retrievers_match_the_store(tmp_path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    backend = build_backend(settings, 384)
    assert isinstance(backend, EmbeddedBackend) and isinstance(backend, SearchBackend)
    bm25, _ = backend.retrievers(settings)
    assert isinstance(bm25, InMemoryBM25Retriever) and bm25.top_k == settings.bm25_top_k


def test_the_factory_picks_elasticsearch_and_its_retrievers(tmp_path) -> None:
    """Through the real client against the local Elasticsearch-protocol server: the one factory."""
    from haystack_integrations.components.retrievers.elasticsearch import ElasticsearchBM25Retriever

    from tests.support.fake_elasticsearch import fake_elasticsearch

    with fake_elasticsearch() as (url, state):
        state.indices["needle"] = []
        settings = load_settings(
            _env_file=None, data_dir=tmp_path, store="elasticsearch", elasticsearch_url=url
        )
        backend = build_backend(settings, 384)
        assert isinstance(backend, ElasticsearchBackend) and isinstance(backend, SearchBackend)
        bm25, _ = backend.retrievers(settings)
        assert isinstance(bm25, ElasticsearchBM25Retriever)
        parameters = bm25.to_dict()["init_parameters"]
        assert parameters["top_k"] == settings.bm25_top_k and parameters["fuzziness"] == "0"
        backend.documents.client.close()


@pytest.mark.elasticsearch
@pytest.mark.skipif(not LIVE_URL, reason="set NEEDLE_ELASTICSEARCH_URL to run against a live Elasticsearch")
def test_live_elasticsearch_ingest_and_answer(service_factory) -> None:
    from tests.conftest import HANDBOOK

    index = f"needle-test-{uuid.uuid4().hex[:8]}"
    service = service_factory(store="elasticsearch", elasticsearch_url=LIVE_URL, elasticsearch_index=index)
    try:
        result = service.ingest_file(HANDBOOK / "leave-policy.md")
        assert result.status == "indexed"
        service.store.client.indices.refresh(index=index)
        listed = service.list_sources()
        assert [(s.file_name, s.chunks) for s in listed] == [("leave-policy.md", result.chunks)]
        assert service.get_trace(service.ask("VPN?").trace_id) is not None  # traces live in the cluster too
        answer = service.ask("How many vacation days do I get?")
        assert answer.citations[0].file_name == "leave-policy.md"
        assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "unchanged"
    finally:
        service.store.client.indices.delete(index=index, ignore_unavailable=True)


def test_alias_swap_is_one_atomic_request() -> None:
    from pipelines.stores.elasticsearch import new_index_name, swap_alias_actions

    new = new_index_name("needle")
    assert new.startswith("needle-") and new != "needle"
    assert swap_alias_actions("needle", "needle-old", new) == [
        {"remove": {"index": "needle-old", "alias": "needle"}},
        {"add": {"index": new, "alias": "needle", "is_write_index": True}},
    ]


def test_trace_documents_and_queries() -> None:
    from pipelines.stores.traces_es import TRACES_MAPPING, feedback_query, recent_query, trace_document

    trace = {
        "trace_id": "t1",
        "created_at": 5.0,
        "origin": "slack",
        "user_id": "U1",
        "question": "q?",
        "answer": {"text": "a [1]", "kind": "extractive"},
        "bm25": [{"rank": 1}],
    }
    document = trace_document(trace)
    assert document["kind"] == "extractive" and document["answer"] == "a [1]"
    assert json.loads(document["payload"]) == trace
    assert set(document) <= set(TRACES_MAPPING["properties"])
    assert recent_query(10, "slack")["query"] == {"bool": {"filter": [{"term": {"origin": "slack"}}]}}
    assert recent_query(10, None)["sort"] == [{"created_at": "desc"}]
    assert feedback_query(5, "down")["query"] == {"bool": {"filter": [{"term": {"rating": "down"}}]}}
    assert feedback_query(5, trace_ids=["t1"])["query"]["bool"]["filter"] == [{"terms": {"trace_id": ["t1"]}}]


@pytest.mark.elasticsearch
@pytest.mark.skipif(not LIVE_URL, reason="set NEEDLE_ELASTICSEARCH_URL to run against a live Elasticsearch")
def test_live_reindex_swaps_the_alias_and_keeps_answering(service_factory) -> None:
    from pipelines.service.reindex import reindex
    from tests.conftest import HANDBOOK

    alias = f"needle-test-{uuid.uuid4().hex[:8]}"
    service = service_factory(store="elasticsearch", elasticsearch_url=LIVE_URL, elasticsearch_index=alias)
    client = service.store.client
    try:
        service.ingest_file(HANDBOOK / "leave-policy.md")
        report = reindex(service, keep_old=False)
        assert report["chunks"] > 0
        assert list(client.indices.get_alias(name=alias)) == [report["new_index"]]
        client.indices.refresh(index=alias)
        assert service.ask("How many vacation days do I get?").citations[0].file_name == "leave-policy.md"
    finally:
        client.indices.delete(index=f"{alias}*", ignore_unavailable=True)


def test_listing_sources_pages_an_aggregation_and_never_reads_text_or_vectors() -> None:
    """The real client against a local server speaking Elasticsearch's protocol (see its docstring)."""
    from pipelines.base.settings import load_settings
    from pipelines.stores.elasticsearch import haystack_store
    from tests.support.fake_elasticsearch import fake_elasticsearch

    chunks = [
        {
            "id": f"{source}-{n}",
            "source_id": source,
            "title": source.upper(),
            "content": "text " * 200,
            "embedding": [0.1] * 384,
            "chunk_index": n,
        }
        for source, count in (("a", 3), ("b", 1), ("c", 2), ("d", 5), ("e", 1))
        for n in range(count)
    ]
    with fake_elasticsearch() as (url, state):
        state.indices["needle"] = chunks
        settings = load_settings(_env_file=None, store="elasticsearch", elasticsearch_url=url)
        store = haystack_store(settings, "needle", 384)  # Haystack's store, as the service builds it
        summaries = ElasticsearchBackend(settings, 384, documents=store).source_summaries(page_size=2)
        store.client.close()

    assert [(meta["source_id"], count) for meta, count in summaries] == [
        ("a", 3),
        ("b", 1),
        ("c", 2),
        ("d", 5),
        ("e", 1),
    ]
    assert all("content" not in meta and "embedding" not in meta for meta, _ in summaries)
    assert summaries[3][0]["title"] == "D"
    searches = [body for method, path, body in state.requests if path == "/needle/_search"]
    assert len(searches) == 4  # three pages of two, and the empty page that ends the listing
    assert all(body["size"] == 0 for body in searches)  # no chunk is fetched as a search hit
    assert [body["aggs"]["sources"]["composite"].get("after") for body in searches] == [
        None,
        {"source_id": "b"},
        {"source_id": "d"},
        {"source_id": "e"},
    ]


def test_service_lists_sources_from_summaries(handbook_service) -> None:
    sources = handbook_service.list_sources()
    assert len(sources) == 15
    chunks = handbook_service.store.filter_documents()
    for source in sources:
        assert source.chunks == sum(1 for doc in chunks if doc.meta["source_id"] == source.source_id)

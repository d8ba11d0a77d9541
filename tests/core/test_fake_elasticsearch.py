"""The local Elasticsearch test server answers Haystack's retrievers as Elasticsearch documents it.

``tests/core/test_replicas.py`` runs whole Needle processes against this server, so its answers must be
right for the right reasons: BM25 by Lucene's formula over the index's analysers, exact kNN with the
filter applied before the top k, Haystack's filter DSL, paging, aliases, and a loud 400 for any query it
cannot answer faithfully. Each request here goes through the real ``elasticsearch`` client and Haystack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.components.retrievers.elasticsearch import (
    ElasticsearchBM25Retriever,
    ElasticsearchEmbeddingRetriever,
)

from pipelines.base.settings import load_settings
from pipelines.stores.elasticsearch import ensure_index, haystack_store, make_client, swap_alias_actions
from tests.support.fake_elasticsearch import FakeElasticsearchState, fake_elasticsearch

DIM = 3


@pytest.fixture
def store(tmp_path) -> Iterator[tuple[Any, FakeElasticsearchState]]:
    """Haystack's store on Needle's index definition, through the ``needle`` alias, as Needle builds it."""
    with fake_elasticsearch() as (url, state):
        settings = load_settings(
            _env_file=None, data_dir=tmp_path, store="elasticsearch", elasticsearch_url=url
        )
        client = make_client(settings)
        ensure_index(client, "needle", DIM)
        client.close()
        documents = haystack_store(settings, "needle", DIM)
        yield documents, state
        documents.client.close()


def _doc(doc_id: str, content: str, embedding: list[float], **meta: Any) -> Document:
    return Document(id=doc_id, content=content, embedding=embedding, meta=meta)


def test_bm25_scores_by_lucenes_formula_over_both_analysed_fields(store) -> None:
    documents, _ = store
    documents.write_documents(
        [
            _doc("1", "apple banana", [1, 0, 0]),
            _doc("2", "apple", [0, 1, 0]),
            _doc("3", "cherry", [0, 0, 1]),
        ]
    )
    bm25 = ElasticsearchBM25Retriever(document_store=documents, fuzziness="0")
    (hit,) = bm25.run(query="cherry")["documents"]
    # N 3 documents, 1 with the term, length 1 against a mean of 4/3, k1 1.2, b 0.75; once in `content`
    # (english) and once in `content.cjk` (no title in these documents).
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    per_field = idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * 1 / (4 / 3)))
    assert hit.id == "3" and hit.score == pytest.approx(2 * per_field)

    ranked = bm25.run(query="apple")["documents"]
    assert [doc.id for doc in ranked] == ["2", "1"]  # the shorter field scores higher


def test_english_field_stems_and_the_cjk_field_matches_chinese(store) -> None:
    documents, _ = store
    documents.write_documents(
        [
            _doc("en", "Our leave policy for employees", [1, 0, 0]),
            _doc("zh", "员工每年享有25天带薪年假", [0, 1, 0]),
            _doc("other", "The travel rules", [0, 0, 1]),
        ]
    )
    bm25 = ElasticsearchBM25Retriever(document_store=documents, fuzziness="0")
    assert [doc.id for doc in bm25.run(query="policies")["documents"]] == ["en"]
    assert [doc.id for doc in bm25.run(query="年假多少天")["documents"]] == ["zh"]
    assert bm25.run(query="the")["documents"] == []  # a stop word in both analysers


def test_filters_apply_to_bm25_and_to_knn_before_the_top_k(store) -> None:
    documents, _ = store
    documents.write_documents(
        [
            _doc("hr", "leave policy", [1, 0, 0], tags=["hr"], audience=["everyone"]),
            _doc("it", "leave the laptop", [0.9, 0.1, 0], tags=["it"], audience=["channel:C1"]),
            _doc("old", "leave days", [0, 1, 0], tags=["hr", "it"]),  # no audience: for everyone
        ]
    )
    hr = {"field": "meta.tags", "operator": "in", "value": ["hr"]}
    bm25 = ElasticsearchBM25Retriever(document_store=documents, fuzziness="0")
    assert {doc.id for doc in bm25.run(query="leave", filters=hr)["documents"]} == {"hr", "old"}
    audience = {
        "operator": "OR",
        "conditions": [
            {"field": "meta.audience", "operator": "in", "value": ["everyone", "user:U1"]},
            {"field": "meta.audience", "operator": "==", "value": None},
        ],
    }
    assert {doc.id for doc in bm25.run(query="leave", filters=audience)["documents"]} == {"hr", "old"}
    not_it = {"field": "meta.tags", "operator": "not in", "value": ["it"]}
    assert [doc.id for doc in documents.filter_documents(not_it)] == ["hr"]

    knn = ElasticsearchEmbeddingRetriever(document_store=documents, top_k=1)
    (nearest,) = knn.run(query_embedding=[0.8, 0.2, 0])["documents"]
    assert nearest.id == "it"
    cosine = (0.8 * 0.9 + 0.2 * 0.1) / (math.hypot(0.8, 0.2) * math.hypot(0.9, 0.1))
    assert nearest.score == pytest.approx((1 + cosine) / 2)
    # The filter removes "it" first, so the one hit is the nearest that passes, never nothing.
    (allowed,) = knn.run(query_embedding=[0.8, 0.2, 0], filters=audience)["documents"]
    assert allowed.id == "hr"


def test_pages_and_counts_past_one_page_and_writes_follow_the_alias(store) -> None:
    documents, state = store
    documents.write_documents([_doc(f"d{n}", f"text {n}", [1, n, 0], n=n) for n in range(25)])
    assert len(documents.filter_documents()) == 25 == documents.count_documents()  # default size is 10
    assert documents.count_documents_by_filter({"field": "meta.n", "operator": ">=", "value": 20}) == 5
    assert (
        len(
            ElasticsearchEmbeddingRetriever(document_store=documents, top_k=15).run(
                query_embedding=[1, 1, 0]
            )["documents"]
        )
        == 15
    )
    documents.update_by_filter(
        {"field": "meta.n", "operator": "<", "value": 2}, {"tags": ["x"]}, refresh=True
    )
    assert {
        doc.id for doc in documents.filter_documents({"field": "meta.tags", "operator": "==", "value": "x"})
    } == {
        "d0",
        "d1",
    }
    documents.delete_documents(["d0", "missing"])
    assert documents.count_documents() == 24
    with pytest.raises(Exception, match="already exist"):
        documents.write_documents([_doc("d1", "again", [1, 0, 0])], policy=DuplicatePolicy.FAIL)

    (old,) = state.aliases["needle"]
    client = documents.client
    client.indices.create(index="needle-new", mappings=state.mappings[old], settings=state.settings[old])
    client.indices.update_aliases(actions=swap_alias_actions("needle", old, "needle-new"))
    assert documents.count_documents() == 0  # the alias now reads the new, empty index
    documents.write_documents([_doc("n", "new", [0, 0, 1])])
    assert list(state.documents["needle-new"]) == ["n"] and len(state.documents[old]) == 24


@pytest.mark.parametrize(
    ("request_body", "refusal"),
    [
        (
            {"query": {"multi_match": {"query": "leave", "type": "most_fields", "fuzziness": "AUTO"}}},
            "fuzziness",
        ),
        ({"query": {"match": {"content": "leave"}}}, "query [match]"),
        ({"query": {"term": {"content": "leave"}}}, "text field [content]"),
        ({"query": {"bool": {"must": [], "minimum_should_match": 1}}}, "bool options"),
        ({"knn": {"field": "embedding", "query_vector": [1, 0], "k": 1, "num_candidates": 5}}, "dimensions"),
        ({"query": {"match_all": {}}, "highlight": {"fields": {"content": {}}}}, "highlight"),
    ],
)
def test_what_it_cannot_answer_faithfully_is_a_400(store, request_body, refusal) -> None:
    """Refused before any document is looked at: an empty index does not hide an unanswerable query."""
    documents, _ = store
    with pytest.raises(BadRequestError, match=re.escape(refusal)):
        documents.client.search(index="needle", **request_body)

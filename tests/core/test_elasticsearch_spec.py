"""Needle's Elasticsearch requests, checked against Elastic's own API specification.

Every test that uses the local Elasticsearch server already fails if a request or a reply leaves the
specification (:func:`tests.support.fake_elasticsearch.fake_elasticsearch`). Here: the check itself
refuses what a real cluster would refuse, and one whole Needle run (ingest, search with and without an
audience, audiences, deletion, listing, records, traces, votes, re-index with its alias swap) exercises
every kind of request the specification file lists, so none is listed without being checked.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.records.audience import Viewer
from pipelines.stores.elasticsearch import index_definition
from tests.support.elasticsearch_spec import Specification
from tests.support.fake_elasticsearch import fake_elasticsearch

HANDBOOK = Path(__file__).resolve().parents[2] / "pipelines" / "samples" / "handbook"


@pytest.fixture(scope="module")
def spec() -> Specification:
    return Specification()


def test_the_file_names_its_source_commit_and_licence(spec: Specification) -> None:
    origin = spec.info["x-needle"]
    assert origin["source"] == "https://github.com/elastic/elasticsearch-specification"
    assert len(origin["commit"]) == 40 and origin["licence"].startswith("Apache-2.0")


def test_needles_index_definition_fits_index_creation(spec: Specification) -> None:
    _, problems = spec.check_request("PUT", "/needle-1", {}, index_definition(384))
    assert problems == []


def test_a_mapping_key_elasticsearch_does_not_know_is_refused(spec: Specification) -> None:
    definition = index_definition(384)
    definition["mappings"]["properties"]["embedding"]["simlarity"] = "cosine"  # a typo
    _, problems = spec.check_request("PUT", "/needle-1", {}, definition)
    assert problems == ["PUT /needle-1: /mappings/properties/embedding: unknown key 'simlarity'"]


def test_a_wrongly_typed_setting_is_refused(spec: Specification) -> None:
    definition = index_definition(384)
    definition["mappings"]["properties"]["embedding"]["dims"] = "384 dimensions"
    _, problems = spec.check_request("PUT", "/needle-1", {}, definition)
    assert problems and all("embedding" in problem for problem in problems)


def test_an_endpoint_outside_the_file_is_refused(spec: Specification) -> None:
    operation, problems = spec.check_request("POST", "/needle/_rank_eval", {}, {"requests": []})
    assert operation is None
    assert problems == ["POST /needle/_rank_eval: no such operation in the specification file"]


def test_query_parameters_are_checked_by_name_and_value(spec: Specification) -> None:
    assert spec.check_request("PUT", "/needle/_doc/1", {"refresh": ["wait_for"]}, {"a": 1})[1] == []
    _, unknown = spec.check_request("PUT", "/needle/_doc/1", {"refersh": ["true"]}, {"a": 1})
    assert unknown == ["PUT /needle/_doc/1: query parameter 'refersh' is not one the operation takes"]
    _, wrong = spec.check_request("PUT", "/needle/_doc/1", {"refresh": ["soon"]}, {"a": 1})
    assert wrong == ["PUT /needle/_doc/1: query parameter refresh='soon' does not fit its schema"]


def test_search_bodies_are_checked_down_to_the_query(spec: Specification) -> None:
    good = {
        "query": {"bool": {"filter": [{"term": {"source_id": "a"}}, {"terms": {"tags": ["x", "y"]}}]}},
        "knn": {"field": "embedding", "query_vector": [0.1, 0.2], "k": 5, "num_candidates": 50},
        "sort": [{"updated_at": {"order": "desc"}}, "_score"],
        "size": 10,
    }
    assert spec.check_request("POST", "/needle/_search", {}, good)[1] == []
    misspelt = {"query": {"bool": {"filters": [{"term": {"source_id": "a"}}]}}}
    assert spec.check_request("POST", "/needle/_search", {}, misspelt)[1] == [
        "POST /needle/_search: /query/bool: unknown key 'filters'"
    ]
    wrong_knn = {"knn": {"field": "embedding", "query_vector": "0.1,0.2", "k": 5}}
    assert spec.check_request("POST", "/needle/_search", {}, wrong_knn)[1]


def test_bulk_bodies_are_checked_line_by_line(spec: Specification) -> None:
    lines = [{"index": {"_id": "1"}}, {"content": "x"}, {"delete": {"_id": "2"}}]
    assert spec.check_request("PUT", "/needle/_bulk", {"refresh": ["true"]}, lines)[1] == []
    wrong = [{"insert": {"_id": "1"}}, {"content": "x"}]
    assert spec.check_request("PUT", "/needle/_bulk", {}, wrong)[1]
    unpaired = [{"index": {"_id": "1"}}]
    assert spec.check_request("PUT", "/needle/_bulk", {}, unpaired)[1] == [
        "PUT /needle/_bulk: bulk line 1: index without its document line"
    ]


def test_replies_are_checked_against_the_response_schema(spec: Specification) -> None:
    operation, _ = spec.check_request("PUT", "/needle/_doc/1", {}, {"a": 1})
    assert operation is not None
    full = {
        "_index": "needle",
        "_id": "1",
        "_version": 1,
        "result": "created",
        "_shards": {"total": 1, "successful": 1, "failed": 0},
        "_seq_no": 0,
        "_primary_term": 1,
    }
    assert spec.check_reply(operation, 201, full) == []
    missing = {key: value for key, value in full.items() if key != "_shards"}
    assert spec.check_reply(operation, 201, missing) == [
        "reply to PUT /{index}/_doc/{id}: (body): '_shards' is a required property"
    ]


def test_an_off_specification_request_fails_the_test_that_sent_it() -> None:
    from elasticsearch import Elasticsearch

    refused = pytest.raises(AssertionError, match="unknown key 'simlarity'")
    with refused, fake_elasticsearch() as (url, _state):
        client = Elasticsearch(url)
        client.indices.create(
            index="x", mappings={"properties": {"v": {"type": "dense_vector", "simlarity": "cosine"}}}
        )
        client.close()


def test_a_whole_needle_run_sends_only_specified_requests_and_every_kind_is_checked(
    service_factory, spec: Specification
) -> None:
    """Coverage of the specification file by Needle itself: each listed operation is sent at least once
    by the real code paths, so each is checked (the share the issue asks for is this set's size)."""
    with fake_elasticsearch() as (url, state):
        service = service_factory(store="elasticsearch", elasticsearch_url=url)
        files = ("leave-policy.md", "it-setup-guide.md", "office-facilities.html")
        results = service.ingest_paths([HANDBOOK / name for name in files])
        assert all(result.status == "indexed" for result in results), results
        travel = next(r.source_id for r in results if "leave" in r.source_id)
        service.set_source_audience(travel, "channel:CFIN", actor="test")
        answer = service.ask("How do I connect to the VPN?", origin="test")
        service.ask("How many vacation days do I get?", viewer=Viewer(user_id="U1", channel_id="CFIN"))
        service.record_feedback(answer.trace_id, "up", user_id="U1")
        service.record_slack_location(
            answer.trace_id, {"channel": "C1", "message_ts": "1.0", "thread_ts": "1.0"}
        )
        assert service.records.create("events", "E1", {"team": "T1"})
        assert not service.records.create("events", "E1", {"team": "T1"})  # 409: it exists
        assert service.records.purge("events", before=time.time() + 60) == 1
        assert service.get_trace(answer.trace_id) is not None
        assert len(service.list_sources()) == 3
        service.delete_source(next(r.source_id for r in results if "office" in r.source_id), actor="t")
        service.reindex_source(travel, actor="test")
        from pipelines.service.reindex import reindex

        reindex(service, keep_old=False)
        assert len(service.list_sources()) == 2
        service.close()

    exercised = set(state.operations)
    listed = {f"{operation.method} {operation.template}" for operation in spec.operations}
    assert state.spec_problems == []
    # What the doctor alone sends is exercised by its own tests.
    unexercised = listed - exercised - DOCTOR_ONLY
    assert unexercised == set(), f"listed in the specification file but never sent: {sorted(unexercised)}"


#: Operations only ``needle doctor`` sends (cluster health, licence, settings, mapping).
DOCTOR_ONLY = {
    "GET /_license",
    "GET /_cluster/health",
    "GET /_cluster/settings",
    "GET /{index}/_mapping",
    "GET /_cat/allocation",
    "GET /_cat/indices/{index}",
}

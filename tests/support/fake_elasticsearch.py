"""A local server that answers the Elasticsearch requests Needle's source listing sends, over real HTTP.

No Elasticsearch can run on the build machine. This speaks enough of its REST protocol for the official
``elasticsearch`` client and Haystack's store (product header, ``GET /``, ``HEAD /<index>``, and
``POST /<index>/_search`` with a ``composite`` aggregation over one keyword field and a ``top_hits``
sub-aggregation with ``_source`` excludes) to test Needle's request building, paging and parsing end to
end. For Needle's records (:mod:`pipelines.stores.records_es`) it also keeps documents by id: ``PUT
/<index>`` (create, 400 ``resource_already_exists_exception`` when it exists), ``PUT /<index>/_doc/<id>``,
``PUT /<index>/_create/<id>`` (409 ``version_conflict_engine_exception`` when the id exists), ``GET`` and
``DELETE /<index>/_doc/<id>`` (404 when missing), and ``_search`` with a ``bool`` query of ``term``,
``range`` and ``must_not``/``exists`` clauses, ``sort`` and ``size``, as documented by Elasticsearch. It
is not a search engine: anything else gets a 400, so a request Needle did not mean to send fails loudly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class FakeElasticsearchState:
    indices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # index -> _source documents
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # index -> id -> _source
    mappings: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _value(source: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        source = source.get(part) if isinstance(source, dict) else None
    return source


def _matches(source: dict[str, Any], query: dict[str, Any]) -> bool:
    """The ``bool`` queries Needle's records send: filter (term, range) and must_not (exists)."""
    if "match_all" in query:
        return True
    ((kind, clauses),) = query.items()
    if kind != "bool":
        raise ValueError(f"query {kind} is not supported")
    for clause in clauses.get("filter", []):
        ((name, spec),) = clause.items()
        ((target, wanted),) = spec.items()
        value = _value(source, target)
        if name == "term" and value != wanted:
            return False
        if name == "range":
            bounds = {
                "gte": lambda v, b: v >= b,
                "gt": lambda v, b: v > b,
                "lt": lambda v, b: v < b,
                "lte": lambda v, b: v <= b,
            }
            if value is None or not all(bounds[op](value, bound) for op, bound in wanted.items()):
                return False
        if name not in ("term", "range"):
            raise ValueError(f"filter {name} is not supported")
    return all(_value(source, clause["exists"]["field"]) is None for clause in clauses.get("must_not", []))


def search_hits(documents: dict[str, dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch's answer to a filtered, sorted search over documents kept by id."""
    hits = [(doc_id, source) for doc_id, source in documents.items() if _matches(source, body["query"])]
    for sort in reversed(body.get("sort", [])):
        ((name, direction),) = sort.items()
        hits.sort(key=lambda hit: _value(hit[1], name), reverse=direction == "desc")
    hits = hits[: body.get("size", 10)]
    return {
        "took": 1,
        "timed_out": False,
        "hits": {
            "total": {"value": len(hits), "relation": "eq"},
            "hits": [{"_index": "i", "_id": doc_id, "_source": source} for doc_id, source in hits],
        },
    }


def composite_page(documents: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch's answer to a one-field composite aggregation with a top_hits sub-aggregation."""
    ((name, aggregation),) = body["aggs"].items()
    composite = aggregation["composite"]
    ((key_name, source),) = composite["sources"][0].items()
    field_name = source["terms"]["field"]
    after = (composite.get("after") or {}).get(key_name)
    excludes = set(aggregation["aggs"]["first"]["top_hits"]["_source"]["excludes"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        groups.setdefault(str(document[field_name]), []).append(document)
    keys = sorted(key for key in groups if after is None or key > after)[: composite["size"]]
    buckets = [
        {
            "key": {key_name: key},
            "doc_count": len(groups[key]),
            "first": {
                "hits": {
                    "total": {"value": len(groups[key]), "relation": "eq"},
                    "hits": [
                        {
                            "_index": "i",
                            "_id": "x",
                            "_source": {k: v for k, v in groups[key][0].items() if k not in excludes},
                        }
                    ],
                }
            },
        }
        for key in keys
    ]
    result: dict[str, Any] = {"buckets": buckets}
    if keys:
        result["after_key"] = {key_name: keys[-1]}
    return {
        "took": 1,
        "timed_out": False,
        "hits": {"total": {"value": len(documents), "relation": "eq"}, "hits": []},
        "aggregations": {name: result},
    }


def _handler(state: FakeElasticsearchState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = self.path.split("?")[0]
            state.requests.append((self.command, path, body))
            if path == "/":
                self._reply(
                    200, {"name": "fake", "version": {"number": "8.19.0"}, "tagline": "You Know, for Search"}
                )
                return
            parts = [unquote(part) for part in path.strip("/").split("/")]
            with state.lock:
                if self._documents(parts, body):
                    return
            if len(parts) == 2 and parts[1] == "_search" and body and "aggs" in body:
                if parts[0] not in state.indices:
                    self._reply(404, {"error": {"type": "index_not_found_exception"}, "status": 404})
                    return
                self._reply(200, composite_page(state.indices[parts[0]], body))
                return
            self._reply(400, {"error": {"type": "unsupported_by_fake", "reason": path}, "status": 400})

        def _documents(self, parts: list[str], body: dict[str, Any] | None) -> bool:
            """Index creation and documents by id; ``False`` when the request is not one of those."""
            index = parts[0]
            if len(parts) == 1 and self.command == "PUT":
                if index in state.documents or index in state.indices:
                    error = {"type": "resource_already_exists_exception", "reason": index}
                    self._reply(400, {"error": error, "status": 400})
                else:
                    state.documents[index] = {}
                    state.mappings[index] = (body or {}).get("mappings", {})
                    self._reply(200, {"acknowledged": True, "index": index})
                return True
            if index not in state.documents:
                return False
            documents = state.documents[index]
            if len(parts) == 3 and parts[1] in ("_doc", "_create"):
                doc_id = parts[2]
                if self.command in ("PUT", "POST"):
                    if parts[1] == "_create" and doc_id in documents:
                        error = {"type": "version_conflict_engine_exception", "reason": "document exists"}
                        self._reply(409, {"error": error, "status": 409})
                        return True
                    result = "updated" if doc_id in documents else "created"
                    documents[doc_id] = body or {}
                    self._reply(201 if result == "created" else 200, {"_id": doc_id, "result": result})
                elif self.command == "GET":
                    if doc_id in documents:
                        self._reply(200, {"_id": doc_id, "found": True, "_source": documents[doc_id]})
                    else:
                        self._reply(404, {"_id": doc_id, "found": False})
                elif self.command == "DELETE":
                    found = documents.pop(doc_id, None) is not None
                    self._reply(
                        200 if found else 404, {"_id": doc_id, "result": "deleted" if found else "not_found"}
                    )
                return True
            if len(parts) == 2 and parts[1] == "_search" and body and "query" in body:
                self._reply(200, search_hits(documents, body))
                return True
            if len(parts) == 2 and parts[1] == "_delete_by_query" and body and "query" in body:
                doomed = [doc_id for doc_id, source in documents.items() if _matches(source, body["query"])]
                for doc_id in doomed:
                    del documents[doc_id]
                self._reply(200, {"deleted": len(doomed), "failures": []})
                return True
            return False

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def do_HEAD(self) -> None:
            """``HEAD /<index>``: does the index exist (Haystack's store asks before its first use)."""
            state.requests.append(("HEAD", self.path, None))
            name = self.path.strip("/").split("?")[0]
            known = name in state.indices or name in state.documents
            self.send_response(200 if known else 404)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def fake_elasticsearch() -> Iterator[tuple[str, FakeElasticsearchState]]:
    """``(base_url, state)`` of a server on a free loopback port, for the length of the block."""
    state = FakeElasticsearchState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()

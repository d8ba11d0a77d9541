"""A local server that answers the Elasticsearch requests Needle's source listing sends, over real HTTP.

No Elasticsearch can run on the build machine. This speaks enough of its REST protocol for the official
``elasticsearch`` client and Haystack's store (product header, ``GET /``, ``HEAD /<index>``, and
``POST /<index>/_search`` with a ``composite`` aggregation over one keyword field and a ``top_hits``
sub-aggregation with ``_source`` excludes) to test Needle's request building, paging and parsing end to
end. It is not a search engine: anything else gets
a 400, so a request Needle did not mean to send fails loudly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeElasticsearchState:
    indices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # index -> _source documents
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)


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
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[1] == "_search" and body and "aggs" in body:
                if parts[0] not in state.indices:
                    self._reply(404, {"error": {"type": "index_not_found_exception"}, "status": 404})
                    return
                self._reply(200, composite_page(state.indices[parts[0]], body))
                return
            self._reply(400, {"error": {"type": "unsupported_by_fake", "reason": path}, "status": 400})

        do_GET = do_POST = _handle

        def do_HEAD(self) -> None:
            """``HEAD /<index>``: does the index exist (Haystack's store asks before its first use)."""
            state.requests.append(("HEAD", self.path, None))
            known = self.path.strip("/").split("?")[0] in state.indices
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

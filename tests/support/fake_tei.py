"""A local server that speaks text-embeddings-inference's protocol, embedding with the real MiniLM.

The real ``HuggingFaceAPIDocumentEmbedder``/``TextEmbedder`` (through ``huggingface_hub.InferenceClient``)
post ``{"inputs": ..., "normalize": ..., "truncate": ...}`` to the server's URL as they would to TEI or an
Inference Endpoint, and get a JSON list of vectors back. The vectors come from the same
all-MiniLM-L6-v2 weights Needle loads locally, so answers through this server can be compared with local
ones. Its refusals are TEI's documented ones: 413 for a batch over ``--max-client-batch-size``, 429 when
overloaded, 424 when the model fails, each with ``{"error", "error_type"}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@lru_cache(maxsize=1)
def _model() -> Any:
    from sentence_transformers import SentenceTransformer

    from pipelines.base.models import bundled_minilm_path

    return SentenceTransformer(str(bundled_minilm_path()), device="cpu")


@dataclass
class FakeTEIState:
    max_batch: int = 32
    #: Refuse the next N requests with this status (429 overloaded, 424 model error, 503 unavailable).
    fail_next: int = 0
    fail_status: int = 429
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_ERROR_TYPES = {413: "Validation", 422: "Validation", 424: "Backend", 429: "Overloaded", 503: "Unhealthy"}


def _handler(state: FakeTEIState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message, "error_type": _ERROR_TYPES.get(status, "Backend")})

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._json(200, {})
            elif self.path.rstrip("/") == "/info":
                self._json(
                    200,
                    {
                        "model_id": "sentence-transformers/all-MiniLM-L6-v2",
                        "max_client_batch_size": state.max_batch,
                    },
                )
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with state.lock:
                state.requests.append({"path": self.path, "body": body})
                failing = state.fail_next > 0
                if failing:
                    state.fail_next -= 1
            if self.path.rstrip("/") not in ("", "/embed"):
                self._error(404, f"no route {self.path}")
                return
            if failing:
                self._error(
                    state.fail_status, "Model is overloaded" if state.fail_status == 429 else "model failed"
                )
                return
            inputs = body.get("inputs")
            texts = [inputs] if isinstance(inputs, str) else inputs
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                self._error(422, "`inputs` must be a string or a non-empty list of strings")
                return
            if len(texts) > state.max_batch:
                self._error(413, f"batch size {len(texts)} > maximum allowed batch size {state.max_batch}")
                return
            parameters = body.get("parameters") or {}
            normalize = body.get("normalize", parameters.get("normalize", True))
            vectors = _model().encode(texts, normalize_embeddings=bool(normalize), batch_size=32)
            self._json(200, [vector.tolist() for vector in vectors])

    return Handler


@contextmanager
def fake_tei_server() -> Iterator[tuple[str, FakeTEIState]]:
    """``(url, state)`` of a server on a free loopback port, for the length of the block."""
    state = FakeTEIState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()

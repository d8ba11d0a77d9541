"""A local server speaking the OpenAI chat-completions protocol, as vLLM, Ollama and llama.cpp's server do.

Haystack's ``OpenAIChatGenerator`` (through the ``openai`` client) talks to it exactly as it would to a
self-hosted server at ``http://host:port/v1``: ``GET /v1/models``, ``POST /v1/chat/completions`` answered
whole or as a Server-Sent-Event stream ending in ``data: [DONE]``, and OpenAI's error shapes
(``{"error": {"message", "type", "param", "code"}}``) for a wrong key (401), a model it does not serve
(404), rate limiting (429, with ``Retry-After``) and a server failure (500). ``cut`` streams part of an
answer and drops the connection without a finish reason, as a dying server or proxy does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.support.loopback_server import StatefulServer, serving

Mode = Literal["ok", "rate_limited", "server_error", "cut"]
PREFIX = "/v1"


@dataclass
class FakeOpenAIState:
    mode: Mode = "ok"
    reply: Callable[[list[dict[str, Any]]], str] = lambda messages: "I could not find this in the documents."
    #: Models the server serves; a request for another is a 404 ``model_not_found``.
    models: tuple[str, ...] = ("local-model",)
    #: The key the server expects (``None``: any, or none).
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


def _error(message: str, kind: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _chunk(model: str, content: str | None, finish: str | None = None, role: bool = False) -> bytes:
    delta: dict[str, Any] = {"content": content} if content is not None else {}
    if role:
        delta["role"] = "assistant"
    payload = {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: StatefulServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _authorized(self) -> bool:
        expected = self.server.state.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._json(401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
        return False

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers.items())})
        if self.path != f"{PREFIX}/models":
            self._json(404, _error(f"no route {self.path}", "invalid_request_error", None))
            return
        if self._authorized():
            data = [{"id": name, "object": "model", "owned_by": "local"} for name in state.models]
            self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        headers = {key.lower(): value for key, value in self.headers.items()}
        state.requests.append({"method": "POST", "path": self.path, "body": body, "headers": headers})
        if self.path != f"{PREFIX}/chat/completions":
            self._json(404, _error(f"no route {self.path}", "invalid_request_error", None))
            return
        if not self._authorized():
            return
        model = str(body.get("model"))
        if model not in state.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            self._json(404, _error(message, "invalid_request_error", "model_not_found", "model"))
            return
        if state.mode == "rate_limited":
            self._json(
                429,
                _error("Rate limit reached, retry later.", "requests", "rate_limit_exceeded"),
                {"Retry-After": "20"},
            )
            return
        if state.mode == "server_error":
            self._json(500, _error("The server had an error processing your request.", "server_error", None))
            return
        text = state.reply(body.get("messages", []))
        if body.get("stream"):
            self._stream(model, text, cut=state.mode == "cut")
            return
        self._json(
            200,
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            },
        )

    def _stream(self, model: str, text: str, cut: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        words = text.split(" ")
        try:
            self.wfile.write(_chunk(model, "", role=True))
            for index, word in enumerate(words):
                self.wfile.write(_chunk(model, word if index == 0 else f" {word}"))
                self.wfile.flush()
                if cut and index >= len(words) // 2:
                    self.close_connection = True
                    return  # the connection drops: no finish reason, no [DONE]
            self.wfile.write(_chunk(model, None, finish="stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fake_openai_server() -> Iterator[tuple[str, FakeOpenAIState]]:
    """Start the server on a free loopback port; yields its base URL (ending in ``/v1``) and its state."""
    state = FakeOpenAIState()
    with serving(_Handler, state) as url:
        yield f"{url}{PREFIX}", state

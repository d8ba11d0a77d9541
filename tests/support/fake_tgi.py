"""A local server that speaks text-generation-inference's chat-completions protocol (OpenAI-style).

The real ``HuggingFaceAPIChatGenerator`` (through ``huggingface_hub.InferenceClient``) talks to it exactly
as it would to TGI or an Inference Endpoint: JSON replies, Server-Sent-Event streams, HTTP errors, stalls.
Tests set ``mode`` to choose the behaviour and read ``requests`` to see what the client sent.
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

Mode = Literal["ok", "error", "slow", "empty", "garbage", "stall_stream"]


@dataclass
class FakeTGIState:
    mode: Mode = "ok"
    reply: Callable[[list[dict[str, Any]]], str] = lambda messages: "I could not find this in the documents."
    delay_seconds: float = 0.0
    #: Pause between streamed tokens, as a real model has (0: the whole reply at once).
    token_delay_seconds: float = 0.0
    #: How a streamed reply is cut into tokens (default: a word each, with its leading space).
    tokens: Callable[[str], list[str]] | None = None
    status: int = 503
    requests: list[dict[str, Any]] = field(default_factory=list)


def _chunk(content: str, finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "local-tgi",
        "system_fingerprint": "fake-tgi",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: StatefulServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._json(200, {"model_id": "local-tgi", "status": "ok"})

    def do_POST(self) -> None:
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        headers = {key.lower(): value for key, value in self.headers.items()}
        state.requests.append({"path": self.path, "body": body, "headers": headers})
        if not self.path.rstrip("/").endswith("chat/completions"):
            self._json(404, {"error": f"no route {self.path}"})
            return
        if state.mode == "error":
            self._json(state.status, {"error": "Model is overloaded", "error_type": "overloaded"})
            return
        if state.mode == "slow":
            time.sleep(state.delay_seconds)
        if state.mode == "garbage":
            self._raw(200, b"<html>502 Bad Gateway</html>", "text/html")
            return
        text = "" if state.mode == "empty" else state.reply(body.get("messages", []))
        if body.get("stream"):
            self._stream(
                text,
                stall=state.mode == "stall_stream",
                delay=state.delay_seconds,
                token_delay=state.token_delay_seconds,
                tokens=state.tokens,
            )
        else:
            self._json(
                200,
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": "local-tgi",
                    "system_fingerprint": "fake-tgi",
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

    def _stream(
        self,
        text: str,
        *,
        stall: bool,
        delay: float,
        token_delay: float = 0.0,
        tokens: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            for index, token in enumerate(tokens(text) if tokens else _tokens(text)):
                if token_delay > 0:
                    time.sleep(token_delay)
                self.wfile.write(_chunk(token))
                self.wfile.flush()
                if stall and index >= 1:
                    time.sleep(delay)  # a model that starts, then hangs
                    return
            self.wfile.write(_chunk("", finish="stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json")

    def _raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _tokens(text: str) -> Iterator[str]:
    words = text.split(" ")
    for index, word in enumerate(words):
        yield word if index == 0 else f" {word}"


@contextmanager
def fake_tgi_server() -> Iterator[tuple[str, FakeTGIState]]:
    """Start the server on a free loopback port; yields its base URL and its mutable state."""
    state = FakeTGIState()
    with serving(_Handler, state) as url:
        yield f"{url}", state

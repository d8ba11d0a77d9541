"""A local Socket Mode server: sends envelopes to the connected app and collects its acks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


@dataclass
class SocketState:
    url: str = ""
    connected: threading.Event = field(default_factory=threading.Event)
    acks: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    connection: ServerConnection | None = None

    def send(self, envelope_type: str, payload: dict[str, Any], envelope_id: str) -> None:
        assert self.connected.wait(10), "the app never connected"
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.sent_at[envelope_id] = time.monotonic()
        assert self.connection is not None
        self.connection.send(json.dumps(envelope))

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        """The ack's delay in seconds and its body."""
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            if time.monotonic() > deadline:
                raise AssertionError(f"no ack for {envelope_id}")
            time.sleep(0.01)
        at, body = self.acks[envelope_id]
        return at - self.sent_at[envelope_id], body


@contextmanager
def socket_mode_server() -> Iterator[SocketState]:
    state = SocketState()

    def handler(connection: ServerConnection) -> None:
        state.connection = connection
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0"}})
        )
        state.connected.set()
        try:
            for raw in connection:
                body = json.loads(raw)
                if "envelope_id" in body:
                    state.acks[body["envelope_id"]] = (time.monotonic(), body)
        except ConnectionClosed:
            return

    with serve(handler, "127.0.0.1", 0) as server:
        state.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield state
        finally:
            server.shutdown()

"""A local stand-in for Slack's Web API that records every call and answers like Slack does.

The bot's ``WebClient`` is pointed at it (``NEEDLE_SLACK_API_URL``). It keeps the messages it was asked to
post, per channel, so ``chat.update`` edits them and ``conversations.replies`` returns real threads; tests
seed the users' own messages with :meth:`SlackState.add_user_message`. ``/response/<id>`` plays the
``response_url`` of slash commands and buttons.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0TEST"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float


@dataclass
class SlackState:
    url: str = ""
    socket_url: str = ""
    calls: list[Call] = field(default_factory=list)
    #: channel -> ts -> message
    messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: method -> Slack error code to answer with (e.g. ``{"chat.postMessage": "not_in_channel"}``)
    failures: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def add_user_message(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> str:
        ts = self.next_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self.lock:
            self.messages.setdefault(channel, {})[ts] = message
        return ts

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, predicate: Callable[[SlackState], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate(self)
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s; calls: {[c.method for c in self.calls]}")

    def settle(self, quiet: float = 0.4, timeout: float = 10.0) -> None:
        """Wait until no call has arrived for ``quiet`` seconds, counted from now at the earliest, so a
        listener that has not made its first call yet is waited for (to check nothing more happens)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            with self.lock:
                last = max(self.calls[-1].at if self.calls else 0.0, started)
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _handle(self, raw: bytes) -> None:
        parsed = urlparse(self.path)
        args: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        if raw:
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                args.update(json.loads(raw))
            else:
                args.update({key: values[-1] for key, values in parse_qs(raw.decode()).items()})
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        state = self.server.state
        if parsed.path.startswith("/response/"):
            self._record("response_url", {**args, "_path": parsed.path})
            self._json({"ok": True})
            return
        method = parsed.path.removeprefix("/api/")
        self._record(method, args)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            self._json({"ok": False, "error": "invalid_auth"})
        elif method in state.failures:
            self._json({"ok": False, "error": state.failures[method]})
        else:
            self._json(_answer(state, method, args))

    def _record(self, method: str, args: dict[str, Any]) -> None:
        state = self.server.state
        with state.lock:
            state.calls.append(Call(method, args, time.monotonic()))

    def _json(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _answer(state: SlackState, method: str, args: dict[str, Any]) -> dict[str, Any]:
    channel = args.get("channel", "")
    if method == "auth.test":
        return {
            "ok": True,
            "url": "https://needle-test.slack.com/",
            "team": "Needle Test",
            "user": "needle",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
    if method == "chat.postMessage":
        ts = state.next_ts()
        message = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "ts": ts,
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        with state.lock:
            state.messages.setdefault(channel, {})[ts] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}
    if method == "chat.update":
        with state.lock:
            message = state.messages.get(channel, {}).get(args.get("ts", ""))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(text=args.get("text", ""), blocks=args.get("blocks") or [])
        return {"ok": True, "channel": channel, "ts": args["ts"], "text": message["text"], "message": message}
    if method == "chat.postEphemeral":
        return {"ok": True, "message_ts": state.next_ts()}
    if method in ("views.publish", "views.open", "views.update"):
        return {"ok": True, "view": {"id": "V0TEST", "team_id": TEAM_ID, **(args.get("view") or {})}}
    if method == "conversations.replies":
        with state.lock:
            thread = [
                dict(message)
                for message in state.messages.get(channel, {}).values()
                if message["ts"] == args.get("ts") or message.get("thread_ts") == args.get("ts")
            ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": sorted(thread, key=lambda m: m["ts"]), "has_more": False}
    if method == "apps.connections.open":
        return {"ok": True, "url": state.socket_url}
    return {"ok": False, "error": "unknown_method"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: SlackState


@contextmanager
def slack_api_server() -> Iterator[SlackState]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = SlackState(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()

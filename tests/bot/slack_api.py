"""A local stand-in for Slack's Web API that records every call and answers like Slack does.

The bot's ``WebClient`` is pointed at it (``NEEDLE_SLACK_API_URL``). It keeps the messages it was asked to
post, per channel, so ``chat.update`` edits them and ``conversations.replies`` returns real threads; tests
seed the users' own messages with :meth:`SlackState.add_user_message`. ``/response/<id>`` plays the
``response_url`` of slash commands and buttons.

AI-app methods, as Slack documents them: ``chat.startStream`` (a reply in a thread; outside DMs it needs
``recipient_user_id`` and ``recipient_team_id``), ``chat.appendStream`` and ``chat.stopStream`` (only on a
message still streaming: ``message_not_in_streaming_state`` otherwise; ``chat.update`` on a message that
is still streaming answers ``streaming_state_conflict``), and ``assistant.threads.setStatus`` /
``setSuggestedPrompts`` (at most four prompts) / ``setTitle``. A workspace without them
(``SlackState(ai_apps=False)``, the default of :func:`slack_api_server`) answers :data:`REFUSED` to each,
as a workspace whose plan or app configuration does not offer them; the bot tests opt in.

Memberships, as Slack documents them: ``usergroups.users.list`` (``{"users": [...]}``; ``no_such_subteam``
for an unknown group) and ``conversations.members`` (cursor-paginated: ``limit`` 1-999, default 100,
``response_metadata.next_cursor`` empty on the last page; ``channel_not_found``, ``invalid_cursor``,
``invalid_limit``). Tests fill :attr:`SlackState.usergroups` and :attr:`SlackState.channel_members`.

What the Slack connector reads, as Slack documents it: ``conversations.list`` (``types``,
``exclude_archived``; cursor-paginated), ``conversations.info`` (the conversation object with
``is_private`` and ``is_member``; ``channel_not_found``), ``conversations.history`` (top-level messages,
newest first; a thread's parent carries ``reply_count``, ``reply_users`` and ``latest_reply``; a bot
token reads only channels the bot is in, else ``not_in_channel``), ``conversations.replies`` (the parent
then its replies, oldest first; ``thread_not_found``), ``users.info`` (``user_not_found``),
``users.lookupByEmail`` (``users_not_found``) and ``chat.getPermalink`` (``message_not_found``). Every
cursor-paginated method answers ``invalid_cursor`` / ``invalid_limit`` as Slack does. Tests fill
:attr:`SlackState.channels` and :attr:`SlackState.users` (:meth:`SlackState.add_channel`,
:meth:`SlackState.add_user`) and edit or delete people's messages (:meth:`SlackState.edit_message`,
:meth:`SlackState.delete_message`: a thread's parent deleted under its replies leaves Slack's
``tombstone``).

Faults: :attr:`SlackState.faults` answers a method with an HTTP status (a 429 with ``Retry-After``, a
500) for a number of calls, optionally only for calls a predicate picks (a second page); setting
:attr:`SlackState.token_error` (``token_expired``, ``token_revoked``) refuses the bot token everywhere.
"""

from __future__ import annotations

import base64
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
WORKSPACE_URL = "https://needle-test.slack.com/"
#: What a workspace that does not offer the AI-app methods answers to them.
REFUSED = "feature_not_enabled"
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
ASSISTANT_METHODS = (
    "assistant.threads.setStatus",
    "assistant.threads.setSuggestedPrompts",
    "assistant.threads.setTitle",
)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    #: What the stand-in answered (``{"ok": ..., ...}``).
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer ``method`` with HTTP ``status`` for the next ``times`` calls that ``when`` picks."""

    method: str
    status: int
    times: int = 1
    #: Seconds in the ``Retry-After`` header (429s).
    retry_after: int | None = None
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class SlackState:
    url: str = ""
    socket_url: str = ""
    calls: list[Call] = field(default_factory=list)
    #: channel -> ts -> message
    messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: method -> Slack error code to answer with (e.g. ``{"chat.postMessage": "not_in_channel"}``)
    failures: dict[str, str] = field(default_factory=dict)
    #: The workspace offers streaming and the assistant methods (else they answer ``REFUSED``).
    ai_apps: bool = False
    #: user group id -> its members' user ids
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    #: channel id -> its members' user ids
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    #: method -> an event its calls wait for before they are answered (a slow Slack, held by a test)
    held: dict[str, threading.Event] = field(default_factory=dict)
    #: channel id -> conversation object (``conversations.list``, ``conversations.info``)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: user id -> user object (``users.info``, ``users.lookupByEmail``)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: HTTP faults answered before anything else (see :class:`Fault`)
    faults: list[Fault] = field(default_factory=list)
    #: What Slack answers to the bot token once it no longer accepts it (``token_expired``, ...)
    token_error: str | None = None
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

    def add_channel(
        self,
        channel: str,
        name: str,
        *,
        private: bool = False,
        member: bool = True,
        archived: bool = False,
        members: list[str] | None = None,
    ) -> None:
        """A channel the workspace has; ``member``: the bot is in it (``is_member``)."""
        with self.lock:
            self.channels[channel] = {
                "id": channel,
                "name": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": private,
                "is_archived": archived,
                "is_member": member,
                "created": 1449252889,
            }
            if members is not None:
                self.channel_members[channel] = [*members, *([BOT_USER_ID] if member else [])]

    def add_user(
        self,
        user: str,
        display_name: str,
        *,
        email: str | None = None,
        real_name: str | None = None,
        deleted: bool = False,
        bot: bool = False,
    ) -> None:
        profile: dict[str, Any] = {
            "display_name": display_name,
            "display_name_normalized": display_name,
            "real_name": real_name or display_name,
            "real_name_normalized": real_name or display_name,
        }
        if email:
            profile["email"] = email
        with self.lock:
            self.users[user] = {
                "id": user,
                "team_id": TEAM_ID,
                "name": display_name.lower().replace(" ", "."),
                "deleted": deleted,
                "real_name": real_name or display_name,
                "is_bot": bot,
                "profile": profile,
            }

    def edit_message(self, channel: str, ts: str, text: str) -> str:
        """Edit a message as its author does in Slack; returns the edit's ``ts``."""
        edited = self.next_ts()
        with self.lock:
            message = self.messages[channel][ts]
            message["text"] = text
            message["edited"] = {"user": message.get("user"), "ts": edited}
        return edited

    def delete_message(self, channel: str, ts: str) -> None:
        """Delete a message; a thread's parent with replies becomes Slack's tombstone."""
        with self.lock:
            thread = self.messages.get(channel, {})
            has_replies = any(m.get("thread_ts") == ts and m["ts"] != ts for m in thread.values())
            if has_replies:
                thread[ts] = {
                    "type": "message",
                    "subtype": "tombstone",
                    "text": "This message was deleted.",
                    "user": "USLACKBOT",
                    "hidden": True,
                    "ts": ts,
                    "thread_ts": ts,
                }
            else:
                thread.pop(ts, None)

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def bot_messages(self, channel: str) -> list[dict[str, Any]]:
        """The bot's messages in ``channel`` as they stand now, oldest first."""
        with self.lock:
            found = [dict(m) for m in self.messages.get(channel, {}).values() if m.get("bot_id") == BOT_ID]
        return sorted(found, key=lambda m: m["ts"])

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
        for key in ("blocks", "view", "chunks", "prompts", "loading_messages"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        state = self.server.state
        if parsed.path.startswith("/response/"):
            self._record("response_url", {**args, "_path": parsed.path})
            self._json({"ok": True})
            return
        method = parsed.path.removeprefix("/api/")
        call = self._record(method, args)
        gate = state.held.get(method)
        if gate is not None:
            gate.wait(30)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        fault = _take_fault(state, method, args)
        if fault is not None:
            call.response = {"ok": False, "error": f"http {fault.status}"}
            self._fault(fault)
            return
        if token != expected:
            answer = {"ok": False, "error": "invalid_auth"}
        elif state.token_error and token == BOT_TOKEN:
            answer = {"ok": False, "error": state.token_error}
        elif method in state.failures:
            answer = {"ok": False, "error": state.failures[method]}
        elif not state.ai_apps and method in STREAM_METHODS + ASSISTANT_METHODS:
            answer = {"ok": False, "error": REFUSED}
        else:
            answer = _answer(state, method, args)
        call.response = answer
        self._json(answer)

    def _record(self, method: str, args: dict[str, Any]) -> Call:
        state = self.server.state
        call = Call(method, args, time.monotonic())
        with state.lock:
            state.calls.append(call)
        return call

    def _fault(self, fault: Fault) -> None:
        """An HTTP error as Slack's edge sends it: a 429 with ``Retry-After``, a 5xx with an HTML body."""
        if fault.status == 429:
            body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            content_type = "application/json; charset=utf-8"
        else:
            body = b"<html><body>Internal Server Error</body></html>"
            content_type = "text/html"
        self.send_response(fault.status)
        self.send_header("Content-Type", content_type)
        if fault.retry_after is not None:
            self.send_header("Retry-After", str(fault.retry_after))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _take_fault(state: SlackState, method: str, args: dict[str, Any]) -> Fault | None:
    with state.lock:
        for fault in state.faults:
            if fault.method == method and fault.times > 0 and (fault.when is None or fault.when(args)):
                fault.times -= 1
                return fault
    return None


def _answer(state: SlackState, method: str, args: dict[str, Any]) -> dict[str, Any]:
    channel = args.get("channel", "")
    if method == "auth.test":
        return {
            "ok": True,
            "url": WORKSPACE_URL,
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
    if method in STREAM_METHODS:
        return _stream(state, method, args)
    if method in ASSISTANT_METHODS:
        return _assistant(method, args)
    if method == "chat.update":
        with state.lock:
            message = state.messages.get(channel, {}).get(args.get("ts", ""))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            if message.get("streaming"):
                return {"ok": False, "error": "streaming_state_conflict"}
            message.update(text=args.get("text", ""), blocks=args.get("blocks") or [])
        return {"ok": True, "channel": channel, "ts": args["ts"], "text": message["text"], "message": message}
    if method == "chat.postEphemeral":
        return {"ok": True, "message_ts": state.next_ts()}
    if method in ("views.publish", "views.open", "views.update"):
        return {"ok": True, "view": {"id": "V0TEST", "team_id": TEAM_ID, **(args.get("view") or {})}}
    if method == "conversations.replies":
        return _replies(state, args)
    if method in _READ_METHODS:
        return _READ_METHODS[method](state, args)
    if method == "apps.connections.open":
        return {"ok": True, "url": state.socket_url}
    if method == "usergroups.users.list":
        with state.lock:
            users = state.usergroups.get(args.get("usergroup", ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(users)}
    if method == "conversations.members":
        return _members_page(state, args)
    return {"ok": False, "error": "unknown_method"}


def _page(
    items: list[Any], args: dict[str, Any], *, default: int = 100, most: int = 999
) -> tuple[list[Any], str] | dict[str, Any]:
    """``(page, next_cursor)`` of ``items`` for a cursor-paginated call, or Slack's error answer.

    The cursor is an opaque encoding of the offset; ``next_cursor`` is empty on the last page."""
    try:
        limit = int(args.get("limit") or default)
    except ValueError:
        return {"ok": False, "error": "invalid_limit"}
    if not 1 <= limit <= most:
        return {"ok": False, "error": "invalid_limit"}
    start = 0
    if args.get("cursor"):
        try:
            start = int(base64.b64decode(args["cursor"]).decode().removeprefix("offset:"))
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
    after = start + limit
    cursor = base64.b64encode(f"offset:{after}".encode()).decode() if after < len(items) else ""
    return items[start:after], cursor


def _members_page(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """One page of ``conversations.members``."""
    with state.lock:
        members = state.channel_members.get(args.get("channel", ""))
    if members is None:
        return {"ok": False, "error": "channel_not_found"}
    paged = _page(members, args)
    if isinstance(paged, dict):
        return paged
    page, cursor = paged
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _conversations_list(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """``types`` defaults to ``public_channel``; private channels are listed only where the bot is."""
    types = set(str(args.get("types") or "public_channel").split(","))
    if not types <= {"public_channel", "private_channel", "mpim", "im"}:
        return {"ok": False, "error": "invalid_types"}
    with state.lock:
        found = [
            dict(channel)
            for channel in state.channels.values()
            if ("private_channel" if channel["is_private"] else "public_channel") in types
            and (channel["is_member"] or not channel["is_private"])
            and not (_truthy(args.get("exclude_archived")) and channel["is_archived"])
        ]
    paged = _page(sorted(found, key=lambda c: c["id"]), args, most=1000)
    if isinstance(paged, dict):
        return paged
    page, cursor = paged
    return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}


def _conversation(state: SlackState, channel: str) -> dict[str, Any] | None:
    """The channel as the bot may see it: a private channel it is not in does not exist for it."""
    with state.lock:
        found = state.channels.get(channel)
    if found is None or (found["is_private"] and not found["is_member"]):
        return None
    return dict(found)


def _conversations_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    found = _conversation(state, args.get("channel", ""))
    if found is None:
        return {"ok": False, "error": "channel_not_found"}
    return {"ok": True, "channel": found}


def _readable(state: SlackState, channel: str) -> dict[str, Any] | None:
    """Slack's error when the bot may not read ``channel``'s messages; ``None`` when it may.

    A workspace whose tests model no channels (the bot's) lets the bot read every channel."""
    with state.lock:
        modelled = bool(state.channels)
    if not modelled:
        return None
    found = _conversation(state, channel)
    if found is None:
        return {"ok": False, "error": "channel_not_found"}
    if not found["is_member"]:
        return {"ok": False, "error": "not_in_channel"}
    return None


def _with_thread_summary(message: dict[str, Any], thread: list[dict[str, Any]]) -> dict[str, Any]:
    """A parent as history and replies show it: ``reply_count``, ``reply_users``, ``latest_reply``."""
    replies = [m for m in thread if m["ts"] != message["ts"]]
    if not replies:
        return message
    users = list(dict.fromkeys(m.get("user") for m in replies if m.get("user")))
    return {
        **message,
        "thread_ts": message["ts"],
        "reply_count": len(replies),
        "reply_users": users[:5],
        "reply_users_count": len(users),
        "latest_reply": max(m["ts"] for m in replies),
    }


def _history(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = args.get("channel", "")
    refused = _readable(state, channel)
    if refused:
        return refused
    with state.lock:
        every = [dict(m) for m in state.messages.get(channel, {}).values()]
    oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 1e12)
    top = [
        _with_thread_summary(m, [r for r in every if r.get("thread_ts") == m["ts"]])
        for m in every
        if (not m.get("thread_ts") or m["thread_ts"] == m["ts"] or m.get("subtype") == "thread_broadcast")
        and oldest < float(m["ts"]) < latest
    ]
    paged = _page(sorted(top, key=lambda m: m["ts"], reverse=True), args, most=999)
    if isinstance(paged, dict):
        return paged
    page, cursor = paged
    return {
        "ok": True,
        "messages": page,
        "has_more": bool(cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def _replies(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = args.get("channel", ""), args.get("ts", "")
    refused = _readable(state, channel)
    if refused:
        return refused
    with state.lock:
        thread = [
            dict(message)
            for message in state.messages.get(channel, {}).values()
            if message["ts"] == ts or message.get("thread_ts") == ts
        ]
    if not thread:
        return {"ok": False, "error": "thread_not_found"}
    parent = next((m for m in thread if m["ts"] == ts), None)
    replies = sorted((m for m in thread if m["ts"] != ts), key=lambda m: m["ts"])
    # Tests of the bot may seed replies under a root they never added; they get the replies alone.
    ordered = replies if parent is None else [_with_thread_summary(parent, thread), *replies]
    paged = _page(ordered, args, default=1000, most=1000)
    if isinstance(paged, dict):
        return paged
    page, cursor = paged
    return {
        "ok": True,
        "messages": page,
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def _users_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        user = state.users.get(args.get("user", ""))
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "user": dict(user)}


def _lookup_by_email(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    email = str(args.get("email") or "").lower()
    with state.lock:
        found = next(
            (u for u in state.users.values() if str(u["profile"].get("email", "")).lower() == email), None
        )
    if not email or found is None:
        return {"ok": False, "error": "users_not_found"}
    return {"ok": True, "user": dict(found)}


def _permalink(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """``https://<workspace>.slack.com/archives/<channel>/p<ts without its dot>``; a reply's link names
    its thread."""
    channel, ts = args.get("channel", ""), args.get("message_ts", "")
    with state.lock:
        message = state.messages.get(channel, {}).get(ts)
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    link = f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"
    if message.get("thread_ts") and message["thread_ts"] != ts:
        link += f"?thread_ts={message['thread_ts']}&cid={channel}"
    return {"ok": True, "channel": channel, "permalink": link}


_READ_METHODS: dict[str, Callable[[SlackState, dict[str, Any]], dict[str, Any]]] = {
    "conversations.list": _conversations_list,
    "conversations.info": _conversations_info,
    "conversations.history": _history,
    "users.info": _users_info,
    "users.lookupByEmail": _lookup_by_email,
    "chat.getPermalink": _permalink,
}


def _markdown(args: dict[str, Any]) -> str:
    """The text a streaming call adds: ``markdown_text`` and any ``markdown_text`` chunks."""
    text = args.get("markdown_text") or ""
    for chunk in args.get("chunks") or []:
        if chunk.get("type") == "markdown_text":
            text += chunk.get("text", "")
    return text


def _stream(state: SlackState, method: str, args: dict[str, Any]) -> dict[str, Any]:
    channel = args.get("channel", "")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    if method == "chat.startStream":
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D"):  # "Required when streaming to channels"
            if not args.get("recipient_user_id"):
                return {"ok": False, "error": "missing_recipient_user_id"}
            if not args.get("recipient_team_id"):
                return {"ok": False, "error": "missing_recipient_team_id"}
        ts = state.next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": _markdown(args),
            "blocks": [],
            "ts": ts,
            "thread_ts": args["thread_ts"],
            "streaming": True,
        }
        with state.lock:
            state.messages.setdefault(channel, {})[ts] = message
        return {"ok": True, "channel": channel, "ts": ts}
    with state.lock:
        message = state.messages.get(channel, {}).get(args.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.get("streaming"):
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += _markdown(args)
        if method == "chat.stopStream":
            message["streaming"] = False
            message["blocks"] = args.get("blocks") or []
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}
    return {"ok": True, "channel": channel, "ts": args["ts"]}


def _assistant(method: str, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("channel_id"):
        return {"ok": False, "error": "channel_not_found"}
    if method == "assistant.threads.setSuggestedPrompts":
        prompts = args.get("prompts") or []
        valid = all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts)
        if not prompts or len(prompts) > 4 or not valid:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}
    if not args.get("thread_ts"):
        return {"ok": False, "error": "invalid_thread_ts"}
    if method == "assistant.threads.setTitle" and not args.get("title"):
        return {"ok": False, "error": "invalid_arguments"}
    too_many = len(args.get("loading_messages") or []) > 10  # "Maximum of 10 messages"
    if method == "assistant.threads.setStatus" and ("status" not in args or too_many):
        return {"ok": False, "error": "invalid_arguments"}
    return {"ok": True}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: SlackState


@contextmanager
def slack_api_server(*, ai_apps: bool = False) -> Iterator[SlackState]:
    """Serve the stand-in; ``ai_apps`` for a workspace that offers streaming and the assistant methods."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = SlackState(url=f"http://127.0.0.1:{server.server_address[1]}", ai_apps=ai_apps)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()

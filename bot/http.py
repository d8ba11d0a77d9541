"""``POST /slack/events`` on a FastAPI app: Events API, slash commands and interactivity in one route.

Before Bolt sees a request, the route refuses what Bolt would choke on or should never read:

* a body over :data:`MAX_BODY_BYTES` gets 413 as soon as that is known (from ``Content-Length``, or while
  reading a chunked body), before the signature is checked and without reading the rest: Slack's payloads
  are a few kilobytes, and a caller without the secret must not make the server buffer megabytes;
* a body Bolt cannot parse (not UTF-8, JSON that is not an object, a form whose ``payload`` is not JSON)
  gets 400 if it is correctly signed (a Slack-side problem, logged in one line) and 401 if not, instead of
  a 500 with a traceback.

An Events API delivery (mentions, messages, App Home) is acknowledged by the route itself as soon as its
signature holds: Slack needs nothing from that ack but the 200, and in a burst of fifty mentions each
request's trip through Bolt (middleware, listener matching) would otherwise queue the next one's ack.
Bolt then dispatches it after the response, where repeats are dropped and the work handed on.

Everything else (the URL verification, slash commands, buttons, modals) waits for Bolt, whose ack may
carry a reply. Bolt's FastAPI adapter calls the synchronous ``App.dispatch`` on the event loop, so one
slow request would hold every other back; here Bolt runs behind a :class:`~bot.process.Dispatcher`: a few
threads of its own, or (the default for a server) a process of its own, so acks never wait for the GIL
behind the answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from concurrent.futures import Future
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse

from bot.process import Dispatcher, RawRequest

EVENTS_PATH = "/slack/events"
#: Slack's own payloads are a few kilobytes (a large modal submission tens of them); 1 MB is generous.
MAX_BODY_BYTES = 1024 * 1024

logger = logging.getLogger(__name__)


def _refuse(status: int, text: str) -> Response:
    # Connection: close, so the server drops whatever of the body is still on its way instead of reading it.
    return Response(status_code=status, content=text, headers={"Connection": "close"})


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or ``None`` as soon as it is known to exceed ``limit`` bytes (the rest unread)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class MalformedBody(ValueError):
    """A body Bolt could not parse; the message says why, in a few words."""


def parse(body: bytes, content_type: str | None) -> dict[str, Any]:
    """``body`` parsed exactly as Bolt parses it. :raises MalformedBody: Bolt could not parse it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("not UTF-8") from None
    try:
        parsed = parse_body(text, (content_type or "").split(";")[0].strip() or None)
    except ValueError:  # json.JSONDecodeError is a ValueError
        raise MalformedBody("not valid JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedBody("JSON that is not an object")
    return parsed


def signed(secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier decodes the body as UTF-8 first,
    and so raises on the very bodies this check is for); stale after five minutes, as Slack says."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > 300:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", signature)


def raw_request(request: Request, body: bytes) -> RawRequest:
    """What Bolt needs of ``request`` (as Bolt's Starlette adapter takes it), ready to cross processes."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name, []).append(value)
    return RawRequest(body=body.decode("utf-8"), query=request.url.query, headers=headers)


def add_routes(app: FastAPI, dispatcher: Dispatcher, signing_secret: str, path: str = EVENTS_PATH) -> None:
    """Serve the Bolt app behind ``dispatcher`` at ``path``; ``signing_secret`` tells a malformed Slack
    request (400) from a forged one (401) before Bolt, which cannot parse it, would see it, and lets an
    event be acknowledged here."""
    app.router.on_shutdown.append(dispatcher.shutdown)

    @app.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await read_limited(request)
        if body is None:
            return _refuse(413, "request body too large")
        # slack_sdk's verifier raises (a 500) on a timestamp that is not a number; that is a bad request
        # signature like any other, and gets the same 401.
        stamp = request.headers.get("x-slack-request-timestamp", "").strip()
        if not stamp.isdigit():
            return Response(status_code=401, content="invalid request")
        try:
            payload = parse(body, request.headers.get("content-type"))
        except MalformedBody as problem:
            if not signed(signing_secret, body, stamp, request.headers.get("x-slack-signature", "")):
                return Response(status_code=401, content="invalid request")
            logger.warning("refused a signed Slack request whose body is %s", problem)
            return Response(status_code=400, content=f"malformed body: {problem}")
        # An Events API delivery needs nothing from its ack but the 200 (unlike the URL verification,
        # whose ack carries the challenge, or a command or interaction, whose ack may carry a reply): it
        # is acknowledged as soon as its signature holds, and Bolt runs after.
        if payload.get("type") == "event_callback":
            if not signed(signing_secret, body, stamp, request.headers.get("x-slack-signature", "")):
                return Response(status_code=401, content="invalid request")
            dispatcher.submit(raw_request(request, body)).add_done_callback(_log_refusal)
            return Response(status_code=200)
        bolt_response = await asyncio.wrap_future(dispatcher.submit(raw_request(request, body)))
        return to_starlette_response(bolt_response)


def _log_refusal(future: Future[BoltResponse]) -> None:
    """Bolt's verdict on an event already acknowledged: only failures are worth a log line."""
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        logger.error("Bolt failed on an acknowledged Slack event", exc_info=error)
    elif future.result().status >= 400:
        logger.warning("Bolt refused an acknowledged Slack event: HTTP %s", future.result().status)

"""``POST /slack/events`` on a FastAPI app: Events API, slash commands and interactivity in one route.

Before Bolt sees a request, the route refuses what Bolt would choke on or should never read:

* a body over :data:`MAX_BODY_BYTES` gets 413 as soon as that is known (from ``Content-Length``, or while
  reading a chunked body), before the signature is checked and without reading the rest: Slack's payloads
  are a few kilobytes, and a caller without the secret must not make the server buffer megabytes;
* a body Bolt cannot parse (not UTF-8, JSON that is not an object, a form whose ``payload`` is not JSON,
  an ``event_callback`` whose ``event`` is not an object)
  gets 400 if it is correctly signed (a Slack-side problem, logged in one line) and 401 if not, instead of
  a 500 with a traceback.

Bolt's FastAPI adapter (``SlackRequestHandler.handle``) calls the synchronous ``App.dispatch`` on the
event loop, so one slow request (a listener taking its time to ack) would hold every other request back.
Here the same adapter helpers convert the request and response, and dispatch runs on a small thread pool
of its own: not the event loop, not the pool shared with the server's other synchronous routes, and not
the bot's answer workers, so an ack never queues behind anything slow. Dispatch only verifies the
signature, acks and hands the work on (the listeners drop repeats after the ack); it takes well under a
millisecond.

The route is a plain Starlette route, not a FastAPI one: it takes the raw request and returns a response,
so FastAPI's dependency solving would only add CPU to every ack (about 0.07 ms a request).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.fastapi import SlackRequestHandler  # noqa: F401 - the adapter whose helpers we use
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.request.internals import parse_body

EVENTS_PATH = "/slack/events"
#: Threads that run Bolt's dispatch (signature, dedup, ack). A few suffice: each request takes ~1 ms.
DISPATCH_THREADS = 4
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


def malformed(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not parse ``body`` (``None`` if it can): parsed exactly as Bolt parses it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        parsed = parse_body(text, (content_type or "").split(";")[0].strip() or None)
    except ValueError:  # json.JSONDecodeError is a ValueError
        return "not valid JSON"
    if not isinstance(parsed, dict):
        return "JSON that is not an object"
    # Bolt reads ``event.type`` of every event callback before any listener (and fails with a 500 if
    # ``event`` is not an object); a callback without an ``event`` at all it handles.
    if parsed.get("type") == "event_callback" and not isinstance(parsed.get("event", {}), dict):
        return "an event_callback whose event is not an object"
    # ...and the first of ``authorizations`` (a list of objects), if there are any.
    authorizations = parsed.get("authorizations")
    if authorizations and not (isinstance(authorizations, list) and isinstance(authorizations[0], dict)):
        return "authorizations that are not a list of objects"
    return None


def signed(secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier decodes the body as UTF-8 first,
    and so raises on the very bodies this check is for); stale after five minutes, as Slack says."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > 300:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", signature)


def add_routes(app: FastAPI, bolt: App, signing_secret: str, path: str = EVENTS_PATH) -> None:
    """Serve ``bolt`` at ``path``; ``signing_secret`` tells a malformed Slack request (400) from a forged
    one (401) before Bolt, which cannot parse it, would see it."""
    dispatcher = ThreadPoolExecutor(max_workers=DISPATCH_THREADS, thread_name_prefix="needle-slack-ack")
    app.router.on_shutdown.append(lambda: dispatcher.shutdown(wait=False))

    async def slack_events(request: Request) -> Response:
        body = await read_limited(request)
        if body is None:
            return _refuse(413, "request body too large")
        # slack_sdk's verifier raises (a 500) on a timestamp that is not a number; that is a bad request
        # signature like any other, and gets the same 401.
        if not request.headers.get("x-slack-request-timestamp", "").strip().isdigit():
            return Response(status_code=401, content="invalid request")
        problem = malformed(body, request.headers.get("content-type"))
        if problem is not None:
            stamp = request.headers.get("x-slack-request-timestamp", "").strip()
            if not signed(signing_secret, body, stamp, request.headers.get("x-slack-signature", "")):
                return Response(status_code=401, content="invalid request")
            logger.warning("refused a signed Slack request whose body is %s", problem)
            return Response(status_code=400, content=f"malformed body: {problem}")
        loop = asyncio.get_running_loop()
        bolt_response = await loop.run_in_executor(dispatcher, bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    app.add_route(path, slack_events, methods=["POST"], include_in_schema=False)

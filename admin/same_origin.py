"""The console answers only its own pages: no cross-origin access, and no state change from another site.

Gradio's app grants CORS to any origin, with credentials, as soon as the server has a real host name, so
a page on another site could call the console's API with an admin's cookie and read the answers. The
session cookie is ``SameSite=Lax`` now (:mod:`admin.sign_in`), which keeps it off cross-site requests in
current browsers; this guard is the server's own rule on top, for every route of the console (page,
``gradio_api`` calls, queue, uploads, files, sign-in and sign-out) and every browser:

* a request that names a foreign ``Origin`` is refused (403), preflights included, so no page elsewhere
  gets a CORS grant, reads a response or starts an event;
* a state-changing request (anything but GET, HEAD, OPTIONS) without ``Origin`` is refused when its
  ``Referer`` is foreign; one with neither (a script using ``gradio_client``, curl) passes, since a
  browser always sends ``Origin`` with a cross-site POST;
* no response carries ``Access-Control-Allow-*`` headers, whatever Gradio adds.

The console's own origin is the one the browser used: the request's ``Host`` (a proxy must pass it on,
port included, as ``infra/nginx.conf`` does), or ``NEEDLE_PUBLIC_BASE_URL``'s.

An open console (no password, loopback only) also refuses a ``Host`` that is not a loopback name or the
public URL's: a page on another site whose name an attacker points at 127.0.0.1 (DNS rebinding) would
otherwise be "same-origin" with it, and it has no session cookie to stop it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin.security import is_loopback_host

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSAL = "Cross-site requests to the Needle admin console are refused."


def _netloc(url: str) -> str | None:
    """``host[:port]`` of an origin or URL, lower-cased; ``None`` for ``null`` or anything unparsable."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.netloc.lower()


class SameOriginGuard:
    """ASGI middleware, outermost on the console's app (see :func:`admin.sign_in.protect`)."""

    def __init__(
        self, app: ASGIApp, public_base_url: str | None = None, is_open: Callable[[], bool] = lambda: False
    ) -> None:
        self.app = app
        self.public = _netloc(public_base_url) if public_base_url else None
        self.is_open = is_open

    def _own(self, headers: Headers) -> set[str]:
        own = {headers.get("host", "").strip().lower()} - {""}
        if self.public:
            own.add(self.public)
        return own

    def foreign(self, scope: Scope) -> str | None:
        """Why the request comes from another site, or ``None`` when it may go on."""
        headers = Headers(scope=scope)
        if self.is_open():
            host = headers.get("host", "")
            name = urlsplit(f"http://{host}").hostname if _netloc(f"http://{host}") else None
            if not is_loopback_host(name) and (host.lower() != self.public):
                return f"Host {host[:100]!r} (an open console answers loopback names only)"
        origin = headers.get("origin")
        if origin is not None:
            return None if _netloc(origin) in self._own(headers) else f"Origin {origin[:100]!r}"
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            referer = headers.get("referer")
            if referer is not None and _netloc(referer) not in self._own(headers):
                return f"Referer {referer[:100]!r}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.foreign(scope)
        if reason is not None:
            logger.warning("refused a cross-site console request (%s, %s)", reason, scope["path"][:200])
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await PlainTextResponse(REFUSAL, status_code=403)(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(b"access-control-allow-")
                ]
            await send(message)

        await self.app(scope, receive, send_without_cors)

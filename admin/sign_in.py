"""Signing in to and out of the console: Needle's own routes and page in place of Gradio's.

Gradio's ``/login`` sets the session cookie ``SameSite=None`` (so every other site's requests carry it),
answers every refusal with "Incorrect Credentials" (a throttled admin with the right password is told
the password is wrong), and signs out on a ``GET /logout`` that any link or image can trigger. Needle
replaces them, on the console's Gradio app before it serves anything (:func:`protect`):

* ``POST login`` checks the account (:func:`admin.security.admin_auth`, throttled per account and per
  client address) and sets the session cookie ``HttpOnly; SameSite=Lax``, and ``Secure`` when the
  browser is on HTTPS (:meth:`SignInRoutes.over_https`). Lax, not Strict, so a Slack "Debug this
  answer" link opens the console signed in; a top-level GET changes nothing. A throttled sign-in
  gets 429 "Too many attempts: try again in N seconds";
* ``POST logout`` ends the user's sessions (on every replica: they live in the record store); a GET
  changes nothing;
* the console's page, for someone not signed in, is a small sign-in form that shows those answers;
* Gradio's ``gradio_api/token``, which hands the cookie's value to any script on the page, is removed;
* a script on the signed-in page tells the admin when the session has ended (signed out elsewhere, or
  ``NEEDLE_ADMIN_SESSION_HOURS`` passed) and offers to sign in again, instead of leaving every panel
  to fail with a red "Error".

:class:`admin.same_origin.SameOriginGuard` goes outermost, so none of this is reachable cross-site.
"""

from __future__ import annotations

import html
import logging
import math
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from gradio.routes import App
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from admin.same_origin import SameOriginGuard
from admin.security import AUTH_MESSAGE
from pipelines.base.settings import Settings
from pipelines.records.accounts import LoginThrottled

logger = logging.getLogger(__name__)

#: Gradio's routes that Needle replaces (paths relative to the console).
REPLACED = {"/login", "/login/", "/logout", "/logout/"}
#: Gradio's routes that :class:`SignInPage` answers with 404: ``token`` returns the session cookie's
#: value to any script on the page, which ``HttpOnly`` is there to prevent; nothing of Gradio's uses it.
DROPPED = {"/gradio_api/token", "/gradio_api/token/"}
WRONG = "Incorrect username or password."


def cookie_names(console: App) -> tuple[str, str]:
    """The session cookie's names: Gradio reads ``access-token-<id>`` (set over HTTPS, ``Secure``) or
    ``access-token-unsecure-<id>`` (plain HTTP, such as a developer's loopback)."""
    return f"access-token-{console.cookie_id}", f"access-token-unsecure-{console.cookie_id}"


def signed_in_user(console: App, cookies: dict[str, str]) -> str | None:
    """The user of a live session named by ``cookies``, as Gradio's own check reads it."""
    secure, plain = cookie_names(console)
    token = cookies.get(secure) or cookies.get(plain)
    return console.tokens.get(token) if token else None


def _route_path(scope: Scope) -> str:
    """The path below the console's mount point (``/`` for the page itself)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


class SignInRoutes:
    """The sign-in and sign-out endpoints over the console's session table."""

    def __init__(self, console: App, settings: Settings) -> None:
        self.console = console
        public = urlsplit(settings.public_base_url or "")
        #: ``Host`` of NEEDLE_PUBLIC_BASE_URL when it is https://: a browser there is on HTTPS.
        self.https_host = public.netloc.lower() if public.scheme == "https" else None

    def over_https(self, request: Request) -> bool:
        """Whether the browser is on HTTPS: the connection says so (directly, or a trusted proxy's
        ``X-Forwarded-Proto``), or it asked for the https:// public URL's host (a TLS proxy passing
        ``Host`` on, trusted or not). A Secure cookie would not come back over plain HTTP."""
        host = request.headers.get("host", "").lower()
        return request.url.scheme == "https" or (self.https_host is not None and host == self.https_host)

    async def login(self, request: Request) -> Response:
        check = self.console.auth
        if check is None:  # an open console (loopback, no accounts): nothing to sign in to
            return RedirectResponse("./", status_code=303)
        form = await request.form()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        address = request.client.host if request.client else None
        try:
            ok = await run_in_threadpool(check, username, password, address)
        except LoginThrottled as throttled:
            seconds = max(1, math.ceil(throttled.retry_after))
            wait = {"Retry-After": str(seconds)}
            return JSONResponse({"detail": str(throttled)}, status_code=429, headers=wait)
        if not ok:
            return JSONResponse({"detail": WRONG}, status_code=400)
        token = secrets.token_urlsafe(32)
        self.console.tokens[token] = username.lower()  # accounts are matched lower-cased
        response = JSONResponse({"success": True})
        secure, plain = cookie_names(self.console)
        https = self.over_https(request)
        response.set_cookie(
            secure if https else plain, token, httponly=True, samesite="lax", secure=https, path="/"
        )
        return response

    async def logout(self, request: Request) -> Response:
        user = signed_in_user(self.console, request.cookies)
        if user is not None:
            # Every session of this user, as Gradio's "Sign out" did; the table is shared by replicas.
            for key in list(self.console.tokens.keys()):
                if self.console.tokens.get(key) == user:
                    self.console.tokens.pop(key, None)
        response = RedirectResponse("./", status_code=303)
        for name in cookie_names(self.console):
            response.delete_cookie(name, path="/", httponly=True, samesite="lax")
        return response

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login, methods=["POST"]),
            Route("/login/", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/logout/", self.logout, methods=["POST"]),
        ]


class SignInPage:
    """ASGI middleware: the console's page, for someone who is not signed in, is Needle's sign-in form;
    the :data:`DROPPED` routes are not found."""

    def __init__(self, app: ASGIApp, console: App) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope) in DROPPED:
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and _route_path(scope) == "/"
            and self.console.auth is not None
            and signed_in_user(self.console, cookie_parser(Headers(scope=scope).get("cookie", ""))) is None
        ):
            page = HTMLResponse(SIGN_IN_PAGE, headers={"Cache-Control": "no-store"})
            await page(scope, receive, send)
            return
        await self.app(scope, receive, send)


def protect(console: App, settings: Settings) -> None:
    """Put Needle's sign-in in place of Gradio's on ``console`` and the same-origin guard in front of it
    all. Call it after Gradio built the app and before the server takes a request.

    :raises RuntimeError: Gradio no longer has the routes this replaces (a Gradio upgrade changed them).
    """
    kept = [route for route in console.router.routes if getattr(route, "path", None) not in REPLACED]
    if len(console.router.routes) - len(kept) < 3:
        raise RuntimeError("Gradio's /login or /logout route was not found")
    console.router.routes[:] = [*SignInRoutes(console, settings).routes(), *kept]
    console.add_middleware(SignInPage, console=console)
    console.add_middleware(  # outermost
        SameOriginGuard, public_base_url=settings.public_base_url, is_open=lambda: console.auth is None
    )


#: Shown to someone not signed in: posts to ``login`` and shows the server's answer (wrong password,
#: or how long a throttled sign-in must wait); reloads on success, keeping ``?trace=``.
SIGN_IN_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Needle admin</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f7f9; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
       box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.3rem; margin: 0 0 .5rem; }}
label {{ display: block; margin-top: 1rem; font-size: .9rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; margin-top: .25rem; }}
button {{ margin-top: 1.25rem; width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }}
#sign-in-error {{ color: #b00020; margin-top: 1rem; min-height: 1.2em; }}
</style></head>
<body><main>
<h1>Needle admin</h1>
<p>{html.escape(AUTH_MESSAGE)}</p>
<form id="sign-in" method="post" action="login">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
<div id="sign-in-error" role="alert"></div>
</form></main>
<script>
document.getElementById("sign-in").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const shown = document.getElementById("sign-in-error");
  shown.textContent = "";
  let answer;
  try {{
    answer = await fetch("login", {{method: "POST", body: new URLSearchParams(new FormData(event.target))}});
  }} catch (error) {{
    shown.textContent = "The console did not answer. Try again in a moment.";
    return;
  }}
  if (answer.ok) {{ location.reload(); return; }}
  let detail = "";
  try {{ detail = (await answer.json()).detail; }} catch (error) {{}}
  shown.textContent =
    typeof detail === "string" && detail ? detail : "Sign-in failed (" + answer.status + ").";
}});
</script></body></html>
"""

#: In the signed-in page's head: the first 401 from the console's API means the session ended; say so
#: over the page and offer to sign in again, rather than leave each panel with a red "Error".
SESSION_ENDED_HEAD = """<script>
(() => {
  const plainFetch = window.fetch.bind(window);
  let shown = false;
  function sessionEnded() {
    if (shown) return;
    shown = true;
    const cover = document.createElement("div");
    cover.id = "session-ended";
    cover.setAttribute("role", "alertdialog");
    cover.style.cssText = "position:fixed;inset:0;z-index:100000;background:rgba(20,20,20,.55);" +
      "display:flex;align-items:center;justify-content:center;font-family:system-ui,sans-serif";
    const box = document.createElement("div");
    box.style.cssText = "background:#fff;color:#111;padding:1.5rem 2rem;border-radius:8px;max-width:26rem";
    const title = document.createElement("h2");
    title.textContent = "Your session has ended";
    title.style.cssText = "margin:0 0 .5rem;font-size:1.2rem";
    const words = document.createElement("p");
    words.textContent = "You were signed out, or the sign-in expired. Nothing you did after that " +
      "was saved. Sign in again to go on.";
    const again = document.createElement("button");
    again.textContent = "Sign in again";
    again.style.cssText = "padding:.5rem 1rem;font-size:1rem;cursor:pointer";
    again.addEventListener("click", () => location.reload());
    box.append(title, words, again);
    cover.append(box);
    document.body.append(cover);
    again.focus();
  }
  window.fetch = async (...args) => {
    const answer = await plainFetch(...args);
    if (answer.status === 401) sessionEnded();
    return answer;
  };
})();
</script>"""

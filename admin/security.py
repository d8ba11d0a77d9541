"""The console's login: the rule that it never listens beyond this machine without one, the sign-in check
(throttled per account and per client address), and the upload ceiling.

The console can delete every source and read every question employees asked, so it is never served on a
network address without a password; on loopback, a developer may run it open. Sessions, once signed in,
are :mod:`admin.sessions`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.accounts import AccountStore, LoginThrottled
from pipelines.errors import NeedleError
from pipelines.settings import Settings

logger = logging.getLogger(__name__)


class AdminConfigError(NeedleError):
    """The settings would expose the console without a login."""


def is_loopback_host(host: str | None) -> bool:
    if host == "localhost":
        return True
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, has_accounts: bool = False) -> None:
    """Refuse to serve an open console on anything but loopback.

    A public base URL counts too: behind a reverse proxy the process listens on 127.0.0.1 but the
    console is reachable from the network.

    :raises AdminConfigError: no password is set and the console would be reachable from elsewhere.
    """
    if has_accounts or (settings.admin_password is not None and settings.admin_password.get_secret_value()):
        return
    public_host = urlsplit(settings.public_base_url).hostname if settings.public_base_url else None
    if not is_loopback_host(settings.host):
        where = f"host {settings.host}"
    elif settings.public_base_url and not is_loopback_host(public_host):
        where = f"public URL {settings.public_base_url}"
    else:
        logger.warning("admin console runs without a login; set NEEDLE_ADMIN_PASSWORD before exposing it")
        return
    raise AdminConfigError(
        f"The admin console would be reachable at {where} without a login. Set NEEDLE_ADMIN_PASSWORD "
        "(and NEEDLE_ADMIN_USERNAME, default 'admin') in the environment or .env, or serve on 127.0.0.1."
    )


#: The login page's words: for staff, not for whoever set the environment variables.
AUTH_MESSAGE = "Sign in to Needle's admin console with your admin account."


#: The client address of the HTTP request being handled, for the sign-in check (see
#: :class:`ClientAddressMiddleware`); ``None`` outside a request.
CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("needle_console_client_address", default=None)


class ClientAddressMiddleware:
    """Note each request's client address where the sign-in check can read it.

    Gradio calls its ``auth=`` check with the username and password only, so the check could not count
    failures per address. This middleware, on the console's own app, puts ``scope["client"]`` in
    :data:`CLIENT_ADDRESS` for the length of the request; Gradio's ``/login`` runs the check inside that
    request. Behind a reverse proxy the address is the proxy's unless uvicorn trusts it: uvicorn rewrites
    the client from ``X-Forwarded-For`` only for connections from ``FORWARDED_ALLOW_IPS`` (default
    127.0.0.1), so that variable must name the proxy, or every sign-in counts as one address.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = CLIENT_ADDRESS.set(str(client[0]) if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)


def console_app_kwargs() -> dict[str, Any]:
    """What the console's Gradio app is built with (``app_kwargs`` of ``launch`` and
    ``mount_gradio_app``): the middleware that lets the sign-in check see the client's address."""
    return {"middleware": [Middleware(ClientAddressMiddleware)]}


def admin_auth(accounts: AccountStore) -> Callable[[str, str], bool] | None:
    """Gradio's ``auth=`` check: the admin accounts (``needle admins``) and the login set in the
    environment, which is an owner; ``None`` (an open console, loopback only) when there is neither.

    Every sign-in goes through :meth:`AccountStore.authenticate`, the environment's login included, so
    too many failures for an account, or from one client address (across accounts), are refused for a
    while even with the right password, counted in the record store on every replica.
    """
    if not accounts.list():
        return None

    def check_account(username: str, password: str) -> bool:
        address = CLIENT_ADDRESS.get()
        try:
            return accounts.authenticate(username, password, address=address) is not None
        except LoginThrottled:
            logger.warning("admin sign-in throttled for %r from %s", username[:64], address or "?")
            return False

    return check_account


#: Gradio refuses a request with a file this many times over ``NEEDLE_MAX_UPLOAD_MB`` before it is stored.
HARD_LIMIT_FACTOR = 4


def max_file_size(settings: Settings) -> int:
    """Gradio's own ceiling in bytes: a few times the upload limit.

    Gradio refuses a whole multi-file selection when one file is over its ceiling, with a toast that
    vanishes. Files between the upload limit and this ceiling therefore reach the core, which rejects
    each one with a reason in the results while the others are indexed; the ceiling still keeps
    absurdly large uploads off the disk.
    """
    return int(settings.max_upload_mb * 1024 * 1024 * HARD_LIMIT_FACTOR)

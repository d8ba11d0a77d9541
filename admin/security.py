"""The console's login, the rule that it never listens beyond this machine without one, and sessions
that end.

The console can delete every source and read every question employees asked, so it is never served on a
network address without a password; on loopback, a developer may run it open. A sign-in lasts
``NEEDLE_ADMIN_SESSION_HOURS``, so a browser left signed in (or a copied cookie) does not keep it open.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from gradio.routes import App

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


def admin_auth(settings: Settings, accounts: AccountStore | None = None) -> Callable[[str, str], bool] | None:
    """Gradio's ``auth=`` check: the admin accounts (``needle admins``) and the login set in the
    environment, which is an owner; ``None`` (an open console, loopback only) when there is neither.

    Too many failed sign-ins for an account are refused for a while (see :mod:`pipelines.accounts`),
    even with the right password.
    """
    if accounts is not None and accounts.list():

        def check_account(username: str, password: str) -> bool:
            try:
                return accounts.authenticate(username, password) is not None
            except LoginThrottled:
                logger.warning("admin sign-in throttled for %r", username[:64])
                return False

        return check_account
    if settings.admin_password is None or not settings.admin_password.get_secret_value():
        return None
    expected_user = settings.admin_username.encode("utf-8")
    expected_password = settings.admin_password.get_secret_value().encode("utf-8")

    def check(username: str, password: str) -> bool:
        # Both comparisons always run, in constant time, so timing tells nothing about which was wrong.
        user_ok = hmac.compare_digest(username.encode("utf-8"), expected_user)
        password_ok = hmac.compare_digest(password.encode("utf-8"), expected_password)
        return user_ok and password_ok

    return check


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


#: The clock sessions are timed by; a module attribute so a test can move time forward.
clock: Callable[[], float] = time.monotonic


class ExpiringSessions(dict[str, str]):
    """Gradio's table of signed-in sessions (cookie token -> username) where a session older than
    ``max_age_seconds`` no longer exists.

    Why this shape: Gradio keeps sessions in ``App.tokens`` until "Sign out" (its ``/logout`` deletes the
    token, which is why the old cookie is refused afterwards) or a restart, and has no expiry of its own.
    Replacing that table with this one makes an expired session go the same way as a signed-out one:
    its token is gone, so the page shows the login and every API call gets 401. Gradio reads the table
    with ``get``, ``in``, ``[]``, ``keys()`` and ``del``; each forgets expired sessions first. The age
    counts from sign-in (an absolute limit, not an idle timeout), so a copied cookie stops working too.
    """

    def __init__(self, max_age_seconds: float) -> None:
        super().__init__()
        self.max_age_seconds = max_age_seconds
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()  # Gradio signs in and checks sessions from several threads

    def __setitem__(self, token: str, username: str) -> None:
        with self._lock:
            self._started[token] = clock()
            super().__setitem__(token, username)

    def __delitem__(self, token: str) -> None:
        with self._lock:
            self._started.pop(token, None)
            super().__delitem__(token)

    def _forget_expired(self) -> None:
        cutoff = clock() - self.max_age_seconds
        with self._lock:
            for token, started in list(self._started.items()):
                if started <= cutoff:
                    del self._started[token]
                    super().pop(token, None)

    def get(self, token: Any, default: Any = None) -> Any:  # type: ignore[override]
        self._forget_expired()
        return super().get(token, default)

    def __getitem__(self, token: str) -> str:
        self._forget_expired()
        return super().__getitem__(token)

    def __contains__(self, token: object) -> bool:
        self._forget_expired()
        return super().__contains__(token)

    def __iter__(self) -> Iterator[str]:
        self._forget_expired()
        return iter(list(super().keys()))

    def keys(self) -> list[str]:  # type: ignore[override] - a copy: Gradio's logout deletes while it loops
        self._forget_expired()
        return list(super().keys())

    def __len__(self) -> int:
        self._forget_expired()
        return super().__len__()


def session_seconds(settings: Settings) -> float:
    """How long a console sign-in lasts (``NEEDLE_ADMIN_SESSION_HOURS``), in seconds."""
    return settings.admin_session_hours * 3600.0


def expire_sessions(gradio_app: App, settings: Settings) -> ExpiringSessions:
    """Make the console's sessions end after ``NEEDLE_ADMIN_SESSION_HOURS`` (see :class:`ExpiringSessions`).

    Call it on the Gradio app before anyone signs in: sessions already in the old table are dropped.
    """
    sessions = ExpiringSessions(session_seconds(settings))
    gradio_app.tokens = sessions
    return sessions

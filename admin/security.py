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
from urllib.parse import urlsplit

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.base.sizes import upload_limit_bytes
from pipelines.records.accounts import AccountStore, LoginThrottled

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


def admin_auth(accounts: AccountStore) -> Callable[..., bool] | None:
    """The console's sign-in check, given to Gradio as ``auth=`` (which makes every page and API route
    need a session): the admin accounts (``needle admins``) and the login set in the environment, which
    is an owner; ``None`` (an open console, loopback only) when there is neither.

    The check is ``check(username, password, address=None)``, called by Needle's sign-in route
    (:mod:`admin.sign_in`) with the client's address. Every sign-in goes through
    :meth:`AccountStore.authenticate`, the environment's login included, so too many failures for an
    account, or from one client address, are refused for a while even with the right password, counted
    in the record store on every replica.

    :raises LoginThrottled: from the check, with how long to wait, so the admin is told that rather
        than "wrong password".
    """
    if not accounts.list():
        return None

    def check_account(username: str, password: str, address: str | None = None) -> bool:
        try:
            return accounts.authenticate(username, password, address=address) is not None
        except LoginThrottled:
            logger.warning("admin sign-in throttled for %r from %s", username[:64], address or "?")
            raise

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
    return upload_limit_bytes(settings.max_upload_mb) * HARD_LIMIT_FACTOR

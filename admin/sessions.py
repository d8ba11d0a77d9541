"""Console sessions kept in the record store, so every replica honours a sign-in and a sign-out, and a
restart signs nobody out.

Gradio keeps signed-in sessions in ``App.tokens`` (cookie token -> username), a dict in the process that
took the sign-in, under a cookie named after a random per-process id. Behind a load balancer that means a
cookie works on one replica only, "Sign out" ends the session on that replica only, and a restart ends
every session. Needle's processes must hold no state of their own, so :class:`SharedSessions` replaces
that dict with a view of one record collection (SQLite beside the embedded store, an Elasticsearch index
in production), and :func:`share_sessions` gives every replica the same cookie name.

The raw cookie token is never stored: a session's key is the SHA-256 of it, so someone who can read the
record store (a backup, an Elasticsearch snapshot) cannot sign in with what they read. A session lasts
``NEEDLE_ADMIN_SESSION_HOURS`` from sign-in (absolute, not an idle timeout, so a copied cookie stops
working too); an expired one is refused like a signed-out one and deleted when seen, and each process
deletes the expired ones now and then (:data:`PURGE_EVERY_SECONDS`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from gradio.routes import App

from pipelines.base.settings import Settings
from pipelines.records.accounts import SESSIONS
from pipelines.stores.records import MAX_LIMIT, Record, RecordStore

logger = logging.getLogger(__name__)

#: Record collection of the console's shared settings (the cookie's name); the sessions' own is
#: :data:`pipelines.records.accounts.SESSIONS`.
CONSOLE = "admin-console"
COOKIE_ID_KEY = "cookie-id"
#: How often one process deletes expired sessions, and how many per pass.
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 500

#: Seconds since the epoch, the clock sessions are timed by: wall-clock time, because a session started
#: on one replica is checked on another (and after a restart). A module attribute so a test can move
#: time forward.
clock: Callable[[], float] = time.time


class SessionKey(str):
    """A stored session's key (the SHA-256 of its cookie token), as :meth:`SharedSessions.keys` lists
    them. "Sign out" (:mod:`admin.sign_in`) walks the keys and deletes the user's sessions by them; a
    key is looked up as it is, whereas a plain string is a cookie token and is hashed first. A cookie
    can only ever carry a plain string, so a key read from the store cannot be forged from the browser."""

    __slots__ = ()


def session_key(token: str) -> SessionKey:
    """The stored key of a cookie token."""
    return SessionKey(hashlib.sha256(token.encode("utf-8")).hexdigest())


def session_seconds(settings: Settings) -> float:
    """How long a console sign-in lasts (``NEEDLE_ADMIN_SESSION_HOURS``), in seconds."""
    return settings.admin_session_hours * 3600.0


class SharedSessions(MutableMapping[str, str]):
    """Gradio's table of signed-in sessions (cookie token -> username), kept in the record store.

    Gradio reads it with ``get`` (``gradio/routes.py``, ``get_current_user``), and Needle's sign-in and
    sign-out (:mod:`admin.sign_in`) with assignment, ``keys()`` and ``pop``. Lookups take the raw cookie
    token and hash it; iterating yields :class:`SessionKey` objects, which lookups and ``del`` accept as
    they are, so "Sign out" (which deletes every session of the signed-in user) works, on every
    replica at once. Every lookup reads the store: no replica trusts a copy that another may have
    signed out.
    """

    def __init__(self, records: RecordStore, max_age_seconds: float) -> None:
        if max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be positive")
        self.records = records
        self.max_age_seconds = max_age_seconds
        self._last_purge = clock()
        self._purge_lock = threading.Lock()

    # --- Gradio's interface ------------------------------------------------------------------------
    def __setitem__(self, token: str, username: str) -> None:
        """A sign-in: the session starts now."""
        self._purge_if_due()
        self.records.put(SESSIONS, _key(token), {"username": username, "started": clock()})

    def __getitem__(self, token: str) -> str:
        record = self._live(token)
        if record is None:
            raise KeyError("no such session")
        return str(record.fields.get("username"))

    def get(self, token: Any, default: Any = None) -> Any:  # type: ignore[override]
        """The username of a live session; ``default`` for none, an expired one, or no cookie at all."""
        record = self._live(token)
        return default if record is None else str(record.fields.get("username"))

    def __contains__(self, token: object) -> bool:
        return self._live(token) is not None

    def __delitem__(self, token: str) -> None:
        """A sign-out: gone from the store, so from every replica."""
        if not isinstance(token, str) or not self.records.delete(SESSIONS, _key(token)):
            raise KeyError("no such session")

    def __iter__(self) -> Iterator[str]:
        """The keys of the live sessions (:class:`SessionKey`, never a cookie token); a copy, because
        "Sign out" deletes while it loops."""
        live = [SessionKey(record.key) for record in self._all() if not self._expired(record)]
        return iter(live)

    def __len__(self) -> int:
        return sum(1 for record in self._all() if not self._expired(record))

    # --- housekeeping ------------------------------------------------------------------------------
    def purge(self) -> int:
        """Delete up to :data:`PURGE_BATCH` expired sessions, oldest first; returns how many. Any
        replica may do it; a session is refused once expired whether or not it was purged yet."""
        oldest = self.records.query(SESSIONS, order="oldest", limit=PURGE_BATCH)
        return sum(self.records.delete(SESSIONS, record.key) for record in oldest if self._expired(record))

    # --- internals ---------------------------------------------------------------------------------
    def _all(self) -> list[Record]:
        return self.records.query(SESSIONS, order="oldest", limit=MAX_LIMIT)

    def _expired(self, record: Record) -> bool:
        started = record.fields.get("started")
        if not isinstance(started, int | float):
            return True  # not written by this module: refuse rather than guess
        return clock() - started >= self.max_age_seconds

    def _live(self, token: object) -> Record | None:
        """The session's record, or ``None`` when there is none or it expired (then it is deleted)."""
        if not isinstance(token, str) or not token:
            return None  # no cookie: Gradio asks with None
        record = self.records.get(SESSIONS, _key(token))
        if record is None:
            return None
        if self._expired(record):
            self.records.delete(SESSIONS, record.key)
            return None
        return record

    def _purge_if_due(self) -> None:
        with self._purge_lock:
            if clock() - self._last_purge < PURGE_EVERY_SECONDS:
                return
            self._last_purge = clock()
        try:
            purged = self.purge()
        except Exception:  # housekeeping: a sign-in must not fail because of it
            logger.exception("could not delete expired console sessions")
            return
        if purged:
            logger.info("deleted %d expired console sessions", purged)


def _key(token: str) -> str:
    return str(token) if isinstance(token, SessionKey) else session_key(token)


def shared_cookie_id(records: RecordStore) -> str:
    """The id Gradio names its session cookie after (``access-token-<id>``), the same for every
    replica and across restarts: the first process to ask creates it (atomically), the others read it.

    Gradio draws a random one per process, which would make a cookie set by one replica invisible to
    the others. The id is a name, not a secret; different deployments still get different names.
    """
    records.create(CONSOLE, COOKIE_ID_KEY, body={"value": secrets.token_urlsafe(32)})
    record = records.get(CONSOLE, COOKIE_ID_KEY)
    if record is None or not record.body.get("value"):
        raise RuntimeError("the console's cookie name could not be read back from the record store")
    return str(record.body["value"])


def share_sessions(gradio_app: App, records: RecordStore, settings: Settings) -> SharedSessions:
    """Keep the console's sessions in ``records`` with one cookie name for every replica (see the
    module's docstring). Call it on the Gradio app before anyone signs in."""
    sessions = SharedSessions(records, session_seconds(settings))
    gradio_app.cookie_id = shared_cookie_id(records)
    gradio_app.tokens = sessions
    return sessions

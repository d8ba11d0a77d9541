"""Admin accounts with roles, hashed passwords and login throttling, kept in the record store.

Roles nest: a ``viewer`` reads (debugger, traces, feedback), an ``editor`` also changes sources,
audiences, channel settings and retrieval configurations, an ``owner`` also manages accounts. Passwords
are hashed with argon2 (``pwdlib``); a hash never leaves this module. The single login configured by
``NEEDLE_ADMIN_USERNAME``/``NEEDLE_ADMIN_PASSWORD`` keeps working as an owner, so existing deployments
lose nothing. Failed logins are counted per account and per client address in the record store, so a
password guesser is slowed on every replica alike; every account change is audited.
"""

from __future__ import annotations

import hmac
import math
import re
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.records.audit import AuditLog
from pipelines.stores.records import MAX_LIMIT, Record, RecordStore

Role = Literal["viewer", "editor", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "owner")
#: Console sessions: kept by the console (``admin/sessions.py``, one record per session with its
#: ``username``); named here because removing an account or changing its password ends them.
SESSIONS = "admin-sessions"
COLLECTION = "admin-accounts"
FAILURES = "login-failures"
#: Failed logins allowed in ``FAILURE_WINDOW_SECONDS`` for one account (from anywhere), and from one
#: client address (for any accounts). Separate limits: the address's is higher, because colleagues
#: behind one NAT or VPN share it, and one person's typos must not lock the others out; it still stops
#: one machine from trying password after password across accounts.
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
FAILURE_WINDOW_SECONDS = 60.0
MIN_PASSWORD_CHARS = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class LoginThrottled(NeedleError):
    """Too many failed logins: ``retry_after`` seconds until the next try is accepted."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"Too many attempts: try again in {seconds} second{'s' if seconds != 1 else ''}.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    created_by: str | None = None
    created_at: float | None = None
    from_environment: bool = False

    def may(self, role: Role) -> bool:
        """Whether this account has at least ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


@lru_cache(maxsize=1)
def _hasher():  # noqa: ANN202 - pwdlib's PasswordHash, imported lazily
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


def _check_username(username: str) -> str:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise NeedleError("a username is 2-64 characters: letters, digits and . _ @ -")
    return username


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise NeedleError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise NeedleError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role  # type: ignore[return-value]


class AccountStore:
    """Accounts over a :class:`RecordStore`; the environment's login is an owner that cannot be removed
    here (change it in the environment)."""

    def __init__(self, records: RecordStore, settings: Settings, audit: AuditLog) -> None:
        self.records = records
        self.settings = settings
        self.audit = audit

    def _environment_owner(self) -> Account | None:
        if self.settings.admin_password is None or not self.settings.admin_password.get_secret_value():
            return None
        return Account(self.settings.admin_username.lower(), "owner", from_environment=True)

    def list(self) -> list[Account]:
        stored = [_account(r) for r in self.records.query(COLLECTION, order="oldest", limit=1000)]
        env = self._environment_owner()
        if env is not None and all(a.username != env.username for a in stored):
            stored.insert(0, env)
        return stored

    def get(self, username: str) -> Account | None:
        username = username.strip().lower()
        record = self.records.get(COLLECTION, username)
        if record is not None:
            return _account(record)
        env = self._environment_owner()
        return env if env is not None and env.username == username else None

    def add(self, username: str, password: str, role: str, actor: str | None) -> Account:
        username, role = _check_username(username), _check_role(role)
        _check_password(password)
        if self.get(username) is not None:
            raise NeedleError(f"an account {username!r} exists already")
        fields = {"role": role, "created_by": actor}
        self.records.put(COLLECTION, username, fields, {"hash": _hasher().hash(password)})
        self.audit.record(actor, "account.add", f"account {username}", None, {"role": role})
        return self.get(username)  # type: ignore[return-value]

    def remove(self, username: str, actor: str | None) -> None:
        account = self._stored(username)
        if account.role == "owner" and not self._other_owner(account.username):
            raise NeedleError("this is the last owner: add another owner first")
        self.records.delete(COLLECTION, account.username)
        self.end_sessions(account.username)
        self.audit.record(
            actor, "account.remove", f"account {account.username}", {"role": account.role}, None
        )

    def set_password(self, username: str, password: str, actor: str | None) -> None:
        account = self._stored(username)
        _check_password(password)
        record = self.records.get(COLLECTION, account.username)
        assert record is not None
        self.records.put(COLLECTION, account.username, record.fields, {"hash": _hasher().hash(password)})
        self.end_sessions(account.username)
        self.audit.record(actor, "account.password", f"account {account.username}", None, None)

    def end_sessions(self, username: str) -> int:
        """Sign ``username`` out of the console everywhere (a removed account, a new password: whoever
        held the old one must not stay signed in); returns how many sessions ended."""
        ended = 0
        while batch := self.records.query(SESSIONS, {"username": username}, limit=MAX_LIMIT):
            deleted = sum(self.records.delete(SESSIONS, record.key) for record in batch)
            ended += deleted
            if not deleted:  # another replica is deleting the same ones: nothing left for this one
                break
        return ended

    def sign_out(self, username: str, actor: str | None) -> int:
        """An owner ends every console session of ``username`` (a lost laptop, a shared screen), audited;
        the account stays and may sign in again. Returns how many sessions ended."""
        account = self.get(username)
        if account is None:
            raise NeedleError(f"no account {username!r}")
        ended = self.end_sessions(account.username)
        self.audit.record(
            actor, "account.sessions", f"account {account.username}", detail=f"{ended} session(s) ended"
        )
        return ended

    def set_role(self, username: str, role: str, actor: str | None) -> Account:
        account, role = self._stored(username), _check_role(role)
        if account.role == "owner" and role != "owner" and not self._other_owner(account.username):
            raise NeedleError("this is the last owner: add another owner first")
        record = self.records.get(COLLECTION, account.username)
        assert record is not None
        self.records.put(COLLECTION, account.username, {**record.fields, "role": role}, record.body)
        target = f"account {account.username}"
        self.audit.record(actor, "account.role", target, {"role": account.role}, {"role": role})
        return self.get(account.username)  # type: ignore[return-value]

    def _stored(self, username: str) -> Account:
        account = self.get(username)
        if account is None:
            raise NeedleError(f"no account {username!r}")
        if account.from_environment:
            raise NeedleError(
                f"{account.username!r} is the login set by NEEDLE_ADMIN_USERNAME/NEEDLE_ADMIN_PASSWORD; "
                "change it in the environment"
            )
        return account

    def _other_owner(self, username: str) -> bool:
        return any(a.role == "owner" and a.username != username for a in self.list())

    # --- signing in ------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, address: str | None = None) -> Account | None:
        """The account when the password is right; ``None`` when not.

        :raises LoginThrottled: too many recent failures for this account or this address (checked
            before the password, so a guesser learns nothing while throttled).
        """
        username = username.strip().lower()
        now = time.time()
        self._refuse_if_throttled(username, address, now)
        account = self._verify(username, password)
        if account is None:
            self.records.put(
                FAILURES,
                f"{now:.6f}-{uuid.uuid4().hex[:6]}",
                {"username": username, "address": address or "-"},
            )
            self.records.purge(FAILURES, now - 3600)  # older failures no longer count
        return account

    def _verify(self, username: str, password: str) -> Account | None:
        record = self.records.get(COLLECTION, username)
        if record is not None:
            return _account(record) if _hasher().verify(password, str(record.body.get("hash"))) else None
        env = self._environment_owner()
        if env is not None and env.username == username:
            expected = self.settings.admin_password.get_secret_value()  # type: ignore[union-attr]
            return env if hmac.compare_digest(password.encode(), expected.encode()) else None
        _hasher().hash(password)  # as slow as a real check: no telling which usernames exist
        return None

    def _refuse_if_throttled(self, username: str, address: str | None, now: float) -> None:
        since = now - FAILURE_WINDOW_SECONDS
        for name, value, limit in (
            ("username", username, MAX_FAILURES),
            ("address", address, MAX_ADDRESS_FAILURES),
        ):
            if not value:
                continue
            failures = self.records.query(FAILURES, {name: value}, since=since, limit=limit)
            if len(failures) >= limit:
                oldest = min(record.updated_at for record in failures)
                raise LoginThrottled(oldest + FAILURE_WINDOW_SECONDS - now)


def _account(record: Record) -> Account:
    return Account(
        username=record.key,
        role=_check_role(str(record.fields.get("role"))),
        created_by=record.fields.get("created_by"),  # type: ignore[arg-type]
        created_at=record.updated_at,
    )

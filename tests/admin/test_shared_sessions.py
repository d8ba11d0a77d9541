"""Issue 12: console sessions and sign-in throttling hold no state in the process.

Two consoles over one data directory stand for two replicas behind a load balancer (they share the record
store, as replicas share Elasticsearch): a sign-in on one is honoured by the other, "Sign out" on one ends
it on both, a restart keeps it, and it still ends NEEDLE_ADMIN_SESSION_HOURS after sign-in. Failed
sign-ins are counted per account and per client address, as separate limits; where a test needs clients
at other addresses it names 127.0.0.1 in NEEDLE_TRUSTED_PROXIES, so ``X-Forwarded-For`` stands for them
(and without that setting the header is ignored: see tests/admin/test_cross_site.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from admin import sessions
from pipelines.records.accounts import FAILURES, MAX_ADDRESS_FAILURES, MAX_FAILURES
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore
from tests.admin.conftest import Console, serve

PASSWORD = "a long enough password"
GUESSER, OTHER = "203.0.113.7", "198.51.100.9"


@contextmanager
def consoles(*services: NeedleService) -> Iterator[list[Console]]:
    started = [serve(service) for service in services]
    try:
        yield started
    finally:
        for console in started:
            console.stop()


def _http(console: Console, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=f"{console.base_url}/admin", follow_redirects=False, timeout=30, **kwargs)


def _sign_in(console: Console, username: str, password: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    with _http(console) as http:
        return http.post("/login", data={"username": username, "password": password}, headers=headers)


def _signed_in(console: Console, cookies: httpx.Cookies | dict[str, str]) -> bool:
    """Whether ``cookies`` open the console: the page's config and the API both answer (or both 401)."""
    with _http(console, cookies=cookies) as http:
        config, api = http.get("/config").status_code, http.get("/gradio_api/info").status_code
    assert config == api, (config, api)
    assert config in (200, 401)
    return config == 200


def test_a_sign_in_on_one_replica_works_on_the_other_and_signing_out_ends_it_on_both(
    service_factory: Callable[..., NeedleService],
) -> None:
    first = service_factory(admin_password="s3cret-password")
    second = service_factory(admin_password="s3cret-password")  # same data directory: another replica
    assert first.settings.data_dir == second.settings.data_dir
    first.accounts.add("vera", PASSWORD, "viewer", actor="test")
    with consoles(first, second) as (one, two):
        login = _sign_in(one, "vera", PASSWORD)
        assert login.status_code == 200
        cookies = dict(login.cookies)
        assert cookies and all(name.startswith("access-token") for name in cookies)
        assert _signed_in(one, cookies) and _signed_in(two, cookies)
        # The store holds the SHA-256 of the cookie token, never the token itself.
        token = next(iter(cookies.values()))
        (stored,) = first.records.query(sessions.SESSIONS)
        assert stored.key == sessions.session_key(token) and token not in repr(stored)
        assert stored.fields["username"] == "vera"

        admin = dict(_sign_in(two, "admin", "s3cret-password").cookies)  # another user, on the other one
        with _http(two, cookies=cookies) as http:
            assert http.post("/logout").status_code == 303  # "Sign out" on the second replica
        assert not _signed_in(one, cookies) and not _signed_in(two, cookies)
        assert _signed_in(one, admin) and _signed_in(two, admin)  # only vera's sessions ended


def test_a_restart_keeps_a_session_which_still_ends_hours_after_sign_in(
    service_factory: Callable[..., NeedleService], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    service = service_factory(admin_password="s3cret-password", admin_session_hours=1)
    with consoles(service) as (console,):
        cookies = dict(_sign_in(console, "admin", "s3cret-password").cookies)
        assert _signed_in(console, cookies)
    now[0] += 3600 - 5
    restarted = service_factory(admin_password="s3cret-password", admin_session_hours=1)
    with consoles(restarted) as (console,):
        assert _signed_in(console, cookies)  # the process is new, the session is not
        now[0] += 5  # an hour after sign-in, however long each process ran
        assert not _signed_in(console, cookies)
        assert restarted.records.query(sessions.SESSIONS) == []  # refused, and deleted when seen
        assert _signed_in(console, dict(_sign_in(console, "admin", "s3cret-password").cookies))


@pytest.mark.slow  # over 8 s: kept out of the 10-minute default suite; CI runs it with the slow tests
def test_one_persons_typos_do_not_lock_out_a_colleague_at_the_same_address(
    service_factory: Callable[..., NeedleService],
) -> None:
    """Issue 22.12: per account and per address are separate limits. Five wrong passwords lock that
    account (from anywhere), and it is told how long to wait, not that the password is wrong; a
    colleague behind the same address signs in; twenty failures from one address, across accounts,
    lock the address for every account."""
    service = service_factory(trusted_proxies=["127.0.0.1"])
    names = ["ann", "bob", "cat", *(f"user{i}" for i in range(5))]
    for name in names:
        service.accounts.add(name, PASSWORD, "viewer", actor="test")
    with consoles(service) as (console,):
        for _ in range(MAX_FAILURES):
            wrong = _sign_in(console, "ann", "a wrong password", GUESSER)
            assert wrong.status_code == 400 and wrong.json()["detail"] == "Incorrect username or password."
        assert len(service.records.query(FAILURES, {"address": GUESSER})) == MAX_FAILURES
        for address in (GUESSER, OTHER):  # the right password now waits, wherever it comes from
            throttled = _sign_in(console, "ann", PASSWORD, address)
            assert throttled.status_code == 429
            assert re.fullmatch(r"Too many attempts: try again in \d+ seconds?\.", throttled.json()["detail"])
            assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert _sign_in(console, "bob", PASSWORD, GUESSER).status_code == 200  # the colleague, same NAT

        # A guesser trying account after account from one address is stopped at the address's limit.
        others = [name for name in names if name != "ann"]
        for attempt in range(MAX_ADDRESS_FAILURES - MAX_FAILURES):
            name = others[attempt % len(others)]  # at most 3 failures per account: no account locks
            assert _sign_in(console, name, "a wrong password", GUESSER).status_code == 400
        locked = _sign_in(console, "cat", PASSWORD, GUESSER)
        assert locked.status_code == 429 and locked.json()["detail"].startswith("Too many attempts")
        assert _sign_in(console, "cat", PASSWORD, OTHER).status_code == 200  # cat is fine from elsewhere


def test_the_environments_login_alone_is_throttled_by_account_and_by_address(
    service_factory: Callable[..., NeedleService],
) -> None:
    """With no `needle admins` account, NEEDLE_ADMIN_PASSWORD's login goes through the same counters."""
    service = service_factory(admin_password="s3cret-password", trusted_proxies=["127.0.0.1"])
    assert [account.from_environment for account in service.accounts.list()] == [True]
    with consoles(service) as (console,):
        for _ in range(MAX_FAILURES - 1):
            assert _sign_in(console, "admin", "a wrong password", GUESSER).status_code == 400
        assert _sign_in(console, "admin", "s3cret-password", OTHER).status_code == 200
        assert _sign_in(console, "admin", "a wrong password", OTHER).status_code == 400  # the fifth
        assert _sign_in(console, "admin", "s3cret-password", OTHER).status_code == 429
        for attempt in range(MAX_ADDRESS_FAILURES - MAX_FAILURES + 1):  # unknown names, one address
            assert _sign_in(console, f"root{attempt}", "a wrong password", GUESSER).status_code == 400
        assert _sign_in(console, "someone", "a wrong password", GUESSER).status_code == 429


def test_the_session_table_hashes_tokens_and_expires_on_its_own_clock(
    records: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session table Gradio reads (``get``, ``in``, ``[]``, ``keys``, ``del``) lives in the record
    store (SQLite, and Elasticsearch's protocol) under the SHA-256 of each cookie token, forgets a session
    once it is older than the limit, and "Sign out" (which walks ``keys()`` and deletes the user's
    sessions by them) still deletes a live one."""
    now = [0.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    table = sessions.SharedSessions(records, max_age_seconds=60)
    table["old-token"] = "ann"
    now[0] = 30
    table["new-token"] = "bob"
    assert table.get("old-token") == "ann" and "new-token" in table and table["new-token"] == "bob"
    stored = records.query(sessions.SESSIONS, limit=10)
    assert {record.key for record in stored} == {
        sessions.session_key("old-token"),
        sessions.session_key("new-token"),
    }
    assert "old-token" not in repr(stored) and "new-token" not in repr(stored)  # never a raw token
    assert table.get(None) is None and table.get("") is None  # no cookie
    assert table.get(sessions.session_key("new-token")) == "bob"  # a key as keys() lists it
    assert table.get(str(sessions.session_key("new-token"))) is None  # a cookie cannot pass one off

    now[0] = 60
    assert table.get("old-token") is None and "old-token" not in table
    assert records.get(sessions.SESSIONS, sessions.session_key("old-token")) is None  # deleted when seen
    assert list(table.keys()) == [sessions.session_key("new-token")]
    for key in list(table.keys()):  # what Gradio's /logout does for the signed-in user
        if table[key] == "bob":
            del table[key]
    assert len(table) == 0 and "new-token" not in table
    with pytest.raises(KeyError):
        del table["new-token"]

    table["a"], table["b"] = "ann", "bob"
    now[0] = 200
    assert table.purge() == 2 and records.query(sessions.SESSIONS) == []
    assert sessions.shared_cookie_id(records) == sessions.shared_cookie_id(records)  # made once, kept


def test_a_new_password_or_a_removed_account_ends_its_sessions_on_every_replica(
    service_factory: Callable[..., NeedleService],
) -> None:
    first = service_factory(admin_password="s3cret-password")
    second = service_factory(admin_password="s3cret-password")
    first.accounts.add("vera", PASSWORD, "viewer", actor="test")
    first.accounts.add("otto", PASSWORD, "editor", actor="test")
    with consoles(first, second) as (one, two):
        vera = dict(_sign_in(one, "vera", PASSWORD).cookies)
        otto = dict(_sign_in(two, "otto", PASSWORD).cookies)
        assert _signed_in(two, vera) and _signed_in(one, otto)
        # What `needle admins passwd` does, from a process of its own (another connection to the store).
        second.accounts.set_password("vera", "another long password", actor="admin")
        assert not _signed_in(one, vera) and not _signed_in(two, vera)
        assert _signed_in(one, otto)  # nobody else is signed out
        assert _signed_in(one, dict(_sign_in(one, "vera", "another long password").cookies))
        first.accounts.remove("otto", actor="admin")
        assert not _signed_in(one, otto) and not _signed_in(two, otto)

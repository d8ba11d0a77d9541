"""The console never starts exposed without a login, and indexing events run one at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from admin.app import build_admin
from admin.face import mount
from admin.jobs import INDEXING_QUEUE, IndexingJobs
from admin.security import AdminConfigError, admin_auth, check_exposure
from pipelines.base.settings import Settings
from pipelines.service.facade import NeedleService


@pytest.mark.parametrize(
    "overrides",
    [
        {"host": "0.0.0.0"},  # noqa: S104 - the case under test
        {"host": "10.1.2.3"},
        {"public_base_url": "https://needle.example.com"},
    ],
)
def test_refuses_to_serve_beyond_loopback_without_a_password(
    settings_factory: Callable[..., Settings], overrides: dict[str, str]
) -> None:
    with pytest.raises(AdminConfigError, match="NEEDLE_ADMIN_PASSWORD"):
        check_exposure(settings_factory(**overrides))


def test_mount_refuses_before_adding_any_route(service_factory: Callable[..., NeedleService]) -> None:
    service = service_factory(host="0.0.0.0")  # noqa: S104
    app = FastAPI()
    routes_before = len(app.routes)
    with pytest.raises(AdminConfigError, match="NEEDLE_ADMIN_PASSWORD"):
        mount(app, service)
    assert len(app.routes) == routes_before


def test_a_password_allows_any_host_and_loopback_may_run_open(
    settings_factory: Callable[..., Settings], service_factory: Callable[..., NeedleService]
) -> None:
    check_exposure(settings_factory(host="0.0.0.0", admin_password="s3cret"))  # noqa: S104
    check_exposure(settings_factory(host="127.0.0.1"))
    check_exposure(settings_factory(host="localhost", public_base_url="http://127.0.0.1:8080"))
    assert admin_auth(service_factory().accounts) is None


def test_login_checks_both_username_and_password(service_factory: Callable[..., NeedleService]) -> None:
    """The environment's login is checked by the account store, like every account (so it is throttled
    like one too: see tests/admin/test_shared_sessions.py)."""
    check = admin_auth(service_factory(admin_username="root", admin_password="s3cret").accounts)
    assert check is not None
    assert check("root", "s3cret")
    assert not check("root", "S3cret")
    assert not check("admin", "s3cret")
    assert not check("", "")


def test_every_event_that_writes_the_index_shares_one_single_slot_queue(
    service_factory: Callable[..., NeedleService],
) -> None:
    blocks = build_admin(service_factory())
    writers = {
        fn.api_name: fn
        for fn in blocks.fns.values()
        if fn.api_name in ("upload", "delete_source", "reindex_source")
    }
    assert set(writers) == {"upload", "delete_source", "reindex_source"}
    for fn in writers.values():
        assert fn.concurrency_limit == 1
        assert fn.concurrency_id == INDEXING_QUEUE


def test_a_waiting_job_is_told_what_it_waits_for() -> None:
    jobs = IndexingJobs()
    assert "starting" in jobs.status("Your upload")
    with jobs.running("indexing 3 file(s)", "alice"):
        message = jobs.status("Your upload of 1 file(s)")
    assert "waiting" in message
    assert "indexing 3 file(s)" in message
    assert "alice" in message
    assert "starting" in jobs.status("Your upload")


def test_standalone_launch_requires_the_login_and_serves_the_console(
    service_factory: Callable[..., NeedleService],
) -> None:
    from gradio_client import Client

    from admin.face import launch

    with pytest.raises(AdminConfigError, match="NEEDLE_ADMIN_PASSWORD"):
        launch(service_factory(), host="0.0.0.0")  # noqa: S104 - the case under test
    blocks = launch(service_factory(admin_password="s3cret"), port=None)
    try:
        with pytest.raises(Exception, match=r"(?i)login|auth|401|403"):
            Client(blocks.local_url, verbose=False)
        client = Client(blocks.local_url, auth=("admin", "s3cret"), verbose=False)
        table, _choices, overview = client.predict(api_name="/list_sources")
        assert table["data"] == [] and "**0** sources" in overview
        client.close()
    finally:
        blocks.close()


def test_admin_accounts_sign_in_and_a_guesser_is_throttled(
    service_factory: Callable[..., NeedleService],
) -> None:
    """Accounts made with `needle admins add` sign in to the real console; after five wrong passwords
    the account is refused for a while even with the right one; no password is in the login page."""
    from gradio_client import Client

    from admin.face import launch
    from admin.security import AUTH_MESSAGE

    service = service_factory()
    service.accounts.add("ann", "a long enough password", "editor", actor="test")
    assert "NEEDLE_" not in AUTH_MESSAGE
    blocks = launch(service, host="0.0.0.0", port=None)  # noqa: S104 - accounts allow a network host
    try:
        client = Client(blocks.local_url, auth=("ann", "a long enough password"), verbose=False)
        table, _choices, _overview = client.predict(api_name="/list_sources")
        assert table["data"] == []
        client.close()
        for _ in range(5):
            with pytest.raises(Exception, match=r"(?i)login|auth|401|403|incorrect"):
                Client(blocks.local_url, auth=("ann", "a wrong password!"), verbose=False)
        with pytest.raises(Exception, match=r"(?i)login|auth|401|403|incorrect"):
            Client(blocks.local_url, auth=("ann", "a long enough password"), verbose=False)
    finally:
        blocks.close()


def test_signing_out_ends_the_session(service_factory: Callable[..., NeedleService]) -> None:
    """The console's "Sign out" button (a POST to `logout`) drops the session: its cookie no longer
    works. A GET changes nothing (a link or an image elsewhere cannot sign anyone out)."""
    import httpx

    from admin.face import launch

    service = service_factory(admin_password="s3cret-password")
    blocks = launch(service, port=None)
    try:
        base = blocks.local_url.rstrip("/")
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
            assert http.get("/config").status_code == 401
            assert (
                http.post("/login", data={"username": "admin", "password": "s3cret-password"}).status_code
                == 200
            )
            assert http.get("/config").status_code == 200
            page = http.get("/config").text
            assert "Sign out" in page
            kept = dict(http.cookies)  # the session cookie, as a browser (or a thief) would still hold it
            assert kept
            assert http.get("/logout").status_code == 405
            assert http.get("/config").status_code == 200
            assert http.post("/logout").status_code == 303
        with httpx.Client(base_url=base, cookies=kept, timeout=30) as stale:
            assert stale.get("/config").status_code == 401
    finally:
        blocks.close()


def test_a_session_ends_after_the_configured_hours_like_a_signed_out_one(
    service_factory: Callable[..., NeedleService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NEEDLE_ADMIN_SESSION_HOURS``: the console as ``needle serve`` mounts it keeps a sign-in for that
    long, then refuses its cookie (page, config and API) exactly as after "Sign out"; signing in again
    works. Time is moved forward with the sessions' clock rather than waited for."""
    import httpx

    from admin import sessions
    from tests.admin.conftest import serve

    now = [1_000.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    service = service_factory(admin_password="s3cret-password", admin_session_hours=2)
    service.accounts.add("vera", "a long enough password", "viewer", actor="test")
    console = serve(service)
    try:
        with httpx.Client(base_url=f"{console.base_url}/admin", follow_redirects=False, timeout=30) as http:
            login = {"username": "vera", "password": "a long enough password"}
            assert http.post("/login", data=login).status_code == 200
            assert http.get("/config").status_code == 200
            kept = dict(http.cookies)
            now[0] += 2 * 3600 - 60  # a minute before the end: still signed in
            assert http.get("/config").status_code == 200
            now[0] += 61
            assert http.get("/config").status_code == 401
            assert http.get("/gradio_api/info").status_code == 401
            assert http.post("/login", data=login).status_code == 200  # a new sign-in starts a new session
            assert http.get("/config").status_code == 200
        with httpx.Client(base_url=f"{console.base_url}/admin", cookies=kept, timeout=30) as stale:
            assert stale.get("/config").status_code == 401  # the expired cookie stays refused
    finally:
        console.stop()


def test_the_session_length_is_a_setting(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.base.settings import SettingsError

    assert settings_factory().admin_session_hours == 12
    monkeypatch.setenv("NEEDLE_ADMIN_SESSION_HOURS", "1.5")
    assert settings_factory().admin_session_hours == 1.5
    monkeypatch.setenv("NEEDLE_ADMIN_SESSION_HOURS", "0")
    with pytest.raises(SettingsError, match="NEEDLE_ADMIN_SESSION_HOURS"):
        settings_factory()

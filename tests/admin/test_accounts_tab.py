"""The Accounts tab through the console's real endpoints: an owner manages accounts (audited, sessions
ended where the core says so); editors and viewers are refused."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from gradio_client import Client

from admin.face import launch
from pipelines.records.accounts import SESSIONS
from pipelines.service.facade import NeedleService

PASSWORD = "a long enough password"


def _sessions(service: NeedleService, username: str) -> int:
    return len(service.records.query(SESSIONS, {"username": username}))


def _signed_in(url: str, username: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    assert http.post("login", data={"username": username, "password": password}).status_code == 200
    return http


@pytest.mark.slow
def test_an_owner_manages_accounts_and_others_are_refused(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    service.accounts.add("olga", PASSWORD, "owner", actor="setup")
    service.accounts.add("ed", PASSWORD, "editor", actor="setup")
    blocks = launch(service, port=None)
    owner = Client(blocks.local_url, auth=("olga", PASSWORD), verbose=False)
    editor = Client(blocks.local_url, auth=("ed", PASSWORD), verbose=False)
    try:
        status, table, password_box = owner.predict("Pete", "viewer", PASSWORD, api_name="/add_account")
        assert "Added **pete** as viewer" in status and password_box == ""
        assert next(row[:3] for row in table["data"] if row[0] == "pete") == ["pete", "viewer", "olga"]
        # The core's rules hold here too: a short password, a duplicate, the last owner.
        with pytest.raises(Exception, match="at least 12 characters"):
            owner.predict("sam", "viewer", "short", api_name="/add_account")
        with pytest.raises(Exception, match="exists already"):
            owner.predict("pete", "viewer", PASSWORD, api_name="/add_account")
        with pytest.raises(Exception, match="last owner"):
            owner.predict("olga", "editor", api_name="/set_account_role")

        status, table, _ = owner.predict("pete", "editor", api_name="/set_account_role")
        assert "is now editor" in status
        # Pete signs in twice; a password reset ends both sessions, "End sessions" ends the new one.
        first, second = (_signed_in(blocks.local_url, "pete", PASSWORD) for _ in range(2))
        assert _sessions(service, "pete") == 2
        owner.predict("pete", "another long password", api_name="/reset_account_password")
        assert _sessions(service, "pete") == 0
        assert service.accounts.authenticate("pete", "another long password") is not None
        third = _signed_in(blocks.local_url, "pete", "another long password")
        status, *_ = owner.predict("pete", api_name="/end_account_sessions")
        assert "Ended 1 session(s) of **pete**" in status and _sessions(service, "pete") == 0
        assert third.get("config").status_code in (401, 403)  # signed out for real

        for call in (
            lambda: editor.predict("eve", "owner", PASSWORD, api_name="/add_account"),
            lambda: editor.predict("ed", "owner", api_name="/set_account_role"),
            lambda: editor.predict("olga", "x" * 20, api_name="/reset_account_password"),
            lambda: editor.predict("olga", api_name="/end_account_sessions"),
            lambda: editor.predict("olga", api_name="/remove_account"),
        ):
            with pytest.raises(Exception, match="needs the owner role"):
                call()
        assert service.accounts.get("ed").role == "editor" and service.accounts.get("eve") is None

        status, table, _ = owner.predict("pete", api_name="/remove_account")
        assert "Removed the account **pete**" in status
        assert [row[0] for row in table["data"]] == ["olga", "ed"]
        entries = [(e.actor, e.action, e.target) for e in service.audit.entries()]
        assert entries[:5] == [
            ("olga", "account.remove", "account pete"),
            ("olga", "account.sessions", "account pete"),
            ("olga", "account.password", "account pete"),
            ("olga", "account.role", "account pete"),
            ("olga", "account.add", "account pete"),
        ]
        for http in (first, second, third):
            http.close()
    finally:
        owner.close()
        editor.close()
        blocks.close()

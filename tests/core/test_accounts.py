"""Console accounts: roles, hashed passwords, the environment's login as an owner, throttling, audit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.base.settings import load_settings
from pipelines.cli import main
from pipelines.records.accounts import MAX_ADDRESS_FAILURES, MAX_FAILURES, AccountStore, LoginThrottled
from pipelines.records.audit import AuditLog
from pipelines.stores.records import RecordStore

PASSWORD = "correct horse battery"


def _accounts(records: RecordStore, tmp_path: Path, **overrides: object) -> AccountStore:
    settings = load_settings(_env_file=None, data_dir=tmp_path, **overrides)
    return AccountStore(records, settings, AuditLog(records))


def test_roles_nest_and_passwords_are_only_stored_hashed(records: RecordStore, tmp_path: Path) -> None:
    accounts = _accounts(records, tmp_path)
    accounts.add("Ann", PASSWORD, "editor", actor="root")
    ann = accounts.authenticate("ann", PASSWORD)
    assert ann is not None and ann.role == "editor"
    assert ann.may("viewer") and ann.may("editor") and not ann.may("owner")
    stored = records.get("admin-accounts", "ann")
    assert stored is not None and PASSWORD not in str(stored.body) and "argon2" in stored.body["hash"]
    assert accounts.authenticate("ann", "wrong password!") is None
    assert accounts.authenticate("nobody", PASSWORD) is None


def test_the_environment_login_keeps_working_as_an_owner(records: RecordStore, tmp_path: Path) -> None:
    accounts = _accounts(records, tmp_path, admin_username="admin", admin_password="env-secret-123")
    admin = accounts.authenticate("admin", "env-secret-123")
    assert admin is not None and admin.role == "owner" and admin.from_environment
    assert [a.username for a in accounts.list()] == ["admin"]
    with pytest.raises(NeedleError, match="change it in the environment"):
        accounts.remove("admin", actor="x")


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("a", PASSWORD, "viewer", "username"),
        ("bob", "short", "viewer", "at least 12"),
        ("bob", PASSWORD, "god", "role is one of"),
    ],
)
def test_bad_accounts_are_refused(
    records: RecordStore, tmp_path: Path, username: str, password: str, role: str, message: str
) -> None:
    accounts = _accounts(records, tmp_path)
    with pytest.raises(NeedleError, match=message):
        accounts.add(username, password, role, actor="root")
    assert accounts.list() == []


def test_the_last_owner_stays_and_changes_are_audited(records: RecordStore, tmp_path: Path) -> None:
    accounts = _accounts(records, tmp_path)
    accounts.add("olga", PASSWORD, "owner", actor="setup")
    with pytest.raises(NeedleError, match="last owner"):
        accounts.remove("olga", actor="olga")
    with pytest.raises(NeedleError, match="last owner"):
        accounts.set_role("olga", "viewer", actor="olga")
    accounts.add("pete", PASSWORD, "viewer", actor="olga")
    accounts.set_role("pete", "owner", actor="olga")
    accounts.set_password("olga", "a new long password", actor="olga")
    assert accounts.authenticate("olga", PASSWORD) is None
    assert accounts.authenticate("olga", "a new long password") is not None
    accounts.remove("olga", actor="pete")
    actions = [(e.actor, e.action) for e in accounts.audit.entries()]
    assert actions == [
        ("pete", "account.remove"),
        ("olga", "account.password"),
        ("olga", "account.role"),
        ("olga", "account.add"),
        ("setup", "account.add"),
    ]
    assert all("hash" not in str(e.after) for e in accounts.audit.entries())


def test_failed_logins_are_throttled_per_account_and_per_address(
    records: RecordStore, tmp_path: Path
) -> None:
    """Separate limits: an account after MAX_FAILURES (from anywhere), an address after
    MAX_ADDRESS_FAILURES (across accounts), so one person's typos leave a colleague at the same
    address alone."""
    accounts = _accounts(records, tmp_path)
    accounts.add("ann", PASSWORD, "viewer", actor="root")
    accounts.add("bob", PASSWORD, "viewer", actor="root")
    for _ in range(MAX_FAILURES):
        assert accounts.authenticate("ann", "not the password", address="10.0.0.9") is None
    waits = r"^Too many attempts: try again in \d+ seconds?\.$"
    with pytest.raises(LoginThrottled, match=waits) as throttled:
        accounts.authenticate("ann", PASSWORD, address="10.0.0.1")  # even the right password waits
    assert 0 < throttled.value.retry_after <= 60
    assert accounts.authenticate("bob", PASSWORD, address="10.0.0.9") is not None  # same address
    for attempt in range(MAX_ADDRESS_FAILURES - MAX_FAILURES):
        assert accounts.authenticate(f"guess{attempt}", "x" * 12, address="10.0.0.9") is None
    with pytest.raises(LoginThrottled):
        accounts.authenticate("bob", PASSWORD, address="10.0.0.9")  # now the guessing address waits
    assert accounts.authenticate("bob", PASSWORD, address="10.0.0.2") is not None  # others are not slowed


def test_the_command_line_manages_accounts(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admins", "add", "ann", "--role", "editor", "--password-stdin", "--by", "root"]) == 0
    assert main(["admins", "list"]) == 0
    assert "ann" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admins", "passwd", "ann", "--password-stdin"]) == 1
    assert "at least 12" in capsys.readouterr().err
    assert main(["admins", "role", "ann", "--role", "viewer"]) == 0
    assert "ann is now viewer" in capsys.readouterr().out

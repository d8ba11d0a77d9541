"""Sync leases on both record stores, credentials from the environment or the secrets file, and the
registry that finds connector modules on its own."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.connectors.base import ConnectorError, DocumentRef
from pipelines.connectors.lease import LeaseHeld, SyncLeases
from pipelines.connectors.secrets import connector_secrets, variable_prefix
from pipelines.connectors.state import (
    Confirmation,
    ConnectorConfig,
    ConnectorRecords,
    DocumentState,
    FailedDocument,
    SyncRun,
    SyncState,
)
from pipelines.service import NeedleService
from pipelines.stores.records import RecordStore
from tests.connectors.conftest import ScriptedConnector


def test_a_lease_is_held_once_until_released(records: RecordStore) -> None:
    leases = SyncLeases(records)
    lease = leases.acquire("wiki", "replica-a")
    with pytest.raises(LeaseHeld) as held:
        leases.acquire("wiki", "replica-b")
    assert held.value.holder == "replica-a"
    assert leases.acquire("share", "replica-b").holder == "replica-b"  # per connector
    assert leases.renew(lease).expires >= lease.expires
    leases.release(lease)
    assert leases.acquire("wiki", "replica-b").holder == "replica-b"


def test_an_expired_lease_is_taken_over_by_exactly_one_replica(records: RecordStore) -> None:
    dead = SyncLeases(records, seconds=-1).acquire("wiki", "crashed")  # never renewed: expired
    leases = SyncLeases(records)
    assert leases.current("wiki") is None
    winner = leases.acquire("wiki", "replica-a")
    with pytest.raises(LeaseHeld):
        leases.acquire("wiki", "replica-b")
    with pytest.raises(LeaseHeld):  # the crashed holder lost it: it may not renew or release it
        leases.renew(dead)
    leases.release(dead)
    assert leases.current("wiki") == winner


def test_two_replicas_racing_for_the_same_expired_lease(records: RecordStore) -> None:
    SyncLeases(records, seconds=-1).acquire("wiki", "crashed")
    stale = records.get("connector-leases", "wiki")
    assert stale is not None
    leases = SyncLeases(records)
    # Replica B already won the takeover of this expired lease (its create came first).
    assert records.create("connector-lease-takeovers", f"wiki:{stale.fields['token']}", {"holder": "b"})
    with pytest.raises(LeaseHeld):
        leases.acquire("wiki", "replica-a")


def test_secrets_come_from_the_environment_and_the_file_never_from_the_config(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        "# Needle\nNEEDLE_CONNECTOR_HR_WIKI_API_TOKEN='from-file'\nNEEDLE_CONNECTOR_HR_WIKI_USER=bot\n"
    )
    secrets.chmod(0o600)
    environ = {"NEEDLE_CONNECTOR_HR_WIKI_API_TOKEN": "from-env", "NEEDLE_CONNECTOR_OTHER_TOKEN": "no"}
    assert variable_prefix("hr-wiki") == "NEEDLE_CONNECTOR_HR_WIKI_"
    assert connector_secrets("hr-wiki", tmp_path, environ) == {"api_token": "from-env", "user": "bot"}
    named = tmp_path / "elsewhere.env"
    named.write_text("NEEDLE_CONNECTOR_HR_WIKI_USER=named\n")
    named.chmod(0o600)
    assert connector_secrets("hr-wiki", tmp_path, {"NEEDLE_SECRETS_FILE": str(named)}) == {"user": "named"}
    secrets.chmod(0o644)
    with pytest.raises(ConnectorError, match="chmod 600"):
        connector_secrets("hr-wiki", tmp_path, {})


def test_credentials_reach_the_connector_and_nothing_else(
    service_factory: Callable[..., NeedleService],
    scripted: type[ScriptedConnector],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "xoxp-secret-7d1f0c2a"
    seen: list[dict[str, str]] = []
    monkeypatch.setattr(ScriptedConnector, "secret_settings", {"api_token": "the wiki's API token"})
    original = ScriptedConnector.list_documents

    def listing(self: ScriptedConnector) -> Iterator[DocumentRef]:
        seen.append(dict(self.secrets))
        raise ConnectorError("the wiki refused the token (401)")
        yield from original(self)

    monkeypatch.setattr(ScriptedConnector, "list_documents", listing)
    monkeypatch.setenv("NEEDLE_CONNECTOR_WIKI_API_TOKEN", token)
    service = service_factory()
    service.connectors.create("scripted", "wiki", {"site": "x"})
    with caplog.at_level(logging.DEBUG):
        run = service.connectors.sync("wiki")
    assert seen == [{"api_token": token}]
    assert run.status == "failed"
    status = service.connectors.show("wiki")
    assert status.secrets == {"api_token": True}
    assert token not in repr(status.to_dict()) and token not in caplog.text
    stored = [
        record
        for collection in ("connectors", "connector-state", "connector-syncs", "audit")
        for record in service.records.query(collection, limit=1000)
    ]
    assert stored and not any(token in repr(record) for record in stored)


def test_every_connector_module_is_found_without_being_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new module in the package registers its kind; a module that cannot import hides no other."""
    import pipelines.connectors as package
    from pipelines.connectors import base, registry

    # The package gains a folder for this test only (as if the modules had been added to it).
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    (tmp_path / "zz_probe.py").write_text(
        "from pipelines.connectors.base import register\n"
        "from pipelines.connectors.folder import FolderConnector\n\n"
        "@register\nclass Probe(FolderConnector):\n    kind = 'zz-probe'\n"
    )
    (tmp_path / "zz_broken.py").write_text("import a_library_that_is_not_installed\n")
    try:
        kinds = registry.discover()
        assert "zz-probe" in kinds and "folder" in kinds
        assert "a_library_that_is_not_installed" in registry.FAILED_IMPORTS["zz_broken"]
    finally:
        base._REGISTRY.pop("zz-probe", None)
        registry.FAILED_IMPORTS.pop("zz_broken", None)
        for name in ("zz_probe", "zz_broken"):
            sys.modules.pop(f"pipelines.connectors.{name}", None)


def test_configurations_state_and_history_round_trip_on_both_record_stores(records: RecordStore) -> None:
    store = ConnectorRecords(records)
    config = ConnectorConfig(
        "hr-share", "folder", {"path": "/mnt/hr"}, 7200, ["usergroup:S0HR"], owner="alice"
    )
    assert store.create(config) and not store.create(config)
    assert store.get("hr-share") == config and store.all() == [config]
    state = SyncState(
        "hr-share",
        {"a/b.md": DocumentState("hr-share-b-md-1", "1-2", "ab" * 32, "B", None, None, ["no-one"], 1)},
        last_good_count=5,
        needs_confirmation=Confirmation("run-1", 1, 5, ["a/b.md"]),
    )
    store.put_state(state)
    assert store.state("hr-share") == state
    first = SyncRun(
        "hr-share:1", "hr-share", 100.0, "partial", 101.0, 3, failures=[FailedDocument("x", "X", "why")]
    )
    second = SyncRun("hr-share:2", "hr-share", 200.0, "succeeded", 201.0, 3)
    store.put_run(first)
    store.put_run(second)
    assert store.runs("hr-share") == [second, first]
    store.delete("hr-share")
    assert store.get("hr-share") is None and store.runs("hr-share") == []
    assert store.state("hr-share") == SyncState("hr-share")

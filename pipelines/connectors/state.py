"""What Needle remembers about each connector, in the record store so any replica can run the next sync.

Three kinds of record: the connector's configuration (:class:`ConnectorConfig`: kind, non-secret
settings, interval, audience, paused, owner), its sync state (:class:`SyncState`: each document's
version, source id, content hash and audience as of the last sync, the last good listing's size, a
pending "needs confirmation"), and one :class:`SyncRun` per sync for the history ``show`` prints.
Credentials are never part of any of them (see :mod:`pipelines.connectors.secrets`).

The state is one record per connector, written once at the end of a sync and only when it changed: a
sync that finds nothing new writes its history entry and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from pipelines.base.errors import NeedleError
from pipelines.stores.records import Record, RecordStore

CONFIGS = "connectors"
STATES = "connector-state"
RUNS = "connector-syncs"

SyncStatus = Literal["running", "succeeded", "partial", "failed", "needs-confirmation", "cancelled"]
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def check_name(name: str) -> str:
    """Connector names appear in source ids, environment variable names and commands: short and plain."""
    name = name.strip()
    if not _NAME.match(name):
        raise NeedleError(
            f"{name!r} is not a connector name: use lower-case letters, digits and dashes, starting with a "
            "letter, at most 40 characters (e.g. hr-share)"
        )
    return name


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True)
class ConnectorConfig:
    """One configured connector. ``config`` holds its non-secret settings; ``interval`` is in seconds;
    ``audience`` applies to documents whose source has no permissions of its own."""

    name: str
    kind: str
    config: dict[str, str] = field(default_factory=dict)
    interval: int = 3600
    audience: list[str] = field(default_factory=lambda: ["everyone"])
    paused: bool = False
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentState:
    """One document as the last sync left it. ``missing`` counts the syncs in a row that did not list it."""

    source_id: str
    version: str
    content_hash: str
    title: str = ""
    url: str | None = None
    modified: str | None = None
    audience: list[str] = field(default_factory=list)
    missing: int = 0
    #: The source's principals that could not be mapped to Slack users (they grant nothing).
    unmapped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Confirmation:
    """A sync listed fewer than half the documents of the last good one: it pruned nothing. Confirming
    removes ``missing`` (document ids); dismissing keeps them."""

    run_id: str
    listed: int
    last_good: int
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FailedDocument:
    """A document the sync could not index, and why in plain words."""

    id: str
    title: str
    reason: str


@dataclass(frozen=True)
class SyncRun:
    """One sync: when, how it ended, and what it did. ``error`` is why a failed sync stopped."""

    run_id: str
    connector: str
    started: float
    status: SyncStatus = "running"
    finished: float | None = None
    listed: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[FailedDocument] = field(default_factory=list)
    error: str | None = None
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncRun:
        failures = [_from_dict(FailedDocument, item) for item in data.get("failures") or []]
        return _from_dict(cls, {**data, "failures": failures})


@dataclass(frozen=True)
class SyncState:
    """A connector's documents as of its last sync, and what the next sync needs to know."""

    connector: str
    documents: dict[str, DocumentState] = field(default_factory=dict)
    last_good_count: int | None = None
    needs_confirmation: Confirmation | None = None
    #: What the connector keeps between syncs (:attr:`Connector.state`: a changes-feed token, say), as
    #: of its last complete listing.
    cursor: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncState:
        documents = {
            key: _from_dict(DocumentState, value) for key, value in (data.get("documents") or {}).items()
        }
        pending = data.get("needs_confirmation")
        confirmation = _from_dict(Confirmation, pending) if pending else None
        return _from_dict(cls, {**data, "documents": documents, "needs_confirmation": confirmation})


def _config_fields(config: ConnectorConfig) -> dict[str, str | bool]:
    return {"kind": config.kind, "paused": config.paused}


class ConnectorRecords:
    """Connector configurations, states and sync history over a :class:`RecordStore`."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    # configurations -------------------------------------------------------------------------------
    def get(self, name: str) -> ConnectorConfig | None:
        record = self.records.get(CONFIGS, name)
        return None if record is None else _from_dict(ConnectorConfig, record.body)

    def put(self, config: ConnectorConfig) -> ConnectorConfig:
        self.records.put(CONFIGS, config.name, _config_fields(config), config.to_dict())
        return config

    def create(self, config: ConnectorConfig) -> bool:
        """Store a new configuration; ``False`` when the name is taken (atomic across replicas)."""
        return self.records.create(CONFIGS, config.name, _config_fields(config), config.to_dict())

    def all(self) -> list[ConnectorConfig]:
        found = self.records.query(CONFIGS, order="oldest", limit=1000)
        return sorted((_from_dict(ConnectorConfig, record.body) for record in found), key=lambda c: c.name)

    def delete(self, name: str) -> None:
        """The configuration, the state and the history."""
        self.records.delete(CONFIGS, name)
        self.records.delete(STATES, name)
        for run in self.records.query(RUNS, {"connector": name}, limit=10_000):
            self.records.delete(RUNS, run.key)

    # state ----------------------------------------------------------------------------------------
    def state(self, name: str) -> SyncState:
        record = self.records.get(STATES, name)
        return SyncState(connector=name) if record is None else SyncState.from_dict(record.body)

    def put_state(self, state: SyncState) -> SyncState:
        pending = state.needs_confirmation is not None
        self.records.put(STATES, state.connector, {"needs_confirmation": pending}, state.to_dict())
        return state

    # history --------------------------------------------------------------------------------------
    def put_run(self, run: SyncRun) -> SyncRun:
        self.records.put(RUNS, run.run_id, {"connector": run.connector, "status": run.status}, run.to_dict())
        return run

    def run(self, run_id: str) -> SyncRun | None:
        record = self.records.get(RUNS, run_id)
        return None if record is None else SyncRun.from_dict(record.body)

    def runs(self, name: str, limit: int = 20) -> list[SyncRun]:
        """The connector's syncs, newest first."""
        found: list[Record] = self.records.query(RUNS, {"connector": name}, limit=limit)
        return sorted((SyncRun.from_dict(r.body) for r in found), key=lambda run: run.started, reverse=True)


__all__ = [
    "Confirmation",
    "ConnectorConfig",
    "ConnectorRecords",
    "DocumentState",
    "FailedDocument",
    "SyncRun",
    "SyncState",
    "SyncStatus",
    "check_name",
]

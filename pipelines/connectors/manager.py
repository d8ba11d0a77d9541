"""Connectors as the faces use them: add, list, show, pause, resume, remove, sync, confirm, dismiss, due.

:class:`ConnectorManager` is what ``needle connectors ...``, the worker's scheduler and the console's
Connectors tab call; each of them stays a thin layer over it. Every change is written to the audit log.
Configurations and state live in the record store (:mod:`pipelines.connectors.state`), credentials in
the environment or the secrets file (:mod:`pipelines.connectors.secrets`), and one sync per connector
runs at a time across replicas (:mod:`pipelines.connectors.lease`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pipelines.base.errors import NeedleError
from pipelines.connectors.base import Connector, ConnectorError, PeopleDirectory
from pipelines.connectors.lease import Lease, LeaseHeld, SyncLeases
from pipelines.connectors.registry import connector_class, connector_kinds
from pipelines.connectors.secrets import connector_secrets, variable_prefix
from pipelines.connectors.state import (
    Confirmation,
    ConnectorConfig,
    ConnectorRecords,
    SyncRun,
    check_name,
)
from pipelines.connectors.sync import Progress, SyncEngine, remove_documents
from pipelines.indexing.sources import SourceLibrary
from pipelines.records.audience import parse_audience
from pipelines.records.audit import AuditLog
from pipelines.records.jobs import worker_name


@dataclass(frozen=True)
class ConnectorStatus:
    """One connector as ``list`` and ``show`` present it. ``secrets`` says which credentials are set
    (never their values); ``next_run`` is ``None`` while paused; ``running`` names the process syncing."""

    config: ConnectorConfig
    documents: int
    last_run: SyncRun | None
    next_run: float | None
    needs_confirmation: Confirmation | None
    secrets: dict[str, bool] = field(default_factory=dict)
    runs: list[SyncRun] = field(default_factory=list)
    running: str | None = None
    #: Principals at the source (emails, groups) that could not be mapped to Slack users, with how many
    #: documents name them: they grant nothing until an admin fixes them.
    unmapped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConnectorManager:
    """The connectors of one Needle deployment, over its record store and source library."""

    def __init__(
        self,
        records: ConnectorRecords,
        library: SourceLibrary,
        data_dir: Path,
        audit: AuditLog | None = None,
        people: PeopleDirectory | None = None,
        holder: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.records = records
        self.library = library
        self.data_dir = data_dir
        self.audit = audit
        self.people = people
        self.environ = environ
        self.leases = SyncLeases(records.records)
        self.engine = SyncEngine(records, self.leases, library, holder or worker_name())

    # ------------------------------------------------------------------------------------------------
    # configuration
    # ------------------------------------------------------------------------------------------------
    @staticmethod
    def kinds() -> dict[str, type[Connector]]:
        """Every connector kind this installation has, by name."""
        return {kind: connector_class(kind) for kind in connector_kinds()}

    def create(
        self,
        kind: str,
        name: str,
        config: Mapping[str, str] | None = None,
        *,
        interval: int | None = None,
        audience: str | Iterable[str] | None = None,
        owner: str | None = None,
        actor: str | None = None,
    ) -> ConnectorConfig:
        """Add a connector; nothing is synced yet. :raises NeedleError: a bad kind, name, setting,
        interval or audience, or the name is taken (the reason names which)."""
        name = check_name(name)
        cls = _kind(kind)
        settings = {key.strip(): str(value).strip() for key, value in (config or {}).items()}
        _check(cls, settings)
        now = time.time()
        created = ConnectorConfig(
            name=name,
            kind=kind,
            config=settings,
            interval=_interval(interval if interval is not None else cls.default_interval),
            audience=parse_audience(audience),
            owner=owner or actor,
            created_at=now,
            updated_at=now,
        )
        if not self.records.records.create(
            "connectors", name, {"kind": kind, "paused": False}, created.to_dict()
        ):
            raise NeedleError(
                f"a connector named {name!r} exists already; see `needle connectors show {name}`"
            )
        self._audit(actor, "connector.add", name, None, _audited(created))
        return created

    def update(
        self,
        name: str,
        *,
        config: Mapping[str, str] | None = None,
        interval: int | None = None,
        audience: str | Iterable[str] | None = None,
        actor: str | None = None,
    ) -> ConnectorConfig:
        """Change settings (merged into the current ones; an empty value removes one), the interval or
        the audience. A new audience applies to the documents at the next sync, without re-embedding."""
        current = self.get(name)
        changed = current
        if config is not None:
            merged = {**current.config, **{k.strip(): str(v).strip() for k, v in config.items()}}
            merged = {key: value for key, value in merged.items() if value}
            _check(_kind(current.kind), merged)
            changed = replace(changed, config=merged)
        if interval is not None:
            changed = replace(changed, interval=_interval(interval))
        if audience is not None:
            changed = replace(changed, audience=parse_audience(audience))
        return self._save(current, replace(changed, updated_at=time.time()), actor, "connector.change")

    def get(self, name: str) -> ConnectorConfig:
        """:raises NeedleError: no such connector."""
        found = self.records.get(name)
        if found is None:
            raise NeedleError(f"no connector named {name!r}; see `needle connectors list`")
        return found

    def list(self) -> list[ConnectorStatus]:
        return [self._status(config, history=1) for config in self.records.all()]

    def show(self, name: str, history: int = 10) -> ConnectorStatus:
        return self._status(self.get(name), history=history)

    def pause(self, name: str, actor: str | None = None) -> ConnectorConfig:
        current = self.get(name)
        return self._save(
            current, replace(current, paused=True, updated_at=time.time()), actor, "connector.pause"
        )

    def resume(self, name: str, actor: str | None = None) -> ConnectorConfig:
        current = self.get(name)
        resumed = replace(current, paused=False, updated_at=time.time())
        return self._save(current, resumed, actor, "connector.resume")

    def remove(self, name: str, *, delete_sources: bool, actor: str | None = None) -> int:
        """Remove the connector, its state and history. With ``delete_sources`` its sources (and their
        originals) go too; without, they stay as ordinary sources anyone may replace. Returns how many
        sources were deleted (or released). :raises NeedleError: it is syncing now."""
        config = self.get(name)
        lease = self._lease(name)
        try:
            documents = dict(self.records.state(name).documents)
            if delete_sources:
                count = remove_documents(self.library, documents, list(documents), f"connector:{name}")
            else:
                count = 0
                for state in documents.values():
                    count += bool(
                        self.library.backend.update_source_meta(state.source_id, {"connector": None})
                    )
                self.library.changes.touch()
            self.records.delete(name)
        finally:
            self.leases.release(lease)
        self._audit(actor, "connector.remove", name, _audited(config), {"sources_deleted": delete_sources})
        return count

    # ------------------------------------------------------------------------------------------------
    # syncing
    # ------------------------------------------------------------------------------------------------
    def connector(self, config: ConnectorConfig) -> Connector:
        """An instance of the connector with its credentials. :raises NeedleError: a secrets file that
        others may read, or settings the connector refuses."""
        try:
            secrets = connector_secrets(config.name, self.data_dir, self.environ)
        except ConnectorError as error:
            raise NeedleError(error.reason) from None
        connector = _kind(config.kind)(config.config, secrets, self.people)
        connector.records = self.records.records
        return connector

    def sync(
        self,
        name: str,
        *,
        actor: str | None = None,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> SyncRun:
        """Sync now, in this thread; the finished run (its ``status`` says how it went; a failed listing is
        a run with ``status="failed"`` and ``error``, not an exception).

        :raises NeedleError: no such connector, it is paused, or a sync of it is running elsewhere."""
        config = self.get(name)
        if config.paused:
            raise NeedleError(
                f"the connector {name!r} is paused; resume it first (`needle connectors resume {name}`)"
            )
        try:
            connector = self.connector(config)
        except NeedleError as error:  # recorded too, so `show` says why the scheduled syncs fail
            return self._failed_run(config, actor, str(error))
        try:
            return self.engine.run(config, connector, actor=actor, progress=progress, cancelled=cancelled)
        except LeaseHeld as held:
            raise NeedleError(
                f"a sync of {name!r} is running already ({held.holder}); wait for it to finish"
            ) from None

    def confirm(self, name: str, actor: str | None = None) -> int:
        """Accept the shrunken listing: remove the documents it found missing. Returns how many.

        :raises NeedleError: nothing awaits confirmation, or a sync of it is running."""
        lease = self._lease(name)
        try:
            state = self.records.state(name)
            pending = state.needs_confirmation
            if pending is None:
                raise NeedleError(f"the connector {name!r} has no sync awaiting confirmation")
            documents = dict(state.documents)
            removed = remove_documents(self.library, documents, pending.missing, f"connector:{name}")
            self.records.put_state(
                replace(state, documents=documents, last_good_count=pending.listed, needs_confirmation=None)
            )
        finally:
            self.leases.release(lease)
        self._audit(actor, "connector.confirm", name, _pending(pending), {"removed": removed})
        return removed

    def dismiss(self, name: str, actor: str | None = None) -> None:
        """Keep every document the shrunken listing missed; the next sync judges again.

        :raises NeedleError: nothing awaits confirmation, or a sync of it is running."""
        lease = self._lease(name)
        try:
            state = self.records.state(name)
            pending = state.needs_confirmation
            if pending is None:
                raise NeedleError(f"the connector {name!r} has no sync awaiting confirmation")
            documents = {
                doc_id: replace(doc, missing=0) if doc_id in pending.missing else doc
                for doc_id, doc in state.documents.items()
            }
            self.records.put_state(replace(state, documents=documents, needs_confirmation=None))
        finally:
            self.leases.release(lease)
        self._audit(actor, "connector.dismiss", name, _pending(pending), None)

    def due(self, now: float | None = None) -> list[str]:
        """Names of the connectors whose next sync is due (not paused, interval elapsed), oldest first."""
        now = time.time() if now is None else now
        due: list[tuple[float, str]] = []
        for config in self.records.all():
            runs = self.records.runs(config.name, limit=1)
            next_run = _next_run(config, runs[0] if runs else None)
            if next_run is not None and next_run <= now:
                due.append((next_run, config.name))
        return [name for _, name in sorted(due)]

    def sync_due(self, now: float | None = None, actor: str | None = None) -> list[SyncRun]:
        """Run every due sync, one after another, in this thread (what a worker calls in its loop).
        A connector another replica is syncing is skipped; each run's outcome is in its record."""
        finished = []
        for name in self.due(now):
            try:
                finished.append(self.sync(name, actor=actor))
            except NeedleError:  # paused or removed since, or syncing elsewhere: its next turn will come
                continue
        return finished

    # ------------------------------------------------------------------------------------------------
    def _lease(self, name: str) -> Lease:
        self.get(name)
        try:
            return self.leases.acquire(name, self.engine.holder)
        except LeaseHeld as held:
            raise NeedleError(
                f"a sync of {name!r} is running ({held.holder}); try again when it ends"
            ) from None

    def _failed_run(self, config: ConnectorConfig, actor: str | None, error: str) -> SyncRun:
        now = time.time()
        run = SyncRun(
            run_id=f"{config.name}:{time.time_ns():020d}:setup",
            connector=config.name,
            started=now,
            finished=now,
            status="failed",
            error=f"{error}; nothing was removed",
            actor=actor,
        )
        return self.records.put_run(run)

    def _status(self, config: ConnectorConfig, history: int) -> ConnectorStatus:
        state = self.records.state(config.name)
        runs = self.records.runs(config.name, limit=history)
        lease = self.leases.current(config.name)
        cls = _kind(config.kind) if config.kind in connector_kinds() else None
        present = connector_secrets_present(config.name, self.data_dir, cls, self.environ)
        return ConnectorStatus(
            config=config,
            documents=len(state.documents),
            last_run=runs[0] if runs else None,
            next_run=_next_run(config, runs[0] if runs else None),
            needs_confirmation=state.needs_confirmation,
            secrets=present,
            runs=runs,
            running=lease.holder if lease else None,
            unmapped=dict(Counter(p for doc in state.documents.values() for p in doc.unmapped)),
        )

    def _save(
        self, before: ConnectorConfig, after: ConnectorConfig, actor: str | None, action: str
    ) -> ConnectorConfig:
        self.records.put(after)
        self._audit(actor, action, after.name, _audited(before), _audited(after))
        return after

    def _audit(
        self,
        actor: str | None,
        action: str,
        name: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        if self.audit is not None:
            self.audit.record(actor, action, f"connector {name}", before, after)


def connector_secrets_present(
    name: str, data_dir: Path, cls: type[Connector] | None, environ: Mapping[str, str] | None = None
) -> dict[str, bool]:
    """Which of the kind's credentials are set (``{"api_token": True}``), never their values."""
    try:
        found = connector_secrets(name, data_dir, environ)
    except ConnectorError:
        found = {}
    keys = set(cls.secret_settings) if cls is not None else set()
    return {key: key in found for key in sorted(keys | set(found))}


def secret_variable(name: str, key: str) -> str:
    """The environment variable that sets ``key`` for connector ``name`` (for help texts)."""
    return variable_prefix(name) + key.upper()


def _kind(kind: str) -> type[Connector]:
    try:
        return connector_class(kind)
    except ConnectorError as error:
        raise NeedleError(error.reason) from None


def _check(cls: type[Connector], settings: dict[str, str]) -> None:
    try:
        cls(settings).check_config()
    except ConnectorError as error:
        raise NeedleError(error.reason) from None


def _interval(seconds: int) -> int:
    if not 60 <= int(seconds) <= 366 * 86400:
        raise NeedleError("a sync interval is between one minute and a year")
    return int(seconds)


def _next_run(config: ConnectorConfig, last: SyncRun | None) -> float | None:
    if config.paused:
        return None
    if last is None:
        return config.created_at
    return last.started + config.interval


def _audited(config: ConnectorConfig) -> dict[str, Any]:
    """What the audit log keeps of a configuration (settings are non-secret by construction)."""
    keys = ("kind", "config", "interval", "audience", "paused", "owner")
    return {key: getattr(config, key) for key in keys}


def _pending(pending: Confirmation) -> dict[str, Any]:
    return {"listed": pending.listed, "last_good": pending.last_good, "missing": len(pending.missing)}

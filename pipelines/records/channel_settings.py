"""Per-channel Slack settings, stored with Needle's data and changed without a restart.

Admins decide per channel whether Needle answers there, from which source tags, how it treats later
messages in a thread it answered, whether answers are private (ephemeral) by default, and which Slack user
group "Ask a person" calls in. The settings live in the record store (SQLite beside the embedded store,
an Elasticsearch index in production), and every question reads them afresh, so a change made in the
console or with ``needle channels set`` applies to the next question in every process and replica.

The environment variables that configured this before (``NEEDLE_SLACK_ALLOWED_CHANNELS``,
``NEEDLE_SLACK_CHANNEL_TAGS``, ``NEEDLE_SLACK_FOLLOWUPS``) stay the defaults: a channel nobody has set
behaves exactly as they say, and setting one field of such a channel starts from them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings
from pipelines.records.audit import AuditLog
from pipelines.stores.records import Record, RecordStore

Followups = Literal["questions", "all", "mention-only"]
FOLLOWUP_MODES: tuple[str, ...] = get_args(Followups)
COLLECTION = "channels"

#: Slack ids: channels C/G (public, private), DMs D; user groups S.
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,30}$")
_TAG = re.compile(r"^[\w.-]{1,64}$")


@dataclass(frozen=True)
class ChannelSettings:
    """What Needle does in one channel. ``origin`` says where the values came from: ``stored`` (set by an
    admin), ``environment`` (the channel is named in the environment variables) or ``default``."""

    channel_id: str
    name: str | None = None
    enabled: bool = True
    tags: list[str] = field(default_factory=list)
    followups: Followups = "questions"
    ephemeral: bool = False
    escalation_usergroup: str | None = None
    origin: Literal["stored", "environment", "default"] = "default"
    updated_by: str | None = None
    updated_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChannelChange:
    """Fields to change; ``None`` leaves a field as it is. An empty ``tags`` list means every source, an
    empty ``escalation_usergroup`` string removes the user group."""

    name: str | None = None
    enabled: bool | None = None
    tags: list[str] | None = None
    followups: str | None = None
    ephemeral: bool | None = None
    escalation_usergroup: str | None = None


def check_channel_id(channel_id: str) -> str:
    channel_id = channel_id.strip()
    if not _CHANNEL_ID.match(channel_id):
        raise NeedleError(
            f"{channel_id!r} is not a Slack channel id (it looks like C0123ABCD; in Slack, open the "
            "channel's details: the id is at the bottom)"
        )
    return channel_id


def _checked(change: ChannelChange) -> ChannelChange:
    if change.followups is not None and change.followups not in FOLLOWUP_MODES:
        raise NeedleError(f"followups must be one of {', '.join(FOLLOWUP_MODES)}, not {change.followups!r}")
    for tag in change.tags or []:
        if not _TAG.match(tag):
            raise NeedleError(f"{tag!r} is not a valid tag (letters, digits, '.', '-' and '_')")
    group = change.escalation_usergroup
    if group and not _USERGROUP_ID.match(group.strip()):
        raise NeedleError(f"{group!r} is not a Slack user group id (it looks like S0123ABCD)")
    if change.name is not None and len(change.name) > 80:
        raise NeedleError("a channel name has at most 80 characters")
    return change


class ChannelSettingsStore:
    """Channel settings over a :class:`RecordStore`, with the environment's values as defaults; every
    change is written to the audit log."""

    def __init__(self, records: RecordStore, settings: Settings, audit: AuditLog) -> None:
        self.records = records
        self.settings = settings
        self.audit = audit

    def defaults(self, channel_id: str) -> ChannelSettings:
        """What the environment variables say about ``channel_id``."""
        allowed = self.settings.slack_allowed_channels
        tags = self.settings.slack_channel_tags.get(channel_id)
        named = channel_id in allowed or tags is not None
        return ChannelSettings(
            channel_id=channel_id,
            enabled=not allowed or channel_id in allowed or channel_id.startswith("D"),
            tags=list(tags or []),
            followups=self.settings.slack_followups,
            origin="environment" if named else "default",
        )

    def get(self, channel_id: str) -> ChannelSettings:
        """The settings in force for ``channel_id`` now (stored, else the defaults)."""
        record = self.records.get(COLLECTION, channel_id)
        return self._from_record(record) if record else self.defaults(channel_id)

    def set(self, channel_id: str, change: ChannelChange, actor: str | None) -> ChannelSettings:
        """Apply ``change`` over the settings in force, store and audit the result; returns it.

        :raises NeedleError: an invalid channel id or value (nothing is changed).
        """
        channel_id = check_channel_id(channel_id)
        change = _checked(change)
        current = self.get(channel_id)
        values = {key: value for key, value in asdict(change).items() if value is not None}
        if "escalation_usergroup" in values:
            values["escalation_usergroup"] = values["escalation_usergroup"].strip() or None
        if "name" in values:
            values["name"] = values["name"].strip().lstrip("#") or None
        if "tags" in values:
            # Sources' tags are lower-cased when indexed; "HR" would match nothing.
            values["tags"] = sorted({tag.strip().lower() for tag in values["tags"]})
        updated = replace(current, **values, origin="stored", updated_by=actor)
        record = self.records.put(COLLECTION, channel_id, *_record_parts(updated))
        updated = replace(updated, updated_at=record.updated_at)
        self.audit.record(actor, "channel.set", f"channel {channel_id}", _audited(current), _audited(updated))
        return updated

    def unset(self, channel_id: str, actor: str | None) -> bool:
        """Forget the stored settings (the defaults apply again); ``True`` when there were some."""
        channel_id = check_channel_id(channel_id)
        before = self.get(channel_id)
        if not self.records.delete(COLLECTION, channel_id):
            return False
        after = self.defaults(channel_id)
        self.audit.record(actor, "channel.unset", f"channel {channel_id}", _audited(before), _audited(after))
        return True

    def list(self) -> list[ChannelSettings]:
        """Every channel with stored settings, and those the environment names, by name then id."""
        stored = {r.key: self._from_record(r) for r in self.records.query(COLLECTION, limit=10_000)}
        named = set(self.settings.slack_allowed_channels) | set(self.settings.slack_channel_tags)
        for channel_id in named - set(stored):
            stored[channel_id] = self.defaults(channel_id)
        return sorted(stored.values(), key=lambda c: ((c.name or "").lower() or "~", c.channel_id))

    @staticmethod
    def _from_record(record: Record) -> ChannelSettings:
        fields, body = record.fields, record.body
        followups = fields.get("followups")
        return ChannelSettings(
            channel_id=record.key,
            name=fields.get("name") or None,  # type: ignore[arg-type]
            enabled=bool(fields.get("enabled", True)),
            tags=list(body.get("tags") or []),
            followups=followups if followups in FOLLOWUP_MODES else "questions",  # type: ignore[arg-type]
            ephemeral=bool(fields.get("ephemeral", False)),
            escalation_usergroup=fields.get("escalation_usergroup") or None,  # type: ignore[arg-type]
            origin="stored",
            updated_by=fields.get("updated_by") or None,  # type: ignore[arg-type]
            updated_at=record.updated_at,
        )


def _record_parts(channel: ChannelSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {
        "name": channel.name,
        "enabled": channel.enabled,
        "followups": channel.followups,
        "ephemeral": channel.ephemeral,
        "escalation_usergroup": channel.escalation_usergroup,
        "updated_by": channel.updated_by,
    }
    return fields, {"tags": channel.tags}


def _audited(channel: ChannelSettings) -> dict[str, Any]:
    """A channel's values as the audit log shows them (who and when are the entry's own)."""
    values = channel.to_dict()
    for key in ("updated_by", "updated_at", "channel_id"):
        values.pop(key)
    return values

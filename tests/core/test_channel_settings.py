"""Channel settings and the audit log: written once over the record store, run on SQLite and on
Elasticsearch's protocol (the real client against the local test server)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings, load_settings
from pipelines.cli import main
from pipelines.records.audit import AuditLog, to_csv
from pipelines.records.channel_settings import ChannelChange, ChannelSettingsStore
from pipelines.stores.records import RecordStore, SqliteRecordStore


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(_env_file=None, data_dir=tmp_path, **overrides)


def _channels(records: RecordStore, settings: Settings) -> ChannelSettingsStore:
    return ChannelSettingsStore(records, settings, AuditLog(records))


def test_environment_variables_stay_the_defaults(records: RecordStore, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        slack_allowed_channels=["C0HR", "C0IT"],
        slack_channel_tags={"C0HR": ["hr"]},
        slack_followups="mention-only",
    )
    channels = _channels(records, settings)
    hr = channels.get("C0HR")
    assert (hr.enabled, hr.tags, hr.followups, hr.origin) == (True, ["hr"], "mention-only", "environment")
    assert channels.get("C0OTHER").enabled is False  # not on the allowed list
    assert channels.get("D0DM").enabled is True  # direct messages are always allowed
    assert [c.channel_id for c in channels.list()] == ["C0HR", "C0IT"]


def test_set_changes_only_what_is_given_and_unset_restores_the_defaults(
    records: RecordStore, tmp_path: Path
) -> None:
    channels = _channels(records, _settings(tmp_path, slack_channel_tags={"C0HR": ["hr"]}))
    channels.set("C0HR", ChannelChange(followups="all"), actor="ann")
    changed = channels.get("C0HR")
    assert (changed.tags, changed.followups, changed.origin, changed.updated_by) == (
        ["hr"],
        "all",
        "stored",
        "ann",
    )
    channels.set("C0HR", ChannelChange(tags=["it", "hr", "it"], escalation_usergroup="S0HELP"), actor="bob")
    again = channels.get("C0HR")
    assert (again.tags, again.followups, again.escalation_usergroup) == (["hr", "it"], "all", "S0HELP")
    channels.set("C0HR", ChannelChange(tags=[], escalation_usergroup=""), actor="bob")
    cleared = channels.get("C0HR")
    assert (cleared.tags, cleared.escalation_usergroup) == ([], None)  # every source; no user group

    assert channels.unset("C0HR", actor="ann") is True
    assert channels.get("C0HR").origin == "environment" and channels.get("C0HR").tags == ["hr"]
    assert channels.unset("C0HR", actor="ann") is False


def test_a_change_in_one_process_applies_in_another(tmp_path: Path) -> None:
    """Each process reads the settings per question: no cache to go stale, no restart."""
    settings = _settings(tmp_path)
    serving = _channels(SqliteRecordStore(tmp_path / "records.sqlite3"), settings)
    assert serving.get("C0SALES").enabled is True
    admin = _channels(SqliteRecordStore(tmp_path / "records.sqlite3"), settings)
    admin.set("C0SALES", ChannelChange(enabled=False), actor="ann")
    assert serving.get("C0SALES").enabled is False


@pytest.mark.parametrize(
    ("channel_id", "change", "message"),
    [
        ("general", ChannelChange(enabled=False), "not a Slack channel id"),
        ("C0HR", ChannelChange(followups="sometimes"), "followups must be one of"),
        ("C0HR", ChannelChange(tags=["h r"]), "not a valid tag"),
        ("C0HR", ChannelChange(escalation_usergroup="@helpdesk"), "not a Slack user group id"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    records: RecordStore, tmp_path: Path, channel_id: str, change: ChannelChange, message: str
) -> None:
    channels = _channels(records, _settings(tmp_path))
    with pytest.raises(NeedleError, match=message):
        channels.set(channel_id, change, actor="ann")
    assert channels.list() == []
    assert channels.audit.entries() == []


def test_every_change_is_audited_with_before_and_after(records: RecordStore, tmp_path: Path) -> None:
    channels = _channels(records, _settings(tmp_path))
    channels.set("C0HR", ChannelChange(enabled=False, name="#hr"), actor="ann")
    channels.unset("C0HR", actor="bob")
    entries = channels.audit.entries()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("bob", "channel.unset", "channel C0HR"),
        ("ann", "channel.set", "channel C0HR"),
    ]
    assert entries[1].before is not None and entries[1].before["enabled"] is True
    assert entries[1].after is not None and entries[1].after["enabled"] is False
    assert entries[1].after["name"] == "hr"
    assert [e.action for e in channels.audit.entries(actor="ann")] == ["channel.set"]
    assert [e.actor for e in channels.audit.entries(action="channel.unset")] == ["bob"]

    rows = list(csv.DictReader(io.StringIO(to_csv(entries))))
    assert [row["action"] for row in rows] == ["channel.unset", "channel.set"]
    assert json.loads(rows[1]["after"])["enabled"] is False


def test_the_command_line_sets_lists_and_audits(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["channels", "set", "C0HR", "--name", "hr", "--tags", "hr", "--ephemeral", "yes", "--by", "ann"])
        == 0
    )
    capsys.readouterr()
    assert main(["channels", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["channel_id"], listed["tags"], listed["ephemeral"]) == ("C0HR", ["hr"], True)

    assert main(["channels", "set", "nonsense", "--enabled", "no"]) == 1
    assert "not a Slack channel id" in capsys.readouterr().err

    assert main(["channels", "unset", "C0HR", "--by", "bob"]) == 0
    assert "back to the defaults" in capsys.readouterr().out
    assert main(["audit", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["actor"], row["action"]) for row in rows] == [
        ("bob", "channel.unset"),
        ("ann", "channel.set"),
    ]

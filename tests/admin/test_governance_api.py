"""Channels, audit log and source audiences through the console's real endpoints (a logged-in client)."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from admin import render
from admin.tabs.channels import CHANNEL_HEADERS
from pipelines.records.audience import Viewer
from pipelines.samples import handbook_dir
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, Console

HANDBOOK = handbook_dir()
AUDIENCE = render.SOURCE_HEADERS.index("Audience")


@pytest.fixture(scope="module")
def client(console: Console) -> Iterator[Client]:
    client = Client(console.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    yield client
    client.close()


def _rows(table: dict[str, Any]) -> list[list[Any]]:
    return table["data"]


def _channel_row(table: dict[str, Any], channel_id: str) -> dict[str, Any] | None:
    for row in _rows(table):
        if row[0] == channel_id:
            return dict(zip(CHANNEL_HEADERS, row, strict=True))
    return None


def _set_channel(client: Client, channel_id: str, **fields: Any) -> tuple[Any, ...]:
    """(name, enabled, followups, ephemeral, escalation, tags, status, table, picker)."""
    values = {
        "name": "",
        "enabled": True,
        "followups": "questions",
        "ephemeral": False,
        "escalation": "",
        "tags": [],
    } | fields
    return client.predict(channel_id, *values.values(), api_name="/set_channel")


def _audit(client: Client, person: str = "", action: str = "", days: float = 0) -> tuple[Any, ...]:
    """(table, summary, csv path, person choices)."""
    return client.predict(person, action, days, api_name="/audit_log")


def test_channel_settings_saved_in_the_console_are_in_force_and_audited(
    client: Client, console: Console
) -> None:
    channels = console.service.channels
    name, enabled, followups, ephemeral, group, tags, status, table, _picker = _set_channel(
        client,
        "C0SUPPORT1",
        name="#it-support",
        enabled=False,
        followups="mention-only",
        ephemeral=True,
        escalation="S0HELPDESK",
        tags=["IT", "handbook"],
    )
    stored = channels.get("C0SUPPORT1")
    assert (stored.name, stored.enabled, stored.followups, stored.ephemeral) == (
        "it-support",
        False,
        "mention-only",
        True,
    )
    assert stored.escalation_usergroup == "S0HELPDESK"
    assert stored.tags == ["handbook", "it"]  # lowercased like sources' tags, so they match
    assert (stored.origin, stored.updated_by) == ("stored", ADMIN_USER)
    assert (name, enabled, followups, ephemeral, group, tags["value"]) == (
        "it-support",
        False,
        "mention-only",
        True,
        "S0HELPDESK",
        ["handbook", "it"],
    )
    assert "set in the console" in status and ADMIN_USER in status
    row = _channel_row(table, "C0SUPPORT1")
    assert row is not None
    assert row["Name"] == "#it-support" and row["Answers"] == "no" and row["Private answers"] == "yes"
    assert row["Tags"] == "handbook, it" and row["Changed by"] == ADMIN_USER and row["Changed at (UTC)"]

    shown = client.predict("C0SUPPORT1", api_name="/channel_settings")
    assert shown[:5] == ("it-support", False, "mention-only", True, "S0HELPDESK")

    audit_table, summary, csv_path, _people = _audit(client, ADMIN_USER, "channel.set")
    latest = _rows(audit_table)[0]
    assert latest[1:4] == [ADMIN_USER, "channel.set", "channel C0SUPPORT1"]
    assert "enabled: yes → no" in latest[4] and "followups: questions → mention-only" in latest[4]
    with open(csv_path, encoding="utf-8", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == len(_rows(audit_table)) and "**1** change(s)" in summary
    assert json.loads(exported[0]["after"])["escalation_usergroup"] == "S0HELPDESK"


def test_invalid_channel_input_is_refused_and_changes_nothing(client: Client, console: Console) -> None:
    _set_channel(client, "C0PAYROLL", name="payroll", followups="all")
    before = console.service.channels.get("C0PAYROLL")
    entries = len(console.service.audit.entries(limit=1000))

    with pytest.raises(AppError, match=r"Nothing was changed.*user group id"):
        _set_channel(client, "C0PAYROLL", name="payroll", enabled=False, escalation="helpdesk")
    with pytest.raises(AppError, match="not a valid tag"):
        _set_channel(client, "C0PAYROLL", tags=["hr team"])
    with pytest.raises(AppError, match="not a Slack channel id"):
        _set_channel(client, "#general")
    with pytest.raises(AppError, match="Pick a channel"):
        client.predict("  ", api_name="/channel_settings")

    assert console.service.channels.get("C0PAYROLL") == before
    assert len(console.service.audit.entries(limit=1000)) == entries


def test_back_to_defaults_forgets_the_stored_values_and_says_so(client: Client, console: Console) -> None:
    _set_channel(client, "C0RESET01", name="random", ephemeral=True)
    name, _enabled, followups, ephemeral, _group, _tags, status, table, _ = client.predict(
        "C0RESET01", api_name="/reset_channel"
    )
    assert console.service.channels.get("C0RESET01").origin == "default"
    assert (name, followups, ephemeral) == ("", console.service.settings.slack_followups, False)
    assert "Back to defaults" in status
    assert _channel_row(table, "C0RESET01") is None  # only stored and environment-named channels are listed
    entry = console.service.audit.entries(action="channel.unset", limit=1)[0]
    assert (entry.actor, entry.target, entry.before["ephemeral"]) == (ADMIN_USER, "channel C0RESET01", True)

    *_, status, _table, _picker = client.predict("C0RESET01", api_name="/reset_channel")
    assert "already follows the defaults" in status


def test_audit_log_filters_by_time_and_the_csv_holds_what_is_shown(client: Client, console: Console) -> None:
    _set_channel(client, "C0RECENT1", name="recent")
    old = console.service.audit.record("cli", "channel.set", "channel C0OLDONE1", {"enabled": True}, None)
    # Backdate the entry in the store itself, as if it had been written 40 days ago.
    with sqlite3.connect(console.service.records.path) as db:
        db.execute(
            "UPDATE records SET updated_at = ? WHERE collection = 'audit' AND key = ?",
            (time.time() - 40 * 86_400, old.entry_id),
        )

    recent, _summary, recent_csv, people = _audit(client, "", "", 30)
    targets = [row[3] for row in _rows(recent)]
    assert "channel C0RECENT1" in targets and "channel C0OLDONE1" not in targets
    times = [row[0] for row in _rows(recent)]
    assert times == sorted(times, reverse=True)  # newest first
    everything, summary, all_csv, _ = _audit(client, "", "", 0)
    assert "channel C0OLDONE1" in [row[3] for row in _rows(everything)] and "at any time" in summary
    assert {"cli", ADMIN_USER} <= {value for _label, value in people["choices"]}

    cli_only, _, cli_csv, _ = _audit(client, "cli", "", 0)
    assert [row[1] for row in _rows(cli_only)] == ["cli"]
    for path, table in ((recent_csv, recent), (all_csv, everything), (cli_csv, cli_only)):
        with open(path, encoding="utf-8", newline="") as handle:
            exported = list(csv.DictReader(handle))
        assert [(r["actor"], r["action"], r["target"]) for r in exported] == [
            (row[1], row[2], row[3]) for row in _rows(table)
        ]
    with pytest.raises(AppError, match="minimum"):
        _audit(client, "", "", -1)


def test_audiences_are_set_at_upload_kept_on_new_versions_and_changed_in_place(
    client: Client, console: Console, tmp_path: Path
) -> None:
    service = console.service
    salary = tmp_path / "salary-bands.md"
    salary.write_text(
        "# Salary bands\n\nEngineers in band E4 earn between 91,000 and 118,000 euros a year.\n"
    )
    before = service.store.count_documents()

    with pytest.raises(AppError, match="not an audience member: hr-team"):
        client.predict([handle_file(str(salary))], "", "", "", "report", "hr-team", api_name="/upload")
    assert service.store.count_documents() == before  # refused before anything was indexed

    results, *_ = client.predict(
        [handle_file(str(salary))], "", "", "hr", "report", "channel:C0HRTEAM, user:U0CFO", api_name="/upload"
    )
    source_id = _rows(results)[0][-1]
    listed = {row[-1]: row for row in _rows(client.predict(api_name="/list_sources")[0])}
    assert listed[source_id][AUDIENCE] == "channel:C0HRTEAM, user:U0CFO"

    def cites(viewer: Viewer) -> bool:
        """Whether the source reached the answer at all: its passages, citations or related links."""
        answer = service.ask("What do engineers in band E4 earn?", viewer=viewer)
        used = {passage.meta.get("source_id") for passage in answer.passages}
        used |= {citation.source_id for citation in [*answer.citations, *answer.related]}
        return source_id in used

    in_hr = Viewer(user_id="U0ANYONE", channel_id="C0HRTEAM")
    elsewhere = Viewer(user_id="U0ANYONE", channel_id="C0GENERAL")
    assert cites(in_hr) and not cites(elsewhere)

    # A new version uploaded with the audience left blank keeps the source's audience.
    salary.write_text(salary.read_text() + "\nBands are reviewed every April.\n")
    results, *_ = client.predict([handle_file(str(salary))], "", "", "", "replace", "", api_name="/upload")
    assert _rows(results)[0][-1] == source_id
    kept = {s.source_id: s for s in service.list_sources()}[source_id]
    assert kept.audience == ["channel:C0HRTEAM", "user:U0CFO"]
    indexed_at = kept.indexed_at

    # Blank or malformed audiences are refused: clearing the box must not publish the document.
    for bad, reason in (("", "Type who may see"), ("  ", "Type who may see"), ("channel:general", "not an")):
        with pytest.raises(AppError, match=reason):
            client.predict(source_id, bad, api_name="/set_source_audience")
    assert not cites(elsewhere)

    status, shown, table, _choices, overview = client.predict(
        source_id, "everyone", api_name="/set_source_audience"
    )
    assert "visible to: everyone" in status and shown == "everyone"
    assert {row[-1]: row for row in _rows(table)}[source_id][AUDIENCE] == "everyone"
    assert f"**{len(_rows(table))}** source" in overview
    assert cites(elsewhere)  # applies to the next question
    after = {s.source_id: s for s in service.list_sources()}[source_id]
    assert after.indexed_at == indexed_at  # changed in place, not re-indexed
    entry = service.audit.entries(action="source.audience", limit=1)[0]
    assert (entry.actor, entry.before, entry.after) == (
        ADMIN_USER,
        {"audience": ["channel:C0HRTEAM", "user:U0CFO"]},
        {"audience": ["everyone"]},
    )
    with pytest.raises(AppError, match="no source"):
        client.predict("no-such-source", "everyone", api_name="/set_source_audience")


def test_uploads_and_deletes_are_audited_under_the_console_user(client: Client, console: Console) -> None:
    results, *_ = client.predict(
        [handle_file(str(HANDBOOK / "emergency-procedures.txt"))],
        "",
        "",
        "",
        "report",
        "",
        api_name="/upload",
    )
    source_id = _rows(results)[0][-1]
    client.predict(source_id, api_name="/delete_source")
    table, *_ = _audit(client, ADMIN_USER, "", 1)
    actions = [(row[2], row[3]) for row in _rows(table)]
    assert actions.index(("source.delete", f"source {source_id}")) < actions.index(
        ("source.upload", f"source {source_id}")
    )  # newest first
    deleted = next(row for row in _rows(table) if row[2] == "source.delete")
    assert deleted[4].startswith("removed: title:")

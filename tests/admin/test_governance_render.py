"""What the Channels and Audit log tabs show for the core's records, without a browser."""

from __future__ import annotations

from admin.tabs.audit import describe_change
from admin.tabs.channels import CHANNEL_HEADERS, channel_choices, channel_rows
from pipelines.records.channel_settings import ChannelSettings


def test_a_change_lists_only_the_fields_that_differ_in_words() -> None:
    before = {"enabled": True, "tags": [], "escalation_usergroup": None, "name": "hr"}
    after = {"enabled": False, "tags": ["hr", "policies"], "escalation_usergroup": "S0HELP", "name": "hr"}
    assert describe_change(before, after) == (
        "enabled: yes → no; tags: — → hr, policies; escalation_usergroup: — → S0HELP"
    )
    assert describe_change(before, dict(before)) == "no values changed"
    assert describe_change(None, {"audience": ["everyone"]}) == "created: audience: everyone"
    assert describe_change({"title": "Pay"}, None) == "removed: title: Pay"
    assert describe_change(None, None) == ""


def test_channel_rows_say_where_values_come_from_and_that_no_tags_means_every_source() -> None:
    stored = ChannelSettings(
        "C0HR", name="hr", tags=["hr"], ephemeral=True, origin="stored", updated_by="ann"
    )
    default = ChannelSettings("C0GEN")
    rows = [dict(zip(CHANNEL_HEADERS, row, strict=True)) for row in channel_rows([stored, default])]
    assert (rows[0]["Name"], rows[0]["Private answers"], rows[0]["Tags"]) == ("#hr", "yes", "hr")
    assert rows[0]["Values from"] == "set in the console or CLI" and rows[0]["Changed by"] == "ann"
    assert (rows[1]["Tags"], rows[1]["Values from"], rows[1]["Changed at (UTC)"]) == (
        "all sources",
        "defaults",
        "",
    )
    assert channel_choices([stored, default]) == [("#hr (C0HR)", "C0HR"), ("C0GEN", "C0GEN")]

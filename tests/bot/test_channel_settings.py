"""Per-channel settings apply to the next event, with no restart, when another process changes them.

The bot runs as deployed (real Bolt app, signed HTTP) over its own record store; the changes are made the
way the console or ``needle channels`` make them: through another connection to the same store (another
process's view of it), or by running the CLI itself (slow).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import blocks, messages
from pipelines.records.audit import AuditLog
from pipelines.records.channel_settings import ChannelChange, ChannelSettingsStore
from pipelines.records.escalations import EscalationLog
from pipelines.stores.records import SqliteRecordStore
from tests.bot.replies import finished_answers, text_of, trace_of, wait_answers
from tests.bot.test_mentions import VACATION, mention, message
from tests.support.processes import needle_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console(start_bot) -> Iterator[tuple[object, ChannelSettingsStore]]:
    """A running bot, and the channel settings as a second process (the console, the CLI) sees them."""
    bot = start_bot()
    records = SqliteRecordStore(bot.records_dir / "records.sqlite3")
    yield bot, ChannelSettingsStore(records, bot.settings, AuditLog(records))
    records.close()


def ask_in(bot, channel: str, user: str = "U1", question: str = VACATION) -> str:
    ts = bot.slack.add_user_message(channel, user, f"<@UBOT> {question}")
    assert bot.send.event(mention(channel, user, question, ts)).status_code == 200
    return ts


def test_disabling_and_tagging_a_channel_applies_to_the_next_mention(console, bot_service):
    bot, channels = console
    ask_in(bot, "CLIVE")
    wait_answers(bot.slack, "CLIVE", 1)

    channels.set("CLIVE", ChannelChange(enabled=False), actor="admin")
    ts = ask_in(bot, "CLIVE")
    bot.settle()
    notice = bot.slack.of("chat.postEphemeral")[-1].args
    assert (notice["text"], notice["thread_ts"]) == (messages.CHANNEL_NOT_ALLOWED, ts)
    assert len(finished_answers(bot.slack, "CLIVE")) == 1

    channels.set("CLIVE", ChannelChange(enabled=True, tags=["it"]), actor="admin")
    ask_in(bot, "CLIVE", question="How do I connect to the VPN?")
    second = wait_answers(bot.slack, "CLIVE", 2)[-1]
    trace = bot_service.get_trace(trace_of(second["blocks"]))
    assert {p["meta"]["file_name"] for p in trace["passages"]} == {"it-setup-guide.md"}


def test_followups_and_private_answers_follow_the_channel_settings(console):
    bot, channels = console
    root = ask_in(bot, "CFOLLOW")
    wait_answers(bot.slack, "CFOLLOW", 1)
    channels.set("CFOLLOW", ChannelChange(followups="mention-only"), actor="admin")
    later = bot.slack.add_user_message("CFOLLOW", "U1", "And how many sick days?", thread_ts=root)
    bot.send.event(message("CFOLLOW", "U1", "And how many sick days?", later, thread_ts=root))
    bot.settle()
    assert len(bot.slack.bot_messages("CFOLLOW")) == 1  # not answered: mentions only now

    channels.set("CFOLLOW", ChannelChange(ephemeral=True), actor="admin")
    ask_in(bot, "CFOLLOW", user="U2")
    bot.settle()
    assert len(bot.slack.bot_messages("CFOLLOW")) == 1  # nothing posted for everyone
    [private] = [c.args for c in bot.slack.of("chat.postEphemeral") if c.args.get("blocks")]
    assert private["user"] == "U2" and trace_of(private["blocks"])
    actions = [e["action_id"] for b in private["blocks"] for e in b.get("elements") or [] if "action_id" in e]
    assert blocks.SHARE_ANSWER in actions


def test_needle_sources_in_a_channel_lists_what_it_answers_from(console, bot_service):
    bot, channels = console
    channels.set("CHR", ChannelChange(tags=["hr"]), actor="admin")
    assert bot.send.command("sources", channel="CHR").status_code == 200
    reply = bot.slack.wait_for(lambda s: [c.args for c in s.of("response_url") if c.args.get("blocks")])[0]
    text = text_of(reply["blocks"])
    assert "leave-policy.md" in text and messages.SOURCES_HERE in text
    assert "it-setup-guide.md" not in text and "travel-and-expenses-policy.pdf" not in text
    # The heading names the channel's tags (a listed source's tags once overwrote them, letter by letter).
    [leave] = [s for s in bot_service.list_sources() if s.file_name == "leave-policy.md"]
    heading = f"*{messages.SOURCES_HERE}* (1, tagged hr; last indexed {leave.indexed_at[:10]}):"
    assert text.splitlines()[0] == heading


def test_ask_a_person_calls_the_channel_group_into_the_thread_once(console, bot_service):
    bot, channels = console
    channels.set("CHELP", ChannelChange(escalation_usergroup="S0HELP"), actor="admin")
    root = ask_in(bot, "CHELP", user="U5")
    [answer] = wait_answers(bot.slack, "CHELP", 1)
    buttons = [e for b in answer["blocks"] for e in b.get("elements") or [] if e.get("action_id")]
    [escalate] = [e for e in buttons if e["action_id"] == blocks.ESCALATE]
    assert escalate["value"] == trace_of(answer["blocks"])

    assert bot.send.click(blocks.ESCALATE, escalate["value"], user="U5", channel="CHELP", message=answer)
    [posted] = bot.slack.wait_for(
        lambda s: [c.args for c in s.of("chat.postMessage") if "subteam" in c.args["text"]]
    )
    assert posted["thread_ts"] == root and posted["text"].startswith("<!subteam^S0HELP>")
    assert VACATION in posted["text"] and "<@U5>" in posted["text"]
    bot.settle()
    (escalation,) = EscalationLog(channels.records).list()
    assert (escalation.trace_id, escalation.channel_id, escalation.thread_ts) == (
        escalate["value"],
        "CHELP",
        root,
    )
    assert escalation.user_id == "U5" and escalation.usergroup == "S0HELP" and VACATION in escalation.question
    assert any(e.action == "slack.escalate" for e in AuditLog(channels.records).entries(limit=20))

    bot.send.click(blocks.ESCALATE, escalate["value"], user="U6", channel="CHELP", message=answer)
    bot.settle()
    assert len([c for c in bot.slack.of("chat.postMessage") if "subteam" in c.args["text"]]) == 1
    assert bot.slack.of("chat.postEphemeral")[-1].args["text"] == messages.ESCALATE_ALREADY


def test_no_escalation_group_no_button(start_bot):
    bot = start_bot()
    ask_in(bot, "CPLAIN")
    [answer] = wait_answers(bot.slack, "CPLAIN", 1)
    assert blocks.ESCALATE not in str(answer["blocks"])


@pytest.mark.slow
def test_needle_channels_cli_changes_the_running_bot(start_bot):
    """The real CLI, in its own process, against the bot's data directory: no restart between."""
    bot = start_bot()
    ask_in(bot, "CCLI")
    wait_answers(bot.slack, "CCLI", 1)
    env = needle_environment(NEEDLE_DATA_DIR=str(bot.records_dir))
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "channels", "set", "CCLI", "--enabled", "no"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ts = ask_in(bot, "CCLI")
    bot.settle()
    assert bot.slack.of("chat.postEphemeral")[-1].args["text"] == messages.CHANNEL_NOT_ALLOWED
    assert bot.slack.of("chat.postEphemeral")[-1].args["thread_ts"] == ts
    assert len(finished_answers(bot.slack, "CCLI")) == 1


def test_an_unreadable_record_store_is_told_in_plain_words(start_bot, caplog):
    bot = start_bot()
    bot.runtime.records.close()  # the store is gone: every read and write now raises
    ts = ask_in(bot, "CDOWN")
    bot.settle()
    [notice] = [c.args for c in bot.slack.of("chat.postEphemeral")]
    assert (notice["text"], notice["thread_ts"]) == (messages.SETTINGS_DOWN, ts)
    assert not bot.slack.bot_messages("CDOWN")
    assert "could not read the bot's shared state" in caplog.text

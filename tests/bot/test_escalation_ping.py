""" "Ask a person" pings the channel's helpers with the question, the first lines of Needle's answer and
its sources, so the person called in sees what Needle said without scrolling up the thread.

The real Bolt app over signed HTTP, the channel's escalation group set as the console sets it (another
connection to the bot's record store), the click sent as Slack sends it.
"""

from __future__ import annotations

from bot import blocks
from bot.mrkdwn import to_mrkdwn
from pipelines.records.answers import Answer, Citation
from pipelines.records.audience import Viewer
from pipelines.records.audit import AuditLog
from pipelines.records.channel_settings import ChannelChange, ChannelSettingsStore
from pipelines.stores.records import SqliteRecordStore
from tests.bot.replies import trace_of, wait_answers
from tests.bot.slack_requests import mention
from tests.bot.test_mentions import VACATION


def call_helpers_in(bot, channel: str, usergroup: str) -> None:
    """Set the channel's escalation group as the console does: through another connection to the store."""
    records = SqliteRecordStore(bot.records_dir / "records.sqlite3")
    try:
        channels = ChannelSettingsStore(records, bot.settings, AuditLog(records))
        channels.set(channel, ChannelChange(escalation_usergroup=usergroup), actor="admin")
    finally:
        records.close()


def test_the_ping_quotes_the_answers_first_lines_and_its_sources(start_bot, bot_service):
    bot = start_bot()
    call_helpers_in(bot, "CHELP", "S0HELP")
    root = bot.slack.add_user_message("CHELP", "U5", f"<@UBOT> {VACATION}")
    bot.send.event(mention("CHELP", "U5", VACATION, root))
    [answer] = wait_answers(bot.slack, "CHELP", 1)
    trace_id = trace_of(answer["blocks"])
    assert bot.send.click(blocks.ESCALATE, trace_id, user="U5", channel="CHELP", message=answer)
    [ping] = bot.slack.wait_for(
        lambda s: [c.args for c in s.of("chat.postMessage") if "subteam" in c.args["text"]]
    )

    text = ping["text"]
    assert ping["thread_ts"] == root and text.startswith("<!subteam^S0HELP> <@U5>")
    assert f">{VACATION}" in text
    answered = bot_service.get_trace(trace_id)["answer"]
    first_line = next(line for line in answered["text"].splitlines() if line.strip())
    assert "Needle answered:\n>" + to_mrkdwn(first_line.lstrip("> ")) in text
    assert "*Sources*\n*[1]* *Leave Policy* (leave-policy.md" in text


def test_the_ping_links_sources_and_shortens_a_long_answer():
    lines = [f"Line {n}: " + "word " * 100 for n in range(1, 7)]
    answer = Answer(
        question="How do I <claim> travel?\nAnd mileage?",
        text="\n\n".join(lines),
        kind="generated",
        citations=[
            Citation(1, "t", "Travel Policy", "travel.pdf", "https://hr.acme.example/travel", 2, 0, None)
        ],
        passages=[],
        trace_id="t1",
    )
    text = blocks.escalation_text("S0HELP", "U5", answer)
    assert ">How do I &lt;claim&gt; travel?\n>And mileage?" in text  # every line of the question quoted
    quoted = text.split("Needle answered:\n", 1)[1].split("\n*Sources*")[0].splitlines()
    assert [line[:8] for line in quoted] == [">Line 1:", ">Line 2:", ">Line 3:", ">Line 4:", ">..."]
    assert all(len(line) <= blocks.ESCALATION_LINE_CHARS + 1 for line in quoted)
    assert "*[1]* <https://hr.acme.example/travel|Travel Policy>" in text


def test_a_click_carrying_a_private_answers_trace_pings_with_the_question_alone(start_bot, bot_service):
    """Only answers built for everyone in the channel carry the button; should a click carry another
    answer's trace id (a DM's), the ping in the channel does not quote that private answer."""
    bot = start_bot()
    call_helpers_in(bot, "CHELP", "S0HELP")
    dm_reader = Viewer(user_id="U5", private=True)
    private = bot_service.ask(VACATION, origin="slack", user_id="U5", viewer=dm_reader)
    root = bot.slack.add_user_message("CHELP", "U5", "Anyone?")
    message = {"ts": root, "text": "Anyone?"}
    assert bot.send.click(blocks.ESCALATE, private.trace_id, user="U5", channel="CHELP", message=message)
    [ping] = bot.slack.wait_for(
        lambda s: [c.args for c in s.of("chat.postMessage") if "subteam" in c.args["text"]]
    )
    assert ping["text"].startswith("<!subteam^S0HELP> <@U5>") and f">{VACATION}" in ping["text"]
    assert "Needle answered" not in ping["text"] and "Sources" not in ping["text"]

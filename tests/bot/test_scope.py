"""Where and how often the bot answers: channel allow-list, per-channel tags, rate limit, admin debug link."""

from __future__ import annotations

from bot import messages
from tests.bot.slack_api import BOT_ID
from tests.bot.test_mentions import VACATION, all_text, mention, message


def answers(slack) -> list[dict]:
    return [
        c.args
        for c in slack.of("chat.update")
        if c.args["blocks"][-1]["type"] in ("actions", "context")
        and any(b["type"] == "actions" for b in c.args["blocks"])
    ]


def ask_in(bot, channel: str, user: str = "U1", question: str = VACATION) -> str:
    ts = bot.slack.add_user_message(channel, user, f"<@UBOT> {question}")
    assert bot.send.event(mention(channel, user, question, ts)).status_code == 200
    return ts


def test_allow_list_answers_only_in_listed_channels_and_dms(start_bot):
    bot = start_bot(slack_allowed_channels=["CALLOWED"])
    ts = ask_in(bot, "COTHER")
    notice = bot.slack.wait_for(lambda s: s.of("chat.postEphemeral"))[0].args
    assert (
        notice["text"] == messages.CHANNEL_NOT_ALLOWED
        and notice["user"] == "U1"
        and notice["thread_ts"] == ts
    )
    ask_in(bot, "CALLOWED")
    dm_ts = bot.slack.add_user_message("D9", "U1", VACATION)
    bot.send.event(message("D9", "U1", VACATION, dm_ts, channel_type="im"))
    bot.settle()
    assert sorted(c.args["channel"] for c in bot.slack.of("chat.postMessage")) == ["CALLOWED", "D9"]
    assert len(answers(bot.slack)) == 2


def test_channel_tags_limit_the_sources(start_bot):
    bot = start_bot(slack_channel_tags={"CIT": ["it"]})
    ask_in(bot, "CIT", question="Which port does the Acme Connect VPN use?")
    ask_in(bot, "CIT", user="U2")  # a leave question in the IT channel: leave-policy.md is tagged hr
    ask_in(bot, "CHR", user="U3")  # untagged channel: everything
    bot.settle()
    by_channel: dict[str, list[str]] = {}
    for update in answers(bot.slack):
        by_channel.setdefault(update["channel"], []).append(all_text(update["blocks"]))
    assert all("leave-policy.md" not in text for text in by_channel["CIT"])
    assert any("it-setup-guide.md" in text for text in by_channel["CIT"])
    assert "leave-policy.md" in by_channel["CHR"][0]


def test_rate_limit_is_per_user_with_a_friendly_notice(start_bot):
    bot = start_bot(slack_rate_limit_per_minute=2)
    for _ in range(3):
        ask_in(bot, "C1", user="U1")
    ask_in(bot, "C1", user="U2")
    bot.settle()
    assert len(bot.slack.of("chat.postMessage")) == 3  # two for U1, one for U2
    notices = bot.slack.of("chat.postEphemeral")
    assert [n.args["user"] for n in notices] == ["U1"]
    assert notices[0].args["text"] == messages.RATE_LIMITED.format(limit=2)
    # The slash command is acknowledged at once (nothing slow before the ack); the refusal replaces the
    # placeholder through the response URL.
    ack = bot.send.command(VACATION, user="U1")
    assert ack.json()["text"] == messages.PLACEHOLDER
    told = bot.slack.wait_for(lambda s: [c.args for c in s.of("response_url")])[0]
    assert told["text"] == messages.RATE_LIMITED.format(limit=2)
    assert told["replace_original"] in (True, "true")


def test_admins_get_a_debug_link_others_do_not(start_bot):
    bot = start_bot(
        slack_admin_user_ids=["UADMIN"], public_base_url="https://needle.example.com", admin_console=True
    )
    ask_in(bot, "C1", user="UADMIN")
    bot.settle()
    [answer] = answers(bot.slack)
    trace_id = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    assert "Debug this answer" not in all_text(answer["blocks"])  # the channel sees a clean answer
    [link] = bot.slack.of("chat.postEphemeral")
    assert link.args["user"] == "UADMIN"
    assert f"https://needle.example.com/admin/?trace={trace_id}|Debug this answer" in all_text(
        link.args["blocks"]
    )

    dm_ts = bot.slack.add_user_message("D2", "UADMIN", VACATION)
    bot.send.event(message("D2", "UADMIN", VACATION, dm_ts, channel_type="im"))
    bot.settle()
    dm_answer = next(a for a in answers(bot.slack) if a["channel"] == "D2")
    assert "Debug this answer" in all_text(dm_answer["blocks"])  # private: the link is in the answer

    ask_in(bot, "C1", user="U5")
    bot.settle()
    assert len(bot.slack.of("chat.postEphemeral")) == 1
    assert all(m.get("bot_id") == BOT_ID for m in bot.slack.messages["D2"].values() if m["ts"] != dm_ts)


def test_without_a_public_url_or_a_console_admins_get_the_trace_id(start_bot):
    """A link to a console this deployment does not serve, or to no known address, would lead nowhere."""
    for settings in ({}, {"public_base_url": "https://needle.example.com"}):
        bot = start_bot(slack_admin_user_ids=["UADMIN"], **settings)  # no admin console mounted
        ask_in(bot, "C1", user="UADMIN")
        bot.settle()
        [answer] = answers(bot.slack)
        trace_id = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][0]["value"]
        [hint] = bot.slack.of("chat.postEphemeral")
        assert hint.args["user"] == "UADMIN"
        text = all_text(hint.args["blocks"])
        assert f"`{trace_id}`" in text and "paste it into the admin console" in text
        assert "http" not in text and "Debug this answer" not in all_text(answer["blocks"])
        bot.slack.calls.clear()

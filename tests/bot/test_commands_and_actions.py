"""The slash command, "Share in channel", 👍/👎 feedback with its modal, and the App Home tab."""

from __future__ import annotations

import json
import time

from bot import blocks, messages
from tests.bot.slack_requests import event_envelope
from tests.bot.test_mentions import VACATION, all_text, bot_message_ts, final_answer, mention, message


def response_posts(slack, prefix: str = "/response/cmd-") -> list[dict]:
    return [c.args for c in slack.of("response_url") if c.args["_path"].startswith(prefix)]


def test_help_is_the_ack_itself(start_bot):
    bot = start_bot()
    response = bot.send.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["blocks"] == blocks.help_blocks("/needle")
    assert bot.send.command("").json()["blocks"] == body["blocks"]


def test_sources_lists_what_the_bot_knows(start_bot):
    bot = start_bot()
    assert bot.send.command("sources").status_code == 200
    listing = bot.slack.wait_for(lambda s: response_posts(s))[0]
    text = all_text(listing["blocks"])
    assert "I know 3 sources" in text
    assert "Leave Policy" in text and "leave-policy.md" in text and "tags: hr" in text


def test_question_is_answered_privately_and_can_be_shared(start_bot):
    bot = start_bot()
    started = time.monotonic()
    ack = bot.send.command(VACATION, user="U7", channel="C1")
    assert time.monotonic() - started < 1.0
    assert ack.json()["text"] == messages.PLACEHOLDER
    assert ack.json().get("response_type", "ephemeral") == "ephemeral"

    private = bot.slack.wait_for(lambda s: response_posts(s))[0]
    assert private["replace_original"] is True and private["response_type"] == "ephemeral"
    assert "25" in private["text"] and VACATION in all_text(private["blocks"])
    buttons = private["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["feedback_up", "feedback_down", "share_answer"]
    assert not bot.slack.of("chat.postMessage")  # nothing public yet

    bot.send.click("share_answer", buttons[2]["value"], user="U7", channel="C1")
    shared = bot.slack.wait_for(
        lambda s: len(response_posts(s, "/response/action-")) >= 2 and response_posts(s, "/response/action-")
    )
    assert shared[0]["delete_original"] is True
    public = shared[1]
    assert public["response_type"] == "in_channel"
    assert "<@U7> shared" in all_text(public["blocks"]) and "25" in public["text"]
    assert "share_answer" not in json.dumps(public["blocks"])


def test_thumbs_up_is_stored_with_the_trace_and_the_voter_is_told(start_bot, bot_service):
    bot = start_bot()
    ts = bot.slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    bot.send.event(mention("C1", "U1", VACATION, ts))
    answer_ts = bot_message_ts(bot.slack, "C1")
    answer = final_answer(bot.slack, "C1", answer_ts)
    trace_id = answer["blocks"][-1]["elements"][0]["value"]

    message = {"type": "message", "ts": answer_ts, "thread_ts": ts, "text": answer["text"]}
    assert bot.send.click("feedback_up", trace_id, user="U2", message=message).status_code == 200
    thanks = bot.slack.wait_for(lambda s: s.of("chat.postEphemeral"))[0]
    expected = {"channel": "C1", "user": "U2", "thread_ts": ts, "text": messages.VOTE_UP_RECORDED}
    assert {key: thanks.args[key] for key in expected} == expected
    feedback = bot_service.get_trace(trace_id)["feedback"]
    assert [(f["rating"], f["user_id"]) for f in feedback] == [("up", "U2")]


def submission(modal: dict, user: str, reason: str | None) -> dict:
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST"},
        "user": {"id": user},
        "api_app_id": "A0TEST",
        "trigger_id": "t",
        "view": {**modal, "id": "V0TEST", "state": {"values": values}},
    }


def test_thumbs_down_is_recorded_on_the_click_and_the_modal_only_adds_a_reason(start_bot, bot_service):
    bot = start_bot()
    bot.send.command(VACATION, user="U3")
    private = bot.slack.wait_for(lambda s: response_posts(s))[0]
    trace_id = private["blocks"][-1]["elements"][1]["value"]

    bot.send.click("feedback_down", trace_id, user="U3")
    modal = bot.slack.wait_for(lambda s: s.of("views.open"))[0].args["view"]
    assert modal["callback_id"] == blocks.FEEDBACK_VIEW
    assert not modal.get("notify_on_close")  # skipping or closing the modal changes nothing
    told = bot.slack.wait_for(lambda s: response_posts(s, "/response/action-"))[0]
    assert told["text"] == messages.VOTE_DOWN_RECORDED  # ephemeral answer: told through the response URL
    feedback = bot_service.get_trace(trace_id)["feedback"]
    assert [(f["rating"], f["reason"]) for f in feedback] == [("down", None)]

    response = bot.send.interaction(submission(modal, "U3", "It is 30 now"))
    assert response.status_code == 200 and response.json()["response_action"] == "update"
    feedback = bot_service.get_trace(trace_id)["feedback"]
    assert [(f["user_id"], f["rating"], f["reason"]) for f in feedback] == [("U3", "down", "It is 30 now")]

    # Sending the modal without a reason adds nothing to the vote already recorded.
    rows = len(bot_service.get_trace(trace_id)["feedback"])
    assert bot.send.interaction(submission(modal, "U3", None)).json()["response_action"] == "update"
    assert len(bot_service.get_trace(trace_id)["feedback"]) == rows


def test_app_home_shows_how_to_ask_and_what_is_known(start_bot, bot_service):
    bot = start_bot()
    event = {"type": "app_home_opened", "user": "U4", "channel": "D4", "tab": "home", "event_ts": "1.1"}
    assert bot.send.post(json.dumps(event_envelope(event)), "application/json").status_code == 200
    published = bot.slack.wait_for(lambda s: s.of("views.publish"))[0].args
    assert published["user_id"] == "U4"
    text = all_text(published["view"]["blocks"])
    stats = bot_service.stats()
    assert f"*{stats['sources']}* sources (*{stats['chunks']}* passages)" in text
    assert stats["last_updated"][:10] in text and "/needle" in text


def test_a_source_shows_one_date_in_the_app_home_the_sources_list_and_its_answers(start_bot, bot_service):
    """The travel policy's PDF says it was last modified on 2026-11-02; Needle indexed it today. Its
    answers, the App Home and ``/needle sources`` all give the document's date, and a file without one
    its index date, called "indexed", never "updated"."""
    bot = start_bot()
    indexed = {s.file_name: s.indexed_at[:10] for s in bot_service.list_sources()}
    assert indexed["travel-and-expenses-policy.pdf"] != "2026-11-02"  # so the two dates differ

    question = "What is the daily meal allowance on business trips?"
    ts = bot.slack.add_user_message("D9", "U9", question)
    bot.send.event(message("D9", "U9", question, ts, channel_type="im"))
    answer = final_answer(bot.slack, "D9", bot_message_ts(bot.slack, "D9"))
    assert "travel-and-expenses-policy.pdf" in all_text(answer["blocks"])
    cited = "(travel-and-expenses-policy.pdf"
    [line] = [line for line in all_text(answer["blocks"]).splitlines() if cited in line]
    assert line.endswith("· updated 2026-11-02")

    event = {"type": "app_home_opened", "user": "U9", "channel": "D9", "tab": "home", "event_ts": "1.1"}
    bot.send.post(json.dumps(event_envelope(event)), "application/json")
    bot.send.command("sources", user="U9", channel="D9")
    home = all_text(bot.slack.wait_for(lambda s: s.of("views.publish"))[0].args["view"]["blocks"])
    listing = all_text(bot.slack.wait_for(lambda s: response_posts(s))[0]["blocks"])
    for shown in (home, listing):
        assert "(travel-and-expenses-policy.pdf) · updated 2026-11-02" in shown
        assert f"(leave-policy.md) · indexed {indexed['leave-policy.md']}" in shown
        assert f"updated {indexed['travel-and-expenses-policy.pdf']}" not in shown

"""Needle as a Slack AI app: the status while it works, answers streamed with Slack's streaming methods,
the fallback to ``chat.update`` when a workspace refuses them (decided once), and the assistant view.

The real Bolt app over signed HTTP (and Socket Mode) against the local Slack stand-in with the AI-app
methods on (``ai_slack``); the LLM is the real Haystack generator talking to the local TGI server.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot import blocks, messages
from tests.bot.conftest import ingest_bot_files, slack_overrides
from tests.bot.replies import finished_answers, text_of, trace_of, wait_answers
from tests.bot.slack_api import TEAM_ID, WORKSPACE_URL, slack_api_server
from tests.bot.slack_requests import event_envelope, mention, message
from tests.bot.socket_server import socket_mode_server
from tests.bot.test_mentions import VACATION
from tests.support import fake_tgi

REPLY = " ".join(["Full-time employees get 25 vacation days per calendar year [1]."] * 6)


@pytest.fixture
def llm(service_factory) -> Iterator[tuple]:
    """A service answering with the LLM (one leave-policy source), streaming a word every 20 ms."""
    with fake_tgi.fake_tgi_server() as (url, state):
        state.reply = lambda messages: REPLY
        state.token_delay_seconds = 0.02
        service = service_factory(llm_api="tgi", llm_url=url, llm_timeout_seconds=2)
        ingest_bot_files(service, {"leave-policy.md": ["hr"]})
        yield service, state


def ask(bot, channel: str = "C1", user: str = "U1", question: str = VACATION) -> str:
    ts = bot.slack.add_user_message(channel, user, f"<@UBOT> {question}")
    assert bot.send.event(mention(channel, user, question, ts)).status_code == 200
    return ts


def test_a_mention_shows_the_status_then_streams_its_answer_in_the_thread(start_ai_bot, llm):
    service, _ = llm
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    ts = ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()

    [status] = bot.slack.of("assistant.threads.setStatus")
    assert status.args["channel_id"] == "C1" and status.args["thread_ts"] == ts
    assert status.args["status"] == "is searching 1 source..."
    assert "Writing the answer..." in status.args["loading_messages"]
    [start] = bot.slack.of("chat.startStream")
    assert start.args["thread_ts"] == ts
    assert (start.args["recipient_user_id"], start.args["recipient_team_id"]) == ("U1", TEAM_ID)
    assert start.at > status.at and start.args["markdown_text"].startswith("Full-time")
    appends = bot.slack.of("chat.appendStream")
    assert len(appends) >= 2  # the text grew in front of the reader...
    assert len(appends) <= len(REPLY.split()) * 0.02 / 0.2 + 2  # ...at most once per interval
    assert all(b.at - a.at >= 0.15 for a, b in itertools.pairwise(appends))
    [stop] = bot.slack.of("chat.stopStream")
    assert stop.args["ts"] == answer["ts"] == start.response["ts"]

    # The streamed text is the answer; the stop put the sources and Slack's feedback buttons under it.
    assert answer["text"] == REPLY and answer["thread_ts"] == ts
    assert "Leave Policy" in text_of(answer["blocks"])
    assert [b["type"] for b in answer["blocks"]][-1] == "context_actions"
    assert service.get_trace(trace_of(answer["blocks"]))["user_id"] == "U1"
    assert not bot.slack.of("chat.update") and len(bot.slack.bot_messages("C1")) == 1


def test_an_extract_is_posted_whole_under_the_status(start_ai_bot):
    """Without an LLM there is nothing to stream: the status shows the work, the answer comes in one go."""
    bot = start_ai_bot()
    ts = ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    assert bot.slack.of("assistant.threads.setStatus")[0].args["status"] == "is searching 3 sources..."
    [posted] = bot.slack.of("chat.postMessage")
    assert posted.args["thread_ts"] == ts and "25" in answer["text"]
    assert answer["blocks"] == posted.args["blocks"] and "Leave Policy" in text_of(answer["blocks"])
    assert not [c for c in bot.slack.calls if c.method.startswith("chat.") and "Stream" in c.method]


def test_the_status_counts_the_sources_the_channel_answers_from(start_ai_bot):
    bot = start_ai_bot(slack_channel_tags={"CIT": ["it"]})
    ask(bot, "CIT", question="Which port does the Acme Connect VPN use?")
    wait_answers(bot.slack, "CIT", 1)
    assert bot.slack.of("assistant.threads.setStatus")[0].args["status"] == "is searching 1 source..."


def test_a_direct_message_streams_in_the_questions_thread(start_ai_bot, llm):
    service, _ = llm
    bot = start_ai_bot(service=service)
    ts = bot.slack.add_user_message("D1", "U1", VACATION)
    bot.send.event(message("D1", "U1", VACATION, ts, channel_type="im"))
    [answer] = wait_answers(bot.slack, "D1", 1)
    [start] = bot.slack.of("chat.startStream")
    assert start.args["channel"] == "D1" and start.args["thread_ts"] == ts == answer["thread_ts"]
    assert answer["text"] == REPLY


def test_a_workspace_that_refuses_streaming_gets_updates_decided_once(start_ai_bot, llm, caplog):
    service, _ = llm
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    bot.slack.failures["chat.startStream"] = "feature_not_enabled"
    first = ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    # The refused start hands over to the update path at once: the text so far is posted, then edited.
    [posted] = bot.slack.of("chat.postMessage")
    assert posted.args["thread_ts"] == first and posted.args["text"].startswith("Full-time")
    assert answer["ts"] == posted.response["ts"] and answer["text"] == REPLY
    assert bot.slack.of("chat.update")[-1].args["ts"] == answer["ts"]
    assert [b["type"] for b in answer["blocks"]][-1] == "actions"  # classic buttons, as such workspaces had

    second = ask(bot, user="U2")
    wait_answers(bot.slack, "C1", 2)
    bot.settle()
    placeholder = bot.slack.of("chat.postMessage")[1]
    assert placeholder.args == {**placeholder.args, "thread_ts": second, "text": messages.PLACEHOLDER}
    assert len(bot.slack.of("chat.startStream")) == 1  # not asked again: the refusal was remembered
    assert len(bot.slack.of("assistant.threads.setStatus")) == 1
    assert caplog.text.count("Slack refused streaming (feature_not_enabled)") == 1


def test_a_passing_failure_is_not_remembered(start_ai_bot, llm):
    """An outage on Slack's side falls back for that answer only; the next one streams again."""
    service, _ = llm
    bot = start_ai_bot(service=service)
    bot.slack.failures["chat.startStream"] = "internal_error"
    ask(bot)
    wait_answers(bot.slack, "C1", 1)
    bot.settle()
    del bot.slack.failures["chat.startStream"]
    ask(bot, user="U2")
    answers = wait_answers(bot.slack, "C1", 2)
    assert len(bot.slack.of("chat.startStream")) == 2
    assert answers[1]["ts"] == bot.slack.of("chat.startStream")[1].response["ts"]


def test_a_stream_cut_off_by_the_llm_becomes_the_extract_in_one_edit(start_ai_bot, llm):
    """The streamed words are not the final answer: the finished message says what happened instead."""
    service, state = llm
    state.mode, state.delay_seconds = "stall_stream", 5
    bot = start_ai_bot(service=service)
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    assert answer["text"].startswith("The language model did not answer within 2 seconds")
    assert "25 vacation days" in answer["text"] and trace_of(answer["blocks"])
    if bot.slack.of("chat.startStream"):  # the stream was stopped before the edit that finished it
        assert bot.slack.of("chat.stopStream")[0].at < bot.slack.of("chat.update")[-1].at


def test_feedback_buttons_count_once_per_user(start_ai_bot, bot_service):
    bot = start_ai_bot()
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    trace_id = trace_of(answer["blocks"])

    def click(user: str, rating: str) -> None:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A0TEST",
            "trigger_id": f"trigger-{user}-{rating}",
            "channel": {"id": "C1"},
            "container": {"type": "message", "channel_id": "C1", "message_ts": answer["ts"]},
            "message": {"ts": answer["ts"], "thread_ts": answer["thread_ts"], "text": answer["text"]},
            "response_url": f"{bot.slack.url}/response/fb",
            "actions": [
                {
                    "type": "feedback_buttons",
                    "action_id": blocks.FEEDBACK,
                    "block_id": f"feedback:{trace_id}",
                    "value": f"{rating}:{trace_id}",
                }
            ],
        }
        assert bot.send.interaction(payload).status_code == 200

    click("U2", "up")
    click("U2", "up")
    click("U3", "up")
    bot.settle()
    rows = bot_service.get_trace(trace_id)["feedback"]
    assert sorted((r["user_id"], r["rating"]) for r in rows) == [("U2", "up"), ("U3", "up")]
    told = [c.args["text"] for c in bot.slack.of("chat.postEphemeral")]
    assert told == [messages.VOTE_UP_RECORDED, messages.VOTE_UNCHANGED, messages.VOTE_UP_RECORDED]

    click("U2", "down")  # the latest vote wins, and the reason is asked for
    modal = bot.slack.wait_for(lambda s: s.of("views.open"))[0].args["view"]
    assert json.loads(modal["private_metadata"])["trace_id"] == trace_id
    rows = bot_service.get_trace(trace_id)["feedback"]  # one row per user: the latest vote replaced
    assert sorted((row["user_id"], row["rating"]) for row in rows) == [("U2", "down"), ("U3", "up")]


def test_a_changed_vote_replaces_the_stored_one(bot_service):
    from bot.votes import record_vote

    trace_id = bot_service.ask(VACATION, origin="slack", user_id="U1").trace_id
    record_vote(bot_service, trace_id, "U9", "up")
    record_vote(bot_service, trace_id, "U9", "down")
    assert [r["rating"] for r in bot_service.get_trace(trace_id)["feedback"]] == ["down"]


def assistant_event(kind: str, channel: str = "D7", thread_ts: str = "1700000000.000100") -> dict:
    return {
        "type": kind,
        "assistant_thread": {
            "user_id": "U7",
            "context": {"channel_id": "C1", "team_id": TEAM_ID, "enterprise_id": None},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": "1700000000.000200",
    }


def test_an_assistant_thread_gets_prompts_a_title_the_status_and_the_answer(start_ai_bot, bot_service):
    bot = start_ai_bot()
    thread = "1700000000.000100"
    bot.slack.add_user_message("D7", "U7", "", thread_ts=None)  # the thread's root, as Slack makes it
    assert bot.send.event(assistant_event("assistant_thread_started")).status_code == 200
    prompts = bot.slack.wait_for(lambda s: s.of("assistant.threads.setSuggestedPrompts"))[0].args
    titles = [source.title for source in bot_service.list_sources()]
    assert prompts["channel_id"] == "D7" and prompts["thread_ts"] == thread
    assert [p["message"] for p in prompts["prompts"]] == [f'What does "{t}" say?' for t in titles]
    greeting = bot.slack.wait_for(lambda s: s.of("chat.postMessage"))[0].args
    assert greeting["thread_ts"] == thread and greeting["text"] == messages.ASSISTANT_GREETING

    # Slack tells the app which channel the user looks at; Needle does not store it (no message edit).
    assert bot.send.event(assistant_event("assistant_thread_context_changed")).status_code == 200

    for question in (VACATION, "And how many can I carry over?"):
        ts = bot.slack.add_user_message("D7", "U7", question, thread_ts=thread)
        event = message("D7", "U7", question, ts, thread_ts=thread, channel_type="im")
        assert bot.send.event(event).status_code == 200
        bot.settle()
    [title] = bot.slack.of("assistant.threads.setTitle")  # from the first question only
    assert title.args == {**title.args, "channel_id": "D7", "thread_ts": thread, "title": VACATION}
    statuses = bot.slack.of("assistant.threads.setStatus")
    assert [s.args["thread_ts"] for s in statuses] == [thread, thread]
    answers = finished_answers(bot.slack, "D7")
    assert [a["thread_ts"] for a in answers] == [thread, thread] and "25" in answers[0]["text"]
    # The same answer path as mentions and DMs: the second question is a follow-up with the thread as history.
    trace = bot_service.get_trace(trace_of(answers[1]["blocks"]))
    assert trace["history"][0] == {"role": "user", "text": VACATION}
    assert all(turn["text"] != messages.ASSISTANT_GREETING for turn in trace["history"])
    assert not bot.slack.of("chat.update")


def test_configured_prompts_replace_the_drawn_ones(start_ai_bot):
    bot = start_ai_bot(slack_suggested_prompts=["How do I set up the VPN?"])
    bot.send.event(assistant_event("assistant_thread_started"))
    prompts = bot.slack.wait_for(lambda s: s.of("assistant.threads.setSuggestedPrompts"))[0].args["prompts"]
    assert prompts == [{"title": "How do I set up the VPN?", "message": "How do I set up the VPN?"}]


def test_app_home_lists_the_sources_and_the_users_last_questions(start_ai_bot, bot_service):
    bot = start_ai_bot()
    mine = ask(bot, user="U4")
    ask(bot, "C2", user="U5", question="Which port does the Acme Connect VPN use?")
    wait_answers(bot.slack, "C1", 1)
    wait_answers(bot.slack, "C2", 1)
    event = {"type": "app_home_opened", "user": "U4", "channel": "D4", "tab": "home", "event_ts": "1.1"}
    assert bot.send.post(json.dumps(event_envelope(event)), "application/json").status_code == 200
    view = bot.slack.wait_for(lambda s: s.of("views.publish"))[0].args["view"]
    text = text_of(view["blocks"])
    link = f"{WORKSPACE_URL}archives/C1/p{mine.replace('.', '')}"
    assert f"<{link}|{VACATION}>" in text  # the user's question, linked to its thread
    assert "VPN" not in text.split("*What I can answer from*")[0]  # not someone else's question
    for source in bot_service.list_sources():
        assert f"*{source.title}* ({source.file_name}) · {source.date_label}" in text


def test_socket_mode_streams_a_mention(service_factory):
    from bot.face import mount
    from pipelines.app.server import create_app

    with (
        socket_mode_server() as socket,
        slack_api_server(ai_apps=True) as slack,
        fake_tgi.fake_tgi_server() as (url, state),
    ):
        state.reply = lambda messages: REPLY
        slack.socket_url = socket.url
        service = service_factory(
            llm_api="tgi",
            llm_url=url,
            **slack_overrides(slack, slack_mode="socket", slack_signing_secret=None),
        )
        ingest_bot_files(service, {"leave-policy.md": []})
        app = create_app(service)
        mount(app, service)
        with TestClient(app):  # starting the server connects to Socket Mode
            assert socket.connected.wait(10)
            ts = slack.add_user_message("C1", "U1", VACATION)
            socket.send("events_api", event_envelope(mention("C1", "U1", VACATION, ts)), "env-1")
            assert socket.wait_ack("env-1")[1] == {"envelope_id": "env-1"}
            [answer] = wait_answers(slack, "C1", 1)
            assert slack.of("assistant.threads.setStatus")[0].args["thread_ts"] == ts
            assert slack.of("chat.startStream")[0].args["thread_ts"] == ts and answer["text"] == REPLY
            app.state.slack_runtime.wait_idle(30)


def test_the_ack_never_waits_for_slack_calls(start_ai_bot):
    """Slack's status call is held (a slow Slack): the mention and the slash command are still
    acknowledged, so nothing waits for Slack before the ack; the answer follows once Slack answers."""
    bot = start_ai_bot()
    gate = threading.Event()
    bot.slack.held["assistant.threads.setStatus"] = gate
    ts = bot.slack.add_user_message("CHELD", "U1", f"<@UBOT> {VACATION}")
    assert bot.send.event(mention("CHELD", "U1", VACATION, ts)).status_code == 200
    assert bot.send.command(VACATION, user="U1", channel="CHELD").json()["text"] == messages.PLACEHOLDER
    bot.slack.wait_for(lambda s: s.of("assistant.threads.setStatus"))  # the status call is waiting now
    assert not finished_answers(bot.slack, "CHELD")
    gate.set()
    wait_answers(bot.slack, "CHELD", 1)
    bot.slack.wait_for(lambda s: [c for c in s.of("response_url") if trace_of(c.args.get("blocks") or [])])

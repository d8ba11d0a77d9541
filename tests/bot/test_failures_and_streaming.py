"""Streamed answers through a real LLM client, and what employees are told when the LLM or store fails.

The LLM is the real ``HuggingFaceAPIChatGenerator`` talking to the local TGI-protocol server in
``tests/support/fake_tgi.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bot import messages
from tests.bot.conftest import ingest_bot_files
from tests.bot.test_mentions import VACATION, all_text, bot_message_ts, final_answer, mention
from tests.support import fake_tgi

REPLY = " ".join(["Full-time employees get 25 vacation days per calendar year [1]."] * 6)


@pytest.fixture
def llm(service_factory) -> Iterator[tuple]:
    with fake_tgi.fake_tgi_server() as (url, state):
        state.reply = lambda messages: REPLY
        service = service_factory(llm_api="tgi", llm_url=url, llm_timeout_seconds=2)
        ingest_bot_files(service, {"leave-policy.md": ["hr"]})
        yield service, state


def test_streamed_answer_updates_the_placeholder_at_a_throttled_rate(start_bot, llm):
    service, state = llm
    state.token_delay_seconds = 0.03  # one word every 30 ms, as a real model streams
    bot = start_bot(service=service, slack_stream_update_seconds=0.3)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    answer = final_answer(bot.slack, "C1", bot_message_ts(bot.slack, "C1"))
    assert answer["text"].startswith("Full-time employees get 25 vacation days")
    assert "Leave Policy" in all_text(answer["blocks"])

    updates = bot.slack.of("chat.update")
    partial = [u.args["text"] for u in updates[:-1]]
    assert len(partial) >= 2  # the answer grew in front of the user...
    words = len(REPLY.split())
    assert len(partial) <= (words * 0.03) / 0.3 + 2  # ...but not one edit per token
    for earlier, later in itertools.pairwise(partial):
        assert len(later) > len(earlier)
    gaps = [b.at - a.at for a, b in itertools.pairwise(updates[:-1])]
    assert all(gap >= 0.25 for gap in gaps)


def test_llm_error_gives_the_extract_and_one_plain_sentence(start_bot, llm):
    service, state = llm
    state.mode = "error"
    bot = start_bot(service=service)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    answer = final_answer(bot.slack, "C1", bot_message_ts(bot.slack, "C1"))
    assert answer["text"].startswith(
        "The language model service returned an error (HTTP 503), so here is an extract instead."
    )
    assert "25 vacation days" in answer["text"]
    assert "overloaded" not in answer["text"].lower() and "Traceback" not in answer["text"]


def test_llm_that_stalls_is_cut_off_with_a_plain_sentence(start_bot, llm):
    service, state = llm
    state.mode, state.delay_seconds = "stall_stream", 5
    bot = start_bot(service=service)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    answer = final_answer(bot.slack, "C1", bot_message_ts(bot.slack, "C1"))
    assert answer["text"].startswith("The language model did not answer within 2 seconds")
    assert "25 vacation days" in answer["text"]


def test_store_failure_is_told_in_one_sentence(start_bot, service_factory, monkeypatch, caplog):
    service = service_factory()
    ingest_bot_files(service, {"leave-policy.md": []})

    def unreachable(*args, **kwargs):  # what the store's client raises when its server is gone
        raise ConnectionError("Connection refused: 127.0.0.1:9200")

    monkeypatch.setattr(service.store, "bm25_retrieval", unreachable)
    bot = start_bot(service=service)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    bot.settle()
    [update] = bot.slack.of("chat.update")
    assert update.args["text"] == messages.STORE_DOWN
    assert "Connection refused" not in str(update.args)
    assert "store unavailable" in caplog.text

    bot.send.command(VACATION)
    reply = bot.slack.wait_for(lambda s: s.of("response_url"))[0].args
    assert reply["text"] == messages.STORE_DOWN

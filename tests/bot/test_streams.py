"""What the bot streams or posts can neither notify anyone nor disguise a link, however the text is cut.

Slack joins the pieces of a stream (``chat.startStream`` / ``appendStream`` / ``stopStream``) into one
message, so a piece ending in ``<`` and the next starting with ``!channel>`` make a live mention unless
the escaping runs on the text as accumulated. Every split point of every special sequence is sent through
the real :class:`~bot.writers.StreamWriter` to the local Slack stand-in (which joins the pieces as Slack
does); the whole path, from the real LLM client streaming one character per token through the real Bolt
app over signed HTTP, is checked on an answer holding all of them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.features import STREAMING, SlackFeatures
from bot.mrkdwn import StreamedMarkdown, link, quoted_link, safe_markdown, shown_label, to_mrkdwn
from bot.writers import FinalReply, StreamWriter
from pipelines.service.facade import NeedleService
from pipelines.stores.records import SqliteRecordStore
from tests.bot.conftest import ingest_bot_files
from tests.bot.replies import text_of, wait_answers
from tests.bot.slack_api import BOT_TOKEN, SlackState, slack_api_server
from tests.bot.slack_requests import mention
from tests.bot.test_mentions import VACATION
from tests.conftest import make_settings
from tests.support import fake_tgi

ZWSP = "\u200b"
#: What Slack acts on in streamed Markdown: a mention or link opened by ``<``, an entity it could decode
#: into ``<``, and Markdown link syntax (an inline link, a link definition).
LIVE = re.compile(r"<[!@#]|<[a-z][a-z0-9+.-]*:|&#?[A-Za-z0-9]+;|\]\(|\]:")
SPECIAL = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0ADMIN>",
    "<#C0GENERAL>",
    "<!subteam^S0HELP>",
    "<!subteam^S0HELP|helpers>",
    "&lt;!channel&gt;",
    "&#60;!here&#62;",
    "&amp;",
    "<https://evil.example|click here>",
]
DISGUISED = "[https://intranet.acme.example/recall](https://evil.example/phish)"


def live(text: str) -> list[str]:
    return LIVE.findall(text)


@pytest.fixture(scope="module")
def stream_to(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """``stream_to(pieces, final)``: one answer streamed by the real writer to the Slack stand-in, each
    piece appended on its own (no throttle); returns the message as Slack holds it."""
    with slack_api_server(ai_apps=True) as slack:
        client = WebClient(token=BOT_TOKEN, base_url=f"{slack.url}/api/")
        records = SqliteRecordStore(tmp_path_factory.mktemp("records") / "records.sqlite3")
        features = SlackFeatures(records)

        def stream(pieces: list[str], final: str) -> dict:
            writer = StreamWriter(
                client,
                features,
                channel="C1",
                thread_ts="1700000000.000100",
                recipient_user_id="U1",
                recipient_team_id="T0TEST",
                interval=0.0,
            )
            for piece in pieces:
                writer.on_text(piece)
            assert writer.finish(FinalReply(final, [], [], markdown=final))
            assert writer.ts is not None and not writer.fell_back
            return slack.messages["C1"][writer.ts]

        yield stream
        records.close()


@pytest.mark.parametrize("sequence", [*SPECIAL, DISGUISED])
def test_every_split_point_of_a_special_sequence_is_defused_in_the_streamed_message(stream_to, sequence):
    text = f"Full-time employees get 25 days [1]. Please notify {sequence} today & tomorrow."
    start = text.index(sequence)
    for cut in range(start, start + len(sequence) + 1):
        message = stream_to([text[:cut], text[cut:]], text)
        assert not live(message["text"]), (cut, message["text"])
        assert message["text"] == safe_markdown(text)  # the same whichever way the text was cut


def test_one_character_at_a_time_gives_the_same_safe_text():
    text = (
        "Notify " + " and ".join(SPECIAL) + f" and see {DISGUISED}, [1] and [the page](https://x.example/a)."
    )
    streamed = StreamedMarkdown()
    sent = "".join(streamed.add(char) for char in text) + streamed.finish()
    assert sent == safe_markdown(text) and not live(sent)
    visible = sent.replace(ZWSP, "")
    assert visible.startswith("Notify <!channel> and <!here>")  # the reader sees the characters as written
    assert "see https://evil.example/phish, [1] and the page (https://x.example/a)." in visible


class TestLinks:
    """A link from a document or the model shows its real target; a URL is never a link's label."""

    def test_a_label_that_is_a_url_or_a_host_is_not_shown(self):
        for label in (
            "https://intranet.acme.example/recall",
            "intranet.acme.example/recall",
            "www.acme.example",
            "**paypal.com**",
            "Recall notice at https://intranet.acme.example",
            "https\u200b://intranet.acme.example/recall",  # looks the same to the reader
            "ｈｔｔｐｓ：／／intranet.acme.example",  # full-width
        ):
            assert shown_label(label) is None, label
        assert shown_label("the recall page") == "the recall page"

    def test_mrkdwn_of_a_document_shows_the_target(self):
        assert to_mrkdwn(f"Notice: {DISGUISED}.") == "Notice: <https://evil.example/phish>."
        assert to_mrkdwn("[the page](https://x.example/a)") == "the page (<https://x.example/a>)"
        assert to_mrkdwn("<https://evil.example|click here>") == "&lt;https://evil.example|click here&gt;"
        assert quoted_link("https://x.example/a|b>", "page") == "page (<https://x.example/a%7Cb%3E>)"

    def test_the_bots_own_links_keep_a_title_but_never_a_url_as_title(self):
        assert link("https://hr.example/leave", "Leave Policy") == "<https://hr.example/leave|Leave Policy>"
        assert link("https://evil.example/phish", "https://intranet.acme.example/recall") == (
            "<https://evil.example/phish>"
        )


REPLY = (
    "Full-time employees get 25 vacation days per calendar year [1]. Ask "
    + ", ".join(SPECIAL)
    + f" or 1 < 2 > 0. The recall notice is at {DISGUISED}."
)


RECALL = (
    "Product recall. The recall notice for the X200 kettle is at "
    "[https://intranet.acme.example/recall](https://evil.example/phish). "
    "Employees must return their X200 kettle by Friday.\n"
)


@pytest.fixture(scope="module")
def llm_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A service answering with the LLM, over the leave policy and a plain-text recall notice whose
    Markdown link is disguised (a ``.txt`` keeps the link syntax as written)."""
    with fake_tgi.fake_tgi_server() as (url, state):
        data_dir = tmp_path_factory.mktemp("llm")
        service = NeedleService(make_settings(data_dir, llm_api="tgi", llm_url=url, llm_timeout_seconds=5))
        ingest_bot_files(service, {"leave-policy.md": []})
        assert service.ingest_bytes("recall-notice.txt", RECALL.encode()).status == "indexed"
        yield service, state
        service.close()


@pytest.fixture
def llm(llm_service: tuple) -> Iterator[tuple[NeedleService, fake_tgi.FakeTGIState]]:
    """The module's service, its LLM stand-in back to answering normally after each test."""
    service, state = llm_service
    yield service, state
    state.mode, state.tokens, state.token_delay_seconds = "ok", None, 0.0
    state.reply = lambda messages: "I could not find this in the documents."


def test_a_disguised_link_in_a_document_shows_its_real_target(start_ai_bot, llm):
    """The extract quotes the document as written; its link's label, a URL, is not shown as the label."""
    service, state = llm
    state.mode = "error"  # the LLM fails: the answer is the extract
    bot = start_ai_bot(service=service)
    question = "Where is the recall notice for the X200 kettle?"
    ts = bot.slack.add_user_message("C1", "U1", question)
    bot.send.event(mention("C1", "U1", question, ts))
    [answer] = wait_answers(bot.slack, "C1", 1)
    shown = answer["text"] + "\n" + text_of(answer["blocks"])
    assert "<https://evil.example/phish>" in shown
    assert not re.search(r"<[^>|]*\|[^>]*intranet", shown)  # no link labelled with the intranet URL


def streamed_text(slack: SlackState) -> str:
    """Everything the bot streamed, joined as Slack joins it."""
    methods = ("chat.startStream", "chat.appendStream", "chat.stopStream")
    calls = [c for c in slack.calls if c.method in methods]
    return "".join(c.args.get("markdown_text") or "" for c in calls)


def test_an_answer_streamed_a_character_at_a_time_notifies_nobody(start_ai_bot, llm):
    service, state = llm
    state.reply, state.tokens, state.token_delay_seconds = (lambda messages: REPLY), list, 0.001
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.05)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    assert len(bot.slack.of("chat.appendStream")) >= 3  # streamed, in many pieces
    sent = streamed_text(bot.slack)
    assert not live(sent) and sent == safe_markdown(REPLY)
    assert sent.replace(ZWSP, "").endswith("The recall notice is at https://evil.example/phish.")
    # The message as it ends up (the stream, or the edit that replaced it) notifies nobody either, and
    # links to the real target only.
    shown = answer["text"] + "\n" + text_of(answer["blocks"])
    assert not re.search(r"<[!#]|<@U0ADMIN", shown) and "|https://intranet" not in shown


def test_a_token_boundary_inside_a_mention_does_not_rebuild_it(start_ai_bot, llm):
    """The reported case: the pieces ``...notify <`` and ``!channel> and <`` each appended on their own."""
    pieces = [
        "Full-time employees get 25 vacation days [1]. Please notify <",
        "!channel> and <",
        "@U0ADMIN> today.",
    ]
    service, state = llm
    state.reply, state.tokens = (lambda messages: "".join(pieces)), (lambda text: pieces)
    state.token_delay_seconds = 0.15  # each piece arrives after the append interval: its own append
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.05)
    ts = bot.slack.add_user_message("C1", "U1", VACATION)
    bot.send.event(mention("C1", "U1", VACATION, ts))
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    assert len(bot.slack.of("chat.appendStream")) >= 1
    sent = streamed_text(bot.slack)
    assert not live(sent) and not live(answer["text"])
    assert sent.replace(ZWSP, "") == "".join(pieces)


# Slack refusing streaming part-way, or failing for a moment.

WORDS = " ".join(["Full-time employees get 25 vacation days per calendar year [1]."] * 6)


def ask(bot, user: str = "U1") -> str:
    ts = bot.slack.add_user_message("C1", user, VACATION)
    assert bot.send.event(mention("C1", user, VACATION, ts)).status_code == 200
    return ts


def test_streaming_refused_mid_answer_is_recorded_and_the_answer_goes_on_by_edits(start_ai_bot, llm, caplog):
    service, state = llm
    state.reply, state.token_delay_seconds = (lambda messages: WORDS), 0.02
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    bot.slack.failures["chat.appendStream"] = "not_allowed"
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    [start] = bot.slack.of("chat.startStream")
    assert len(bot.slack.of("chat.appendStream")) == 1  # refused once: not tried again on every token
    assert bot.runtime.features.refused_because(STREAMING) == "not_allowed"
    assert caplog.text.count("Slack refused streaming (not_allowed)") == 1
    # The stream is ended and its message edited from then on, each edit with the whole text so far.
    [stop] = bot.slack.of("chat.stopStream")
    updates = bot.slack.of("chat.update")
    assert stop.args["ts"] == start.response["ts"] and stop.at < updates[0].at
    assert {u.args["ts"] for u in updates} == {start.response["ts"]} == {answer["ts"]}
    assert len(updates) >= 3 and all(u.args["text"].startswith("Full-time") for u in updates)
    assert all(b.at - a.at >= 0.15 for a, b in itertools.pairwise(updates[:-1]))
    assert answer["text"] == WORDS and [b["type"] for b in answer["blocks"]][-1] == "actions"


def test_a_passing_append_failure_is_retried_once_per_interval_not_per_token(start_ai_bot, llm):
    service, state = llm
    state.reply, state.token_delay_seconds = (lambda messages: WORDS), 0.02
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    bot.slack.failures["chat.appendStream"] = "internal_error"
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    appends = bot.slack.of("chat.appendStream")
    assert len(appends) >= 2 and all(b.at - a.at >= 0.15 for a, b in itertools.pairwise(appends))
    assert bot.runtime.features.offered(STREAMING)  # an outage is not a refusal
    assert answer["text"] == WORDS and not bot.slack.of("chat.update")  # the stop brought the held text


def test_a_refused_start_keeps_the_first_words_in_every_edit_and_notifies_nobody(start_ai_bot, llm):
    service, state = llm
    reply = WORDS + " Tell <!channel> and <@U0ADMIN>."
    state.reply, state.token_delay_seconds = (lambda messages: reply), 0.02
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    bot.slack.failures["chat.startStream"] = "feature_not_enabled"
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    assert bot.slack.of("assistant.threads.setStatus")  # the status was accepted, streaming was not
    [posted] = bot.slack.of("chat.postMessage")
    updates = bot.slack.of("chat.update")
    assert len(updates) >= 3 and all(u.args["text"].startswith("Full-time") for u in updates)
    interim = [u.args["text"] for u in updates[:-1]]
    assert all(len(b) > len(a) for a, b in itertools.pairwise(interim))
    # The fallback's plain text is mrkdwn like its blocks: Slack would notify from a raw <!channel> there.
    for call in [posted, *updates]:
        assert not re.search(r"<[!@#]", call.args["text"] + text_of(call.args["blocks"]))
    assert answer["ts"] == posted.response["ts"]


def test_when_slack_will_not_even_end_a_refused_stream_the_answer_is_posted_anew(start_ai_bot, llm):
    service, state = llm
    state.reply, state.token_delay_seconds = (lambda messages: WORDS), 0.02
    bot = start_ai_bot(service=service, slack_stream_update_seconds=0.2)
    bot.slack.failures["chat.appendStream"] = bot.slack.failures["chat.stopStream"] = "not_allowed"
    ask(bot)
    [answer] = wait_answers(bot.slack, "C1", 1)
    bot.settle()
    [posted] = bot.slack.of("chat.postMessage")
    assert posted.args["text"].startswith("Full-time") and answer["ts"] == posted.response["ts"]
    assert answer["text"] == WORDS and len(bot.slack.of("chat.appendStream")) == 1

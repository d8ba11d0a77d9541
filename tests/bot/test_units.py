"""Pure parts of the bot: mrkdwn conversion, Block Kit builders, dedup memory, rate limit, thread history,
the status line's source counts, the assistant middleware's gate."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading

import pytest

from bot import blocks, messages, runtime
from bot.app import SDK_LOGGER, quiet_sdk_debug
from bot.history import history_from_replies
from bot.mrkdwn import escape, split_for_blocks, to_mrkdwn
from pipelines.records.answers import Answer, Citation, SourceInfo
from pipelines.records.audience import Viewer
from pipelines.records.source_changes import SourceChanges, SourceListing
from pipelines.stores.records import SqliteRecordStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def citation(number: int, **overrides) -> Citation:
    values = {
        "number": number,
        "source_id": "leave",
        "title": "Leave <Policy>",
        "file_name": "leave-policy.pdf",
        "url": None,
        "page": 3,
        "chunk_index": 0,
        "indexed_at": "2026-11-20T10:00:00+00:00",
        "pages": [3],
    }
    return Citation(**{**values, **overrides})


def answer(**overrides) -> Answer:
    values = {
        "question": "How many <vacation> days?",
        "text": "You get **25 days** [1]. See [the wiki](https://wiki.example.com/leave).",
        "kind": "generated",
        "citations": [citation(1), citation(2, url="https://hr.example.com/leave", title="HR site")],
        "passages": [],
        "trace_id": "trace-1",
    }
    return Answer(**{**values, **overrides})


class TestMrkdwn:
    @pytest.mark.parametrize(
        ("markdown", "expected"),
        [
            ("**bold** and __bold__", "*bold* and *bold*"),
            ("*italic*", "_italic_"),
            ("~~gone~~", "~gone~"),
            ("[docs](https://x.example/a?b=1)", "docs (<https://x.example/a?b=1>)"),
            ("[https://a.example](https://b.example)", "<https://b.example>"),
            ("## Heading", "*Heading*"),
            ("- one\n* two", "• one\n• two"),
            ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
            ("<!channel> hi", "&lt;!channel&gt; hi"),
            ("`**not bold**`", "`**not bold**`"),
            ("```python\nx = **1** < 2\n```", "```x = **1** &lt; 2```"),
            ("25 days [1][2].", "25 days [1][2]."),
        ],
    )
    def test_to_mrkdwn(self, markdown, expected):
        assert to_mrkdwn(markdown) == expected

    def test_quoted_document_lines_keep_their_markup_as_written(self):
        quoted = (
            "From the documents (quoted as written):\n> Press *Save*, then **Send** ~~now~~ <b>. [1]\nOk *x*"
        )
        assert to_mrkdwn(quoted).splitlines() == [
            "From the documents (quoted as written):",
            "&gt; Press *Save*, then **Send** ~~now~~ &lt;b&gt;. [1]",
            "Ok _x_",
        ]

    def test_escape(self):
        assert escape("<@U1> & co") == "&lt;@U1&gt; &amp; co"

    def test_split_keeps_everything_under_the_limit(self):
        text = "\n\n".join(f"paragraph {i} " + "word " * 100 for i in range(30))
        pieces = split_for_blocks(text, limit=1000)
        assert all(len(piece) <= 1000 for piece in pieces)
        assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


class TestBlocks:
    def test_a_source_shows_its_own_date_and_every_cited_page(self):
        cited = citation(1, pages=[2, 4], page=2, modified_at="2026-03-02T09:00:00+00:00")
        sources = blocks.answer_blocks(answer(citations=[cited]))[1]["elements"][0]["text"]
        assert "(leave-policy.pdf, pages 2, 4) · updated 2026-03-02" in sources
        assert "indexed" not in sources

    def test_not_found_lists_related_sources_unnumbered_and_unquoted(self):
        related = [citation(1), citation(2, title="Benefits", file_name="benefits.docx", pages=[], page=None)]
        built = blocks.answer_blocks(
            answer(text="I could not find this in the documents.", citations=[], found=False, related=related)
        )
        text = json.dumps(built)
        assert "Might be related" in text and "Benefits" in text and "benefits.docx" in text
        assert "[1]" not in text and "Sources" not in text

    def test_answer_blocks(self):
        built = blocks.answer_blocks(answer())
        assert built[0]["text"]["text"].startswith(
            "You get *25 days* [1]. See the wiki (<https://wiki.example.com/leave>)"
        )
        sources = built[1]["elements"][0]["text"]
        assert "*[1]* *Leave &lt;Policy&gt;* (leave-policy.pdf, page 3) · indexed 2026-11-20" in sources
        assert "*[2]* <https://hr.example.com/leave|HR site> (page 3)" in sources
        [feedback] = built[-1]["elements"]
        assert built[-1]["type"] == "context_actions" and feedback["type"] == "feedback_buttons"
        assert feedback["action_id"] == blocks.FEEDBACK
        assert (feedback["positive_button"]["value"], feedback["negative_button"]["value"]) == (
            "up:trace-1",
            "down:trace-1",
        )
        classic = blocks.answer_blocks(answer(), native_feedback=False)[-1]
        assert classic["type"] == "actions"
        assert [e["action_id"] for e in classic["elements"]] == [blocks.FEEDBACK_UP, blocks.FEEDBACK_DOWN]
        assert {e["value"] for e in classic["elements"]} == {"trace-1"}

    def test_streamed_answers_get_the_same_tail(self):
        full = blocks.answer_blocks(answer(), debug_url="https://n/admin/?trace=t")
        tail = blocks.answer_tail_blocks(answer(), debug_url="https://n/admin/?trace=t")
        assert full[-len(tail) :] == tail and all(b["type"] != "section" for b in tail)

    def test_trace_hint_replaces_the_link(self):
        text = str(blocks.answer_blocks(answer(), trace_hint=True))
        assert "`trace-1`" in text and "admin console" in text and "Debug this answer" not in text

    def test_share_question_and_debug_are_opt_in(self):
        built = blocks.answer_blocks(
            answer(),
            show_question=True,
            share_button=True,
            shared_by="U9",
            debug_url="https://n/admin/?trace=t",
        )
        text = str(built)
        assert "<@U9> shared" in text and "How many &lt;vacation&gt; days?" in text
        assert blocks.SHARE_ANSWER in text and "<https://n/admin/?trace=t|Debug this answer>" in text
        assert blocks.FEEDBACK in text  # the share button sits in its own actions block

    def test_no_citations_no_sources_block(self):
        built = blocks.answer_blocks(answer(citations=[], kind="no_answer", text="I could not find this."))
        assert [b["type"] for b in built] == ["section", "context_actions"]

    def test_long_answers_are_split_into_sections(self):
        built = blocks.answer_blocks(answer(text="word " * 2000))
        sections = [b for b in built if b["type"] == "section"]
        assert len(sections) >= 4 and all(len(s["text"]["text"]) <= 3000 for s in sections)
        assert len(blocks.answer_text(answer(text="word " * 2000))) <= blocks.MAX_TEXT

    def test_streaming_and_placeholder(self):
        assert messages.PLACEHOLDER in str(blocks.placeholder_blocks())
        streaming = blocks.streaming_blocks("You get **25**")
        assert streaming[0]["text"]["text"] == "You get *25* ..."

    def test_sources_and_home(self):
        source = SourceInfo(
            "s", "Leave", "leave.md", "md", None, ["hr"], 5, 10, None, "2026-11-20T10:00", "h"
        )
        text = str(blocks.sources_blocks([source]))
        assert "I know 1 source*" in text and "tags: hr" in text and "indexed 2026-11-20" in text
        assert "don't know any documents" in str(blocks.sources_blocks([]))
        home = blocks.home_view({"sources": 2, "chunks": 9, "last_updated": "2026-11-21T00:00"}, "/ask")
        assert home["type"] == "home" and "*2* sources (*9* passages)" in str(home) and "/ask" in str(home)
        one = blocks.home_view({"sources": 1, "chunks": 1}, "/ask")
        assert "*1* source (*1* passage)" in str(one)
        assert "can't reach the document store" in str(blocks.home_view(None, "/ask"))

    def test_feedback_modal_carries_the_trace(self):
        modal = blocks.feedback_modal("trace-1", "C1", "1.2")
        assert '"trace_id": "trace-1"' in modal["private_metadata"]
        assert messages.VOTE_DOWN_RECORDED in str(modal["blocks"]) and not modal.get("notify_on_close")


def test_history_from_replies():
    replies = [
        {"ts": "1", "user": "U1", "text": "<@UBOT> How many vacation days?"},
        {"ts": "2", "user": "UBOT", "bot_id": "BBOT", "subtype": "bot_message", "text": "25 days [1]"},
        {"ts": "3", "user": "UBOT", "bot_id": "BBOT", "text": messages.PLACEHOLDER},
        {"ts": "4", "bot_id": "BOTHER", "subtype": "bot_message", "text": "another bot"},
        {"ts": "5", "user": "U2", "text": "edited", "subtype": "message_changed"},
        {"ts": "6", "user": "U1", "text": "and part-timers?"},
    ]
    history = history_from_replies(replies, current_ts="6", bot_user_id="UBOT", bot_id="BBOT")
    assert history == [
        {"role": "user", "text": "How many vacation days?"},
        {"role": "assistant", "text": "25 days [1]"},
    ]


def test_tune_interpreter_shortens_the_switch_interval_and_zero_leaves_it(settings_factory):
    before = sys.getswitchinterval()
    try:
        assert runtime.tune_interpreter(settings_factory()) == pytest.approx(0.001)
        assert runtime.tune_interpreter(settings_factory(slack_switch_interval=0.0005)) == pytest.approx(
            0.0005
        )
        sys.setswitchinterval(before)
        assert runtime.tune_interpreter(settings_factory(slack_switch_interval=0)) == pytest.approx(before)
    finally:
        sys.setswitchinterval(before)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux behaviour")
def test_answer_threads_run_at_a_lower_priority_than_the_rest_of_the_process():
    seen: dict[str, int] = {}

    def answer_thread() -> None:
        runtime._lower_priority(10)
        seen["answer"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=answer_thread)
    thread.start()
    thread.join()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen["answer"] == min(19, own + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # this thread untouched


class ListingCore:
    """A core whose current sources are the real listing's (every source, listed again only after a
    change), over a list the test changes, stamping each change as ``SourceLibrary`` does."""

    def __init__(self, sources: list[SourceInfo], records: SqliteRecordStore) -> None:
        self.sources = sources
        self.full_listings = 0
        self.changes = SourceChanges(records)
        self.listing = SourceListing(self._list_all, self.changes, settle_seconds=0.0)

    def _list_all(self) -> list[SourceInfo]:
        self.full_listings += 1
        return list(self.sources)

    def current_sources(self, viewer: Viewer) -> list[SourceInfo]:
        return [source for source in self.listing.current() if viewer.may_see(source.audience)]

    def add(self, source: SourceInfo) -> None:
        self.sources.append(source)
        self.changes.touch()


def listed(number: int, tags: list[str], audience: list[str]) -> SourceInfo:
    return SourceInfo(
        source_id=f"s{number}",
        title=f"Source {number}",
        file_name=f"s{number}.md",
        file_type="md",
        url=None,
        tags=tags,
        chunks=1,
        size_bytes=10,
        uploaded_by=None,
        indexed_at="2026-11-20T10:00:00+00:00",
        source_hash=f"h{number}",
        audience=audience,
    )


def test_the_status_counts_what_each_viewer_may_see_from_one_listing_until_a_change(
    settings_factory, tmp_path
):
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    core = ListingCore(
        [
            listed(1, ["hr"], ["everyone"]),
            listed(2, ["it"], ["everyone"]),
            listed(3, [], ["channel:CBOARD"]),
            listed(4, ["hr"], ["user:U1"]),
            listed(5, ["hr"], ["usergroup:SHR"]),
        ],
        records,
    )
    bot = runtime.BotRuntime.create(core, settings_factory(slack_channel_tags={"CHR": ["hr"]}), records)
    try:
        viewers = [
            Viewer(user_id="U1", channel_id="C1"),
            Viewer(user_id="U1", channel_id="CBOARD"),
            Viewer(user_id="U1", private=True),
            Viewer(user_id="U2", private=True, usergroups=frozenset({"SHR"})),
        ]
        expected = {  # (viewer, channel) -> what it may see there, counted by hand
            (0, "C1"): 2,
            (0, "CHR"): 1,
            (0, "CBOARD"): 2,
            (1, "C1"): 3,
            (1, "CHR"): 1,
            (1, "CBOARD"): 3,
            (2, "C1"): 3,
            (2, "CHR"): 2,
            (2, "CBOARD"): 3,
            (3, "C1"): 3,
            (3, "CHR"): 2,
            (3, "CBOARD"): 3,
        }
        for (number, channel), count in expected.items():
            viewer, tags = viewers[number], bot.channel_tags(channel)
            assert len(bot.visible_sources(viewer, tags)) == count  # what the App Home and lists show
            assert bot.source_count(channel, viewer) == count
            assert bot.source_count(channel, viewer, tags or ()) == count
        assert core.full_listings == 1  # every count came from one listing

        core.add(listed(6, [], ["everyone"]))  # a change (any process): the very next count sees it
        assert bot.source_count("C1", viewers[0]) == 3
        assert core.full_listings == 2
    finally:
        bot.shutdown()
        records.close()


def test_the_assistant_middleware_hands_on_exactly_what_bolts_would():
    from slack_bolt import Assistant, BoltRequest, BoltResponse

    from bot.listeners.assistant import build_assistant

    def event(**fields) -> dict:
        return {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": fields}

    thread = {"user_id": "U1", "channel_id": "D1", "thread_ts": "1.0", "context": {}}
    bodies = [
        event(type="app_mention", user="U1", channel="C1", ts="1.1", text="<@UBOT> hi"),
        event(type="message", user="U1", channel="C1", ts="1.2", text="hi", channel_type="channel"),
        event(type="message", user="U1", channel="D1", ts="1.3", text="hi", channel_type="im"),
        event(
            type="message", user="U1", channel="D1", ts="1.4", thread_ts="1.0", text="q", channel_type="im"
        ),
        event(type="message", bot_id="B1", channel="D1", ts="1.5", thread_ts="1.0", channel_type="im"),
        event(
            type="message",
            subtype="message_changed",
            channel="D1",
            channel_type="im",
            message={"thread_ts": "1.0", "ts": "1.6"},
        ),
        event(type="assistant_thread_started", assistant_thread=thread),
        event(type="assistant_thread_context_changed", assistant_thread=thread),
        event(type="app_home_opened", user="U1", tab="home"),
        {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "actions": [{"action_id": "a", "block_id": "b", "type": "button", "value": "v"}],
        },
    ]

    class Runner:
        def run(self, request, response, listener_name, listener):
            return BoltResponse(status=200, body="handled")

    def outcome(process, body: dict) -> tuple:
        request = BoltRequest(body=json.dumps(body), headers={"content-type": ["application/json"]})
        request.context["listener_runner"] = Runner()
        handed_on = []
        response = process(req=request, resp=BoltResponse(status=200), next=lambda: handed_on.append(True))
        return bool(handed_on), getattr(response, "body", None)

    ours = build_assistant(None)  # type: ignore[arg-type] - no listener runs here
    for body in bodies:
        assert outcome(ours.process, body) == outcome(lambda **kw: Assistant.process(ours, **kw), body), body
    assert outcome(ours.process, bodies[0]) == (True, None)  # a mention is handed on...
    assert outcome(ours.process, bodies[3])[1] == "handled"  # ...a question in an assistant thread is not


def test_slack_sdk_gets_the_level_in_force_as_its_own_unless_debugging():
    sdk_logger = logging.getLogger(SDK_LOGGER)
    before, root_before = sdk_logger.level, logging.getLogger().level
    try:
        sdk_logger.setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.INFO)
        assert quiet_sdk_debug() == logging.INFO and sdk_logger.level == logging.INFO
        sdk_logger.setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.DEBUG)
        assert quiet_sdk_debug() == logging.DEBUG and sdk_logger.level == logging.NOTSET  # debug lines wanted
        sdk_logger.setLevel(logging.ERROR)
        assert (
            quiet_sdk_debug() == logging.ERROR and sdk_logger.level == logging.ERROR
        )  # set by someone: kept
    finally:
        sdk_logger.setLevel(before)
        logging.getLogger().setLevel(root_before)

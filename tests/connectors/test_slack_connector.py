"""The Slack connector with the real slack_sdk client against the Slack Web API stand-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.connectors import directory
from pipelines.connectors.base import ConnectorError, DocumentRef, FetchedDocument, Gone, connector_class
from pipelines.connectors.slack import SlackConnector
from pipelines.connectors.slack_edits import EDITS, note_message_event
from pipelines.connectors.slack_members import private_viewer
from pipelines.connectors.slack_threads import is_chatter, kept_messages, plain_text
from pipelines.connectors.slack_web import SlackWeb
from pipelines.stores.records import SqliteRecordStore
from tests.bot.slack_api import BOT_TOKEN, BOT_USER_ID, WORKSPACE_URL, Fault, SlackState, slack_api_server
from tests.conftest import make_settings
from tests.connectors.slack_workspace import (
    DANA,
    HR_PRIVATE,
    IT_HELP,
    KIM,
    LEE,
    RANDOM,
    SAM,
    SECRET,
    bot_reply,
    event_message,
    seed_channels,
    seed_people,
    thread,
)


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with slack_api_server() as state:
        seed_people(state)
        seed_channels(state)
        yield state


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SqliteRecordStore]:
    store = SqliteRecordStore(tmp_path / "records.sqlite3")
    yield store
    store.close()


def connector(
    slack: SlackState, channels: str = IT_HELP, records: SqliteRecordStore | None = None, **kwargs: object
) -> SlackConnector:
    config = {"channels": channels, "api_url": f"{slack.url}/api/", **{k: str(v) for k, v in kwargs.items()}}
    return SlackConnector(config, {"bot_token": BOT_TOKEN}, records=records)


def listed(conn: SlackConnector) -> dict[str, DocumentRef]:
    return {ref.id: ref for ref in conn.list_documents()}


def fetched(conn: SlackConnector, ref: DocumentRef) -> tuple[FetchedDocument, str]:
    document = conn.fetch(ref)
    assert isinstance(document, FetchedDocument)
    return document, document.data.decode()


def test_a_thread_is_one_document_with_its_question_answers_and_who_answered(slack: SlackState) -> None:
    vpn = thread(
        slack,
        IT_HELP,
        "How do I reset my VPN token? <@U0SAM> do you know?",
        (SAM, "Open https://vpn.example.com and choose *Reset token*; it takes 5 minutes."),
        (DANA, "thanks!"),
        (LEE, "Also: the old token stops working at once &amp; you must re-pair the app."),
    )
    bot_reply(slack, IT_HELP, vpn.ts, "Needle's answer: see the IT guide.")
    conn = connector(slack)
    refs = listed(conn)
    assert list(refs) == [vpn.id]
    ref = refs[vpn.id]
    assert ref.title == "#it-help: How do I reset my VPN token? @U0SAM do you know?"
    assert ref.audience is None  # public: the connector's audience (everyone by default)
    assert ref.url == f"{WORKSPACE_URL}archives/{IT_HELP}/p{vpn.ts.replace('.', '')}"

    document, text = fetched(conn, ref)
    assert document.file_name.endswith(".md")
    assert document.ref.title == "#it-help: How do I reset my VPN token? @Sam Lee do you know?"
    assert document.ref.url == slack.of("chat.getPermalink")[0].response["permalink"]
    assert "**Dana** asked:" in text and "How do I reset my VPN token?" in text
    assert "**Sam Lee** replied:" in text and "it takes 5 minutes" in text
    assert "**Lee Park** replied:" in text and "at once & you must re-pair" in text  # real name, unescaped
    assert "Answered by Sam Lee, Lee Park." in text
    assert "thanks" not in text  # chatter
    assert "Needle's answer" not in text  # the bot's own answers
    assert document.ref.meta["answered_by"] == ["Sam Lee", "Lee Park"]


def test_bots_joins_chatter_and_threads_only_needle_answered_are_left_out(slack: SlackState) -> None:
    kept = thread(slack, IT_HELP, "Which printer is on floor 3?", (SAM, "The HP one by the kitchen, PR-3."))
    only_needle = thread(slack, IT_HELP, "<@UBOT> how many vacation days do I get?")
    bot_reply(slack, IT_HELP, only_needle.ts, "25 days a year.")
    thread(slack, IT_HELP, "hi all")  # a lone greeting
    thread(slack, IT_HELP, "Where is the wiki?", (SAM, "+1"), (LEE, ":eyes:"))  # chatter-only replies: listed
    event_message(slack, IT_HELP, "channel_join", "<@U0KIM> has joined the channel", user="U0KIM")
    event_message(slack, IT_HELP, "bot_message", "Deploy finished")
    refs = listed(connector(slack))
    assert kept.id in refs
    assert only_needle.id not in refs
    assert len(refs) == 2  # the printer thread and the wiki thread (whose replies are chatter)
    lone = listed(connector(slack, min_replies=0))
    assert only_needle.id in lone  # a question is kept as a lone post when lone posts are wanted
    assert not any("hi all" in ref.title for ref in lone.values())


def test_history_and_thread_replies_are_read_page_by_page(slack: SlackState) -> None:
    threads = [
        thread(slack, IT_HELP, f"Question {n} about the badge office?", (SAM, f"Answer {n}: room 1{n}."))
        for n in range(5)
    ]
    long = thread(
        slack,
        IT_HELP,
        "What are the office hours?",
        *[(LEE, f"Reply {n}: from 9 to 17 on weekday {n}") for n in range(5)],
    )
    conn = SlackConnector(
        {"channels": IT_HELP, "api_url": f"{slack.url}/api/"}, {"bot_token": BOT_TOKEN}, page_size=2
    )
    refs = listed(conn)
    assert set(refs) == {t.id for t in [*threads, long]}
    history = slack.of("conversations.history")
    assert len(history) == 3  # 6 parents, 2 a page
    assert [bool(call.args.get("cursor")) for call in history] == [False, True, True]
    _, text = fetched(conn, refs[long.id])
    assert all(f"Reply {n}:" in text for n in range(5))
    assert len(slack.of("conversations.replies")) == 3  # parent + 5 replies, 2 a page


def test_a_private_channel_is_for_its_members_and_only_where_the_bot_is(slack: SlackState) -> None:
    salary = thread(slack, HR_PRIVATE, "When are salary reviews?", (SAM, "In March, with the new budget."))
    refs = listed(connector(slack, channels=HR_PRIVATE))
    assert refs[salary.id].audience == (f"channel:{HR_PRIVATE}",)

    with pytest.raises(ConnectorError) as refused:
        list(connector(slack, channels=f"{IT_HELP},{SECRET}").list_documents())
    assert "private without the bot" in refused.value.reason and "/invite @Needle" in refused.value.reason
    assert not refused.value.retryable

    with pytest.raises(ConnectorError) as public:
        list(connector(slack, channels=RANDOM).list_documents())
    assert "not in the public channel #random" in public.value.reason


def test_channels_may_be_named_and_names_are_found_through_conversations_list(slack: SlackState) -> None:
    for n in range(4):
        slack.add_channel(f"C0EXTRA{n}", f"extra-{n}")
    faq = thread(slack, HR_PRIVATE, "Is there a parking allowance?", (SAM, "Yes, 50 EUR a month."))
    refs = listed(connector(slack, channels="#hr-private"))
    assert list(refs) == [faq.id]
    listing = slack.of("conversations.list")
    assert listing[0].args["types"] == "public_channel,private_channel"
    with pytest.raises(ConnectorError, match="no channel #nope"):
        list(connector(slack, channels="#nope").list_documents())


def test_a_429_is_waited_out_as_retry_after_says(slack: SlackState) -> None:
    faq = thread(slack, IT_HELP, "Who orders laptops?", (SAM, "IT does, via the portal."))
    slack.faults.append(Fault("conversations.history", 429, times=1, retry_after=0))
    assert list(listed(connector(slack))) == [faq.id]
    assert [call.response.get("error") for call in slack.of("conversations.history")] == ["http 429", None]


@pytest.mark.slow
def test_retry_after_is_honoured(slack: SlackState) -> None:
    thread(slack, IT_HELP, "Who orders laptops?", (SAM, "IT does, via the portal."))
    slack.faults.append(Fault("conversations.history", 429, times=1, retry_after=2))
    assert len(listed(connector(slack))) == 1
    first, second = slack.of("conversations.history")
    assert second.at - first.at >= 2.0


def test_a_rate_limit_that_outlasts_the_retries_is_a_retryable_failure(slack: SlackState) -> None:
    thread(slack, IT_HELP, "Who orders laptops?", (SAM, "IT does, via the portal."))
    slack.faults.append(Fault("conversations.history", 429, times=5, retry_after=0))
    conn = SlackConnector(
        {"channels": IT_HELP},
        {},
        web=SlackWeb(BOT_TOKEN, f"{slack.url}/api/", rate_limit_retries=1),
    )
    with pytest.raises(ConnectorError) as failed:
        list(conn.list_documents())
    assert failed.value.retryable and "rate-limiting conversations.history" in failed.value.reason
    assert len(slack.of("conversations.history")) == 2  # the call and one retry


def test_a_500_mid_listing_fails_the_listing_rather_than_end_it_early(slack: SlackState) -> None:
    for n in range(5):
        thread(slack, IT_HELP, f"Question {n} about expenses?", (SAM, f"Answer {n}: use the form."))
    slack.faults.append(Fault("conversations.history", 500, when=lambda args: bool(args.get("cursor"))))
    conn = SlackConnector(
        {"channels": IT_HELP, "api_url": f"{slack.url}/api/"}, {"bot_token": BOT_TOKEN}, page_size=2
    )
    seen: list[str] = []

    def drain() -> None:
        seen.extend(ref.id for ref in conn.list_documents())

    with pytest.raises(ConnectorError) as failed:
        drain()
    assert len(seen) == 2  # the first page, then the failure: never a short listing that ends normally
    assert failed.value.retryable and "HTTP 500" in failed.value.reason


def test_an_expired_token_fails_with_a_plain_reason_and_no_token(slack: SlackState) -> None:
    thread(slack, IT_HELP, "Who orders laptops?", (SAM, "IT does, via the portal."))
    slack.token_error = "token_expired"
    with pytest.raises(ConnectorError) as failed:
        list(connector(slack).list_documents())
    assert not failed.value.retryable
    assert "refused the bot token (token_expired)" in failed.value.reason
    assert BOT_TOKEN not in failed.value.reason


def test_an_empty_channel_lists_nothing_and_does_not_fail(slack: SlackState) -> None:
    assert listed(connector(slack)) == {}
    assert listed(connector(slack, channels=HR_PRIVATE)) == {}


def test_edits_new_replies_and_deletions_change_the_listing(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    vpn = thread(slack, IT_HELP, "How long is a VPN session?", (SAM, "Eight hours, then it asks again."))
    other = thread(slack, IT_HELP, "Who signs travel requests?", (LEE, "Your manager, in the portal."))
    conn = connector(slack, records=records)
    before = listed(conn)

    slack.edit_message(IT_HELP, vpn.ts, "How long is a VPN session on the office network?")
    after_question_edit = listed(conn)
    assert after_question_edit[vpn.id].version != before[vpn.id].version
    assert after_question_edit[other.id].version == before[other.id].version

    # An edited reply does not show in history: the bot's message_changed event marks the thread.
    edit_ts = slack.edit_message(IT_HELP, vpn.replies[0], "Twelve hours, then it asks again.")
    unchanged = listed(conn)[vpn.id].version
    assert unchanged == after_question_edit[vpn.id].version
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": IT_HELP,
        "ts": edit_ts,
        "message": {
            "type": "message",
            "user": SAM,
            "text": "Twelve hours",
            "ts": vpn.replies[0],
            "thread_ts": vpn.ts,
        },
    }
    assert note_message_event(records, event, BOT_USER_ID) == vpn.id
    marked = listed(conn)[vpn.id]
    assert marked.version != unchanged
    _, text = fetched(conn, marked)
    assert "Twelve hours" in text and "Eight hours" not in text

    slack.add_user_message(IT_HELP, LEE, "And on the guest network it is one hour.", thread_ts=vpn.ts)
    assert listed(conn)[vpn.id].version != marked.version

    slack.delete_message(IT_HELP, other.ts)  # the question deleted under its reply: Slack's tombstone
    assert other.id not in listed(conn)
    gone = conn.fetch(before[other.id])
    assert isinstance(gone, Gone) and "deleted" in gone.reason
    with slack.lock:  # the whole thread deleted: Slack answers thread_not_found
        slack.messages[IT_HELP] = {
            ts: m for ts, m in slack.messages[IT_HELP].items() if vpn.ts not in (ts, m.get("thread_ts"))
        }
    assert vpn.id not in listed(conn)
    assert isinstance(conn.fetch(marked), Gone)


def test_edit_events_are_marked_only_for_synced_channels_and_never_for_the_bot(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    faq = thread(slack, IT_HELP, "Where are the spare keys?", (SAM, "In the red box at reception."))
    changed = {"type": "message", "subtype": "message_changed", "channel": IT_HELP, "ts": "1900000000.000001"}
    edit = {**changed, "message": {"user": SAM, "ts": faq.replies[0], "thread_ts": faq.ts}}
    assert note_message_event(records, edit, BOT_USER_ID) is None  # no connector synced #it-help yet
    listed(connector(slack, records=records))
    assert (
        note_message_event(
            records, {**changed, "message": {"user": BOT_USER_ID, "bot_id": "B1", "ts": "1.2"}}, BOT_USER_ID
        )
        is None
    )
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": IT_HELP,
        "ts": "1900000000.000002",
        "deleted_ts": faq.replies[0],
        "previous_message": {"user": SAM, "ts": faq.replies[0], "thread_ts": faq.ts},
    }
    assert note_message_event(records, deleted, BOT_USER_ID) == faq.id
    assert [r.key for r in records.query(EDITS)] == [faq.id]


def test_names_are_asked_once_per_person(slack: SlackState) -> None:
    for n in range(3):
        thread(
            slack, IT_HELP, f"Question {n} on the coffee machine?", (SAM, f"Answer {n}: descale it weekly.")
        )
    conn = connector(slack)
    for ref in conn.list_documents():
        conn.fetch(ref)
    assert sorted(call.args["user"] for call in slack.of("users.info")) == [DANA, SAM]


def test_bad_settings_are_refused_with_the_fix() -> None:
    with pytest.raises(ConnectorError, match="needs channels="):
        SlackConnector({}, {"bot_token": BOT_TOKEN})
    with pytest.raises(ConnectorError, match="not a Slack channel: C1 x"):
        SlackConnector({"channels": "C1 x"}, {"bot_token": BOT_TOKEN})
    with pytest.raises(ConnectorError, match="min_replies must be a whole number"):
        SlackConnector({"channels": IT_HELP, "min_replies": "some"}, {"bot_token": BOT_TOKEN})
    assert connector_class("slack") is SlackConnector


@pytest.mark.parametrize(
    ("text", "chatter"),
    [
        ("thanks!", True),
        ("Thank you :pray:", True),
        ("+1", True),
        (":tada: :tada:", True),
        ("ok, got it", False),  # two words, not a stock phrase: kept
        ("got it", True),
        ("Yes", False),
        ("why?", False),
        ("30 days", False),
        ("<@U0SAM> thanks", True),
    ],
)
def test_chatter(text: str, chatter: bool) -> None:
    assert is_chatter(text) is chatter


def test_slack_markup_reads_as_text() -> None:
    names = {"U0SAM": "Sam Lee"}.get
    text = plain_text(
        "Ask <@U0SAM> in <#C0ITHELP|it-help> or <!subteam^S1|@hr>; see <https://wiki.example.com|the wiki>, "
        "<https://x.example.com> &lt;b&gt; &amp; <mailto:it@example.com|it@example.com>",
        lambda user: names(user) or user,
    )
    assert text == (
        "Ask @Sam Lee in #it-help or @hr; see [the wiki](https://wiki.example.com), "
        "https://x.example.com <b> & it@example.com"
    )


def test_kept_messages_keep_a_short_question_but_not_tombstones_or_bots() -> None:
    messages = [
        {"type": "message", "user": DANA, "text": "VPN?", "ts": "1.0"},
        {"type": "message", "user": BOT_USER_ID, "bot_id": "B1", "text": "An answer", "ts": "2.0"},
        {
            "type": "message",
            "subtype": "tombstone",
            "user": "USLACKBOT",
            "text": "This message was deleted.",
            "ts": "3.0",
        },
        {"type": "message", "user": SAM, "text": "Use the app.", "ts": "4.0"},
    ]
    assert [m["ts"] for m in kept_messages(messages, BOT_USER_ID)] == ["1.0", "4.0"]


def test_a_private_viewer_has_the_channels_slack_says_they_are_in(slack: SlackState) -> None:
    web = SlackWeb(BOT_TOKEN, f"{slack.url}/api/")
    principals = ["everyone", f"channel:{HR_PRIVATE}", f"channel:{SECRET}", "usergroup:S0GONE"]
    dana, problems = private_viewer(web, DANA, principals)
    assert dana.private and dana.channels == frozenset({HR_PRIVATE})
    assert dana.may_see([f"channel:{HR_PRIVATE}"]) and not dana.may_see([f"channel:{SECRET}"])
    assert problems == ["usergroup:S0GONE: Slack refused usergroups.users.list (no_such_subteam)"]
    kim, _ = private_viewer(web, KIM, principals)
    assert not kim.may_see([f"channel:{HR_PRIVATE}"])


def test_the_command_line_gets_slack_memberships_only_with_a_bot_token(
    slack: SlackState, tmp_path: Path
) -> None:
    principals = [f"channel:{HR_PRIVATE}"]
    assert directory.slack_viewer(make_settings(tmp_path), DANA, principals) is None
    settings = make_settings(
        tmp_path, slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1", slack_api_url=f"{slack.url}/api/"
    )
    found = directory.slack_viewer(settings, DANA, principals)
    assert found is not None and found[0].channels == frozenset({HR_PRIVATE})


def test_days_keeps_only_threads_started_in_the_window(slack: SlackState) -> None:
    recent = thread(slack, IT_HELP, "Where is the new badge office?", (SAM, "Room 12, next to reception."))
    old_ts = f"{time.time() - 40 * 86400:.6f}"
    with slack.lock:
        slack.messages[IT_HELP][old_ts] = {
            "type": "message",
            "user": DANA,
            "text": "Old question?",
            "ts": old_ts,
        }
        reply_ts = f"{time.time() - 39 * 86400:.6f}"
        slack.messages[IT_HELP][reply_ts] = {
            "type": "message", "user": SAM, "text": "An old answer.", "ts": reply_ts, "thread_ts": old_ts,
        }  # fmt: skip
    assert set(listed(connector(slack))) == {recent.id, f"{IT_HELP}/{old_ts}"}
    assert set(listed(connector(slack, days=30))) == {recent.id}
    assert slack.of("conversations.history")[-1].args["oldest"]

"""Pure parts of the AI-app work: refusal memory, prompts, titles, votes, links, Markdown safety, checks."""

from __future__ import annotations

import hashlib
import hmac

from bot.asked import permalink
from bot.features import REFUSAL_SECONDS, REREAD_SECONDS, STATUS, STREAMING, SlackFeatures, is_refusal
from bot.http import malformed, signed
from bot.mrkdwn import safe_markdown
from bot.prompts import suggested_prompts, thread_title
from bot.votes import parse_feedback_value
from pipelines.records.answers import SourceInfo
from pipelines.stores.records import SqliteRecordStore


def source(title: str) -> SourceInfo:
    return SourceInfo("s", title, "f.md", "md", None, [], 1, 1, None, "2026-11-20T10:00", "h")


def test_only_a_refusal_turns_a_feature_off_and_every_process_knows_it(tmp_path):
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    clock = [1_000_000.0]
    features = SlackFeatures(records, clock=lambda: clock[0])
    assert not features.failed(STREAMING, "ratelimited") and features.offered(STREAMING)
    assert not features.failed(STREAMING, "channel_not_found") and features.offered(STREAMING)
    assert features.failed(STREAMING, "feature_not_enabled") and not features.offered(STREAMING)
    features.failed(STREAMING, "missing_scope")
    assert features.refused_because(STREAMING) == "feature_not_enabled"
    assert is_refusal("not_allowed_token_type") and not is_refusal(None) and not is_refusal("internal_error")
    # Another process (its own connection to the record store) knows without a refused call of its own.
    other = SlackFeatures(SqliteRecordStore(tmp_path / "records.sqlite3"), clock=lambda: clock[0])
    assert other.refused_because(STREAMING) == "feature_not_enabled" and other.offered(STATUS)
    # A day later the workspace may have upgraded: the feature is tried again.
    clock[0] += REFUSAL_SECONDS + REREAD_SECONDS + 1
    assert features.offered(STREAMING) and other.offered(STREAMING)


def test_prompts_are_drawn_from_the_newest_distinct_titles_at_most_four():
    titles = ["Leave Policy", "leave policy", "Your First Week at Acme", "A" * 80, "Travel", "Benefits"]
    prompts = suggested_prompts([], [source(t) for t in titles])
    # A title is a name, whatever words it starts with: quoted, never glued to "the" or "About the".
    assert prompts[:2] == [
        {"title": "Leave Policy", "message": 'What does "Leave Policy" say?'},
        {"title": "Your First Week at Acme", "message": 'What does "Your First Week at Acme" say?'},
    ]
    assert not any(" the Your" in p["title"] + p["message"] for p in prompts)
    assert len(prompts) == 4 and all(len(p["title"]) <= 40 for p in prompts)
    assert suggested_prompts(["Q1", "Q2"], [source("X")]) == [
        {"title": "Q1", "message": "Q1"},
        {"title": "Q2", "message": "Q2"},
    ]
    assert suggested_prompts([], []) == []


def test_thread_title_is_the_question_shortened_at_a_word():
    assert thread_title("How many  vacation days?") == "How many vacation days?"
    long = thread_title(
        "How many vacation days do full-time employees get per year, and can they carry some over?"
    )
    assert long.endswith("...") and len(long) <= 60 and " carry" not in long


def test_feedback_button_values():
    assert parse_feedback_value("down:abc") == ("down", "abc")
    assert parse_feedback_value("maybe:abc") is None and parse_feedback_value("up:") is None


def test_permalink_points_at_the_question_in_its_thread():
    assert (
        permalink("https://x.slack.com/", "C1", "1.000200", None)
        == "https://x.slack.com/archives/C1/p1000200"
    )
    assert permalink("https://x.slack.com", "C1", "2.000300", "1.000200").endswith(
        "/archives/C1/p2000300?thread_ts=1.000200&cid=C1"
    )


def test_streamed_markdown_cannot_mention_anyone():
    safe = safe_markdown("Ask <!channel> or <@U123> in <#C9>; 1 < 2")
    assert "<!channel>" not in safe and "<@U123>" not in safe and "<#C9>" not in safe
    assert safe.replace("\u200b", "") == "Ask <!channel> or <@U123> in <#C9>; 1 < 2"


def test_malformed_bodies_as_bolt_would_parse_them():
    assert malformed(b'{"type": "x"}', "application/json") is None
    assert malformed(b"command=%2Fneedle&text=hi", "application/x-www-form-urlencoded") is None
    assert malformed(b"{", "application/json; charset=utf-8") == "not valid JSON"
    assert malformed(b"[1]", "application/json") == "JSON that is not an object"
    assert malformed(b"\xff", "application/json") == "not UTF-8"
    assert malformed(b'{"type": "event_callback", "event": 3}', "application/json") == (
        "an event_callback whose event is not an object"
    )
    assert malformed(b'{"type": "event_callback"}', "application/json") is None


def test_signature_over_raw_bytes():
    body, stamp = b"\xff{}", "1700000000"
    good = "v0=" + hmac.new(b"s", b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    assert signed("s", body, stamp, good, now=1700000100)
    assert not signed("s", body, stamp, good, now=1700000400)  # stale
    assert not signed("other", body, stamp, good, now=1700000100)
    assert not signed("s", body, "17e9", good, now=1700000100)

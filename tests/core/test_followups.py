"""Which thread follow-ups are questions for Needle, and what is searched for them (heuristic and LLM)."""

from __future__ import annotations

import copy
import pickle
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.querying.followups import (
    MAX_REWRITE_CHARS,
    REWRITE_SYSTEM_PROMPT,
    FollowupDecision,
    RetrievalQuery,
    build_retrieval_query,
    classify_followup,
    clean_rewrite,
    heuristic_query,
    is_followup_question,
    leans_on_context,
    rewriter_for,
    small_talk,
)
from pipelines.querying.llm import build_chat_generator
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.support.fake_tgi import FakeTGIState, fake_tgi_server

VACATION = "How many vacation days do I get?"
BY_WHEN = "by when do I have to use them?"
PART_TIMERS = "what about part-timers?"
THREAD = [
    {"role": "user", "text": VACATION},
    {"role": "assistant", "text": "Full-time employees get 25 vacation days per calendar year [1]."},
    {"role": "user", "text": BY_WHEN},
    {"role": "assistant", "text": "Carried-over days must be taken by 31 March [1]."},
]


# --- the classifier ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (PART_TIMERS, "question"),
        ("How do I connect to the VPN from home", "question"),
        ("is it the same for contractors", "question"),
        ("why?", "question"),
        ("ok, what about part-timers", "question"),
        ("and in Paris", "continuation"),
        ("and for contractors", "continuation"),
        ("for interns", "continuation"),
        ("Thanks! And what about part-timers", "continuation"),
        ("same for contractors", "continuation"),
        ("tell me the VPN port", "request"),
        ("please send me the expense form", "request"),
        ("explain the carry-over rule", "request"),
        ("I wonder if contractors get them too", "request"),
        ("help", "request"),
        ("那兼职员工呢？", "question"),
        ("那兼职员工呢", "question"),
        ("兼职员工有几天年假", "question"),
        ("VPN端口是多少", "question"),
        ("好的，那兼职员工", "continuation"),
        ("请告诉我VPN端口", "request"),
    ],
)
def test_questions_and_requests_are_answered(text: str, reason: str) -> None:
    assert classify_followup(text).reason == reason
    assert is_followup_question(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("thanks, that helps!", "acknowledgement"),
        ("ok", "acknowledgement"),
        ("ok great", "acknowledgement"),
        ("great 👍", "acknowledgement"),
        ("great :+1:", "acknowledgement"),
        ("got it", "acknowledgement"),
        ("Thank you so much 🙏", "acknowledgement"),
        ("makes sense, thanks Needle!", "acknowledgement"),
        ("and thanks again", "acknowledgement"),
        ("really?", "acknowledgement"),
        ("have a nice day", "acknowledgement"),
        ("谢谢", "acknowledgement"),
        ("好的", "acknowledgement"),
        ("收到👍", "acknowledgement"),
        ("这很有帮助，谢谢！", "acknowledgement"),
        ("👍", "empty"),
        (":tada:", "empty"),
        ("?", "empty"),
        ("I'm off tomorrow", "statement"),
        ("exactly what I needed", "statement"),
        ("我明天请假", "statement"),
    ],
)
def test_thanks_reactions_and_statements_are_not(text: str, reason: str) -> None:
    decision = classify_followup(text)
    assert (decision.answer, decision.reason) == (False, reason)


def test_a_question_to_someone_else_is_not_answered() -> None:
    text = "are you taking yours in August?"
    assert is_followup_question(text)  # a question, but...
    decision = classify_followup(text, mentions_other=True)  # ...to a colleague
    assert (decision.answer, decision.reason) == (False, "mentions_other")


def test_modes() -> None:
    assert classify_followup("I'm off tomorrow", mode="all").answer
    assert classify_followup("are you taking yours?", mentions_other=True, mode="all").answer
    # Every message but small talk, which is never searched.
    assert classify_followup("thanks, that helps!", mode="all") == FollowupDecision(False, "acknowledgement")
    assert classify_followup("hi there", mode="all") == FollowupDecision(False, "greeting")
    assert classify_followup(PART_TIMERS, mode="mention-only") == classify_followup("ok", mode="mention-only")
    assert classify_followup(PART_TIMERS, mode="mention-only").reason == "mention_only"
    assert not classify_followup(PART_TIMERS, mode="mention-only").answer


# --- the heuristic retrieval query ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "leans"),
    [
        (PART_TIMERS, True),
        ("and in Paris", True),
        (BY_WHEN, True),  # "them"
        ("那兼职员工呢？", True),
        ("How do I connect to the VPN from home on my laptop?", False),
        ("Which documents do I need to submit with a travel expense claim?", False),
        ("全职员工每年有多少天带薪年假可以使用以及如何申请", False),
    ],
)
def test_leans_on_context(text: str, leans: bool) -> None:
    assert leans_on_context(text) is leans


def test_follow_up_is_searched_with_the_first_and_the_previous_question() -> None:
    query = heuristic_query(PART_TIMERS, THREAD)
    assert query == f"{VACATION} {BY_WHEN} {PART_TIMERS}"


def test_thanks_in_between_are_not_the_previous_question() -> None:
    thread = [*THREAD, {"role": "user", "text": "thanks, that helps!"}, {"role": "user", "text": "ok"}]
    assert heuristic_query(PART_TIMERS, thread) == f"{VACATION} {BY_WHEN} {PART_TIMERS}"


def test_repeated_questions_are_searched_once() -> None:
    one_question = THREAD[:2]
    assert heuristic_query(BY_WHEN, one_question) == f"{VACATION} {BY_WHEN}"
    same_again = [*THREAD, {"role": "user", "text": "How many vacation days do I get"}]
    assert heuristic_query(PART_TIMERS, same_again).count("vacation days") == 1


def test_a_self_contained_question_or_a_first_question_is_searched_alone() -> None:
    standalone = "How do I connect to the VPN from home on my laptop?"
    assert heuristic_query(standalone, THREAD) == standalone
    assert heuristic_query(PART_TIMERS, []) == PART_TIMERS
    assert heuristic_query(PART_TIMERS, [{"role": "assistant", "text": "Hello"}]) == PART_TIMERS

    query = build_retrieval_query(standalone, THREAD)
    assert (query, query.method) == (standalone, "none")
    query = build_retrieval_query(PART_TIMERS, THREAD)
    assert (query, query.method) == (f"{VACATION} {BY_WHEN} {PART_TIMERS}", "heuristic")


def test_chinese_follow_up_carries_the_topic() -> None:
    thread = [{"role": "user", "text": "全职员工有多少天年假？"}, {"role": "assistant", "text": "25天 [1]"}]
    assert heuristic_query("那兼职员工呢？", thread) == "全职员工有多少天年假？ 那兼职员工呢？"


def test_retrieval_query_is_a_string_that_survives_copies() -> None:
    query = RetrievalQuery("vacation part-timers", "heuristic")
    assert isinstance(query, str) and query == "vacation part-timers"
    for copied in (copy.deepcopy(query), pickle.loads(pickle.dumps(query))):  # noqa: S301 - our own object
        assert copied == query and copied.method == "heuristic"


# --- the LLM rewrite -----------------------------------------------------------------------------------
REWRITTEN = "How many vacation days do part-time employees get?"


def _is_rewrite(messages: list[dict[str, Any]]) -> bool:
    return messages[0]["content"] == REWRITE_SYSTEM_PROMPT


@pytest.fixture
def tgi() -> Iterator[tuple[str, FakeTGIState]]:
    with fake_tgi_server() as server:
        yield server


def _generator(url: str, settings_factory, **overrides: Any) -> Any:
    return build_chat_generator(settings_factory(llm_api="tgi", llm_url=url, **overrides))


def test_llm_rewrites_a_follow_up_into_a_standalone_question(tgi, settings_factory) -> None:
    url, state = tgi
    state.reply = lambda messages: f"Standalone question: {REWRITTEN}" if _is_rewrite(messages) else "?"
    query = build_retrieval_query(PART_TIMERS, THREAD, generator=_generator(url, settings_factory))
    assert (query, query.method) == (REWRITTEN, "llm")

    body = state.requests[-1]["body"]
    assert not body.get("stream") and body["max_tokens"] <= 100
    prompt = body["messages"][-1]["content"]
    assert f"User: {VACATION}" in prompt and f"User: {BY_WHEN}" in prompt and "Assistant: Full-time" in prompt
    assert prompt.rstrip().endswith("Standalone question:") and f"Last message: {PART_TIMERS}" in prompt


def test_no_llm_call_for_a_first_or_self_contained_question(tgi, settings_factory) -> None:
    url, state = tgi
    generator = _generator(url, settings_factory)
    assert build_retrieval_query(VACATION, [], generator=generator).method == "none"
    long = "How do I connect to the VPN from home on my laptop?"
    assert build_retrieval_query(long, THREAD, generator=generator).method == "none"
    assert state.requests == []


def test_slow_llm_falls_back_to_the_heuristic_within_the_rewrite_timeout(tgi, settings_factory) -> None:
    url, state = tgi
    state.mode, state.delay_seconds = "slow", 5.0
    generator = _generator(url, settings_factory, llm_timeout_seconds=30)
    started = time.monotonic()
    query = build_retrieval_query(PART_TIMERS, THREAD, generator=generator, rewrite_timeout_seconds=0.5)
    elapsed = time.monotonic() - started
    assert query.method == "heuristic" and query == heuristic_query(PART_TIMERS, THREAD)
    assert len(state.requests) >= 1  # it did ask, and gave up after the rewrite's own timeout...
    assert elapsed < 3.0  # ...not the answer's 30 s, nor the server's 5 s


@pytest.mark.parametrize(
    ("mode", "reply"),
    [
        ("error", ""),  # HTTP 503
        ("garbage", ""),  # not JSON
        ("empty", ""),
        ("ok", "x" * (MAX_REWRITE_CHARS + 1)),
        ("ok", "Part-time employees get vacation days pro rata.\nThey should ask HR.\nSee [1]."),
    ],
)
def test_failed_or_unusable_rewrite_falls_back_to_the_heuristic(tgi, settings_factory, mode, reply) -> None:
    url, state = tgi
    state.mode, state.status = mode, 503
    state.reply = lambda messages: reply
    query = build_retrieval_query(PART_TIMERS, THREAD, generator=_generator(url, settings_factory))
    assert len(state.requests) == 1
    assert (query, query.method) == (heuristic_query(PART_TIMERS, THREAD), "heuristic")


def test_the_rewriter_is_made_once_per_generator(tgi, settings_factory) -> None:
    url, _ = tgi
    generator = _generator(url, settings_factory)
    assert rewriter_for(generator, 5.0) is rewriter_for(generator, 5.0)
    assert rewriter_for(generator, 2.0).timeout_seconds == 2.0
    twin = rewriter_for(generator, 2.0).generator
    assert twin.timeout == 2.0 and twin.api_base_url == generator.api_base_url
    assert generator.timeout == 30.0  # the answer's own client keeps its timeout


@pytest.mark.parametrize(
    ("reply", "cleaned"),
    [
        (f"  {REWRITTEN}\n", REWRITTEN),
        (f'Standalone question: "{REWRITTEN}"', REWRITTEN),
        ("问题：兼职员工有多少天年假？", "问题：兼职员工有多少天年假？"),
        ("Rewritten question: 兼职员工有多少天年假？", "兼职员工有多少天年假？"),
        ("", None),
        ("   ", None),
        ('""', None),
        ("a\nb", None),
    ],
)
def test_clean_rewrite(reply: str, cleaned: str | None) -> None:
    assert clean_rewrite(reply) == cleaned


# --- through the service -------------------------------------------------------------------------------
@pytest.fixture
def llm_service(service_factory, tgi) -> NeedleService:
    url, _ = tgi
    service = service_factory(llm_api="tgi", llm_url=url, llm_timeout_seconds=2)
    service.ingest_file(HANDBOOK / "leave-policy.md")
    return service


def _answer_or_rewrite(messages: list[dict[str, Any]]) -> str:
    if _is_rewrite(messages):
        return REWRITTEN
    number = re.search(r'<passage id="(\d+)"', messages[-1]["content"])
    return f"Part-time employees get vacation days pro rata [{number.group(1) if number else 1}]."


def test_service_searches_with_the_llm_rewrite(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.reply = _answer_or_rewrite
    answer = llm_service.ask(PART_TIMERS, history=THREAD)
    trace = llm_service.get_trace(answer.trace_id)
    assert trace["retrieval_query"] == REWRITTEN
    assert trace["question"] == PART_TIMERS  # the employee's words are what the answer is about
    rewrites = [_is_rewrite(request["body"]["messages"]) for request in state.requests]
    assert rewrites[0] and rewrites.count(True) == 1  # one short call, before the search


def test_service_falls_back_to_the_heuristic_when_the_llm_fails(llm_service: NeedleService, tgi) -> None:
    _, state = tgi
    state.mode = "error"
    answer = llm_service.ask(PART_TIMERS, history=THREAD)
    assert llm_service.get_trace(answer.trace_id)["retrieval_query"] == f"{VACATION} {BY_WHEN} {PART_TIMERS}"


def test_service_without_llm_uses_the_heuristic(service_factory) -> None:
    service = service_factory()
    service.ingest_file(HANDBOOK / "leave-policy.md")
    answer = service.ask(PART_TIMERS, history=THREAD)
    assert service.get_trace(answer.trace_id)["retrieval_query"] == f"{VACATION} {BY_WHEN} {PART_TIMERS}"
    assert "pro rata" in " ".join(passage.content for passage in answer.passages[:3])


# --- the setting ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "questions"),
        ({"NEEDLE_SLACK_FOLLOWUPS": "all"}, "all"),
        ({"NEEDLE_SLACK_FOLLOWUPS": "mention-only"}, "mention-only"),
        ({"NEEDLE_SLACK_THREAD_FOLLOWUPS": "true"}, "questions"),
        ({"NEEDLE_SLACK_THREAD_FOLLOWUPS": "false"}, "mention-only"),
        ({"NEEDLE_SLACK_THREAD_FOLLOWUPS": "false", "NEEDLE_SLACK_FOLLOWUPS": "all"}, "all"),
    ],
)
def test_followups_setting_and_its_older_boolean(monkeypatch, settings_factory, env, expected) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert settings_factory().slack_followups == expected


def test_followups_setting_rejects_other_values(monkeypatch, settings_factory) -> None:
    from pipelines.base.settings import SettingsError

    monkeypatch.setenv("NEEDLE_SLACK_FOLLOWUPS", "sometimes")
    with pytest.raises(SettingsError, match="NEEDLE_SLACK_FOLLOWUPS"):
        settings_factory()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello Needle :wave:", "greeting"),
        ("good morning!", "greeting"),
        ("hey there, how are you?", "greeting"),
        ("你好", "greeting"),
        ("thanks!", "thanks"),
        ("hey, thanks!", "thanks"),
        ("thank you so much for the help 🙏", "thanks"),
        ("谢谢", "thanks"),
        ("ok great", "acknowledgement"),
        ("got it, bye", "acknowledgement"),
        ("收到👍", "acknowledgement"),
        ("hi, how many vacation days do I get?", None),
        ("thanks, and for part-timers?", None),
        ("hello, is the VPN down?", None),
        ("你好，年假有几天", None),
        ("haha nice, see you at lunch", None),
        ("help", None),
        ("👍", None),
    ],
)
def test_small_talk(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind

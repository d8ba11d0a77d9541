"""Leak probes through the real Slack bot: restricted sources never reach anyone outside their audience.

The corpus is the core's leak corpus (``tests/data/restricted``: board minutes for ``#board``, salary
bands for the HR user group, HR case notes for one person) beside public handbook documents. Every probe
drives the real Bolt app over signed HTTP as Slack would (mentions in a public, a private and the board
channel, DMs, ephemeral ``/needle`` answers, a channel whose answers are ephemeral by default, "Share in
channel", the App Home, ``/needle sources``, a new assistant thread's suggested prompts), with memberships
served by the local Slack stand-in (``usergroups.users.list``, ``conversations.members``). For each probe
everything the bot sent to Slack (messages, edits, streams, ephemerals, response-URL posts, views,
prompts, statuses) is checked for the secret strings, titles and file names of every restricted source
that probe's reader may not see, and so is the log; the answer's trace must show the viewer the bot
built (private or not) and no passage outside the reader's rights. Positive controls make sure a probe
could see a leak: readers inside an audience do get the restricted source.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from bot import blocks
from pipelines.records.audience import ADMIN
from pipelines.records.channel_settings import ChannelChange
from pipelines.service.facade import NeedleService
from tests.bot.conftest import running_bot
from tests.bot.replies import trace_of
from tests.bot.slack_api import SlackState
from tests.bot.slack_requests import message
from tests.conftest import HANDBOOK, make_settings
from tests.core.test_audiences import RESTRICTED, SECRETS

BOARD, SALARY, CASE = "board-minutes-2026-q3.md", "salary-bands-2027.md", "hr-case-notes.md"
#: Slack's view of the workspace: who is in which user group and channel.
USERGROUPS = {"S0HR": ["U0HR"]}
CHANNEL_MEMBERS = {"C0BOARD": ["U0BOB", "U0DANA"], "C0GENERAL": ["U0ZED", "U0HR", "U0BOB", "U0DANA"]}
#: One question per restricted document in the default run; every question under ``-m slow``.
FIRST_QUESTIONS = [questions[0] for _, _, questions in SECRETS.values()]
ALL_QUESTIONS = [question for _, _, questions in SECRETS.values() for question in questions]


@pytest.fixture(scope="module")
def leak_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    service = NeedleService(make_settings(tmp_path_factory.mktemp("leaks")))
    for name in ("leave-policy.md", "benefits-overview.docx"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    for name, (audience, _, _) in SECRETS.items():
        result = service.ingest_file(RESTRICTED / name, audience=audience, uploaded_by="hr-admin")
        assert result.status == "indexed", result
    yield service
    service.close()


@dataclass
class Probes:
    """Runs probes against one bot and counts them."""

    bot: object
    service: NeedleService
    caplog: pytest.LogCaptureFixture
    count: int = 0
    #: file name -> the strings that would give it away: its secrets, title and file name
    tells: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        titles = {s.file_name: s.title for s in self.service.list_sources(ADMIN)}
        self.tells = {name: [*secrets, titles[name], name] for name, (_, secrets, _) in SECRETS.items()}

    def run(
        self,
        name: str,
        allowed: set[str],
        action: Callable[[], None],
        private: bool | None = None,
        asked: list[str] | None = None,
        weight: int = 1,
    ) -> str:
        """Do ``action``, wait for the bot, and check everything it sent; returns that text.

        :param asked: questions the reader typed; a secret in them (an ephemeral answer repeats the
            question, the App Home lists the user's questions) is not a leak.
        :param weight: how many probes this is (one per question asked).
        """
        slack: SlackState = self.bot.slack
        start, log_start = len(slack.calls), len(self.caplog.records)
        action()
        self.bot.settle()
        sent = [c for c in slack.calls[start:] if c.method not in ("auth.test",)]
        text = "\n".join(json.dumps(c.args, ensure_ascii=False) for c in sent)
        logged = "\n".join(r.getMessage() for r in self.caplog.records[log_start:])
        for file_name, tells in self.tells.items():
            if file_name in allowed:
                continue
            leaked = [tell for tell in tells if tell in text and not any(tell in q for q in asked or [])]
            assert leaked == [], f"{name}: sent {leaked} from {file_name} to Slack"
            logs = [tell for tell in tells if tell in logged and not any(tell in q for q in asked or [])]
            assert logs == [], f"{name}: logged {logs} from {file_name}"
        for trace_id in {trace_of(c.args.get("blocks") or []) for c in sent} - {None}:
            trace = self.service.get_trace(trace_id)
            used = {passage["meta"]["file_name"] for passage in trace["passages"]}
            assert used & set(SECRETS) <= allowed, f"{name}: the answer used {used}"
            if private is not None:
                assert trace["viewer"]["private"] is private, f"{name}: viewer {trace['viewer']}"
        self.count += weight
        return text

    def shows(self, text: str, file_name: str) -> bool:
        """Whether ``text`` gives ``file_name`` away (a positive control's check)."""
        return any(tell in text for tell in self.tells[file_name])


@pytest.fixture
def probes(leak_service, slack_api, caplog) -> Iterator[Probes]:
    caplog.set_level(logging.INFO)
    slack_api.usergroups = {group: list(users) for group, users in USERGROUPS.items()}
    slack_api.channel_members = {channel: list(users) for channel, users in CHANNEL_MEMBERS.items()}
    with running_bot(leak_service, slack_api, slack_rate_limit_per_minute=1000) as bot:
        yield Probes(bot, leak_service, caplog)


def mention_each(bot, channel: str, user: str, questions: list[str]) -> Callable[[], None]:
    def send() -> None:
        for question in questions:
            ts = bot.slack.add_user_message(channel, user, f"<@UBOT> {question}")
            event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {question}", "ts": ts}
            assert bot.send.event({**event, "channel": channel}).status_code == 200

    return send


def dm_each(bot, user: str, questions: list[str]) -> Callable[[], None]:
    def send() -> None:
        for question in questions:
            ts = bot.slack.add_user_message(f"D{user}", user, question)
            event = message(f"D{user}", user, question, ts, channel_type="im")
            assert bot.send.event(event).status_code == 200

    return send


def slash_each(bot, channel: str, user: str, questions: list[str]) -> Callable[[], None]:
    def send() -> None:
        for question in questions:
            assert bot.send.command(question, user=user, channel=channel).status_code == 200

    return send


def home(bot, user: str) -> Callable[[], None]:
    def send() -> None:
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
        assert bot.send.event(event).status_code == 200

    return send


def sources_in(bot, channel: str, user: str) -> Callable[[], None]:
    return lambda: bot.send.command("sources", user=user, channel=channel)


def thread_started(bot, user: str) -> Callable[[], None]:
    def send() -> None:
        thread = {"user_id": user, "channel_id": f"D{user}", "thread_ts": "1700000000.000100", "context": {}}
        event = {"type": "assistant_thread_started", "assistant_thread": thread, "event_ts": "1.2"}
        assert bot.send.event(event).status_code == 200

    return send


def run_all(probes: Probes, questions: list[str]) -> None:
    bot = probes.bot
    channels = bot.runtime.channels
    channels.set("C0EPHEMERAL", ChannelChange(ephemeral=True), actor="test")

    answers = {
        # Answers posted for everyone in a channel: only that channel's sources, whoever asks.
        ("public channel", False): (set(), mention_each(bot, "C0GENERAL", "U0DANA", questions)),
        ("private channel", False): (set(), mention_each(bot, "G0PRIVATE", "U0HR", questions)),
        ("board channel", False): ({BOARD}, mention_each(bot, "C0BOARD", "U0HR", questions)),
        # Answers for the asker alone: what they may see, through user groups and channels per Slack.
        ("DM, no rights", True): (set(), dm_each(bot, "U0ZED", questions)),
        ("DM, HR member", True): ({SALARY}, dm_each(bot, "U0HR", questions)),
        ("DM, Dana", True): ({CASE, BOARD}, dm_each(bot, "U0DANA", questions)),
        ("slash, no rights", True): (set(), slash_each(bot, "C0GENERAL", "U0ZED", questions)),
        ("slash, board member", True): ({BOARD}, slash_each(bot, "C0GENERAL", "U0BOB", questions)),
        ("ephemeral channel, HR", True): ({SALARY}, mention_each(bot, "C0EPHEMERAL", "U0HR", questions)),
    }
    seen = {
        name: probes.run(name, allowed, action, private=private, asked=questions, weight=len(questions))
        for (name, private), (allowed, action) in answers.items()
    }
    # Positive controls: inside an audience, the restricted source does come back.
    for (name, _), (allowed, _) in answers.items():
        for file_name in allowed:
            assert probes.shows(seen[name], file_name), f"{name}: {file_name} was not answered from"

    # Share: the HR member's private salary answer may not go to #general.
    start = len(bot.slack.calls)
    slash_each(bot, "C0GENERAL", "U0HR", [SECRETS[SALARY][2][0]])()
    bot.settle()
    answer = next(
        c.args
        for c in bot.slack.calls[start:]
        if c.method == "response_url" and trace_of(c.args.get("blocks"))
    )
    trace_id = trace_of(answer["blocks"])

    def share() -> None:
        bot.send.click(blocks.SHARE_ANSWER, trace_id, user="U0HR", channel="C0GENERAL")

    refused = probes.run("share of a salary answer in #general", {SALARY}, share)
    assert "in_channel" not in refused and "can't share" in refused
    posted = [c for c in bot.slack.calls[start:] if c.args.get("response_type") == "in_channel"]
    assert posted == []

    # Lists of sources: only what the reader may see.
    # The App Home lists the user's own last questions: what they typed is not a leak.
    probes.run("App Home, no rights", set(), home(bot, "U0ZED"), asked=questions)
    hr_home = probes.run("App Home, HR member", {SALARY}, home(bot, "U0HR"), asked=questions)
    assert probes.shows(hr_home, SALARY)
    probes.run("sources in #general, HR member", set(), sources_in(bot, "C0GENERAL", "U0HR"))
    board_list = probes.run("sources in #board, board member", {BOARD}, sources_in(bot, "C0BOARD", "U0BOB"))
    assert probes.shows(board_list, BOARD)
    probes.run("sources in a DM, no rights", set(), sources_in(bot, "DU0ZED", "U0ZED"))
    probes.run("assistant prompts, no rights", set(), thread_started(bot, "U0ZED"))


@pytest.mark.slow  # over 8 s: kept out of the 10-minute default suite; CI runs it with the slow tests
def test_no_restricted_source_reaches_anyone_outside_its_audience(probes: Probes) -> None:
    run_all(probes, FIRST_QUESTIONS)
    print(f"\nSlack leak probes: {probes.count} probes, 0 leaks")
    assert probes.count == 9 * len(FIRST_QUESTIONS) + 7


@pytest.mark.slow
def test_every_restricted_question_in_every_face(probes: Probes) -> None:
    run_all(probes, ALL_QUESTIONS)
    print(f"\nSlack leak probes (every question): {probes.count} probes, 0 leaks")
    assert probes.count == 9 * len(ALL_QUESTIONS) + 7

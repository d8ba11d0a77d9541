"""The leak sweeps every connector's end-to-end test runs through the Slack bot and the console's View as.

A sweep asks one question whose answer is only in a restricted document: as people who may read it (the
positive control: a probe that could see a leak) and as people who may not, who must get nothing of it
(not the fact, the title, the URL, a citation or a passage), in what the bot sends to Slack, what it logs,
what the console shows and what the trace keeps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from gradio_client import Client

from pipelines.base.settings import get_settings
from pipelines.service import NeedleService
from tests.admin.conftest import serve
from tests.bot.conftest import running_bot
from tests.bot.slack_api import APP_TOKEN, BOT_TOKEN, SlackState
from tests.bot.slack_requests import message

#: The console's owner, for the View-as sweeps.
ADMIN = ("owner", "a long console password")


def slack_environment(slack: SlackState) -> dict[str, str]:
    """The variables of a deployment on the Slack stand-in (the people directory, ``--as-user``'s
    memberships) with a console password (the console's sweep)."""
    return {
        "NEEDLE_SLACK_BOT_TOKEN": BOT_TOKEN,
        "NEEDLE_SLACK_APP_TOKEN": APP_TOKEN,
        "NEEDLE_SLACK_API_URL": f"{slack.url}/api/",
        "NEEDLE_ADMIN_USERNAME": ADMIN[0],
        "NEEDLE_ADMIN_PASSWORD": ADMIN[1],
    }


def set_environment(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A module's shared world, its variables set again for one test (the suite clears every NEEDLE_
    variable before each test)."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@dataclass(frozen=True)
class Probe:
    """Someone asking the bot: in a DM (``channel`` None, a private answer) or by a mention in
    ``channel`` (an answer everyone in the channel reads)."""

    name: str
    user: str
    channel: str | None = None


def tells_in(text: str, tells: Iterable[str]) -> list[str]:
    return [tell for tell in tells if tell in text]


def sweep_bot(
    service: NeedleService,
    slack: SlackState,
    caplog: pytest.LogCaptureFixture,
    *,
    question: str,
    fact: str,
    tells: Collection[str],
    granted: Iterable[Probe],
    denied: Iterable[Probe],
) -> None:
    """Through the real Bolt app with signed requests: each ``granted`` probe's messages carry ``fact``;
    nothing the bot sends or logs for a ``denied`` probe carries any of ``tells``."""
    caplog.set_level(logging.INFO)
    with running_bot(service, slack, slack_rate_limit_per_minute=1000) as bot:

        def sent_for(probe: Probe) -> str:
            start, log_start = len(slack.calls), len(caplog.records)
            if probe.channel is None:
                ts = slack.add_user_message(f"D{probe.user}", probe.user, question)
                event = message(f"D{probe.user}", probe.user, question, ts, channel_type="im")
            else:
                text = f"<@UBOT> {question}"
                ts = slack.add_user_message(probe.channel, probe.user, text)
                event = {"type": "app_mention", "user": probe.user, "text": text, "ts": ts}
                event["channel"] = probe.channel
            assert bot.send.event(event).status_code == 200, probe.name
            bot.settle()
            sent = "\n".join(json.dumps(c.args, ensure_ascii=False) for c in slack.calls[start:])
            return sent + "\n" + "\n".join(r.getMessage() for r in caplog.records[log_start:])

        for probe in granted:
            assert fact in sent_for(probe), probe.name  # the positive control
        for probe in denied:
            assert tells_in(sent_for(probe), tells) == [], probe.name


def sweep_console(
    service: NeedleService,
    *,
    question: str,
    fact: str,
    tells: Collection[str],
    restricted: set[str],
    granted: Iterable[tuple[str, str]],
    denied: Iterable[tuple[str, str]],
) -> None:
    """The debugger's "View as" ``(user id, channel id or "")``, through the console's API on a real
    server: each ``granted`` view shows ``fact`` and retrieves a ``restricted`` source; a ``denied`` view
    shows none of ``tells`` and its trace lists no ``restricted`` source at any stage."""
    console = serve(service)
    client = Client(console.url, auth=ADMIN, verbose=False)
    try:

        def view_as(user: str, channel: str) -> tuple[str, dict[str, Any]]:
            out = client.predict(
                question,
                [],
                [],
                200,
                200,
                5,
                "weighted",
                60,
                1.0,
                0.75,
                False,
                user,
                channel,
                api_name="/debug_query",
            )
            trace = service.get_trace(out[0])
            assert trace is not None and trace["viewer"]["user_id"] == user
            assert trace["viewer"]["private"] is (not channel)
            shown = json.dumps(out, ensure_ascii=False) + json.dumps(trace, ensure_ascii=False, default=str)
            return shown, trace

        for user, channel in granted:
            shown, trace = view_as(user, channel)
            assert fact in shown and restricted & {p["meta"]["source_id"] for p in trace["passages"]}, user
        for user, channel in denied:
            shown, trace = view_as(user, channel)
            assert tells_in(shown, tells) == [], (user, channel)
            listed = {
                item["source_id"] for key in ("bm25", "dense", "fused") for item in trace.get(key) or []
            } | {p["meta"]["source_id"] for p in trace["passages"]}
            assert not listed & restricted, (user, channel)
    finally:
        client.close()
        console.stop()

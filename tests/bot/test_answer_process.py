"""The bot as a server runs it in HTTP mode: Bolt and its answers in a child process, acks in the server's.

One deployed app (``build_server``, as ``needle serve`` and ``python -m bot`` build it) with the default
``NEEDLE_SLACK_ANSWER_PROCESS``, the real core on the embedded store, the local Slack stand-in: a mention
is acknowledged by the server's process and answered by the child (which writes the trace the server's
process then reads: they share the data directory, nothing else); a slash command's reply comes back
across the process boundary; a forged event never reaches the child; and a child killed with SIGKILL is
replaced by the next request, which is answered.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from bot.http import EVENTS_PATH
from bot.process import ChildProcessDispatcher
from pipelines.server import build_server
from pipelines.service import NeedleService
from tests.bot.conftest import slack_overrides
from tests.bot.replies import trace_of, wait_answers
from tests.bot.slack_api import SlackState, slack_api_server
from tests.bot.slack_requests import event_envelope, mention, signed_headers
from tests.conftest import HANDBOOK
from tests.support.uvicorn_server import start as start_server

VACATION = "How many vacation days do I get?"


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, SlackState, NeedleService, ChildProcessDispatcher]]:
    from tests.conftest import make_settings

    with slack_api_server() as slack:
        settings = make_settings(
            tmp_path_factory.mktemp("child"), **slack_overrides(slack, slack_answer_process=True)
        )
        service = NeedleService(settings)
        assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
        app, mounted = build_server(service, {"bot"})
        assert mounted == ["bot"]
        server = start_server(app)  # returns once startup ran: the child is built and ready
        try:
            yield f"{server.base_url}{EVENTS_PATH}", slack, service, app.state.slack_dispatcher
        finally:
            server.stop()
            service.close()


def _post_event(url: str, event: dict, **headers: str) -> httpx.Response:
    body = json.dumps(event_envelope(event))
    return httpx.post(
        url,
        content=body.encode(),
        headers={"Content-Type": "application/json", **signed_headers(body), **headers},
        timeout=30,
    )


def test_a_mention_is_acknowledged_here_and_answered_by_the_child(deployed) -> None:
    url, slack, service, child = deployed
    assert child.child_pid() != os.getpid()
    ts = slack.add_user_message("C1", "U1", f"<@UBOT> {VACATION}")
    started = time.monotonic()
    assert _post_event(url, mention("C1", "U1", VACATION, ts)).status_code == 200
    acked = time.monotonic() - started
    [answer] = wait_answers(slack, "C1", 1)
    assert "25" in answer["text"]
    assert acked < 1.0  # the ack did not wait for the answer (seconds on this machine)
    # The child wrote the trace into the shared data directory; this process reads it.
    trace = service.get_trace(trace_of(answer["blocks"]))
    assert trace is not None and trace["question"] == VACATION


def test_a_slash_command_reply_crosses_the_process_boundary(deployed) -> None:
    url, slack, _service, _child = deployed
    body = urlencode(
        {
            "command": "/needle",
            "text": "help",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T0TEST",
            "response_url": f"{slack.url}/response/help",
            "trigger_id": "t1",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    reply = httpx.post(url, content=body.encode(), headers=headers, timeout=30)
    assert reply.status_code == 200 and "How to use Needle" in reply.text


def test_a_forged_event_is_refused_before_the_child(deployed) -> None:
    url, slack, _service, _child = deployed
    ts = slack.add_user_message("CFORGED", "U1", f"<@UBOT> {VACATION}")
    body = json.dumps(event_envelope(mention("CFORGED", "U1", VACATION, ts)))
    headers = {"Content-Type": "application/json", **signed_headers(body, secret="not-the-secret")}
    assert httpx.post(url, content=body.encode(), headers=headers, timeout=30).status_code == 401
    slack.settle(quiet=1.0, timeout=10)
    assert not [call for call in slack.calls if call.args.get("channel") == "CFORGED"]


def test_a_killed_child_is_replaced_by_the_next_request(deployed) -> None:
    url, slack, _service, child = deployed
    os.kill(child.child_pid(), signal.SIGKILL)
    ts = slack.add_user_message("C2", "U2", f"<@UBOT> {VACATION}")
    assert _post_event(url, mention("C2", "U2", VACATION, ts)).status_code == 200
    [answer] = wait_answers(slack, "C2", 1, timeout=120)  # a new child loads the core first
    assert "25" in answer["text"]
    assert child.child_pid() != os.getpid()

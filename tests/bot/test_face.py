"""``bot.face.mount`` as ``needle serve`` uses it: off, HTTP mode, and Socket Mode against a local server."""

from __future__ import annotations

import logging
import time

from fastapi.testclient import TestClient

from bot import messages
from pipelines.app.server import create_app
from tests.bot.conftest import ingest_bot_files, slack_overrides
from tests.bot.slack_api import BOT_TOKEN
from tests.bot.slack_requests import event_envelope, signed_headers
from tests.bot.socket_server import socket_mode_server
from tests.bot.test_mentions import VACATION, bot_message_ts, final_answer, mention


def test_without_a_token_the_bot_is_off(empty_service, caplog):
    from bot.face import mount

    caplog.set_level(logging.INFO, logger="bot")
    app = create_app(empty_service)
    mount(app, empty_service)
    with TestClient(app) as client:
        assert client.post("/slack/events", content=b"{}").status_code in (404, 405)
    assert "Slack bot is off" in caplog.text


def test_http_mode_answers_url_verification_and_checks_signatures(service_factory, slack_api):
    from bot.face import mount

    service = service_factory(**slack_overrides(slack_api))
    app = create_app(service)
    mount(app, service)
    body = '{"type": "url_verification", "token": "legacy", "challenge": "c-123"}'
    with TestClient(app) as client:
        ok = client.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": "application/json", **signed_headers(body)},
        )
        assert ok.status_code == 200 and ok.json() == {"challenge": "c-123"}
        forged = client.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": "application/json", **signed_headers(body, secret="wrong")},
        )
        assert forged.status_code == 401


def test_socket_mode_acks_envelopes_and_answers(service_factory, slack_api):
    from bot.face import mount

    with socket_mode_server() as socket:
        slack_api.socket_url = socket.url
        service = service_factory(
            **slack_overrides(slack_api, slack_mode="socket", slack_signing_secret=None)
        )
        ingest_bot_files(service, {"leave-policy.md": []})
        app = create_app(service)
        mount(app, service)
        with TestClient(app):  # starting the server connects to Socket Mode
            assert socket.connected.wait(10)
            assert slack_api.of("apps.connections.open")
            ts = slack_api.add_user_message("C1", "U1", VACATION)
            socket.send("events_api", event_envelope(mention("C1", "U1", VACATION, ts)), "env-1")
            delay, ack = socket.wait_ack("env-1")
            assert delay < 1.0 and ack == {"envelope_id": "env-1"}

            command = {
                "command": "/needle",
                "text": "help",
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": "T0TEST",
                "response_url": f"{slack_api.url}/response/socket",
                "trigger_id": "t1",
            }
            socket.send("slash_commands", command, "env-2")
            delay, ack = socket.wait_ack("env-2")
            assert delay < 1.0 and "How to use Needle" in str(ack["payload"])

            placeholder = slack_api.wait_for(lambda s: s.of("chat.postMessage"))[0]
            assert placeholder.args["thread_ts"] == ts and placeholder.args["text"] == messages.PLACEHOLDER
            answer = final_answer(slack_api, "C1", bot_message_ts(slack_api, "C1"))
            assert "25" in answer["text"]
            app.state.slack_runtime.wait_idle(30)


def test_a_revoked_token_leaves_the_server_up_says_why_and_the_bot_comes_up_when_slack_answers(
    service_factory, slack_api, caplog
):
    from bot.face import mount

    slack_api.failures["auth.test"] = "token_revoked"
    service = service_factory(**slack_overrides(slack_api))
    app = create_app(service)
    mount(app, service)
    start = app.state.slack_start
    start.first_retry_seconds = 0.2  # the backoff's first step, shortened for the test
    body = '{"type": "url_verification", "token": "legacy", "challenge": "c-9"}'
    headers = {"Content-Type": "application/json"}
    with TestClient(app) as client:  # the server started although Slack refused the token
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"]["ok"]
        slack = ready.json()["checks"]["slack"]
        assert not slack["ok"] and "token_revoked" in slack["error"] and "SLACK_BOT_TOKEN" in slack["error"]
        assert BOT_TOKEN not in ready.text
        refused = client.post("/slack/events", content=body, headers={**headers, **signed_headers(body)})
        assert refused.status_code == 503  # Slack retries; nothing is lost

        calls = len(slack_api.of("auth.test"))
        slack_api.wait_for(lambda s: len(s.of("auth.test")) >= calls + 2, timeout=10)  # retried, by itself
        del slack_api.failures["auth.test"]
        slack_api.wait_for(lambda _: client.get("/readyz").json()["checks"]["slack"]["ok"], timeout=15)
        assert client.get("/readyz").status_code == 200
        ok = client.post("/slack/events", content=body, headers={**headers, **signed_headers(body)})
        assert ok.status_code == 200 and ok.json() == {"challenge": "c-9"}
    assert caplog.text.count("Slack bot not started: Slack refused the bot token (token_revoked)") == 1


def test_an_unreachable_slack_is_retried_with_backoff_and_said_in_words():
    from itertools import islice

    from bot.startup import MAX_RETRY_SECONDS, SlackStart, retry_delays

    assert list(islice(retry_delays(1.0, MAX_RETRY_SECONDS), 8)) == [1, 2, 4, 8, 16, 32, 60, 60]

    clock = [0.0]
    attempts: list[float] = []

    def check() -> None:
        attempts.append(clock[0])
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    start = SlackStart(check, build=lambda: None, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    assert not start.attempt() and not start.attempt()
    assert start.readiness() == {
        "ok": False,
        "error": "Slack cannot be reached (ConnectionRefusedError); retrying",
        "attempts": 2,
    }
    start.first_retry_seconds, start.max_retry_seconds = 0.01, 0.04
    start.start()
    deadline = time.monotonic() + 5
    while len(attempts) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    start.stop()
    assert len(attempts) >= 8 and not start.ready
    assert "retry_in_seconds" in start.readiness()

"""``bot.face.mount`` as ``needle serve`` uses it: off, HTTP mode, and Socket Mode against a local server."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from bot import messages
from pipelines.server import create_app
from tests.bot.conftest import ingest_bot_files, slack_overrides
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

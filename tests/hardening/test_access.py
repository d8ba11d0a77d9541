"""Access: nobody reaches the bot or the console without proving who they are.

``tests/admin/test_api.py`` already checks every console event endpoint against an anonymous caller on a
console served alone. Here the whole of ``needle serve`` runs as deployed (the Slack bot in HTTP mode and
the admin console on one app, one port), and the checks go further: a failed login or a forged cookie
opens nothing, Gradio's file route serves nothing to strangers, and every way of getting a Slack
signature wrong (bad, stale, future, missing, for another body, wrong version) gets 401 with nothing
posted to Slack, on events, slash commands and button clicks alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.http import EVENTS_PATH
from pipelines.app.server import build_server
from pipelines.service.facade import NeedleService
from tests.bot.conftest import slack_overrides
from tests.bot.slack_api import SlackState, slack_api_server
from tests.bot.slack_requests import SIGNING_SECRET, event_envelope, mention, signed_headers
from tests.conftest import HANDBOOK
from tests.support.uvicorn_server import start as start_server

ADMIN_USER = "it-admin"
ADMIN_PASSWORD = "a long and unguessable passphrase"


@dataclass
class Deployed:
    url: str
    slack: SlackState
    service: NeedleService

    @property
    def admin(self) -> str:
        return f"{self.url}/admin/"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from tests.conftest import make_settings

    with slack_api_server() as slack:
        settings = make_settings(
            tmp_path_factory.mktemp("deployed"),
            admin_username=ADMIN_USER,
            admin_password=ADMIN_PASSWORD,
            **slack_overrides(slack),
        )
        service = NeedleService(settings)
        assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
        app, mounted = build_server(service)
        assert sorted(mounted) == ["admin", "bot"]
        server = start_server(app)
        try:
            yield Deployed(server.base_url, slack, service)
        finally:
            runtime = getattr(app.state, "slack_runtime", None)
            if runtime is not None:
                runtime.wait_idle(30)
            server.stop()
            if runtime is not None:
                runtime.shutdown()
            service.close()


def _posted(slack: SlackState) -> list[str]:
    """Every call the bot made to Slack that shows something to someone."""
    return [
        call.method
        for call in slack.calls
        if call.method.startswith(("chat.", "views.")) or call.method == "response_url"
    ]


# ------------------------------------------------------------------------------------------------------
# Slack request verification
# ------------------------------------------------------------------------------------------------------
def _bodies() -> dict[str, tuple[str, str]]:
    event = json.dumps(event_envelope(mention("C1", "U1", "How many vacation days do I get?", "1.000100")))
    command = urlencode(
        {
            "command": "/needle",
            "text": "How many vacation days do I get?",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T0TEST",
            "response_url": "http://127.0.0.1:9/response/x",
            "trigger_id": "t",
        }
    )
    click = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "team": {"id": "T0TEST"},
                    "user": {"id": "U1"},
                    "api_app_id": "A0TEST",
                    "trigger_id": "t",
                    "channel": {"id": "C1"},
                    "response_url": "http://127.0.0.1:9/response/y",
                    "container": {"type": "message", "is_ephemeral": True, "channel_id": "C1"},
                    "actions": [
                        {"type": "button", "action_id": "feedback_up", "block_id": "b", "value": "x"}
                    ],
                }
            )
        }
    )
    return {
        "event": (event, "application/json"),
        "slash_command": (command, "application/x-www-form-urlencoded"),
        "button_click": (click, "application/x-www-form-urlencoded"),
    }


def _forgeries(body: str) -> dict[str, dict[str, str]]:
    now = int(time.time())
    good = signed_headers(body)
    return {
        "bad_signature": signed_headers(body, secret="not-the-secret"),
        "stale_timestamp_301s": signed_headers(body, timestamp=now - 301),
        "stale_timestamp_1h": signed_headers(body, timestamp=now - 3600),
        # Slack's verifier compares with the current time as a float: a whole-second stamp 301 s ahead
        # is only 300.x s ahead once the clock ticks into the next second, so probe 302 s ahead.
        "future_timestamp_302s": signed_headers(body, timestamp=now + 302),
        "missing_signature": {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]},
        "missing_timestamp": {"X-Slack-Signature": good["X-Slack-Signature"]},
        "missing_both": {},
        "signed_for_another_body": signed_headers(body + " "),
        "wrong_version_prefix": {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        "empty_signature": {**good, "X-Slack-Signature": ""},
    }


KINDS = sorted(_bodies())
FORGERIES = sorted(_forgeries("x"))


def test_forged_slack_requests_get_401_and_nothing_is_posted(
    deployed: Deployed, record_figure: Callable[[str, str, Any], None]
) -> None:
    slack = deployed.slack
    slack.settle(quiet=0.3)
    before = len(_posted(slack))
    refused = 0
    with httpx.Client(base_url=deployed.url, timeout=10) as http:
        for kind, (body, content_type) in _bodies().items():
            for forgery in FORGERIES:
                headers = _forgeries(body)[forgery]  # signed just before sending, as the clock matters
                response = http.post(
                    EVENTS_PATH, content=body.encode(), headers={"Content-Type": content_type, **headers}
                )
                assert response.status_code == 401, (kind, forgery, response.status_code)
                refused += 1
        slack.settle(quiet=0.5)
        assert _posted(slack)[before:] == []

        # The control: the same event, signed correctly, is answered (so the refusals above mean something).
        answered = len(_final_answers(slack))
        body, content_type = _bodies()["event"]
        fresh = json.dumps(
            event_envelope(mention("C1", "U1", "How many vacation days do I get?", "2.000100"))
        )
        ok = http.post(
            EVENTS_PATH,
            content=fresh.encode(),
            headers={"Content-Type": content_type, **signed_headers(fresh)},
        )
        assert ok.status_code == 200
        # Wait for the final answer (it ends with the feedback buttons), not just the placeholder, so that
        # its update does not land in the next test's count.
        slack.wait_for(lambda s: len(_final_answers(s)) > answered)
    record_figure("access", "forged Slack requests refused (401, nothing posted)", refused)


def _final_answers(slack: SlackState) -> list:
    return [c for c in slack.of("chat.update") if (c.args.get("blocks") or [{}])[-1].get("type") == "actions"]


def test_a_non_numeric_timestamp_gets_401(deployed: Deployed) -> None:
    body, content_type = _bodies()["event"]
    headers = {**signed_headers(body), "X-Slack-Request-Timestamp": "yesterday"}
    deployed.slack.settle(quiet=0.5)  # anything an earlier test started has finished posting
    before = len(_posted(deployed.slack))
    with httpx.Client(base_url=deployed.url, timeout=10) as http:
        response = http.post(
            EVENTS_PATH, content=body.encode(), headers={"Content-Type": content_type, **headers}
        )
    deployed.slack.settle(quiet=0.3)
    assert _posted(deployed.slack)[before:] == []
    assert response.status_code == 401


def test_signing_secret_is_what_the_deployment_uses(deployed: Deployed) -> None:
    secret = deployed.service.settings.slack_signing_secret
    assert secret is not None and secret.get_secret_value() == SIGNING_SECRET


# ------------------------------------------------------------------------------------------------------
# the admin console inside the deployed app
# ------------------------------------------------------------------------------------------------------
def _login(http: httpx.Client, password: str) -> httpx.Response:
    return http.post("login", data={"username": ADMIN_USER, "password": password})


def _dependencies(deployed: Deployed) -> list[dict[str, Any]]:
    with httpx.Client(base_url=deployed.admin, timeout=10) as http:
        assert _login(http, ADMIN_PASSWORD).status_code == 200
        config = http.get("config")
        assert config.status_code == 200
        return config.json()["dependencies"]


def _refused(http: httpx.Client, dependencies: list[dict[str, Any]]) -> int:
    """Call every event endpoint in every way Gradio offers; each must be refused. Returns how many."""
    count = 0
    for path in ("config", "gradio_api/info", "gradio_api/openapi.json"):
        assert http.get(path).status_code in (401, 403), path
        count += 1
    for dep in dependencies:
        if dep.get("api_name"):
            response = http.post(f"gradio_api/call/{dep['api_name']}", json={"data": []})
            assert response.status_code in (401, 403), dep["api_name"]
            count += 1
        response = http.post(
            "gradio_api/queue/join",
            json={"data": [], "fn_index": dep["id"], "session_hash": "intruder", "event_data": None},
        )
        assert response.status_code in (401, 403), dep["id"]
        count += 1
    upload = http.post("gradio_api/upload", files={"files": ("x.md", b"# intruder\nupload")})
    assert upload.status_code in (401, 403)
    return count + 1


@pytest.mark.slow
def test_console_in_the_deployed_app_refuses_anonymous_wrong_password_and_forged_cookies(
    deployed: Deployed, record_figure: Callable[[str, str, Any], None]
) -> None:
    dependencies = _dependencies(deployed)
    assert len(dependencies) >= 6
    before = deployed.service.store.generation_files()
    refused = 0
    with httpx.Client(base_url=deployed.admin, timeout=10) as anonymous:
        refused += _refused(anonymous, dependencies)
    with httpx.Client(base_url=deployed.admin, timeout=10) as wrong:
        assert _login(wrong, ADMIN_PASSWORD.upper()).status_code >= 400
        refused += _refused(wrong, dependencies)  # whatever a failed login set, it opens nothing
    forged_cookies = {"access-token": "forged", "access-token-unsecure": "forged"}
    with httpx.Client(base_url=deployed.admin, timeout=10, cookies=forged_cookies) as forged:
        refused += _refused(forged, dependencies)
    assert deployed.service.store.generation_files() == before
    record_figure(
        "access", "admin endpoint calls refused (anonymous, wrong password, forged cookie)", refused
    )


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../etc/passwd", "pipelines/base/settings.py"])
def test_gradio_file_route_serves_no_file_to_strangers_or_admins(deployed: Deployed, path: str) -> None:
    with httpx.Client(base_url=deployed.admin, timeout=10) as http:
        assert http.get(f"gradio_api/file={path}").status_code in (401, 403, 404)
        assert _login(http, ADMIN_PASSWORD).status_code == 200
        response = http.get(f"gradio_api/file={path}")
        assert response.status_code in (403, 404), (path, response.status_code)
        assert "root:" not in response.text


def test_the_public_endpoints_are_only_health_checks(deployed: Deployed) -> None:
    with httpx.Client(base_url=deployed.url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/docs").status_code == 404 and http.get("/openapi.json").status_code == 404
        assert http.get(EVENTS_PATH).status_code == 405  # Slack posts; nothing to read there

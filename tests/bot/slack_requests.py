"""Requests as Slack sends them to an app: signed Events API, slash-command and interactivity posts."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.bot.slack_api import TEAM_ID

SIGNING_SECRET = "test-signing-secret"
_ids = itertools.count(1)


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body),
    }


class SlackSender:
    """Posts to ``{base}/slack/events`` the way Slack's servers do."""

    def __init__(self, events_url: str, response_base: str) -> None:
        self.url = events_url
        self.response_base = response_base
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def post(self, body: str, content_type: str, **header_args: Any) -> httpx.Response:
        extra = header_args.pop("headers", {})
        headers = {"Content-Type": content_type, **signed_headers(body, **header_args), **extra}
        return self.http.post(self.url, content=body.encode(), headers=headers)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        **header_args: Any,
    ) -> httpx.Response:
        body = json.dumps(event_envelope(event, event_id))
        if retry is not None:
            header_args["headers"] = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, "application/json", **header_args)

    def command(
        self, text: str, *, user: str = "U1", channel: str = "C1", command: str = "/needle"
    ) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "response_url": f"{self.response_base}/response/cmd-{next(_ids)}",
            "trigger_id": f"trigger-{next(_ids)}",
            "api_app_id": "A0TEST",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U1",
        channel: str = "C1",
        message: dict | None = None,
    ) -> httpx.Response:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "api_app_id": "A0TEST",
            "trigger_id": f"trigger-{next(_ids)}",
            "channel": {"id": channel},
            "response_url": f"{self.response_base}/response/action-{next(_ids)}",
            "container": {"type": "message", "is_ephemeral": message is None, "channel_id": channel},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value}],
        }
        if message is not None:
            payload["message"] = message
            payload["container"]["message_ts"] = message["ts"]
        return self.interaction(payload)


def event_envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
        "event": event,
    }


def mention(channel: str, user: str, text: str, ts: str, thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": channel}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(
    channel: str,
    user: str,
    text: str,
    ts: str,
    *,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel}
    event["channel_type"] = channel_type
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event

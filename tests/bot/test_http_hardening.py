"""``POST /slack/events`` refuses oversized bodies before anything else (413, the rest unread) and answers
a correctly signed but malformed body with 400 (a forged one with 401), never a 500 with a traceback."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from urllib.parse import urlparse

import pytest

from bot.http import EVENTS_PATH, MAX_BODY_BYTES
from tests.bot.slack_requests import SIGNING_SECRET, signed_headers


def raw_post(url: str, headers: dict[str, str], body_prefix: bytes, timeout: float = 10.0) -> bytes:
    """Send a request's headers and only ``body_prefix`` of its body, then read what the server says.

    A server that tried to read the whole declared body would never answer (the socket times out).
    """
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as sock:
        head = f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
        head += "".join(f"{key}: {value}\r\n" for key, value in headers.items()) + "\r\n"
        sock.sendall(head.encode() + body_prefix)
        return sock.recv(4096)


def test_a_20_mb_unsigned_body_is_refused_from_its_length_without_being_read(start_bot):
    bot = start_bot()
    declared = {"Content-Type": "application/json", "Content-Length": str(20 * 1024 * 1024)}
    reply = raw_post(bot.url, declared, b"{" + b" " * 65_536)
    assert reply.startswith(b"HTTP/1.1 413")
    bot.settle()
    assert not [c for c in bot.slack.calls if c.method.startswith(("chat.", "views."))]


def test_a_chunked_body_is_cut_off_once_over_the_limit(start_bot):
    bot = start_bot()

    def chunks():
        for _ in range(40):  # 2.5 MB in 64 KB chunks; no Content-Length to go by
            yield b" " * 65_536

    response = bot.send.http.post(
        bot.url + EVENTS_PATH, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_a_body_just_under_the_limit_reaches_the_signature_check(start_bot):
    bot = start_bot()
    body = json.dumps({"type": "event_callback", "pad": " " * (MAX_BODY_BYTES - 100)})
    assert len(body) <= MAX_BODY_BYTES
    response = bot.send.post(body, "application/json", secret="not-the-secret")
    assert response.status_code == 401


MALFORMED = {
    "broken JSON": ('{"type": "event_callback", "event": {', "application/json"),
    "JSON list": ("[1, 2, 3]", "application/json"),
    "not UTF-8": (b'{"type": "\xff\xfe"}', "application/json"),
    "form whose payload is not JSON": ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    "event that is a string": ('{"type": "event_callback", "event": "x"}', "application/json"),
    "event that is a list": ('{"type": "event_callback", "event": [1]}', "application/json"),
    "event that is null": ('{"type": "event_callback", "event": null}', "application/json"),
    "authorizations not a list": (
        '{"type": "event_callback", "event": {}, "authorizations": 5}',
        "application/json",
    ),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_signed_malformed_body_gets_400_and_one_log_line(start_bot, caplog, kind):
    bot = start_bot()
    body, content_type = MALFORMED[kind]
    raw = body if isinstance(body, bytes) else body.encode()
    caplog.set_level(logging.WARNING)
    headers = {"Content-Type": content_type, **signed_headers(raw.decode("latin-1"))}
    if isinstance(body, bytes):  # sign the bytes as sent (the helper signs text)
        stamp = headers["X-Slack-Request-Timestamp"]
        digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256)
        headers["X-Slack-Signature"] = f"v0={digest.hexdigest()}"
    response = bot.send.http.post(bot.url + EVENTS_PATH, content=raw, headers=headers)
    assert response.status_code == 400, response.text
    refusals = [
        r for r in caplog.records if "malformed" in r.getMessage() or "whose body is" in r.getMessage()
    ]
    assert len(refusals) == 1 and refusals[0].exc_info is None
    assert "Traceback" not in caplog.text

    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    assert bot.send.http.post(bot.url + EVENTS_PATH, content=raw, headers=forged).status_code == 401

"""``needle serve`` as a real process while Slack refuses the bot token: the server and the admin console
stay up, ``/readyz`` says why in words, and the bot comes up by itself once Slack answers.

The process talks to the local Slack stand-in (``NEEDLE_SLACK_API_URL``), whose ``auth.test`` answers
``token_revoked`` (as Slack does for a revoked token) until the test lets it succeed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.bot.slack_api import BOT_TOKEN, slack_api_server
from tests.bot.slack_requests import SIGNING_SECRET, signed_headers
from tests.support.processes import ROOT, needle_environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate, timeout: float, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"needle serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            found = predicate()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_needle_serve_keeps_the_console_up_while_slack_refuses_the_token(tmp_path):
    with slack_api_server() as slack:
        slack.failures["auth.test"] = "token_revoked"
        port = free_port()
        env = needle_environment(
            NEEDLE_DATA_DIR=str(tmp_path / "data"),
            NEEDLE_PORT=str(port),
            NEEDLE_HOST="127.0.0.1",
            NEEDLE_SLACK_BOT_TOKEN=BOT_TOKEN,
            NEEDLE_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            NEEDLE_SLACK_MODE="http",
            NEEDLE_SLACK_API_URL=f"{slack.url}/api/",
        )
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "pipelines.cli", "serve"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 180, process, log)
            console = httpx.get(f"{base}/admin/", timeout=10, follow_redirects=True)
            assert console.status_code == 200  # the console serves
            ready = httpx.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 503
            check = ready.json()["checks"]["slack"]
            assert not check["ok"] and "token_revoked" in check["error"]
            assert "SLACK_BOT_TOKEN" in check["error"]
            assert BOT_TOKEN not in ready.text

            del slack.failures["auth.test"]  # Slack answers again (a new token was installed, say)
            wait_until(lambda: httpx.get(f"{base}/readyz", timeout=10).status_code == 200, 90, process, log)
            body = '{"type": "url_verification", "token": "legacy", "challenge": "c-serve"}'
            answered = httpx.post(
                f"{base}/slack/events",
                content=body,
                headers={"Content-Type": "application/json", **signed_headers(body)},
                timeout=10,
            )
            assert answered.json() == {"challenge": "c-serve"}
            text = log.read_text()
            assert "Traceback" not in text and "Slack bot is up" in text
        finally:
            process.terminate()
            process.wait(30)

"""Logging for servers: one JSON object per line, with secrets and long texts kept out.

Log lines end up in shared log systems, so they must never carry a token, a password or a document's
text. A filter masks anything shaped like a Slack or Hugging Face token or a bearer header, masks the
configured secrets by value, and cuts long messages to a short preview.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from pipelines.base.settings import Settings

MAX_MESSAGE_CHARS = 500
_TOKEN_SHAPES = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|hf_[A-Za-z0-9]{6,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+)"
)
_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's terminal-coloured copy of the message
}


class RedactingFilter(logging.Filter):
    """Masks token-shaped strings and known secret values; truncates long messages."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted(
            {secret for secret in secrets if secret and len(secret) >= 4}, key=len, reverse=True
        )

    def redact(self, text: str) -> str:
        text = _TOKEN_SHAPES.sub("[redacted]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + f"... [{len(text) - MAX_MESSAGE_CHARS} more characters]"
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        return json.dumps(payload, ensure_ascii=False)


def secret_values(settings: Settings) -> list[str]:
    values = []
    for name in (
        "hf_token",
        "llm_api_key",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "admin_password",
        "elasticsearch_password",
        "elasticsearch_api_key",
    ):
        secret = getattr(settings, name, None)
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def configure_logging(settings: Settings, json_lines: bool = True) -> None:
    """Route every logger through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secret_values(settings)))
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)

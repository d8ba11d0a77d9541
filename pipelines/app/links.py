"""Links between the faces: where the admin console shows a trace, so Slack can point there."""

from __future__ import annotations

from urllib.parse import quote

from pipelines.base.settings import Settings

ADMIN_PATH = "/admin"


def admin_base_url(settings: Settings) -> str:
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return base.rstrip("/") + ADMIN_PATH


def trace_url(settings: Settings, trace_id: str) -> str:
    """The stable URL of one trace in the admin console's debugger."""
    return f"{admin_base_url(settings)}/?trace={quote(trace_id)}"

"""Modal submissions: the 👎 reason."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.views import feedback_reason
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    feedback_reason.register(app, runtime)

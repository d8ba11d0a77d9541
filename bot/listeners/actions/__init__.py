"""Button clicks on answers: 👍 / 👎, "Share in channel" and "Ask a person"."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.actions import escalate, feedback, share
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    feedback.register(app, runtime)
    share.register(app, runtime)
    escalate.register(app, runtime)

"""Button clicks on answers: 👍 / 👎 and "Share in channel"."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.actions import feedback, share
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    feedback.register(app, runtime)
    share.register(app, runtime)

"""Events API listeners: mentions, messages (DMs and thread follow-ups), the App Home tab."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events import app_home, mentions, messages
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    mentions.register(app, runtime)
    messages.register(app, runtime)
    app_home.register(app, runtime)

"""Events API listeners: mentions, messages (DMs and thread follow-ups), edits of synced channels'
messages, the App Home tab."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events import app_home, mentions, messages, source_edits
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    mentions.register(app, runtime)
    source_edits.register(app, runtime)  # before messages: Bolt runs the first listener that matches
    messages.register(app, runtime)
    app_home.register(app, runtime)

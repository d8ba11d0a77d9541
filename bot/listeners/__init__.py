"""Wires every listener to the Bolt app, one ``register`` per kind, as in Bolt's project templates."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, assistant, commands, events, shortcuts, views
from bot.reminders import start_reminders
from bot.runtime import BotRuntime


def register_listeners(app: App, runtime: BotRuntime) -> None:
    events.register(app, runtime)
    assistant.register(app, runtime)
    commands.register(app, runtime)
    actions.register(app, runtime)
    views.register(app, runtime)
    shortcuts.register(app, runtime)
    start_reminders(runtime, app.client)

"""Slash commands: ``/needle`` (name set by NEEDLE_SLACK_COMMAND)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands import needle
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    needle.register(app, runtime)

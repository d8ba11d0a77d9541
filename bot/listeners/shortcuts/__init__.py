"""Message shortcuts: "Save as verified answer"."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.shortcuts import save_verified
from bot.runtime import BotRuntime


def register(app: App, runtime: BotRuntime) -> None:
    save_verified.register(app, runtime)

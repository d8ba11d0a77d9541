"""Reading the bot's answers back from the local Slack stand-in, whichever way they were delivered.

An answer is finished when its message carries feedback (Slack's ``feedback_buttons`` or the classic
buttons): after ``chat.stopStream``, a whole ``chat.postMessage``, or the last ``chat.update``.
"""

from __future__ import annotations

from typing import Any

from bot import blocks as bot_blocks
from tests.bot.slack_api import SlackState


def trace_of(message_blocks: list[dict[str, Any]]) -> str | None:
    """The trace id an answer's feedback carries; ``None`` if the blocks are not a finished answer."""
    for block in message_blocks or []:
        for element in block.get("elements") or []:
            if element.get("type") == "feedback_buttons":
                return str(element["positive_button"]["value"]).split(":", 1)[1]
            if element.get("action_id") in (bot_blocks.FEEDBACK_UP, bot_blocks.FEEDBACK_DOWN):
                return str(element["value"])
    return None


def text_of(message_blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in the blocks, one per line: what a reader of the message sees."""
    parts = []
    for block in message_blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text")
            parts.append(text if isinstance(text, str) else str(element))
    return "\n".join(parts)


def finished_answers(slack: SlackState, channel: str) -> list[dict[str, Any]]:
    """The bot's finished answers in ``channel`` as they stand, oldest first."""
    return [m for m in slack.bot_messages(channel) if not m.get("streaming") and trace_of(m.get("blocks"))]


def wait_answers(slack: SlackState, channel: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait until ``channel`` has ``count`` finished answers; returns them."""
    return slack.wait_for(
        lambda s: len(finished_answers(s, channel)) >= count and finished_answers(s, channel), timeout
    )

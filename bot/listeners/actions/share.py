""" "Share in channel": turns a private slash-command answer into a channel message everyone sees.

The answer is rebuilt from its trace, so the shared message is exactly what the asker saw. It is posted
through the response URL, which works in any channel the command was run in, even one the bot is not in.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import blocks, messages
from bot.runtime import BotRuntime
from bot.traces import answer_from_trace

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_share(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        answer = answer_from_trace(runtime.service.get_trace(action["value"]))
        if answer is None:
            logger.warning("share: no trace %s", action.get("value"))
            respond(text=messages.SHARE_FAILED, replace_original=False, response_type="ephemeral")
            return
        respond(delete_original=True)
        respond(
            text=blocks.answer_text(answer),
            blocks=blocks.answer_blocks(answer, show_question=True, shared_by=body["user"]["id"]),
            response_type="in_channel",
            replace_original=False,
        )

    app.action(blocks.SHARE_ANSWER)(on_share)

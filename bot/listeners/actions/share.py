""" "Share in channel": turns a private answer into a channel message everyone sees, if they may.

The answer is rebuilt from its trace, so the shared message is exactly what the asker saw. Before it is
posted, every source it drew on is checked against the channel's audience (:mod:`bot.sharing`): a private
answer may cite what only the asker may see, and sharing must not hand that to the whole channel. It is
posted through the response URL, which works in any channel the command was run in, even one the bot is
not in.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import blocks, messages
from bot.runtime import BotRuntime
from bot.sharing import not_shareable
from bot.traces import answer_from_trace
from pipelines.records.audience import ADMIN
from pipelines.text.basics import counted

logger = logging.getLogger(__name__)


def register(app: App, runtime: BotRuntime) -> None:
    def on_share(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        share(runtime, body, str(action.get("value") or ""), respond)  # after the ack, on Bolt's thread

    app.action(blocks.SHARE_ANSWER)(on_share)


def share(runtime: BotRuntime, body: dict[str, Any], trace_id: str, respond: Respond) -> None:
    """Post the answer of ``trace_id`` in the clicked message's channel, or explain why not."""
    user_id = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    try:
        trace = runtime.service.get_trace(trace_id)
        answer = answer_from_trace(trace)
        refused = ["a source"] if not channel else []
        if trace is not None and channel:
            audiences = {source.source_id: source.audience for source in runtime.service.list_sources(ADMIN)}
            refused = not_shareable(trace, audiences, runtime.channel_viewer(user_id, channel))
    except Exception:
        logger.exception("share: could not read trace %s or the sources' audiences", trace_id)
        answer, refused = None, []
    if answer is None:
        respond(text=messages.SHARE_FAILED, replace_original=False, response_type="ephemeral")
        return
    if refused:
        logger.info("share of %s in %s refused: %d restricted source(s)", trace_id, channel, len(refused))
        what = counted(len(refused), "source")
        respond(
            text=messages.SHARE_REFUSED.format(what=f"{what} ({', '.join(refused)})"),
            replace_original=False,
            response_type="ephemeral",
        )
        return
    respond(delete_original=True)
    respond(
        text=blocks.answer_text(answer),
        blocks=blocks.answer_blocks(answer, show_question=True, shared_by=user_id),
        response_type="in_channel",
        replace_original=False,
    )

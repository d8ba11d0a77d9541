"""Block Kit for every message and view the bot sends, built by pure functions (unit-tested without Slack).

Listeners decide *what* to say; these functions decide how it looks, so changing the layout never means
touching the code that talks to Slack.
"""

from __future__ import annotations

import json
from typing import Any

from bot import messages
from bot.mrkdwn import escape, link, split_for_blocks, to_mrkdwn
from pipelines.answers import Answer, Citation, SourceInfo

Block = dict[str, Any]

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
SHARE_ANSWER = "share_answer"
DEBUG_LINK = "debug_answer"
FEEDBACK_VIEW = "feedback_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
#: Slack refuses a message whose fallback text is longer; answers are far shorter in practice.
MAX_TEXT = 3900


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def text_blocks(text: str) -> list[Block]:
    """Blocks for a short message the bot says itself (already mrkdwn)."""
    return [_section(text)]


def placeholder_blocks() -> list[Block]:
    return [_context(f":mag: {messages.PLACEHOLDER}")]


def streaming_blocks(partial_markdown: str) -> list[Block]:
    """The answer so far, while the LLM is still writing it."""
    body = split_for_blocks(to_mrkdwn(partial_markdown) + " ...")
    return [*(_section(piece) for piece in body), _context(f":hourglass_flowing_sand: {messages.THINKING}")]


def answer_text(answer: Answer) -> str:
    """The message's plain ``text``: shown in notifications, and read back as the bot's earlier turn."""
    return to_mrkdwn(answer.text)[:MAX_TEXT]


def citation_line(citation: Citation, numbered: bool = True) -> str:
    """``[1] *Leave Policy* (leave-policy.pdf, pages 2, 4) · updated 2026-03-02``; unnumbered for
    "might be related" sources, which the answer does not cite."""
    title = escape(citation.title)
    if citation.url:
        where = link(citation.url, citation.title)
        if citation.pages:
            where += f" ({citation.pages_label})"
    else:
        pages = f", {citation.pages_label}" if citation.pages else ""
        where = f"*{title}* ({escape(citation.file_name)}{pages})"
    date = f" · {citation.date_label}" if citation.date_label else ""
    return f"*[{citation.number}]* {where}{date}" if numbered else f"• {where}{date}"


def answer_blocks(
    answer: Answer,
    *,
    show_question: bool = False,
    shared_by: str | None = None,
    share_button: bool = False,
    debug_url: str | None = None,
) -> list[Block]:
    """The finished answer: text, numbered sources, feedback buttons and, where wanted, share and debug.

    :param show_question: repeat the question (ephemeral and shared answers have no visible question).
    :param shared_by: the user id who shared an ephemeral answer to the channel.
    :param debug_url: the admin console's trace view, for admins only.
    """
    blocks: list[Block] = []
    if shared_by:
        blocks.append(_context(f"<@{shared_by}> shared an answer from Needle"))
    if show_question:
        blocks.append(_context(f"*Question:* {escape(answer.question)}"))
    blocks.extend(_section(piece) for piece in split_for_blocks(to_mrkdwn(answer.text)))
    if answer.citations:
        lines = "\n".join(citation_line(citation) for citation in answer.citations)
        blocks.append(_context(f"*Sources*\n{lines}"))
    elif answer.related:
        lines = "\n".join(citation_line(citation, numbered=False) for citation in answer.related)
        blocks.append(_context(f"*Might be related* (not quoted: they do not seem to answer this)\n{lines}"))
    buttons: list[Block] = [
        _button(":thumbsup: Helpful", FEEDBACK_UP, answer.trace_id),
        _button(":thumbsdown: Not helpful", FEEDBACK_DOWN, answer.trace_id),
    ]
    if share_button:
        buttons.append(_button("Share in channel", SHARE_ANSWER, answer.trace_id, style="primary"))
    blocks.append({"type": "actions", "block_id": f"answer:{answer.trace_id}", "elements": buttons})
    if debug_url:
        blocks.append(debug_blocks(debug_url)[0])
    return blocks[:50]


def debug_blocks(debug_url: str) -> list[Block]:
    return [_context(f":wrench: {link(debug_url, 'Debug this answer')} (admins only)")]


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def help_blocks(command: str) -> list[Block]:
    return [
        _section(
            "*Needle answers questions from the company handbook, with sources.*\n"
            "• Mention me in a channel: `@Needle How many vacation days do I get?` (I answer in the thread)\n"
            "• Send me a direct message\n"
            "• In a thread where I answered, just ask a follow-up\n"
            f"• `{command} <question>` answers privately; `{command} sources` lists what I know; "
            f"`{command} help` shows this"
        ),
        _context("Rate each answer with :thumbsup: or :thumbsdown: so the handbook team can improve it."),
    ]


def sources_blocks(sources: list[SourceInfo], limit: int = 40) -> list[Block]:
    """What the bot knows: one line per source (title, file, last indexed), newest first."""
    if not sources:
        return text_blocks("I don't know any documents yet. An admin can add them in the admin console.")
    last = max(source.indexed_at for source in sources)[:10]
    lines = []
    for source in sources[:limit]:
        title = link(source.url, source.title) if source.url else f"*{escape(source.title)}*"
        tags = f" · tags: {escape(', '.join(source.tags))}" if source.tags else ""
        lines.append(f"• {title} ({escape(source.file_name)}) · updated {source.indexed_at[:10]}{tags}")
    more = f"\n...and {len(sources) - limit} more." if len(sources) > limit else ""
    header = f"*I know {len(sources)} sources* (last updated {last}):"
    return [_section(piece) for piece in split_for_blocks(header + "\n" + "\n".join(lines) + more)]


def home_view(stats: dict[str, Any] | None, command: str) -> dict[str, Any]:
    """The App Home tab; ``stats`` is ``None`` when the store cannot be read."""
    if stats is None:
        status = ":warning: I can't reach the document store right now."
    else:
        updated = (stats.get("last_updated") or "never")[:10]
        status = (
            f":books: I know *{stats['sources']}* sources (*{stats['chunks']}* passages). "
            f"Last updated: *{updated}*."
        )
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Needle", "emoji": True}},
            _section(status),
            {"type": "divider"},
            *help_blocks(command),
        ],
    }


def feedback_modal(trace_id: str, channel_id: str | None, thread_ts: str | None) -> dict[str, Any]:
    """Asks why an answer was not helpful; closing it still records the 👎 (without a reason)."""
    metadata = json.dumps({"trace_id": trace_id, "channel": channel_id, "thread_ts": thread_ts})
    return {
        "type": "modal",
        "callback_id": FEEDBACK_VIEW,
        "private_metadata": metadata,
        "notify_on_close": True,
        "title": {"type": "plain_text", "text": "Not helpful"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "What was wrong? (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 500,
                    "placeholder": {"type": "plain_text", "text": "e.g. the policy changed last month"},
                },
            }
        ],
    }


def feedback_thanks_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Thank you"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [_section(messages.FEEDBACK_THANKS)],
    }

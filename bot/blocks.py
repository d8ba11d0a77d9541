"""Block Kit for every message and view the bot sends, built by pure functions (unit-tested without Slack).

Listeners decide *what* to say; these functions decide how it looks, so changing the layout never means
touching the code that talks to Slack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import messages
from bot.mrkdwn import escape, link, split_for_blocks, to_mrkdwn
from pipelines.querying.citations import UNCITED_NOTE
from pipelines.records.answers import Answer, Citation, SourceInfo
from pipelines.text.basics import counted

Block = dict[str, Any]

#: Classic 👍/👎 buttons: kept for ephemeral answers (slash command), where Slack's ``feedback_buttons``
#: element is not documented to work.
FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
#: Slack's ``feedback_buttons`` element (in a ``context_actions`` block) on posted and streamed answers;
#: its values are ``up:<trace id>`` and ``down:<trace id>``.
FEEDBACK = "feedback"
SHARE_ANSWER = "share_answer"
ESCALATE = "ask_a_person"
ESCALATE_LABEL = ":raising_hand: Ask a person"
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


def streaming_text(partial_markdown: str) -> str:
    """The message's plain ``text`` while the answer is written: mrkdwn like the blocks (Slack reads
    mentions in ``text`` too, and notifies from it)."""
    return to_mrkdwn(partial_markdown)[:MAX_TEXT]


#: A Slack user id (``U…``, or ``W…`` on Enterprise Grid): Slack shows ``<@U…>`` as a mention of them.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")


def answer_mrkdwn(answer: Answer) -> str:
    """The answer's text in mrkdwn. An answer given from a verified answer ends "Verified by @expert on
    DATE"; where the expert is a Slack user id, Slack shows that line's ``<@U…>`` as the person's name
    (and a link to them), not the bare id. An expert stored by name (the command line's ``--by jane``)
    stays as written, and so does anything in the expert's own text: only the closing label changes."""
    text = to_mrkdwn(answer.text)
    verified = answer.verified or {}
    expert, date = str(verified.get("expert") or ""), str(verified.get("date") or "")
    if answer.kind != "verified" or not SLACK_USER_ID.fullmatch(expert):
        return text
    before, label, after = text.rpartition(f"Verified by @{expert} on {date}")
    return f"{before}Verified by <@{expert}> on {date}{after}" if label else text


def answer_text(answer: Answer) -> str:
    """The message's plain ``text``: shown in notifications, and read back as the bot's earlier turn."""
    return answer_mrkdwn(answer)[:MAX_TEXT]


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
    trace_hint: bool = False,
    native_feedback: bool = True,
    escalate: bool = False,
) -> list[Block]:
    """The finished answer: text, numbered sources, feedback and, where wanted, share and debug.

    :param show_question: repeat the question (ephemeral and shared answers have no visible question).
    :param shared_by: the user id who shared an ephemeral answer to the channel.
    :param debug_url: the admin console's trace view, for admins only.
    :param trace_hint: show the trace id instead of a link (an admin where no console link can be made).
    :param native_feedback: Slack's ``feedback_buttons`` element (posted and streamed messages); ``False``
        gives classic buttons, which also work in ephemeral messages.
    :param escalate: an "Ask a person" button (channels with an escalation user group).
    """
    blocks: list[Block] = []
    if shared_by:
        blocks.append(_context(f"<@{shared_by}> shared an answer from Needle"))
    if show_question:
        blocks.append(_context(f"*Question:* {escape(answer.question)}"))
    blocks.extend(_section(piece) for piece in split_for_blocks(answer_mrkdwn(answer)))
    blocks.extend(
        answer_tail_blocks(
            answer,
            share_button=share_button,
            debug_url=debug_url,
            trace_hint=trace_hint,
            native_feedback=native_feedback,
            escalate=escalate,
        )
    )
    return blocks[:50]


def answer_tail_blocks(
    answer: Answer,
    *,
    share_button: bool = False,
    debug_url: str | None = None,
    trace_hint: bool = False,
    native_feedback: bool = True,
    escalate: bool = False,
) -> list[Block]:
    """Everything under the answer's text: sources, feedback, share, debug.

    A streamed answer's text is already in the message; ``chat.stopStream`` adds these blocks under it.
    """
    blocks: list[Block] = []
    if answer.citations:
        lines = "\n".join(citation_line(citation) for citation in answer.citations)
        blocks.append(_context(f"*Sources*\n{lines}"))
    elif answer.uncited:
        lines = "\n".join(citation_line(citation, numbered=False) for citation in answer.related)
        blocks.append(_context(f"*{escape(UNCITED_NOTE)}*\n{lines}"))
    elif answer.related:
        lines = "\n".join(citation_line(citation, numbered=False) for citation in answer.related)
        blocks.append(_context(f"*Might be related* (not quoted: they do not seem to answer this)\n{lines}"))
    if native_feedback:
        blocks.append(feedback_buttons_block(answer.trace_id))
    if not native_feedback or share_button or escalate:
        buttons: list[Block] = []
        if not native_feedback:
            buttons += [
                _button(":thumbsup: Helpful", FEEDBACK_UP, answer.trace_id),
                _button(":thumbsdown: Not helpful", FEEDBACK_DOWN, answer.trace_id),
            ]
        if share_button:
            buttons.append(_button("Share in channel", SHARE_ANSWER, answer.trace_id, style="primary"))
        if escalate:
            buttons.append(_button(ESCALATE_LABEL, ESCALATE, answer.trace_id))
        blocks.append({"type": "actions", "block_id": f"answer:{answer.trace_id}", "elements": buttons})
    if debug_url:
        blocks.extend(debug_blocks(debug_url))
    elif trace_hint:
        blocks.extend(trace_hint_blocks(answer.trace_id))
    return blocks


def feedback_buttons_block(trace_id: str) -> Block:
    """Slack's native 👍/👎 (``feedback_buttons`` in a ``context_actions`` block) for one answer."""
    return {
        "type": "context_actions",
        "block_id": f"feedback:{trace_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "👍"},
                    "accessibility_label": "This answer was helpful",
                    "value": f"up:{trace_id}",
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "👎"},
                    "accessibility_label": "This answer was not helpful",
                    "value": f"down:{trace_id}",
                },
            }
        ],
    }


#: How much of the answer the "Ask a person" ping quotes: its first lines, each at most this long.
ESCALATION_LINES = 4
ESCALATION_LINE_CHARS = 300
_QUOTE_MARK = re.compile(r"^\s{0,3}>\s?")


def escalation_text(group: str, user_id: str, answer: Answer, quote_answer: bool = True) -> str:
    """The "Ask a person" ping (mrkdwn): the user group and the asker, the question, the first lines of
    Needle's answer and its sources, so the person called in sees what Needle said without scrolling up.

    :param quote_answer: the answer was built for everyone in the channel the ping goes to (its own
        thread, where everyone the ping reaches has seen it); otherwise the ping has the question alone.
    """
    parts = [messages.ESCALATED.format(group=group, user=user_id), _quoted(escape(answer.question))]
    if not quote_answer:
        return "\n".join(parts)[:MAX_TEXT]
    lines = [_QUOTE_MARK.sub("", line).strip() for line in answer.text.splitlines()]
    lines = [line for line in lines if line]
    if lines:
        shown = [_shorten(to_mrkdwn(line), ESCALATION_LINE_CHARS) for line in lines[:ESCALATION_LINES]]
        if len(lines) > ESCALATION_LINES:
            shown.append("...")
        parts += [messages.ESCALATED_ANSWER, _quoted("\n".join(shown))]
    if answer.citations:
        parts.append("*Sources*\n" + "\n".join(citation_line(citation) for citation in answer.citations))
    return "\n".join(parts)[:MAX_TEXT]


def _quoted(text: str) -> str:
    """Every line of ``text`` as a mrkdwn quote (``>`` quotes one line only)."""
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


def debug_blocks(debug_url: str) -> list[Block]:
    return [_context(f":wrench: {link(debug_url, 'Debug this answer')} (admins only)")]


def trace_hint_blocks(trace_id: str) -> list[Block]:
    """For an admin where no console link can be made: the id to paste into the console's debugger."""
    return [_context(f":wrench: Trace `{escape(trace_id)}`: paste it into the admin console's debugger")]


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


def sources_blocks(
    sources: list[SourceInfo], limit: int = 40, header: str | None = None, tags: list[str] | None = None
) -> list[Block]:
    """What the bot knows: one line per source (title, file, last indexed), newest first.

    :param header: a heading instead of "I know N sources" (a channel's own sources).
    :param tags: the channel's tags, named in the heading.
    """
    if not sources:
        if tags:
            named = escape(", ".join(tags))
            return text_blocks(f"No source tagged {named} is available in this channel yet.")
        return text_blocks("I don't know any documents yet. An admin can add them in the admin console.")
    last = max(source.indexed_at for source in sources)[:10]
    lines = []
    for source in sources[:limit]:
        labels = f" · tags: {escape(', '.join(source.tags))}" if source.tags else ""
        lines.append(f"{source_line(source)}{labels}")
    more = f"\n...and {len(sources) - limit} more." if len(sources) > limit else ""
    if header:
        tagged = f", tagged {escape(', '.join(tags))}" if tags else ""
        header = f"*{escape(header)}* ({len(sources)}{tagged}; last indexed {last}):"
    else:
        header = f"*I know {counted(len(sources), 'source')}* (last indexed {last}):"
    return [_section(piece) for piece in split_for_blocks(header + "\n" + "\n".join(lines) + more)]


def source_line(source: SourceInfo) -> str:
    """``• *Leave Policy* (leave-policy.md) · updated 2026-11-02``: a listed source with the date its
    citations show (:attr:`SourceInfo.date_label`), in ``/needle sources`` and the App Home alike."""
    title = link(source.url, source.title) if source.url else f"*{escape(source.title)}*"
    date = f" · {source.date_label}" if source.date_label else ""
    return f"• {title} ({escape(source.file_name)}){date}"


@dataclass(frozen=True)
class AskedQuestion:
    """One of a user's earlier questions, for the App Home; ``link`` is its Slack thread when known."""

    question: str
    asked_at: float
    link: str | None = None


def home_view(
    stats: dict[str, Any] | None,
    command: str,
    sources: list[SourceInfo] | None = None,
    questions: list[AskedQuestion] | None = None,
    source_limit: int = 20,
) -> dict[str, Any]:
    """The App Home tab: counts, the sources the user may see, the user's last questions, how to ask.

    ``stats`` and ``sources`` are ``None`` when the store cannot be read.
    """
    if stats is None:
        status = ":warning: I can't reach the document store right now."
    else:
        updated = (stats.get("last_updated") or "never")[:10]
        status = (
            f":books: I know {counted(stats['sources'], 'source', '*')} "
            f"({counted(stats['chunks'], 'passage', '*')}). "
            f"Last indexed: *{updated}*."
        )
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Needle", "emoji": True}},
        _section(status),
    ]
    if questions:
        lines = []
        for asked in questions:
            when = datetime.fromtimestamp(asked.asked_at, tz=UTC).strftime("%Y-%m-%d")
            short = _shorten(asked.question, 150)
            lines.append(f"• {link(asked.link, short) if asked.link else escape(short)} · {when}")
        blocks += [{"type": "divider"}, _section("*Your last questions*\n" + "\n".join(lines))]
    if sources:
        lines = []
        for source in sources[:source_limit]:
            lines.append(source_line(source))
        more = f"\n...and {len(sources) - source_limit} more." if len(sources) > source_limit else ""
        text = "*What I can answer from*\n" + "\n".join(lines) + more
        blocks += [{"type": "divider"}, *(_section(piece) for piece in split_for_blocks(text))]
    blocks += [{"type": "divider"}, *help_blocks(command)]
    return {"type": "home", "blocks": blocks[:100]}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def feedback_modal(trace_id: str, channel_id: str | None, thread_ts: str | None) -> dict[str, Any]:
    """Asks why an answer was not helpful. The 👎 is already recorded when this opens: sending a reason
    adds it to that vote, and skipping or closing the modal changes nothing."""
    metadata = json.dumps({"trace_id": trace_id, "channel": channel_id, "thread_ts": thread_ts})
    return {
        "type": "modal",
        "callback_id": FEEDBACK_VIEW,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Not helpful"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            _context(messages.VOTE_DOWN_RECORDED),
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
            },
        ],
    }


def feedback_thanks_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Thank you"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [_section(messages.FEEDBACK_THANKS)],
    }

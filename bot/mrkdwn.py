"""Markdown (what the LLM and the extractive answerer write) to Slack mrkdwn: the one place it happens.

Slack's mrkdwn is not Markdown: bold is ``*x*``, links are ``<url|text>``, there are no headings, and
``&``, ``<`` and ``>`` must be escaped or Slack reads them as control sequences (a stray ``<!channel>``
in a document would notify a whole channel).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"(```.*?```)", re.DOTALL)
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_HR = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$", re.MULTILINE)

#: Placeholders that survive escaping; chosen from a Unicode private-use range no document uses.
_BOLD_OPEN, _BOLD_CLOSE = "\ue000", "\ue001"


def escape(text: str) -> str:
    """Make arbitrary text literal in mrkdwn (document titles, user input, file names)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link; ``|`` and ``>`` in the label would end it early, so they are replaced."""
    safe_label = escape(label).replace("|", "¦")
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{safe_label}>"


def to_mrkdwn(markdown: str) -> str:
    """Convert Markdown to mrkdwn, leaving code spans and fenced blocks exactly as written (escaped)."""
    parts = _FENCE.split(markdown)
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 1:  # a fenced block: drop the language tag, keep the content literal
            body = part[3:-3]
            first, _, rest = body.partition("\n")
            body = rest if rest and re.fullmatch(r"[\w+-]*", first.strip()) else body
            out.append(f"```{escape(body.strip(chr(10)))}```")
        else:
            out.append(_convert_prose(part))
    return "".join(out).strip()


def _convert_prose(text: str) -> str:
    pieces = _INLINE_CODE.split(text)
    return "".join(
        escape(piece) if index % 2 == 1 else _convert_inline(piece) for index, piece in enumerate(pieces)
    )


def _convert_inline(text: str) -> str:
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(link(match.group(2), match.group(1)))
        return f"\ue002{len(links) - 1}\ue003"

    text = _LINK.sub(keep_link, text)
    text = _HR.sub("", text)
    text = _HEADING.sub(lambda m: f"{_BOLD_OPEN}{m.group(1)}{_BOLD_CLOSE}", text)
    text = _BOLD.sub(lambda m: f"{_BOLD_OPEN}{m.group(2)}{_BOLD_CLOSE}", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = escape(text).replace(_BOLD_OPEN, "*").replace(_BOLD_CLOSE, "*")
    return re.sub("\ue002(\\d+)\ue003", lambda m: links[int(m.group(1))], text)


def split_for_blocks(text: str, limit: int = 2900) -> list[str]:
    """Cut mrkdwn into pieces that fit a section block (3000 characters), at paragraph or line ends."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


_SPECIAL = re.compile(r"<([!@#])")


def safe_markdown(markdown: str) -> str:
    """Markdown for Slack's streaming methods (``markdown_text``), with Slack's special sequences defused.

    Streamed text is Markdown, not mrkdwn, so it is sent as written; but a document quoting ``<!channel>``
    or ``<@U123>`` must not notify anyone, so a zero-width space breaks those sequences up (the reader
    sees the same characters).
    """
    return _SPECIAL.sub("<\u200b\\1", markdown)

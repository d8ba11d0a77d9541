"""The visible text of an HTML page nested deeper than lxml parses.

Haystack's HTML converter uses trafilatura, which parses with lxml; libxml2 stops at 256 levels of
nesting and trafilatura then finds no text at all, so a page of text wrapped in a few hundred ``<div>``
elements (generated pages do this) was refused as having none. Such a page is read here without a
tree, so depth costs nothing: hidden elements (scripts, styles, templates, comments) are cut out, block
elements become line breaks, other tags are dropped and entities decoded. Every step is a C-level regex
pass or a forward search, linear in the page (Python's ``html.parser`` took 90 s for 4 million tags).
"""

from __future__ import annotations

import contextlib
import html
import re

_HIDDEN_OPEN = re.compile(
    r"<!--|<(script|style|template|noscript|iframe|object|svg|math|head|title)\b", re.IGNORECASE
)
_BLOCK_TAG = re.compile(
    r"</?(?:address|article|aside|blockquote|br|dd|div|dl|dt|fieldset|figcaption|figure|footer|form|"
    r"h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|td|th|tr|ul)\b[^<>]*>",
    re.IGNORECASE,
)
#: ``[^<>]`` rather than ``[^>]``: a run of unclosed ``<`` must not make every match scan to the end.
_TAG = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def too_deep_for_lxml(data: bytes) -> bool:
    """Whether lxml gives up on the page for its depth (it stops at once, so this is cheap)."""
    from lxml import etree

    parser = etree.HTMLParser()
    with contextlib.suppress(etree.LxmlError, ValueError):
        etree.fromstring(data, parser)
    return any("Excessive depth" in entry.message for entry in parser.error_log)


def _without_hidden(page: str) -> str:
    """``page`` without comments and hidden elements; an element never closed hides the rest."""
    lowered = page.lower()
    kept: list[str] = []
    position = 0
    while match := _HIDDEN_OPEN.search(page, position):
        kept.append(page[position : match.start()])
        closing = "-->" if match.group(1) is None else f"</{match.group(1).lower()}"
        end = lowered.find(closing, match.end())
        if end < 0:
            return " ".join(kept)
        position = end + len(closing) if closing == "-->" else lowered.find(">", end) + 1 or len(page)
        kept.append(" ")
    kept.append(page[position:])
    return "".join(kept)


def visible_text(page: str) -> str:
    """The page's visible text, one line per block element."""
    text = _BLOCK_TAG.sub("\n", _without_hidden(page))
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)

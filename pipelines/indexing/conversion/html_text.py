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
from collections.abc import Iterator

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


class TextTooLongError(Exception):
    """The page's text passed the caller's budget."""


def too_deep_for_lxml(data: bytes) -> bool:
    """Whether lxml gives up on the page for its depth (it stops at once, so this is cheap)."""
    from lxml import etree

    parser = etree.HTMLParser()
    with contextlib.suppress(etree.LxmlError, ValueError):
        etree.fromstring(data, parser)
    return any("Excessive depth" in entry.message for entry in parser.error_log)


_CLOSING: dict[str, re.Pattern[str]] = {}
#: The page is read in slices of about this many characters, each cut just before a ``<`` (so no tag or
#: entity is split), and reading stops once the text passes the caller's budget.
_SLICE_CHARS = 1_000_000


def _visible_pieces(page: str) -> Iterator[str]:
    """``page`` without comments and hidden elements, in pieces; an element never closed hides the rest."""
    position = 0
    while match := _HIDDEN_OPEN.search(page, position):
        yield page[position : match.start()]
        yield " "
        if match.group(1) is None:
            end = page.find("-->", match.end())
            position = -1 if end < 0 else end + 3
        else:
            tag = match.group(1).lower()
            closing = _CLOSING.setdefault(tag, re.compile(rf"</{tag}\b[^<>]*>?", re.IGNORECASE))
            found = closing.search(page, match.end())
            position = -1 if found is None else found.end()
        if position < 0:
            return
    yield page[position:]


def _slices(piece: str) -> Iterator[str]:
    start = 0
    while len(piece) - start > _SLICE_CHARS:
        cut = piece.find("<", start + _SLICE_CHARS)
        if cut < 0:
            break
        yield piece[start:cut]
        start = cut
    yield piece[start:]


def visible_text(page: str, max_chars: int | None = None) -> str:
    """The page's visible text, one line per block element.

    :raises TextTooLongError: the text passed ``max_chars`` characters; raised while reading, so a large
        page costs only the slices read before it.
    """
    parts: list[str] = []
    letters = 0
    for piece in _visible_pieces(page):
        for part in _slices(piece):
            text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", part)))
            parts.append(text)
            letters += len(text) - sum(text.count(space) for space in " \n\t\r")
            if max_chars is not None and letters > max_chars:
                raise TextTooLongError
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)

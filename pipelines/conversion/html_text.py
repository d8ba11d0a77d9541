"""The visible text of an HTML page nested deeper than lxml parses, read with Python's own HTML parser.

Haystack's HTML converter uses trafilatura, which parses with lxml; libxml2 stops at 256 levels of
nesting and trafilatura then finds no text at all, so a page of text wrapped in a few hundred ``<div>``
elements (generated pages do this) was refused as having none. ``html.parser`` keeps no tree, so depth
costs it nothing; this reads what a browser would show (no scripts, styles or templates, block
elements on lines of their own) and is used only for such pages.
"""

from __future__ import annotations

from html.parser import HTMLParser

#: libxml2's default nesting limit: deeper pages defeat lxml, and so trafilatura.
LXML_MAX_DEPTH = 256

_HIDDEN = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track"}
    | {"wbr"}
)


class TextTooLongError(Exception):
    """The page's text passed the character budget; raised while reading, so the rest is never read."""


class _VisibleText(HTMLParser):
    def __init__(self, max_chars: int | None) -> None:
        super().__init__(convert_charrefs=True)
        self.max_chars = max_chars
        self.lines: list[str] = [""]
        self.characters = 0
        self.depth = self.max_depth = 0
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.depth += 1
            self.max_depth = max(self.max_depth, self.depth)
        if tag in _HIDDEN:
            self.hidden += 1
        if tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID:
            self.depth = max(0, self.depth - 1)
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        if tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self.hidden or not data.strip():
            if data[:1].isspace() and self.lines[-1]:
                self.lines[-1] += " "
            return
        words = " ".join(data.split())
        gap = " " if data[:1].isspace() and self.lines[-1] and not self.lines[-1].endswith(" ") else ""
        self.lines[-1] += gap + words + (" " if data[-1:].isspace() else "")
        self.characters += len(words)
        if self.max_chars is not None and self.characters > self.max_chars:
            raise TextTooLongError

    def _break(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")


def visible_text(html: str, max_chars: int | None = None) -> tuple[str, int]:
    """The page's visible text, one line per block element, and how deep its elements nest.

    :raises TextTooLongError: the text passed ``max_chars`` characters.
    """
    parser = _VisibleText(max_chars)
    parser.feed(html)
    parser.close()
    text = "\n".join(line.strip() for line in parser.lines if line.strip())
    return text, parser.max_depth

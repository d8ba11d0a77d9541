"""Markdown (what the LLM and the extractive answerer write) to Slack mrkdwn: the one place it happens.

Slack's mrkdwn is not Markdown: bold is ``*x*``, links are ``<url|text>``, there are no headings, and
``&``, ``<`` and ``>`` must be escaped or Slack reads them as control sequences (a stray ``<!channel>``
in a document would notify a whole channel).
"""

from __future__ import annotations

import re
import unicodedata

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


#: A label that is wholly a URL or a host name (``https://...``, ``www.x``, ``intranet.acme.example/a``).
_URL_LABEL = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://\S*|(?:mailto|tel|javascript|data|file):\S+|www\.\S+"
    r"|[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\.?(?::\d+)?(?:[/?#]\S*)?)"
)
#: A URL inside a longer label ("Recall notice at https://intranet.acme.example/recall").
_URL_IN_LABEL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S")


def shown_label(label: str) -> str | None:
    """The label a link may show, or ``None``: the link shows its target instead.

    A label that is itself a URL or a host name (or holds a URL) is read as where the link goes; a
    document could label ``https://evil.example/phish`` as ``https://intranet.acme.example/recall``. So
    such a label is never shown as a link's label, whether it matches the target or not (the target,
    shown instead, says the same when it does). It is judged as the reader sees it: compatibility forms
    folded (full-width ``ｈｔｔｐｓ：``) and invisible characters (zero-width spaces) dropped.
    """
    seen = "".join(ch for ch in unicodedata.normalize("NFKC", label) if unicodedata.category(ch) != "Cf")
    bare = seen.strip().strip("*_~`").strip()
    if not bare or _URL_LABEL.fullmatch(bare) or _URL_IN_LABEL.search(bare):
        return None
    return label


def _safe_url(url: str) -> str:
    return url.replace(">", "%3E").replace("|", "%7C")


def link(url: str, label: str) -> str:
    """A mrkdwn link for the bot's own links (sources, debug, the App Home's questions).

    ``|`` and ``>`` in the label would end it early, so they are replaced; a label that is a URL is not
    shown (:func:`shown_label`): the link shows its target.
    """
    shown = shown_label(label)
    if shown is None:
        return f"<{_safe_url(url)}>"
    return f"<{_safe_url(url)}|{escape(shown).replace('|', '¦')}>"


def quoted_link(url: str, label: str) -> str:
    """A link written in a document or by the model, in mrkdwn: its label as plain text, then its real
    target (``label (<url>)``), or the target alone when the label is a URL. A label never hides where a
    link from a document goes."""
    shown = shown_label(label)
    target = f"<{_safe_url(url)}>"
    return target if shown is None else f"{escape(shown)} ({target})"


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


#: A quoted line ("> ..."): the extractive answer quotes documents as written, so such a line is only
#: escaped; a document's "*Save*" must not come out as "_Save_".
_QUOTED_LINE = re.compile(r"^(>[ \t][^\n]*)$", re.MULTILINE)


def _convert_prose(text: str) -> str:
    parts = _QUOTED_LINE.split(text)
    return "".join(
        _convert_quoted(part) if index % 2 == 1 else _convert_lines(part) for index, part in enumerate(parts)
    )


def _convert_quoted(line: str) -> str:
    """A quoted document line: escaped as written, except that a Markdown link in it shows its real
    target (the one link rule, :func:`quoted_link`), so quoting cannot pass a disguised link through."""
    out: list[str] = []
    done = 0
    for match in _LINK.finditer(line):
        out += [escape(line[done : match.start()]), quoted_link(match.group(2), match.group(1))]
        done = match.end()
    out.append(escape(line[done:]))
    return "".join(out)


def _convert_lines(text: str) -> str:
    pieces = _INLINE_CODE.split(text)
    return "".join(
        escape(piece) if index % 2 == 1 else _convert_inline(piece) for index, piece in enumerate(pieces)
    )


def _convert_inline(text: str) -> str:
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(quoted_link(match.group(2), match.group(1)))
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


#: A complete inline Markdown link or image, ``[label](target)``; the same limits as its prefix below.
_MD_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\(([^()\s]{1,2048})\)")
#: What may still become a complete ``_MD_LINK`` if more text follows (anchored at a ``[``).
_MD_LINK_PREFIX = re.compile(r"\[[^\[\]\n]{0,300}(?:\](?:\([^()\s]{0,2048})?)?")
#: Where a zero-width space goes: after ``<`` that opens something (``<!channel>``, ``<@U1>``, ``<#C1>``,
#: ``<!subteam^S1>``, ``<https://x|label>``, an autolink), after ``&`` that opens an entity (``&lt;``,
#: which Slack could decode into ``<``), and between ``]`` and ``(`` or ``:`` (link syntax that is not a
#: complete link rewritten here). The end of a piece counts as opening: what comes next is unknown.
_DEFUSE = re.compile(r"<(?!\s)|&(?=#?[A-Za-z0-9]{0,32}(?:;|\Z))|\](?![^(:])")
#: A trailing piece of text whose meaning depends on what comes next: held back while streaming.
_OPEN_TAIL = re.compile(r"(?:<|&#?[A-Za-z0-9]{0,32}|\])\Z")
_ZWSP = "\u200b"


def _defuse(text: str) -> str:
    return _DEFUSE.sub(lambda m: m.group(0) + _ZWSP, text)


def _plain_link(match: re.Match[str]) -> str:
    label, url = match.group(1), match.group(2)
    shown = shown_label(label)
    return url if shown is None else f"{shown} ({url})"


def safe_markdown(markdown: str) -> str:
    """Markdown for Slack's streaming methods (``markdown_text``), with Slack's special sequences defused.

    Streamed text is Markdown, not mrkdwn, so it is sent as written, except that:

    * a zero-width space breaks up what Slack would read as a mention, a link or an entity (a document
      quoting ``<!channel>``, ``<@U123>`` or ``&lt;!here&gt;`` must not notify anyone): the reader sees
      the same characters;
    * a Markdown link shows its real target: ``[label](url)`` becomes ``label (url)``, or ``url`` alone
      when the label is a URL (:func:`shown_label`); any other link syntax is broken up like a mention.

    Each rewritten link and each stretch between them is defused on its own, as if the text ended there,
    so nothing next to a link can complete a sequence begun inside it, or the other way round. Text
    streamed in pieces goes through :class:`StreamedMarkdown`, never through this piece by piece.
    """
    out: list[str] = []
    done = 0
    for match in _MD_LINK.finditer(markdown):
        out += [_defuse(markdown[done : match.start()]), _defuse(_plain_link(match))]
        done = match.end()
    out.append(_defuse(markdown[done:]))
    return "".join(out)


def _settled_end(text: str, start: int) -> int:
    """How much of ``text`` (from ``start``) :func:`safe_markdown` treats the same whatever follows it:
    not a ``[`` that may still open a complete link, nor a trailing ``<``, ``&...`` or ``]`` before it."""
    end = len(text)
    bracket = text.find("[", start)
    while bracket != -1:
        if _MD_LINK_PREFIX.fullmatch(text, bracket):
            end = bracket
            break
        bracket = text.find("[", bracket + 1)
    while (tail := _OPEN_TAIL.search(text, start, end)) is not None:
        end = tail.start()
    return end


class StreamedMarkdown:
    """Makes LLM text that arrives in pieces safe to stream: the pieces sent, joined, are exactly
    :func:`safe_markdown` of the whole text.

    Escaping each piece on its own would let a token boundary between ``<`` and ``!channel>`` rebuild a
    live mention once Slack joins the pieces. So the escaping runs on the text as accumulated, and a
    trailing piece whose meaning depends on what follows (``<``, ``&l``, ``[label](https://ev``) is held
    back until it is complete or cannot be any more; :meth:`finish` releases the rest.
    """

    def __init__(self) -> None:
        self.text = ""  # everything received, as written
        self._sent = 0  # how much of it has been released

    def add(self, delta: str) -> str:
        """Take the next piece; the safe text that may be sent now (possibly empty)."""
        self.text += delta
        end = _settled_end(self.text, self._sent)
        ready, self._sent = self.text[self._sent : end], end
        return safe_markdown(ready)

    def finish(self) -> str:
        """The safe text still held back, once no more text will come."""
        ready, self._sent = self.text[self._sent :], len(self.text)
        return safe_markdown(ready)

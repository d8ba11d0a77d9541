"""Page furniture: the running headers, footers and page numbers a PDF repeats on every page.

They are not content. Left in, "Acme Widgets Ltd. | Travel and Expenses Policy INTERNAL" and "Page 3 of 5"
land in every chunk, match every question that mentions the company or the policy's name, and can be
quoted as if they were an answer. PDF text has no marker for them, so they are recognised the way a reader
does: lines near the top or bottom of a page that recur on most pages once their numbers are ignored, and
lines that are nothing but a page number ("Page 3 of 5", "- 3 -", "3 / 5", "第 3 页").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

#: How many non-empty lines at the top and at the bottom of a page can be furniture.
ZONE_LINES = 3

_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:"
    r"(?:page|p\.|pg\.?|seite|página|pagina|pag\.)\s*\d+(?:\s*(?:of|/|von|de|sur|di)\s*\d+)?"
    r"|\d+\s*(?:of|/|von|de|sur|di)\s*\d+"
    r"|[-–—]\s*\d+\s*[-–—]"
    r"|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?"
    r")$",
    re.I,
)
_BARE_NUMBER = re.compile(r"^\d{1,4}$")


def is_page_number(line: str) -> bool:
    """True for a line that only numbers the page: "Page 3 of 5", "Page 3", "3 / 5", "- 3 -", "第3页"."""
    return bool(_PAGE_NUMBER.match(" ".join(line.split())))


def _key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()).casefold())


def _zones(lines: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indexes of the first and the last ``ZONE_LINES`` non-empty lines of a page."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    return filled[:ZONE_LINES], filled[::-1][:ZONE_LINES]


def _edge(zone: Sequence[int], lines: Sequence[str], is_furniture: Callable[[str], bool]) -> set[int]:
    """The lines of ``zone`` (ordered from the page's edge inwards) up to the first that is not furniture:
    headers and footers sit at the edge, so a repeated line below real text is text."""
    out: set[int] = set()
    for index in zone:
        if not is_furniture(lines[index]):
            break
        out.add(index)
    return out


def remove_page_furniture(pages: Sequence[str]) -> list[str]:
    """Return ``pages`` without their running headers, footers and page numbers.

    A line at the top (or bottom) edge of a page is furniture when the same line, digits ignored, is at
    the top (or bottom) of more than half of the pages and of at least two (within ``ZONE_LINES`` lines,
    with only furniture between it and the edge); so is a bare number there. A page-number line ("Page 3
    of 5") goes wherever it is. The page count never changes, so page numbers in citations stay right.
    """
    split = [page.split("\n") for page in pages]
    zones = [_zones(lines) for lines in split]
    top_counts: Counter[str] = Counter()
    bottom_counts: Counter[str] = Counter()
    for lines, (top, bottom) in zip(split, zones, strict=True):
        top_counts.update({_key(lines[index]) for index in top})
        bottom_counts.update({_key(lines[index]) for index in bottom})

    def furniture(counts: Counter[str]) -> Callable[[str], bool]:
        def check(line: str) -> bool:
            key = _key(line)
            repeated = counts[key] >= 2 and counts[key] * 2 > len(pages)
            return repeated or is_page_number(line) or bool(_BARE_NUMBER.match(line.strip()))

        return check

    cleaned = []
    for lines, (top, bottom) in zip(split, zones, strict=True):
        drop = _edge(top, lines, furniture(top_counts)) | _edge(bottom, lines, furniture(bottom_counts))
        drop |= {index for index, line in enumerate(lines) if is_page_number(line)}
        cleaned.append("\n".join(line for index, line in enumerate(lines) if index not in drop))
    return cleaned

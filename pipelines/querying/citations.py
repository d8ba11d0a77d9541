"""From passage numbers to the sources an employee reads: one entry per document, numbered without gaps.

The answerers cite passages (``[3]`` is the third passage they were given). Several passages often come
from one document, so listing passages would show "Leave Policy" three times and leave gaps in the
numbers when some passages are not cited. This module renumbers: each cited document gets one number, in
order of first citation, and the answer text is rewritten to match (``[1][3]`` of one document becomes
``[1]``). Both answer modes (extract and LLM) go through it, so their citations look the same.
"""

from __future__ import annotations

import dataclasses
import re

from pipelines.records.answers import Citation, Passage

_CITATION_RUN = re.compile(r"(?:\[\d{1,3}\])+")
_NUMBER = re.compile(r"\[(\d{1,3})\]")

#: The footer of a generated answer that cites none of the passages it was given, above the sources it
#: might come from: the answer must not look sourced when nothing backs it.
UNCITED_NOTE = (
    "Not sourced: the language model cited none of the documents it was given. "
    "Check these before relying on the answer:"
)


def _source_key(passage: Passage) -> str:
    return str(passage.meta.get("source_id") or passage.id)


def number_sources(text: str, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Rewrite ``[n]`` passage citations in ``text`` as source citations; return the text and the sources.

    Citations of passages that do not exist are dropped from the text rather than shown as dangling
    numbers. Pages of every cited passage of a document are collected on its one citation.
    """
    by_number = {passage.number: passage for passage in passages}
    numbers: dict[str, int] = {}  # source key -> its citation number
    citations: dict[str, Citation] = {}
    for match in _NUMBER.finditer(text):
        passage = by_number.get(int(match.group(1)))
        if passage is None:
            continue
        key = _source_key(passage)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations[key] = passage.citation(numbers[key])
        else:
            citations[key] = _with_passage(citations[key], passage)

    def renumber(run: re.Match[str]) -> str:
        seen: list[int] = []
        for number in _NUMBER.findall(run.group(0)):
            passage = by_number.get(int(number))
            if passage is not None and numbers[_source_key(passage)] not in seen:
                seen.append(numbers[_source_key(passage)])
        return "".join(f"[{number}]" for number in seen)

    return _CITATION_RUN.sub(renumber, text), list(citations.values())


def _with_passage(citation: Citation, passage: Passage) -> Citation:
    """``citation`` also naming ``passage`` (another chunk of its document), and its page."""
    if passage.id not in citation.passage_ids:
        citation = dataclasses.replace(citation, passage_ids=[*citation.passage_ids, passage.id])
    page = passage.meta.get("page")
    if not page or page in citation.pages:
        return citation
    pages = sorted([*citation.pages, page])
    return dataclasses.replace(citation, pages=pages, page=pages[0])


def related_sources(passages: list[Passage], limit: int = 3) -> list[Citation]:
    """The first ``limit`` distinct documents among ``passages``, numbered from 1: "might be related"."""
    related: dict[str, Citation] = {}
    for passage in passages:
        key = _source_key(passage)
        if key not in related and len(related) < limit:
            related[key] = passage.citation(len(related) + 1)
    return list(related.values())

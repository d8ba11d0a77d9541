"""Text analysis for BM25 on the embedded store: what Elasticsearch's analysers do, in a few lines.

English words are lower-cased, stripped of stop words and Snowball-stemmed ("policies" and "policy" meet);
CJK runs, which have no spaces, become overlapping character bigrams, as Elasticsearch's ``cjk`` analyser
does. Haystack's in-memory BM25 does neither, which is why it scores below Lucene on English benchmarks
and poorly on Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

from pipelines.text import CJK_CHAR

_CJK = CJK_CHAR.pattern.strip("[]")
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+(?:['’][^\W{_CJK}_]+)?", re.UNICODE)

# Lucene's English stop words (what Elasticsearch's "english" analyser removes).
ENGLISH_STOP_WORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    )
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    """BM25 terms of ``text``: stemmed English words and CJK character bigrams."""
    normalized = unicodedata.normalize("NFKC", text).lower()
    words: list[str] = []
    out: list[str] = []
    for token in _TOKEN.findall(normalized):
        if CJK_CHAR.match(token):
            if len(token) == 1:
                out.append(token)
            else:
                out.extend(token[i : i + 2] for i in range(len(token) - 1))
        else:
            token = token.replace("’", "'")
            if token.endswith("'s"):
                token = token[:-2]
            if token and token not in ENGLISH_STOP_WORDS:
                words.append(token)
    if words:
        out.extend(_stemmer().stemWords(words))
    return out

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


#: Question words and fillers that say nothing about the topic, on top of the analyser's stop words.
_QUESTION_WORD_LIST = """
how what when where which who whom why whose do does did can could may might must should would i me my we
our you your am been being have has had any all some much many please tell know there here about
also just
"""
_QUESTION_WORDS = frozenset(_QUESTION_WORD_LIST.split())

#: Chinese question words and particles, cut out before bigrams are formed, so "有多少天" does not produce
#: "有多" and "少天", bigrams that no passage contains.
CJK_FILLERS = re.compile(
    "什么|多少|怎么|怎样|如何|哪些|哪个|哪里|是否|可以|能否|需要|请问|我们|[吗呢吧啊我你的了是有几谁]"
)


#: "多少天年假" asks for a number of 天 (days) of 年假: the unit counted after 多少/几 is what the answer's
#: figure carries, not a topic, so it goes with the question word; otherwise the question yields "天年", a
#: bigram that matches "28天年假" but not "25天带薪年假".
_CJK_COUNTED_UNIT = re.compile(f"(?:多少|几){CJK_CHAR.pattern}")


@lru_cache(maxsize=1)
def _stemmed_question_words() -> frozenset[str]:
    return frozenset(_stemmer().stemWords(sorted(_QUESTION_WORDS)))


@lru_cache(maxsize=20_000)
def content_terms(text: str) -> tuple[str, ...]:
    """The BM25 terms of ``text`` that carry its topic: ``analyze`` without question words and fillers.

    What a question asks *about* ("vacation", "carry over") is what a passage must contain to answer it;
    "how", "many" and "多少" match everywhere and would make any passage look relevant. Cached: the same
    passages come back for many questions.
    """
    without_fillers = CJK_FILLERS.sub(" ", _CJK_COUNTED_UNIT.sub(" ", text))
    skip = _stemmed_question_words()
    return tuple(term for term in analyze(without_fillers) if term not in skip)

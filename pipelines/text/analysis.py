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

from pipelines.text.basics import CJK_CHAR

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


#: Words that say nothing about a question's topic, on top of the analyser's stop words: the general
#: English stop list of scikit-learn (Glasgow IR group), without its words that can name a topic
#: (numbers, "fire", "bill", "system", "interest", "part", "full", "name", "top", ...) and its verbs
#: ("get", "take", "keep", "give", "go", "put": "employees get 25 days", "take leave").
_QUESTION_WORD_LIST = """
a about above across after afterwards again against all almost alone along already also although always am
among amongst an and another any anyhow anyone anything anyway anywhere are around as at back be became
because become becomes becoming been before beforehand behind being below beside besides between beyond
both but by can cannot cant could couldnt do done down due during each either else elsewhere enough etc
even ever every everyone everything everywhere except few for former formerly from further had
has hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how however i
if in indeed into is it its itself last latter latterly least less many may me meanwhile might mine
more moreover most mostly much must my myself namely neither never nevertheless next no nobody none noone
nor not nothing now nowhere of off often on once one only onto or other others otherwise our ours
ourselves out over own per perhaps please rather re same seem seemed seeming seems several she should
since so some somehow someone something sometime sometimes somewhere still such than that the their
them themselves then thence there thereafter thereby therefore therein thereupon these they this those
though through throughout thru thus to together too toward towards under until up upon us very via was we
well were what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
whether which while whither who whoever whole whom whose why will with within without would yet you your
yours yourself yourselves did does tell know just anymore
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

#: "How long", "how often": the adjective asks for the kind of answer (a duration, a frequency), as 多少
#: does, and is no more a topic than "how" ("How long is the password valid?" is about the password).
_ENGLISH_MEASURE = re.compile(r"\bhow\s+(?:long|often|soon|far|late|early|big|old)\b", re.IGNORECASE)

#: "doesn't", "can't", "won't": the negation of a filler is a filler ("doesn't" would otherwise stay as
#: the term "doesn").
_NEGATED = re.compile(r"\b(?:(ca)|(wo)|(\w+?))n['’]t\b", re.IGNORECASE)


def _negation_stem(match: re.Match[str]) -> str:
    if match[1]:
        return "can"
    return "will" if match[2] else match[3]


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
    without_fillers = _NEGATED.sub(_negation_stem, _ENGLISH_MEASURE.sub(" ", without_fillers))
    skip = _stemmed_question_words()
    # "i'm", "don't": a contraction of a filler is a filler.
    return tuple(
        term for term in analyze(without_fillers) if term not in skip and term.split("'")[0] not in skip
    )

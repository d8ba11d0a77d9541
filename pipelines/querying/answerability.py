"""Do the retrieved passages answer the question? Decided from retrieval evidence, before any answer.

Retrieval always returns *something*: ask about stock options in a handbook without any, and the best
passage is the pension rule that shares the word "vesting". Quoting it, or handing it to an LLM, gives a
confident, misleading answer. This module scores how well the best passages cover the question:

- ``coverage``: the share of the question's content terms (the BM25 analyser's stemmed words and CJK
  bigrams, weighted by IDF) found in the best of the top passages. The IDF is taken over the candidate
  pool both retrievers returned, so a term that no candidate contains ("dog", "stock") weighs most, which
  is what makes "Can I bring my dog to the office?" unanswerable next to an office policy.
- ``sentence_similarity``: the best cosine between the question and one sentence of the top passages,
  for languages the embedder reads. It carries paraphrases ("bike" and "bicycle") that terms miss.

The two are combined by a logistic model fitted on development data (``scripts/calibrate_answerability.py``
on COVID-QA, CMRC 2018 trial and the handbook development questions); the decision threshold on its
probability is ``NEEDLE_ANSWERABILITY_THRESHOLD``.

That threshold decides for the extractive answerer, which cannot tell a passage that answers from one that
shares the question's words. With an LLM the model reads the passages and says when they do not answer,
so the gate stops only hopeless retrieval (:func:`related`): passages sharing almost none of the
question's terms, no sentence close in meaning and (Chinese) few of its characters. Anything else reaches
the model, whose "not in the documents" reply is the abstention.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from haystack import Document

from pipelines.text.analysis import CJK_FILLERS, content_terms
from pipelines.text.basics import CJK_CHAR, quotable_sentences
from pipelines.text.sentence_vectors import cosine_similarities

#: Passages whose coverage and sentences are examined (the extractive answerer quotes from as many).
EXAMINED_PASSAGES = 3
#: Candidates of each retriever that make up the IDF pool: enough to tell common from rare terms.
POOL_PER_RETRIEVER = 50

#: Logistic weights (intercept, coverage, sentence similarity) and (intercept, coverage, character coverage)
#: for languages the embedder does not read; fitted by scripts/calibrate_answerability.py (the figures are in
#: docs/answer-quality.md). The terms-only intercept was then moved from -16.3 by +1.85 (logit 0.25 minus
#: logit 0.05), so the default threshold 0.25 decides as 0.05 did: on the Chinese development data (CMRC 2018
#: trial and the handbook's Chinese development questions, pooled) that costs 1.9 points of accuracy against
#: the ungated answer and refuses 73% of unanswerable questions, where 0.25 cost 6.1 points (17 on a held-out
#: Chinese set) for 82%.
WEIGHTS_WITH_MEANING = (-7.85, 7.46, 6.43)
WEIGHTS_TERMS_ONLY = (-14.45, 4.0, 18.43)

#: With an LLM, the passages relate to the question (and reach the model) when any signal reaches its floor.
#: Chosen on the development data (handbook development questions, COVID-QA, CMRC 2018 trial gate-off
#: reports) as the strictest round values that let every answerable question through; see
#: docs/answer-quality.md.
RELATED_COVERAGE = 0.2
RELATED_SIMILARITY = 0.35
RELATED_CHARACTERS = 0.3

#: Which rule decided: the extract's threshold on the score, or the LLM mode's relatedness floor.
BY_SCORE = "score"
BY_RELATEDNESS = "related"


@dataclass(frozen=True)
class Answerability:
    """The gate's decision and the evidence behind it, as stored in traces and shown in the debugger."""

    answerable: bool
    score: float
    threshold: float
    coverage: float
    sentence_similarity: float | None
    character_coverage: float | None = None
    matched_terms: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)
    best_passage: int | None = None
    reason: str = ""
    #: ``"score"`` (extract: score against threshold) or ``"related"`` (LLM: only hopeless retrieval stops).
    rule: str = BY_SCORE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _idf(pool: Sequence[set[str]], term: str) -> float:
    frequency = sum(1 for terms in pool if term in terms)
    return math.log(1 + (len(pool) - frequency + 0.5) / (frequency + 0.5))


def term_coverage(
    question: str, passages: Sequence[str], pool: Sequence[str]
) -> tuple[float, int | None, list[str], list[str]]:
    """IDF-weighted share of the question's content terms in the best passage.

    Returns the coverage, the index of that passage, and the matched and missing terms.
    """
    question_terms = list(dict.fromkeys(content_terms(question)))
    if not question_terms or not passages:
        return 0.0, None, [], question_terms
    pool_terms = [set(content_terms(text)) for text in pool] or [set()]
    # A CJK bigram no candidate contains is usually two words' edges ("海办" of 上海办公室), not a topic;
    # a topic the corpus lacks ("宿舍") shows in character coverage instead.
    attested = [
        term
        for term in question_terms
        if not CJK_CHAR.match(term) or any(term in terms for terms in pool_terms)
    ]
    question_terms = attested or question_terms
    weights = {term: _idf(pool_terms, term) for term in question_terms}
    total = sum(weights.values())
    best, best_index, best_terms = -1.0, 0, set()
    for index, text in enumerate(passages):
        terms = set(content_terms(text))
        share = sum(weight for term, weight in weights.items() if term in terms) / total
        if share > best:
            best, best_index, best_terms = share, index, terms
    matched = [term for term in question_terms if term in best_terms]
    missing = [term for term in question_terms if term not in best_terms]
    return best, best_index, matched, missing


def character_coverage(question: str, passages: Sequence[str], pool: Sequence[str]) -> float | None:
    """For CJK questions: the IDF-weighted share of the question's units in the best passage, where a
    unit is a CJK character or a non-CJK content term ("VPN", "auth-407").

    Bigrams of a question written in other words than the document ("干满八年" against "服务满八年")
    miss even when the passage answers; single characters are forgiving where bigrams are strict, and a
    topic the corpus lacks ("宿舍") still misses both. ``None`` for questions without CJK characters.
    """
    if not CJK_CHAR.search(question) or not passages:
        return None
    units = _units(question, fillers=True)
    pool_sets = [_units(text) for text in pool] or [set()]
    weights = {unit: _idf(pool_sets, unit) for unit in units}
    total = sum(weights.values()) or 1.0
    passage_sets = [_units(text) for text in passages]
    best = max(sum(weight for unit, weight in weights.items() if unit in found) for found in passage_sets)
    return best / total


def _units(text: str, fillers: bool = False) -> set[str]:
    if fillers:
        text = CJK_FILLERS.sub(" ", text)
    latin = {term for term in content_terms(text) if not CJK_CHAR.match(term)}
    return set(CJK_CHAR.findall(text)) | latin


def best_sentence_similarity(
    passages: Sequence[str],
    query_embedding: Sequence[float],
    encode: Callable[[list[str]], list[list[float]]],
) -> float:
    """The highest cosine between the question and any sentence of ``passages``."""
    sentences = [sentence for text in passages for sentence in quotable_sentences(text)]
    if not sentences:
        return 0.0
    return float(np.max(cosine_similarities(encode(sentences), query_embedding)))


def logistic(weights: Sequence[float], features: Sequence[float]) -> float:
    """``weights`` = (intercept, one weight per feature)."""
    z = weights[0] + sum(weight * value for weight, value in zip(weights[1:], features, strict=True))
    return 1 / (1 + math.exp(-z))


def features(
    coverage: float, similarity: float | None, characters: float | None
) -> tuple[bool, tuple[float, float]]:
    """Which model applies (``True``: with the meaning signal) and its two inputs.

    Shared with ``scripts/calibrate_answerability.py``, so the weights are fitted on exactly what the gate
    computes.
    """
    if similarity is not None:
        return True, (coverage, similarity)
    return False, (coverage, coverage if characters is None else characters)


def score(coverage: float, similarity: float | None, characters: float | None) -> float:
    """The answerability probability under the fitted weights."""
    with_meaning, values = features(coverage, similarity, characters)
    return logistic(WEIGHTS_WITH_MEANING if with_meaning else WEIGHTS_TERMS_ONLY, values)


def related(coverage: float, similarity: float | None, characters: float | None) -> bool:
    """Whether anything in the passages relates to the question: the LLM mode's gate.

    False only when every signal is below its floor: few of the question's terms, no sentence near it in
    meaning (where the embedder reads the language) and, for Chinese, few of its characters. A Chinese
    question's bigram coverage is not used here: bigrams no candidate contains are set aside as word
    edges, so "公司有股票期权吗" keeps only "公司" and is fully "covered" by any company policy.
    """
    by_terms = coverage >= RELATED_COVERAGE if characters is None else characters >= RELATED_CHARACTERS
    return by_terms or (similarity is not None and similarity >= RELATED_SIMILARITY)


def assess(
    question: str,
    documents: list[Document],
    pool: list[Document],
    threshold: float,
    query_embedding: Sequence[float] | None = None,
    encode: Callable[[list[str]], list[list[float]]] | None = None,
    rule: str = BY_SCORE,
) -> Answerability:
    """Score whether ``documents`` (the passages for the answerer) answer ``question``.

    :param pool: every candidate either retriever returned, for the terms' IDF.
    :param query_embedding: the question's embedding, or ``None`` when the embedder does not read the
        question's language; then the decision rests on term coverage alone.
    :param threshold: least score to answer; 0 answers whenever there is a passage (in both rules).
    :param rule: ``"score"`` decides by ``threshold`` (the extractive answerer); ``"related"`` lets
        everything but hopeless retrieval through (an LLM reads the passages and decides itself).
    """
    passages = [doc.content or "" for doc in documents[:EXAMINED_PASSAGES]]
    if not passages:
        return Answerability(False, 0.0, threshold, 0.0, None, reason="no passage was retrieved", rule=rule)
    pool_texts = [doc.content or "" for doc in pool] or passages
    coverage, best, matched, missing = term_coverage(question, passages, pool_texts)
    characters = character_coverage(question, passages, pool_texts)
    similarity = None
    if query_embedding is not None and encode is not None:
        similarity = best_sentence_similarity(passages, query_embedding, encode)
    probability = score(coverage, similarity, characters)
    if rule == BY_RELATEDNESS:
        answerable = threshold <= 0 or related(coverage, similarity, characters)
    else:
        answerable = probability >= threshold
    if threshold <= 0:
        reason = "the answerability gate is off"
    elif rule == BY_RELATEDNESS:
        reason = (
            "the passages relate to the question: the language model decides whether they answer it"
            if answerable
            else "nothing in the passages relates to the question"
        )
    elif answerable:
        reason = "the best passages cover the question"
    elif missing:
        reason = f"the passages do not mention {', '.join(missing[:5])}"
    else:
        reason = "the passages share the question's words but do not answer it"
    return Answerability(
        answerable=answerable,
        score=round(probability, 4),
        threshold=threshold,
        coverage=round(coverage, 4),
        sentence_similarity=None if similarity is None else round(similarity, 4),
        character_coverage=None if characters is None else round(characters, 4),
        matched_terms=matched,
        missing_terms=missing,
        best_passage=None if best is None else best + 1,
        reason=reason,
        rule=rule,
    )

"""Answer without a language model: quote the sentences of the top passages that best match the question.

This is the embedded default (no server, no token) and the fallback when the LLM fails. It never writes
words of its own beyond a fixed framing line, so a document that contains instructions cannot make it say
anything the documents do not say.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
from haystack import Document, component

from pipelines.querying.answerability import EXAMINED_PASSAGES
from pipelines.text.analysis import content_terms
from pipelines.text.basics import contextual_sentences, is_mostly_cjk, word_count
from pipelines.text.sentence_vectors import cosine_similarities

#: Questions whose answer is a figure or a date: amounts, limits, prices, times.
_QUANTITY_QUESTION = re.compile(
    r"\b(how (many|much|long|often|far|big)|when|what time|deadline|limits?|max(imum)?|min(imum)?|"
    r"cost|price|budget|allowance|rate|fee|amount|salary|percent(age)?)\b"
    r"|多少|几|多久|什么时候|上限|下限|最多|最少|最高|最低|费用|标准|额度|金额",
    re.I,
)
_DIGIT = re.compile(r"\d")

EXTRACT_INTRO_EN = "From the documents (quoted as written):"
EXTRACT_INTRO_ZH = "文档原文摘录："
#: Later sentences of a passage lose a little: documents state the rule before its exceptions and examples.
POSITION_DISCOUNT = 0.03
#: Headings and list labels ("Acme Connect VPN") say nothing on their own.
MIN_SENTENCE_WORDS = 4
#: A question term found only in a sentence's context (the FAQ question it answers, the sentence it refers
#: back to) counts this much of one found in the sentence itself (or in the lead-in of its list).
CONTEXT_WEIGHT = 0.5
NOT_FOUND_EN = "I could not find this in the documents."
NOT_FOUND_ZH = "我在文档中没有找到相关内容。"


@component
class ExtractiveAnswerer:
    """Pick up to ``max_sentences`` sentences from the first ``max_passages`` passages, each cited [n].

    Sentences are scored by the IDF-weighted overlap of their terms with the question's (CJK text by
    character bigrams), discounted by the rank of their passage, with a bonus for figures when the
    question asks for a quantity or a date. A list item's lead-in counts as part of the item: "- when
    travelling between 22:00 and 06:00;" answers a question about taxis because the line above it says
    "Taxis ... are reimbursed only in these cases:". Terms the sentence's context holds (the FAQ question
    it answers, the sentence it refers back to) count at ``CONTEXT_WEIGHT``: the answer under the FAQ
    heading "Lost your phone?" rarely repeats "phone". With a ``sentence_encoder`` and the
    query embedding, the cosine similarity of each sentence to the question is added: word overlap alone
    cannot tell "you get 25 vacation days" from "you can carry over 5 vacation days". The semantic part
    is skipped for CJK questions, which an English embedder does not understand.
    """

    def __init__(
        self,
        max_sentences: int = 3,
        max_passages: int = EXAMINED_PASSAGES,
        sentence_encoder: Callable[[list[str]], list[list[float]]] | None = None,
    ) -> None:
        if max_sentences < 1 or max_passages < 1:
            raise ValueError("max_sentences and max_passages must be at least 1")
        self.max_sentences = max_sentences
        self.max_passages = max_passages
        self.sentence_encoder = sentence_encoder

    @component.output_types(text=str, cited=list[int], found=bool)
    def run(
        self, question: str, documents: list[Document], query_embedding: list[float] | None = None
    ) -> dict[str, object]:
        """Return the extract text, the passage numbers it cites (1-based), and whether anything matched."""
        chinese = is_mostly_cjk(question)
        candidates: list[tuple[int, int, str]] = []  # (passage number, position, sentence)
        contexts: list[str] = []
        lead_ins: list[str] = []
        seen: set[str] = set()  # overlapping chunks repeat sentences; quote each once, from the best passage
        for number, document in enumerate(documents[: self.max_passages], start=1):
            for position, sentence in enumerate(contextual_sentences(document.content or "")):
                key = " ".join(sentence.text.split())
                if key not in seen:
                    seen.add(key)
                    candidates.append((number, position, sentence.text))
                    contexts.append(sentence.context)
                    lead_ins.append(sentence.lead_in)
        question_terms = set(content_terms(question))
        if not candidates or not question_terms:
            return self._not_found(chinese)

        # A list item and the lead-in it completes read as one sentence ("Taxis are reimbursed only in
        # these cases: when travelling between 22:00 and 06:00"): the lead-in's terms are the item's own.
        said = [set(content_terms(sentence)) & question_terms for _, _, sentence in candidates]
        led = [set(content_terms(lead_in)) & question_terms for lead_in in lead_ins]
        own_terms = [own | lead for own, lead in zip(said, led, strict=True)]
        context_terms = [
            (set(content_terms(context)) & question_terms) - own
            for context, own in zip(contexts, own_terms, strict=True)
        ]
        # A term's rarity is counted over the sentences themselves: a heading that repeats it as context
        # for every sentence of its section must not make it common, and a lead-in is one sentence however
        # many items complete it.
        document_frequency: dict[str, int] = {}
        context_frequency: dict[str, int] = {}
        counted_lead_ins: set[str] = set()
        for index, (own, context) in enumerate(zip(own_terms, context_terms, strict=True)):
            counted = said[index]
            if lead_ins[index] and lead_ins[index] not in counted_lead_ins:
                counted_lead_ins.add(lead_ins[index])
                counted = counted | led[index]
            for term in counted:
                document_frequency[term] = document_frequency.get(term, 0) + 1
            for term in (own - counted) | context:
                context_frequency[term] = context_frequency.get(term, 0) + 1
        total = len(candidates)
        wants_figure = bool(_QUANTITY_QUESTION.search(question))

        def weight(term: str) -> float:
            return math.log(1 + total / (document_frequency.get(term) or context_frequency[term]))

        lexical = np.zeros(total)
        for index, (_, _, sentence) in enumerate(candidates):
            own, context = own_terms[index], context_terms[index]
            if (own or context) and word_count(sentence) >= MIN_SENTENCE_WORDS:
                lexical[index] = sum(map(weight, own)) + CONTEXT_WEIGHT * sum(map(weight, context))
                if wants_figure and _DIGIT.search(sentence):
                    lexical[index] *= 1.3
        if not lexical.any():
            return self._not_found(chinese)
        combined = lexical / lexical.max()
        if self.sentence_encoder is not None and query_embedding is not None and not chinese:
            combined = combined + self._similarities([s for _, _, s in candidates], query_embedding)
        rank_discount = np.array(
            [1 + 0.15 * (number - 1) + POSITION_DISCOUNT * position for number, position, _ in candidates]
        )
        combined = np.where(lexical > 0, combined / rank_discount, 0.0)
        scored = [(float(score), index) for index, score in enumerate(combined) if score > 0]

        best = sorted(scored, reverse=True)[: self.max_sentences]
        chosen = [index for _, index in best]  # best first: the reader may stop after one line
        lines = [f"> {candidates[index][2]} [{candidates[index][0]}]" for index in chosen]
        cited = sorted({candidates[index][0] for index in chosen})
        intro = EXTRACT_INTRO_ZH if chinese else EXTRACT_INTRO_EN
        return {"text": intro + "\n" + "\n".join(lines), "cited": cited, "found": True}

    def _similarities(self, sentences: list[str], query_embedding: list[float]) -> np.ndarray:
        assert self.sentence_encoder is not None
        return np.clip(cosine_similarities(self.sentence_encoder(sentences), query_embedding), 0.0, 1.0)

    @staticmethod
    def _not_found(chinese: bool) -> dict[str, object]:
        return {"text": NOT_FOUND_ZH if chinese else NOT_FOUND_EN, "cited": [], "found": False}

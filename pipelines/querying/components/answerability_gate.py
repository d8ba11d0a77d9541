"""The query pipeline's answerability gate: a Haystack component around
:mod:`pipelines.querying.answerability`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from haystack import Document, component

from pipelines.querying.answerability import BY_RELATEDNESS, BY_SCORE, POOL_PER_RETRIEVER, assess
from pipelines.text.basics import query_language


@component
class AnswerabilityGate:
    """Decide, before anything is generated, whether the final passages answer the question.

    Sits between retrieval and the answer generator, which skips the LLM (and the quote) when the
    decision is no. Both retrievers' lists come in as well: their union is the pool the question terms'
    IDF is taken over. In front of an LLM (``for_llm``) it stops only hopeless retrieval: the model reads
    the passages and says itself when they do not answer, so the extract's threshold would only keep
    answerable questions from it.

    :param threshold: least score to answer (``NEEDLE_ANSWERABILITY_THRESHOLD``); 0 turns the gate off.
    :param for_llm: the answerer is an LLM: decide by relatedness, not by the threshold.
    :param sentence_encoder: encodes sentences with the query embedder's model, for the meaning signal.
    :param embedding_languages: languages the embedder reads; for others only term coverage counts.
    """

    def __init__(
        self,
        threshold: float,
        sentence_encoder: Callable[[list[str]], list[list[float]]] | None = None,
        embedding_languages: list[str] | None = None,
        for_llm: bool = False,
    ) -> None:
        if not 0 <= threshold <= 1:
            raise ValueError("threshold must be between 0 and 1")
        self.threshold = threshold
        self.for_llm = for_llm
        self.sentence_encoder = sentence_encoder
        self.embedding_languages = embedding_languages

    @component.output_types(answerability=dict[str, Any])
    def run(
        self,
        question: str,
        documents: list[Document],
        bm25_documents: list[Document] | None = None,
        dense_documents: list[Document] | None = None,
        query_embedding: list[float] | None = None,
        threshold: float | None = None,
    ) -> dict[str, Any]:
        """Return ``answerability``: the decision with its evidence (see ``Answerability``)."""
        candidates = [
            *(bm25_documents or [])[:POOL_PER_RETRIEVER],
            *(dense_documents or [])[:POOL_PER_RETRIEVER],
            *documents,
        ]
        pool = {doc.id: doc for doc in candidates}
        languages = self.embedding_languages
        reads_language = languages is None or query_language(question) in languages
        decision = assess(
            question,
            documents,
            list(pool.values()),
            threshold=self.threshold if threshold is None else threshold,
            query_embedding=query_embedding if reads_language else None,
            encode=self.sentence_encoder,
            rule=BY_RELATEDNESS if self.for_llm else BY_SCORE,
        )
        return {"answerability": decision.to_dict()}

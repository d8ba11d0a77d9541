"""The query pipeline: BM25 + dense retrieval, fused, optionally reranked, prompted, answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from haystack import Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder

from pipelines.base.settings import Settings
from pipelines.querying.components import AnswerabilityGate, AnswerGenerator, ExtractiveAnswerer, RankFusion
from pipelines.querying.llm import LLMStatus
from pipelines.querying.prompt import prompt_template
from pipelines.stores.backends import SearchBackend
from pipelines.text.sentence_vectors import CachedSentenceEncoder

#: Nodes whose outputs the service keeps for the trace and the admin debugger.
TRACED_NODES = frozenset(
    {"bm25_retriever", "embedding_retriever", "fusion", "ranker", "gate", "prompt_builder"}
)


def build_text_embedder(model: str) -> SentenceTransformersTextEmbedder:
    return SentenceTransformersTextEmbedder(
        model=model, progress_bar=False, normalize_embeddings=True, token=None
    )


def local_sentence_encoder(
    text_embedder: SentenceTransformersTextEmbedder,
) -> Callable[[list[str]], list[list[float]]]:
    """Encode sentences with the query embedder's model (loaded once, on first use), cached per sentence
    so the gate and the extractive answerer encode each sentence once."""

    def encode(sentences: list[str]) -> list[list[float]]:
        text_embedder.warm_up()
        return text_embedder.embedding_backend.embed(sentences, batch_size=64, normalize_embeddings=True)

    return CachedSentenceEncoder(encode)


def build_ranker(settings: Settings, model: str) -> Any:
    from haystack_integrations.components.rankers.sentence_transformers import (
        SentenceTransformersSimilarityRanker,
    )

    return SentenceTransformersSimilarityRanker(model=model, top_k=settings.top_k, token=None)


def build_retrieval_pipeline(
    settings: Settings,
    backend: SearchBackend,
    text_embedder: Any,
    ranker: Any | None = None,
) -> Pipeline:
    """Retrieval alone: query embedder, BM25 and embedding retrievers over one store, fusion, ranker.

    The two retrievers run on the same store; ``fusion`` keeps each retriever's rank and score on the
    fused copies. With a ranker, fusion passes ``reranker_top_k`` passages and the ranker keeps
    ``top_k``; without one, fusion keeps ``top_k`` itself. ``needle eval`` runs this pipeline as is.
    """
    bm25_retriever, embedding_retriever = backend.retrievers(settings)
    pipeline = Pipeline()
    pipeline.add_component("query_embedder", text_embedder)
    pipeline.add_component("bm25_retriever", bm25_retriever)
    pipeline.add_component("embedding_retriever", embedding_retriever)
    pipeline.add_component(
        "fusion",
        RankFusion(
            mode=settings.fusion,
            rrf_k=settings.rrf_k,
            bm25_weight=settings.bm25_weight,
            dense_weight=settings.dense_weight,
            top_k=settings.reranker_top_k if ranker is not None else settings.top_k,
            dense_languages=settings.embedding_languages,
        ),
    )
    pipeline.connect("query_embedder.embedding", "embedding_retriever.query_embedding")
    pipeline.connect("bm25_retriever.documents", "fusion.bm25_documents")
    pipeline.connect("embedding_retriever.documents", "fusion.dense_documents")
    if ranker is not None:
        pipeline.add_component("ranker", ranker)
        pipeline.connect("fusion.documents", "ranker.documents")
    return pipeline


def build_query_pipeline(
    settings: Settings,
    backend: SearchBackend,
    text_embedder: Any,
    generator: Any | None,
    ranker: Any | None = None,
    sentence_encoder: Callable[[list[str]], list[list[float]]] | None = None,
    llm_status: LLMStatus | None = None,
) -> Pipeline:
    """The retrieval pipeline, the answerability gate, the chat prompt and the answer generator.

    ``sentence_encoder`` embeds passage sentences for the gate and the extract (default: the local text
    embedder's model); ``llm_status`` records how each call to the LLM went."""
    pipeline = build_retrieval_pipeline(settings, backend, text_embedder, ranker)
    sentence_encoder = sentence_encoder or local_sentence_encoder(text_embedder)
    pipeline.add_component(
        "gate",
        AnswerabilityGate(
            threshold=settings.answerability_threshold,
            sentence_encoder=sentence_encoder,
            embedding_languages=settings.embedding_languages,
            for_llm=generator is not None,
        ),
    )
    pipeline.add_component(
        "prompt_builder",
        ChatPromptBuilder(template=prompt_template(), required_variables=["question", "documents"]),
    )
    pipeline.add_component(
        "llm",
        AnswerGenerator(
            generator=generator,
            extractive=ExtractiveAnswerer(sentence_encoder=sentence_encoder),
            timeout_seconds=settings.llm_timeout_seconds,
            status=llm_status,
        ),
    )
    final = "ranker.documents" if ranker is not None else "fusion.documents"
    pipeline.connect(final, "gate.documents")
    pipeline.connect("bm25_retriever.documents", "gate.bm25_documents")
    pipeline.connect("embedding_retriever.documents", "gate.dense_documents")
    pipeline.connect("query_embedder.embedding", "gate.query_embedding")
    pipeline.connect("gate.answerability", "llm.answerability")
    pipeline.connect(final, "prompt_builder.documents")
    pipeline.connect(final, "llm.documents")
    pipeline.connect("prompt_builder.prompt", "llm.messages")
    pipeline.connect("query_embedder.embedding", "llm.query_embedding")
    return pipeline

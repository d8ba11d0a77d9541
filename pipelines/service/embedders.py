"""Which embedder Needle uses, in one place: the local sentence-transformers model or a Hugging Face-hosted
one (text-embeddings-inference, an Inference Endpoint, or the serverless API).

On 2 CPU cores the local MiniLM embeds about 30 chunks a second; a GPU endpoint embeds a large corpus far
faster. ``NEEDLE_EMBEDDING_API`` picks the embedder; everything else (the indexing pipeline, the query
pipeline, the answerability gate's sentence vectors, evaluations) receives an :class:`Embedders` and never
asks which one it is. Every chunk records the embedder that built its vector (``meta.embedder``), and
Needle refuses to write vectors of one embedder into an index built by another: mixed vectors make dense
retrieval silently wrong. ``needle reindex`` moves an index to the configured embedder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from haystack import Document, component

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings

logger = logging.getLogger(__name__)

#: Haystack's names for the hosted APIs.
_API_TYPES = {
    "tei": "text_embeddings_inference",
    "inference_endpoint": "inference_endpoints",
    "serverless": "serverless_inference_api",
}
#: Attempts for a batch the server says it is too busy for (HTTP 429 or 503), with this first delay.
BUSY_ATTEMPTS = 3
BUSY_DELAY_SECONDS = 0.5


class EmbeddingServiceError(NeedleError):
    """The hosted embedder failed; the message says what happened in plain words."""


@dataclass
class Embedders:
    """The configured embedder's parts.

    ``identity`` names the embedder in each chunk's ``meta.embedder`` and in the embedding cache's key.
    """

    identity: str
    dimension: int
    text_embedder: Any
    document_embedder: Any
    sentence_encoder: Callable[[list[str]], list[list[float]]]
    new_text_embedder: Callable[[], Any]  # a fresh component (a component belongs to one pipeline)


def embedder_identity(settings: Settings) -> str:
    if settings.embedding_api == "local":
        return f"local:{settings.embedding_model}"
    target = settings.embedding_url if settings.embedding_api != "serverless" else settings.embedding_model
    return f"{settings.embedding_api}:{target}"


def build_embedders(settings: Settings) -> Embedders:
    """Load the local model, or connect to the hosted embedder and learn its dimension with one call.

    :raises EmbeddingServiceError: the hosted embedder does not answer or answers nonsense.
    """
    if settings.embedding_api == "local":
        return _local(settings)
    return _hosted(settings)


def _local(settings: Settings) -> Embedders:
    from pipelines.base.models import resolve_model
    from pipelines.indexing.pipeline import build_document_embedder
    from pipelines.querying.pipeline import build_text_embedder, local_sentence_encoder

    model = resolve_model(settings.embedding_model)
    text_embedder = build_text_embedder(model)
    text_embedder.warm_up()  # loads the model once; the document embedder shares it
    document_embedder = build_document_embedder(settings, model)
    document_embedder.warm_up()
    return Embedders(
        identity=embedder_identity(settings),
        dimension=int(text_embedder.embedding_backend.model.get_embedding_dimension()),
        text_embedder=text_embedder,
        document_embedder=document_embedder,
        sentence_encoder=local_sentence_encoder(text_embedder),
        new_text_embedder=lambda: build_text_embedder(model),
    )


def _api_params(settings: Settings) -> dict[str, str]:
    if settings.embedding_api == "serverless":
        return {"model": settings.embedding_model}
    return {"url": str(settings.embedding_url)}


def _hosted(settings: Settings) -> Embedders:
    from haystack.utils import Secret
    from haystack_integrations.components.embedders.huggingface_api import (
        HuggingFaceAPIDocumentEmbedder,
        HuggingFaceAPITextEmbedder,
    )

    from pipelines.text.sentence_vectors import CachedSentenceEncoder

    token = (
        Secret.from_token(settings.hf_token.get_secret_value())
        if settings.hf_token
        else Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)
    )
    api_type = _API_TYPES[settings.embedding_api]

    def text_embedder() -> Any:
        return HuggingFaceAPITextEmbedder(
            api_type=api_type, api_params=_api_params(settings), token=token, truncate=True, normalize=True
        )

    def document_embedder(meta_fields: list[str]) -> Any:
        return HuggingFaceAPIDocumentEmbedder(
            api_type=api_type,
            api_params=_api_params(settings),
            token=token,
            truncate=True,
            normalize=True,
            batch_size=settings.embedding_batch_size,
            progress_bar=False,
            meta_fields_to_embed=meta_fields,
        )

    documents = ResilientDocumentEmbedder(document_embedder(["title"]), where=_where(settings))
    sentences = ResilientDocumentEmbedder(document_embedder([]), where=_where(settings))

    def encode(texts: list[str]) -> list[list[float]]:
        embedded = sentences.run(documents=[Document(content=text) for text in texts])["documents"]
        return [list(document.embedding or []) for document in embedded]

    probe = text_embedder()
    probe.warm_up()
    try:
        dimension = len(probe.run(text="dimension probe")["embedding"])
    except Exception as error:
        raise EmbeddingServiceError(
            f"The embedding service at {_where(settings)} did not answer ({_reason(error)})"
        ) from error
    if dimension == 0:
        raise EmbeddingServiceError(f"The embedding service at {_where(settings)} returned an empty vector")
    return Embedders(
        identity=embedder_identity(settings),
        dimension=dimension,
        text_embedder=probe,
        document_embedder=documents,
        sentence_encoder=CachedSentenceEncoder(encode),
        new_text_embedder=text_embedder,
    )


def _where(settings: Settings) -> str:
    return str(settings.embedding_url or settings.embedding_model)


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _reason(error: BaseException) -> str:
    status = _status(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"HTTP {status}: {text[:200]}" if status else text[:200]


@component
class ResilientDocumentEmbedder:
    """A hosted document embedder that survives the server's documented refusals.

    text-embeddings-inference refuses a batch larger than its ``--max-client-batch-size`` with 413: the
    batch is halved and retried, and the smaller size kept. A busy server (429, 503) is retried with a
    growing delay. Any other failure is an :class:`EmbeddingServiceError` in plain words; nothing is
    written for that file.
    """

    def __init__(self, embedder: Any, where: str) -> None:
        self.embedder = embedder
        self.where = where
        # What the cache key and the chunker read from a document embedder.
        self.meta_fields_to_embed = embedder.meta_fields_to_embed
        self.embedding_separator = embedder.embedding_separator
        self.model = where

    def warm_up(self) -> None:
        self.embedder.warm_up()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        delay = BUSY_DELAY_SECONDS
        attempt = 1
        while True:
            try:
                return self.embedder.run(documents=documents)
            except Exception as error:
                status = _status(error)
                if status == 413 and self.embedder.batch_size > 1:
                    self.embedder.batch_size = max(1, self.embedder.batch_size // 2)
                    logger.warning(
                        "the embedding service refused the batch size; using %d", self.embedder.batch_size
                    )
                    continue
                if status in (429, 503) and attempt < BUSY_ATTEMPTS:
                    logger.warning(
                        "the embedding service is busy (HTTP %s); retrying in %.1f s", status, delay
                    )
                    time.sleep(delay)
                    delay *= 2
                    attempt += 1
                    continue
                raise EmbeddingServiceError(
                    f"The embedding service at {self.where} failed ({_reason(error)})"
                ) from error

"""The last stage of the query pipeline: a grounded answer from the LLM, or a cited extract.

The chat generator (``OpenAIChatGenerator`` for a server at a URL, ``HuggingFaceAPIChatGenerator`` for
serverless; see :mod:`pipelines.querying.llm`) is wrapped rather than wired in directly, because an
employee must
get an answer even when the model is down, slow, cut off or returns nothing: every failure falls back to
the extractive answer and says why in one sentence, and the technical cause goes to the log.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from haystack import Document, component
from haystack.dataclasses import ChatMessage, StreamingChunk

from pipelines.querying.components.extractive_answerer import NOT_FOUND_EN, NOT_FOUND_ZH, ExtractiveAnswerer
from pipelines.querying.llm import LLMStatus
from pipelines.text.basics import is_mostly_cjk

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"\[(\d{1,3})\]")
#: How a model says the passages do not answer (the prompt asks for "I could not find this in the
#: documents."; models paraphrase it). Only uncited replies are checked: a reply with a citation answered.
_NOT_FOUND_REPLY = re.compile(
    r"\b(?:could ?n[o']t|can ?n[o']t|cannot|unable to|did ?n[o']t|do ?n[o']t|does ?n[o']t)\s+"
    r"(?:find|locate|see|contain|mention|include|say|specify|provide|cover|address)\b"
    r"|\bno (?:information|mention|details?|answer)\b"
    r"|\bnot (?:mentioned|covered|specified|addressed|found|stated|included) in\b"
    r"|没有找到|未找到|找不到|没有提到|未提及|没有提及|没有相关|无相关|文档中没有|无法(?:找到|回答|确定)",
    re.IGNORECASE,
)

#: Answer kinds, also the label of the answers metric.
GENERATED = "generated"
EXTRACTIVE = "extractive"
FALLBACK = "fallback"
NO_ANSWER = "no_answer"


class LLMDeadlineExceededError(TimeoutError):
    """The streamed answer took longer than the configured timeout."""


class LLMStreamCutError(ConnectionError):
    """The streamed answer ended without the model saying it had finished (the connection was cut)."""


def cited_numbers(text: str, passage_count: int) -> list[int]:
    """Passage numbers cited as ``[n]`` in ``text`` that point at a real passage, in order of first use."""
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        if 1 <= number <= passage_count and number not in seen:
            seen.append(number)
    return seen


def says_not_found(reply: str) -> bool:
    """True when an LLM reply cites nothing and says the passages do not contain the answer."""
    return not _CITATION.search(reply) and bool(_NOT_FOUND_REPLY.search(reply))


def describe_llm_failure(error: BaseException, timeout_seconds: float) -> str:
    """One plain sentence about why the LLM gave no answer; never the exception's own text."""
    name = type(error).__name__.lower()
    text = str(error).lower()
    if isinstance(error, LLMStreamCutError):
        return "The language model's answer was cut off"
    if isinstance(error, TimeoutError) or "timeout" in name or "timed out" in text or "timeout" in text:
        return f"The language model did not answer within {timeout_seconds:g} seconds"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status in (401, 403):
        return "The language model service refused Needle's credentials"
    if status == 404:
        return "The language model service does not serve the configured model (HTTP 404)"
    if status == 429:
        return "The language model service is rate-limiting Needle right now"
    if status is not None:
        return f"The language model service returned an error (HTTP {status})"
    if "connect" in name or "connect" in text:
        return "The language model service could not be reached"
    return "The language model failed to answer"


def model_name(generator: Any) -> str:
    """The model as recorded in traces: the serverless model id, or the served model at its URL."""
    if hasattr(generator, "_model_or_url"):
        return str(generator._model_or_url or "")
    model, url = getattr(generator, "model", ""), getattr(generator, "api_base_url", "")
    return f"{model} at {url}" if url else str(model or "")


def extract_may_answer(answerability: dict[str, Any]) -> bool:
    """Whether the extract's gate (score against threshold) lets the passages be quoted."""
    threshold = float(answerability.get("threshold") or 0)
    return bool(answerability.get("answerable", True)) and (
        threshold <= 0 or float(answerability.get("score") or 0) >= threshold
    )


@component
class AnswerGenerator:
    """Generate a cited answer with an LLM when one is configured, else (or on failure) an extract.

    :param generator: a Haystack chat generator (see :mod:`pipelines.querying.llm`), or ``None`` for the
        extractive answerer alone.
    :param timeout_seconds: the whole answer's deadline, enforced between streamed tokens as well as by
        the HTTP client's own timeout.
    :param status: where each call's outcome is recorded (readiness, the console header).
    """

    def __init__(
        self,
        generator: Any | None = None,
        extractive: ExtractiveAnswerer | None = None,
        timeout_seconds: float = 30.0,
        status: LLMStatus | None = None,
    ) -> None:
        self.generator = generator
        self.extractive = extractive or ExtractiveAnswerer()
        self.timeout_seconds = timeout_seconds
        self.status = status

    def warm_up(self) -> None:
        if self.generator is not None and hasattr(self.generator, "warm_up"):
            self.generator.warm_up()

    @component.output_types(text=str, kind=str, cited=list[int], notice=str, model=str, found=bool, reply=str)
    def run(
        self,
        question: str,
        documents: list[Document],
        messages: list[ChatMessage],
        streaming_callback: Callable[[str], None] | None = None,
        query_embedding: list[float] | None = None,
        answerability: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer ``question`` from ``documents``; ``messages`` is the rendered prompt for the LLM.

        ``streaming_callback`` receives each new piece of generated text as it arrives;
        ``query_embedding`` lets the extractive answerer rank sentences by meaning as well as by words;
        when ``answerability`` says the passages do not answer, neither the LLM nor the extract runs
        (no cost, no quote that looks like an answer). ``found`` is false when nothing was answered;
        ``reply`` is the model's own text, kept for the trace when it is not shown.
        """
        if not documents or (answerability is not None and not answerability.get("answerable", True)):
            return self._not_found(question)
        if self.generator is None:
            return self._extract(question, documents, "", query_embedding)

        model = model_name(self.generator)
        try:
            reply = self._generate(messages, streaming_callback)
        except Exception as error:  # any failure of the remote model must still give the user an answer
            logger.warning("LLM call failed; answering with an extract", exc_info=error)
            notice = describe_llm_failure(error, self.timeout_seconds)
            self._record(False, notice)
            return self._fallback(question, documents, notice, query_embedding, answerability)
        if not reply.strip():
            logger.warning("LLM returned an empty answer; answering with an extract")
            notice = "The language model returned an empty answer"
            self._record(False, notice)
            return self._fallback(question, documents, notice, query_embedding, answerability)
        self._record(True)
        if says_not_found(reply):
            return {**self._not_found(question), "model": model, "reply": reply.strip()}
        cited = cited_numbers(reply, len(documents))
        return self._result(reply.strip(), GENERATED, cited, "", model)

    def _generate(self, messages: list[ChatMessage], streaming_callback: Callable[[str], None] | None) -> str:
        started = time.monotonic()

        def on_chunk(chunk: StreamingChunk) -> None:
            if time.monotonic() - started > self.timeout_seconds:
                raise LLMDeadlineExceededError(f"no complete answer after {self.timeout_seconds} s")
            if chunk.content and streaming_callback is not None:
                streaming_callback(chunk.content)

        result = self.generator.run(messages=messages, streaming_callback=on_chunk)
        replies = result.get("replies") or []
        if not replies:
            return ""
        text = replies[0].text or ""
        if text and not (replies[0].meta or {}).get("finish_reason"):
            # A stream that ends without the model's finish reason was cut (a proxy or the server died):
            # half an answer must not be shown as a whole one.
            raise LLMStreamCutError("the stream ended before the model finished")
        return text

    def _record(self, ok: bool, error: str = "") -> None:
        if self.status is not None:
            self.status.record(ok, error)

    def _fallback(
        self,
        question: str,
        documents: list[Document],
        notice: str,
        query_embedding: list[float] | None,
        answerability: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The extract instead of the model's answer, under the extract's own gate: the LLM mode's gate let
        weakly related passages through for the model to judge, and a quote of them would mislead."""
        if answerability is not None and not extract_may_answer(answerability):
            return {**self._not_found(question), "notice": notice}
        return self._extract(question, documents, notice, query_embedding)

    def _extract(
        self, question: str, documents: list[Document], notice: str, query_embedding: list[float] | None
    ) -> dict[str, Any]:
        extract = self.extractive.run(question=question, documents=documents, query_embedding=query_embedding)
        text = str(extract["text"])
        kind = FALLBACK if notice else EXTRACTIVE
        if notice:
            lead = (
                f"{notice}，以下是原文摘录。"
                if is_mostly_cjk(question)
                else f"{notice}, so here is an extract instead."
            )
            text = f"{lead}\n\n{text}"
        if not extract["found"]:
            return {**self._not_found(question), "notice": notice}
        return self._result(text, kind, list(extract["cited"]), notice)  # type: ignore[arg-type]

    def _not_found(self, question: str) -> dict[str, Any]:
        text = NOT_FOUND_ZH if is_mostly_cjk(question) else NOT_FOUND_EN
        return self._result(text, NO_ANSWER, [], "", found=False)

    @staticmethod
    def _result(
        text: str, kind: str, cited: list[int], notice: str, model: str = "", found: bool = True
    ) -> dict[str, Any]:
        return {
            "text": text,
            "kind": kind,
            "cited": cited,
            "notice": notice,
            "model": model,
            "found": found,
            "reply": "",
        }

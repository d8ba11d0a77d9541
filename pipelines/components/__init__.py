"""Needle's own Haystack components: small classes with a typed ``run()`` returning a dict."""

from pipelines.components.answer_generator import AnswerGenerator
from pipelines.components.answerability_gate import AnswerabilityGate
from pipelines.components.chunker import SentenceChunker
from pipelines.components.extractive_answerer import ExtractiveAnswerer
from pipelines.components.rank_fusion import RankFusion
from pipelines.components.source_writer import SourceWriter

__all__ = [
    "AnswerGenerator",
    "AnswerabilityGate",
    "ExtractiveAnswerer",
    "RankFusion",
    "SentenceChunker",
    "SourceWriter",
]

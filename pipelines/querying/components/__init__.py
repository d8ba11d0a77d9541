"""The query side's own Haystack components: fusion, the answerability gate and the two answerers."""

from pipelines.querying.components.answer_generator import AnswerGenerator
from pipelines.querying.components.answerability_gate import AnswerabilityGate
from pipelines.querying.components.extractive_answerer import ExtractiveAnswerer
from pipelines.querying.components.rank_fusion import RankFusion

__all__ = ["AnswerGenerator", "AnswerabilityGate", "ExtractiveAnswerer", "RankFusion"]

"""How alike two questions are, for grouping gap questions and for matching a verified answer.

The bundled embedder (all-MiniLM-L6-v2) puts every workplace question close to every other, and every
Chinese question close to every other Chinese one: the cosine of two unrelated Chinese questions is as
high as that of two paraphrases. So before comparing, each question's vector has what all questions of
its language share taken out: the mean and the first :data:`COMMON_DIRECTIONS` principal directions of
a fixed reference set of workplace questions (``reference_questions.json``, the handbook's dev
questions), per language. The words two questions share (:func:`pipelines.text.analysis.content_terms`:
stemmed English terms, Chinese character bigrams, without question words) are added as an overlap
coefficient, which is what tells 体检 from 团建 where the embedder cannot.

Both constants were chosen on the dev data only (tests/data/knowledge/gap_groups_dev.json and
tests/data/handbook_answers_dev.jsonl); see docs/knowledge.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipelines.text.analysis import content_terms
from pipelines.text.basics import is_mostly_cjk

#: Principal directions of the reference questions removed per language (chosen on dev data).
COMMON_DIRECTIONS = 3
#: Weight of the shared-terms overlap added to the cosine (chosen on dev data).
LEXICAL_WEIGHT = 1.0
REFERENCE_FILE = Path(__file__).with_name("reference_questions.json")

Encode = Callable[[list[str]], list[list[float]]]
#: The reference set's common parts per embedder identity, computed once per process.
_SHARED: dict[str, dict[bool, tuple[np.ndarray, np.ndarray]]] = {}


def reference_questions() -> list[str]:
    return list(json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))["questions"])


class QuestionSpace:
    """Question vectors with the common part taken out, and the similarity of two questions.

    Built from the embedder's ``encode(texts) -> vectors`` (the service's sentence encoder); the
    reference set is encoded once, on first use. Thread-safe.
    """

    def __init__(
        self, encode: Encode, reference: Sequence[str] | None = None, embedder: str | None = None
    ) -> None:
        """:param embedder: the embedder's identity: spaces of the same embedder share the reference
        set's encoding (it is encoded once per process, not once per service)."""
        self._encode = encode
        self._reference = list(reference) if reference is not None else None
        self._embedder = embedder if reference is None else None
        self._common: dict[bool, tuple[np.ndarray, np.ndarray]] | None = None
        self._lock = threading.Lock()

    def _common_parts(self) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            if self._common is None and self._embedder in _SHARED:
                self._common = _SHARED[self._embedder]
            if self._common is None:
                questions = self._reference if self._reference is not None else reference_questions()
                vectors = _normalized(np.asarray(self._encode(questions), dtype=np.float32))
                chinese = np.array([is_mostly_cjk(question) for question in questions])
                self._common = {
                    language: _mean_and_directions(vectors[chinese == language]) for language in (True, False)
                }
            return self._common

    def vectors(self, questions: Sequence[str]) -> np.ndarray:
        """One unit vector per question, without its language's common part."""
        if not questions:
            return np.zeros((0, 0), dtype=np.float32)
        common = self._common_parts()
        raw = _normalized(np.asarray(self._encode(list(questions)), dtype=np.float32))
        out = np.empty_like(raw)
        for row, question in enumerate(questions):
            mean, directions = common[is_mostly_cjk(question)]
            centred = raw[row] - mean
            out[row] = centred - directions.T @ (directions @ centred)
        return _normalized(out)

    def similarity(
        self,
        left: Sequence[str],
        right: Sequence[str],
        left_vectors: np.ndarray | None = None,
        right_vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        """``len(left) x len(right)`` similarities: cosine of the vectors plus the weighted overlap of
        the questions' content terms (so values run up to ``1 + LEXICAL_WEIGHT``)."""
        if not left or not right:
            return np.zeros((len(left), len(right)), dtype=np.float32)
        a = self.vectors(left) if left_vectors is None else left_vectors
        b = self.vectors(right) if right_vectors is None else right_vectors
        return a @ b.T + LEXICAL_WEIGHT * term_overlap(left, right)


def term_overlap(left: Sequence[str], right: Sequence[str]) -> np.ndarray:
    """Overlap coefficient of the content terms: shared terms / the shorter question's terms."""
    a = [set(content_terms(text)) for text in left]
    b = [set(content_terms(text)) for text in right]
    return np.array(
        [[len(x & y) / max(1, min(len(x), len(y))) for y in b] for x in a], dtype=np.float32
    ).reshape(len(a), len(b))


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _mean_and_directions(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
    mean = vectors.mean(axis=0)
    _, _, components = np.linalg.svd(vectors - mean, full_matrices=False)
    return mean, components[:COMMON_DIRECTIONS]

"""Questions grouped by meaning: agglomerative clustering over :class:`QuestionSpace` similarities.

Average linkage with a distance threshold, so the number of topics follows the questions rather than
being fixed in advance. :data:`TOPIC_THRESHOLD` was chosen on the dev data (the middle of the range
where the dev groups are recovered best; see docs/knowledge.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from pipelines.knowledge.question_space import QuestionSpace

#: Two groups merge while their average distance (1 - similarity) is below this.
TOPIC_THRESHOLD = 0.80


def group_by_meaning(
    questions: Sequence[str], space: QuestionSpace, threshold: float = TOPIC_THRESHOLD
) -> list[int]:
    """A topic label per question (0, 1, ...; the first question's topic is 0)."""
    if len(questions) < 2:
        return [0] * len(questions)
    similarity = space.similarity(questions, questions)
    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2
    labels = (
        AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold
        )
        .fit(distance)
        .labels_
    )
    renumbered: dict[int, int] = {}
    return [renumbered.setdefault(int(label), len(renumbered)) for label in labels]

"""Prometheus metrics for ``/metrics``: what an IT team watches to know Needle is healthy and useful.

A registry of Needle's own (not the global default) keeps tests and several services in one process
from colliding, and keeps library metrics out unless the operator adds them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Counters and histograms of one service; ``render()`` gives the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.questions = Counter(
            "needle_questions_total",
            "Questions received, by where they came from.",
            ["origin"],
            registry=self.registry,
        )
        self.answers = Counter(
            "needle_answers_total",
            "Answers by kind: generated (LLM), extractive, fallback (LLM failed), no_answer, failed.",
            ["kind"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "needle_stage_seconds",
            "Time spent per pipeline stage of a question.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.feedback = Counter(
            "needle_feedback_total", "Feedback on answers, by rating.", ["rating"], registry=self.registry
        )
        self.ingests = Counter(
            "needle_ingests_total",
            "Files ingested, by outcome: indexed, unchanged, rejected, failed.",
            ["status"],
            registry=self.registry,
        )
        self.chunks_written = Counter(
            "needle_chunks_written_total", "Chunks written to the store.", registry=self.registry
        )

    def observe_timings(self, timings_ms: dict[str, float]) -> None:
        for stage, milliseconds in timings_ms.items():
            self.stage_seconds.labels(stage=stage).observe(milliseconds / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)

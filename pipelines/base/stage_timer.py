"""Per-stage timings of a pipeline run, taken from Haystack's own tracing spans.

Haystack opens a span around every component run. A tracer that records only the component name and
duration, into a collector bound to the current context, gives exact per-stage timings without wrapping
components, and stays correct when several questions run at once on different threads.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from haystack import tracing
from haystack.tracing import Span, Tracer

_collector: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "needle_stage_timings", default=None
)


class _NullSpan(Span):
    def set_tag(self, key: str, value: Any) -> None:
        return None


class StageTimingTracer(Tracer):
    """Records ``haystack.component.run`` durations (ms) into the active :func:`collect_timings` dict."""

    def __init__(self, inner: Tracer | None = None) -> None:
        self.inner = inner

    @contextlib.contextmanager
    def trace(
        self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: Span | None = None
    ) -> Iterator[Span]:
        collector = _collector.get()
        started = time.perf_counter()
        name = (tags or {}).get("haystack.component.name")
        inner = (
            self.inner.trace(operation_name, tags, parent_span)
            if self.inner
            else contextlib.nullcontext(_NullSpan())
        )
        try:
            with inner as span:
                yield span
        finally:
            if collector is not None and name and operation_name == "haystack.component.run":
                collector[name] = collector.get(name, 0.0) + (time.perf_counter() - started) * 1000

    def current_span(self) -> Span | None:
        return self.inner.current_span() if self.inner else None


def install() -> None:
    """Enable the timing tracer once per process, keeping any tracer already configured."""
    current = tracing.tracer.actual_tracer
    if isinstance(current, StageTimingTracer):
        return
    inner = current if tracing.is_tracing_enabled() else None
    tracing.enable_tracing(StageTimingTracer(inner))


@contextlib.contextmanager
def collect_timings() -> Iterator[dict[str, float]]:
    """Collect stage timings of pipeline runs inside the ``with`` block into the yielded dict."""
    timings: dict[str, float] = {}
    token = _collector.set(timings)
    try:
        yield timings
    finally:
        _collector.reset(token)

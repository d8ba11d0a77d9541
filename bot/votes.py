"""One vote per user per answer: the latest wins, and a repeated click says so instead of counting twice.

The core keeps one feedback row per user and answer (``record_feedback`` replaces the user's earlier vote,
and a 👎 repeated without a reason keeps the reason given before), so this module only tells the user
whether a click changed anything.
"""

from __future__ import annotations

from typing import Literal

from pipelines.base.errors import NeedleError
from pipelines.service.facade import NeedleService

Rating = Literal["up", "down"]
Outcome = Literal["recorded", "unchanged"]


def record_vote(
    service: NeedleService, trace_id: str, user_id: str, rating: Rating, reason: str | None = None
) -> Outcome:
    """Record ``user_id``'s vote on an answer unless it is already their current vote.

    :param reason: why (👎 only); a vote with a new reason is recorded even if the rating is unchanged.
    :raises NeedleError: the answer (trace) does not exist or the vote could not be stored.
    """
    trace = service.get_trace(trace_id)
    if trace is None:
        raise NeedleError(f"no answer with trace id {trace_id!r}")
    reason = (reason or "").strip() or None
    current = next((row for row in trace.get("feedback") or [] if row.get("user_id") == user_id), None)
    if current and current.get("rating") == rating and (reason is None or reason == current.get("reason")):
        return "unchanged"
    service.record_feedback(trace_id, rating, user_id=user_id, reason=reason)
    return "recorded"


def parse_feedback_value(value: str) -> tuple[Rating, str] | None:
    """``up:<trace id>`` / ``down:<trace id>`` (the ``feedback_buttons`` values) as ``(rating, trace)``."""
    rating, _, trace_id = (value or "").partition(":")
    if rating not in ("up", "down") or not trace_id:
        return None
    return rating, trace_id  # type: ignore[return-value]

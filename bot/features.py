"""Which of Slack's AI-app methods this workspace accepts, learnt from Slack's answers and remembered.

Streaming (``chat.startStream`` and friends) and the assistant status (``assistant.threads.setStatus``)
depend on the workspace's plan and the app's configuration. Asking Slack on every answer would cost each
answer a failed call and a slower reply, so the first refusal decides for the life of the process and the
bot uses its ``chat.update`` path from then on. Only a refusal counts: a rate limit or an outage is
temporary, and an error about one conversation (an archived channel, a vanished thread) says nothing
about the workspace, so those fall back for that answer alone.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)

STREAMING = "streaming"
STATUS = "status"
ASSISTANT = "assistant"

#: Slack will probably answer differently in a moment.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
#: About this conversation or this message, not about what the workspace allows.
CONVERSATION_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "thread_not_found",
        "invalid_thread_ts",
        "message_not_found",
        "msg_too_long",
        "invalid_blocks",
        "invalid_chunks",
        "invalid_arguments",
        "missing_recipient_user_id",
        "missing_recipient_team_id",
        "message_not_in_streaming_state",
        "streaming_state_conflict",
        "cant_reply_in_thread",
        "user_not_found",
    }
)


def is_refusal(code: str | None) -> bool:
    """Whether Slack's error ``code`` means the workspace does not offer the method at all."""
    return bool(code) and code not in TRANSIENT_ERRORS and code not in CONVERSATION_ERRORS


class SlackFeatures:
    """Thread-safe memory of the features Slack refused; every feature is assumed offered until then."""

    def __init__(self) -> None:
        self._refused: dict[str, str] = {}
        self._lock = threading.Lock()

    def offered(self, feature: str) -> bool:
        with self._lock:
            return feature not in self._refused

    def refused_because(self, feature: str) -> str | None:
        with self._lock:
            return self._refused.get(feature)

    def failed(self, feature: str, code: str | None) -> bool:
        """Note that a call for ``feature`` failed with ``code``; ``True`` if the feature is now off."""
        if not is_refusal(code):
            logger.warning("Slack %s call failed (%s); trying it again next time", feature, code)
            return False
        with self._lock:
            first = feature not in self._refused
            self._refused.setdefault(feature, str(code))
        if first:
            logger.warning("Slack refused %s (%s): using the chat.update fallback from now on", feature, code)
        return True

"""Which of Slack's AI-app methods this workspace accepts, learnt from Slack's answers and remembered by
every replica.

Streaming (``chat.startStream`` and friends) and the assistant status (``assistant.threads.setStatus``)
depend on the workspace's plan and the app's configuration. Asking Slack on every answer would cost each
answer a failed call and a slower reply, so the first refusal decides and the bot uses its ``chat.update``
path from then on. Only a refusal counts: a rate limit or an outage is temporary, and an error about one
conversation (an archived channel, a vanished thread) says nothing about the workspace, so those fall back
for that answer alone.

A refusal is kept in the record store (``slack_features``), so every replica and a restarted bot know it
without a refused call of their own; each process rereads it at most every ``REREAD_SECONDS``. It lasts
``REFUSAL_SECONDS`` (a day): a workspace that upgrades its plan or adds a scope gets its AI features back
without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pipelines.stores.records import RecordStore

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


#: Record-store collection of the features Slack refused.
FEATURES = "slack_features"
#: How long a refusal stands before the bot tries the feature again.
REFUSAL_SECONDS = 24 * 3600.0
#: How long a process trusts what it last read from the record store.
REREAD_SECONDS = 30.0


class SlackFeatures:
    """The features Slack refused, shared through ``records``; every feature is offered until refused.

    :param clock: seconds since the epoch (records carry wall-clock times, comparable across machines).
    """

    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self.records = records
        self._clock = clock
        self._read: dict[str, tuple[float, str | None]] = {}  # feature -> (read at, refusal code)
        self._lock = threading.Lock()

    def offered(self, feature: str) -> bool:
        return self.refused_because(feature) is None

    def refused_because(self, feature: str) -> str | None:
        """Slack's error code for the refusal of ``feature`` in force, or ``None`` (also when the record
        store cannot be read: the call is tried, and Slack says again if it is refused)."""
        now = self._clock()
        with self._lock:
            cached = self._read.get(feature)
        if cached and now - cached[0] < REREAD_SECONDS:
            return cached[1]
        try:
            record = self.records.get(FEATURES, feature)
        except Exception:
            logger.warning("could not read which Slack features were refused", exc_info=True)
            return cached[1] if cached else None
        code = None
        refused_at = float(record.fields.get("at") or 0.0) if record is not None else 0.0
        if record is not None and now - refused_at < REFUSAL_SECONDS:
            code = str(record.fields.get("code") or "refused")
        with self._lock:
            self._read[feature] = (now, code)
        return code

    def failed(self, feature: str, code: str | None) -> bool:
        """Note that a call for ``feature`` failed with ``code``; ``True`` if the feature is now off."""
        if not is_refusal(code):
            logger.warning("Slack %s call failed (%s); trying it again next time", feature, code)
            return False
        if self.refused_because(feature) is not None:
            return True
        now = self._clock()
        with self._lock:
            self._read[feature] = (now, str(code))
        try:
            self.records.put(FEATURES, feature, {"code": str(code), "at": now})
        except Exception:  # this process still remembers it for REREAD_SECONDS
            logger.warning("could not record that Slack refused %s", feature, exc_info=True)
        logger.warning("Slack refused %s (%s): using the chat.update fallback from now on", feature, code)
        return True

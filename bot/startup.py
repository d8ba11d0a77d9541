"""The bot face's start: it waits for Slack instead of taking ``needle serve`` down with it.

Bolt asks Slack ``auth.test`` when it builds its app, and Socket Mode opens a connection; when Slack is
unreachable or the token was revoked, both raise, and raised in a face's ``mount`` that ended the whole
server, the admin console included. Here the server starts whatever Slack says: the first attempt is made
when the server starts (with a short timeout, so a healthy start is as before: the bot is up before the
first request), and a failed one is retried in the background, 1, 2, 4 ... seconds apart, at most
:data:`MAX_RETRY_SECONDS`. Until it succeeds ``POST /slack/events`` answers 503 (Slack retries events),
``/readyz`` is not ready and says why in one line (never the token), and the reason is logged once per
change of reason. Configuration mistakes (no signing secret in HTTP mode, no app token in Socket Mode)
still stop the server at once: they are not a state of Slack that waiting could change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

#: The first retry's delay; each later one doubles it, up to :data:`MAX_RETRY_SECONDS`.
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
#: How long the start-up check waits for Slack (the bot's own client may take minutes with its retries).
CHECK_TIMEOUT_SECONDS = 5
#: What ``POST /slack/events`` says while the bot is not connected (Slack retries a 503).
NOT_READY_BODY = "Needle's Slack bot is not connected to Slack yet; see /readyz"
#: Slack's answers that mean the token itself is wrong, revoked or its app uninstalled.
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission"}
)


class SlackStart:
    """Brings the bot up once Slack answers, and says why it is not up meanwhile.

    :param check: asks Slack whether the bot token works (``auth.test``); raises if not.
    :param build: builds the Bolt app (after a successful check).
    :param connect: Socket Mode: opens the connection for the built app; raises if Slack refuses.
    :param clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        check: Callable[[], Any],
        build: Callable[[], App],
        connect: Callable[[App], None] | None = None,
        *,
        first_retry_seconds: float = FIRST_RETRY_SECONDS,
        max_retry_seconds: float = MAX_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._build = build
        self._connect = connect
        self.first_retry_seconds = first_retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._clock = clock
        self.bolt: App | None = None
        self.reason: str | None = "not started yet"
        self.attempts = 0
        self._retry_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def over(
        cls, client: WebClient, build: Callable[[], App], connect: Callable[[App], None] | None = None
    ) -> SlackStart:
        """A start whose check is ``auth.test`` with ``client``'s token, answered within
        :data:`CHECK_TIMEOUT_SECONDS` and not retried by the client (this class retries)."""
        checker = WebClient(token=client.token, base_url=client.base_url, timeout=CHECK_TIMEOUT_SECONDS)
        return cls(checker.auth_test, build, connect)

    @property
    def ready(self) -> bool:
        return self.bolt is not None

    def start(self) -> None:
        """Try once now; if Slack did not answer, keep trying in the background until :meth:`stop`."""
        if self.attempt() or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._retry, name="needle-slack-start", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def attempt(self) -> bool:
        """One try: the check, the app, the connection. ``True`` once the bot is up."""
        with self._lock:
            if self.bolt is not None:
                return True
            self.attempts += 1
            stage = "check"
            try:
                self._check()
                stage = "build"
                bolt = self._build()
                if self._connect is not None:
                    stage = "connect"
                    self._connect(bolt)
            except SlackApiError as error:
                self._failed(_refused(stage, str(error.response.get("error") or "error")), error)
                return False
            except Exception as error:  # unreachable, a timeout, a TLS or DNS failure, Bolt's own error
                self._failed(f"Slack cannot be reached ({type(error).__name__}); retrying", error)
                return False
            self.bolt, self.reason, self._retry_at = bolt, None, None
        logger.info("Slack bot is up (attempt %d)", self.attempts)
        return True

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        """Bolt's dispatch once the bot is up; 503 before (the route serves this, not the app itself)."""
        bolt = self.bolt
        if bolt is None:
            return BoltResponse(status=503, body=NOT_READY_BODY)
        return bolt.dispatch(request)

    def readiness(self) -> dict[str, Any]:
        """What ``/readyz`` shows for the bot: up, or why not and when it is tried again."""
        if self.bolt is not None:
            return {"ok": True}
        check: dict[str, Any] = {"ok": False, "error": self.reason, "attempts": self.attempts}
        retry_at = self._retry_at
        if retry_at is not None:
            check["retry_in_seconds"] = round(max(0.0, retry_at - self._clock()), 1)
        return check

    def _failed(self, reason: str, error: Exception) -> None:
        if reason != self.reason:
            logger.warning("Slack bot not started: %s", reason, exc_info=not isinstance(error, SlackApiError))
        self.reason = reason

    def _retry(self) -> None:
        for delay in retry_delays(self.first_retry_seconds, self.max_retry_seconds):
            self._retry_at = self._clock() + delay
            if self._stop.wait(delay) or self.attempt():
                return


def retry_delays(first: float, most: float) -> Iterator[float]:
    """``first``, twice that, four times ... capped at ``most``, for ever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, most)


def _refused(stage: str, code: str) -> str:
    """A reason a person can act on, naming the setting to check (never its value)."""
    if stage == "connect":
        return f"Slack refused the Socket Mode connection ({code}): check SLACK_APP_TOKEN; retrying"
    if code in TOKEN_ERRORS:
        return f"Slack refused the bot token ({code}): check SLACK_BOT_TOKEN; retrying"
    return f"Slack answered auth.test with an error ({code}); retrying"

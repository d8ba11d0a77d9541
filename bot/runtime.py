"""What the listeners share: the core service, the bot's settings, its worker pool and its memories.

One runtime per Bolt app. Retrieval and generation take seconds, far longer than Slack's three-second ack
window, so they run on ``executor`` (``NEEDLE_SLACK_WORKERS`` threads) while Bolt's own threads stay free
to acknowledge the next request.

Answering is CPU-bound Python (embedding, BM25, sentence scoring) in the same interpreter as the code that
acknowledges Slack, so the two compete for the GIL and the cores. Three things keep acks prompt (measured
in the README's Slack bot section): few answer threads (more do not add throughput on a small machine, only
contention); answer threads at a lower OS priority (``nice``), so a core is handed to the ack path first;
and a shorter interpreter switch interval, so a thread waiting for the GIL gets it within about a
millisecond instead of five. Answers wait in the executor's queue, which costs nothing: Slack only needs
the HTTP 200 within three seconds.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from bot.ratelimit import RateLimiter
from bot.recent import RecentKeys
from pipelines.service import NeedleService
from pipelines.settings import Settings

logger = logging.getLogger(__name__)


def tune_interpreter(settings: Settings) -> float:
    """Shorten the GIL switch interval for the bot's process (see the module docstring); returns it.

    Process-wide, so it is called where the bot runs as a server (``bot.face.mount``), not in tests.
    """
    interval = settings.slack_switch_interval
    if interval > 0:
        sys.setswitchinterval(interval)
    return sys.getswitchinterval()


def _lower_priority(niceness: int) -> None:
    """Executor initializer: add to this answer thread's ``nice`` value (on Linux it is per thread)."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        os.setpriority(
            os.PRIO_PROCESS, thread_id, min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + niceness)
        )
    except OSError as error:  # not fatal: the thread keeps the normal priority
        logger.warning("could not lower the answer threads' priority: %s", error)


@dataclass
class BotRuntime:
    service: NeedleService
    settings: Settings
    executor: ThreadPoolExecutor
    limiter: RateLimiter
    #: Event ids and ``channel:ts`` of messages already answered: Slack retries must not answer twice.
    handled: RecentKeys = field(default_factory=RecentKeys)
    #: ``channel:thread_ts`` of threads the bot answered in, where follow-ups need no mention.
    threads: RecentKeys = field(default_factory=lambda: RecentKeys(ttl_seconds=7 * 24 * 3600))
    _pending: set[Future[Any]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, service: NeedleService, settings: Settings | None = None) -> BotRuntime:
        settings = settings or service.settings
        return cls(
            service=service,
            settings=settings,
            executor=ThreadPoolExecutor(
                max_workers=settings.slack_workers,
                thread_name_prefix="needle-answer",
                initializer=_lower_priority,
                initargs=(settings.slack_answer_niceness,),
            ),
            limiter=RateLimiter(settings.slack_rate_limit_per_minute),
        )

    def submit(self, job: Callable[..., None], *args: Any) -> Future[Any]:
        """Run ``job`` on the worker pool; an exception it lets escape is logged, never lost."""
        future = self.executor.submit(job, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("a Slack job failed", exc_info=future.exception())

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job has finished (tests, benchmark, shutdown)."""
        with self._lock:
            pending = set(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def is_admin(self, user_id: str | None) -> bool:
        return bool(user_id) and user_id in self.settings.slack_admin_user_ids

    def channel_allowed(self, channel_id: str) -> bool:
        """DMs are always allowed; channels only if listed (an empty list allows every channel)."""
        allowed = self.settings.slack_allowed_channels
        return not allowed or channel_id.startswith("D") or channel_id in allowed

    def channel_tags(self, channel_id: str) -> list[str] | None:
        return self.settings.slack_channel_tags.get(channel_id) or None

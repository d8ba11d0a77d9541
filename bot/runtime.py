"""What the listeners share: the core service, the bot's settings, its worker pool and its memories.

One runtime per Bolt app. Retrieval and generation take seconds, far longer than Slack's three-second ack
window, so they run on ``executor`` (``NEEDLE_SLACK_WORKERS`` threads) while Bolt's own threads stay free
to acknowledge the next request.

Answering is CPU-bound Python (embedding, BM25, sentence scoring) in the same interpreter as the code that
acknowledges Slack, so the two compete for the GIL and the cores. Three things keep acks prompt (measured
in docs/benchmarks.md): few answer threads (more do not add throughput on a small machine, only
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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.asked import WorkspaceUrl
from bot.features import SlackFeatures
from bot.memberships import Memberships
from bot.shared import HANDLED, THREADS, SharedKeys, SharedRateLimiter
from pipelines.app.links import trace_url
from pipelines.base.settings import Settings
from pipelines.records.answers import SourceInfo
from pipelines.records.audience import Viewer
from pipelines.records.audit import AuditLog
from pipelines.records.channel_settings import ChannelSettings, ChannelSettingsStore
from pipelines.service.facade import NeedleService
from pipelines.stores.records import RecordStore

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


def _no_console() -> bool:
    return False


def _answers_from(source: SourceInfo, tags: Sequence[str] | None) -> bool:
    """Whether a channel limited to ``tags`` (none: every source) answers from ``source``."""
    return not tags or bool(set(tags) & set(source.tags))


@dataclass
class BotRuntime:
    """One Bolt app's share of the core: the service, settings, worker pool and shared memories.

    ``records`` is where the state every replica must share lives (channel settings, handled events, the
    rate-limit counters, threads the bot answered in): the service's record store, unless a test opens a
    second connection to it to play a second process.
    """

    service: NeedleService
    settings: Settings
    executor: ThreadPoolExecutor
    records: RecordStore
    channels: ChannelSettingsStore
    limiter: SharedRateLimiter
    #: Event ids and ``channel:ts`` of messages already answered: Slack retries must not answer twice.
    handled: SharedKeys
    #: ``channel:thread_ts`` of threads the bot answered in, where follow-ups need no mention.
    threads: SharedKeys
    memberships: Memberships
    #: Which of Slack's AI-app methods the workspace accepts (learnt once, remembered by every replica).
    features: SlackFeatures
    #: Whether the admin console is served by this deployment (``bot.face`` looks at the routes).
    admin_console: Callable[[], bool] = _no_console
    #: The workspace's URL (``auth.test``, asked once), for links to threads; where each question is in
    #: Slack is kept with its trace, in the core.
    workspace_url: WorkspaceUrl = field(default_factory=WorkspaceUrl)
    _pending: set[Future[Any]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls, service: NeedleService, settings: Settings | None = None, records: RecordStore | None = None
    ) -> BotRuntime:
        """:param settings: default the service's; their Slack variables are the channel defaults.
        :param records: default the service's record store."""
        settings = settings or service.settings
        records = records or service.records
        return cls(
            service=service,
            settings=settings,
            executor=ThreadPoolExecutor(
                max_workers=settings.slack_workers,
                thread_name_prefix="needle-answer",
                initializer=_lower_priority,
                initargs=(settings.slack_answer_niceness,),
            ),
            records=records,
            channels=ChannelSettingsStore(records, settings, AuditLog(records)),
            limiter=SharedRateLimiter(records, settings.slack_rate_limit_per_minute),
            handled=SharedKeys(records, HANDLED, ttl_seconds=3600.0),
            threads=SharedKeys(records, THREADS, ttl_seconds=7 * 24 * 3600.0),
            memberships=Memberships(settings.slack_membership_cache_seconds),
            features=SlackFeatures(records),
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

    def channel(self, channel_id: str) -> ChannelSettings:
        """The channel's settings as stored now (read per event: a change applies to the next one, in
        every process). :raises Exception: whatever the record store raises when it cannot be read."""
        return self.channels.get(channel_id)

    def channel_allowed(self, channel_id: str) -> bool:
        return self.channel(channel_id).enabled

    def channel_tags(self, channel_id: str) -> list[str] | None:
        return self.channel(channel_id).tags or None

    def channel_viewer(self, user_id: str | None, channel_id: str) -> Viewer:
        """Who reads an answer posted in ``channel_id``: everyone in it, whoever asked."""
        return Viewer(user_id=user_id, channel_id=channel_id)

    def private_viewer(self, client: WebClient, user_id: str, channel_id: str | None = None) -> Viewer:
        """Who reads a DM, an ephemeral reply or an assistant thread: the asker, with the user groups and
        channels (among those some source is shared with now) Slack says they belong to.

        Built afresh for every question: the audiences come from the current sources (another process's
        ``needle audience`` included), and only Slack's member lists are cached (``Memberships``).
        :raises NeedleError: the store cannot say which audiences exist."""
        return self.memberships.viewer(client, user_id, self.audience_principals(), channel_id)

    def audience_principals(self) -> frozenset[str]:
        """Every audience member some source names now (``usergroup:S1``, ``channel:C1``, ...).

        :raises NeedleError: the store cannot be read."""
        return frozenset(member for source in self.service.current_sources() for member in source.audience)

    def visible_sources(self, viewer: Viewer, tags: Sequence[str] | None = None) -> list[SourceInfo]:
        """The sources ``viewer`` may see now, limited to ``tags`` when given: the one rule behind the App
        Home, ``/needle sources``, suggested prompts and the status line's count.

        :raises NeedleError: the store cannot be read."""
        return [source for source in self.service.current_sources(viewer) if _answers_from(source, tags)]

    def debug_for(self, user_id: str | None, trace_id: str) -> tuple[str | None, bool]:
        """What an answer shows its asker for debugging: ``(link, show_trace_id)``.

        Only admins get either. A link needs a public URL (``NEEDLE_PUBLIC_BASE_URL``) and the console
        in this deployment; otherwise the admin gets the trace id to paste into the console.
        """
        if not self.is_admin(user_id):
            return None, False
        if self.settings.public_base_url and self.admin_console():
            return trace_url(self.settings, trace_id), False
        return None, True

    def source_count(self, channel_id: str, viewer: Viewer, tags: Sequence[str] | None = None) -> int | None:
        """How many sources a question in ``channel_id`` searches for ``viewer``: what it may see, limited
        to the channel's tags (:meth:`visible_sources`, so the status says what the App Home counts);
        ``None`` while unknown (the stores cannot be read).

        :param tags: the channel's tags as the caller just read them (the gate's settings of this very
            event); read here when ``None``.
        """
        try:
            if tags is None:
                tags = self.channel_tags(channel_id) or ()
            return len(self.visible_sources(viewer, tags))
        except Exception:
            logger.warning("could not count the sources for the status line", exc_info=True)
            return None

    def purge_if_due(self) -> None:
        """Now and then (per process), delete expired shared keys on the worker pool."""
        if self.handled.purge_due():
            for keys in (self.handled, self.threads, self.limiter.keys):
                self.submit(keys.purge)

"""A user's last questions for the App Home, with links to the Slack threads they were asked in.

The core's traces know who asked what and when, but not where in Slack: the thread is remembered here, in
memory, when the answer is posted. After a restart (or on another replica) older questions are listed
without a link. The lasting fix is for the core to keep the thread with the trace (see the README).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import AskedQuestion
from pipelines.service import NeedleService

logger = logging.getLogger(__name__)

#: Traces scanned for one user's questions: the newest Slack questions of everyone.
SCAN = 500


def permalink(workspace_url: str, channel: str, message_ts: str, thread_ts: str | None) -> str:
    """Slack's link to a message (and its thread): ``https://x.slack.com/archives/C1/p1700000000000100``."""
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{message_ts.replace('.', '')}"
    if thread_ts and thread_ts != message_ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


class QuestionLinks:
    """trace id -> link to the question in Slack, for the newest ``max_links`` answers (thread-safe)."""

    def __init__(self, max_links: int = 20_000) -> None:
        self._links: OrderedDict[str, str] = OrderedDict()
        self._max = max_links
        self._lock = threading.Lock()
        self._workspace_url: str | None = None

    def workspace_url(self, client: WebClient) -> str | None:
        """The workspace's URL from ``auth.test``, asked once."""
        if self._workspace_url is None:
            try:
                self._workspace_url = str(client.auth_test()["url"])
            except (SlackApiError, KeyError) as error:
                logger.warning("auth.test gave no workspace URL: %s", error)
                return None
        return self._workspace_url

    def remember(
        self, client: WebClient, trace_id: str, channel: str, message_ts: str, thread_ts: str | None
    ) -> None:
        url = self.workspace_url(client)
        if not url or not trace_id:
            return
        with self._lock:
            self._links[trace_id] = permalink(url, channel, message_ts, thread_ts)
            while len(self._links) > self._max:
                self._links.popitem(last=False)

    def get(self, trace_id: str) -> str | None:
        with self._lock:
            return self._links.get(trace_id)


def last_questions(
    service: NeedleService, links: QuestionLinks, user_id: str, limit: int
) -> list[AskedQuestion]:
    """The user's newest Slack questions, newest first (one entry per distinct question)."""
    if limit <= 0:
        return []
    asked: list[AskedQuestion] = []
    seen: set[str] = set()
    for trace in service.recent_traces(limit=SCAN, origin="slack"):
        question = str(trace.get("question") or "")
        if trace.get("user_id") != user_id or not question or question.lower() in seen:
            continue
        seen.add(question.lower())
        link = links.get(str(trace.get("trace_id")))
        asked.append(AskedQuestion(question, float(trace.get("created_at") or 0), link))
        if len(asked) >= limit:
            break
    return asked

"""A user's last questions for the App Home, with links to the Slack threads they were asked in.

Where a question is in Slack is kept with its trace, in the core (``NeedleService.record_slack_location``,
called once the answer is posted or streamed), so every process and replica links every question, after
a restart too. The App Home reads the user's own traces (a query by user) and builds each link from the
stored ids and the workspace's URL. The only thing held here is that URL, a constant asked of Slack once
per process.
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import AskedQuestion
from pipelines.service.facade import NeedleService
from pipelines.stores.traces import SlackLocation

logger = logging.getLogger(__name__)

#: The user's newest traces read for their last questions, per question listed (repeats are skipped).
READ_PER_QUESTION = 4


def permalink(workspace_url: str, channel: str, message_ts: str, thread_ts: str | None) -> str:
    """Slack's link to a message (and its thread): ``https://x.slack.com/archives/C1/p1700000000000100``."""
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{message_ts.replace('.', '')}"
    if thread_ts and thread_ts != message_ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


class WorkspaceUrl:
    """The workspace's URL from ``auth.test``, asked once per process (a constant, cached; thread-safe).
    A failed ``auth.test`` is asked again next time."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._lock = threading.Lock()

    def get(self, client: WebClient) -> str | None:
        with self._lock:
            if self._url is None:
                try:
                    self._url = str(client.auth_test()["url"])
                except (SlackApiError, KeyError) as error:
                    logger.warning("auth.test gave no workspace URL: %s", error)
            return self._url


def location_link(workspace_url: str | None, location: SlackLocation | None) -> str | None:
    if not workspace_url or not location:
        return None
    return permalink(workspace_url, location["channel"], location["message_ts"], location["thread_ts"])


def last_questions(
    service: NeedleService, workspace_url: str | None, user_id: str, limit: int
) -> list[AskedQuestion]:
    """The user's newest Slack questions, newest first, one entry per distinct question (linked from
    its newest asking that has a known place in Slack)."""
    if limit <= 0:
        return []
    asked: dict[str, AskedQuestion] = {}
    for trace in service.recent_traces(limit=limit * READ_PER_QUESTION, origin="slack", user_id=user_id):
        question = str(trace.get("question") or "")
        if not question or trace.get("user_id") != user_id:
            continue
        link = location_link(workspace_url, trace.get("location"))
        earlier = asked.get(question.lower())
        if earlier is None and len(asked) < limit:
            asked[question.lower()] = AskedQuestion(question, float(trace.get("created_at") or 0), link)
        elif earlier is not None and earlier.link is None and link:
            asked[question.lower()] = AskedQuestion(earlier.question, earlier.asked_at, link)
    return list(asked.values())

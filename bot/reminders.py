"""Messages the bot sends on its own, checked hourly by a background thread:

- an expert's reminder, once per verified answer and review-by date, when the answer passes that date
  (it is then no longer given as verified) -- :func:`remind_experts`;
- a source owner's weekly digest of their sources past their review-by date that answers cited in the
  last seven days, at most one a week -- :func:`send_stale_digests`.

Each is claimed in the shared record store before it is sent (so replicas send it once) and released if
Slack refuses it (so the next run tries again).
"""

from __future__ import annotations

import logging
import re
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import BotRuntime
from pipelines.app.links import admin_base_url
from pipelines.records.audience import ADMIN

logger = logging.getLogger(__name__)

REMINDER_SECONDS = 3600
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def remind_experts(runtime: BotRuntime, client: WebClient) -> int:
    """DM each expert whose verified answer passed its review date; returns how many were sent."""
    sent = 0
    desk = runtime.service.knowledge
    for item in desk.verified.due_for_review():
        if not _SLACK_USER.match(item.expert) or not desk.verified.claim_reminder(item):
            continue
        link = f"{admin_base_url(runtime.service.settings)}/?verified={item.answer_id}"
        text = (
            f"Your verified answer to “{item.question}” passed its review date ({item.review_by}), so Needle "
            f"no longer gives it as verified. If it is still right, renew it (a new review-by date in the "
            f"Gaps tab, id `{item.answer_id}`): {link}"
        )
        try:
            client.chat_postMessage(channel=item.expert, text=text)
            sent += 1
        except SlackApiError as error:
            logger.warning("could not remind %s: %s", item.expert, error.response.get("error"))
            desk.verified.forget_reminder(item)
    return sent


def send_stale_digests(runtime: BotRuntime, client: WebClient) -> int:
    """DM each owner, at most once a week, the stale sources of theirs cited this week."""
    sent = 0
    service = runtime.service
    freshness = service.knowledge.freshness
    for owner, reviews in freshness.weekly_digests(service.traces, service.list_sources(ADMIN)).items():
        if not _SLACK_USER.match(owner) or not freshness.claim_weekly_digest(owner):
            continue
        lines = [
            f"• {review.title} (`{review.source_id}`): review was due {review.review_by}, last reviewed "
            f"{review.last_reviewed or 'unknown'}"
            for review in reviews
        ]
        text = (
            "Needle cited these documents you own this week, but they are past their review date. "
            "Please check them, then set a new date (`needle owner SOURCE_ID USER --review-by DATE`):\n"
            + "\n".join(lines)
        )
        try:
            client.chat_postMessage(channel=owner, text=text)
            sent += 1
        except SlackApiError as error:
            logger.warning("could not send %s their stale sources: %s", owner, error.response.get("error"))
            freshness.forget_weekly_digest(owner)
    return sent


def start_reminders(runtime: BotRuntime, client: WebClient) -> None:
    """Run both checks now and then hourly, on a daemon thread."""

    def loop() -> None:
        stop = threading.Event()
        while not stop.is_set():
            for check in (remind_experts, send_stale_digests):
                try:
                    check(runtime, client)
                except Exception:
                    logger.exception("%s failed", check.__name__)
            stop.wait(REMINDER_SECONDS)

    threading.Thread(target=loop, name="needle-reminders", daemon=True).start()

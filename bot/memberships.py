"""Which Slack user groups and channels a user belongs to, for answers only that user will read.

A private answer (DM, ephemeral ``/needle`` reply, assistant thread) may cite a source shared with a user
group or a channel the asker belongs to. Slack is the authority on membership, so it is asked, but only
about the groups and channels that some source's audience names (nothing else can change an answer), with
``usergroups.users.list`` and ``conversations.members``. Member lists are reused for
``NEEDLE_SLACK_MEMBERSHIP_CACHE_SECONDS``: someone removed from a group may still see its sources for that
long, which is the documented trade for not calling Slack on every answer.

A failed Slack call counts as "not a member" (fail closed) and is logged; it is not cached, so the next
answer asks again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from pipelines.records.audience import Viewer, private_viewer

logger = logging.getLogger(__name__)

#: Pages of a member list read at most (200 members a page, as Slack recommends).
MAX_PAGES = 250


class Memberships:
    """Member lists of user groups and channels, each cached for ``ttl_seconds`` (thread-safe)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def viewer(
        self, client: WebClient, user_id: str, principals: Iterable[str], channel_id: str | None = None
    ) -> Viewer:
        """The private viewer of ``user_id``: the groups and channels among ``principals`` (audience members
        such as ``usergroup:S1``, ``channel:C1``) that the user belongs to."""
        return private_viewer(
            user_id, principals, lambda kind, target: self.members(client, kind, target), channel_id
        )

    def members(self, client: WebClient, kind: str, target: str) -> frozenset[str]:
        """Members of a user group (``kind="usergroup"``) or a channel, cached; empty when Slack refuses."""
        key = f"{kind}:{target}"
        with self._lock:
            cached = self._members.get(key)
        if cached and self._clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            found = (
                _usergroup_members(client, target)
                if kind == "usergroup"
                else _channel_members(client, target)
            )
        except SlackApiError as error:
            logger.warning("could not read the members of %s: %s", key, error.response.get("error"))
            return frozenset()
        if self.ttl > 0:
            with self._lock:
                self._members[key] = (self._clock(), found)
        return found


def _usergroup_members(client: WebClient, usergroup: str) -> frozenset[str]:
    response = client.usergroups_users_list(usergroup=usergroup)
    return frozenset(str(user) for user in response.get("users") or [])


def _channel_members(client: WebClient, channel: str) -> frozenset[str]:
    members: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        response = client.conversations_members(channel=channel, limit=200, cursor=cursor)
        members.update(str(member) for member in response.get("members") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return frozenset(members)

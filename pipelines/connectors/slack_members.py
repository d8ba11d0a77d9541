"""Who a Slack user is, as audiences need it, for answers given off Slack (``needle ask --as-user``).

The bot learns a person's user groups and channels from Slack before a private answer
(``bot/memberships.py``). A synced private channel's threads are for the channel's members
(``channel:<id>``), so the command line's "answer as this user" must ask Slack the same question, or a
member would be refused what Slack shows them. Only the groups and channels that some source names are
asked about. A failed Slack call counts as "not a member" (fail closed) and is reported to the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.base.settings import Settings
from pipelines.connectors import directory
from pipelines.connectors.base import ConnectorError
from pipelines.connectors.slack_web import SlackWeb
from pipelines.records import audience
from pipelines.records.audience import Viewer


def private_viewer(web: SlackWeb, user_id: str, principals: Iterable[str]) -> tuple[Viewer, list[str]]:
    """``(viewer, problems)``: ``user_id`` reading a private answer, with the user groups and channels
    among ``principals`` (``usergroup:S1``, ``channel:C1``) they belong to; ``problems`` names the
    memberships Slack could not tell (counted as not a member)."""
    problems: list[str] = []

    def members(kind: str, target: str) -> set[str]:
        try:
            return _members(web, kind, target)
        except ConnectorError as error:
            problems.append(f"{kind}:{target}: {error.reason}")
            return set()

    return audience.private_viewer(user_id, principals, members), problems


def _members(web: SlackWeb, kind: str, target: str) -> set[str]:
    if kind == "usergroup":
        return {str(user) for user in web.call("usergroups.users.list", usergroup=target).get("users") or []}
    members: set[str] = set()
    for page in web.pages("conversations.members", "members", channel=target, limit=200):
        members.update(str(member) for member in page)
    return members


def slack_viewer(
    settings: Settings, user_id: str, principals: Iterable[str]
) -> tuple[Viewer, list[str]] | None:
    """:func:`private_viewer` over the bot's token; ``None`` when Slack is not configured (the caller
    keeps the sources shared with ``user_id`` directly)."""
    if settings.slack_bot_token is None:
        return None
    base_url = (settings.slack_api_url or "https://slack.com/api/").rstrip("/") + "/"
    web = SlackWeb(settings.slack_bot_token.get_secret_value(), base_url)
    return private_viewer(web, user_id, principals)


directory.provide_viewer(slack_viewer)

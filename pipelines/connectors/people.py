"""Who a source's email address is in Slack: the :class:`~pipelines.connectors.base.PeopleDirectory`
every connector with permissions uses (Confluence, Google Drive, ...).

Confluence and Drive name people by email; Needle's audiences name Slack users. :class:`SlackPeople`
asks Slack (``users.lookupByEmail``, scope ``users:read.email``) and keeps each answer in the record
store, so replicas and syncs share it and a sync of ten thousand documents asks Slack once per person:

- a person found is cached for a day (``found_ttl``), then asked again (an address can move to another
  account);
- a person Slack does not know is cached too, for an hour (``missing_ttl``), so an admin who fixes an
  address sees it mapped on the next sync without waiting a day; :meth:`SlackPeople.forget` drops one
  entry at once;
- a deactivated account or a bot maps to no one.

API (all a connector needs; a connector receives the deployment's directory as ``self.people``, which
the service gets from :func:`pipelines.connectors.directory.people_directory`, ``None`` without a bot
token)::

    people = SlackPeople(records, token="xoxb-...")   # or SlackPeople.from_settings(records, settings)
    people.slack_user("Ana@Example.com")  # -> "U0123ABCD", or None: grants nothing
    people.unmapped()                     # -> [Unmapped(email, reason, checked_at), ...], newest first
    people.forget("ana@example.com")      # ask Slack again next time

with :func:`~pipelines.connectors.base.audience_for` turning a document's emails into its audience and
the unmapped ones. A failed Slack call (rate limit after retries, 5xx, a revoked token) raises
:class:`~pipelines.connectors.base.ConnectorError` unless a cached answer exists, in which case the
cached answer is used even if stale (logged): the sync then fails and is retried rather than shrinking
or widening an audience on a guess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.base.settings import Settings
from pipelines.connectors import directory
from pipelines.connectors.base import ConnectorError
from pipelines.connectors.slack_web import SlackWeb, api_url, bot_token
from pipelines.stores.records import MAX_LIMIT, RecordStore

logger = logging.getLogger(__name__)

#: Record collection of the cache: ``key`` the lower-cased email.
COLLECTION = "slack-people"
FOUND_TTL = 24 * 3600.0
MISSING_TTL = 3600.0


@dataclass(frozen=True)
class Unmapped:
    """An email Slack could not map to a usable account, and why (for ``needle connectors show``)."""

    email: str
    reason: str
    checked_at: float


class SlackPeople:
    """Emails to Slack user ids through ``users.lookupByEmail``, cached in the record store.

    :param records: the record store shared by every replica.
    :param token: the bot token (needs ``users:read.email``); or pass ``web``.
    :param base_url: Slack's Web API base URL (a stand-in in tests).
    :param found_ttl: seconds a found person is trusted before Slack is asked again.
    :param missing_ttl: seconds an unknown address is remembered as unknown.
    :param clock: seconds since the epoch (tests move it).
    """

    def __init__(
        self,
        records: RecordStore,
        token: str | None = None,
        *,
        base_url: str = "https://slack.com/api/",
        web: SlackWeb | None = None,
        found_ttl: float = FOUND_TTL,
        missing_ttl: float = MISSING_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if web is None and not token:
            raise ConnectorError("SlackPeople needs a bot token with the users:read.email scope")
        self.records = records
        self._token = token
        self._base_url = base_url
        self._web = web
        self.found_ttl = found_ttl
        self.missing_ttl = missing_ttl
        self._clock = clock

    @classmethod
    def for_connector(
        cls, records: RecordStore, secrets: Mapping[str, str], config: Mapping[str, str] | None = None
    ) -> SlackPeople:
        """The directory a sync gives its connector: the connector's bot token, else the bot's."""
        return cls(records, bot_token(secrets), base_url=api_url(config or {}))

    @classmethod
    def from_settings(cls, records: RecordStore, settings: Settings) -> SlackPeople | None:
        """The deployment's directory over the bot's token; ``None`` when Slack is not configured
        (connectors then map no one, and their restricted documents stay for no one)."""
        if settings.slack_bot_token is None:
            return None
        base_url = (settings.slack_api_url or "https://slack.com/api/").rstrip("/") + "/"
        return cls(records, settings.slack_bot_token.get_secret_value(), base_url=base_url)

    def slack_user(self, email: str) -> str | None:
        """The Slack user id of the person with ``email``; ``None`` when Slack has no usable account
        for it (unknown, deactivated, a bot, not an address).

        :raises ConnectorError: Slack could not be asked and nothing is cached for ``email``.
        """
        address = email.strip().lower()
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            return None
        cached = self.records.get(COLLECTION, address)
        if cached is not None:
            user = cached.fields.get("user_id")
            ttl = self.found_ttl if user else self.missing_ttl
            if self._clock() - float(cached.fields.get("checked_at") or 0) < ttl:
                return str(user) if user else None
        try:
            user_id, reason = self._lookup(address)
        except ConnectorError as error:
            if cached is None:
                raise
            logger.warning("kept a stale Slack mapping for one address: %s", error.reason)
            user = cached.fields.get("user_id")
            return str(user) if user else None
        self.records.put(
            COLLECTION,
            address,
            {"user_id": user_id, "found": user_id is not None, "checked_at": self._clock()},
            {"reason": reason},
        )
        return user_id

    def unmapped(self, limit: int = MAX_LIMIT) -> list[Unmapped]:
        """Addresses Slack could not map when last asked, newest first, with why."""
        return [
            Unmapped(
                record.key,
                str(record.body.get("reason") or "unknown"),
                float(record.fields["checked_at"] or 0),
            )
            for record in self.records.query(COLLECTION, {"found": False}, limit=limit)
        ]

    def forget(self, email: str) -> bool:
        """Drop the cached answer for ``email`` so the next lookup asks Slack; ``True`` if one existed."""
        return self.records.delete(COLLECTION, email.strip().lower())

    def _lookup(self, address: str) -> tuple[str | None, str]:
        """``(user id or None, reason)`` from Slack."""
        answer = self.web.call("users.lookupByEmail", expected=frozenset({"users_not_found"}), email=address)
        user = answer.get("user") or {}
        if not answer.get("ok") or not user.get("id"):
            return None, "no Slack account has this email"
        if user.get("deleted"):
            return None, "the Slack account is deactivated"
        if user.get("is_bot") or user.get("is_app_user"):
            return None, "the address belongs to a bot"
        return str(user["id"]), "found"

    @property
    def web(self) -> SlackWeb:
        if self._web is None:
            self._web = SlackWeb(str(self._token), self._base_url)
        return self._web


directory.provide_people(SlackPeople.from_settings)

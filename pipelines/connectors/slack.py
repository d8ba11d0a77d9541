"""The Slack connector: the threads of chosen channels, one document each, cited by their permalink.

Channels are named by an admin (``--set channels=C0123ABCD,#it-help``). The bot reads them with its own
token, so it must be in each one: a public channel the bot was not invited to, or a private channel it is
not a member of, is refused with the reason and the fix, and the whole listing fails rather than look
complete without that channel's threads (which would prune them).

Listing reads only ``conversations.history`` (parents with ``reply_count``, ``reply_users`` and
``latest_reply``), so a sync with nothing new costs a page or two per channel. A thread's version is its
newest activity and reply count, raised by the edit and deletion events the bot received
(:mod:`pipelines.connectors.slack_edits`), so a new reply, an edited question, and (with the bot's events)
an edited or deleted reply are all fetched on the next sync; a thread whose first message was deleted
leaves the listing and is pruned. Fetching reads the thread (``conversations.replies``), keeps what people
wrote (:mod:`pipelines.connectors.slack_threads`), names them (``users.info``, cached for the sync) and
asks Slack for the permalink (``chat.getPermalink``).

Audience: a private channel's threads are for its members (``channel:<id>``, checked against Slack's
member list when someone asks); a public channel's take the connector's audience, by default everyone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pipelines.connectors import slack_edits, slack_threads
from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
    PeopleDirectory,
    register,
)
from pipelines.connectors.slack_web import SlackRefused, SlackWeb, api_url, bot_token
from pipelines.stores.records import RecordStore

logger = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9._\-]{0,79}$")
#: Messages per page of history and replies (Slack suggests 200 at most for paginated reads).
PAGE_SIZE = 200


@dataclass(frozen=True)
class Channel:
    """A channel the connector may read: its id, name, and whether it is private."""

    id: str
    name: str
    private: bool

    @property
    def audience(self) -> tuple[str, ...] | None:
        return (f"channel:{self.id}",) if self.private else None


@register
class SlackConnector(Connector):
    """Threads of chosen Slack channels (see the module's docstring)."""

    kind: ClassVar[str] = "slack"
    settings: ClassVar[Mapping[str, str]] = {
        "channels": "channel ids or #names, comma-separated (the bot must be in each)",
        "min_replies": "threads with fewer replies from people are skipped (default 1; 0 keeps lone posts)",
        "days": "only threads started in the last N days (default 0: the whole history)",
        "api_url": "Slack's Web API base URL (default https://slack.com/api/; for proxies and tests)",
    }
    required_settings: ClassVar[tuple[str, ...]] = ("channels",)
    secret_settings: ClassVar[Mapping[str, str]] = {
        "bot_token": "the Slack bot token (xoxb-...); default NEEDLE_SLACK_BOT_TOKEN, the bot's own",
    }
    default_interval: ClassVar[int] = 3600

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: PeopleDirectory | None = None,
        *,
        records: RecordStore | None = None,
        web: SlackWeb | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """:param records: where the bot's edit and deletion marks live (without it, edits of replies are
            seen only when a thread gets a new reply).
        :param web: a ready client (tests tune its retries); default one built from the bot token.
        :param page_size: messages asked per page of history and replies.
        """
        super().__init__(config, secrets, people)
        if records is not None:
            self.records = records
        self.page_size = page_size
        self.channel_names = _channel_setting(self.config.get("channels", ""))
        self.min_replies = _whole_number(self.config, "min_replies", 1)
        self.days = _whole_number(self.config, "days", 0)
        self._web = web
        self._bot_user_id: str | None = None
        self._workspace_url = "https://slack.com/"
        self._names: dict[str, str] = {}
        self._channels: dict[str, Channel] = {}

    # -- the interface -------------------------------------------------------------------------------

    def list_documents(self) -> Iterator[DocumentRef]:
        channels = self.check()
        if self.records is not None:
            slack_edits.remember_synced(self.records, [channel.id for channel in channels])
        oldest = None
        if self.days:
            oldest = f"{(datetime.now(UTC) - timedelta(days=self.days)).timestamp():.6f}"
        for channel in channels:
            marks = slack_edits.edit_marks(self.records, channel.id) if self.records is not None else {}
            for page in self.web.pages(
                "conversations.history", "messages", channel=channel.id, limit=self.page_size, oldest=oldest
            ):
                for parent in page:
                    ref = self._ref(channel, parent, marks.get(str(parent.get("ts"))))
                    if ref is not None:
                        yield ref

    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        channel_id, _, thread_ts = ref.id.partition("/")
        if not self._channels:
            self.check()
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ConnectorError(f"channel {channel_id} is no longer synced", document_id=ref.id)
        messages = self._thread(channel_id, thread_ts, ref.id)
        kept = slack_threads.kept_messages(messages or [], self._bot_user_id)
        if not kept or kept[0].get("ts") != thread_ts:
            return Gone(ref, "the thread's first message was deleted in Slack")
        title, text = slack_threads.render_thread(channel.name, kept, self.display_name)
        link = self.web.call(
            "chat.getPermalink",
            expected=frozenset({"message_not_found"}),
            channel=channel_id,
            message_ts=thread_ts,
        )
        answered_by = list(dict.fromkeys(self.display_name(str(m.get("user"))) for m in kept[1:]))
        fetched = replace(
            ref,
            title=title,
            url=link.get("permalink") or ref.url,
            meta={**ref.meta, "answered_by": answered_by, "messages": len(kept)},
        )
        file_name = f"slack-{channel.name}-{thread_ts.replace('.', '-')}.md"
        return FetchedDocument(fetched, text.encode("utf-8"), file_name, "text/markdown")

    # -- helpers -------------------------------------------------------------------------------------

    @property
    def web(self) -> SlackWeb:
        if self._web is None:
            self._web = SlackWeb(bot_token(self.secrets), api_url(self.config))
        return self._web

    def check(self) -> list[Channel]:
        """Who the bot is, and the configured channels it may read.

        :raises ConnectorError: the token is refused, or a channel does not exist for the bot or the bot
            is not in it (with the channel and the fix in the reason).
        """
        me = self.web.call("auth.test")
        self._bot_user_id = me.get("user_id")
        self._workspace_url = str(me.get("url") or self._workspace_url).rstrip("/") + "/"
        by_name = self._channel_ids() if any(not _CHANNEL_ID.match(c) for c in self.channel_names) else {}
        channels: list[Channel] = []
        for wanted in self.channel_names:
            channel_id = wanted if _CHANNEL_ID.match(wanted) else by_name.get(wanted.lstrip("#"))
            if channel_id is None:
                raise ConnectorError(
                    f"Slack has no channel {wanted} that the bot can see: check the name, or invite the bot"
                )
            answer = self.web.call(
                "conversations.info", expected=frozenset({"channel_not_found"}), channel=channel_id
            )
            info = answer.get("channel")
            if not answer.get("ok") or not info:
                raise ConnectorError(
                    f"Slack channel {wanted} does not exist or is private without the bot: "
                    "a private channel is synced only after someone invites the bot (/invite @Needle)"
                )
            name = str(info.get("name") or channel_id)
            if info.get("is_im") or info.get("is_mpim"):
                raise ConnectorError(
                    f"{wanted} is a direct message, not a channel: Needle syncs channels only"
                )
            if not info.get("is_member"):
                kind = "private" if info.get("is_private") else "public"
                raise ConnectorError(
                    f"the bot is not in the {kind} channel #{name} ({channel_id}): "
                    "invite it with /invite @Needle in that channel, then sync again"
                )
            channel = Channel(channel_id, name, bool(info.get("is_private")))
            channels.append(channel)
            self._channels[channel_id] = channel
        return channels

    def display_name(self, user_id: str) -> str:
        """A person's display name (``users.info``, cached for this connector's life); the id when Slack
        does not know them."""
        if user_id not in self._names:
            answer = self.web.call("users.info", expected=frozenset({"user_not_found"}), user=user_id)
            user = answer.get("user") or {}
            profile = user.get("profile") or {}
            self._names[user_id] = str(
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or user_id
            )
        return self._names[user_id]

    def permalink(self, channel_id: str, ts: str) -> str:
        """The documented permalink form, ``<workspace>/archives/<channel>/p<ts without its dot>``, for
        listings (fetching asks ``chat.getPermalink``)."""
        return f"{self._workspace_url}archives/{channel_id}/p{ts.replace('.', '')}"

    def _channel_ids(self) -> dict[str, str]:
        """Channel name -> id for the channels the bot can see (``conversations.list``)."""
        found: dict[str, str] = {}
        for page in self.web.pages(
            "conversations.list",
            "channels",
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=self.page_size,
        ):
            for channel in page:
                found[str(channel.get("name"))] = str(channel.get("id"))
        return found

    def _ref(self, channel: Channel, parent: Mapping[str, Any], mark: str | None) -> DocumentRef | None:
        """The listing's reference for a thread, or ``None`` for what is not synced."""
        ts = str(parent.get("ts") or "")
        if not ts or (parent.get("thread_ts") and parent.get("thread_ts") != ts):
            return None  # a reply also sent to the channel: its thread is listed by its own parent
        if not slack_threads.by_a_person(parent, self._bot_user_id):
            return None  # bots, Needle's answers, joins and other events, deleted messages
        people_replied = slack_threads.has_human_replies(parent, self._bot_user_id)
        replies = int(parent.get("reply_count") or 0) if people_replied else 0
        if replies < self.min_replies:
            return None
        if not replies and slack_threads.is_chatter(str(parent.get("text") or "")):
            return None
        text = slack_threads.plain_text(str(parent.get("text") or ""), lambda user: user)
        return DocumentRef(
            id=f"{channel.id}/{ts}",
            title=f"#{channel.name}: {slack_threads.first_line(text)}",
            version=slack_threads.thread_version(parent, mark),
            url=self.permalink(channel.id, ts),
            modified=slack_threads.iso_time(slack_threads.latest_activity(parent)),
            audience=channel.audience,
            meta={"channel": channel.id, "channel_name": channel.name, "thread_ts": ts},
        )

    def _thread(self, channel_id: str, thread_ts: str, document_id: str) -> list[dict[str, Any]] | None:
        """Every message of the thread, parent first; ``None`` when Slack says it is gone."""
        messages: list[dict[str, Any]] = []
        try:
            for page in self.web.pages(
                "conversations.replies", "messages", channel=channel_id, ts=thread_ts, limit=self.page_size
            ):
                messages.extend(page)
        except SlackRefused as error:
            if error.code in ("thread_not_found", "message_not_found"):
                return None
            raise ConnectorError(error.reason, document_id=document_id) from None
        return messages


def _channel_setting(raw: str) -> list[str]:
    """``"C0123ABCD, #it-help"`` -> ``["C0123ABCD", "#it-help"]``; a clear error for anything else."""
    channels = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not channels:
        raise ConnectorError("the slack connector needs channels=C0123ABCD,#it-help (channel ids or #names)")
    bad = [c for c in channels if not (_CHANNEL_ID.match(c) or _CHANNEL_NAME.match(c))]
    if bad:
        raise ConnectorError(
            f"not a Slack channel: {', '.join(bad)} (use an id such as C0123ABCD or a name such as #it-help)"
        )
    return channels


def _whole_number(config: Mapping[str, str], key: str, default: int) -> int:
    raw = str(config.get(key, "") or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConnectorError(f"{key} must be a whole number, not {raw!r}")
    return int(raw)

"""What of a Slack thread is knowledge, and how a thread reads as one document.

Pure functions over messages as Slack's Web API returns them, so they are tested without Slack. A thread
is worth indexing for its question and the people's answers; what is left out is what would only add
noise to retrieval or echo Needle back to itself: bot messages (Needle's own answers included), joins,
topic changes and other subtypes, Slack's tombstones of deleted messages, and chatter ("thanks!", "+1",
an emoji) that answers nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

#: Message subtypes that carry what a person wrote; every other subtype (``channel_join``,
#: ``channel_topic``, ``bot_message``, ``tombstone``, ...) is an event, not knowledge.
PEOPLE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
#: Slackbot's user id (reminders, tombstones): never a person.
SLACKBOT = "USLACKBOT"
#: One-word replies that acknowledge and answer nothing.
_ACKNOWLEDGEMENTS = frozenset(
    {
        "ok", "okay", "k", "kk", "lol", "haha", "hahaha", "nice", "cool", "great", "awesome", "thanks",
        "thank", "thx", "ty", "tyvm", "np", "cheers", "same", "agreed", "this", "bump", "noted", "hi",
        "hello", "hey", "yay", "wow", "ack", "sure", "perfect", "welcome", "morning", "all", "everyone",
        "folks", "team", "guys", "so", "much", "you", "very", "again",
    }
)  # fmt: skip
_PHRASES = re.compile(
    r"^(thank you|thanks a lot|thanks so much|many thanks|got it|sounds good|makes sense|will do|"
    r"good morning|no problem|you're welcome|you are welcome|me too|same here|all good)$",
    re.IGNORECASE,
)
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_EMOJI = re.compile(r":[a-z0-9_+\-']+:")
_WORD = re.compile(r"\w+")
_VOTE = re.compile(r"(?<!\w)[+-]1(?!\w)")


def from_bot(message: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether a bot wrote it: any app or integration, Slackbot, or Needle itself (its user id)."""
    user = message.get("user")
    return bool(
        message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or user == SLACKBOT
        or (bot_user_id and user == bot_user_id)
    )


def is_chatter(text: str) -> bool:
    """Whether a message only acknowledges: "thanks!", "+1", ":tada:", "ok, got it". A question
    (anything with "?") or anything of two words or more that is not a stock phrase is kept."""
    plain = _VOTE.sub(" ", _EMOJI.sub(" ", _USER.sub(" ", _SPECIAL.sub(" ", text or ""))))
    if "?" in plain or "？" in plain:
        return False
    words = [word.lower() for word in _WORD.findall(plain)]
    if not words:
        return True
    if len(words) == 1:
        return words[0] in _ACKNOWLEDGEMENTS
    return bool(_PHRASES.match(" ".join(words))) or all(word in _ACKNOWLEDGEMENTS for word in words)


def by_a_person(message: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """A message a person wrote, with text: not a bot's, not an event, not a deleted message."""
    return (
        message.get("subtype") in PEOPLE_SUBTYPES
        and bool(message.get("user"))
        and not from_bot(message, bot_user_id)
        and bool((message.get("text") or "").strip())
    )


def kept_messages(messages: Iterable[Mapping[str, Any]], bot_user_id: str | None) -> list[Mapping[str, Any]]:
    """A thread's messages worth indexing, in order: the parent if a person wrote it (even a short one:
    it is the question), then people's replies that are not chatter."""
    kept: list[Mapping[str, Any]] = []
    for index, message in enumerate(messages):
        if not by_a_person(message, bot_user_id):
            continue
        if index > 0 and is_chatter(message.get("text") or ""):
            continue
        kept.append(message)
    return kept


def has_human_replies(parent: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether someone other than Needle and Slackbot replied, from the parent as history shows it:
    ``reply_users`` (which Slack may cut short; ``reply_users_count`` says how many there are)."""
    users = [str(user) for user in parent.get("reply_users") or [] if user]
    people = [user for user in users if user not in (bot_user_id, SLACKBOT)]
    return bool(people) or int(parent.get("reply_users_count") or 0) > len(users)


def latest_activity(parent: Mapping[str, Any]) -> str:
    """The newest ``ts`` the parent shows: its own, its last reply's, or its last edit's."""
    edited = (parent.get("edited") or {}).get("ts")
    stamps = [parent.get("ts"), parent.get("latest_reply"), edited]
    return max((str(stamp) for stamp in stamps if stamp), key=float)


def thread_version(parent: Mapping[str, Any], mark: str | None = None) -> str:
    """What changes when the thread does, from the listing alone: the newest activity (or an edit or
    deletion event's ``ts``, ``mark``) and the reply count (a deleted reply lowers it)."""
    newest = latest_activity(parent)
    if mark and float(mark) > float(newest):
        newest = mark
    return f"{newest}/{int(parent.get('reply_count') or 0)}"


def iso_time(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), tz=UTC).isoformat(timespec="seconds")


def plain_text(text: str, name_of: Callable[[str], str]) -> str:
    """Slack's message markup as readable Markdown: mentions by name, channels by name, links as
    Markdown links, Slack's three escaped characters unescaped."""

    def user(match: re.Match[str]) -> str:
        return f"@{match.group(2) or name_of(match.group(1))}"

    def channel(match: re.Match[str]) -> str:
        return f"#{match.group(2) or match.group(1)}"

    def special(match: re.Match[str]) -> str:
        label = match.group(2)
        return label if label else f"@{match.group(1).split('^')[0]}"

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("mailto:"):
            return label or target.removeprefix("mailto:")
        return f"[{label}]({target})" if label and label != target else target

    text = _USER.sub(user, text or "")
    text = _CHANNEL.sub(channel, text)
    text = _SPECIAL.sub(special, text)
    text = _LINK.sub(link, text)
    return html.unescape(text).strip()


def first_line(text: str, limit: int = 90) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def render_thread(
    channel_name: str, messages: list[Mapping[str, Any]], name_of: Callable[[str], str]
) -> tuple[str, str]:
    """``(title, markdown)`` of a thread: the question, then each answer under who gave it.

    :param messages: the kept messages, the parent first (see :func:`kept_messages`).
    :param name_of: a user id's display name.
    """
    parent, replies = messages[0], messages[1:]
    question = plain_text(parent.get("text") or "", name_of)
    asker = name_of(str(parent.get("user")))
    title = f"#{channel_name}: {first_line(question)}"
    answerers = list(dict.fromkeys(name_of(str(m.get("user"))) for m in replies))
    started = iso_time(str(parent["ts"]))[:10]
    lines = [f"# {first_line(question, 200)}", ""]
    intro = f"A Slack thread in #{channel_name}, asked by {asker} on {started}."
    if answerers:
        intro += f" Answered by {', '.join(answerers)}."
    lines += [intro, "", f"**{asker}** asked:", "", question, ""]
    for reply in replies:
        lines += [
            f"**{name_of(str(reply.get('user')))}** replied:",
            "",
            plain_text(reply.get("text") or "", name_of),
            "",
        ]
    return title, "\n".join(lines).rstrip() + "\n"

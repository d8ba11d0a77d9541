"""Who may see a source, and the retrieval filter that enforces it.

Every source has an audience: ``everyone`` (the default), or any mix of Slack channels, user groups and
individual users, stored on each of its chunks as ``meta.audience`` (``["channel:C123", "usergroup:S456",
"user:U789"]``). An answer is built only from chunks its viewers may see, and the check is a filter in the
store query itself (BM25 and dense alike, embedded store and Elasticsearch), never a step after passages
were retrieved: a restricted passage never reaches the prompt, the trace's lists or a log line.

Who the viewers are depends on where the answer is seen (after Onyx): an answer posted in a channel is
read by everyone in it, so it may use only sources whose audience includes everyone or that channel; a DM,
an ephemeral reply or an assistant thread is read by the asker alone, so it may use what the asker may
see, directly, through a user group or through a channel they belong to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.base.errors import NeedleError

EVERYONE = "everyone"
#: An audience no viewer's principals ever include: a source for no one (a connector whose source
#: restricts a document to people none of whom could be mapped). Never an empty list, which would read
#: as "no audience recorded", that is everyone.
NO_ONE = "no-one"
AUDIENCE_FIELD = "meta.audience"
_MEMBER = re.compile(r"^(channel:[CG][A-Z0-9]{2,30}|usergroup:S[A-Z0-9]{2,30}|user:[UW][A-Z0-9]{2,30})$")


def parse_audience(raw: str | Iterable[str] | None) -> list[str]:
    """``"channel:C123, usergroup:S456"`` -> a sorted list; blank or ``everyone`` -> ``["everyone"]``;
    ``no-one`` -> ``["no-one"]`` (visible to admins only).

    :raises NeedleError: a member that is not ``channel:<id>``, ``usergroup:<id>`` or ``user:<id>``.
    """
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    members = {item.strip() for item in items if item and item.strip()}
    if not members or members == {EVERYONE}:
        return [EVERYONE]
    if members == {NO_ONE}:
        return [NO_ONE]
    if EVERYONE in members or NO_ONE in members:
        raise NeedleError(
            "an audience is either 'everyone', 'no-one' or a list of channels, user groups and users"
        )
    bad = sorted(member for member in members if not _MEMBER.match(member))
    if bad:
        raise NeedleError(
            f"not an audience member: {', '.join(bad)} (use channel:C0123ABCD, usergroup:S0123ABCD or "
            "user:U0123ABCD, with Slack's ids)"
        )
    return sorted(members)


def audience_of(meta: Mapping[str, Any]) -> list[str]:
    """A chunk's audience; chunks indexed before audiences existed are for everyone."""
    return list(meta.get("audience") or [EVERYONE])


def describe(audience: Iterable[str]) -> str:
    members = list(audience)
    if members == [NO_ONE]:
        return "no one"
    return "everyone" if members == [EVERYONE] else ", ".join(members)


@dataclass(frozen=True)
class Viewer:
    """Who will read an answer, and where.

    ``private``: the answer is seen by ``user_id`` alone (DM, ephemeral reply, assistant thread);
    otherwise by everyone in ``channel_id``. ``usergroups`` and ``channels`` are the user's memberships
    (from Slack), used only for private answers. ``unrestricted`` is for admins on the server (the CLI,
    evaluations): every source.
    """

    user_id: str | None = None
    channel_id: str | None = None
    private: bool = False
    usergroups: frozenset[str] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)
    unrestricted: bool = False

    def principals(self) -> list[str]:
        """The audience members whose sources this viewer may see."""
        allowed = {EVERYONE}
        if not self.private:
            if self.channel_id:
                allowed.add(f"channel:{self.channel_id}")
            return sorted(allowed)
        if self.user_id:
            allowed.add(f"user:{self.user_id}")
        allowed |= {f"usergroup:{group}" for group in self.usergroups}
        allowed |= {f"channel:{channel}" for channel in self.channels}
        return sorted(allowed)

    def may_see(self, audience: Iterable[str]) -> bool:
        return self.unrestricted or bool(set(audience) & set(self.principals()))

    def describe(self) -> dict[str, Any]:
        """What a trace records about the viewer (ids only; memberships as counts)."""
        return {
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "private": self.private,
            "unrestricted": self.unrestricted,
            "usergroups": len(self.usergroups),
            "channels": len(self.channels),
        }


#: Anyone at all: only sources for everyone. What a caller gets when it does not say who is asking.
PUBLIC = Viewer()
#: An admin on the server (CLI, evaluations, the console's debugger without "view as").
ADMIN = Viewer(unrestricted=True)


def private_viewer(
    user_id: str,
    principals: Iterable[str],
    members: Callable[[str, str], Iterable[str]],
    channel_id: str | None = None,
) -> Viewer:
    """``user_id`` reading a private answer, with the user groups and channels among ``principals``
    (audience members such as ``usergroup:S1``, ``channel:C1``) they belong to.

    ``members(kind, target)`` names the members of one user group (``kind="usergroup"``) or channel; the
    bot answers it from Slack with a cache, the command line from Slack directly. One rule for both, so
    a person sees the same sources in a DM and at ``needle ask --as-user``.
    """
    groups: set[str] = set()
    channels: set[str] = set()
    for principal in sorted(set(principals)):
        kind, _, target = principal.partition(":")
        if kind not in ("usergroup", "channel") or not target:
            continue
        if user_id in members(kind, target):
            (groups if kind == "usergroup" else channels).add(target)
    return Viewer(
        user_id=user_id,
        channel_id=channel_id,
        private=True,
        usergroups=frozenset(groups),
        channels=frozenset(channels),
    )


def audience_filter(viewer: Viewer) -> dict[str, Any] | None:
    """The store filter that keeps only chunks ``viewer`` may see; ``None`` for unrestricted viewers.

    A chunk without ``meta.audience`` (indexed before audiences) is for everyone.
    """
    if viewer.unrestricted:
        return None
    return {
        "operator": "OR",
        "conditions": [
            {"field": AUDIENCE_FIELD, "operator": "in", "value": viewer.principals()},
            {"field": AUDIENCE_FIELD, "operator": "==", "value": None},
        ],
    }


def combine(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """AND of the given filters, skipping ``None``."""
    present = [f for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"operator": "AND", "conditions": present}

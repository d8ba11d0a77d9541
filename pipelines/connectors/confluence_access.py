"""Who may read a Confluence page, as Needle's audience: space permissions, page restrictions, groups.

Confluence lets a person read a page when three things hold: the space grants them "View" (directly,
through a group, or to anonymous users), the page has no read restriction or its restriction names them
(directly or through a group), and so does every ancestor's read restriction (a restricted parent hides
its whole subtree). So a page's readers are the *intersection* of the space's readers and each read
restriction on the page and its ancestors. This module computes that set once per page, with every
space, restriction, group and user looked up once per listing.

"Everyone" (Needle's ``everyone`` audience) is decided at the source, never guessed: a set is everyone
when it comes from anonymous access or from a group the admin names as holding every employee
(``everyone_groups``, by default ``confluence-users``, Confluence's default group for everyone with a
licence). Any other set is expanded to people: groups to their members, people to their email, emails to
Slack users through the :class:`~pipelines.connectors.base.PeopleDirectory`. A person who cannot be
mapped (no visible email, or no Slack user with that email) grants nothing and is reported as unmapped.
A lookup that fails raises: a page is never given a wider audience because a permission could not be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipelines.connectors.base import ConnectorError, PeopleDirectory, audience_for
from pipelines.connectors.confluence_api import ConfluenceApi, NotFound
from pipelines.records.audience import EVERYONE


@dataclass(frozen=True)
class Readers:
    """A set of Confluence people, or everyone. ``people`` are user ids (accountId on Cloud, userKey or
    username on Data Center); ``unresolvable`` names principals that grant nothing (an unknown role)."""

    everyone: bool = False
    people: frozenset[str] = frozenset()
    unresolvable: frozenset[str] = frozenset()

    def __and__(self, other: Readers) -> Readers:
        if self.everyone:
            return other
        if other.everyone:
            return self
        return Readers(people=self.people & other.people, unresolvable=self.unresolvable | other.unresolvable)

    @staticmethod
    def union(parts: Iterable[Readers]) -> Readers:
        people: set[str] = set()
        unresolvable: set[str] = set()
        for part in parts:
            if part.everyone:
                return Readers(everyone=True)
            people |= part.people
            unresolvable |= part.unresolvable
        return Readers(people=frozenset(people), unresolvable=frozenset(unresolvable))


EVERYONE_READERS = Readers(everyone=True)
_MAX_RESTRICTION_PAGES = 100


@dataclass
class AccessResolver:
    """Turns spaces and pages into readers, and readers into an audience; caches for one listing."""

    api: ConfluenceApi
    people: PeopleDirectory | None
    everyone_groups: frozenset[str] = frozenset({"confluence-users"})
    _spaces: dict[str, Readers] = field(default_factory=dict)
    _restrictions: dict[str, Readers | None] = field(default_factory=dict)
    _groups: dict[str, Readers] = field(default_factory=dict)
    _emails: dict[str, str | None] = field(default_factory=dict)
    _usernames: dict[str, str] = field(default_factory=dict)

    # -- a page -----------------------------------------------------------------------------------------
    def page_readers(self, page: dict[str, Any]) -> Readers:
        """The people who may read ``page`` (a content item with ``space`` and ``ancestors`` expanded)."""
        space = page.get("space") or {}
        readers = self.space_readers(str(space.get("key") or ""), space.get("id"))
        for content_id in [str(a.get("id")) for a in page.get("ancestors") or []] + [str(page["id"])]:
            restriction = self.read_restriction(content_id)
            if restriction is not None:
                readers = readers & restriction
        return readers

    def audience(self, readers: Readers) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(audience, unmapped)`` for Needle: ``("everyone",)``, or the mapped Slack users."""
        if readers.everyone:
            return (EVERYONE,), ()
        emails: list[str] = []
        unmapped = set(readers.unresolvable)
        for person in sorted(readers.people):
            email = self.email(person)
            if email:
                emails.append(email)
            else:
                unmapped.add(f"confluence user {person} (no email visible)")
        if self.people is None:
            return (), tuple(sorted(unmapped | set(emails)))
        audience, unmapped_emails = audience_for(emails, self.people)
        return audience, tuple(sorted(unmapped | set(unmapped_emails)))

    # -- spaces -----------------------------------------------------------------------------------------
    def space_readers(self, key: str, space_id: Any = None) -> Readers:
        if not key:
            raise ConnectorError("a Confluence page came without its space; cannot decide who may read it")
        if key not in self._spaces:
            try:
                readers = self._cloud_space(key, space_id) if self.api.cloud else self._dc_space(key)
            except NotFound:
                # not a page gone mid-listing: without the space's permissions no page of it can be synced
                raise ConnectorError(
                    f"Confluence has no permissions to show for space {key} (404): the space is gone, or "
                    "this Confluence has no space permissions REST API (see docs/connectors/confluence.md)"
                ) from None
            self._spaces[key] = readers
        return self._spaces[key]

    def _dc_space(self, key: str) -> Readers:
        """Data Center: ``GET /rest/api/space/{key}/permissions``, the grants with operation read/space."""
        grants = self.api.json(
            f"/rest/api/space/{quote(key)}/permissions", what=f"the permissions of space {key}"
        )
        if not isinstance(grants, list):
            raise ConnectorError(f"Confluence's permissions of space {key} are not a list", retryable=True)
        parts: list[Readers] = []
        for grant in grants:
            operation = grant.get("operation") or {}
            if operation.get("operationKey") != "read" or operation.get("targetType") != "space":
                continue
            subject = grant.get("subject") or {}
            kind = subject.get("type")
            if kind == "anonymous":
                return EVERYONE_READERS
            if kind == "group":
                parts.append(self.group_readers(str(subject.get("name") or subject.get("displayName"))))
            elif kind == "user":
                parts.append(self._user(subject))
        return Readers.union(parts)

    def _cloud_space(self, key: str, space_id: Any) -> Readers:
        """Cloud: ``GET /api/v2/spaces/{id}/permissions`` (v1 has no read of space permissions)."""
        if not space_id:
            space = self.api.json(f"/rest/api/space/{quote(key)}", what=f"space {key}")
            space_id = space.get("id")
        parts: list[Readers] = []
        grants = self.api.paged(
            f"/api/v2/spaces/{space_id}/permissions", what=f"the permissions of space {key}"
        )
        for grant in grants:
            operation = grant.get("operation") or {}
            if operation.get("key") != "read" or operation.get("targetType") != "space":
                continue
            principal = grant.get("principal") or {}
            kind, ident = principal.get("type"), str(principal.get("id") or "")
            if kind == "user" and ident:
                parts.append(Readers(people=frozenset({ident})))
            elif kind == "group" and ident:
                parts.append(self.group_readers(ident, by_id=True))
            else:
                parts.append(
                    Readers(unresolvable=frozenset({f"{kind or 'principal'} {ident} in space {key}"}))
                )
        return Readers.union(parts)

    # -- restrictions -----------------------------------------------------------------------------------
    def read_restriction(self, content_id: str) -> Readers | None:
        """``GET /rest/api/content/{id}/restriction/byOperation/read``: ``None`` when nothing restricts it."""
        if content_id not in self._restrictions:
            users: list[dict[str, Any]] = []
            groups: list[dict[str, Any]] = []
            start = 0
            for _ in range(_MAX_RESTRICTION_PAGES):
                body = self.api.json(
                    f"/rest/api/content/{quote(content_id)}/restriction/byOperation/read",
                    {"start": start, "limit": 100, "expand": "restrictions.user,restrictions.group"},
                    what=f"the read restrictions of page {content_id}",
                )
                restrictions = body.get("restrictions") or {}
                page_users = (restrictions.get("user") or {}).get("results") or []
                page_groups = (restrictions.get("group") or {}).get("results") or []
                users += page_users
                groups += page_groups
                sizes = [(restrictions.get(k) or {}) for k in ("user", "group")]
                if not any(s.get("size", 0) >= s.get("limit", 1 << 30) for s in sizes if s):
                    break
                start += 100
            else:
                raise ConnectorError(f"the read restrictions of page {content_id} never end", retryable=True)
            if not users and not groups:
                self._restrictions[content_id] = None
            else:
                parts = [self._user(user) for user in users]
                for group in groups:
                    if self.api.cloud and group.get("id"):
                        parts.append(self.group_readers(str(group["id"]), by_id=True, name=group.get("name")))
                    else:
                        parts.append(self.group_readers(str(group.get("name"))))
                self._restrictions[content_id] = Readers.union(parts)
        return self._restrictions[content_id]

    # -- groups and people ------------------------------------------------------------------------------
    def group_readers(self, group: str, *, by_id: bool = False, name: str | None = None) -> Readers:
        """A group's members (``everyone`` for an everyone-group). Cloud names groups by id, DC by name."""
        cache_key = ("id:" if by_id else "name:") + group
        if cache_key in self._groups:
            return self._groups[cache_key]
        if name is None and not by_id:
            name = group
        if by_id and name is None:
            try:
                name = str(
                    self.api.json("/rest/api/group/by-id", {"id": group}, what=f"group {group}").get("name")
                )
            except NotFound:
                name = None
        if name and name.lower() in self.everyone_groups:
            readers = EVERYONE_READERS
        else:
            if by_id:
                path = f"/rest/api/group/{quote(group)}/membersByGroupId"
            else:
                path = f"/rest/api/group/{quote(group, safe='')}/member"
            try:
                members = [
                    self._user(user)
                    for user in self.api.paged(path, what=f"the members of group {name or group}")
                ]
            except NotFound:
                members = [Readers(unresolvable=frozenset({f"group {name or group} (not found)"}))]
            readers = Readers.union(members)
        self._groups[cache_key] = readers
        return readers

    def _user(self, user: dict[str, Any]) -> Readers:
        """One person from a restriction, grant or membership; remembers an email the payload shows."""
        ident = user.get("accountId") if self.api.cloud else (user.get("userKey") or user.get("username"))
        if not ident:
            ident = user.get("username") or user.get("name") or user.get("userKey") or user.get("accountId")
        if not ident:
            return Readers(unresolvable=frozenset({"a user Confluence did not identify"}))
        ident = str(ident)
        email = user.get("email") or ((user.get("details") or {}).get("personal") or {}).get("email")
        if email:
            self._emails[ident] = str(email)
        if not self.api.cloud and user.get("username"):
            self._usernames[ident] = str(user["username"])
        return Readers(people=frozenset({ident}))

    def email(self, person: str) -> str | None:
        """``person``'s email: Cloud ``GET /rest/api/user?accountId=``; Data Center ``GET /rest/api/user
        ?key=`` (or ``username=``) with ``expand=details.personal``. ``None`` when Confluence hides it."""
        if person not in self._emails:
            if self.api.cloud:
                params = {"accountId": person}
            elif person in self._usernames:
                params = {"username": self._usernames[person], "expand": "details.personal"}
            else:
                params = {"key": person, "expand": "details.personal"}
            try:
                user = self.api.json("/rest/api/user", params, what=f"user {person}")
            except NotFound:
                user = {}
            email = user.get("email") or ((user.get("details") or {}).get("personal") or {}).get("email")
            self._emails[person] = str(email) if email else None
        return self._emails[person]

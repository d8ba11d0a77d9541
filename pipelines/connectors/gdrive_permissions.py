"""Who may read a Drive file, as Needle's audience: Drive's permissions mapped to Slack users.

Drive lists a file's permissions (its own and those inherited from its folders and shared drive) with
a ``type``: ``user`` and ``group`` carry an email, ``domain`` a domain, ``anyone`` nothing. Every role
(reader to owner) can read. The mapping is deliberately one-way safe: anything that cannot be mapped to a
Slack user grants nothing and is reported as unmapped, so a restricted file is never widened by a mapping
failure:

- ``user``: the email, through the :class:`~pipelines.connectors.base.PeopleDirectory`.
- ``group``: its members (nested groups included), read with the Admin SDK Directory API when an admin to
  act as (``admin_email``) is configured; otherwise the group is unmapped and says why.
- ``domain``: everyone when it is the company's own domain (``domain`` setting); another domain is
  unmapped (Needle cannot tell who in Slack belongs to a partner's domain).
- ``anyone`` ("anyone with the link" or public): everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.connectors.base import ConnectorError, PeopleDirectory, audience_for
from pipelines.connectors.gdrive_client import GoogleApis, status_of
from pipelines.records.audience import EVERYONE

#: Drive's reply fields a mapping reads (``fields`` keeps the responses small).
PERMISSION_FIELDS = "nextPageToken, permissions(id, type, role, emailAddress, domain, deleted)"


@dataclass(frozen=True)
class Access:
    """A file's audience and the principals that grant nothing because they could not be mapped."""

    audience: tuple[str, ...]
    unmapped: tuple[str, ...] = ()


@dataclass
class GroupDirectory:
    """A group's member emails from the Directory API, each group read once per sync."""

    apis: GoogleApis | None
    _members: dict[str, tuple[frozenset[str], bool]] = field(default_factory=dict)

    def members(self, group_email: str) -> tuple[frozenset[str], bool] | None:
        """``(user emails, whole_customer)`` for the group, or ``None`` when groups cannot be expanded.

        ``includeDerivedMembership`` makes Google expand nested groups; a member of type ``CUSTOMER`` is
        everyone in the organisation.
        """
        if self.apis is None:
            return None
        key = group_email.lower()
        if key not in self._members:
            emails: set[str] = set()
            whole_customer = False
            token: str | None = None
            while True:
                request = self.apis.directory.members().list(
                    groupKey=group_email, includeDerivedMembership=True, maxResults=200, pageToken=token
                )
                reply = self.apis.run(request, what=f"reading the members of the group {group_email}")
                for member in reply.get("members", []):
                    kind = str(member.get("type", "")).upper()
                    if kind == "CUSTOMER":
                        whole_customer = True
                    elif (
                        kind == "USER" and member.get("email") and member.get("status", "ACTIVE") == "ACTIVE"
                    ):
                        emails.add(str(member["email"]).lower())
                token = reply.get("nextPageToken")
                if not token:
                    break
            self._members[key] = (frozenset(emails), whole_customer)
        return self._members[key]


def file_permissions(apis: GoogleApis, file_id: str, title: str) -> list[dict[str, Any]]:
    """Every permission on the file (all pages), inherited ones included."""
    permissions: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        request = apis.drive.permissions().list(
            fileId=file_id, supportsAllDrives=True, pageSize=100, pageToken=token, fields=PERMISSION_FIELDS
        )
        reply = apis.run(request, what=f"reading who may see {title!r}", document_id=file_id)
        permissions.extend(reply.get("permissions", []))
        token = reply.get("nextPageToken")
        if not token:
            return permissions


def map_permissions(
    permissions: Iterable[Mapping[str, Any]],
    people: PeopleDirectory | None,
    groups: GroupDirectory,
    domain: str | None,
) -> Access:
    """The audience Drive's ``permissions`` grant: everyone, the mapped users, or no one."""
    emails: set[str] = set()
    unmapped: set[str] = set()
    for permission in permissions:
        kind = permission.get("type")
        if permission.get("deleted"):
            continue  # the account was deleted: it can read nothing
        if kind == "anyone":
            return Access((EVERYONE,))
        if kind == "domain":
            granted = str(permission.get("domain", "")).lower()
            if domain and granted == domain.lower():
                return Access((EVERYONE,))
            unmapped.add(f"domain:{granted}" if domain else f"domain:{granted} (no domain setting)")
        elif kind == "user" and permission.get("emailAddress"):
            emails.add(str(permission["emailAddress"]).lower())
        elif kind == "group" and permission.get("emailAddress"):
            group = str(permission["emailAddress"]).lower()
            try:
                expanded = groups.members(group)
            except ConnectorError as error:
                if error.retryable:
                    raise  # a passing fault fails the sync rather than narrowing an audience for a day
                unmapped.add(f"group:{group} (members unreadable: {status_of(error)})")
                continue
            if expanded is None:
                unmapped.add(f"group:{group} (no admin_email to read its members)")
                continue
            members, whole_customer = expanded
            if whole_customer:
                return Access((EVERYONE,))
            if not members:
                unmapped.add(f"group:{group} (no members)")
            emails |= members
        elif kind == "unreadable":
            unmapped.add(f"sharing unreadable: {permission.get('id')}")
        else:
            unmapped.add(f"{kind}:{permission.get('id', '?')}")
    if people is None:
        return Access((), tuple(sorted(unmapped | emails)))
    audience, unmapped_people = audience_for(sorted(emails), people)
    return Access(audience, tuple(sorted(unmapped | set(unmapped_people))))

"""A local server that speaks Confluence's documented REST API, Cloud or Data Center flavoured.

The real atlassian-python-api client (through Needle's Confluence connector) talks to it as it would to
``https://example.atlassian.net/wiki`` (Cloud: basic auth with an email and API token, listings paged by
an opaque ``cursor`` in ``_links.next``, space permissions from the v2 API) or to a Data Center site under
the ``/confluence`` context (bearer personal access token, ``start``/``limit`` paging, space permissions
from ``/rest/api/space/{key}/permissions``). The shapes follow Atlassian's REST reference:

- ``GET /rest/api/content/search?cql=&limit=&start=|cursor=&expand=`` -> ``{results, start, limit, size,
  _links: {base, context, next?}}``
- ``GET /rest/api/content/{id}?expand=body.export_view,version``
- ``GET /rest/api/content/{id}/child/attachment?start=&limit=`` (attachments with ``_links.download``)
- ``GET /rest/api/content/{id}/restriction/byOperation/read?start=&limit=`` ->
  ``{operation: "read", restrictions: {user: {results, start, limit, size}, group: {...}}}``
- ``GET /rest/api/space/{key}``; DC ``GET /rest/api/space/{key}/permissions`` (a JSON array of
  ``{operation: {operationKey, targetType}, subject: {type, ...}}``); Cloud ``GET /api/v2/spaces/{id}/
  permissions`` (``{results: [{principal: {type, id}, operation: {key, targetType}}], _links: {next}}``)
- DC ``GET /rest/api/group/{name}/member``; Cloud ``GET /rest/api/group/{id}/membersByGroupId`` and
  ``GET /rest/api/group/by-id?id=``
- Cloud ``GET /rest/api/user?accountId=`` (``email`` empty when the profile hides it); DC
  ``GET /rest/api/user?key=|username=&expand=details.personal`` (``details.personal.email``)
- errors: 401 for a wrong or expired credential, 404 for what does not exist, 400 for CQL it cannot
  parse, 429 with ``Retry-After`` when a test asks for throttling, any status a test injects.

Tests change the state between syncs (a new version, a deleted page, a changed restriction) and read
``requests`` to check which documented paths the connector called.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.support.loopback_server import StatefulServer, serving


@dataclass
class FakeUser:
    ident: str  #: accountId on Cloud, userKey on Data Center
    email: str
    username: str = ""
    hide_email: bool = False  #: Cloud profile visibility: the API returns an empty email


@dataclass
class FakeGroup:
    name: str
    members: list[str]
    id: str = ""


@dataclass
class FakeAttachment:
    id: str
    title: str
    data: bytes
    media_type: str
    version: int = 1


@dataclass
class FakePage:
    id: str
    space: str
    title: str
    body: str
    version: int = 1
    labels: list[str] = field(default_factory=list)
    parent: str | None = None
    read_users: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)


@dataclass
class FakeSpace:
    id: int
    key: str
    name: str
    #: ("user", ident) | ("group", name) | ("anonymous", "") | ("role", id), each granted "read" on the space
    readers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str  #: without the site's context (``/rest/api/...``), as Atlassian's reference writes it
    query: dict[str, str]
    authorization: str


@dataclass
class FakeConfluenceState:
    cloud: bool = True
    email: str = "bot@example.com"
    api_token: str = "cloud-api-token"
    token: str = "dc-personal-token"
    expired: bool = False
    spaces: dict[str, FakeSpace] = field(default_factory=dict)
    pages: dict[str, FakePage] = field(default_factory=dict)
    users: dict[str, FakeUser] = field(default_factory=dict)
    groups: dict[str, FakeGroup] = field(default_factory=dict)
    #: The largest ``limit`` the server honours, so small fixtures still page.
    max_limit: int = 2
    #: path substring -> how many 429s to answer before serving it
    throttle: dict[str, int] = field(default_factory=dict)
    retry_after: str = "3"
    #: path substring -> status to answer every time (500, 403 ...)
    failures: dict[str, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def context(self) -> str:
        return "/wiki" if self.cloud else "/confluence"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def add_page(self, page: FakePage) -> FakePage:
        self.pages[page.id] = page
        return page


def _page_window(query: dict[str, str], cloud: bool, cap: int) -> tuple[int, int]:
    limit = min(int(query.get("limit") or 25), cap)
    if cloud and query.get("cursor"):
        start = int(base64.urlsafe_b64decode(query["cursor"].encode()).decode().removeprefix("start:"))
    else:
        start = int(query.get("start") or 0)
    return start, limit


class _Handler(BaseHTTPRequestHandler):
    server: StatefulServer
    protocol_version = "HTTP/1.1"  # keep-alive, as Atlassian's servers do: one connection per session
    wbufsize = 1 << 16  # headers and body leave in one write (two small writes stall on delayed ACKs)

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def state(self) -> FakeConfluenceState:
        return self.server.state

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = (
            "application/octet-stream" if isinstance(body, bytes) else "application/json;charset=UTF-8"
        )
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"statusCode": status, "message": message, "data": {"authorized": status != 401}})

    def _authorized(self, header: str) -> bool:
        state = self.state
        if state.expired:
            return False
        if state.cloud:
            expected = base64.b64encode(f"{state.email}:{state.api_token}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {state.token}"

    def do_GET(self) -> None:
        state = self.state
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        path = unquote(parts.path)
        if not path.startswith(state.context + "/"):
            self._error(404, f"no Confluence at {path}")
            return
        path = path[len(state.context) :]
        header = self.headers.get("Authorization", "")
        with state.lock:
            state.requests.append(Request("GET", path, query, header.split(" ")[0]))
            throttled = next((key for key, left in state.throttle.items() if key in path and left > 0), None)
            if throttled is not None:
                state.throttle[throttled] -= 1
        if not self._authorized(header):
            self._error(401, "Unauthorized; the credential is wrong or has expired")
            return
        if throttled is not None:
            self._send(
                429, {"statusCode": 429, "message": "Rate limit exceeded"}, {"Retry-After": state.retry_after}
            )
            return
        for key, status in state.failures.items():
            if key in path:
                self._error(status, "injected failure")
                return
        routes: list[tuple[str, Any]] = [
            (r"/rest/api/content/search", self._search),
            (r"/rest/api/content/(?P<id>[^/]+)/child/attachment", self._attachments),
            (r"/rest/api/content/(?P<id>[^/]+)/restriction/byOperation/read", self._restriction),
            (r"/rest/api/content/(?P<id>[^/]+)", self._content),
            (r"/rest/api/space/(?P<key>[^/]+)/permissions", self._dc_space_permissions),
            (r"/rest/api/space/(?P<key>[^/]+)", self._space),
            (r"/api/v2/spaces/(?P<id>\d+)/permissions", self._cloud_space_permissions),
            (r"/rest/api/group/by-id", self._group_by_id),
            (r"/rest/api/group/(?P<id>[^/]+)/membersByGroupId", self._members_by_id),
            (r"/rest/api/group/(?P<name>[^/]+)/member", self._members_by_name),
            (r"/rest/api/user", self._user),
            (r"/download/attachments/(?P<page>[^/]+)/(?P<name>[^/]+)", self._download),
        ]
        for pattern, route in routes:
            match = re.fullmatch(pattern, path)
            if match:
                with state.lock:
                    route(query, **match.groupdict())
                return
        self._error(404, f"no REST resource at {path}")

    def _links(self, path: str, query: dict[str, str], start: int, limit: int, total: int) -> dict[str, Any]:
        state = self.state
        host = f"http://{self.headers.get('Host')}"
        links: dict[str, Any] = {"base": host + state.context, "context": state.context}
        if start + limit < total:
            following = {k: v for k, v in query.items() if k not in ("start", "cursor")}
            following["limit"] = str(limit)
            if state.cloud:
                following["cursor"] = base64.urlsafe_b64encode(f"start:{start + limit}".encode()).decode()
            else:
                following["start"] = str(start + limit)
            links["next"] = f"{path}?{urlencode(following)}"
        return links

    def _listing(self, path: str, query: dict[str, str], items: list[Any]) -> None:
        start, limit = _page_window(query, self.state.cloud, self.state.max_limit)
        chunk = items[start : start + limit]
        links = self._links(path, query, start, limit, len(items))
        self._send(
            200, {"results": chunk, "start": start, "limit": limit, "size": len(chunk), "_links": links}
        )

    # -- people -----------------------------------------------------------------------------------------
    def _person(self, ident: str, *, details: bool = False) -> dict[str, Any]:
        user = self.state.users[ident]
        if self.state.cloud:
            return {
                "type": "known",
                "accountId": user.ident,
                "accountType": "atlassian",
                "email": "" if user.hide_email else user.email,
                "publicName": user.username or user.ident,
                "displayName": user.username or user.ident,
            }
        person: dict[str, Any] = {
            "type": "known",
            "username": user.username,
            "userKey": user.ident,
            "displayName": user.username,
        }
        if details:
            person["details"] = {"personal": {"email": user.email}}
        return person

    def _group(self, name: str) -> dict[str, Any]:
        group = self.state.groups[name]
        return (
            {"type": "group", "name": group.name, "id": group.id}
            if self.state.cloud
            else {"type": "group", "name": group.name}
        )

    # -- content ----------------------------------------------------------------------------------------
    def _ancestors(self, page: FakePage) -> list[FakePage]:
        chain: list[FakePage] = []
        parent = page.parent
        while parent and parent in self.state.pages:
            chain.insert(0, self.state.pages[parent])
            parent = self.state.pages[parent].parent
        return chain

    def _webui(self, page: FakePage) -> str:
        if self.state.cloud:
            return f"/spaces/{page.space}/pages/{page.id}/{quote(page.title.replace(' ', '+'))}"
        return f"/pages/viewpage.action?pageId={page.id}"

    def _page_json(self, page: FakePage, expand: set[str]) -> dict[str, Any]:
        space = self.state.spaces[page.space]
        item: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": "current",
            "title": page.title,
            "_links": {"webui": self._webui(page), "self": f"/rest/api/content/{page.id}"},
            "_expandable": {"children": f"/rest/api/content/{page.id}/child"},
        }
        if "space" in expand:
            item["space"] = {"id": space.id, "key": space.key, "name": space.name, "type": "global"}
        if "version" in expand:
            item["version"] = {
                "number": page.version,
                "when": f"2026-11-{min(page.version, 28):02d}T09:00:00.000Z",
            }
        if "ancestors" in expand:
            item["ancestors"] = [
                {"id": a.id, "type": "page", "title": a.title} for a in self._ancestors(page)
            ]
        if "metadata.labels" in expand:
            labels = [
                {"prefix": "global", "name": name, "id": str(i), "label": name}
                for i, name in enumerate(page.labels)
            ]
            item["metadata"] = {"labels": {"results": labels, "start": 0, "limit": 200, "size": len(labels)}}
        if "body.export_view" in expand:
            item["body"] = {"export_view": {"value": page.body, "representation": "export_view"}}
        return item

    def _matches(self, page: FakePage, clause: str) -> bool:
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        if " AND " in clause:
            return all(self._matches(page, part) for part in _split_and(clause))
        match = re.fullmatch(r"(\w+)\s*(=|in)\s*(.+)", clause)
        if not match:
            raise ValueError(clause)
        name, operator, raw = match.groups()
        values = (
            [v.strip().strip('"') for v in raw.strip("()").split(",")]
            if operator == "in"
            else [raw.strip('"')]
        )
        if name == "type":
            return "page" in values
        if name == "space":
            return page.space in values
        if name == "label":
            return any(label in values for label in page.labels)
        if name == "ancestor":
            return any(a.id in values for a in self._ancestors(page))
        raise ValueError(clause)

    def _search(self, query: dict[str, str]) -> None:
        cql = query.get("cql", "")
        try:
            pages = [
                p
                for _, p in sorted(self.state.pages.items(), key=lambda kv: int(kv[0]))
                if self._matches(p, cql)
            ]
        except ValueError:
            self._error(400, f"Could not parse cql : {cql}")
            return
        expand = set((query.get("expand") or "").split(","))
        self._listing("/rest/api/content/search", query, [self._page_json(p, expand) for p in pages])

    def _content(self, query: dict[str, str], id: str) -> None:
        page = self.state.pages.get(id)
        if page is None:
            self._error(404, f"No content found with id: ContentId{{id={id}}}")
            return
        self._send(200, self._page_json(page, set((query.get("expand") or "").split(","))))

    def _attachments(self, query: dict[str, str], id: str) -> None:
        page = self.state.pages.get(id)
        if page is None:
            self._error(404, f"No content found with id: ContentId{{id={id}}}")
            return
        items = [
            {
                "id": a.id,
                "type": "attachment",
                "status": "current",
                "title": a.title,
                "version": {"number": a.version, "when": "2026-11-02T09:00:00.000Z"},
                "metadata": {"mediaType": a.media_type},
                "extensions": {"mediaType": a.media_type, "fileSize": len(a.data)},
                "_links": {
                    "download": f"/download/attachments/{page.id}/{quote(a.title)}"
                    f"?version={a.version}&api=v2",
                    "webui": f"/pages/viewpageattachments.action?pageId={page.id}"
                    f"&preview=/{page.id}/{a.id}/{quote(a.title)}",
                },
            }
            for a in page.attachments
        ]
        self._listing(f"/rest/api/content/{id}/child/attachment", query, items)

    def _download(self, query: dict[str, str], page: str, name: str) -> None:
        found = self.state.pages.get(page)
        attachment = next((a for a in (found.attachments if found else []) if a.title == name), None)
        if attachment is None:
            self._error(404, "attachment not found")
            return
        self._send(200, attachment.data)

    def _restriction(self, query: dict[str, str], id: str) -> None:
        page = self.state.pages.get(id)
        if page is None:
            self._error(404, f"No content found with id: ContentId{{id={id}}}")
            return
        start, limit = int(query.get("start") or 0), min(int(query.get("limit") or 100), 200)
        users = [self._person(u) for u in page.read_users][start : start + limit]
        groups = [self._group(g) for g in page.read_groups][start : start + limit]
        self._send(
            200,
            {
                "operation": "read",
                "restrictions": {
                    "user": {"results": users, "start": start, "limit": limit, "size": len(users)},
                    "group": {"results": groups, "start": start, "limit": limit, "size": len(groups)},
                },
                "_links": {"self": f"/rest/api/content/{id}/restriction/byOperation/read"},
                "_expandable": {"content": f"/rest/api/content/{id}"},
            },
        )

    # -- spaces -----------------------------------------------------------------------------------------
    def _space(self, query: dict[str, str], key: str) -> None:
        space = self.state.spaces.get(key)
        if space is None:
            self._error(404, f"No space with key : {key}")
            return
        self._send(
            200,
            {
                "id": space.id,
                "key": space.key,
                "name": space.name,
                "type": "global",
                "_links": {"webui": f"/spaces/{key}"},
            },
        )

    def _dc_space_permissions(self, query: dict[str, str], key: str) -> None:
        space = self.state.spaces.get(key)
        if space is None or self.state.cloud:
            self._error(404, f"No space with key : {key}")
            return
        grants: list[dict[str, Any]] = []
        for kind, ident in space.readers:
            if kind == "user":
                user = self.state.users[ident]
                subject = {
                    "type": "user",
                    "userKey": user.ident,
                    "username": user.username,
                    "displayName": user.username,
                }
            elif kind == "group":
                subject = {"type": "group", "name": ident, "displayName": ident}
            else:
                subject = {"type": "anonymous", "displayName": "Anonymous"}
            for operation in ("read", "administer") if kind == "user" else ("read",):
                grants.append(
                    {
                        "operation": {"targetType": "space", "operationKey": operation},
                        "subject": subject,
                        "spaceKey": key,
                    }
                )
        grants.append(
            {
                "operation": {"targetType": "page", "operationKey": "create"},
                "subject": {"type": "group", "name": "editors"},
                "spaceKey": key,
            }
        )
        self._send(200, grants)

    def _cloud_space_permissions(self, query: dict[str, str], id: str) -> None:
        space = next((s for s in self.state.spaces.values() if str(s.id) == id), None)
        if space is None or not self.state.cloud:
            self._error(404, "space not found")
            return
        items: list[dict[str, Any]] = []
        for kind, ident in space.readers:
            principal_id = self.state.groups[ident].id if kind == "group" else ident
            principal = {
                "type": "role" if kind == "anonymous" else kind,
                "id": principal_id or "anonymous-role",
            }
            items.append(
                {
                    "id": str(len(items)),
                    "principal": principal,
                    "operation": {"key": "read", "targetType": "space"},
                }
            )
            items.append(
                {
                    "id": str(len(items)),
                    "principal": principal,
                    "operation": {"key": "create", "targetType": "page"},
                }
            )
        start, limit = _page_window(query, True, self.state.max_limit)
        chunk = items[start : start + limit]
        links: dict[str, Any] = {"base": f"http://{self.headers.get('Host')}/wiki"}
        if start + limit < len(items):
            cursor = base64.urlsafe_b64encode(f"start:{start + limit}".encode()).decode()
            links["next"] = (
                f"/wiki/api/v2/spaces/{id}/permissions?{urlencode({'cursor': cursor, 'limit': limit})}"
            )
        headers = {"Link": f'<{links["next"]}>; rel="next"'} if "next" in links else {}
        self._send(200, {"results": chunk, "_links": links}, headers)

    # -- groups and users -------------------------------------------------------------------------------
    def _group_by_id(self, query: dict[str, str]) -> None:
        group = next((g for g in self.state.groups.values() if g.id == query.get("id")), None)
        if group is None:
            self._error(404, "group not found")
            return
        self._send(200, {"type": "group", "name": group.name, "id": group.id})

    def _members_by_id(self, query: dict[str, str], id: str) -> None:
        group = next((g for g in self.state.groups.values() if g.id == id), None)
        if group is None or not self.state.cloud:
            self._error(404, "group not found")
            return
        self._listing(
            f"/rest/api/group/{id}/membersByGroupId", query, [self._person(m) for m in group.members]
        )

    def _members_by_name(self, query: dict[str, str], name: str) -> None:
        group = self.state.groups.get(name)
        if group is None or self.state.cloud:
            self._error(404, "group not found")
            return
        self._listing(
            f"/rest/api/group/{quote(name)}/member", query, [self._person(m) for m in group.members]
        )

    def _user(self, query: dict[str, str]) -> None:
        state = self.state
        if state.cloud:
            ident = query.get("accountId")
        elif query.get("key"):
            ident = query["key"]
        else:
            ident = next((u.ident for u in state.users.values() if u.username == query.get("username")), None)
        if not ident or ident not in state.users:
            self._error(404, "user not found")
            return
        self._send(200, self._person(ident, details="details.personal" in (query.get("expand") or "")))


def _split_and(cql: str) -> list[str]:
    parts, depth, current = [], 0, ""
    tokens = re.split(r"(\(|\)|\sAND\s)", cql)
    for token in tokens:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token.strip() == "AND" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    return [part for part in parts if part.strip()]


@contextmanager
def fake_confluence(state: FakeConfluenceState) -> Iterator[str]:
    """The site's address while the block runs: ``http://127.0.0.1:PORT/wiki`` or ``.../confluence``."""
    with serving(_Handler, state, poll_interval=0.02) as url:
        yield url + state.context

"""A local server that speaks Notion's REST API (version 2025-09-03), for the real ``notion_client``.

What it implements, each from Notion's API reference (developers.notion.com/reference):

* ``POST /v1/search`` ("Search by title"): ``filter`` ``{"property": "object", "value": "page" |
  "data_source"}`` (2025-09-03 replaced ``"database"`` with ``"data_source"``), most recently edited first,
  objects in the trash left out.
* ``GET /v1/pages/{page_id}`` ("Retrieve a page"): the page object with ``in_trash`` / ``archived``,
  ``url``, ``last_edited_time``, ``parent`` and ``properties`` (a database row's parent is
  ``{"type": "data_source_id", ...}`` since 2025-09-03).
* ``GET /v1/blocks/{block_id}/children`` ("Retrieve block children"): one level of block objects with
  ``has_children``; ``start_cursor`` and ``page_size`` as query parameters.
* ``GET /v1/databases/{database_id}`` ("Retrieve a database"): the database with its ``data_sources``.
* ``POST /v1/data_sources/{data_source_id}/query`` ("Query a data source"): the rows (pages).
* Pagination ("Pagination" in the API intro): every list answers ``{"object": "list", "results": [...],
  "next_cursor": ..., "has_more": ...}`` and may hold fewer results than ``page_size`` asked
  (``page_limit`` forces that here).
* Errors ("Status codes"): ``{"object": "error", "status": ..., "code": ..., "message": ...}`` with 400
  ``missing_version`` / ``validation_error``, 401 ``unauthorized`` (a bad or revoked token), 404
  ``object_not_found``, 429 ``rate_limited`` with a ``Retry-After`` header ("Request limits"), 500
  ``internal_server_error``.

Tests build a workspace with :meth:`FakeNotionState.add_page` / :meth:`add_database` and the block
builders below, change it between syncs (:meth:`edit`, :meth:`trash`, :meth:`delete`) and read
``requests`` to see what the client sent.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback_server import StatefulServer, serving

NOTION_VERSION = "2025-09-03"
_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def rich(text: str) -> list[dict[str, Any]]:
    """A rich-text array of one text object, annotated the way the API returns it."""
    if not text:
        return []
    return [
        {
            "type": "text",
            "text": {"content": text, "link": None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": text,
            "href": None,
        }
    ]


# Block builders: block objects without their ids, with nested blocks under "children" -------------------


def block(kind: str, body: dict[str, Any], children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": kind, kind: body, "children": list(children or [])}


def paragraph(text: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return block("paragraph", {"rich_text": rich(text), "color": "default"}, children)


def heading(level: int, text: str) -> dict[str, Any]:
    return block(f"heading_{level}", {"rich_text": rich(text), "is_toggleable": False, "color": "default"})


def bullet(text: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return block("bulleted_list_item", {"rich_text": rich(text), "color": "default"}, children)


def numbered(text: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return block("numbered_list_item", {"rich_text": rich(text), "color": "default"}, children)


def to_do(text: str, checked: bool) -> dict[str, Any]:
    return block("to_do", {"rich_text": rich(text), "checked": checked, "color": "default"})


def quote(text: str) -> dict[str, Any]:
    return block("quote", {"rich_text": rich(text), "color": "default"})


def callout(text: str, emoji: str) -> dict[str, Any]:
    return block(
        "callout",
        {"rich_text": rich(text), "icon": {"type": "emoji", "emoji": emoji}, "color": "gray_background"},
    )


def code(text: str, language: str) -> dict[str, Any]:
    return block("code", {"rich_text": rich(text), "caption": [], "language": language})


def table(rows: list[list[str]], *, header: bool) -> dict[str, Any]:
    """A ``table`` block; its rows are ``table_row`` children, as the API returns them."""
    width = max(len(row) for row in rows)
    cells = [block("table_row", {"cells": [rich(cell) for cell in row]}) for row in rows]
    return block("table", {"table_width": width, "has_column_header": header, "has_row_header": False}, cells)


@dataclass
class FakeNotionState:
    token: str = "ntn_fake_integration_secret_0001"
    #: The most results one list answer holds, whatever ``page_size`` asked (forces pagination).
    page_limit: int = 100
    #: Answer the next N requests with 429 rate_limited and this Retry-After (seconds).
    rate_limited: int = 0
    retry_after: str = "1"
    #: Answer the next N requests with 500 internal_server_error.
    server_errors: int = 0
    #: Ids that search does not return (Notion: search is not guaranteed to be exhaustive).
    search_misses: set[str] = field(default_factory=set)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    databases: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: parent id (page or block) -> its child block objects, in order.
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Ids deleted for good (or unshared): every endpoint answers 404 for them.
    gone: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    clock: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Building the workspace -----------------------------------------------------------------------------

    def now(self) -> str:
        self.clock += 1
        return (_START + timedelta(minutes=self.clock)).strftime("%Y-%m-%dT%H:%M:00.000Z")

    def add_page(
        self,
        title: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        parent: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> str:
        """A page at the top level, under ``parent`` (a page id), or as a row of ``parent`` (a data
        source id) with ``properties`` (property values by name); returns its id."""
        page_id = str(uuid.uuid4())
        when = self.now()
        if parent in self.data_sources:
            source = self.data_sources[parent]
            parent_obj = {
                "type": "data_source_id",
                "data_source_id": parent,
                "database_id": source["database_id"],
            }
            title_name = source["title_property"]
            source["rows"].append(page_id)
        elif parent:
            parent_obj = {"type": "page_id", "page_id": parent}
            title_name = "title"
            self._append(parent, [{"type": "child_page", "child_page": {"title": title}, "id": page_id}])
        else:
            parent_obj = {"type": "workspace", "workspace": True}
            title_name = "title"
        self.pages[page_id] = {
            "id": page_id,
            "title": title,
            "title_property": title_name,
            "parent": parent_obj,
            "created_time": when,
            "last_edited_time": when,
            "in_trash": False,
            "properties": dict(properties or {}),
        }
        self.children[page_id] = []
        self._append(page_id, blocks or [])
        return page_id

    def add_database(self, title: str, *, parent: str, title_property: str = "Name") -> str:
        """A database under the page ``parent`` with one data source; returns the data source's id."""
        database_id, source_id = str(uuid.uuid4()), str(uuid.uuid4())
        when = self.now()
        self.databases[database_id] = {
            "id": database_id,
            "title": title,
            "parent": parent,
            "sources": [source_id],
        }
        self.data_sources[source_id] = {
            "id": source_id,
            "title": title,
            "database_id": database_id,
            "parent_page": parent,
            "title_property": title_property,
            "rows": [],
            "created_time": when,
            "last_edited_time": when,
            "in_trash": False,
        }
        self._append(
            parent, [{"type": "child_database", "child_database": {"title": title}, "id": database_id}]
        )
        return source_id

    def _append(self, parent_id: str, blocks: list[dict[str, Any]]) -> None:
        for spec in blocks:
            spec = dict(spec)
            nested = spec.pop("children", None) or []
            block_id = spec.pop("id", None) or str(uuid.uuid4())
            when = self.now()
            self.children.setdefault(parent_id, []).append(
                {
                    "object": "block",
                    "id": block_id,
                    "parent": {
                        "type": "page_id" if parent_id in self.pages else "block_id",
                        ("page_id" if parent_id in self.pages else "block_id"): parent_id,
                    },
                    "created_time": when,
                    "last_edited_time": when,
                    "has_children": bool(nested) or spec["type"] in ("child_page", "child_database"),
                    "archived": False,
                    "in_trash": False,
                    **spec,
                }
            )
            if nested:
                self._append(block_id, nested)

    def edit(self, page_id: str, blocks: list[dict[str, Any]]) -> None:
        """Replace a page's content, as an editor would; its ``last_edited_time`` moves on."""
        self.children[page_id] = [
            b for b in self.children[page_id] if b["type"] in ("child_page", "child_database")
        ]
        self._append(page_id, blocks)
        self.pages[page_id]["last_edited_time"] = self.now()

    def trash(self, page_id: str) -> None:
        """Move a page to the trash: retrievable with ``in_trash: true``, gone from search and queries."""
        self.pages[page_id]["in_trash"] = True
        self.pages[page_id]["last_edited_time"] = self.now()

    def delete(self, object_id: str) -> None:
        """Delete for good (or unshare): 404 object_not_found everywhere."""
        self.gone.add(object_id)

    # Objects as the API returns them ----------------------------------------------------------------------

    def page_object(self, page_id: str) -> dict[str, Any]:
        page = self.pages[page_id]
        properties = {
            page["title_property"]: {"id": "title", "type": "title", "title": rich(page["title"])},
            **page["properties"],
        }
        slug = re.sub(r"[^A-Za-z0-9]+", "-", page["title"]).strip("-")
        return {
            "object": "page",
            "id": page_id,
            "created_time": page["created_time"],
            "last_edited_time": page["last_edited_time"],
            "created_by": {"object": "user", "id": "u-creator"},
            "last_edited_by": {"object": "user", "id": "u-editor"},
            "cover": None,
            "icon": None,
            "parent": page["parent"],
            "archived": page["in_trash"],
            "in_trash": page["in_trash"],
            "properties": properties,
            "url": f"https://www.notion.so/{slug}-{page_id.replace('-', '')}",
            "public_url": None,
        }

    def data_source_object(self, source_id: str) -> dict[str, Any]:
        source = self.data_sources[source_id]
        return {
            "object": "data_source",
            "id": source_id,
            "created_time": source["created_time"],
            "last_edited_time": source["last_edited_time"],
            "title": rich(source["title"]),
            "description": [],
            "properties": {
                source["title_property"]: {
                    "id": "title",
                    "name": source["title_property"],
                    "type": "title",
                    "title": {},
                }
            },
            "parent": {"type": "database_id", "database_id": source["database_id"]},
            "database_parent": {"type": "page_id", "page_id": source["parent_page"]},
            "archived": source["in_trash"],
            "in_trash": source["in_trash"],
        }

    def database_object(self, database_id: str) -> dict[str, Any]:
        database = self.databases[database_id]
        return {
            "object": "database",
            "id": database_id,
            "title": rich(database["title"]),
            "parent": {"type": "page_id", "page_id": database["parent"]},
            "is_inline": True,
            "in_trash": False,
            "data_sources": [
                {"id": sid, "name": self.data_sources[sid]["title"]} for sid in database["sources"]
            ],
        }

    def reset(self) -> None:
        """Back to an empty workspace with the default behaviour (one server can serve many tests)."""
        self.__dict__.update(FakeNotionState().__dict__)

    def visible_page(self, page_id: str) -> bool:
        return page_id not in self.gone and not self.pages[page_id]["in_trash"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _page_of(items: list[dict[str, Any]], cursor: str | None, size: Any, limit: int) -> dict[str, Any]:
    """One answer of a paginated list; the cursor is the id of the first result of the next answer."""
    try:
        size = min(int(size or 100), 100)
    except (TypeError, ValueError):
        raise ApiError(400, "validation_error", "page_size should be a number") from None
    start = 0
    if cursor:
        ids = [item["id"] for item in items]
        if cursor not in ids:
            raise ApiError(400, "validation_error", "start_cursor should be a valid cursor")
        start = ids.index(cursor)
    count = max(1, min(size, limit))
    chunk = items[start : start + count]
    more = start + count < len(items)
    return {
        "object": "list",
        "results": chunk,
        "next_cursor": items[start + count]["id"] if more else None,
        "has_more": more,
    }


class _Handler(BaseHTTPRequestHandler):
    server: StatefulServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state: FakeNotionState = self.server.state
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": query,
                    "body": json.loads(raw) if raw else None,
                    "version": self.headers.get("Notion-Version"),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            try:
                status, payload = (
                    200,
                    self._route(state, method, url.path, query, json.loads(raw) if raw else {}),
                )
                headers: dict[str, str] = {}
            except ApiError as error:
                status, headers = error.status, error.headers
                payload = {
                    "object": "error",
                    "status": error.status,
                    "code": error.code,
                    "message": error.message,
                    "request_id": str(uuid.uuid4()),
                }
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _route(
        self, state: FakeNotionState, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        if not self.headers.get("Notion-Version"):
            raise ApiError(400, "missing_version", "Notion-Version header failed validation")
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            raise ApiError(401, "unauthorized", "API token is invalid.")
        if state.rate_limited > 0:
            state.rate_limited -= 1
            raise ApiError(
                429,
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
                {"Retry-After": state.retry_after},
            )
        if state.server_errors > 0:
            state.server_errors -= 1
            raise ApiError(500, "internal_server_error", "Unexpected error occurred.")
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            raise ApiError(400, "invalid_request_url", "Invalid request URL.")
        parts = parts[1:]
        if method == "POST" and parts == ["search"]:
            return self._search(state, body)
        if method == "GET" and len(parts) == 2 and parts[0] == "pages":
            page_id = parts[1]
            if page_id not in state.pages or page_id in state.gone:
                raise _not_found(page_id)
            return state.page_object(page_id)
        if method == "GET" and len(parts) == 3 and parts[0] == "blocks" and parts[2] == "children":
            block_id = parts[1]
            if block_id not in state.children or block_id in state.gone:
                raise _not_found(block_id)
            blocks = [b for b in state.children[block_id] if b["id"] not in state.gone]
            answer = _page_of(blocks, query.get("start_cursor"), query.get("page_size"), state.page_limit)
            return {**answer, "type": "block", "block": {}}
        if method == "GET" and len(parts) == 2 and parts[0] == "databases":
            if parts[1] not in state.databases or parts[1] in state.gone:
                raise _not_found(parts[1])
            return state.database_object(parts[1])
        if method == "POST" and len(parts) == 3 and parts[0] == "data_sources" and parts[2] == "query":
            source_id = parts[1]
            if source_id not in state.data_sources or source_id in state.gone:
                raise _not_found(source_id)
            rows = [
                state.page_object(pid)
                for pid in state.data_sources[source_id]["rows"]
                if state.visible_page(pid)
            ]
            answer = _page_of(rows, body.get("start_cursor"), body.get("page_size"), state.page_limit)
            return {**answer, "type": "page_or_data_source", "page_or_data_source": {}}
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")

    def _search(self, state: FakeNotionState, body: dict[str, Any]) -> dict[str, Any]:
        wanted = (body.get("filter") or {}).get("value")
        if body.get("filter") and (
            body["filter"].get("property") != "object" or wanted not in ("page", "data_source")
        ):
            raise ApiError(
                400,
                "validation_error",
                f'body.filter.value should be "page" or "data_source", instead was {json.dumps(wanted)}.',
            )
        results: list[dict[str, Any]] = []
        if wanted in (None, "page"):
            results += [
                state.page_object(pid)
                for pid in state.pages
                if state.visible_page(pid) and pid not in state.search_misses
            ]
        if wanted in (None, "data_source"):
            results += [
                state.data_source_object(sid)
                for sid, source in state.data_sources.items()
                if sid not in state.gone and not source["in_trash"] and sid not in state.search_misses
            ]
        results.sort(key=lambda item: item["last_edited_time"], reverse=True)  # most recently edited first
        answer = _page_of(results, body.get("start_cursor"), body.get("page_size"), state.page_limit)
        return {**answer, "type": "page_or_data_source", "page_or_data_source": {}}


def _not_found(object_id: str) -> ApiError:
    return ApiError(
        404,
        "object_not_found",
        f"Could not find object with ID: {object_id}. Make sure the relevant pages and databases "
        "are shared with your integration.",
    )


@contextmanager
def fake_notion(state: FakeNotionState | None = None) -> Iterator[tuple[str, FakeNotionState]]:
    """``(base_url, state)`` of a running fake Notion API; ``base_url`` goes to ``Client(base_url=...)``."""
    state = state or FakeNotionState()
    with serving(_Handler, state) as url:
        yield url, state

"""The Notion connector: the pages and databases shared with an internal integration, as Markdown.

Notion's API (version 2025-09-03, the one notion-client 3 speaks) is read with the official Python client:

* ``POST /v1/search`` with ``filter: {"property": "object", "value": "page"}`` lists the pages shared with
  the integration (a page shared with it shares its sub-pages), and with ``"value": "data_source"`` the
  databases' data sources (since 2025-09-03 a database holds one or more data sources, and rows belong to
  a data source); ``start_cursor`` / ``has_more`` / ``next_cursor`` page through both.
* ``POST /v1/data_sources/{id}/query`` lists each data source's rows, which are pages: Notion's search is
  not guaranteed to return every row, so the rows are also listed where they live.
* ``GET /v1/pages/{id}`` then ``GET /v1/blocks/{id}/children`` (recursively for ``has_children``) fetch
  one page's content, rendered by :mod:`pipelines.connectors.notion_markdown`.
* With ``pages=URL,...`` only those pages and what lies under them are listed, by walking down from them
  through their blocks (no search).
* With ``crawl=true`` the listing also walks every page's blocks for ``child_page`` and
  ``child_database`` blocks that search missed (``GET /v1/databases/{id}`` names a child database's data
  sources); it costs at least one request per page per sync, so it is off by default.

A page's ``last_edited_time`` is its version: the engine fetches only pages whose time changed (a time
in the last few minutes is marked as settling, see :func:`_version`). A page in
the trash (``in_trash``/``archived``) or gone (404 ``object_not_found``) is left out of the listing, so the
engine prunes it. Notion's API does not say who a page is shared with, so every reference has
``audience=None``: the audience configured on the connector applies to all of it.

Every failure is a :class:`ConnectorError` with a plain reason and no token in it; rate limits (429) are
retried by the client, honouring ``Retry-After``, before they become one.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from notion_client import Client
from notion_client.client import ClientOptions, RetryOptions
from notion_client.errors import APIResponseError, HTTPResponseError, RequestTimeoutError

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
from pipelines.connectors.notion_markdown import data_source_title, page_markdown, page_title

logger = logging.getLogger(__name__)

#: The most results Notion returns per page of a list (its documented maximum ``page_size``).
PAGE_SIZE = 100
#: Notion's documented average rate limit is three requests per second per integration.
DEFAULT_DELAY = 0.34
#: Deeper block nesting than this is not followed (Notion's own editor rarely nests past a dozen levels).
MAX_BLOCK_DEPTH = 30
#: How long after an edit a page's minute-rounded ``last_edited_time`` may still hide a later edit.
SETTLING_SECONDS = 180
#: Errors that pass on their own: the sync is retried later.
_RETRYABLE_CODES = {
    "rate_limited",
    "internal_server_error",
    "service_unavailable",
    "gateway_timeout",
    "database_connection_unavailable",
    "conflict_error",
}


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


class _Gone(Exception):
    """A page or database the API says no longer exists for this integration (404, or in the trash)."""


@register
class NotionConnector(Connector):
    """Pages and databases shared with a Notion internal integration (see docs/connectors/notion.md)."""

    kind: ClassVar[str] = "notion"
    settings: ClassVar[Mapping[str, str]] = {
        "pages": "only these pages and everything under them (page URLs or ids, comma-separated; "
        "default: every page shared with the integration)",
        "crawl": "also walk every page's blocks for child pages and databases search missed "
        "(true/false, default false; one request per page per sync)",
        "delay": f"seconds between requests (default {DEFAULT_DELAY}: Notion allows about 3 per second)",
        "retries": "retries of a rate-limited (429) or failed (5xx) request, honouring Retry-After "
        "(default 5)",
        "timeout": "seconds to wait for one response (default 60)",
        "base_url": "the API's address (default https://api.notion.com)",
    }
    secret_settings: ClassVar[Mapping[str, str]] = {
        "token": "the internal integration secret (ntn_...) of an integration with 'Read content'",
    }

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: PeopleDirectory | None = None,
    ) -> None:
        super().__init__(config, secrets, people)
        try:
            self.delay = float(self.config.get("delay", DEFAULT_DELAY))
            self.retries = int(self.config.get("retries", 5))
            self.timeout = float(self.config.get("timeout", 60))
        except ValueError as error:
            raise ConnectorError(f"a notion connector setting is not a number: {error}") from None
        if self.delay < 0 or self.retries < 0 or self.timeout <= 0:
            raise ConnectorError("delay and retries must be 0 or more, and timeout more than 0")
        self.crawl = _truthy(self.config.get("crawl"))
        self.roots = [
            _page_id(item) for item in str(self.config.get("pages") or "").split(",") if item.strip()
        ]
        self.base_url = str(self.config.get("base_url") or "https://api.notion.com").rstrip("/")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConnectorError(f"base_url must be an http(s) address, not {self.base_url!r}")
        self._client: Client | None = None
        self._last_request = 0.0

    # The API, one request at a time -----------------------------------------------------------------------

    def _api(self) -> Client:
        if self._client is None:
            token = (self.secrets.get("token") or "").strip()
            if not token:
                raise ConnectorError(
                    "the notion connector has no integration token: set NEEDLE_CONNECTOR_<NAME>_TOKEN "
                    "(in the environment or the secrets file) to the integration's secret from "
                    "notion.so/profile/integrations"
                )
            options = ClientOptions(
                auth=token,
                base_url=self.base_url,
                timeout_ms=int(self.timeout * 1000),
                logger=logging.getLogger(f"{__name__}.client"),
                log_level=logging.ERROR,  # its warnings repeat what the ConnectorError says
                retry=RetryOptions(max_retries=self.retries, max_retry_delay_ms=120_000),
            )
            self._client = Client(options, client=httpx.Client(verify=_tls_context()))
        return self._client

    def _call(self, what: str, request: Callable[..., Any], /, **kwargs: Any) -> dict[str, Any]:
        """One API call, paced by ``delay``, with every failure turned into a :class:`ConnectorError`.

        ``what`` names the call for the reason ("listing pages", "reading page 1f2e…"); a 404 raises
        :class:`_Gone` so callers decide whether a missing object is a deleted document or a failure.
        """
        wait = self._last_request + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            response = request(**kwargs)
        except APIResponseError as error:
            code = str(getattr(error.code, "value", error.code))
            if code == "object_not_found":
                raise _Gone(what) from None
            raise _api_error(what, code, error.status, self.retries) from None
        except HTTPResponseError as error:  # a status with no Notion error body (a proxy's 502, say)
            raise ConnectorError(
                f"Notion answered HTTP {error.status} while {what}", retryable=error.status >= 500
            ) from None
        except RequestTimeoutError:
            raise ConnectorError(
                f"Notion did not answer within {self.timeout:g} s while {what}", retryable=True
            ) from None
        except httpx.HTTPError as error:
            raise ConnectorError(
                f"could not reach Notion at {urlsplit(self.base_url).netloc} while {what} "
                f"({type(error).__name__})",
                retryable=True,
            ) from None
        except json.JSONDecodeError:
            raise ConnectorError(
                f"Notion answered with something that is not JSON while {what}", retryable=True
            ) from None
        finally:
            self._last_request = time.monotonic()
        if not isinstance(response, dict):
            raise ConnectorError(f"Notion answered with an unexpected shape while {what}", retryable=True)
        return response

    def _paginate(self, what: str, request: Callable[..., Any], /, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every result of a paginated list, following ``next_cursor`` while ``has_more`` says so."""
        cursor: str | None = None
        while True:
            body = dict(kwargs, page_size=PAGE_SIZE)
            if cursor:
                body["start_cursor"] = cursor
            response = self._call(what, request, **body)
            results = response.get("results")
            if not isinstance(results, list):
                raise ConnectorError(f"Notion's answer had no results list while {what}", retryable=True)
            yield from (result for result in results if isinstance(result, dict))
            cursor = response.get("next_cursor")
            if not response.get("has_more"):
                return
            if not cursor:
                raise ConnectorError(
                    f"Notion said more results follow but gave no cursor while {what}", retryable=True
                )

    # Listing -----------------------------------------------------------------------------------------------

    def list_documents(self) -> Iterator[DocumentRef]:
        """Every page shared with the integration, database rows included, each once.

        Raises :class:`ConnectorError` on any failure, so a listing cut short never looks complete.
        """
        try:
            pages = self._list_pages()
        except _Gone as gone:  # a list endpoint itself answered 404: nothing here can be trusted
            raise ConnectorError(
                f"Notion answered 404 object_not_found while {gone}", retryable=True
            ) from None
        for page in pages:
            yield self._ref(page)

    def _list_pages(self) -> list[dict[str, Any]]:
        api = self._api()
        seen: set[str] = set()
        pages: list[dict[str, Any]] = []

        def keep(page: dict[str, Any]) -> None:
            if page.get("object") == "page" and page.get("id") and page["id"] not in seen and _live(page):
                seen.add(page["id"])
                pages.append(page)

        done_sources: set[str] = set()
        if self.roots:
            # Only the trees under the chosen pages: read each root, then walk down through the blocks.
            for root in self.roots:
                try:
                    keep(self._call(f"reading the page {root}", api.pages.retrieve, page_id=root))
                except _Gone:
                    raise ConnectorError(
                        f"the page {root} (setting 'pages') does not exist or is not shared with the "
                        "integration: share it, or remove it from 'pages'"
                    ) from None
        else:
            for page in self._paginate(
                "listing the pages shared with the integration",
                api.search,
                filter={"property": "object", "value": "page"},
            ):
                keep(page)
            data_sources = [
                source
                for source in self._paginate(
                    "listing the databases shared with the integration",
                    api.search,
                    filter={"property": "object", "value": "data_source"},
                )
                if source.get("object") == "data_source" and _live(source)
            ]
            while data_sources:
                source = data_sources.pop(0)
                if source["id"] in done_sources:
                    continue
                done_sources.add(source["id"])
                title = data_source_title(source) or source["id"]
                for row in self._rows(source["id"], title):
                    if row.get("object") == "data_source":  # a wiki's nested data source
                        data_sources.append(row)
                    else:
                        keep(row)
        if self.crawl or self.roots:
            queue = list(pages)
            while queue:
                for found in self._children_of(queue.pop(0), done_sources):
                    before = len(pages)
                    keep(found)
                    if len(pages) > before:
                        queue.append(found)
        return pages

    def _rows(self, data_source_id: str, title: str) -> Iterator[dict[str, Any]]:
        api = self._api()
        try:
            yield from self._paginate(
                f"listing the rows of the database {title!r}",
                api.data_sources.query,
                data_source_id=data_source_id,
            )
        except _Gone:
            # Search named it a moment ago: a database deleted or unshared mid-listing. Listing on without
            # it could prune its rows on a glitch, so the sync fails and is retried instead.
            raise ConnectorError(
                f"the database {title!r} disappeared while it was being listed; the sync will be retried",
                retryable=True,
            ) from None

    def _children_of(self, page: dict[str, Any], done_sources: set[str]) -> Iterator[dict[str, Any]]:
        """The child pages and database rows found in one page's blocks (``crawl=true``)."""
        api = self._api()
        try:
            blocks = self._block_tree(page["id"])
        except _Gone:
            return
        for block in _walk(blocks):
            kind = block.get("type")
            if kind == "child_page":
                try:
                    yield self._call(
                        f"reading the sub-page {block['id']}", api.pages.retrieve, page_id=block["id"]
                    )
                except _Gone:
                    continue
            elif kind == "child_database":
                try:
                    database = self._call(
                        f"reading the database {block['id']}", api.databases.retrieve, database_id=block["id"]
                    )
                except _Gone:
                    continue
                for source in database.get("data_sources") or []:
                    if source.get("id") and source["id"] not in done_sources:
                        done_sources.add(source["id"])
                        yield from (
                            row
                            for row in self._rows(source["id"], str(source.get("name") or ""))
                            if row.get("object") == "page"
                        )

    def _ref(self, page: Mapping[str, Any]) -> DocumentRef:
        parent = page.get("parent") or {}
        return DocumentRef(
            id=str(page["id"]),
            title=page_title(page) or "Untitled",
            version=_version(str(page.get("last_edited_time") or "")),
            url=str(page.get("url") or "") or None,
            modified=str(page.get("last_edited_time") or "") or None,
            audience=None,  # Notion's API does not expose sharing: the connector's audience applies
            meta={
                "notion_parent": str(parent.get("type") or ""),
                "notion_data_source": str(parent.get("data_source_id") or ""),
            },
        )

    # Fetching ----------------------------------------------------------------------------------------------

    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        """The page as Markdown; :class:`NotModified` when its ``last_edited_time`` still equals
        ``previous_version`` (one request instead of a walk through its blocks); :class:`Gone` when it
        was moved to the trash, deleted or unshared since the listing."""
        api = self._api()
        what = f"reading the page {ref.title!r}"
        try:
            page = self._call(what, api.pages.retrieve, page_id=ref.id)
            if not _live(page):
                raise _Gone(what)
            current = self._ref(page)
            if previous_version and current.version == previous_version:
                return NotModified(current)
            blocks = self._block_tree(ref.id)
        except _Gone:
            return Gone(ref, "deleted in Notion, in its trash, or no longer shared with the integration")
        text = page_markdown(page, blocks, title=current.title)
        return FetchedDocument(
            ref=current,
            data=text.encode("utf-8"),
            file_name=f"{_file_stem(current.title)}.md",
            media_type="text/markdown",
        )

    def _block_tree(self, block_id: str, depth: int = 0) -> list[dict[str, Any]]:
        """A block's children, each with its own children under ``"children"`` (child pages and child
        databases are separate documents and are not descended into)."""
        api = self._api()
        blocks = list(
            self._paginate(f"reading the blocks of {block_id}", api.blocks.children.list, block_id=block_id)
        )
        for block in blocks:
            kind = block.get("type")
            if not block.get("has_children") or depth >= MAX_BLOCK_DEPTH:
                continue
            if kind in ("child_page", "child_database"):
                continue
            try:
                block["children"] = self._block_tree(str(block["id"]), depth + 1)
            except _Gone:
                block["children"] = []  # deleted while the page was read: the rest of the page stands
        return blocks


def _version(last_edited: str, now: datetime | None = None) -> str:
    """The page's ``last_edited_time``, marked while it is recent.

    Notion rounds ``last_edited_time`` to the minute, so an edit made in the same minute as a sync, after
    it, leaves the time unchanged and would never be fetched. While the time is within
    ``SETTLING_SECONDS`` of now the version carries a mark; the first sync after that sees the plain time
    as a new version and fetches the page once more (unchanged bytes are then skipped by their hash).
    """
    try:
        edited = datetime.fromisoformat(last_edited.replace("Z", "+00:00"))
    except ValueError:
        return last_edited
    now = now or datetime.now(UTC)
    return f"{last_edited}+settling" if (now - edited).total_seconds() < SETTLING_SECONDS else last_edited


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The certificate store httpx would load (certifi's), loaded once per process rather than once per
    connector: building it costs a tenth of a second or more."""
    return httpx.create_ssl_context()


_HEX_ID = re.compile(r"([0-9a-fA-F]{32})(?![0-9a-fA-F])")


def _page_id(text: str) -> str:
    """A page id from an id (with or without dashes) or a page URL (``…/Title-<32 hex digits>?v=…``)."""
    text = text.strip()
    compact = text.replace("-", "") if "/" not in text else text
    match = _HEX_ID.findall(urlsplit(compact).path if "/" in compact else compact)
    if not match:
        raise ConnectorError(f"{text!r} in 'pages' is not a Notion page URL or id")
    return str(uuid.UUID(match[-1]))


def _live(obj: Mapping[str, Any]) -> bool:
    """Not in the trash (2025-09-03 says ``in_trash``; older answers and some objects say ``archived``)."""
    return not obj.get("in_trash") and not obj.get("archived")


def _walk(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        yield block
        yield from _walk(block.get("children") or [])


def _file_stem(title: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in " -_" else " " for ch in title).strip()
    return " ".join(stem.split())[:80] or "notion-page"


def _api_error(what: str, code: str, status: int, retries: int) -> ConnectorError:
    """A Notion error code (https://developers.notion.com/reference/status-codes) in plain words."""
    if code == "unauthorized":
        return ConnectorError(
            f"Notion refused the integration token (401 unauthorized) while {what}: it is invalid, expired "
            "or revoked. Copy the integration's secret again from notion.so/profile/integrations."
        )
    if code == "restricted_resource":
        return ConnectorError(
            f"the integration may not read this content (403 restricted_resource) while {what}: give it "
            "the 'Read content' capability"
        )
    if code == "rate_limited":
        return ConnectorError(
            f"Notion kept rate limiting the integration (429 rate_limited) while {what}, after {retries} "
            "retries that waited as Retry-After asked; the sync will be retried later",
            retryable=True,
        )
    if code in _RETRYABLE_CODES:
        return ConnectorError(
            f"Notion failed ({status} {code}) while {what}; it may pass on its own", retryable=True
        )
    return ConnectorError(f"Notion refused the request ({status} {code}) while {what}")

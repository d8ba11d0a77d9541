"""Confluence's REST API as the Confluence connector needs it: JSON reads, paged listings, downloads.

Requests go through atlassian-python-api's client, which knows Cloud's basic auth (email + API token) and
Data Center's bearer auth (personal access token). Every call asks for the raw response
(``advanced_mode``) so this module alone decides what a status means, the same way on Cloud and Data
Center: 429 (and 503) wait for ``Retry-After`` and try again a few times; 401 and 403 need a person;
5xx and timeouts may pass on their own; 404 means the thing is gone. The client's own retry and its
debug logging of response bodies are switched off, so no page text or credential reaches a log.

Paths are given relative to the site's context (``/rest/api/...``): ``https://x.atlassian.net/wiki`` on
Cloud, ``https://confluence.example.com`` (or ``.../confluence``) on Data Center. A listing follows the
``_links.next`` the server returns, which carries ``start``/``limit`` on Data Center and a ``cursor`` on
Cloud; a next link that leaves the site is refused, so a credential is never sent elsewhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from atlassian import Confluence

from pipelines.connectors.base import ConnectorError

#: atlassian-python-api logs whole response bodies (page text) at DEBUG; Needle never wants that.
logging.getLogger("atlassian").setLevel(logging.WARNING)

#: How many times a 429 or 503 is retried, and the longest single wait honoured (seconds).
MAX_RETRIES = 5
MAX_RETRY_AFTER = 120.0
DEFAULT_RETRY_AFTER = 5.0
#: Items asked for per page of a listing (servers may cap it lower).
PAGE_LIMIT = 50


class NotFound(ConnectorError):
    """The server answered 404: the content, space, group or user does not exist (any more)."""


class Forbidden(ConnectorError):
    """The server answered 403: the connector's account may not read this."""


class TooLarge(ConnectorError):
    """An attachment is larger than the connector accepts."""


def site_base(url: str, cloud: bool) -> str:
    """The site's context URL: Cloud's REST API lives under ``/wiki``; Data Center's under its context."""
    base = url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConnectorError(
            f"url must be the site's address, like https://example.atlassian.net (got {url!r})"
        )
    if cloud and not parts.path.endswith("/wiki"):
        base += "/wiki"
    return base


class ConfluenceApi:
    """One authenticated session on one Confluence site.

    ``sleep`` is how the client waits before a retry (``time.sleep``; tests pass a recorder so a
    ``Retry-After`` is checked without waiting for it).
    """

    def __init__(
        self,
        url: str,
        *,
        cloud: bool,
        email: str | None = None,
        api_token: str | None = None,
        personal_token: str | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cloud = cloud
        self.base = site_base(url, cloud)
        parts = urlsplit(self.base)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.context = parts.path.rstrip("/")
        self.sleep = sleep
        self.requests_made = 0
        if cloud:
            if not email or not api_token:
                raise ConnectorError(
                    "Confluence Cloud needs an account email and an API token "
                    "(CONFLUENCE_EMAIL and CONFLUENCE_API_TOKEN)"
                )
            auth: dict[str, Any] = {"username": email, "password": api_token, "cloud": True}
        else:
            if not personal_token:
                raise ConnectorError(
                    "Confluence Data Center needs a personal access token (CONFLUENCE_TOKEN)"
                )
            auth = {"token": personal_token, "cloud": False}
        self.client = Confluence(
            url=self.base, timeout=timeout, retry_with_header=False, backoff_and_retry=False, **auth
        )

    # -- URLs -------------------------------------------------------------------------------------------
    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL on this site for a context-relative ``path`` (or a server-given link)."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if f"{parts.scheme}://{parts.netloc}" != self.origin:
                raise ConnectorError(f"Confluence returned a link to another site ({parts.netloc}); refused")
            url = path
        elif self.context and (path == self.context or path.startswith(self.context + "/")):
            url = self.origin + path
        else:
            url = self.base + ("" if path.startswith("/") else "/") + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    # -- requests ---------------------------------------------------------------------------------------
    def response(self, path: str, params: Mapping[str, Any] | None = None, *, what: str) -> requests.Response:
        """The successful response to ``GET path``, after any rate-limit waits; a ConnectorError else."""
        url = self.url(path, params)
        for attempt in range(MAX_RETRIES + 1):
            self.requests_made += 1
            try:
                response = self.client.get(url, absolute=True, advanced_mode=True, not_json_response=True)
            except requests.Timeout:
                raise ConnectorError(
                    f"Confluence did not answer in time while reading {what}", retryable=True
                ) from None
            except requests.RequestException as error:
                reason = type(error).__name__
                raise ConnectorError(
                    f"could not reach Confluence while reading {what} ({reason})", retryable=True
                ) from None
            status = response.status_code
            if status < 400:
                return response
            if status in (429, 503) and attempt < MAX_RETRIES:
                self.sleep(_retry_after(response.headers.get("Retry-After")))
                continue
            raise _status_error(status, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, path: str, params: Mapping[str, Any] | None = None, *, what: str) -> Any:
        response = self.response(path, params, what=what)
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"Confluence answered {what} with something that is not JSON", retryable=True
            ) from None

    def paged(
        self, path: str, params: Mapping[str, Any] | None = None, *, what: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing, following ``_links.next`` until the server gives none.

        The first request carries ``start=0`` and ``limit`` (Data Center pages by ``start``; Cloud puts a
        ``cursor`` in the next link, which is followed as given)."""
        query = {"limit": PAGE_LIMIT, **dict(params or {})}
        if "cursor" not in query and not path.startswith("/api/v2/"):
            query.setdefault("start", 0)
        link: str | None = self.url(path, query)
        seen: set[str] = set()
        while link:
            if link in seen:
                raise ConnectorError(
                    f"Confluence's listing of {what} repeats a page; stopped", retryable=True
                )
            seen.add(link)
            body = self.json(link, what=what)
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise ConnectorError(f"Confluence's listing of {what} has no results list", retryable=True)
            yield from (item for item in body["results"] if isinstance(item, dict))
            following = (body.get("_links") or {}).get("next")
            link = self.url(following) if following else None

    def download(self, path: str, *, what: str, max_bytes: int) -> bytes:
        """An attachment's bytes; a ConnectorError when it is larger than ``max_bytes``."""
        response = self.response(path, what=what)
        data = response.content
        if len(data) > max_bytes:
            raise TooLarge(f"{what} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        return data


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (Atlassian sends whole seconds), capped."""
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _status_error(status: int, what: str) -> ConnectorError:
    if status == 401:
        return ConnectorError(
            "Confluence refused the credential (401 Unauthorized): the API token or personal access token "
            "is wrong, revoked or expired; create a new one and update the secret"
        )
    if status == 403:
        return Forbidden(
            f"Confluence's account may not read {what} (403 Forbidden); give it the permissions listed in "
            "docs/connectors/confluence.md"
        )
    if status == 404:
        return NotFound(f"{what} is not in Confluence (404 Not Found): deleted, moved, or never there")
    if status == 429 or status >= 500:
        return ConnectorError(
            f"Confluence answered {status} while reading {what}, after {MAX_RETRIES} retries", retryable=True
        )
    return ConnectorError(f"Confluence answered {status} while reading {what}")

"""The web connector: a site under a URL prefix (or a sitemap), each page one source cited by its URL.

A re-sync must not download what has not changed, so the crawl remembers, per URL, the validators the
site gave (ETag, Last-Modified), the page's links and the reference it listed (its *state*, kept by the
sync engine between syncs). The next crawl asks each page conditionally: a 304 lists the remembered
reference (same version: the engine fetches nothing) and follows the remembered links; a 200 is a new or
changed page, whose body the crawl keeps so that :meth:`WebConnector.fetch` does not download it again.

Pages the crawl no longer reaches (unlinked, gone from the sitemap, newly disallowed by robots.txt) are
simply not listed, so the engine prunes them at that sync. A page the crawl still reaches but that
answers 404 or 410 is listed once more (``meta["missing"] == 1``) and dropped the second time, so a page
that is briefly missing during a deployment is not removed and re-indexed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pipelines.connectors import base
from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
    register,
)
from pipelines.connectors.web_http import PoliteClient, Reply
from pipelines.connectors.web_pages import (
    FILE_TYPES,
    PAGE_TYPES,
    Sitemap,
    directory_of,
    file_name_for,
    media_type_of,
    normalize_url,
    read_page,
    read_sitemap,
    worth_requesting,
)

log = logging.getLogger(__name__)

DEFAULT_DEPTH = 10
DEFAULT_MAX_PAGES = 5000
#: How many syncs in a row a page reached by the crawl may answer 404/410 before it is dropped.
GONE_SYNCS = 2
#: Bodies of new or changed pages kept between listing and fetching; past this, fetch downloads again.
MAX_KEPT_BYTES = 256 * 1024 * 1024
#: Sitemap indexes may nest; a deeper chain is a mistake or a trap.
MAX_SITEMAP_FILES = 200
CURSOR_FORMAT = 1


@register
class WebConnector(Connector):
    """Crawls one site within a URL prefix, politely, and lists each page (or PDF, DOCX...) it finds."""

    kind: ClassVar[str] = "web"
    default_interval: ClassVar[int] = 24 * 3600
    settings: ClassVar[Mapping[str, str]] = {
        "url": "the start URL of the crawl (https://intranet.example.com/handbook/)",
        "sitemap": "a sitemap's URL (XML, sitemap index, gzipped or plain text) whose pages are crawled too",
        "prefix": "only URLs starting with this are crawled (default: the start URL's directory)",
        "depth": f"how many links away from the start URL or the sitemap to go (default {DEFAULT_DEPTH})",
        "max_pages": f"at most this many documents (default {DEFAULT_MAX_PAGES})",
        "delay": "seconds between two requests to one host (default 0; a longer robots.txt Crawl-delay wins)",
    }
    #: A page the crawl stops reaching is gone at that sync; 404s are counted by the connector itself.
    missing_syncs_before_removal: ClassVar[int] = 1

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: base.PeopleDirectory | None = None,
    ) -> None:
        super().__init__(config, secrets, people)
        self.start_url, self.sitemap_url, self.prefix = _locations(self.config)
        self.depth = _number(self.config, "depth", DEFAULT_DEPTH, int, minimum=0)
        self.max_pages = _number(self.config, "max_pages", DEFAULT_MAX_PAGES, int, minimum=1)
        self.delay = _number(self.config, "delay", 0.0, float, minimum=0.0)
        self.client = PoliteClient(in_scope=self.in_scope, delay=self.delay)
        self._previous: dict[str, Any] = {}
        self._cursor: dict[str, Any] | None = None
        self._kept: dict[str, tuple[bytes, str, str]] = {}
        self._kept_bytes = 0
        self._listed: dict[str, DocumentRef] | None = None
        #: URLs the last crawl did not take, with why (robots.txt, redirects out, too large...).
        self.skipped: dict[str, str] = {}
        #: True when the last crawl stopped at ``max_pages``.
        self.truncated = False

    def in_scope(self, url: str) -> bool:
        return url.startswith(self.prefix)

    # the state kept between syncs ----------------------------------------------------------------------
    def restore_state(self, state: Mapping[str, Any] | None) -> None:
        """Take back what :attr:`state` gave after the last complete listing (another prefix's is ignored)."""
        if state and state.get("format") == CURSOR_FORMAT and state.get("prefix") == self.prefix:
            self._previous = dict(state)
        else:
            self._previous = {}

    @property
    def state(self) -> dict[str, Any] | None:
        """What the next crawl needs (validators, links and references per URL) once a listing completed;
        ``None`` before. JSON-able; the engine keeps it after a complete listing."""
        return self._cursor

    # listing --------------------------------------------------------------------------------------------
    def list_documents(self) -> Iterator[DocumentRef]:
        """Every page and file the crawl reaches, as it reaches them. Raises :class:`ConnectorError` when the
        start URL or sitemap cannot be read, or a request still fails after its retries."""
        self._kept.clear()
        self._kept_bytes = 0
        self.skipped = {}
        self.truncated = False
        self._cursor = None
        listed: dict[str, DocumentRef] = {}
        old_pages: dict[str, dict[str, Any]] = self._previous.get("pages", {})
        pages: dict[str, dict[str, Any]] = {}
        sitemaps: dict[str, dict[str, Any]] = {}
        queue: deque[tuple[str, int]] = deque()
        queued: set[str] = set()
        done: set[str] = set()

        def enqueue(url: str, depth: int) -> None:
            if url not in queued and self.in_scope(url) and worth_requesting(url):
                queued.add(url)
                queue.append((url, depth))

        if self.start_url:
            enqueue(self.start_url, 0)
        if self.sitemap_url:
            for url in self._sitemap_pages(sitemaps):
                enqueue(url, 0)
        while queue:
            if len(listed) >= self.max_pages:
                self.truncated = True
                log.warning("web: %s stopped at max_pages=%d", self.prefix, self.max_pages)
                break
            url, depth = queue.popleft()
            if url in done:
                continue
            reply = self.client.get(url, conditional=lambda u: _validators(old_pages.get(u)))
            done.add(url)
            if reply.skipped:
                self.skipped[url] = reply.skipped
                self._check_start(url, reply)
                continue
            final = reply.url
            if final != url:
                if final in done:
                    continue
                done.add(final)
            entry, links = self._visit(final, reply, old_pages.get(final), listed)
            if entry is None:
                self._check_start(url, reply)
                continue
            pages[final] = entry
            ref = _ref_of(entry)
            if ref is not None and ref.id not in listed:
                listed[ref.id] = ref
                done.add(ref.id)
                yield ref
            if depth < self.depth:
                for link in links:
                    enqueue(link, depth + 1)
        self._listed = listed
        self._cursor = {"format": CURSOR_FORMAT, "prefix": self.prefix, "pages": pages, "sitemaps": sitemaps}

    def current_ids(self) -> set[str]:
        """The ids of this sync's listing when there was one (a second crawl would cost the site twice)."""
        if self._listed is not None:
            return set(self._listed)
        return {ref.id for ref in self.list_documents()}

    def _check_start(self, url: str, reply: Reply) -> None:
        """The start URL must give a page: otherwise the listing would look like an empty site."""
        if url != self.start_url:
            return
        why = reply.skipped or f"it answered {reply.status}"
        raise ConnectorError(
            f"the start URL {url} cannot be crawled: {why}; check --set url=...",
            retryable=reply.status >= 500,
        )

    def _visit(
        self, url: str, reply: Reply, old: dict[str, Any] | None, listed: Mapping[str, DocumentRef]
    ) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        """The cursor entry for ``url`` after this reply, and the links to follow from it."""
        if reply.status == 304 and old is not None:
            entry = {**old, "missing": 0}
            return entry, tuple(old.get("links", ()))
        if reply.status == 200:
            return self._read(url, reply, listed)
        if reply.status in (404, 410) and old is not None and old.get("ref"):
            missing = int(old.get("missing", 0)) + 1
            if missing < GONE_SYNCS:
                log.info("web: %s answered %d; kept until it is missing again", url, reply.status)
                return {**old, "missing": missing}, tuple(old.get("links", ()))
            log.info("web: %s answered %d again; it is dropped", url, reply.status)
        self.skipped[url] = f"it answered {reply.status}"
        return None, ()

    def _read(
        self, url: str, reply: Reply, listed: Mapping[str, DocumentRef]
    ) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        media_type = media_type_of(reply.headers.get("content-type"))
        if media_type not in PAGE_TYPES and media_type not in FILE_TYPES:
            self.skipped[url] = f"its type {media_type or 'unknown'} is not one Needle reads"
            return None, ()
        entry: dict[str, Any] = {
            "etag": reply.headers.get("etag"),
            "modified": reply.headers.get("last-modified"),
            "links": [],
            "ref": None,
            "missing": 0,
        }
        title = _file_title(url)
        doc_id = url
        links: tuple[str, ...] = ()
        if media_type in PAGE_TYPES:
            page = read_page(reply.body, url, _charset(reply.headers.get("content-type")))
            title = page.title or url
            if page.canonical and page.canonical != url and self.in_scope(page.canonical):
                doc_id = page.canonical
            links = () if page.nofollow else page.links
            entry["links"] = list(links)
            if page.noindex:
                self.skipped[url] = "its robots meta tag says noindex"
                return entry, links
        if doc_id in listed:
            return entry, links  # another URL of a page already listed (its canonical says so)
        version = _version(entry, reply.body)
        entry["ref"] = {
            "id": doc_id,
            "title": title,
            "version": version,
            "url": doc_id,
            "modified": _iso(entry["modified"]),
            "fetched_url": url,
            "file_name": file_name_for(url, media_type),
            "media_type": media_type,
        }
        self._keep(doc_id, reply.body, entry["ref"]["file_name"], media_type)
        return entry, links

    def _keep(self, doc_id: str, body: bytes, file_name: str, media_type: str) -> None:
        if self._kept_bytes + len(body) <= MAX_KEPT_BYTES:
            self._kept[doc_id] = (body, file_name, media_type)
            self._kept_bytes += len(body)

    def _sitemap_pages(self, sitemaps: dict[str, dict[str, Any]]) -> list[str]:
        """The pages the sitemap (and the sitemaps it indexes) lists, asked conditionally like pages."""
        old: dict[str, dict[str, Any]] = self._previous.get("sitemaps", {})
        pending = [self.sitemap_url] if self.sitemap_url else []
        found: dict[str, None] = {}
        while pending and len(sitemaps) < MAX_SITEMAP_FILES:
            url = pending.pop(0)
            if url in sitemaps:
                continue
            reply = self.client.get(url, conditional=lambda u: _validators(old.get(u)))
            previous = old.get(reply.url) if reply.status == 304 else None
            if previous is not None:
                sitemap = Sitemap(tuple(previous.get("pages", ())), tuple(previous.get("sitemaps", ())))
            elif reply.status == 200:
                try:
                    sitemap = read_sitemap(reply.body, reply.url)
                except ValueError as error:
                    raise ConnectorError(f"the sitemap {url} cannot be read: {error}") from None
            else:
                why = reply.skipped or f"it answered {reply.status}"
                raise ConnectorError(
                    f"the sitemap {url} cannot be read: {why}", retryable=reply.status >= 500
                )
            sitemaps[reply.url] = {
                "etag": reply.headers.get("etag") if previous is None else previous.get("etag"),
                "modified": reply.headers.get("last-modified")
                if previous is None
                else previous.get("modified"),
                "pages": list(sitemap.pages),
                "sitemaps": list(sitemap.sitemaps),
            }
            found.update(dict.fromkeys(sitemap.pages))
            pending.extend(child for child in sitemap.sitemaps if child not in sitemaps)
        return list(found)

    # fetching -------------------------------------------------------------------------------------------
    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        """The page's bytes: those the listing downloaded, or a conditional GET when it kept none (a
        retry, a body over the keeping limit); ``Gone`` when the page answers 404 or 410."""
        kept = self._take(ref.id)
        if kept is not None:
            data, file_name, media_type = kept
            return FetchedDocument(ref=ref, data=data, file_name=file_name, media_type=media_type)
        url = str(ref.meta.get("fetched_url") or ref.url or ref.id)
        validators = _validators_of_version(previous_version)
        reply = self.client.get(url, conditional=lambda u: validators if u == url else {})
        if reply.skipped:
            raise ConnectorError(f"{url} was not fetched: {reply.skipped}", document_id=ref.id)
        if reply.status == 304 and validators:
            return NotModified(ref)
        if reply.status in (404, 410):
            return Gone(ref, reason=f"{url} answered {reply.status}")
        if reply.status != 200:
            raise ConnectorError(
                f"{url} answered {reply.status}", document_id=ref.id, retryable=reply.status >= 500
            )
        entry, _links = self._read(reply.url, reply, {})
        fresh = _ref_of(entry) if entry else None
        if fresh is None:
            raise ConnectorError(
                f"{url} is no longer a document: {self.skipped.get(reply.url)}", document_id=ref.id
            )
        self._take(fresh.id)
        return FetchedDocument(
            ref=replace(fresh, id=ref.id),
            data=reply.body,
            file_name=str(fresh.meta["file_name"]),
            media_type=str(fresh.meta["media_type"]),
        )

    def _take(self, doc_id: str) -> tuple[bytes, str, str] | None:
        kept = self._kept.pop(doc_id, None)
        if kept is not None:
            self._kept_bytes -= len(kept[0])
        return kept


# helpers ------------------------------------------------------------------------------------------------
def _locations(config: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    raw_url = (config.get("url") or "").strip()
    raw_sitemap = (config.get("sitemap") or "").strip()
    if not raw_url and not raw_sitemap:
        raise ConnectorError("web connectors need --set url=START_URL (or --set sitemap=SITEMAP_URL)")
    start = normalize_url(raw_url) if raw_url else None
    if raw_url and start is None:
        raise ConnectorError(f"url={raw_url!r} is not an http(s) address")
    sitemap = normalize_url(raw_sitemap) if raw_sitemap else None
    if raw_sitemap and sitemap is None:
        raise ConnectorError(f"sitemap={raw_sitemap!r} is not an http(s) address")
    raw_prefix = (config.get("prefix") or "").strip()
    if raw_prefix:
        prefix = normalize_url(raw_prefix)
        if prefix is None:
            raise ConnectorError(f"prefix={raw_prefix!r} is not an http(s) address")
        if raw_prefix.endswith("/") and not prefix.endswith("/"):
            prefix += "/"
    else:
        prefix = directory_of(start or sitemap or "")
    if start and not start.startswith(prefix):
        raise ConnectorError(f"the start URL {start} is outside prefix={prefix}")
    return start, sitemap, prefix


def _number(config: Mapping[str, str], key: str, default: Any, kind: type, minimum: Any) -> Any:
    raw = str(config.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConnectorError(f"{key}={raw!r} is not a {'whole ' if kind is int else ''}number") from None
    if value < minimum:
        raise ConnectorError(f"{key}={raw!r} must be at least {minimum}")
    return value


def _version(entry: Mapping[str, Any], body: bytes) -> str:
    """What identifies this version of the page: its validators, or its bytes' digest when it has none
    (then every sync downloads it, and only a real change re-indexes it)."""
    validators = {key: entry[key] for key in ("etag", "modified") if entry.get(key)}
    if not validators:
        validators = {"sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(validators, sort_keys=True, separators=(",", ":"))


def _validators_of_version(version: str | None) -> dict[str, str]:
    if not version:
        return {}
    try:
        parsed = json.loads(version)
    except ValueError:
        return {}
    return _validators(parsed if isinstance(parsed, dict) else None)


def _validators(entry: Mapping[str, Any] | None) -> dict[str, str]:
    """The conditional-request headers for a URL the last crawl saw (none for a URL it did not)."""
    headers: dict[str, str] = {}
    if entry:
        if entry.get("etag"):
            headers["If-None-Match"] = str(entry["etag"])
        if entry.get("modified"):
            headers["If-Modified-Since"] = str(entry["modified"])
    return headers


def _ref_of(entry: Mapping[str, Any]) -> DocumentRef | None:
    ref = entry.get("ref")
    if not ref:
        return None
    meta: dict[str, Any] = {
        "fetched_url": ref["fetched_url"],
        "file_name": ref["file_name"],
        "media_type": ref["media_type"],
    }
    if entry.get("missing"):
        meta["missing"] = entry["missing"]
    return DocumentRef(
        id=ref["id"],
        title=ref["title"],
        version=ref["version"],
        url=ref["url"],
        modified=ref.get("modified"),
        meta=meta,
    )


def _file_title(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return name or url


def _iso(http_date: str | None) -> str | None:
    if not http_date:
        return None
    try:
        return parsedate_to_datetime(http_date).isoformat()
    except (TypeError, ValueError):
        return None


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None

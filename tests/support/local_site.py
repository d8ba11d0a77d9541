"""A real local web site for the web connector's tests and benchmark: a threaded HTTP server over pages
held in memory, that speaks HTTP as a web server does (ETag and Last-Modified validators, 304 on
If-None-Match / If-Modified-Since, redirects, 404 and 410, robots.txt, sitemaps) and can misbehave on
demand (429 or 5xx with Retry-After, slow answers).

Every request is logged with its status and whether it was conditional, so a test can say exactly what
the crawler downloaded. Last-Modified dates come from a site clock that moves one second per change, so
two versions of a page never share a date (HTTP dates have one-second resolution).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.loopback_server import StatefulServer

HTML = "text/html; charset=utf-8"


@dataclass
class Resource:
    body: bytes
    content_type: str
    modified: float
    etag: str


@dataclass
class Hit:
    """One request the site answered."""

    path: str
    status: int
    conditional: bool
    user_agent: str


@dataclass
class Fault:
    """Answer ``status`` (with ``headers``) to the next ``times`` requests for a path, or sleep first."""

    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0


class LocalSite:
    """The site's content and behaviour; :meth:`serve` puts it on a loopback port."""

    def __init__(self, *, etags: bool = True, last_modified: bool = True) -> None:
        self.etags = etags
        self.last_modified = last_modified
        self.resources: dict[str, Resource] = {}
        self.redirects: dict[str, tuple[int, str]] = {}
        self.gone: set[str] = set()
        self.faults: dict[str, Fault] = {}
        self.robots: str | None = None
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self._clock = 1_780_000_000.0  # a fixed date in 2026: reproducible Last-Modified headers
        self.base = ""

    # content -------------------------------------------------------------------------------------------
    def put(self, path: str, body: bytes | str, content_type: str = HTML) -> None:
        """Create or change a resource; its ETag and Last-Modified change with it."""
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            self._clock += 1
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            self.resources[path] = Resource(data, content_type, self._clock, etag)
            self.gone.discard(path)

    def page(self, path: str, title: str, text: str, links: Iterable[str] = (), head: str = "") -> None:
        """An HTML page with a title, a paragraph of text and links (hrefs as written)."""
        anchors = "".join(f'<li><a href="{escape(href)}">{escape(href)}</a></li>' for href in links)
        self.put(
            path,
            f"<!doctype html><html><head><title>{escape(title)}</title>{head}</head><body>"
            f"<nav><ul>{anchors}</ul></nav><main><h1>{escape(title)}</h1><p>{escape(text)}</p></main>"
            "</body></html>",
        )

    def sitemap(self, path: str, pages: Iterable[str]) -> None:
        entries = "".join(f"<url><loc>{escape(self.base + page)}</loc></url>" for page in pages)
        self.put(
            path,
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>',
            "application/xml",
        )

    def remove(self, path: str, *, gone: bool = False) -> None:
        """Delete a resource: it answers 404 (or 410 with ``gone``) from now on."""
        with self.lock:
            self.resources.pop(path, None)
            if gone:
                self.gone.add(path)

    def redirect(self, path: str, target: str, status: int = 301) -> None:
        self.redirects[path] = (status, target)

    def fail(
        self, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None, sleep: float = 0
    ) -> None:
        self.faults[path] = Fault(status, times, dict(headers or {}), sleep)

    # what happened ---------------------------------------------------------------------------------------
    def statuses(self, since: int = 0) -> Counter[int]:
        with self.lock:
            return Counter(hit.status for hit in self.hits[since:])

    def paths(self, since: int = 0, status: int | None = None) -> list[str]:
        with self.lock:
            return [hit.path for hit in self.hits[since:] if status is None or hit.status == status]

    def mark(self) -> int:
        """The position in the request log now, for ``statuses(since=...)``."""
        with self.lock:
            return len(self.hits)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """``http://127.0.0.1:PORT`` while the block runs (shut down within 50 ms after it)."""
        server = StatefulServer(("127.0.0.1", 0), _Handler)
        server.state = self
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self.base
        finally:
            server.shutdown()
            server.server_close()

    # answering -------------------------------------------------------------------------------------------
    def answer(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
        """``(status, headers, body, sleep)`` for a GET, as a web server would answer it."""
        path = urlsplit(raw_path).path
        with self.lock:
            fault = self.faults.get(raw_path) or self.faults.get(path)
            if fault is not None and fault.times > 0:
                fault.times -= 1
                if fault.status == 200:
                    fault_sleep = fault.sleep
                else:
                    return fault.status, dict(fault.headers), b"", fault.sleep
            else:
                fault_sleep = 0.0
            if path == "/robots.txt" and self.robots is not None:
                return 200, {"Content-Type": "text/plain"}, self.robots.encode(), fault_sleep
            if raw_path in self.redirects or path in self.redirects:
                status, target = self.redirects.get(raw_path) or self.redirects[path]
                return status, {"Location": target}, b"", fault_sleep
            resource = self.resources.get(raw_path) or self.resources.get(path)
            if resource is None:
                status = 410 if path in self.gone else 404
                return status, {"Content-Type": "text/plain"}, b"not here", fault_sleep
        validators: dict[str, str] = {}
        if self.etags:
            validators["ETag"] = resource.etag
        if self.last_modified:
            validators["Last-Modified"] = formatdate(resource.modified, usegmt=True)
        if self._unchanged(resource, headers):
            return 304, validators, b"", fault_sleep
        return 200, {"Content-Type": resource.content_type, **validators}, resource.body, fault_sleep

    def _unchanged(self, resource: Resource, headers: dict[str, str]) -> bool:
        """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
        match = headers.get("if-none-match")
        if match is not None:
            if not self.etags:
                return False
            tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
            return "*" in tags or resource.etag in tags
        since = headers.get("if-modified-since")
        if since and self.last_modified:
            try:
                return resource.modified <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False


class _Handler(BaseHTTPRequestHandler):
    server_version = "LocalSite/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment: two small writes meet the client's delayed ACK (40 ms each).
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def do_GET(self) -> None:
        site: LocalSite = self.server.state  # type: ignore[attr-defined]
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, answer_headers, body, sleep = site.answer(self.path, headers)
        if sleep:
            time.sleep(sleep)
        conditional = "if-none-match" in headers or "if-modified-since" in headers
        with site.lock:
            site.hits.append(Hit(self.path, status, conditional, headers.get("user-agent", "")))
        self.send_response(status)
        for key, value in answer_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test): nothing to answer

    def log_message(self, format: str, *args: object) -> None:
        pass


#: Facts the docs site's pages state, for tests that ask Needle about them.
VPN_FACT = (
    "The VPN gateway of Acme Widgets is vpn.acme.example on port 4433, reached with the WireGuard client."
)
LEAVE_FACT = (
    "Full-time employees of Acme Widgets get 25 vacation days of paid annual leave per calendar year."
)
PARKING_FACT = "Staff parking at Harbour House is on level minus two and needs a blue parking permit."


def docs_site(pdf: bytes, **options: bool) -> LocalSite:
    """A small intranet under ``/docs/`` with everything a crawler meets: a sitemap, robots.txt with a
    Disallow, canonical and tracked links, fragments, redirects in and out of the prefix, a page linking
    to itself, a redirect loop, a stylesheet link, a PDF and a page only the sitemap lists."""
    site = LocalSite(**options)
    site.robots = "User-agent: *\nDisallow: /docs/private/\n"
    site.page(
        "/docs/",
        "Acme intranet",
        "Welcome to the Acme Widgets intranet.",
        [
            "vpn.html",
            "vpn.html#setup",
            "/docs/vpn.html?utm_source=newsletter",
            "vpn-print.html",
            "leave.html",
            "old-parking.html",
            "private/salaries.html",
            "blog",
            "loop.html",
            "loop-a.html",
            "handbook.pdf",
            "style.css",
            "/elsewhere/page.html",
            "mailto:it@acme.example",
        ],
    )
    site.page("/docs/vpn.html", "VPN setup", VPN_FACT, ["/docs/", "#setup"])
    canonical = '<link rel="canonical" href="/docs/vpn.html">'
    site.page("/docs/vpn-print.html", "VPN setup (print)", VPN_FACT, [], head=canonical)
    site.page("/docs/leave.html", "Leave policy", LEAVE_FACT, ["/docs/"])
    site.redirect("/docs/old-parking.html", "/docs/parking.html")
    site.page("/docs/parking.html", "Parking", PARKING_FACT, ["/docs/"])
    site.redirect("/docs/blog", "/blog/latest.html", 302)
    site.page("/blog/latest.html", "Blog", "Outside the prefix.")
    site.page(
        "/docs/loop.html", "A page that links to itself", "Loops must end.", ["loop.html", "loop.html#top"]
    )
    site.redirect("/docs/loop-a.html", "/docs/loop-b.html", 302)
    site.redirect("/docs/loop-b.html", "/docs/loop-a.html", 302)
    site.page("/docs/private/salaries.html", "Salaries", "Robots may not read this.")
    site.page("/elsewhere/page.html", "Elsewhere", "Outside the prefix.")
    site.put("/docs/style.css", "body { color: black }", "text/css")
    site.put("/docs/handbook.pdf", pdf, "application/pdf")
    site.page("/docs/orphan.html", "Orphan page", "Only the sitemap lists this page.")
    site.sitemap("/docs/sitemap.xml", ["/docs/", "/docs/leave.html", "/docs/orphan.html"])
    return site

"""The web connector's HTTP side: a polite client that obeys robots.txt, waits its turn per host, follows
redirects only where it may, and retries what may pass on its own.

Kept apart from the crawl so the rules a site owner cares about (who we say we are, how often we knock,
what we never touch) live in one place. One client serves one sync, from one thread: one request at a
time per host, with ``delay`` seconds (or the site's ``Crawl-delay``, if longer) between two of them.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import certifi
import httpx
from protego import Protego

from pipelines.connectors.base import ConnectorError
from pipelines.connectors.web_pages import normalize_url, origin_of

log = logging.getLogger(__name__)

USER_AGENT = "NeedleBot/0.1 (+https://github.com/needle-bot/needle; documents search for a company's Slack)"
#: The name robots.txt rules are matched against.
ROBOTS_NAME = "NeedleBot"
ACCEPT = (
    "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8,"
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.8,"
    "text/markdown;q=0.7,text/plain;q=0.6,*/*;q=0.1"
)
MAX_REDIRECTS = 10
#: A site's Crawl-delay longer than this is capped: a sync must end within a day.
MAX_CRAWL_DELAY = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass
class Reply:
    """One GET after its redirects. ``skipped`` says why nothing usable came back (robots.txt forbids
    the URL, a redirect leaves the prefix or loops, the body is too large); ``status`` is then 0."""

    url: str
    status: int
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    skipped: str | None = None


class PoliteClient:
    """GETs for one sync. ``in_scope`` says which URLs a redirect may lead to (the prefix)."""

    def __init__(
        self,
        *,
        in_scope: Callable[[str], bool],
        delay: float = 0.0,
        timeout: float = 30.0,
        max_bytes: int = 50_000_000,
        retries: int = 3,
        backoff: float = 1.0,
        max_retry_wait: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.in_scope = in_scope
        self.delay = delay
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            follow_redirects=False,
            verify=_tls_context(),
            transport=transport,
        )
        #: Replaced in tests to see the waits without waiting.
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.monotonic
        self.statuses: Counter[int] = Counter()
        self._robots: dict[str, Protego | None] = {}
        self._last_request: dict[str, float] = {}

    def close(self) -> None:
        self.http.close()

    # robots.txt -----------------------------------------------------------------------------------------
    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets NeedleBot fetch ``url``; a site without one allows everything."""
        rules = self._rules(origin_of(url))
        return rules is None or rules.can_fetch(url, ROBOTS_NAME)

    def _rules(self, origin: str) -> Protego | None:
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        return self._robots[origin]

    def _read_robots(self, origin: str) -> Protego | None:
        """RFC 9309: a 4xx means no rules; a 5xx or no answer means the site may not want visits, so the
        sync stops (retryable) rather than crawl what it cannot check."""
        url = f"{origin}/robots.txt"
        for _hop in range(5):
            status, headers, body = self._request(url, {}, what="robots.txt")
            location = headers.get("location")
            if status in _REDIRECTS and location:
                url = normalize_url(location, url) or url
                continue
            break
        if 200 <= status < 300:
            return Protego.parse(body.decode("utf-8", errors="replace"))
        return None

    def _pause(self, origin: str) -> float:
        rules = self._robots.get(origin)
        site_delay = (rules.crawl_delay(ROBOTS_NAME) or 0.0) if rules is not None else 0.0
        return max(self.delay, min(float(site_delay), MAX_CRAWL_DELAY))

    # GET ------------------------------------------------------------------------------------------------
    def get(self, url: str, conditional: Callable[[str], Mapping[str, str]] | None = None) -> Reply:
        """GET ``url``, following redirects that stay in scope; ``conditional(u)`` gives the validators to
        send for each URL of the chain (If-None-Match / If-Modified-Since), so a 304 means unchanged."""
        chain = [url]
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            if not self.allowed(current):
                return Reply(current, 0, skipped="robots.txt disallows it")
            headers = dict(conditional(current)) if conditional else {}
            status, response_headers, body = self._request(current, headers)
            location = response_headers.get("location")
            if status in _REDIRECTS and location:
                target = normalize_url(location, current)
                if target is None:
                    return Reply(current, 0, skipped=f"it redirects to {location!r}, not a web page")
                if target in chain:
                    return Reply(current, 0, skipped="its redirects loop back to " + target)
                if not self.in_scope(target):
                    return Reply(current, 0, skipped=f"it redirects outside the prefix, to {target}")
                chain.append(target)
                current = target
                continue
            if status == -1:
                return Reply(current, 0, skipped=f"it is larger than {self.max_bytes / 1_000_000:g} MB")
            return Reply(current, status, response_headers, body)
        return Reply(current, 0, skipped=f"it redirects more than {MAX_REDIRECTS} times")

    def _request(
        self, url: str, headers: Mapping[str, str], what: str | None = None
    ) -> tuple[int, httpx.Headers, bytes]:
        """One GET with its retries: ``(status, headers, body)``; status -1 when the body is too large.

        429 and 5xx are retried after the server's Retry-After (seconds or a date) or an exponential
        backoff; timeouts and refused connections likewise. When the retries run out, or the server asks
        for a wait longer than ``max_retry_wait``, :class:`ConnectorError` (retryable) stops the sync.
        """
        origin = origin_of(url)
        label = what or url
        for attempt in range(self.retries + 1):
            self._wait_turn(origin)
            try:
                with self.http.stream("GET", url, headers=dict(headers)) as response:
                    status = response.status_code
                    self.statuses[status] += 1
                    if not _retryable(status):
                        body = self._read(response)
                        return (
                            (-1, response.headers, b"") if body is None else (status, response.headers, body)
                        )
                    wait = self._retry_after(response.headers.get("retry-after"), attempt)
                    problem = f"{label} answered {status} ({_phrase(status)})"
            except httpx.TimeoutException:
                self.statuses[0] += 1
                wait = self.backoff * 2**attempt
                problem = f"{label} gave no answer within {self.timeout:g} s"
            except httpx.TransportError as error:
                self.statuses[0] += 1
                wait = self.backoff * 2**attempt
                problem = f"{label} could not be reached ({type(error).__name__})"
            if attempt == self.retries:
                break
            if wait > self.max_retry_wait:
                raise ConnectorError(
                    f"{problem} and asked Needle to wait {wait:.0f} s; the next sync will try again",
                    retryable=True,
                )
            log.info("web: %s; retrying in %.1f s", problem, wait)
            self.sleep(wait)
        raise ConnectorError(
            f"{problem}, {self.retries + 1} times; the next sync will try again", retryable=True
        )

    def _read(self, response: httpx.Response) -> bytes | None:
        """The body, or ``None`` past ``max_bytes`` (not read further: a huge file costs the site little)."""
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _retry_after(self, value: str | None, attempt: int) -> float:
        if value:
            value = value.strip()
            if value.isdigit():
                return float(value)
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
        return self.backoff * 2**attempt

    def _wait_turn(self, origin: str) -> None:
        pause = self._pause(origin)
        last = self._last_request.get(origin)
        if last is not None and pause > 0:
            remaining = last + pause - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self._last_request[origin] = self.clock()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every sync: building one reads the CA bundle (about 0.2 s)."""
    return ssl.create_default_context(cafile=certifi.where())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"

"""Reading a web site for the web connector: URLs folded to one form, pages parsed, sitemaps read.

Pure functions over bytes and strings, no network, so the crawler's decisions (is this the same page? is
it inside the prefix? what does it link to?) are testable on their own. Folding matters because a page
reached as ``/a``, ``/a#setup`` and ``/a?utm_source=mail`` must be one source, not three.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

#: Link targets that are never documents Needle reads: not requested at all, to spare the site.
_SKIPPED = (
    ".png .jpg .jpeg .gif .svg .webp .ico .bmp .tif .tiff .css .js .mjs .json .map .woff .woff2 .ttf .otf "
    ".eot .mp3 .mp4 .m4a .wav .ogg .webm .avi .mov .mkv .zip .gz .tgz .tar .bz2 .xz .7z .rar .exe .dmg "
    ".iso .bin .apk .msi .deb .rpm .doc .xls .xlsx .ppt .pptx .odt .ods .odp .csv .xml .rss .atom"
)
SKIPPED_EXTENSIONS = frozenset(_SKIPPED.split())
#: Media types of pages (parsed for links) and of files (indexed as they are), with the suffix the
#: indexing side routes on.
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FILE_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
}
#: Query parameters that only say where a visitor came from: dropped so tracked links fold into one page.
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid)$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACE = re.compile(r"\s+")


def normalize_url(url: str, base: str | None = None) -> str | None:
    """``url`` (resolved against ``base``) in one canonical form, or ``None`` when it is not http(s).

    Lower-case scheme and host, no default port, no fragment, no tracking parameters, ``/`` for an empty
    path. The path's case and the remaining query are kept: servers may distinguish them.
    """
    url = url.strip()
    if not url:
        return None
    try:
        joined = urljoin(base, url) if base else url
        parts = urlsplit(joined)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def directory_of(url: str) -> str:
    """The URL's directory, the default prefix: ``https://h/docs/intro.html`` -> ``https://h/docs/``."""
    parts = urlsplit(url)
    path = parts.path[: parts.path.rfind("/") + 1] or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def worth_requesting(url: str) -> bool:
    """False for links to images, styles, archives and other files Needle cannot read."""
    return PurePosixPath(urlsplit(url).path).suffix.lower() not in SKIPPED_EXTENSIONS


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def file_name_for(url: str, media_type: str) -> str:
    """A file name that carries the type the indexing side routes on, from the URL's last segment."""
    segment = unquote(PurePosixPath(urlsplit(url).path).name)
    segment = re.sub(r"[^\w.\-]+", "-", segment).strip("-.") or "index"
    suffix = ".html" if media_type in PAGE_TYPES else FILE_TYPES.get(media_type, "")
    if media_type in PAGE_TYPES:
        stem = segment[: -len(PurePosixPath(segment).suffix)] if PurePosixPath(segment).suffix else segment
        return f"{stem or 'index'}.html"
    if suffix and PurePosixPath(segment).suffix.lower() != suffix:
        return f"{segment}{suffix}"
    return segment


@dataclass(frozen=True)
class PageInfo:
    """What a page says about itself: its title, the URL it calls canonical, its links, robots meta."""

    title: str = ""
    canonical: str | None = None
    links: tuple[str, ...] = ()
    noindex: bool = False
    nofollow: bool = False


def read_page(body: bytes, url: str, charset: str | None = None) -> PageInfo:
    """Title, canonical URL and links (absolute, folded) of an HTML page; an empty page says nothing."""
    if not body.strip():
        return PageInfo()
    try:
        if charset:
            text = body.decode(charset, errors="replace")
            root = lxml_html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*>", "", text))
        else:
            root = lxml_html.document_fromstring(body)
    except (etree.ParserError, LookupError, ValueError):
        return PageInfo()
    base = url
    for element in root.iterfind(".//base[@href]"):
        base = urljoin(url, element.get("href", "")) or url
        break
    title = _SPACE.sub(" ", root.findtext(".//title") or "").strip()
    if not title:
        heading = root.find(".//h1")
        title = _SPACE.sub(" ", heading.text_content()).strip() if heading is not None else ""
    canonical = None
    for element in root.iterfind(".//link[@rel]"):
        if "canonical" in element.get("rel", "").lower().split() and element.get("href"):
            canonical = normalize_url(element.get("href", ""), base)
            break
    noindex = nofollow = False
    for element in root.iterfind(".//meta[@name]"):
        if element.get("name", "").lower() in ("robots", "needlebot"):
            words = {word.strip() for word in element.get("content", "").lower().split(",")}
            noindex |= bool(words & {"noindex", "none"})
            nofollow |= bool(words & {"nofollow", "none"})
    links: dict[str, None] = {}
    for element in root.iterfind(".//*[@href]"):
        if element.tag not in ("a", "area"):
            continue
        target = normalize_url(element.get("href", ""), base)
        if target:
            links[target] = None
    return PageInfo(
        title=title[:300], canonical=canonical, links=tuple(links), noindex=noindex, nofollow=nofollow
    )


@dataclass(frozen=True)
class Sitemap:
    """The page URLs a sitemap lists, and the further sitemaps a sitemap index points to."""

    pages: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = field(default_factory=tuple)


#: A gzipped sitemap may not unpack to more than this (the protocol's own limit is 50 MB).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


def read_sitemap(body: bytes, url: str) -> Sitemap:
    """A sitemap's URLs (XML ``urlset`` or ``sitemapindex``, gzipped or not, or plain text, one per line).

    Raises ``ValueError`` when the body is none of these, so a broken sitemap is an error, never an empty
    site (which would prune everything).
    """
    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unpacked:
            body = unpacked.read(MAX_SITEMAP_BYTES + 1)
        if len(body) > MAX_SITEMAP_BYTES:
            raise ValueError("the sitemap unpacks to more than 50 MB")
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        lines = [normalize_url(line) for line in body.decode("utf-8", errors="replace").splitlines()]
        found = tuple(line for line in lines if line)
        if not found and stripped:
            raise ValueError("the sitemap is neither XML nor a list of URLs")
        return Sitemap(pages=found)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as error:
        raise ValueError(f"the sitemap is not well-formed XML ({error})") from None
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise ValueError(f"the sitemap's root is <{kind}>, not <urlset> or <sitemapindex>")
    locations: list[str] = []
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname == "loc" and element.text:
            found_url = normalize_url(element.text, url)
            if found_url:
                locations.append(found_url)
    if kind == "sitemapindex":
        return Sitemap(sitemaps=tuple(dict.fromkeys(locations)))
    return Sitemap(pages=tuple(dict.fromkeys(locations)))

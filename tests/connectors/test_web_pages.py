"""Reading a site without the network: URL folding, page parsing, sitemaps in their several forms."""

from __future__ import annotations

import gzip

import pytest

from pipelines.connectors.web_pages import (
    directory_of,
    file_name_for,
    normalize_url,
    read_page,
    read_sitemap,
    worth_requesting,
)


@pytest.mark.parametrize(
    ("url", "folded"),
    [
        ("HTTPS://Intranet.Example.COM:443/Docs/a.html#part", "https://intranet.example.com/Docs/a.html"),
        ("http://h:80", "http://h/"),
        ("http://h:8080/a?utm_source=mail&id=3&gclid=x", "http://h:8080/a?id=3"),
        ("mailto:it@example.com", None),
        ("javascript:void(0)", None),
        ("ftp://h/file", None),
        ("http://[::1]:81/x", "http://[::1]:81/x"),
        ("", None),
    ],
)
def test_normalize_url_folds_what_names_the_same_page(url: str, folded: str | None) -> None:
    assert normalize_url(url) == folded


def test_relative_links_resolve_against_the_page() -> None:
    assert normalize_url("../b.html#x", "https://h/docs/sub/a.html") == "https://h/docs/b.html"
    assert directory_of("https://h/docs/intro.html") == "https://h/docs/"
    assert directory_of("https://h") == "https://h/"


def test_only_links_to_readable_things_are_requested() -> None:
    assert worth_requesting("https://h/a.pdf") and worth_requesting("https://h/release-1.2")
    assert not worth_requesting("https://h/logo.PNG") and not worth_requesting("https://h/app.js")


def test_file_names_carry_the_type_the_indexer_routes_on() -> None:
    assert file_name_for("https://h/docs/", "text/html") == "docs.html"
    assert file_name_for("https://h/", "text/html") == "index.html"
    assert file_name_for("https://h/docs/vpn.php", "text/html") == "vpn.html"
    assert file_name_for("https://h/files/Hand%20book.pdf", "application/pdf") == "Hand-book.pdf"
    assert file_name_for("https://h/download?id=4", "application/pdf") == "download.pdf"


def test_a_page_gives_its_title_canonical_links_and_robots_meta() -> None:
    body = b"""<html><head><title> VPN
      setup </title><base href="/root/"><link rel="Canonical" href="vpn.html">
      <meta name="robots" content="noindex, follow"></head>
      <body><a href="a.html#x">a</a><a href="a.html">again</a><area href="/map.html">
      <link href="style.css"><a href="mailto:x@y">mail</a></body></html>"""
    page = read_page(body, "https://h/docs/page.html")
    assert page.title == "VPN setup"
    assert page.canonical == "https://h/root/vpn.html"
    assert page.links == ("https://h/root/a.html", "https://h/map.html")
    assert page.noindex and not page.nofollow


def test_a_page_without_title_is_named_by_its_heading_and_an_empty_one_says_nothing() -> None:
    assert read_page(b"<h1>Parking</h1><p>x</p>", "https://h/").title == "Parking"
    assert read_page(b"  ", "https://h/").links == ()
    text = "<title>Caf\u00e9</title>".encode("latin-1")
    assert read_page(text, "https://h/", "iso-8859-1").title == "Caf\u00e9"


def test_sitemaps_xml_index_gzip_and_plain_text() -> None:
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://h/a.html</loc></url><url><loc> https://h/b.html#x </loc></url></urlset>"
    )
    assert read_sitemap(urlset, "https://h/sitemap.xml").pages == ("https://h/a.html", "https://h/b.html")
    assert read_sitemap(gzip.compress(urlset), "https://h/sitemap.xml.gz").pages[0] == "https://h/a.html"
    index = b"<sitemapindex><sitemap><loc>https://h/s1.xml</loc></sitemap></sitemapindex>"
    parsed = read_sitemap(index, "https://h/sitemap.xml")
    assert parsed.sitemaps == ("https://h/s1.xml",) and parsed.pages == ()
    assert (
        read_sitemap(b"https://h/a.html\nhttps://h/b.html\n", "https://h/s.txt").pages[1]
        == "https://h/b.html"
    )


@pytest.mark.parametrize(
    "body", [b"<html><body>not a sitemap</body></html>", b"<urlset><url>", b"just words"]
)
def test_a_broken_sitemap_is_an_error_not_an_empty_site(body: bytes) -> None:
    with pytest.raises(ValueError, match="sitemap"):
        read_sitemap(body, "https://h/sitemap.xml")


def test_a_sitemap_with_an_external_entity_does_not_read_it() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>https://h/&x;</loc></url></urlset>"
    )
    pages = read_sitemap(body, "https://h/sitemap.xml").pages
    assert all("root:" not in page for page in pages)

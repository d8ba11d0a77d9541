"""The web connector against a real local web site: what it lists, what it downloads, what it leaves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.connectors.base import (
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
    connector_class,
)
from pipelines.connectors.web import WebConnector
from pipelines.connectors.web_http import PoliteClient
from pipelines.samples import handbook_dir
from tests.support.local_site import LEAVE_FACT, VPN_FACT, LocalSite, docs_site

PDF = (handbook_dir() / "information-security-policy.pdf").read_bytes()


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local = docs_site(PDF)
    with local.serve():
        local.sitemap("/docs/sitemap.xml", ["/docs/", "/docs/leave.html", "/docs/orphan.html"])
        yield local


def connector(site: LocalSite, cursor: dict[str, Any] | None = None, **settings: str) -> WebConnector:
    web = WebConnector({"url": f"{site.base}/docs/", **settings})
    web.client.sleep = lambda seconds: None
    web.restore_state(cursor)
    return web


def crawl(web: WebConnector) -> dict[str, DocumentRef]:
    return {ref.id: ref for ref in web.list_documents()}


def test_first_crawl_lists_each_page_once_by_its_canonical_url(site: LocalSite) -> None:
    refs = crawl(connector(site))
    b = site.base
    assert set(refs) == {
        f"{b}/docs/",
        f"{b}/docs/vpn.html",
        f"{b}/docs/leave.html",
        f"{b}/docs/parking.html",
        f"{b}/docs/loop.html",
        f"{b}/docs/handbook.pdf",
    }
    assert refs[f"{b}/docs/vpn.html"].title == "VPN setup"
    assert refs[f"{b}/docs/vpn.html"].url == f"{b}/docs/vpn.html"
    assert refs[f"{b}/docs/handbook.pdf"].meta["file_name"] == "handbook.pdf"
    requested = set(site.paths())
    # robots.txt's Disallow, the other prefixes, the stylesheet: never requested
    assert not requested & {
        "/docs/private/salaries.html",
        "/blog/latest.html",
        "/elsewhere/page.html",
        "/docs/style.css",
    }
    # fragments and tracking parameters fold into one request; the self-linking page is read once
    assert site.paths().count("/docs/vpn.html") == 1
    assert site.paths().count("/docs/loop.html") == 1
    assert "/docs/vpn.html?utm_source=newsletter" not in requested
    # the redirect loop was followed once round and given up
    assert site.paths().count("/docs/loop-a.html") == 1
    assert all(hit.user_agent.startswith("NeedleBot/") for hit in site.hits)


def test_the_listing_says_what_it_left_and_why(site: LocalSite) -> None:
    web = connector(site)
    crawl(web)
    b = site.base
    assert "robots.txt" in web.skipped[f"{b}/docs/private/salaries.html"]
    assert "outside the prefix" in web.skipped[f"{b}/docs/blog"]
    assert "loop" in web.skipped[f"{b}/docs/loop-a.html"]


def test_fetch_gives_the_bytes_the_listing_downloaded_without_asking_again(site: LocalSite) -> None:
    web = connector(site)
    refs = crawl(web)
    before = site.mark()
    page = web.fetch(refs[f"{site.base}/docs/vpn.html"])
    pdf = web.fetch(refs[f"{site.base}/docs/handbook.pdf"])
    assert site.mark() == before
    assert isinstance(page, FetchedDocument) and VPN_FACT.encode() in page.data
    assert page.file_name == "vpn.html" and page.media_type == "text/html"
    assert isinstance(pdf, FetchedDocument) and pdf.data == PDF and pdf.file_name == "handbook.pdf"


def test_a_resync_asks_conditionally_and_downloads_only_the_changed_page(site: LocalSite) -> None:
    first = connector(site)
    old = crawl(first)
    site.page("/docs/leave.html", "Leave policy", LEAVE_FACT + " Updated.", ["/docs/"])
    mark = site.mark()
    web = connector(site, first.state)
    new = crawl(web)
    assert set(new) == set(old)
    downloaded = [path for path in site.paths(mark, status=200) if path != "/robots.txt"]
    assert downloaded == ["/docs/leave.html"]
    # every URL the first crawl read (the print version folded into vpn.html too) but the changed one
    cursor = first.state
    assert cursor is not None
    assert site.statuses(mark)[304] == len(cursor["pages"]) - 1
    changed = {doc_id for doc_id in new if new[doc_id].version != old[doc_id].version}
    assert changed == {f"{site.base}/docs/leave.html"}
    fetched = web.fetch(new[f"{site.base}/docs/leave.html"], old[f"{site.base}/docs/leave.html"].version)
    assert isinstance(fetched, FetchedDocument) and b"Updated." in fetched.data


def test_last_modified_alone_is_enough_for_a_304() -> None:
    local = docs_site(PDF, etags=False)
    with local.serve():
        first = connector(local)
        old = crawl(first)
        mark = local.mark()
        new = crawl(connector(local, first.state))
    assert new == old
    assert [p for p in local.paths(mark, status=200) if p != "/robots.txt"] == []
    assert all(hit.conditional for hit in local.hits[mark:] if hit.status == 304)


def test_without_validators_pages_are_downloaded_but_their_version_is_their_content() -> None:
    local = docs_site(PDF, etags=False, last_modified=False)
    with local.serve():
        first = connector(local)
        old = crawl(first)
        local.page("/docs/leave.html", "Leave policy", "Changed.", ["/docs/"])
        new = crawl(connector(local, first.state))
    assert {doc_id for doc_id in new if new[doc_id].version != old[doc_id].version} == {
        f"{local.base}/docs/leave.html"
    }


def test_a_sitemap_adds_the_pages_no_link_reaches(site: LocalSite) -> None:
    refs = crawl(connector(site, sitemap=f"{site.base}/docs/sitemap.xml"))
    assert f"{site.base}/docs/orphan.html" in refs
    assert f"{site.base}/docs/" in refs


def test_sitemap_only_crawl_defaults_its_prefix_to_the_sitemaps_directory(site: LocalSite) -> None:
    web = WebConnector({"sitemap": f"{site.base}/docs/sitemap.xml", "depth": "0"})
    assert web.prefix == f"{site.base}/docs/"
    assert set(crawl(web)) == {
        f"{site.base}/docs/",
        f"{site.base}/docs/leave.html",
        f"{site.base}/docs/orphan.html",
    }


def test_a_page_that_answers_404_is_kept_once_and_dropped_the_second_time(site: LocalSite) -> None:
    leave = f"{site.base}/docs/leave.html"
    first = connector(site)
    old = crawl(first)
    site.remove("/docs/leave.html")  # still linked from the index: the crawl reaches it
    second = connector(site, first.state)
    kept = crawl(second)
    assert leave in kept and kept[leave].version == old[leave].version
    assert kept[leave].meta["missing"] == 1
    third = connector(site, second.state)
    assert leave not in crawl(third)


def test_a_page_back_after_one_404_is_not_missing_any_more(site: LocalSite) -> None:
    leave = f"{site.base}/docs/leave.html"
    first = connector(site)
    crawl(first)
    site.remove("/docs/leave.html", gone=True)
    second = connector(site, first.state)
    assert crawl(second)[leave].meta["missing"] == 1
    site.page("/docs/leave.html", "Leave policy", LEAVE_FACT, ["/docs/"])
    third = connector(site, second.state)
    back = crawl(third)
    assert "missing" not in back[leave].meta
    assert crawl(connector(site, third.state))[leave].meta.get("missing") is None


def test_a_page_no_longer_linked_is_not_listed_at_once(site: LocalSite) -> None:
    first = connector(site)
    crawl(first)
    site.page("/docs/", "Acme intranet", "Welcome.", ["vpn.html"])
    refs = crawl(connector(site, first.state))
    assert set(refs) == {f"{site.base}/docs/", f"{site.base}/docs/vpn.html"}


def test_429_waits_as_long_as_retry_after_says_then_goes_on(site: LocalSite) -> None:
    site.fail("/docs/leave.html", 429, times=2, headers={"Retry-After": "7"})
    web = connector(site)
    waits: list[float] = []
    web.client.sleep = waits.append
    refs = crawl(web)
    assert f"{site.base}/docs/leave.html" in refs
    assert waits == [7.0, 7.0]


def test_a_5xx_that_lasts_stops_the_listing_with_a_retryable_error(site: LocalSite) -> None:
    site.fail("/docs/leave.html", 503, times=100)
    web = connector(site)
    waits: list[float] = []
    web.client.sleep = waits.append
    with pytest.raises(ConnectorError) as failure:
        crawl(web)
    assert failure.value.retryable
    assert "/docs/leave.html answered 503" in failure.value.reason and "4 times" in failure.value.reason
    assert waits == [1.0, 2.0, 4.0]  # exponential backoff without Retry-After
    assert web.state is None  # nothing for the engine to keep


def test_a_retry_after_longer_than_the_limit_gives_up_at_once(site: LocalSite) -> None:
    site.fail("/docs/leave.html", 429, times=1, headers={"Retry-After": "86400"})
    with pytest.raises(ConnectorError, match="wait 86400 s") as failure:
        crawl(connector(site))
    assert failure.value.retryable


def test_a_timeout_is_retried_then_stops_the_listing(site: LocalSite) -> None:
    site.fail("/docs/leave.html", 200, times=2, sleep=0.3)
    web = connector(site)
    web.client = PoliteClient(in_scope=web.in_scope, timeout=0.1, retries=1)
    web.client.sleep = lambda seconds: None
    with pytest.raises(ConnectorError, match=r"no answer within 0\.1 s") as failure:
        crawl(web)
    assert failure.value.retryable


def test_robots_txt_that_fails_stops_the_crawl_rather_than_ignore_it(site: LocalSite) -> None:
    site.fail("/robots.txt", 500, times=100)
    with pytest.raises(ConnectorError, match=r"robots\.txt answered 500") as failure:
        crawl(connector(site))
    assert failure.value.retryable
    assert site.paths() == ["/robots.txt"] * 4


def test_no_robots_txt_allows_everything(site: LocalSite) -> None:
    site.robots = None
    refs = crawl(connector(site))
    assert f"{site.base}/docs/private/salaries.html" in refs


def test_a_start_url_that_is_gone_is_an_error_not_an_empty_site(site: LocalSite) -> None:
    site.remove("/docs/")
    with pytest.raises(ConnectorError, match=r"start URL .* answered 404") as failure:
        crawl(connector(site))
    assert not failure.value.retryable


def test_depth_and_max_pages_bound_the_crawl(site: LocalSite) -> None:
    assert set(crawl(connector(site, depth="0"))) == {f"{site.base}/docs/"}
    limited = connector(site, max_pages="2")
    assert len(crawl(limited)) == 2 and limited.truncated


def test_delay_spaces_requests_to_one_host(site: LocalSite) -> None:
    web = connector(site, delay="0.5")
    waits: list[float] = []
    web.client.sleep = waits.append
    refs = crawl(web)
    assert len(waits) >= len(refs)
    assert all(0.3 < wait <= 0.5 for wait in waits)


def test_robots_crawl_delay_wins_over_a_shorter_delay(site: LocalSite) -> None:
    site.robots = "User-agent: NeedleBot\nCrawl-delay: 2\nDisallow: /docs/private/\n"
    web = connector(site, delay="0.1")
    waits: list[float] = []
    web.client.sleep = waits.append
    crawl(web)
    assert waits and all(1.5 < wait <= 2.0 for wait in waits)


def test_fetch_without_the_listings_body_asks_conditionally(site: LocalSite) -> None:
    first = connector(site)
    refs = crawl(first)
    vpn = refs[f"{site.base}/docs/vpn.html"]
    fresh = connector(site)  # another process: nothing kept
    assert isinstance(fresh.fetch(vpn, vpn.version), NotModified)
    fetched = fresh.fetch(vpn, None)
    assert isinstance(fetched, FetchedDocument) and VPN_FACT.encode() in fetched.data
    assert fetched.ref.id == vpn.id and fetched.ref.title == "VPN setup"
    site.remove("/docs/vpn.html")
    gone = fresh.fetch(vpn, vpn.version)
    assert isinstance(gone, Gone) and "404" in gone.reason


def test_the_cursor_is_json_and_another_prefix_ignores_it(site: LocalSite) -> None:
    first = connector(site)
    crawl(first)
    cursor = json.loads(json.dumps(first.state))
    other = WebConnector({"url": f"{site.base}/docs/", "prefix": f"{site.base}/"})
    other.restore_state(cursor)
    mark = site.mark()
    crawl(other)
    assert site.statuses(mark)[304] == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "need --set url="),
        ({"url": "ftp://example.com/"}, "not an http"),
        ({"url": "https://example.com/docs/", "depth": "deep"}, "not a whole number"),
        ({"url": "https://example.com/docs/", "max_pages": "0"}, "at least 1"),
        ({"url": "https://example.com/docs/", "delay": "-1"}, "at least 0"),
        ({"url": "https://example.com/docs/", "prefix": "https://example.com/blog/"}, "outside prefix"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        WebConnector(settings)


def test_registered_as_web_with_a_daily_interval() -> None:
    assert connector_class("web") is WebConnector
    assert WebConnector.default_interval == 24 * 3600
    web = WebConnector({"url": "https://example.com/docs/intro.html", "colour": "red"})
    assert web.prefix == "https://example.com/docs/"
    with pytest.raises(ConnectorError, match="no setting 'colour'"):
        web.check_config()

"""The web connector end to end: a real local site synced by the engine into a real embedded store with
the bundled model, then asked questions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.service import NeedleService
from tests.support.connector_bench import StoreWriteCounter
from tests.support.local_site import LEAVE_FACT, PARKING_FACT, LocalSite, docs_site

from .test_web import PDF


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local = docs_site(PDF)
    with local.serve():
        yield local


def _cited(service: NeedleService, question: str) -> list[str]:
    answer = service.ask(question)
    return [citation.url or "" for citation in answer.citations] if answer.found else []


@pytest.mark.slow
def test_a_site_synced_answers_keeps_current_and_forgets_what_is_gone(
    service: NeedleService, site: LocalSite
) -> None:
    b = site.base
    # every store write, ``replace_sources`` (how sources are written) included
    writes = StoreWriteCounter(service)
    service.connectors.create("web", "intranet", {"url": f"{b}/docs/"}, actor="alice")

    first = service.connectors.sync("intranet")
    assert (first.status, first.added, first.failed) == ("succeeded", 6, 0)
    sources = {source.url: source for source in service.list_sources()}
    assert set(sources) == {
        f"{b}/docs/",
        f"{b}/docs/vpn.html",
        f"{b}/docs/leave.html",
        f"{b}/docs/parking.html",
        f"{b}/docs/loop.html",
        f"{b}/docs/handbook.pdf",
    }
    assert sources[f"{b}/docs/vpn.html"].title == "VPN setup"
    assert f"{b}/docs/vpn.html" in _cited(service, "Which port does the VPN gateway use?")
    assert f"{b}/docs/parking.html" in _cited(service, "Where is staff parking at Harbour House?")

    # Nothing changed: conditional requests only, and not one store write.
    assert "replace_sources" in writes.names
    writes.names.clear()
    mark = site.mark()
    unchanged = service.connectors.sync("intranet")
    assert (unchanged.status, unchanged.unchanged, unchanged.added, unchanged.changed) == (
        "succeeded",
        6,
        0,
        0,
    )
    assert writes.names == []
    assert [path for path in site.paths(mark, status=200) if path != "/robots.txt"] == []

    # The parking page is deleted and unlinked: gone from the answers after this sync.
    site.remove("/docs/parking.html")
    site.redirects.pop("/docs/old-parking.html")
    links = ["vpn.html", "leave.html", "loop.html", "handbook.pdf"]
    site.page("/docs/", "Acme intranet", "Welcome to the Acme Widgets intranet.", links)
    mark = site.mark()
    pruned = service.connectors.sync("intranet")
    assert (pruned.removed, pruned.changed) == (1, 1)
    assert "replace_sources" in writes.names  # the changed home page
    assert [path for path in site.paths(mark, status=200) if path != "/robots.txt"] == ["/docs/"]
    assert f"{b}/docs/parking.html" not in _cited(service, "Where is staff parking at Harbour House?")
    assert f"{b}/docs/parking.html" not in {source.url for source in service.list_sources()}

    # A page still linked that answers 404 is kept once, then removed.
    site.remove("/docs/leave.html")
    once = service.connectors.sync("intranet")
    assert once.removed == 0
    assert f"{b}/docs/leave.html" in _cited(service, "How many vacation days do full-time employees get?")
    twice = service.connectors.sync("intranet")
    assert twice.removed == 1
    assert f"{b}/docs/leave.html" not in {source.url for source in service.list_sources()}
    assert LEAVE_FACT and PARKING_FACT  # the facts asked about are the site's own


@pytest.mark.slow
def test_a_site_that_fails_mid_listing_removes_nothing(service: NeedleService, site: LocalSite) -> None:
    service.connectors.create("web", "intranet", {"url": f"{site.base}/docs/", "depth": "1"}, actor="alice")
    first = service.connectors.sync("intranet")
    assert first.status == "succeeded"
    before = {source.source_id for source in service.list_sources()}
    site.remove("/docs/vpn.html")  # a change the failed sync must not act on
    site.fail("/docs/leave.html", 503, times=100, headers={"Retry-After": "0"})
    failed = service.connectors.sync("intranet")
    assert (
        failed.status == "failed" and "503" in (failed.error or "") and "nothing was removed" in failed.error
    )
    assert {source.source_id for source in service.list_sources()} == before

"""The Notion connector with the real ``notion_client`` against a local server speaking Notion's API.

The requests each test expects are Notion's documented ones (developers.notion.com/reference, API version
2025-09-03, the version notion-client 3.1 sends), not read off the client's code:

* Search by title -- ``POST /v1/search``, body ``filter: {"property": "object", "value": "page"}`` or
  ``"data_source"`` (the upgrade guide for 2025-09-03: search returns data sources, not databases),
  ``start_cursor`` / ``page_size`` in the body.
* Query a data source -- ``POST /v1/data_sources/{data_source_id}/query``, cursor in the body.
* Retrieve a page -- ``GET /v1/pages/{page_id}``.
* Retrieve block children -- ``GET /v1/blocks/{block_id}/children?start_cursor=...&page_size=...``;
  "returns only the first level of children": nested blocks (``has_children``) need their own call.
* Retrieve a database -- ``GET /v1/databases/{database_id}``, whose ``data_sources`` list the ids to query.
* Every request carries ``Notion-Version`` and ``Authorization: Bearer <token>``.
* Pagination ("Pagination"): ``has_more`` and ``next_cursor``, and a page may hold fewer than
  ``page_size`` results.
* Request limits: 429 ``rate_limited`` with ``Retry-After`` in seconds, to be waited out before retrying.
* Status codes: 401 ``unauthorized`` ("The bearer token is not valid"), 404 ``object_not_found`` (gone,
  or not shared with the integration), 500 ``internal_server_error``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.connectors.base import ConnectorError, FetchedDocument, Gone, NotModified, connector_class
from pipelines.connectors.notion import NotionConnector, _version
from pipelines.connectors.notion_markdown import blocks_markdown, page_markdown
from pipelines.indexing.conversion.dates import markdown_date
from pipelines.indexing.conversion.tables import linearize_pipe_tables
from tests.support.fake_notion import (
    FakeNotionState,
    bullet,
    callout,
    code,
    fake_notion,
    heading,
    numbered,
    paragraph,
    quote,
    rich,
    table,
    to_do,
)

SEARCH = "/v1/search"


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, FakeNotionState]]:
    # One server for the module: stopping a server waits out its half-second poll, which adds up.
    with fake_notion() as served:
        yield served


@pytest.fixture
def notion(_server: tuple[str, FakeNotionState]) -> tuple[str, FakeNotionState]:
    """``(url, state)`` of the fake Notion API, with an empty workspace."""
    _server[1].reset()
    return _server


def connect(url: str, state: FakeNotionState, **settings: str) -> NotionConnector:
    return NotionConnector({"base_url": url, "delay": "0", **settings}, {"token": state.token})


def fetch(connector: NotionConnector, page_id: str) -> str:
    ref = next(ref for ref in connector.list_documents() if ref.id == page_id)
    document = connector.fetch(ref)
    assert isinstance(document, FetchedDocument)
    assert document.media_type == "text/markdown" and document.file_name.endswith(".md")
    return document.data.decode("utf-8")


def paths(state: FakeNotionState) -> list[tuple[str, str]]:
    return [(request["method"], request["path"]) for request in state.requests]


# Rendering ---------------------------------------------------------------------------------------------


def test_a_page_renders_its_headings_lists_table_quotes_and_code(notion):
    url, state = notion
    page = state.add_page(
        "Office handbook",
        [
            heading(1, "Wi-Fi and badges"),
            paragraph("Ask reception for a visitor badge."),
            bullet(
                "Floors", [bullet("Floor 2: kitchen", [bullet("Espresso machine")]), bullet("Floor 3: desks")]
            ),
            bullet("Parking"),
            numbered("Sign in"),
            numbered("Collect the badge"),
            to_do("Return the badge", True),
            to_do("Book a desk", False),
            table(
                [
                    ["Office", "Wi-Fi network", "Password"],
                    ["Berlin", "Needle-Guest", "blue-heron-42"],
                    ["Lisbon", "Needle-PT", "sardine|7"],
                ],
                header=True,
            ),
            quote("Leave the kitchen cleaner than you found it."),
            callout("Fire exits are marked in green.", "🔥"),
            code("curl -s https://intranet/badge", "shell"),
            heading(3, "Small print"),
        ],
    )
    text = fetch(connect(url, state), page)

    assert text.startswith('---\nlast_modified: "2026-11-02T09:01:00.000Z"\n---\n')
    assert "\n# Office handbook\n" in text
    assert "\n## Wi-Fi and badges\n" in text and "\n#### Small print" in text  # one level under the title
    # Nested lists keep their nesting (children under has_children were read).
    assert "- Floors\n  - Floor 2: kitchen\n    - Espresso machine\n  - Floor 3: desks\n- Parking" in text
    assert "1. Sign in\n2. Collect the badge" in text
    assert "- [x] Return the badge\n- [ ] Book a desk" in text
    # The header row stays the header: the indexer labels every cell with its column.
    assert (
        "| Office | Wi-Fi network | Password |\n|---|---|---|\n| Berlin | Needle-Guest | blue-heron-42 |"
        in text
    )
    assert "| Lisbon | Needle-PT | sardine\\|7 |" in text
    assert "Office: Berlin; Wi-Fi network: Needle-Guest; Password: blue-heron-42." in linearize_pipe_tables(
        text
    )
    assert "Password: sardine|7." in linearize_pipe_tables(text)
    assert "> Leave the kitchen cleaner than you found it." in text
    assert "> 🔥 Fire exits are marked in green." in text
    assert "```shell\ncurl -s https://intranet/badge\n```" in text


def test_a_table_without_a_header_row_keeps_bare_rows(notion):
    rows = table([["Monday", "Tacos"], ["Tuesday", "Ramen"]], header=False)
    url, state = notion
    page = state.add_page("Canteen", [rows])
    text = fetch(connect(url, state), page)
    assert "| Monday | Tacos |\n| Tuesday | Ramen |" in text
    assert "---|" not in text
    assert "Monday; Tacos." in linearize_pipe_tables(text)


def test_annotations_are_kept_as_plain_text():
    bold = rich("Never")
    bold[0]["annotations"]["bold"] = True
    bold[0]["href"] = "https://example.com/policy"
    blocks = [{"type": "paragraph", "paragraph": {"rich_text": [*bold, *rich(" share a badge.")]}}]
    assert blocks_markdown(blocks) == "Never share a badge."


def test_nested_blocks_are_read_level_by_level(notion):
    deep = bullet("level 1", [bullet("level 2", [bullet("level 3", [paragraph("the bottom")])])])
    url, state = notion
    page = state.add_page("Deep", [deep])
    text = fetch(connect(url, state), page)
    block_calls = [p for m, p in paths(state) if p.startswith("/v1/blocks/")]
    assert "the bottom" in text
    # One "Retrieve block children" per level: the page, then each block with has_children.
    assert len(block_calls) == 4
    assert all(p.endswith("/children") for p in block_calls)


def test_a_database_row_is_a_page_with_its_properties(notion):
    url, state = notion
    home = state.add_page("Purchasing", [paragraph("How we buy.")])
    vendors = state.add_database("Vendors", parent=home)
    row = state.add_page(
        "Acme Paper",
        [paragraph("Acme delivers on Tuesdays.")],
        parent=vendors,
        properties={
            "Owner": {"id": "a", "type": "rich_text", "rich_text": rich("Dana Whitfield")},
            "Status": {"id": "b", "type": "status", "status": {"name": "Approved"}},
            "Limit": {"id": "c", "type": "number", "number": 5000},
            "Tags": {
                "id": "d",
                "type": "multi_select",
                "multi_select": [{"name": "paper"}, {"name": "office"}],
            },
            "Renewal": {"id": "e", "type": "date", "date": {"start": "2027-03-01", "end": None}},
            "Empty": {"id": "f", "type": "rich_text", "rich_text": []},
        },
    )
    connector = connect(url, state)
    refs = {ref.id: ref for ref in connector.list_documents()}
    text = fetch(connector, row)
    home_text = fetch(connector, home)
    calls = paths(state)

    assert set(refs) == {home, row}
    assert refs[row].title == "Acme Paper"
    assert ("POST", f"/v1/data_sources/{vendors}/query") in calls
    for line in (
        "- Owner: Dana Whitfield",
        "- Status: Approved",
        "- Limit: 5000",
        "- Tags: paper, office",
        "- Renewal: 2027-03-01",
    ):
        assert line in text
    assert "Empty" not in text
    assert "Acme delivers on Tuesdays." in text
    assert "Database: Vendors" in home_text  # the database is named where it sits, its rows are documents


# Listing and pagination --------------------------------------------------------------------------------


def test_listing_follows_every_cursor(notion):
    url, state = notion
    state.page_limit = 2  # Notion may answer fewer results than page_size asked
    home = state.add_page("Home", [paragraph(f"line {n}") for n in range(5)])
    pages = {state.add_page(f"Page {n}", [paragraph("x")], parent=home) for n in range(6)}
    source = state.add_database("Rota", parent=home)
    rows = {state.add_page(f"Week {n}", parent=source) for n in range(5)}
    connector = connect(url, state)
    refs = list(connector.list_documents())
    searches = [r for r in state.requests if r["path"] == SEARCH]
    queries = [r for r in state.requests if r["path"] == f"/v1/data_sources/{source}/query"]
    text = fetch(connector, home)
    children = [r for r in state.requests if r["path"] == f"/v1/blocks/{home}/children"]

    assert sorted(ref.id for ref in refs) == sorted({home} | pages | rows)  # each once, rows included
    page_searches = [r for r in searches if r["body"]["filter"]["value"] == "page"]
    # 12 pages (search returns rows too), 2 per answer: 6 requests, each after the first with the cursor.
    assert len(page_searches) == 6
    assert "start_cursor" not in page_searches[0]["body"]
    assert all(r["body"].get("start_cursor") for r in page_searches[1:])
    assert len(queries) == 3 and all(r["body"].get("start_cursor") for r in queries[1:])
    # The page's blocks: 5 paragraphs, 6 child pages and a database, 2 per answer, cursor in the query.
    assert len(children) == 6 and all(r["query"].get("start_cursor") for r in children[1:])
    assert [f"line {n}" in text for n in range(5)] == [True] * 5
    assert all(r["version"] == "2025-09-03" for r in state.requests)
    assert all(r["authorization"] == f"Bearer {state.token}" for r in state.requests)


def test_rows_that_search_misses_are_listed_from_their_database(notion):
    url, state = notion
    home = state.add_page("Home")
    source = state.add_database("Policies", parent=home)
    row = state.add_page("Travel policy", [paragraph("Economy class under 6 hours.")], parent=source)
    state.search_misses.add(row)
    assert row in {ref.id for ref in connect(url, state).list_documents()}


def test_crawl_finds_sub_pages_that_search_misses(notion):
    url, state = notion
    home = state.add_page("Home", [paragraph("Start here.")])
    hidden = state.add_page("Hidden runbook", [paragraph("Restart the queue.")], parent=home)
    state.search_misses.add(hidden)
    assert hidden not in {ref.id for ref in connect(url, state).list_documents()}
    crawled = {ref.id for ref in connect(url, state, crawl="true").list_documents()}
    assert hidden in crawled


def test_every_reference_leaves_the_audience_to_the_connector(notion):
    url, state = notion
    state.add_page("Salaries", [paragraph("Band 4 starts at 70k.")])
    refs = list(connect(url, state).list_documents())
    assert refs and all(ref.audience is None and ref.unmapped == () for ref in refs)
    assert all(ref.url and ref.url.startswith("https://www.notion.so/") for ref in refs)


# Change detection --------------------------------------------------------------------------------------


def test_last_edited_time_is_the_version_and_only_edited_pages_change(notion):
    url, state = notion
    kept = state.add_page("Holidays", [paragraph("25 days a year.")])
    edited = state.add_page("Expenses", [paragraph("Receipts within 30 days.")])
    connector = connect(url, state)
    before = {ref.id: ref.version for ref in connector.list_documents()}
    state.edit(edited, [paragraph("Receipts within 14 days.")])
    after = {ref.id: ref for ref in connector.list_documents()}
    unchanged = connector.fetch(after[kept], previous_version=before[kept])
    changed = connector.fetch(after[edited], previous_version=before[edited])

    assert before[kept] == after[kept].version == state.pages[kept]["last_edited_time"]
    assert before[edited] != after[edited].version
    assert isinstance(unchanged, NotModified)
    assert isinstance(changed, FetchedDocument)
    assert b"14 days" in changed.data and b"30 days" not in changed.data
    assert changed.ref.version == after[edited].version


# Faults ------------------------------------------------------------------------------------------------


def test_a_page_trashed_between_syncs_is_not_listed_and_fetches_as_gone(notion):
    url, state = notion
    keep = state.add_page("Onboarding", [paragraph("Day one.")])
    trashed = state.add_page("Old VPN guide", [paragraph("Use the old VPN.")])
    connector = connect(url, state)
    first = {ref.id: ref for ref in connector.list_documents()}
    state.trash(trashed)
    second = {ref.id for ref in connector.list_documents()}
    outcome = connector.fetch(first[trashed])
    assert second == {keep}
    assert isinstance(outcome, Gone) and outcome.ref.id == trashed
    assert "trash" in outcome.reason


def test_a_page_deleted_for_good_answers_404_and_fetches_as_gone(notion):
    url, state = notion
    state.add_page("Onboarding", [paragraph("Day one.")])
    gone = state.add_page("Old VPN guide", [paragraph("Use the old VPN.")])
    connector = connect(url, state)
    ref = next(ref for ref in connector.list_documents() if ref.id == gone)
    state.delete(gone)
    assert gone not in {r.id for r in connector.list_documents()}
    outcome = connector.fetch(ref)
    assert ("GET", f"/v1/pages/{gone}") in paths(state)
    assert isinstance(outcome, Gone) and "no longer shared" in outcome.reason


def test_an_invalid_or_expired_token_is_a_plain_error_that_needs_a_person(notion):
    url, state = notion
    state.add_page("Onboarding", [paragraph("Day one.")])
    connector = NotionConnector({"base_url": url, "delay": "0"}, {"token": "ntn_revoked_token_9999"})
    with pytest.raises(ConnectorError) as caught:
        list(connector.list_documents())
    error = caught.value
    assert not error.retryable and error.document_id is None
    assert "401 unauthorized" in error.reason and "invalid, expired or revoked" in error.reason
    assert "ntn_revoked_token_9999" not in error.reason and state.token not in error.reason


def test_no_token_is_refused_before_any_request(notion):
    url, state = notion
    with pytest.raises(ConnectorError, match="no integration token"):
        list(NotionConnector({"base_url": url}, {}).list_documents())
    assert state.requests == []


def test_a_rate_limit_is_waited_out_as_retry_after_asks(notion):
    url, state = notion
    state.add_page("Onboarding", [paragraph("Day one.")])
    state.rate_limited, state.retry_after = 1, "1"
    started = time.monotonic()
    refs = list(connect(url, state).list_documents())
    elapsed = time.monotonic() - started
    first, retried = state.requests[0], state.requests[1]
    assert len(refs) == 1
    assert elapsed >= 0.95  # the client waited the second Retry-After asked for
    assert first["path"] == retried["path"] == SEARCH and first["body"] == retried["body"]


def test_a_rate_limit_that_outlasts_the_retries_is_a_retryable_error(notion):
    url, state = notion
    state.add_page("Onboarding", [paragraph("Day one.")])
    state.rate_limited, state.retry_after = 10, "0"
    with pytest.raises(ConnectorError) as caught:
        list(connect(url, state, retries="2").list_documents())
    assert len(state.requests) == 3  # the first try and two retries
    assert caught.value.retryable and "429 rate_limited" in caught.value.reason


def test_a_server_error_is_retryable(notion):
    url, state = notion
    state.add_page("Onboarding", [paragraph("Day one.")])
    state.server_errors = 1
    with pytest.raises(ConnectorError) as caught:
        list(connect(url, state).list_documents())
    assert caught.value.retryable and "500 internal_server_error" in caught.value.reason


def test_an_unreachable_server_is_retryable():
    with socket.socket() as probe:  # a free port that nothing listens on once the socket is closed
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    connector = NotionConnector({"base_url": url, "delay": "0", "retries": "0"}, {"token": "ntn_x"})
    with pytest.raises(ConnectorError) as caught:
        list(connector.list_documents())
    assert caught.value.retryable and "could not reach Notion" in caught.value.reason


# Configuration -----------------------------------------------------------------------------------------


def test_the_connector_is_registered_and_checks_its_settings():
    assert connector_class("notion") is NotionConnector
    NotionConnector({"pages": "https://www.notion.so/Wiki-1f2e3d4c5b6a79880f1e2d3c4b5a6978"}).check_config()
    with pytest.raises(ConnectorError, match="no setting 'space'"):
        NotionConnector({"space": "ENG"}, {"token": "ntn_x"}).check_config()
    with pytest.raises(ConnectorError, match="not a Notion page URL"):
        NotionConnector({"pages": "Engineering wiki"})
    with pytest.raises(ConnectorError, match="not a number"):
        NotionConnector({"delay": "soon"}, {"token": "ntn_x"})


def test_an_edit_in_the_minute_of_a_sync_is_fetched_by_the_next_sync(notion):
    """Notion rounds last_edited_time to the minute: a recent time is a version that settles later."""
    url, state = notion
    page = state.add_page("Status", [paragraph("All systems normal.")])
    this_minute = datetime.now(UTC).replace(second=0, microsecond=0)
    state.pages[page]["last_edited_time"] = this_minute.strftime("%Y-%m-%dT%H:%M:00.000Z")
    first = next(iter(connect(url, state).list_documents()))
    # Edited again within the same minute: Notion reports the same time.
    state.edit(page, [paragraph("The VPN is down.")])
    state.pages[page]["last_edited_time"] = first.modified
    later = _version(first.modified, now=this_minute + timedelta(minutes=10))
    assert first.version != later == first.modified  # the sync after the window fetches it again
    assert _version("2026-11-02T09:01:00.000Z") == "2026-11-02T09:01:00.000Z"


def test_the_last_edit_is_the_date_the_indexer_reads():
    page = {"last_edited_time": "2026-11-02T09:01:00.000Z", "properties": {}}
    assert markdown_date(page_markdown(page, [], title="T").encode()) == "2026-11-02T09:01:00+00:00"


def test_pages_setting_lists_only_the_trees_under_those_pages(notion):
    url, state = notion
    wiki = state.add_page("Engineering wiki", [paragraph("Start here.")])
    runbook = state.add_page("Runbooks", [paragraph("Pager rota.")], parent=wiki)
    source = state.add_database("Services", parent=runbook)
    row = state.add_page("Billing API", [paragraph("Owned by payments.")], parent=source)
    state.add_page("Marketing plan", [paragraph("Launch in May.")])  # shared, but not under the wiki
    page_url = state.page_object(wiki)["url"] + "?pvs=4"
    listed = {ref.id for ref in connect(url, state, pages=page_url).list_documents()}
    assert listed == {wiki, runbook, row}
    assert not any(r["path"] == SEARCH for r in state.requests)  # walked from the root, not searched
    assert ("GET", f"/v1/databases/{state.data_sources[source]['database_id']}") in paths(state)

    state.delete(wiki)
    with pytest.raises(ConnectorError) as caught:
        list(connect(url, state, pages=page_url).list_documents())
    assert not caught.value.retryable and "setting 'pages'" in caught.value.reason

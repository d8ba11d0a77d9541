"""Channels, audiences and the audit log as an admin uses them, in Debian's headless Chromium at 1280 px."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from pipelines.samples import handbook_dir
from tests.admin.conftest import ARTIFACTS, Console
from tests.admin.test_browser import _log_in, browser  # noqa: F401 - the shared Chromium fixture

HANDBOOK = handbook_dir()

#: Words of a table's headers that the browser split over two lines (a header wrapped mid-word).
_BROKEN_HEADER_WORDS = """
table => {
  const broken = [];
  for (const th of table.querySelectorAll('th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(rect => Math.round(rect.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}
"""


def _fits_1280(table: Locator) -> None:
    """Every column's header is on screen in a 1280 px window, and no header word is broken."""
    headers = table.locator("th")
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280, (index, box)
    assert table.evaluate(_BROKEN_HEADER_WORDS) == []


def _text_input(page: Page, elem_id: str) -> Locator:
    return page.locator(f"#{elem_id} input, #{elem_id} textarea").first


def _error(page: Page, text: str) -> None:
    """A Gradio error toast with ``text`` appears; close it so it does not cover the next step."""
    toast = page.locator(".toast-body").filter(has_text=text)
    expect(toast.first).to_be_visible()
    page.wait_for_timeout(500)  # the toast fades in
    page.screenshot(path=str(ARTIFACTS / f"admin-error-{text.split()[0].lower()}-1280.png"))
    toast.first.locator(".toast-close").click()


@pytest.mark.slow
def test_admin_sets_audiences_channels_and_reads_the_audit_log_at_1280_px(
    console_factory: Callable[..., Console],
    browser: Browser,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    console = console_factory()
    service = console.service
    board = tmp_path / "board-minutes.md"
    board.write_text("# Board minutes\n\nThe board approved the acquisition of Example GmbH in March.\n")
    assert service.ingest_file(board, audience="usergroup:S0BOARD").status == "indexed"
    assert service.ingest_file(HANDBOOK / "leave-policy.md", tags=["hr"]).status == "indexed"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, console.url)

    # Sources: the audience column, and an audience changed in place.
    overview, sources = page.locator("#overview"), page.locator("#sources-table")
    expect(overview).to_contain_text("2 sources")
    board_row = sources.get_by_role("row").filter(has_text="board-minutes.md")
    expect(board_row).to_contain_text("usergroup:S0BOARD")
    expect(sources.get_by_role("row").filter(has_text="leave-policy.md")).to_contain_text("everyone")
    _fits_1280(sources)
    overview_box = overview.bounding_box()
    assert overview_box and overview_box["x"] + overview_box["width"] <= 1280
    board_row.get_by_role("gridcell").first.click()
    audience = _text_input(page, "source-audience")
    expect(audience).to_have_value("usergroup:S0BOARD")
    audience.fill("board members")
    page.locator("#source-audience-set").click()
    _error(page, "not an audience member")
    expect(audience).to_have_value("board members")  # what was typed stays, to correct it
    expect(board_row).to_contain_text("usergroup:S0BOARD")  # and nothing changed
    audience.fill("usergroup:S0BOARD, user:U0CHAIR")
    page.locator("#source-audience-set").click()
    expect(page.locator("#source-action-status")).to_contain_text("user:U0CHAIR, usergroup:S0BOARD")
    expect(board_row).to_contain_text("user:U0CHAIR, usergroup:S0BOARD")
    page.screenshot(path=str(ARTIFACTS / "admin-sources-audience-1280.png"), full_page=True)

    # Channels: a new channel typed by id; a bad user group is refused with the form kept; then saved.
    page.get_by_role("tab", name="Channels").click()
    picker = _text_input(page, "channel-picker")
    picker.fill("C0SUPPORT1")
    picker.press("Enter")  # a typed id is kept as the value; Show loads its settings
    page.locator("#channel-show").click()
    expect(page.locator("#channel-status")).to_contain_text("values from defaults")
    _text_input(page, "channel-name").fill("it-support")
    page.locator("#channel-followups").get_by_text("Mention only").click()
    page.locator("#channel-ephemeral input[type=checkbox]").check()
    tags = _text_input(page, "channel-tags")
    tags.fill("hr")
    tags.press("Enter")
    _text_input(page, "channel-escalation").fill("helpdesk")
    page.locator("#channel-save").click()
    _error(page, "Nothing was changed")
    assert service.channels.get("C0SUPPORT1").origin == "default"
    expect(_text_input(page, "channel-name")).to_have_value("it-support")
    expect(page.locator("#channel-ephemeral input[type=checkbox]")).to_be_checked()
    _text_input(page, "channel-escalation").fill("S0HELPDESK")
    page.locator("#channel-save").click()
    channels = page.locator("#channels-table")
    row = channels.get_by_role("row").filter(has_text="C0SUPPORT1")
    expect(row).to_contain_text("#it-support")
    expect(row).to_contain_text("mention-only")
    expect(row).to_contain_text("S0HELPDESK")
    stored = service.channels.get("C0SUPPORT1")
    assert (stored.followups, stored.ephemeral, stored.tags, stored.updated_by) == (
        "mention-only",
        True,
        ["hr"],
        "admin",
    )
    _fits_1280(channels)
    page.screenshot(path=str(ARTIFACTS / "admin-channels-1280.png"), full_page=True)
    page.locator("#channel-reset").click()
    expect(page.locator("#channel-status")).to_contain_text("Back to defaults")
    expect(channels.get_by_role("row").filter(has_text="C0SUPPORT1")).to_have_count(0)

    # Audit log: every change above, newest first, filtered by action, and the CSV of what is shown.
    page.get_by_role("tab", name="Audit log").click()
    audit = page.locator("#audit-table")
    expect(audit).to_contain_text("channel.unset")
    expect(audit).to_contain_text("source.audience")
    first = audit.get_by_role("row").nth(1)
    expect(first).to_contain_text("channel.unset")
    page.locator("#audit-action input").click()
    page.get_by_role("option", name="Source audience changed (source.audience)").click()
    expect(audit.get_by_role("row")).to_have_count(2)  # the header and the one change
    expect(audit).to_contain_text("usergroup:S0BOARD → user:U0CHAIR, usergroup:S0BOARD")
    _fits_1280(audit)
    page.screenshot(path=str(ARTIFACTS / "admin-audit-1280.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#audit-download").click()
    with open(download.value.path(), encoding="utf-8", newline="") as handle:
        exported = list(csv.DictReader(handle))
    board_id = next(s.source_id for s in service.list_sources() if s.file_name == "board-minutes.md")
    assert [(row["actor"], row["action"], row["target"]) for row in exported] == [
        ("admin", "source.audience", f"source {board_id}")
    ]
    context.close()


@pytest.mark.slow
def test_a_viewer_sees_only_sources_for_everyone_and_view_as_is_disabled(
    console_factory: Callable[..., Console],
    browser: Browser,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    """Issue 12 in the browser: a viewer's sources table and header count only the source for everyone,
    and the debugger's "view as" boxes are disabled, saying why."""
    console = console_factory()
    service = console.service
    board = tmp_path / "board-minutes.md"
    board.write_text("# Board minutes\n\nThe board approved the acquisition of Example GmbH in March.\n")
    assert service.ingest_file(board, audience="usergroup:S0BOARD").status == "indexed"
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    service.accounts.add("vera", "a long enough password", "viewer", actor="test")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, console.url, "vera", "a long enough password")
    sources = page.locator("#sources-table")
    expect(sources.get_by_role("row").filter(has_text="leave-policy.md")).to_have_count(1)
    expect(page.locator("#overview")).to_contain_text("1 source ·")
    expect(sources.get_by_role("row").filter(has_text="board-minutes.md")).to_have_count(0)
    page.get_by_role("tab", name="Retrieval debugger").click()
    for elem_id in ("debug-view-user", "debug-view-channel"):
        box = _text_input(page, elem_id)
        expect(box).to_be_disabled()
        expect(box).to_have_attribute("placeholder", re.compile("Editors and owners only"))
    page.screenshot(path=str(ARTIFACTS / "admin-viewer-debugger-1280.png"), full_page=True)
    context.close()

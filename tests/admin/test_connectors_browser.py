"""The Connectors tab in a real browser: a sync that needs confirmation, confirmed; sync now; the
Sources tab marks the connector's sources read-only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.admin.conftest import ARTIFACTS, Console
from tests.admin.test_browser import _log_in, browser, page  # noqa: F401 - the browser test's fixtures


@pytest.mark.slow
def test_an_editor_confirms_a_shrunken_sync_and_queues_another(
    console_factory: Callable[..., Console],
    page: Page,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    console = console_factory()
    root = tmp_path / "share"
    root.mkdir()
    for number in range(4):
        (root / f"memo-{number}.md").write_text(f"# Memo {number}\n\nThe memo number {number}.\n")
    connectors = console.service.connectors
    connectors.create("folder", "hr-share", {"path": str(root)}, interval=7200, actor="setup")
    assert connectors.sync("hr-share").added == 4
    for number in range(1, 4):
        (root / f"memo-{number}.md").unlink()
    assert connectors.sync("hr-share").status == "needs-confirmation"

    _log_in(page, console.url)
    page.get_by_role("tab", name="Connectors").click()
    table = page.locator("#connectors-table")
    expect(table).to_contain_text("needs confirmation")
    table.get_by_role("gridcell", name="hr-share").first.click()
    details = page.locator("#connector-details")
    expect(details).to_contain_text("Needs confirmation.")
    expect(details).to_contain_text("listed 1 document where the last good sync saw 4")
    history = page.locator("#connector-history")
    expect(history).to_contain_text("needs-confirmation")
    page.screenshot(path=str(ARTIFACTS / "admin-connectors.png"), full_page=True)

    page.get_by_role("button", name="Confirm removal").click()
    expect(page.locator("#connectors-status")).to_contain_text("removed 3 documents")
    expect(details).not_to_contain_text("Needs confirmation")
    assert len(console.service.list_sources()) == 1

    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#connectors-status")).to_contain_text("Queued a sync of")
    job = console.service.jobs.active_sync("hr-share")
    assert job is not None and job.submitted_by == "admin"
    actions = {entry.action for entry in console.service.audit.entries(actor="admin")}
    assert {"connector.confirm", "connector.sync"} <= actions

    page.get_by_role("tab", name="Sources").click()
    expect(page.locator("#sources-table")).to_contain_text("connector hr-share (read-only)")

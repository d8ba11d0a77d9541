"""The jobs panel in a real browser: a background upload shows up queued, then done without a click."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from pipelines.samples import handbook_dir
from tests.admin.conftest import Console
from tests.admin.test_browser import _log_in, browser, page  # noqa: F401 - the browser test's fixtures

HANDBOOK = handbook_dir()


@pytest.mark.slow
def test_a_background_upload_is_followed_live_until_indexed(
    console_factory: Callable[..., Console],
    page: Page,  # noqa: F811 - the imported fixture
) -> None:
    console = console_factory()
    _log_in(page, console.url)

    page.locator("#upload-files input[type=file]").set_input_files([str(HANDBOOK / "leave-policy.md")])
    page.locator("#upload-background").get_by_text("Index in the background").click()
    expect(page.get_by_role("button", name="Upload and index")).to_be_hidden()
    page.get_by_role("button", name="Upload and queue").click()
    jobs = page.locator("#jobs-table")
    expect(jobs).to_contain_text("queued")
    expect(page.locator("#upload-status")).to_contain_text("Queued 1 of 1")
    assert console.service.list_sources() == []

    assert console.service.ingest_worker().run_once() is not None  # the worker, as in `needle serve`
    # No click: the panel's timer notices, and the sources table follows once the job is done.
    expect(jobs).to_contain_text("done", timeout=10_000)
    expect(page.locator("#sources-table")).to_contain_text("Leave Policy", timeout=10_000)

"""An admin's visit in a real browser (Debian's headless Chromium): log in, upload, list, debug."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from pipelines.samples import handbook_dir
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, ARTIFACTS, Console

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "admin-debugger.png"
HANDBOOK = handbook_dir()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `bash scripts/install_system_deps.sh`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _log_in(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_test_id("textbox").fill(ADMIN_USER)
    page.get_by_test_id("password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_role("tab", name="Sources")).to_be_visible()


def test_admin_uploads_a_file_and_explains_an_answer_in_the_browser(
    console_factory: Callable[..., Console], page: Page, tmp_path: Path
) -> None:
    console = console_factory()
    for name in ("it-setup-guide.md", "emergency-procedures.txt", "performance-reviews.txt"):
        assert console.service.ingest_file(HANDBOOK / name, tags=["handbook"]).status == "indexed"
    markup = tmp_path / "bike-parking.txt"  # plain text keeps its angle brackets through conversion
    markup.write_text('Bike parking: <b id="injected">covered racks</b> in the basement garage.\n')
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(console.url)
    expect(page.get_by_role("tab", name="Sources")).to_have_count(0)  # nothing before the login
    _log_in(page, console.url)

    page.locator("#upload-files input[type=file]").set_input_files(
        [str(HANDBOOK / "leave-policy.md"), str(markup)]
    )
    page.get_by_role("button", name="Upload and index").click()
    results = page.locator("#upload-results")
    expect(results).to_contain_text("leave-policy.md")
    expect(results).to_contain_text("bike-parking.txt")
    expect(page.locator("#upload-status")).to_contain_text("2 indexed")
    sources = page.locator("#sources-table")
    expect(sources).to_contain_text("Leave Policy")
    expect(sources).to_contain_text("IT Set-up Guide")
    page.screenshot(path=str(ARTIFACTS / "admin-sources.png"), full_page=True)

    page.get_by_role("tab", name="Retrieval debugger").click()
    page.locator("#debug-question textarea").fill("How many vacation days can I carry over into next year?")
    page.locator("#debug-ask").click()
    bm25, dense = page.locator("#debug-bm25"), page.locator("#debug-dense")
    expect(bm25).to_contain_text("Leave Policy")
    expect(dense).to_contain_text("Leave Policy")
    expect(page.locator("#debug-fused")).to_contain_text("Fused score")
    expect(page.locator("#debug-prompt textarea")).to_have_value(re.compile("carry over into next year"))
    expect(page.locator("#debug-timings")).to_contain_text("total")
    trace_id = page.locator("#debug-trace-id textarea, #debug-trace-id input").first.input_value()
    assert len(trace_id) == 32
    page.screenshot(path=str(ARTIFACTS / "admin-debugger.png"), full_page=True)
    # The README's picture is refreshed on request only, so a test run leaves the working tree as it was.
    docs_view = (
        DOCS_SCREENSHOT if os.environ.get("NEEDLE_UPDATE_DOCS_SCREENSHOT") else ARTIFACTS / "admin-view.png"
    )
    docs_view.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#debug-heading").evaluate("heading => heading.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(docs_view), full_page=False)

    # A passage holding HTML is shown as the text it is, never rendered.
    page.locator("#debug-question textarea").fill("Where is the bike parking?")
    page.locator("#debug-ask").click()
    expect(bm25).to_contain_text('<b id="injected">covered racks</b>')
    expect(page.locator("#injected")).to_have_count(0)

    # Slack's "Debug this answer" link opens the first trace straight in the debugger.
    page.goto(f"{console.url}?trace={trace_id}")
    expect(page.get_by_role("tab", name="Retrieval debugger")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#debug-heading")).to_contain_text(trace_id)
    expect(bm25).to_contain_text("Leave Policy")
    page.screenshot(path=str(ARTIFACTS / "admin-trace-link.png"), full_page=True)

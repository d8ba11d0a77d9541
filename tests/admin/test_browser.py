"""An admin's visit in a real browser (Debian's headless Chromium): log in, upload, list, debug."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from admin import render
from admin.security import max_file_size
from admin.upload_guard import NOTE_ID
from pipelines.base.sizes import format_size
from pipelines.indexing.sources import source_id_for
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


def _log_in(page: Page, url: str, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    """Sign in on the console's sign-in page (admin/sign_in.py) and wait for the console."""
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # The console's page loads Gradio's app after the sign-in's redirect: on a loaded 2-core machine that
    # takes longer than expect's 5 s default.
    expect(page.get_by_role("tab", name="Sources")).to_be_visible(timeout=60_000)


@pytest.mark.slow
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
    # The docs' picture is refreshed on request only, so a test run leaves the working tree as it was.
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


def _sizes_in_order(page: Page) -> list[str]:
    """The Size column (the fifth) as the admin sees it, top to bottom."""
    cells = page.locator("#sources-table").get_by_role("gridcell").all_inner_texts()
    return [cell.strip() for cell in cells[4 :: len(render.SOURCE_HEADERS)]]


@pytest.mark.slow  # over 8 s: kept out of the 10-minute default suite; CI runs it with the slow tests
def test_upload_conflict_kept_tags_and_an_oversize_file_at_1280_px(
    console_factory: Callable[..., Console], browser: Browser, tmp_path: Path
) -> None:
    """An admin's selection holds a same-named document from another department, a file over the limit,
    one over Gradio's own ceiling and a new file; then a new version of a tagged document. Nothing is
    replaced without being asked, and the files too large are named by the browser while the others
    go on (Gradio used to throw the whole selection away for the one over its ceiling)."""
    console = console_factory(max_upload_mb=0.02)  # 20 KB; Gradio itself refuses only beyond 80 KB
    ours, theirs, oversize, fresh, update = (tmp_path / name for name in ("a", "b", "c", "d", "e"))
    for folder in (ours, theirs, oversize, fresh, update):
        folder.mkdir()
    (ours / "remote-work.md").write_text("# Remote work\n\nEngineers may work remotely three days a week.\n")
    (theirs / "remote-work.md").write_text(
        "# Remote work\n\n" + "Sales staff are in the office on Mondays and on the first Friday. " * 4
    )
    (oversize / "all-minutes.md").write_text("# Minutes\n\n" + "The board met and agreed. " * 1200)
    (oversize / "archive.md").write_text("# Archive\n\n" + "Old minutes kept for reference. " * 4000)
    assert (oversize / "archive.md").stat().st_size > max_file_size(console.service.settings)
    (fresh / "bike-parking.md").write_text("# Bike parking\n\nCovered racks are in the basement garage.\n")
    # Sizes from tens of bytes to kilobytes: sorted as text, "1.9 KB" would come before "61 B".
    travel = "# Travel\n\n" + "Book trains for trips under four hours; flights need approval. " * 30
    (update / "travel.md").write_text(travel + "\nUpdated for 2027.\n")
    (tmp_path / "travel.md").write_text(travel)
    assert console.service.ingest_file(ours / "remote-work.md", tags=["engineering"]).status == "indexed"
    assert console.service.ingest_file(tmp_path / "travel.md", tags=["travel", "finance"]).status == "indexed"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, console.url)
    overview, results, sources = (
        page.locator("#overview"),
        page.locator("#upload-results"),
        page.locator("#sources-table"),
    )
    expect(overview).to_contain_text("2 sources")

    page.locator("#upload-files input[type=file]").set_input_files(
        [
            str(theirs / "remote-work.md"),
            str(oversize / "all-minutes.md"),
            str(oversize / "archive.md"),
            str(fresh / "bike-parking.md"),
        ]
    )
    # The browser names the two files too large, in the page's unit, and keeps the other two.
    refused = page.locator(f"#{NOTE_ID}")
    minutes, archive = ((oversize / name).stat().st_size for name in ("all-minutes.md", "archive.md"))
    expect(refused).to_have_text(
        f"❌ Not sent, over the upload limit of 20 KB: all-minutes.md ({format_size(minutes)}), "
        f"archive.md ({format_size(archive)}). The other 2 file(s) were kept."
    )
    chosen = page.locator("#upload-files table tr")
    expect(chosen).to_have_count(2)
    expect(chosen.filter(has_text="bike-parking")).to_contain_text(
        format_size((fresh / "bike-parking.md").stat().st_size)  # the list's sizes in the same unit
    )
    expect(page.locator("#upload-files")).not_to_contain_text("all-minutes")
    expect(page.locator("[data-testid='toast-body']")).to_have_count(0)  # no "200.0 Mb" toast
    samples = [0, 61, 999, 1_946, 20_000, 999_999, 52_428_800, 55_012_345, 2_500_000_000]
    assert page.evaluate("sizes => sizes.map(window.needleFormatSize)", samples) == [
        format_size(size) for size in samples
    ]
    page.get_by_role("button", name="Upload and index").click()
    status = page.locator("#upload-status")
    expect(status).to_contain_text("1 indexed, 1 waiting for your decision")
    expect(results).to_contain_text("⚠️ same name")
    conflicts = page.locator("#conflict-text")
    expect(conflicts).to_be_visible()
    expect(conflicts).to_contain_text("already indexed")
    expect(overview).to_contain_text("3 sources")  # the header followed the upload
    assert "Engineers may work remotely" in " ".join(
        p.content for p in console.service.source_chunks(source_id_for("remote-work.md"))
    )
    page.screenshot(path=str(ARTIFACTS / "admin-upload-conflict-1280.png"), full_page=True)

    page.locator("#upload-title input, #upload-title textarea").first.fill("Remote work (Sales)")
    page.locator("#conflict-keep-both").click()
    expect(results).to_contain_text(f"{source_id_for('remote-work.md')}-2")
    expect(conflicts).to_be_hidden()
    expect(overview).to_contain_text("4 sources")
    expect(sources).to_contain_text("Remote work (Sales)")
    expect(sources).to_contain_text("engineering")

    # A new version of a tagged document, uploaded without tags: asked, replaced, tags kept.
    page.locator("#upload-title input, #upload-title textarea").first.fill("")
    page.locator("#upload-files input[type=file]").set_input_files([str(update / "travel.md")])
    page.get_by_role("button", name="Upload and index").click()
    expect(conflicts).to_be_visible()
    page.locator("#conflict-replace").click()
    expect(results).to_contain_text("🔁 replaced")
    travel_row = sources.get_by_role("row").filter(has_text="travel.md")
    expect(travel_row).to_contain_text("finance, travel")
    expect(overview).to_contain_text("4 sources")

    # Every column is on screen at 1280 px, and sizes sort by bytes, not as text.
    table_box, last_header = sources.bounding_box(), sources.locator("th").last.bounding_box()
    assert table_box and last_header and last_header["x"] + last_header["width"] <= table_box["x"] + 1280
    assert last_header["x"] + last_header["width"] <= 1280
    size_header = sources.locator("th").nth(4)
    size_header.hover()
    size_header.get_by_role("button", name="Open cell menu").click()
    page.get_by_role("menuitem", name="Sort ascending").click()
    shown = _sizes_in_order(page)
    as_bytes = [float(size.split()[0]) * (1000 if size.endswith("KB") else 1) for size in shown]
    assert as_bytes == sorted(as_bytes) and len(shown) == 4, shown
    page.screenshot(path=str(ARTIFACTS / "admin-sources-1280.png"), full_page=True)
    context.close()

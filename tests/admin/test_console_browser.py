"""Issue 22's console defects in a real browser (Debian's headless Chromium): notes instead of errors
for tabs a role may not use, the owners' Accounts tab, status lines that never go stale, toasts as text,
and tables that stay readable at 390 px."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from pipelines.base.sizes import format_size
from pipelines.samples import handbook_dir
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, ARTIFACTS, Console
from tests.admin.test_browser import browser  # noqa: F401 - the shared Chromium fixture

PASSWORD = "a long enough password"
HANDBOOK = handbook_dir()


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    """A 2-core machine shared by several test runs is slow: wait up to 15 s for the page (this
    module's tests only; Playwright's default is 5 s)."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def _page(browser: Browser, width: int = 1280) -> Page:  # noqa: F811 - the fixture's value
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def _sign_in(page: Page, url: str, username: str, password: str) -> None:
    """The console's own sign-in page (admin/sign_in.py), with more patience for argon2 on 2 cores."""
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="Sources")).to_be_visible(timeout=30_000)


def _open_tab(page: Page, name: str) -> None:
    """Open a tab; on a narrow screen Gradio moves the last tabs into a "…" menu."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.is_visible():
        tab.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.get_by_role("button", name=name, exact=True).click()


def _no_error_shown(page: Page) -> None:
    expect(page.get_by_test_id("toast-body")).to_have_count(0)
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)


@pytest.fixture(scope="module")
def staffed(console_factory: Callable[..., Console]) -> Console:
    """A console with two sources and a viewer, an editor and an owner besides the environment's login."""
    console = console_factory()
    for name in ("leave-policy.md", "it-setup-guide.md"):
        assert console.service.ingest_file(HANDBOOK / name, tags=["handbook"]).status == "indexed"
    for username, role in (("vera", "viewer"), ("ed", "editor"), ("olga", "owner")):
        console.service.accounts.add(username, PASSWORD, role, actor="setup")
    return console


@pytest.mark.slow
def test_a_viewer_reads_notes_not_errors_and_an_owner_manages_accounts(
    staffed: Console,
    browser: Browser,  # noqa: F811
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    viewer = _page(browser)
    _sign_in(viewer, staffed.url, "vera", PASSWORD)
    _open_tab(viewer, "Audit log")
    expect(viewer.locator("#audit-note")).to_contain_text("The audit log is for editors and owners")
    expect(viewer.locator("#audit-table")).to_be_hidden()
    _open_tab(viewer, "Accounts")
    expect(viewer.locator("#accounts-note")).to_contain_text("Accounts are managed by owners")
    expect(viewer.locator("#accounts-table")).to_be_hidden()
    _no_error_shown(viewer)
    viewer.screenshot(path=str(ARTIFACTS / "console-viewer-accounts.png"), full_page=True)

    # A refusal quoting what was typed is shown as text, never as markup.
    _open_tab(viewer, "Chunks")
    typed = '<img src=x id="injected">'
    viewer.locator("#chunks-source input").fill(typed)
    viewer.get_by_role("button", name="Show chunks").click()
    toast = viewer.get_by_test_id("toast-body")
    expect(toast).to_contain_text(typed)
    expect(viewer.locator("#injected")).to_have_count(0)
    viewer.context.close()

    editor = _page(browser)
    _sign_in(editor, staffed.url, "ed", PASSWORD)
    _open_tab(editor, "Audit log")
    expect(editor.locator("#audit-table")).to_contain_text("account.add")
    _open_tab(editor, "Accounts")
    expect(editor.locator("#accounts-note")).to_contain_text("Accounts are managed by owners")
    _no_error_shown(editor)
    editor.context.close()

    owner = _page(browser)
    _sign_in(owner, staffed.url, "olga", PASSWORD)
    _open_tab(owner, "Accounts")
    accounts = owner.locator("#accounts-table")
    expect(accounts).to_contain_text("vera")
    owner.locator("#account-username input, #account-username textarea").first.fill("pete")
    owner.locator("#account-password input").fill(PASSWORD)
    owner.locator("#account-add").click()
    expect(owner.locator("#account-status")).to_contain_text("Added pete as viewer")
    expect(accounts).to_contain_text("pete")
    expect(owner.locator("#account-password input")).to_have_value("")
    # Pick vera by her row, make her an editor.
    accounts.get_by_role("gridcell", name="vera", exact=True).click()
    expect(owner.locator("#account-username input, #account-username textarea").first).to_have_value("vera")
    owner.locator("#account-role input").fill("editor")
    owner.keyboard.press("Enter")
    owner.locator("#account-set-role").click()
    expect(owner.locator("#account-status")).to_contain_text("vera is now editor")
    assert staffed.service.accounts.get("vera").role == "editor"
    owner.locator("#account-remove").click()
    owner.locator("#account-confirm-remove").click()
    expect(owner.locator("#account-status")).to_contain_text("Removed the account vera")
    expect(accounts).not_to_contain_text("vera")
    _no_error_shown(owner)
    owner.screenshot(path=str(ARTIFACTS / "console-owner-accounts.png"), full_page=True)
    actions = [(e.actor, e.action) for e in staffed.service.audit.entries(limit=3)]
    assert actions == [("olga", "account.remove"), ("olga", "account.role"), ("olga", "account.add")]
    owner.context.close()


@pytest.mark.slow
def test_status_lines_say_what_is_true_now(
    staffed: Console,
    browser: Browser,  # noqa: F811
) -> None:
    service = staffed.service
    page = _page(browser)
    _sign_in(page, staffed.url, ADMIN_USER, ADMIN_PASSWORD)
    action_status, upload_status = page.locator("#source-action-status"), page.locator("#upload-status")

    # Set audience: a success, then a typo. The typo's refusal is a toast; no red badge covers the line,
    # which still says what is true (the typo changed nothing).
    page.locator("#sources-table").get_by_role("gridcell", name="Leave Policy", exact=True).click()
    audience = page.locator("#source-audience input, #source-audience textarea").first
    expect(audience).to_have_value("everyone")  # the picked source's audience, filled in
    audience.fill("channel:C0HR00001")
    page.locator("#source-audience-set").click()
    expect(action_status).to_contain_text("is now visible to")
    audience.fill("the whole of HR")
    page.locator("#source-audience-set").click()
    expect(page.get_by_test_id("toast-body")).to_contain_text("channel:")
    expect(action_status).to_contain_text("is now visible to: channel:C0HR00001")
    expect(action_status.get_by_text("Error", exact=True)).to_have_count(0)
    page.get_by_test_id("toast-body").get_by_role("button").first.click()  # close the toast

    # An upload refused by its form writes no "starting…"; a good one ends with its summary.
    page.locator("#upload-files input[type=file]").set_input_files(
        [str(HANDBOOK / "emergency-procedures.txt"), str(HANDBOOK / "performance-reviews.txt")]
    )
    page.locator("#upload-title input, #upload-title textarea").first.fill("One title for two files")
    page.get_by_role("button", name="Upload and index").click()
    expect(page.get_by_test_id("toast-body")).to_contain_text("A title or URL describes one document")
    expect(upload_status).not_to_contain_text("starting")
    expect(upload_status.get_by_text("Error", exact=True)).to_have_count(0)
    page.locator("#upload-title input, #upload-title textarea").first.fill("")
    page.get_by_role("button", name="Upload and index").click()
    expect(upload_status).to_contain_text("2 indexed.")
    expect(upload_status).not_to_contain_text("starting")

    # A retried job: "queued again" gives way to how it ended once a worker finishes it.
    job = service.jobs.submit("notes.md", b"# Notes\n\nSome words.\n", submitted_by=ADMIN_USER)
    service.jobs.cancel(job.job_id, actor=ADMIN_USER)
    page.locator("#jobs-refresh").click()
    page.locator("#job-picker input, #job-picker textarea").first.fill(job.job_id)
    page.locator("#job-retry").click()
    jobs_status = page.locator("#jobs-status")
    expect(jobs_status).to_contain_text("is queued again")
    service.jobs.finish(service.jobs.get(job.job_id), "done", result={"chunks": 1})
    expect(jobs_status).to_contain_text(f"done: job {job.job_id}")
    expect(jobs_status).not_to_contain_text("queued again")
    page.context.close()


def _visible_headers(page: Page, elem_id: str) -> list[str]:
    headers = [cell for cell in page.locator(f"#{elem_id} th[data-heading]").all() if cell.is_visible()]
    return [cell.inner_text().strip() for cell in headers]


@pytest.mark.slow
def test_tables_at_390_px_show_the_columns_that_matter_and_the_rest_in_the_row_detail(
    staffed: Console,
    browser: Browser,  # noqa: F811
) -> None:
    service = staffed.service
    service.jobs.submit("notes.md", b"# Notes\n\nSome words.\n", submitted_by=ADMIN_USER)
    page = _page(browser, width=390)
    _sign_in(page, staffed.url, ADMIN_USER, ADMIN_PASSWORD)
    sources = page.locator("#sources-table")
    expect(sources).to_contain_text("Leave Policy")
    assert _visible_headers(page, "sources-table") == ["Title", "Audience"]
    assert _visible_headers(page, "jobs-table") == ["File", "Status", "Progress"]
    # The title cell is wide enough to read (it was one character per line), its header above it.
    title_cell = sources.get_by_role("gridcell", name="Leave Policy", exact=True)
    cell_box = title_cell.bounding_box()
    header_box = sources.locator('th[data-heading="0"]').bounding_box()
    assert cell_box and header_box and cell_box["width"] > 150
    assert abs(cell_box["width"] - header_box["width"]) < 4 and abs(cell_box["x"] - header_box["x"]) < 4
    detail = page.locator("#sources-table-detail")
    title_cell.click()
    expect(detail).to_contain_text("File name: leave-policy.md")
    size = next(s.size_bytes for s in service.list_sources() if s.file_name == "leave-policy.md")
    expect(detail).to_contain_text(f"Size: {format_size(size)}")
    expect(detail).to_contain_text("Source id: leave-policy-")
    page.screenshot(path=str(ARTIFACTS / "console-sources-390.png"), full_page=True)

    _open_tab(page, "Retrieval debugger")
    page.locator("#debug-question textarea").fill("How many vacation days can I carry over?")
    page.locator("#debug-ask").click()
    expect(page.locator("#debug-bm25")).to_contain_text("Leave Policy")
    assert _visible_headers(page, "debug-bm25") == ["Rank", "Source", "Text"]
    assert _visible_headers(page, "debug-fused") == ["Rank", "Source", "Text"]
    page.locator("#debug-fused").get_by_role("gridcell").first.click()
    expect(page.locator("#debug-fused-detail")).to_contain_text("BM25 rank:")
    page.screenshot(path=str(ARTIFACTS / "console-debugger-390.png"), full_page=True)
    page.context.close()

    # At desktop width every column shows and there is no detail box.
    wide = _page(browser, width=1280)
    _sign_in(wide, staffed.url, ADMIN_USER, ADMIN_PASSWORD)
    expect(wide.locator("#sources-table")).to_contain_text("Leave Policy")
    assert len(_visible_headers(wide, "sources-table")) == 10
    wide.locator("#sources-table").get_by_role("gridcell", name="Leave Policy", exact=True).click()
    expect(wide.locator("#sources-table-detail")).to_be_hidden()
    wide.context.close()

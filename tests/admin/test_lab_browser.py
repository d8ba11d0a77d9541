"""The retrieval lab's loop in a real browser (Debian's headless Chromium) at 1280 px: a 👎 in the
feedback tab becomes a test case, a candidate is compared, promoted and rolled back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from pipelines.records.audience import ADMIN
from pipelines.service.facade import NeedleService
from tests.admin.conftest import ARTIFACTS, Console
from tests.admin.test_browser import CHROMIUM, CHROMIUM_ARGS, _log_in
from tests.conftest import HANDBOOK, make_settings

QUESTION = "Can I bring my bike to work?"


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
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _pick(page: Page, elem_id: str, typed: str, option: str) -> None:
    """Type into a searchable dropdown and choose the option that shows up."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(typed)
    page.get_by_role("option").filter(has_text=option).first.click()


@pytest.mark.slow
def test_a_thumbs_down_becomes_a_case_and_a_candidate_is_compared_promoted_and_rolled_back(
    console_factory: Callable[..., Console], page: Page
) -> None:
    console = console_factory()
    service = console.service
    for name in ("office-facilities.html", "leave-policy.md", "it-setup-guide.md"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    answer = service.ask(QUESTION, origin="slack", user_id="U0ANN")
    service.record_feedback(answer.trace_id, "down", user_id="U0ANN", reason="where do the bikes go?")
    trace = service.get_trace(answer.trace_id)
    firsts = {trace["bm25"][0]["id"], trace["dense"][0]["id"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _log_in(page, console.url)

    # 👎 in the feedback tab -> "Add as a test case" -> the lab's form, on the question.
    page.get_by_role("tab", name="Feedback").click()
    table = page.locator("#feedback-table")
    expect(table).to_contain_text("where do the bikes go?")
    table.get_by_role("gridcell", name="where do the bikes go?").click()
    expect(page.locator("#feedback-selected input, #feedback-selected textarea").first).to_have_value(
        answer.trace_id
    )
    page.locator("#feedback-add-case").click()
    expect(page.get_by_role("tab", name="Retrieval lab")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#lab-question textarea")).to_have_value(QUESTION)
    # The right passage is a chunk neither retriever ranks first; the admin pastes its id.
    chunk = next(p.id for p in answer.passages if p.id not in firsts)
    page.get_by_label("…or these chunk ids (comma-separated)").fill(chunk)
    _pick(page, "lab-source", "office", "office-facilities.html")
    page.locator("#lab-add").click()
    expect(page.locator("#lab-status")).to_contain_text("Added case")
    expect(page.locator("#lab-cases")).to_contain_text(QUESTION)
    case = service.cases.list()[0]
    assert (case.origin, case.trace_id, case.added_by) == ("feedback", answer.trace_id, "admin")
    assert case.expected_chunks == [chunk] and case.note == "where do the bikes go?"

    # Compare a candidate that loses the case: flagged, and promotion is refused until confirmed.
    page.locator("#lab-candidate input, #lab-candidate textarea").first.fill("bm25_top_k=1,dense_top_k=1")
    page.locator("#lab-compare").click()
    expect(page.locator("#lab-outcomes")).to_contain_text("LOST")
    expect(page.locator("#lab-metrics")).to_contain_text("ndcg@10")
    expect(page.locator("#lab-metrics")).to_contain_text("hit@5")
    expect(page.locator("#lab-summary")).to_contain_text("1 case(s) lost")
    page.screenshot(path=str(ARTIFACTS / "admin-lab-compare-1280.png"), full_page=True)

    # The lost case's run under the candidate is a link (as the browser resolves it) to the debugger.
    link = page.locator("#lab-outcomes a[href*='trace=']").nth(1)  # the first row's candidate trace
    resolved = link.evaluate("a => a.href")
    candidate_trace = re.search(r"[?&]trace=(\w+)", resolved).group(1)
    assert service.get_trace(candidate_trace)["context"] == {
        "case_id": case.case_id,
        "configuration": "candidate",
    }
    traced = page.context.new_page()
    traced.goto(resolved)
    expect(traced.locator("#debug-heading")).to_contain_text(candidate_trace)
    expect(traced.locator("#debug-heading")).to_contain_text("compare")
    traced.close()

    page.locator("#lab-note-promote input, #lab-note-promote textarea").first.fill("one candidate each")
    page.locator("#lab-promote").click()
    expect(page.get_by_text("confirm to promote it anyway").first).to_be_visible()
    assert service.configs.live() is None
    page.locator("#lab-confirm input").check()
    page.locator("#lab-promote").click()
    expect(page.locator("#lab-status")).to_contain_text("Promoted")
    expect(page.locator("#lab-confirm input")).not_to_be_checked()  # a confirmation is for one promotion
    promoted = service.configs.live()
    assert promoted is not None and promoted.promoted_by == "admin" and promoted.values["bm25_top_k"] == 1
    expect(page.locator("#lab-live")).to_contain_text(promoted.config_id)
    expect(page.locator("#lab-history")).to_contain_text("one candidate each")

    # The next answer, in another service on the same data directory, uses it.
    other = NeedleService(make_settings(service.settings.data_dir))
    try:
        after = other.get_trace(other.ask(QUESTION, viewer=ADMIN).trace_id)
        assert after["retrieval_config"] == promoted.config_id
        assert after["settings"]["bm25_top_k"] == 1 and len(after["bm25"]) == 1

        # One click rolls back (the environment's defaults are the pick after a first promotion).
        page.locator("#lab-rollback").click()
        expect(page.locator("#lab-status")).to_contain_text("Rolled back")
        page.locator("#lab-history").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "admin-lab-rollback-1280.png"), full_page=True)
        live = service.configs.live()
        assert live is not None and live.values == {} and live.rolled_back_from == "default"
        back = other.get_trace(other.ask(QUESTION, viewer=ADMIN).trace_id)
        assert back["retrieval_config"] == live.config_id and back["settings"]["bm25_top_k"] == 200
    finally:
        other.close()

    # The debugger on the same answer: full fused ranking, the source found in every list, and why.
    page.goto(f"{console.url}?trace={answer.trace_id}")
    expect(page.locator("#debug-heading")).to_contain_text(answer.trace_id)
    full = page.locator("#debug-fused-full")
    expect(full).to_contain_text("Harbour House")
    expect(page.locator("#debug-fusion-note")).to_contain_text("Both lists were fused")
    page.get_by_role("tab", name="Retrieval debugger").click()
    _pick(page, "debug-find-source", "office", "office-facilities.html")
    page.locator("#debug-find").click()
    expect(page.locator("#debug-why textarea")).to_have_value(__import__("re").compile("fused rank"))
    page.locator("#debug-fused-full").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "admin-debugger-why-1280.png"), full_page=True)

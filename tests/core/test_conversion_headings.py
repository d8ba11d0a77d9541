"""``is_heading`` and ``is_list_item`` on the sample handbook's real headings, list items and sentences."""

from __future__ import annotations

import re

import pytest

from pipelines.indexing.components.pdf_converter import LayoutPdfToDocument
from pipelines.text.basics import is_heading, is_list_item
from tests.conftest import HANDBOOK

MARKDOWN_FILES = ["leave-policy.md", "leave-policy-zh.md", "it-setup-guide.md"]

# Headings as the converters emit them (Markdown and DOCX lose their styling, PDFs their fonts).
CONVERTED_HEADINGS = [
    "2.3 Sick pay",
    "3.3 Eligibility and notice",
    "1.1 Entitlement",
    "4. Other leave",
    "1. Vacation (paid annual leave)",
    "三、育儿假",
    "一、带薪年假",
    "1. 年假天数",
    "Health insurance",
    "Benefits at a glance",
    "How many days can I work remotely?",
    "Public Holidays and Office Closures 2027 (Ireland)",
    "Company closure days",
    "五、常见问题",
    "提示错误代码 AUTH-407，怎么办？",
    "1. EMERGENCY NUMBERS",
    "Why we review performance",
    "Location Maximum per night",  # a table header as pypdf's plain mode reads it
]
PDF_HEADINGS = {
    "travel-and-expenses-policy.pdf": [
        "1. Purpose and scope",
        "3. How to book",
        "5. Hotels and accommodation",
        "10. Booking flights",
        "14. Meals while travelling",
        "16. What is not reimbursed",
    ],
    "information-security-policy.pdf": ["3. Multi-factor authentication (MFA)", "7. Classifying information"],
    "code-of-conduct.pdf": ["4. Alcohol and company events", "10. Breaches of the Code"],
}
STATEMENTS = [
    "Full-time employees get 25 vacation days (paid annual leave) per calendar year.",
    "Owner: Health & Safety Officer, Workplace & Facilities team",
    "Last reviewed: September 2026",
    "Thursday: Acme 101",  # a label with a value states a fact, even where it titles a section
    "Version 3.1 - effective 1 January 2027 - Owner: Finance Director",
    "Location: London, Paris, New York, Zurich, Tokyo; Maximum per night: 240 EUR.",
    "240 EUR",
    "2027",
    "If breakfast is included in your hotel rate, the daily limit is 45",
    "You need the VPN to reach internal systems such as the",
    "每位全职员工每年享有25天带薪年假（按自然年计算）。",
    "| Location | Maximum per night |",
]
LIST_ITEMS = [
    "- Laptop",
    "• Monitor",
    "* Mid-year check-in (July).",
    "1. Do X",
    "1. Open AppShelf (the self-service software catalogue) and install Acme Connect.",
    "2. Peer feedback: your manager requests feedback from 3 to 5 colleagues",
    "3. Sign in with your AcmeID",
    "1) Select the dates",
    "(a) a written request",
    "- when travelling between 22:00 and 06:00;",
    "1、登录 PeopleHub",
]


@pytest.mark.parametrize("line", CONVERTED_HEADINGS)
def test_converted_headings_are_headings_and_not_list_items(line: str) -> None:
    assert is_heading(line)
    assert not is_list_item(line)


@pytest.mark.parametrize("file_name", MARKDOWN_FILES)
def test_every_markdown_heading_of_the_handbook_is_a_heading(file_name: str) -> None:
    text = (HANDBOOK / file_name).read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert len(headings) >= 8
    for line in headings:
        assert is_heading(line), line  # with its "#"
        converted = line.lstrip("#").strip()  # as the Markdown converter leaves it
        assert is_heading(converted) or ": " in converted, line


@pytest.mark.parametrize("file_name", MARKDOWN_FILES)
def test_every_markdown_list_item_of_the_handbook_is_a_list_item_not_a_heading(file_name: str) -> None:
    text = (HANDBOOK / file_name).read_text(encoding="utf-8")
    items = [line for line in text.splitlines() if re.match(r"(?:- |\d+\. )", line)]
    assert len(items) >= 5
    for line in items:
        assert is_list_item(line), line
        assert not is_heading(line), line


@pytest.mark.parametrize("file_name", sorted(PDF_HEADINGS))
def test_pdf_section_headings_are_headings(file_name: str) -> None:
    """Numbered PDF headings ("1. Purpose and scope") look like numbered list items ("1. Do X")."""
    document = LayoutPdfToDocument().run(sources=[HANDBOOK / file_name])["documents"][0]
    lines = {line.strip() for line in (document.content or "").splitlines()}
    for heading in PDF_HEADINGS[file_name]:
        assert heading in lines  # the heading is a line of its own in the real file
        assert is_heading(heading), heading
        assert not is_list_item(heading), heading


@pytest.mark.parametrize("line", STATEMENTS)
def test_statements_figures_and_rows_are_not_headings(line: str) -> None:
    assert not is_heading(line)
    assert not is_list_item(line)


@pytest.mark.parametrize("line", LIST_ITEMS)
def test_list_items_are_never_headings(line: str) -> None:
    assert is_list_item(line)
    assert not is_heading(line)


def test_markdown_rules_and_emphasis_are_not_list_items() -> None:
    assert not is_list_item("---")
    assert not is_list_item("**Bold label**")
    assert not is_heading("")

"""A small company's Google Drive for the connector's tests: who works there, what they share, with whom.

Policies (owner bob) hold a Doc shared with the company's domain, a Sheet, Slides, a PDF and an image;
an HR folder is restricted to the HR group and carol, and its files inherit that; a Doc is shared with a
partner's domain; a shared drive belongs to the eng group (with a nested group) and holds a public Doc.
"""

from __future__ import annotations

from typing import Any

from pipelines.connectors.gdrive import GOOGLE_DOC, GOOGLE_SHEET, GOOGLE_SLIDES, XLSX
from pipelines.samples import handbook_dir
from tests.support.fake_gdrive import FOLDER, FakeDriveState, FakeFile
from tests.support.xlsx_files import build_xlsx

DOMAIN = "acme.example"


def doc_html(title: str, text: str) -> bytes:
    """A Google Doc as Drive's ``text/html`` export shapes it: a whole page with a style block, a title
    paragraph and the text in classed paragraphs and spans."""
    return (
        '<html><head><meta content="text/html; charset=UTF-8" http-equiv="content-type">'
        "<style>.c0{font-size:11pt}.title{font-size:26pt}</style></head>"
        f'<body class="c3 doc-content"><p class="title"><span class="c0">{title}</span></p>'
        f'<p class="c1"><span class="c0">{text}</span></p></body></html>'
    ).encode()


def doc_exports(title: str, text: str, table: str = "") -> dict[str, bytes]:
    """A Google Doc's exports: Markdown (``table`` as a pipe table, as Drive writes one) and HTML."""
    markdown = f"# {title}\n\n{text}\n\n{table}".encode()
    return {"text/markdown": markdown, "text/html": doc_html(title, text)}


RUNBOOK_HTML = doc_html("Runbook", "Page the on-call SRE when the checkout error rate passes two percent.")
CODE_OF_CONDUCT_PDF = (handbook_dir() / "code-of-conduct.pdf").read_bytes()


class Directory:
    """A small in-test people directory: the emails Slack knows, as Slack user ids."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.lookups: list[str] = []

    def slack_user(self, email: str) -> str | None:
        self.lookups.append(email)
        return self.users.get(email)


PEOPLE = {
    "alice@acme.example": "U0ALICE",
    "bob@acme.example": "U0BOB",
    "carol@acme.example": "U0CAROL",
    "dave@acme.example": "U0DAVE",
    "frank@acme.example": "U0FRANK",
    # erin@acme.example has no Slack account: unmapped.
}


def user(email: str, role: str = "reader") -> dict[str, Any]:
    return {"id": f"perm-{email}", "type": "user", "emailAddress": email, "role": role}


def group(email: str) -> dict[str, Any]:
    return {"id": f"perm-{email}", "type": "group", "emailAddress": email, "role": "reader"}


def domain(name: str) -> dict[str, Any]:
    return {
        "id": f"perm-domain-{name}",
        "type": "domain",
        "domain": name,
        "role": "reader",
        "allowFileDiscovery": True,
    }


ANYONE = {"id": "anyoneWithLink", "type": "anyone", "role": "reader", "allowFileDiscovery": False}
BUDGET_XLSX = build_xlsx(
    [
        (
            "Travel",
            [["Region", "Budget", "Approved"], ["EMEA", 40000, ("date", 46357)], ["APAC", 25000.5, "no"]],
        ),
        ("Hardware", [["Item", "Limit"], ["Laptop", 1800]]),
    ]
)


def populate(state: FakeDriveState) -> None:
    """A company Drive: a policies folder (owner bob) with a doc shared with the domain, a sheet, slides, a
    PDF and an image; an HR subfolder restricted to the HR group and carol (inherited by its files); a
    doc shared with a partner's domain; a shared drive of the eng group with a public doc."""
    state.add(
        FakeFile("fold-policies", "Policies", FOLDER, [], permissions=[user("bob@acme.example", "owner")])
    )
    state.add(
        FakeFile(
            "doc-travel",
            "Travel policy",
            GOOGLE_DOC,
            ["fold-policies"],
            permissions=[domain(DOMAIN)],
            exports=doc_exports(
                "Travel policy",
                "Hotels are paid up to 180 EUR a night in every city. Book them through the travel desk.",
                "| City | Limit |\n| :---- | :---- |\n| London | 240 EUR |\n| Paris | 200 EUR |\n",
            ),
        )
    )
    state.add(
        FakeFile("sheet-budget", "Budgets 2027", GOOGLE_SHEET, ["fold-policies"], exports={XLSX: BUDGET_XLSX})
    )
    state.add(
        FakeFile(
            "slides-kickoff",
            "Kickoff",
            GOOGLE_SLIDES,
            ["fold-policies"],
            exports={"text/plain": b"Kickoff\nThe offsite is in Lisbon."},
        )
    )
    state.add(
        FakeFile(
            "pdf-code",
            "Code of conduct.pdf",
            "application/pdf",
            ["fold-policies"],
            content=CODE_OF_CONDUCT_PDF,
        )
    )
    state.add(FakeFile("img-logo", "logo.png", "image/png", ["fold-policies"], content=b"\x89PNG"))
    state.add(
        FakeFile(
            "fold-hr",
            "HR",
            FOLDER,
            ["fold-policies"],
            permissions=[group("hr@acme.example"), user("carol@acme.example")],
        )
    )
    state.add(
        FakeFile(
            "doc-salaries",
            "Salary bands",
            GOOGLE_DOC,
            ["fold-hr"],
            exports=doc_exports(
                "Salary bands",
                "The L5 salary band tops at 151,000 EUR a year. Bands are reviewed every April by HR.",
            ),
        )
    )
    state.add(
        FakeFile(
            "doc-partner",
            "Partner terms",
            GOOGLE_DOC,
            ["fold-policies"],
            permissions=[domain("partner.example")],
            exports=doc_exports("Partner terms", "Partners are paid within 45 days of an approved invoice."),
        )
    )
    state.drives["drive-eng"] = [group("eng@acme.example")]
    state.add(
        FakeFile(
            "doc-runbook",
            "Runbook",
            GOOGLE_DOC,
            ["drive-eng"],
            drive_id="drive-eng",
            exports={"text/html": RUNBOOK_HTML},  # no Markdown export: the HTML fallback
        )
    )
    state.add(
        FakeFile(
            "doc-public",
            "Press kit",
            GOOGLE_DOC,
            ["drive-eng"],
            drive_id="drive-eng",
            permissions=[ANYONE],
            exports=doc_exports("Press kit", "Our logo may be used on a white background only."),
        )
    )
    state.groups["hr@acme.example"] = [
        {"email": "dave@acme.example", "type": "USER"},
        {"email": "erin@acme.example", "type": "USER"},
    ]
    state.groups["eng@acme.example"] = [
        {"email": "alice@acme.example", "type": "USER"},
        {"email": "sre@acme.example", "type": "GROUP"},
    ]
    state.groups["sre@acme.example"] = [{"email": "frank@acme.example", "type": "USER"}]

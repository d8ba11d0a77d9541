"""The Google Drive connector with the real google-api-python-client and google-auth against a local server
that speaks Drive v3's documented REST API and Google's OAuth token endpoint (tests/support/fake_gdrive.py).

The request paths each test expects are Drive's documented ones (Drive API v3 reference, "REST Resource"
pages, and the discovery document the client library ships), not read from the client's code:

- ``GET  /drive/v3/changes/startPageToken``            changes.getStartPageToken
- ``GET  /drive/v3/changes?pageToken=...``             changes.list (``nextPageToken``, ``newStartPageToken``)
- ``GET  /drive/v3/files?q='ID' in parents and trashed = false``  files.list (``pageToken`` pagination)
- ``GET  /drive/v3/files?corpora=drive&driveId=...``   files.list over a shared drive
- ``GET  /drive/v3/files/ID``                          files.get (``alt=media``: the file's bytes)
- ``GET  /drive/v3/files/ID/export?mimeType=...``      files.export (Docs editors files only)
- ``GET  /drive/v3/files/ID/permissions``              permissions.list
- ``GET  /admin/directory/v1/groups/KEY/members``      Admin SDK Directory members.list
- ``POST /token``                                      the key file's token_uri (JWT bearer grant, RFC 7523)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.connectors.base import ConnectorError, Gone, connector_class
from pipelines.connectors.gdrive import GOOGLE_DOC, XLSX, GoogleDriveConnector
from pipelines.connectors.spreadsheet_tables import SpreadsheetError, csv_to_markdown, workbook_to_markdown
from tests.connectors.gdrive_world import (
    CODE_OF_CONDUCT_PDF,
    DOMAIN,
    PEOPLE,
    RUNBOOK_HTML,
    Directory,
    group,
    populate,
    user,
)
from tests.support.fake_gdrive import FOLDER, FakeDriveState, FakeFile, fake_gdrive
from tests.support.xlsx_files import build_xlsx


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[tuple[str, FakeDriveState, Path]]:
    with fake_gdrive(tmp_path) as (url, state, key_file):
        populate(state)
        yield url, state, key_file


def connector(
    drive: tuple[str, FakeDriveState, Path], state: dict[str, Any] | None = None, **settings: str
) -> GoogleDriveConnector:
    url, _, key_file = drive
    config = {
        "folders": "fold-policies",
        "drives": "drive-eng",
        "domain": DOMAIN,
        "api_root": url,
        "admin_email": "admin@acme.example",
        **settings,
    }
    made = GoogleDriveConnector(
        config, {"service_account_file": str(key_file)}, Directory(PEOPLE), state=state
    )
    made.apis.sleep = SLEEPS.append
    return made


SLEEPS: list[float] = []


@pytest.fixture(autouse=True)
def _no_real_sleeps() -> None:
    SLEEPS.clear()


def by_id(refs: Any) -> dict[str, Any]:
    return {ref.id: ref for ref in refs}


def test_the_connector_is_registered_and_checks_its_settings(tmp_path: Path) -> None:
    assert connector_class("gdrive") is GoogleDriveConnector
    refusals = {
        "need --set folders=ID1,ID2 or --set drives": {"domain": DOMAIN},
        "have no setting 'folder'": {"folders": "x", "folder": "y"},
        "max_file_mb must be a positive number": {"folders": "x", "max_file_mb": "lots"},
        "admin_email must be an email address": {"folders": "x", "admin_email": "admin"},
    }
    for reason, settings in refusals.items():
        with pytest.raises(ConnectorError, match=reason):
            GoogleDriveConnector(settings).check_config()
        with pytest.raises(ConnectorError, match=reason):  # and never a listing that could look empty
            list(GoogleDriveConnector(settings).list_documents())
    GoogleDriveConnector({"folders": "x", "drives": "y", "max_file_mb": "2.5"}).check_config()
    with pytest.raises(ConnectorError, match="no service account key"):
        list(GoogleDriveConnector({"folders": "x"}).list_documents())
    bad = tmp_path / "key.json"
    bad.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    with pytest.raises(ConnectorError, match="is not a service account's JSON key"):
        list(GoogleDriveConnector({"folders": "x"}, {"service_account_file": str(bad)}).list_documents())


def test_first_sync_lists_every_readable_file_with_who_may_see_it(drive: Any) -> None:
    _, state, _ = drive
    refs = by_id(connector(drive).list_documents())

    assert set(refs) == {
        "doc-travel",
        "sheet-budget",
        "slides-kickoff",
        "pdf-code",
        "doc-salaries",
        "doc-partner",
        "doc-runbook",
        "doc-public",
    }  # the image is not synced
    travel = refs["doc-travel"]
    assert travel.audience == ("everyone",)  # shared with the company's domain
    assert travel.url == "https://drive.google.com/document/d/doc-travel/view"
    assert travel.version == travel.modified == "2026-11-01T09:00:00.000Z"
    # Restricted, inherited from the HR folder (group hr expanded: dave mapped, erin not) and from the root.
    assert refs["doc-salaries"].audience == ("user:U0BOB", "user:U0CAROL", "user:U0DAVE")
    assert refs["doc-salaries"].unmapped == ("erin@acme.example",)
    # Another company's domain grants nothing; only the owner remains.
    assert refs["doc-partner"].audience == ("user:U0BOB",)
    assert refs["doc-partner"].unmapped == ("domain:partner.example",)
    # A shared drive's members (a group with a nested group) read its files; "anyone with the link": everyone.
    assert refs["doc-runbook"].audience == ("user:U0ALICE", "user:U0FRANK")
    assert refs["doc-public"].audience == ("everyone",)

    paths = state.paths()
    assert paths.count("/drive/v3/changes/startPageToken") == 2  # the user corpus and the shared drive
    assert "/drive/v3/files/fold-policies" in paths
    assert "/drive/v3/files/doc-salaries/permissions" in paths
    assert "/admin/directory/v1/groups/hr@acme.example/members" in paths
    assert state.paths("POST") == ["/token", "/token"]  # one token for Drive, one (as the admin) for groups
    listed = [r["query"] for r in state.requests if r["path"] == "/drive/v3/files"]
    assert {q["q"] for q in listed} == {
        "'fold-policies' in parents and trashed = false",
        "'fold-hr' in parents and trashed = false",
        "trashed = false",
    }
    assert any(q.get("corpora") == "drive" and q.get("driveId") == "drive-eng" for q in listed)
    directory = [r for r in state.requests if r["path"].startswith("/admin/")]
    assert {r["sub"] for r in directory} == {"admin@acme.example"}
    assert all(r["query"]["includeDerivedMembership"] == "true" for r in directory)


def test_without_an_admin_to_act_as_groups_grant_nothing_and_say_why(drive: Any) -> None:
    _, state, _ = drive
    refs = by_id(connector(drive, admin_email="").list_documents())
    assert refs["doc-salaries"].audience == ("user:U0BOB", "user:U0CAROL")
    assert "group:hr@acme.example (no admin_email to read its members)" in refs["doc-salaries"].unmapped
    assert refs["doc-runbook"].audience == ()  # restricted to a group no one can be mapped from: no one
    assert not [p for p in state.paths() if p.startswith("/admin/")]


def test_a_group_the_directory_does_not_know_grants_nothing(drive: Any) -> None:
    _, state, _ = drive
    state.share("doc-partner", [group("ghost@acme.example")])
    refs = by_id(connector(drive).list_documents())
    assert refs["doc-partner"].audience == ("user:U0BOB",)
    assert refs["doc-partner"].unmapped == ("group:ghost@acme.example (members unreadable: 404)",)


def test_sharing_drive_will_not_show_restricts_the_file_to_no_one(drive: Any) -> None:
    _, state, _ = drive
    state.fail(r"^/drive/v3/files/doc-travel/permissions$", 403, "insufficientFilePermissions")
    refs = by_id(connector(drive).list_documents())
    assert refs["doc-travel"].audience == ()
    assert refs["doc-travel"].unmapped == ("sharing unreadable: 403 insufficientFilePermissions",)


def test_a_domain_share_is_unmapped_when_no_domain_is_configured(drive: Any) -> None:
    refs = by_id(connector(drive, domain="", admin_email="").list_documents())
    assert refs["doc-travel"].audience == ("user:U0BOB",)
    assert refs["doc-travel"].unmapped == ("domain:acme.example (no domain setting)",)


def test_fetch_exports_docs_slides_and_sheets_and_downloads_files(drive: Any) -> None:
    _, state, _ = drive
    source = connector(drive)
    refs = by_id(source.list_documents())

    doc = source.fetch(refs["doc-travel"])
    assert doc.file_name == "Travel policy.md" and b"180 EUR a night" in doc.data
    runbook = source.fetch(refs["doc-runbook"])  # Markdown refused (400): exported as HTML instead
    assert runbook.file_name == "Runbook.html" and runbook.data == RUNBOOK_HTML
    slides = source.fetch(refs["slides-kickoff"])
    assert slides.file_name == "Kickoff.txt" and slides.data.startswith(b"Kickoff")
    pdf = source.fetch(refs["pdf-code"])
    assert pdf.file_name == "Code of conduct.pdf" and pdf.data == CODE_OF_CONDUCT_PDF
    sheet = source.fetch(refs["sheet-budget"])
    text = sheet.data.decode()
    assert sheet.file_name == "Budgets 2027.md"
    assert "## Travel" in text and "## Hardware" in text  # every sheet, not the first alone
    assert "| Region | Budget | Approved |\n| --- | --- | --- |" in text
    assert "| EMEA | 40000 | 2026-12-01 |" in text  # the date cell read as a date
    assert "| Laptop | 1800 |" in text

    exports = {r["path"]: r["query"] for r in state.requests if r["path"].endswith("/export")}
    assert exports["/drive/v3/files/doc-travel/export"]["mimeType"] == "text/markdown"
    assert exports["/drive/v3/files/slides-kickoff/export"]["mimeType"] == "text/plain"
    assert exports["/drive/v3/files/sheet-budget/export"]["mimeType"] == XLSX
    media = [
        r["query"]
        for r in state.requests
        if r["path"] == "/drive/v3/files/pdf-code" and r["query"].get("alt")
    ]
    assert media == [{"alt": "media", "supportsAllDrives": "true"}]


def test_sheets_and_doc_tables_reach_the_index_as_rows_labelled_by_their_headers(drive: Any) -> None:
    from haystack.components.converters import MarkdownToDocument
    from haystack.dataclasses import ByteStream

    from pipelines.indexing.components.table_linearizer import TableLinearizer

    source = connector(drive)
    refs = by_id(source.list_documents())

    def indexed_text(file_id: str) -> str:
        fetched = source.fetch(refs[file_id])
        assert fetched.media_type == "text/markdown"
        stream = ByteStream(fetched.data, meta={"file_name": fetched.file_name}, mime_type="text/markdown")
        documents = MarkdownToDocument(progress_bar=False).run(sources=[stream])["documents"]
        return TableLinearizer().run(documents=documents)["documents"][0].content

    sheet = indexed_text("sheet-budget")
    assert "Region: EMEA; Budget: 40000; Approved: 2026-12-01." in sheet
    assert "Item: Laptop; Limit: 1800." in sheet
    assert "City: London; Limit: 240 EUR." in indexed_text("doc-travel")


def test_listings_follow_every_page(drive: Any) -> None:
    _, state, _ = drive
    state.page_size_cap = 2
    source = connector(drive)
    assert len(list(source.list_documents())) == 8
    tokens = [r["query"].get("pageToken") for r in state.requests if r["path"] == "/drive/v3/files"]
    assert "2" in tokens and "4" in tokens
    permission_pages = [r for r in state.requests if r["path"] == "/drive/v3/files/doc-salaries/permissions"]
    assert [r["query"].get("pageToken") for r in permission_pages] == [None, "2"]  # 4 permissions, 2 a page
    for index in range(5):
        state.add(
            FakeFile(
                f"doc-new-{index}",
                f"New {index}",
                GOOGLE_DOC,
                ["fold-policies"],
                exports={"text/html": b"<p>x</p>"},
            )
        )
    state.requests.clear()
    refs = by_id(connector(drive, state=source.state).list_documents())
    assert {f"doc-new-{i}" for i in range(5)} <= set(refs)
    changes = [r["query"]["pageToken"] for r in state.requests if r["path"] == "/drive/v3/changes"]
    assert len(changes) >= 3  # followed nextPageToken until newStartPageToken


def test_an_incremental_sync_reads_only_the_changes(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    before = by_id(first.list_documents())
    saved = json.loads(json.dumps(first.state))  # what the engine keeps between syncs
    state.edit("doc-travel", exports={"text/html": b"<p>Hotels up to 200 EUR a night.</p>"})
    state.delete("pdf-code")
    state.trash("slides-kickoff")
    state.add(
        FakeFile(
            "doc-leave", "Parental leave", GOOGLE_DOC, ["fold-hr"], exports={"text/html": b"<p>16 weeks.</p>"}
        )
    )
    state.requests.clear()

    second = connector(drive, state=saved)
    after = by_id(second.list_documents())

    assert set(after) == set(before) - {"pdf-code", "slides-kickoff"} | {"doc-leave"}
    assert after["doc-travel"].version != before["doc-travel"].version
    assert after["doc-leave"].audience == (
        "user:U0BOB",
        "user:U0CAROL",
        "user:U0DAVE",
    )  # inherits HR's sharing
    unchanged = set(after) - {"doc-travel", "doc-leave"}
    assert all(after[i].version == before[i].version for i in unchanged)
    paths = state.paths()
    assert "/drive/v3/files" not in paths  # no full listing
    assert sorted(p for p in paths if p.endswith("/permissions")) == [
        "/drive/v3/files/doc-leave/permissions",
        "/drive/v3/files/doc-travel/permissions",
    ]
    assert [r["query"]["pageToken"] for r in state.requests if r["path"] == "/drive/v3/changes"] == [
        saved["tokens"]["drive:drive-eng"],
        saved["tokens"]["user"],
    ]

    state.requests.clear()
    third = connector(drive, state=second.state)
    assert by_id(third.list_documents()).keys() == after.keys()
    # Nothing changed: the two feeds, and each group's members once (memberships change outside Drive).
    assert sorted(state.paths()) == [
        "/admin/directory/v1/groups/eng@acme.example/members",
        "/admin/directory/v1/groups/hr@acme.example/members",
        "/drive/v3/changes",
        "/drive/v3/changes",
    ]


def test_group_and_slack_changes_outside_drive_change_the_audience_at_the_next_sync(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    assert "user:U0DAVE" in by_id(first.list_documents())["doc-salaries"].audience
    state.groups["hr@acme.example"] = [{"email": "erin@acme.example", "type": "USER"}]  # dave leaves HR
    url, _, key_file = drive
    people = Directory({**PEOPLE, "erin@acme.example": "U0ERIN"})  # erin joins Slack
    second = GoogleDriveConnector(
        {
            "folders": "fold-policies",
            "drives": "drive-eng",
            "domain": DOMAIN,
            "api_root": url,
            "admin_email": "admin@acme.example",
        },
        {"service_account_file": str(key_file)},
        people,
        state=first.state,
    )
    refs = by_id(second.list_documents())
    assert refs["doc-salaries"].audience == ("user:U0BOB", "user:U0CAROL", "user:U0ERIN")
    assert refs["doc-salaries"].unmapped == ()


def test_a_sharing_change_changes_the_audience_but_not_the_version(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    before = by_id(first.list_documents())
    state.share("doc-salaries", [user("alice@acme.example")])  # the file's own sharing
    state.share("fold-hr", [user("carol@acme.example")])  # the HR group loses the folder
    after = by_id(connector(drive, state=first.state).list_documents())

    assert after["doc-salaries"].audience == ("user:U0ALICE", "user:U0BOB", "user:U0CAROL")
    assert after["doc-salaries"].version == before["doc-salaries"].version  # no new download, no re-embedding
    state.add(FakeFile("doc-bonus", "Bonus", GOOGLE_DOC, ["fold-hr"], exports={"text/html": b"<p>b</p>"}))
    second_state = connector(drive, state=first.state)
    list(second_state.list_documents())
    state.share("fold-hr", [user("carol@acme.example"), user("frank@acme.example")])
    third = by_id(connector(drive, state=second_state.state).list_documents())
    assert third["doc-bonus"].audience == ("user:U0BOB", "user:U0CAROL", "user:U0FRANK")  # from the folder


def test_a_folder_moved_out_of_scope_takes_its_files_with_it(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    list(first.list_documents())
    state.add(FakeFile("fold-elsewhere", "Elsewhere", FOLDER, []))
    state.move("fold-hr", ["fold-elsewhere"])
    refs = by_id(connector(drive, state=first.state).list_documents())
    assert "doc-salaries" not in refs and "doc-travel" in refs


def test_rate_limits_are_waited_out_as_retry_after_asks(drive: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pipelines.connectors")
    _, state, _ = drive
    state.fail(r"^/drive/v3/files$", 429, "rateLimitExceeded", retry_after="7")
    state.fail(r"/permissions$", 403, "userRateLimitExceeded", retry_after="2")
    source = connector(drive)
    refs = by_id(source.list_documents())
    assert len(refs) == 8
    assert sorted(SLEEPS) == [2.0, 7.0]
    state.fail(r"/export$", 503, "backendError")  # a 5xx without Retry-After: a short backoff, then again
    assert b"180 EUR" in source.fetch(refs["doc-travel"]).data
    assert sorted(SLEEPS) == [2.0, 2.0, 7.0]
    assert "Google answered 429 to drive.files.list; waiting 7.0 s" in caplog.text
    assert "Travel policy" not in caplog.text and "Salary" not in caplog.text  # no title in the log


def test_a_rate_limit_that_lasts_fails_the_sync_and_keeps_the_state(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    list(first.list_documents())
    saved = first.state
    state.edit("doc-travel", exports={"text/html": b"<p>new</p>"})
    state.fail(r"^/drive/v3/changes$", 429, "rateLimitExceeded", retry_after="1", times=10)
    second = connector(drive, state=saved)
    with pytest.raises(ConnectorError) as failed:
        list(second.list_documents())
    assert failed.value.retryable and "after 5 attempts" in failed.value.reason
    assert second.state == saved  # the page token did not move: the next sync reads the same changes
    state.failures.clear()
    third = by_id(connector(drive, state=second.state).list_documents())
    assert third["doc-travel"].version != "2026-11-01T09:00:00.000Z"


def test_an_expired_access_token_is_refreshed_with_a_new_signed_assertion(drive: Any) -> None:
    _, state, _ = drive
    source = connector(drive, admin_email="")
    list(source.list_documents())
    state.expire_tokens()
    state.requests.clear()
    assert len(list(source.list_documents())) == 8
    assert state.paths("POST") == ["/token"]  # 401 authError -> google-auth signs a new JWT, then retries


def test_a_refused_service_account_fails_the_sync_with_a_reason_and_no_secret(drive: Any) -> None:
    _, state, key_file = drive
    state.token_error = "invalid_grant"
    with pytest.raises(ConnectorError) as failed:
        list(connector(drive).list_documents())
    assert not failed.value.retryable
    assert "invalid_grant" in failed.value.reason
    private_key = json.loads(key_file.read_text())["private_key"]
    assert private_key.splitlines()[1][:20] not in failed.value.reason


def test_a_file_gone_between_listing_and_fetch_is_gone_and_a_refused_one_fails_alone(drive: Any) -> None:
    _, state, _ = drive
    source = connector(drive)
    refs = by_id(source.list_documents())
    state.delete("doc-travel")
    assert source.fetch(refs["doc-travel"]) == Gone(
        refs["doc-travel"], "deleted in Drive, or no longer shared with the service account"
    )
    state.fail(r"/doc-runbook/export$", 403, "insufficientFilePermissions")
    with pytest.raises(ConnectorError) as failed:
        source.fetch(refs["doc-runbook"])
    assert failed.value.document_id == "doc-runbook" and not failed.value.retryable
    assert source.fetch(refs["doc-runbook"]).data == RUNBOOK_HTML


def test_a_root_folder_that_is_unshared_fails_the_sync_rather_than_emptying_it(drive: Any) -> None:
    _, state, _ = drive
    first = connector(drive)
    list(first.list_documents())
    state.delete("fold-policies")
    with pytest.raises(ConnectorError, match="fold-policies was deleted, trashed or unshared"):
        list(connector(drive, state=first.state).list_documents())


def test_the_client_builds_from_the_shipped_discovery_documents_offline(drive: Any) -> None:
    """No request leaves for www.googleapis.com/discovery (conftest allows loopback only): every request
    the test server saw is Drive's own, under the configured root."""
    _, state, _ = drive
    list(connector(drive, admin_email="").list_documents())
    assert all(r["path"].startswith(("/drive/v3/", "/token")) for r in state.requests)
    assert not any("discovery" in r["path"] for r in state.requests)


def test_workbooks_and_csv_become_headed_tables() -> None:
    text = workbook_to_markdown(
        build_xlsx([("Q1", [["Name", "Score"], ["Ann", 3.5], [], ["Bo|Jo", 4]])]), "Scores"
    )
    assert text.startswith("# Scores")
    assert "| Name | Score |\n| --- | --- |\n| Ann | 3.5 |\n| Bo / Jo | 4 |" in text  # blank row gone
    assert "| a | b |\n| --- | --- |\n| 1 | 2 |" in csv_to_markdown(b"\xef\xbb\xbfa,b\n1,2\n", "t")
    with pytest.raises(SpreadsheetError, match=r"not a valid \.xlsx"):
        workbook_to_markdown(b"not a zip", "x")

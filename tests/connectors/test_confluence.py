"""The Confluence connector with the real atlassian-python-api client against a local Confluence.

The request paths each test expects come from Atlassian's REST reference, not from the client's code:

- CQL search, paged by ``start``/``limit`` (Data Center) or the ``cursor`` in ``_links.next`` (Cloud):
  ``GET /rest/api/content/search?cql=...`` (developer.atlassian.com/server/confluence/rest/v1000/
  api-group-content-resource, "Search content"; Cloud: /wiki/rest/api/content/search, "Search content by
  CQL": "When additional results are available, returns next and prev URLs ... that contain a cursor").
- A page's body: ``GET /rest/api/content/{id}?expand=body.export_view,version`` ("Get content by ID").
- Attachments: ``GET /rest/api/content/{id}/child/attachment`` (DC "Attachments": "Returns a paginated
  list of attachment Content entities within a single container"), downloaded from ``_links.download``.
- Read restrictions: ``GET /rest/api/content/{id}/restriction/byOperation/read`` (DC "Content
  Restrictions": "Get all restrictions for given operation"; Cloud: "Returns the restrictions on a piece
  of content for a given operation (read or update)", with ``start``/``limit`` over users and groups).
- Space permissions: DC ``GET /rest/api/space/{spaceKey}/permissions`` ("Get all space permissions":
  ``[{operation: {targetType: "space", operationKey: "read"}, subject: {type, ...}}]``); Cloud
  ``GET /wiki/api/v2/spaces/{id}/permissions`` ("Get space permissions assignments": ``principal``
  ``{type: user|group|role, id}``, ``operation: {key, targetType}``, cursor in ``_links.next``).
- Group members: DC ``GET /rest/api/group/{groupName}/member`` ("Get members of group"); Cloud
  ``GET /wiki/rest/api/group/{groupId}/membersByGroupId`` and ``GET /wiki/rest/api/group/by-id?id=``.
- A person's email: Cloud ``GET /wiki/rest/api/user?accountId=`` ("The information returned may be
  restricted by the user's profile visibility settings"); DC ``GET /rest/api/user?key=`` with
  ``expand=details.personal``.
- 401 for a wrong or expired credential; 429 with ``Retry-After`` when rate limited (Cloud "Rate
  limiting": "Retry-After: number of seconds to wait").
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.connectors.base import (
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    connector_class,
)
from pipelines.connectors.confluence import ConfluenceConnector
from pipelines.connectors.confluence_api import MAX_RETRIES
from pipelines.samples import handbook_dir
from tests.support.fake_confluence import (
    FakeAttachment,
    FakeConfluenceState,
    FakeGroup,
    FakePage,
    FakeSpace,
    FakeUser,
    fake_confluence,
)

PDF = (handbook_dir() / "travel-and-expenses-policy.pdf").read_bytes()
DOCX = (handbook_dir() / "benefits-overview.docx").read_bytes()
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: Slack's side: who has a Slack account, by email. carol has none; dave hides his email in Confluence.
SLACK = {"alice@example.com": "U0ALICE1", "bob@example.com": "U0BOB001", "dave@example.com": "U0DAVE01"}


class Directory:
    """A PeopleDirectory over a fixed table (the Slack-backed one is tested with Slack's stand-in)."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.asked: list[str] = []

    def slack_user(self, email: str) -> str | None:
        self.asked.append(email)
        return self.table.get(email)


def build_site(cloud: bool) -> FakeConfluenceState:
    """ENG is open to every licensed user; FIN only to finance and bob. Page 102 is restricted to finance,
    103 inherits that restriction from 102, 105 is restricted to bob under 102 (so no one may read it)."""
    state = FakeConfluenceState(cloud=cloud)
    ids = {"alice": "acc-alice", "bob": "acc-bob", "carol": "acc-carol", "dave": "acc-dave"}
    if not cloud:
        ids = {name: f"key-{name}" for name in ids}
    for name, ident in ids.items():
        state.users[ident] = FakeUser(ident, f"{name}@example.com", username=name, hide_email=name == "dave")
    state.groups["finance"] = FakeGroup("finance", [ids["alice"], ids["carol"]], id="g-finance")
    state.groups["confluence-users"] = FakeGroup("confluence-users", list(ids.values()), id="g-users")
    state.groups["support"] = FakeGroup("support", [ids["bob"], ids["dave"]], id="g-support")
    state.spaces["ENG"] = FakeSpace(1001, "ENG", "Engineering", [("group", "confluence-users")])
    state.spaces["FIN"] = FakeSpace(1002, "FIN", "Finance", [("group", "finance"), ("user", ids["bob"])])
    state.add_page(
        FakePage(
            "101",
            "ENG",
            "Onboarding",
            "<p>New starters get a laptop on day one.</p>",
            version=3,
            labels=["onboarding", "policy"],
            attachments=[
                FakeAttachment("att9001", "expenses.pdf", PDF, "application/pdf", version=2),
                FakeAttachment("att9002", "benefits.docx", DOCX, DOCX_TYPE),
                FakeAttachment("att9003", "diagram.png", b"\x89PNG", "image/png"),
            ],
        )
    )
    state.add_page(
        FakePage(
            "102", "ENG", "Salaries", "<p>The salary review happens in March.</p>", read_groups=["finance"]
        )
    )
    state.add_page(
        FakePage("103", "ENG", "Salary bands 2027", "<p>Band L4 tops out at 91,500.</p>", parent="102")
    )
    state.add_page(FakePage("104", "ENG", "Incident runbook", "<p>Page the on-call first.</p>", parent="101"))
    state.add_page(
        FakePage("105", "ENG", "Bob's notes", "<p>Private.</p>", parent="102", read_users=[ids["bob"]])
    )
    state.add_page(
        FakePage("201", "FIN", "Budget", "<p>The 2027 budget is 4.2 million.</p>", labels=["policy"])
    )
    return state


def connector(
    url: str, state: FakeConfluenceState, people: Directory | None = None, **config: str
) -> ConfluenceConnector:
    settings = {"url": url, "cloud": "true" if state.cloud else "false", "spaces": "ENG,FIN", **config}
    if "cql" in config:
        settings.pop("spaces")
    secrets = {"email": state.email, "api_token": state.api_token} if state.cloud else {"token": state.token}
    made = ConfluenceConnector(settings, secrets, people if people is not None else Directory(SLACK))
    made.api.sleep = lambda seconds: sleeps.append(seconds)
    return made


sleeps: list[float] = []


@pytest.fixture(autouse=True)
def _clear_sleeps() -> None:
    sleeps.clear()


@pytest.fixture(params=[True, False], ids=["cloud", "data-center"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeConfluenceState]]:
    state = build_site(cloud=request.param)
    with fake_confluence(state) as url:
        yield url, state


@pytest.fixture
def cloud_site() -> Iterator[tuple[str, FakeConfluenceState]]:
    """Cloud only, for behaviour the two flavours share (the default suite's time is counted)."""
    state = build_site(cloud=True)
    with fake_confluence(state) as url:
        yield url, state


@pytest.fixture
def dc_site() -> Iterator[tuple[str, FakeConfluenceState]]:
    state = build_site(cloud=False)
    with fake_confluence(state) as url:
        yield url, state


def by_id(refs: list[DocumentRef]) -> dict[str, DocumentRef]:
    return {ref.id: ref for ref in refs}


# -- listing ----------------------------------------------------------------------------------------------
def test_the_kind_is_registered() -> None:
    assert connector_class("confluence") is ConfluenceConnector


def test_listing_gives_pages_and_pdf_and_word_attachments_with_versions_labels_and_links(
    site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = site
    refs = by_id(list(connector(url, state).list_documents()))
    assert set(refs) == {
        "page:101",
        "page:102",
        "page:103",
        "page:104",
        "page:105",
        "page:201",
        "attachment:att9001",
        "attachment:att9002",
    }  # fmt: skip  (the PNG is not a type Needle reads)
    onboarding = refs["page:101"]
    assert onboarding.title == "Onboarding"
    assert onboarding.version == "3"
    assert onboarding.meta["tags"] == ["onboarding", "policy"]
    assert onboarding.meta["space"] == "ENG"
    expected_link = (
        f"{url}/spaces/ENG/pages/101/Onboarding" if state.cloud else f"{url}/pages/viewpage.action?pageId=101"
    )
    assert onboarding.url == expected_link
    pdf = refs["attachment:att9001"]
    assert (pdf.title, pdf.version, pdf.meta["page"]) == ("expenses.pdf", "2", "101")
    assert pdf.audience == onboarding.audience
    assert pdf.url and pdf.url.startswith(url + "/pages/viewpageattachments.action?pageId=101")


def test_the_listing_follows_next_links_page_by_page(site: tuple[str, FakeConfluenceState]) -> None:
    url, state = site
    refs = list(connector(url, state).list_documents())
    searches = [r for r in state.requests if r.path == "/rest/api/content/search"]
    assert len(searches) == 3  # 6 pages, at most 2 a page
    assert [r.query["cql"] for r in searches] == ['type = page AND space in ("ENG","FIN")'] * 3
    if state.cloud:
        assert "cursor" not in searches[0].query and all("cursor" in r.query for r in searches[1:])
        assert all(r.authorization == "Basic" for r in state.requests)
    else:
        assert [r.query["start"] for r in searches] == ["0", "2", "4"]
        assert all(r.authorization == "Bearer" for r in state.requests)
    assert len([ref for ref in refs if ref.id.startswith("page:")]) == 6
    # the attachments of page 101 were paged too: 3 of them, 2 a page
    assert len([r for r in state.requests if r.path == "/rest/api/content/101/child/attachment"]) == 2


def test_an_open_space_page_is_for_everyone(cloud_site: tuple[str, FakeConfluenceState]) -> None:
    url, state = cloud_site
    refs = by_id(list(connector(url, state).list_documents()))
    assert refs["page:101"].audience == ("everyone",)
    assert refs["page:104"].audience == ("everyone",)
    assert refs["page:101"].unmapped == ()


def test_a_restricted_page_is_for_its_mapped_readers_and_names_the_unmapped(
    site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = site
    refs = by_id(list(connector(url, state).list_documents()))
    salaries = refs["page:102"]
    assert salaries.audience == ("user:U0ALICE1",)  # finance: alice and carol; carol has no Slack account
    assert salaries.unmapped == ("carol@example.com",)
    assert "/rest/api/content/102/restriction/byOperation/read" in state.paths()
    group_path = (
        "/rest/api/group/g-finance/membersByGroupId" if state.cloud else "/rest/api/group/finance/member"
    )
    assert group_path in state.paths()


def test_a_restriction_is_inherited_from_the_parent(site: tuple[str, FakeConfluenceState]) -> None:
    url, state = site
    refs = by_id(list(connector(url, state).list_documents()))
    bands = refs["page:103"]  # no restriction of its own; its parent is restricted to finance
    assert bands.audience == ("user:U0ALICE1",)
    assert bands.unmapped == ("carol@example.com",)
    # restricted to bob, under a parent only finance may read: Confluence shows it to no one of them
    assert refs["page:105"].audience == ()
    assert refs["page:105"].unmapped == ()


def test_a_space_open_to_a_group_and_a_user_is_for_them_only(site: tuple[str, FakeConfluenceState]) -> None:
    url, state = site
    refs = by_id(list(connector(url, state).list_documents()))
    assert refs["page:201"].audience == ("user:U0ALICE1", "user:U0BOB001")
    assert refs["page:201"].unmapped == ("carol@example.com",)
    permissions = "/api/v2/spaces/1002/permissions" if state.cloud else "/rest/api/space/FIN/permissions"
    assert permissions in state.paths()


def test_emails_come_from_the_user_api_and_a_hidden_one_grants_nothing() -> None:
    state = build_site(cloud=True)
    state.pages["102"].read_users = ["acc-dave"]
    state.pages["102"].read_groups = []
    state.spaces["ENG"].readers = [("group", "support")]  # bob and dave
    with fake_confluence(state) as url:
        refs = by_id(list(connector(url, state).list_documents()))
    assert refs["page:102"].audience == ()
    assert refs["page:102"].unmapped == ("confluence user acc-dave (no email visible)",)
    assert refs["page:101"].audience == ("user:U0BOB001",)
    lookups = [r.query for r in state.requests if r.path == "/rest/api/user"]
    assert {"accountId": "acc-dave"} in lookups


def test_data_center_emails_come_from_personal_details() -> None:
    state = build_site(cloud=False)
    with fake_confluence(state) as url:
        list(connector(url, state).list_documents())
    lookups = [r.query for r in state.requests if r.path == "/rest/api/user"]
    assert {"username": "alice", "expand": "details.personal"} in lookups
    # each person is looked up once per listing, however many pages and groups name them
    assert len(lookups) == len({tuple(sorted(q.items())) for q in lookups})


def test_anonymous_access_and_everyone_groups_decide_everyone() -> None:
    state = build_site(cloud=False)
    state.spaces["FIN"].readers = [("anonymous", "")]
    with fake_confluence(state) as url:
        assert by_id(list(connector(url, state).list_documents()))["page:201"].audience == ("everyone",)
        # with no everyone-groups, ENG's confluence-users grant is expanded to its people
        refs = by_id(list(connector(url, state, everyone_groups="").list_documents()))
    assert refs["page:101"].audience == ("user:U0ALICE1", "user:U0BOB001", "user:U0DAVE01")
    assert refs["page:101"].unmapped == ("carol@example.com",)


def test_without_a_people_directory_no_one_is_mapped() -> None:
    state = build_site(cloud=True)
    with fake_confluence(state) as url:
        made = ConfluenceConnector(
            {"url": url, "cloud": "true", "spaces": "FIN"},
            {"email": state.email, "api_token": state.api_token},
        )
        refs = by_id(list(made.list_documents()))
    assert refs["page:201"].audience == ()
    assert set(refs["page:201"].unmapped) == {"alice@example.com", "bob@example.com", "carol@example.com"}


def test_cql_chooses_the_pages() -> None:
    state = build_site(cloud=False)
    with fake_confluence(state) as url:
        refs = by_id(
            list(connector(url, state, cql='label = "policy"', attachments="false").list_documents())
        )
        assert set(refs) == {"page:101", "page:201"}
        searches = [r.query["cql"] for r in state.requests if r.path == "/rest/api/content/search"]
        assert searches[0] == '(label = "policy") AND type = page'
        with pytest.raises(ConnectorError, match="400"):
            list(connector(url, state, cql="label ~~ nonsense").list_documents())


# -- fetching ---------------------------------------------------------------------------------------------
def test_a_page_is_fetched_as_html_and_an_attachment_as_its_file(
    dc_site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = dc_site
    made = connector(url, state)
    refs = by_id(list(made.list_documents()))
    page = made.fetch(refs["page:101"])
    assert isinstance(page, FetchedDocument)
    assert page.file_name == "Onboarding.html"
    assert page.media_type == "text/html"
    text = page.data.decode()
    assert "<title>Onboarding</title>" in text and "New starters get a laptop on day one." in text
    assert any(
        r.path == "/rest/api/content/101" and r.query["expand"] == "body.export_view,version"
        for r in state.requests
    )
    pdf = made.fetch(refs["attachment:att9001"])
    assert isinstance(pdf, FetchedDocument)
    assert (pdf.file_name, pdf.data) == ("expenses.pdf", PDF)
    word = made.fetch(refs["attachment:att9002"])
    assert isinstance(word, FetchedDocument) and word.file_name == "benefits.docx" and word.data == DOCX


def test_a_page_changed_since_the_listing_is_fetched_at_its_new_version() -> None:
    state = build_site(cloud=True)
    with fake_confluence(state) as url:
        made = connector(url, state)
        ref = by_id(list(made.list_documents()))["page:104"]
        state.pages["104"].version = 2
        state.pages["104"].body = "<p>Page the incident commander first.</p>"
        fetched = made.fetch(ref)
    assert isinstance(fetched, FetchedDocument)
    assert fetched.ref.version == "2" and b"incident commander" in fetched.data


def test_an_attachment_over_the_limit_fails_alone() -> None:
    state = build_site(cloud=True)
    with fake_confluence(state) as url:
        made = connector(url, state, max_attachment_mb="0.001")
        ref = by_id(list(made.list_documents()))["attachment:att9001"]
        with pytest.raises(ConnectorError) as failure:
            made.fetch(ref)
    assert failure.value.document_id == "attachment:att9001"
    assert "expenses.pdf" in failure.value.reason and "MB limit" in failure.value.reason


# -- changes between syncs --------------------------------------------------------------------------------
def test_a_page_deleted_between_syncs_leaves_the_listing_and_cannot_be_fetched(
    cloud_site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = cloud_site
    made = connector(url, state)
    first = by_id(list(made.list_documents()))
    assert "page:104" in first
    del state.pages["104"]
    second = by_id(list(made.list_documents()))
    assert "page:104" not in second and len(second) == len(first) - 1
    assert made.current_ids() == set(second)
    gone = made.fetch(first["page:104"])
    assert isinstance(gone, Gone) and gone.ref.id == "page:104"


def test_a_permission_change_changes_the_audience_on_the_next_listing_not_the_version(
    dc_site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = dc_site
    made = connector(url, state)
    before = by_id(list(made.list_documents()))["page:102"]
    state.pages["102"].read_users = [next(u.ident for u in state.users.values() if u.username == "bob")]
    after = by_id(list(made.list_documents()))
    assert after["page:102"].version == before.version
    assert after["page:102"].audience == ("user:U0ALICE1", "user:U0BOB001")
    # the child inherits the widened restriction too
    assert after["page:103"].audience == ("user:U0ALICE1", "user:U0BOB001")
    state.pages["102"].read_users, state.pages["102"].read_groups = [], []
    assert by_id(list(made.list_documents()))["page:103"].audience == ("everyone",)


# -- faults ------------------------------------------------------------------------------------------------
def test_a_rate_limit_waits_for_retry_after_and_goes_on(cloud_site: tuple[str, FakeConfluenceState]) -> None:
    url, state = cloud_site
    state.throttle = {"/rest/api/content/search": 2}
    state.retry_after = "7"
    refs = list(connector(url, state).list_documents())
    assert sleeps == [7.0, 7.0]
    assert len([ref for ref in refs if ref.id.startswith("page:")]) == 6


def test_a_rate_limit_that_does_not_end_fails_the_listing_as_retryable() -> None:
    state = build_site(cloud=True)
    state.throttle = {"/restriction/byOperation/read": MAX_RETRIES + 1}
    with fake_confluence(state) as url, pytest.raises(ConnectorError) as failure:
        list(connector(url, state).list_documents())
    assert failure.value.retryable and "429" in failure.value.reason
    assert len(sleeps) == MAX_RETRIES


def test_an_expired_credential_fails_with_a_reason_and_no_secret(
    site: tuple[str, FakeConfluenceState],
) -> None:
    url, state = site
    made = connector(url, state)
    state.expired = True
    with pytest.raises(ConnectorError) as failure:
        list(made.list_documents())
    reason = failure.value.reason
    assert "401" in reason and "expired" in reason and not failure.value.retryable
    for secret in (
        state.api_token,
        state.token,
        base64.b64encode(f"{state.email}:{state.api_token}".encode()).decode(),
    ):
        assert secret not in reason and secret not in repr(failure.value)


def test_a_server_error_on_a_restriction_fails_the_listing_never_opens_the_page() -> None:
    state = build_site(cloud=False)
    state.failures = {"/rest/api/content/102/restriction": 500}
    with fake_confluence(state) as url:
        made = connector(url, state)
        with pytest.raises(ConnectorError) as failure:
            list(made.list_documents())
    assert failure.value.retryable and "500" in failure.value.reason


def test_space_permissions_that_cannot_be_read_fail_the_listing_not_the_pages() -> None:
    state = build_site(cloud=False)
    state.failures = {"/rest/api/space/FIN/permissions": 404}
    with (
        fake_confluence(state) as url,
        pytest.raises(ConnectorError, match="permissions to show for space FIN"),
    ):
        list(connector(url, state).list_documents())


def test_a_missing_space_is_named() -> None:
    state = build_site(cloud=True)
    with fake_confluence(state) as url, pytest.raises(ConnectorError, match="space NOPE does not exist"):
        list(connector(url, state, spaces="ENG,NOPE").list_documents())


def test_a_next_link_to_another_site_is_refused() -> None:
    state = build_site(cloud=True)
    with fake_confluence(state) as url:
        api = connector(url, state).api
        with pytest.raises(ConnectorError, match="another site"):
            api.url("https://elsewhere.example.com/rest/api/content/search?cursor=x")
        assert (
            api.url("/wiki/api/v2/spaces/1/permissions?cursor=a")
            == url + "/api/v2/spaces/1/permissions?cursor=a"
        )
        assert api.url("/rest/api/content/search?start=2") == url + "/rest/api/content/search?start=2"


# -- settings ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"spaces": "ENG"}, "url is required"),
        ({"url": "https://x.atlassian.net"}, "either spaces"),
        ({"url": "https://x.atlassian.net", "spaces": "ENG", "cql": "space = ENG"}, "either spaces"),
        (
            {"url": "https://x.atlassian.net", "spaces": "ENG", "cloud": "maybe"},
            "cloud must be true or false",
        ),
        ({"url": "https://x.atlassian.net", "spaces": "ENG", "pages": "1"}, "unknown Confluence setting"),
        ({"url": "https://x.atlassian.net", "spaces": "EN G"}, "not a space key"),
        (
            {"url": "https://x.atlassian.net", "spaces": "ENG", "max_attachment_mb": "lots"},
            "max_attachment_mb",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_reason(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        ConfluenceConnector(config)


def test_cloud_is_the_default_for_atlassian_net_and_needs_an_email_and_token() -> None:
    cloud = ConfluenceConnector({"url": "https://acme.atlassian.net", "spaces": "ENG"})
    assert cloud.cloud and cloud.query() == 'type = page AND space in ("ENG")'
    with pytest.raises(ConnectorError, match="email and an API token"):
        _ = cloud.api
    center = ConfluenceConnector({"url": "https://wiki.acme.example", "spaces": "ENG"})
    assert not center.cloud
    with pytest.raises(ConnectorError, match="personal access token"):
        _ = center.api


def test_secrets_are_read_by_their_environment_names_too(tmp_path: Path) -> None:
    made = ConfluenceConnector(
        {"url": "https://acme.atlassian.net", "spaces": "ENG"},
        {"CONFLUENCE_EMAIL": "bot@example.com", "CONFLUENCE_API_TOKEN": "t0ken"},
    )
    assert made.api.base == "https://acme.atlassian.net/wiki"

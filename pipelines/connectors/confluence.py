"""The Confluence connector: pages (and their PDF and Word attachments) of chosen spaces or a CQL filter,
each with the audience Confluence gives it.

Cloud signs in with an account's email and API token (basic auth); Data Center with a personal access
token (bearer). The listing is one CQL search (``/rest/api/content/search``) with each page's space,
version, ancestors and labels expanded, then each page's read restrictions and attachments. A page is
one source, cited by its address in Confluence and fetched as its ``export_view`` HTML (macros rendered),
which Needle's HTML converter reads like any web page. An attachment is a source of its own, with the
page's audience: a PDF is searched and cited as itself, and a change to it never re-indexes the page.
Labels become the source's ``tags``; the page's version number is what the sync engine compares.

See :mod:`pipelines.connectors.confluence_access` for how permissions become the audience, and
docs/connectors/confluence.md for the credential, its permissions and what is synced.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
    PeopleDirectory,
    register,
)
from pipelines.connectors.confluence_access import AccessResolver
from pipelines.connectors.confluence_api import ConfluenceApi, Forbidden, NotFound, TooLarge

#: Attachment types Needle converts, by extension and by the media type Confluence reports.
ATTACHMENT_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_SPACE_KEY = re.compile(r"^~?[A-Za-z0-9_\-.@]{1,255}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(config: Mapping[str, str], key: str, default: bool) -> bool:
    raw = config.get(key)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConnectorError(f"{key} must be true or false (got {raw!r})")


def _secret(secrets: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = secrets.get(name) or secrets.get(name.upper()) or secrets.get(f"CONFLUENCE_{name.upper()}")
        if value:
            return value
    return None


@register
class ConfluenceConnector(Connector):
    """Pages and attachments of Confluence Cloud or Data Center, with their permissions."""

    kind: ClassVar[str] = "confluence"
    settings: ClassVar[Mapping[str, str]] = {
        "url": "the site, e.g. https://example.atlassian.net or https://confluence.example.com",
        "spaces": "space keys to sync, comma-separated (KEY1,KEY2); or give cql",
        "cql": "a CQL filter choosing the pages (ANDed with type = page); or give spaces",
        "cloud": "true for Confluence Cloud (email + API token), false for Data Center (personal access "
        "token); default: true for *.atlassian.net",
        "everyone_groups": "Confluence groups that hold every employee, comma-separated; a page such a "
        "group may read is for everyone (default: confluence-users; empty: always list people)",
        "attachments": "true (default) to sync PDF and Word attachments as sources of their own",
        "max_attachment_mb": "larger attachments are skipped with a reason (default 50)",
    }
    required_settings: ClassVar[tuple[str, ...]] = ("url",)
    secret_settings: ClassVar[Mapping[str, str]] = {
        "email": "Cloud: the Confluence account's email (basic auth with api_token)",
        "api_token": "Cloud: an API token of that account (id.atlassian.com -> Security -> API tokens)",
        "token": "Data Center: a personal access token of the account Needle reads as",
    }
    default_interval: ClassVar[int] = 3600

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: PeopleDirectory | None = None,
    ) -> None:
        super().__init__(config, secrets, people)
        unknown = sorted(set(self.config) - set(self.settings))
        if unknown:
            raise ConnectorError(
                f"unknown Confluence setting(s): {', '.join(unknown)} (known: {', '.join(self.settings)})"
            )
        self.url = (self.config.get("url") or "").strip()
        if not self.url:
            raise ConnectorError("url is required, e.g. --set url=https://example.atlassian.net")
        host = (urlsplit(self.url).hostname or "").lower()
        self.cloud = _flag(self.config, "cloud", host.endswith(".atlassian.net"))
        self.spaces = [key.strip() for key in (self.config.get("spaces") or "").split(",") if key.strip()]
        self.cql = (self.config.get("cql") or "").strip()
        if bool(self.spaces) == bool(self.cql):
            raise ConnectorError("give either spaces=KEY1,KEY2 or cql=..., not both and not neither")
        bad = [key for key in self.spaces if not _SPACE_KEY.match(key)]
        if bad:
            raise ConnectorError(f"not a space key: {', '.join(bad)}")
        groups = self.config.get("everyone_groups")
        self.everyone_groups = frozenset(
            g.strip().lower()
            for g in ("confluence-users" if groups is None else groups).split(",")
            if g.strip()
        )
        self.attachments = _flag(self.config, "attachments", True)
        try:
            self.max_attachment_bytes = int(float(self.config.get("max_attachment_mb") or 50) * 1_000_000)
        except ValueError:
            raise ConnectorError("max_attachment_mb must be a number of MB") from None
        self._api: ConfluenceApi | None = None

    # -- the session ------------------------------------------------------------------------------------
    @property
    def api(self) -> ConfluenceApi:
        if self._api is None:
            self._api = ConfluenceApi(
                self.url,
                cloud=self.cloud,
                email=_secret(self.secrets, "email"),
                api_token=_secret(self.secrets, "api_token"),
                personal_token=_secret(self.secrets, "token", "personal_token"),
            )
        return self._api

    def query(self) -> str:
        """The CQL that chooses the pages."""
        if self.spaces:
            keys = ",".join(f'"{key}"' for key in self.spaces)
            return f"type = page AND space in ({keys})"
        return f"({self.cql}) AND type = page"

    # -- listing ----------------------------------------------------------------------------------------
    def _pages(self, expand: str) -> Iterator[dict[str, Any]]:
        for key in self.spaces:
            try:
                self.api.json(f"/rest/api/space/{quote(key)}", what=f"space {key}")
            except NotFound:
                raise ConnectorError(
                    f"space {key} does not exist, or the connector's account may not view it"
                ) from None
        yield from self.api.paged(
            "/rest/api/content/search", {"cql": self.query(), "expand": expand}, what="the pages to sync"
        )

    def list_documents(self) -> Iterator[DocumentRef]:
        access = AccessResolver(self.api, self.people, self.everyone_groups)
        for page in self._pages("space,version,ancestors,metadata.labels"):
            try:
                readers = access.page_readers(page)
            except NotFound:
                continue  # deleted while the listing ran: it is gone, as the next listing will say
            audience, unmapped = access.audience(readers)
            ref = self._page_ref(page, audience, unmapped)
            yield ref
            if self.attachments:
                yield from self._attachment_refs(page, ref)

    def current_ids(self) -> set[str]:
        ids: set[str] = set()
        for page in self._pages(""):
            ids.add(f"page:{page['id']}")
            if self.attachments:
                ids.update(ref.id for ref in self._attachment_refs(page, None))
        return ids

    def _page_ref(
        self, page: dict[str, Any], audience: tuple[str, ...], unmapped: tuple[str, ...]
    ) -> DocumentRef:
        version = page.get("version") or {}
        labels = ((page.get("metadata") or {}).get("labels") or {}).get("results") or []
        space = page.get("space") or {}
        return DocumentRef(
            id=f"page:{page['id']}",
            title=str(page.get("title") or page["id"]),
            version=str(version.get("number", "")),
            url=self._web_url(page),
            modified=version.get("when"),
            audience=audience,
            unmapped=unmapped,
            meta={
                "confluence_id": str(page["id"]),
                "space": space.get("key"),
                "tags": sorted({str(label.get("name")) for label in labels if label.get("name")}),
            },
        )

    def _attachment_refs(self, page: dict[str, Any], page_ref: DocumentRef | None) -> Iterator[DocumentRef]:
        try:
            attachments = list(
                self.api.paged(
                    f"/rest/api/content/{quote(str(page['id']))}/child/attachment",
                    {"expand": "version"},
                    what=f"the attachments of page {page['id']}",
                )
            )
        except NotFound:
            return
        for attachment in attachments:
            name = str(attachment.get("title") or "")
            media = (
                (attachment.get("metadata") or {}).get("mediaType")
                or (attachment.get("extensions") or {}).get("mediaType")
                or ""
            )
            extension = PurePosixPath(name).suffix.lower()
            if extension not in ATTACHMENT_TYPES and media not in ATTACHMENT_TYPES.values():
                continue
            download = (attachment.get("_links") or {}).get("download")
            if not download:
                continue
            version = attachment.get("version") or {}
            yield DocumentRef(
                id=f"attachment:{attachment['id']}",
                title=name,
                version=str(version.get("number", "")),
                url=self._web_url(attachment) or (page_ref.url if page_ref else None),
                modified=version.get("when"),
                audience=page_ref.audience if page_ref else None,
                unmapped=page_ref.unmapped if page_ref else (),
                meta={
                    "confluence_id": str(attachment["id"]),
                    "page": str(page["id"]),
                    "page_title": page.get("title"),
                    "space": (page.get("space") or {}).get("key"),
                    "tags": list(page_ref.meta.get("tags", [])) if page_ref else [],
                    "download": download,
                    "media_type": media or ATTACHMENT_TYPES.get(extension),
                },
            )

    def _web_url(self, content: dict[str, Any]) -> str | None:
        webui = (content.get("_links") or {}).get("webui")
        return self.api.url(webui) if webui else None

    # -- fetching ---------------------------------------------------------------------------------------
    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        kind, _, content_id = ref.id.partition(":")
        try:
            if kind == "page":
                return self._fetch_page(ref, content_id)
            if kind == "attachment":
                return self._fetch_attachment(ref)
        except NotFound:
            return Gone(ref, "deleted in Confluence since it was listed")
        except (Forbidden, TooLarge) as error:
            raise ConnectorError(f"{ref.title}: {error.reason}", document_id=ref.id) from None
        raise ConnectorError(f"not a Confluence document id: {ref.id}", document_id=ref.id)

    def _fetch_page(self, ref: DocumentRef, content_id: str) -> FetchedDocument:
        page = self.api.json(
            f"/rest/api/content/{quote(content_id)}",
            {"expand": "body.export_view,version"},
            what=f"page {ref.title}",
        )
        body = ((page.get("body") or {}).get("export_view") or {}).get("value") or ""
        title = html.escape(str(page.get("title") or ref.title))
        document = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1>\n{body}\n</body></html>"
        )
        number = (page.get("version") or {}).get("number")
        fetched = ref
        if number is not None and str(number) != ref.version:
            fetched = DocumentRef(**{**ref.__dict__, "version": str(number)})
        return FetchedDocument(
            ref=fetched,
            data=document.encode("utf-8"),
            file_name=_file_name(ref.title, ".html"),
            media_type="text/html",
        )

    def _fetch_attachment(self, ref: DocumentRef) -> FetchedDocument:
        download = str(ref.meta.get("download") or "")
        if not download:
            raise ConnectorError(f"{ref.title}: no download link was listed", document_id=ref.id)
        data = self.api.download(
            download, what=f"attachment {ref.title}", max_bytes=self.max_attachment_bytes
        )
        extension = PurePosixPath(ref.title).suffix.lower()
        media = str(ref.meta.get("media_type") or "")
        if extension not in ATTACHMENT_TYPES:
            extension = next((ext for ext, kind in ATTACHMENT_TYPES.items() if kind == media), ".pdf")
        return FetchedDocument(
            ref=ref, data=data, file_name=_file_name(ref.title, extension), media_type=media or None
        )


def _file_name(title: str, extension: str) -> str:
    """A file name the converter routes on: the title, made safe, with ``extension``."""
    stem = PurePosixPath(title).stem if PurePosixPath(title).suffix.lower() == extension else title
    safe = re.sub(r"[^\w.\- ]+", "_", stem).strip(" ._") or "page"
    return f"{safe[:120]}{extension}"

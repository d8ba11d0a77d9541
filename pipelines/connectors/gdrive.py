"""The Google Drive connector: chosen folders and shared drives, with who may read each file.

A service account reads Drive (``drive.readonly``), as itself (share the folders with its email, or add it
to the shared drives) or, with domain-wide delegation, as the ``subject`` it impersonates. Google Docs
are exported as Markdown (HTML where Markdown is refused) and Slides as text; Sheets as a workbook that
becomes one Markdown page of headed tables (CSV would carry the first sheet only); PDFs, Word files,
Markdown, HTML and text are downloaded as they are, Excel and CSV files then made Markdown tables too.
Everything else (images, video, PowerPoint files, forms, shortcuts) is not listed.

Incremental syncs use Drive's changes feed: the first sync lists every folder and drive and records a
start page token per corpus (the service account's own corpus for folders, one per shared drive) taken
*before* listing, so nothing changed during the listing is missed. Later syncs read only the changes
since the token and apply them to the recorded listing (the connector's state), so a sync of an
unchanged Drive costs one request per corpus. A file's version is its ``modifiedTime`` (content edits),
not Drive's ``version`` (which also counts sharing changes): a sharing change re-reads the file's
permissions and changes its audience without a new version, so it is not downloaded or embedded again.
A folder whose own sharing changed has the permissions of every file below it read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
from pipelines.connectors.gdrive_client import GoogleApis, ServiceAccountKey, status_of
from pipelines.connectors.gdrive_permissions import GroupDirectory, file_permissions, map_permissions
from pipelines.connectors.spreadsheet_tables import SpreadsheetError, csv_to_markdown, workbook_to_markdown

logger = logging.getLogger(__name__)

FOLDER = "application/vnd.google-apps.folder"
GOOGLE_DOC = "application/vnd.google-apps.document"
GOOGLE_SHEET = "application/vnd.google-apps.spreadsheet"
GOOGLE_SLIDES = "application/vnd.google-apps.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: How each indexed type is read: (export MIME type or None for the file's own bytes, extension).
#: Export types are those Drive's "Export MIME types for Google Workspace documents" table lists. Docs
#: go out as Markdown: their tables arrive as pipe tables with a header row, which indexing reads as
#: labelled rows ("City: London; Limit: 240 EUR."); the HTML export writes a table's header as plain
#: cells, so the labels would be lost. HTML remains the fallback where Markdown is refused.
DOC_FALLBACK = ("text/html", ".html")
READERS: dict[str, tuple[str | None, str]] = {
    GOOGLE_DOC: ("text/markdown", ".md"),
    GOOGLE_SLIDES: ("text/plain", ".txt"),
    GOOGLE_SHEET: (XLSX, ".md"),
    "application/pdf": (None, ".pdf"),
    DOCX: (None, ".docx"),
    XLSX: (None, ".md"),
    "text/csv": (None, ".md"),
    "text/plain": (None, ".txt"),
    "text/markdown": (None, ".md"),
    "text/html": (None, ".html"),
}
FILE_FIELDS = "id, name, mimeType, modifiedTime, version, webViewLink, parents, driveId, trashed, size"
LIST_FIELDS = f"nextPageToken, files({FILE_FIELDS})"
CHANGE_FIELDS = (
    f"nextPageToken, newStartPageToken, changes(changeType, removed, fileId, driveId, file({FILE_FIELDS}))"
)
USER_CORPUS = "user"
DEFAULT_MAX_FILE_MB = 50


@dataclass
class DriveListing:
    """What the last complete listing saw: the connector's state between syncs (JSON as :meth:`dump`).

    ``tokens``: the changes page token per corpus. ``folders``: every folder in scope, with its parents
    and a fingerprint of its own permissions. ``files``: every indexed file's metadata and its Drive
    permissions (``grants``), mapped to an audience at every sync.
    """

    tokens: dict[str, str] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return {"version": 1, "tokens": self.tokens, "folders": self.folders, "files": self.files}

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> DriveListing | None:
        if not raw or raw.get("version") != 1:
            return None
        return cls(
            tokens=dict(raw.get("tokens", {})),
            folders={k: dict(v) for k, v in raw.get("folders", {}).items()},
            files={k: dict(v) for k, v in raw.get("files", {}).items()},
        )

    def copy(self) -> DriveListing:
        return DriveListing.load(json.loads(json.dumps(self.dump()))) or DriveListing()


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@register
class GoogleDriveConnector(Connector):
    """Google Drive folders and shared drives, with their sharing as each file's audience."""

    kind: ClassVar[str] = "gdrive"
    settings: ClassVar[Mapping[str, str]] = {
        "folders": "folder ids to sync, with their subfolders (ID1,ID2), shared with the service account",
        "drives": "shared drive ids to sync whole (ID1,ID2); the service account must be a member",
        "domain": "your Google Workspace domain: files shared with it are for everyone in Needle",
        "subject": "a user to act as, with domain-wide delegation (else the service account itself)",
        "admin_email": "an admin to act as to read Google Groups' members (Admin SDK); unset: groups "
        "grant nothing",
        "max_file_mb": f"files larger than this are skipped (default {DEFAULT_MAX_FILE_MB})",
        "api_root": "another root for Google's APIs (a private endpoint); default Google's own",
    }
    default_interval: ClassVar[int] = 3600
    secret_settings: ClassVar[Mapping[str, str]] = {
        "service_account_file": "the path of the service account's JSON key file",
        "service_account_json": "the service account's JSON key itself (instead of the file)",
    }

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: PeopleDirectory | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config, secrets, people)
        self.folders = _split(self.config.get("folders"))
        self.drives = _split(self.config.get("drives"))
        self.subject = self.config.get("subject") or self.secrets.get("subject") or None
        self.admin_email = self.config.get("admin_email") or None
        self.domain = (
            self.config.get("domain") or _domain_of(self.subject or self.admin_email) or ""
        ).lower()
        try:
            self.max_file_bytes = int(float(self.config.get("max_file_mb") or DEFAULT_MAX_FILE_MB) * 1e6)
        except ValueError:
            self.max_file_bytes = -1  # refused by check_config, before any listing
        self._listing = DriveListing.load(state)
        self._apis: GoogleApis | None = None

    def check_config(self) -> None:
        """Refuse settings that cannot work (called when the connector is added, and before a listing)."""
        super().check_config()  # unknown settings
        if not self.folders and not self.drives:
            raise ConnectorError(
                "gdrive connectors need --set folders=ID1,ID2 or --set drives=SHARED_DRIVE_ID"
            )
        if self.max_file_bytes <= 0:
            raise ConnectorError("max_file_mb must be a positive number of MB")
        for key in ("subject", "admin_email"):
            value = self.config.get(key)
            if value and "@" not in value:
                raise ConnectorError(f"{key} must be an email address, not {value!r}")

    # -- state -----------------------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any] | None:
        """The state to keep for the next sync (page tokens and the listing), after a complete listing."""
        return self._listing.dump() if self._listing else None

    def restore_state(self, state: Mapping[str, Any] | None) -> None:
        """Resume from what :attr:`state` gave after the last complete listing; an unknown shape (or
        ``None``) means the next listing is a full one."""
        self._listing = DriveListing.load(state)

    @property
    def apis(self) -> GoogleApis:
        if self._apis is None:
            self._apis = GoogleApis(
                ServiceAccountKey.from_secrets(self.secrets),
                subject=self.subject,
                admin_email=self.admin_email,
                api_root=self.config.get("api_root") or None,
            )
        return self._apis

    # -- listing ---------------------------------------------------------------------------------------

    def list_documents(self) -> Iterator[DocumentRef]:
        """Every indexed file in the folders and drives: from the changes feed when a previous listing
        is known, else by listing everything. The state advances only once the listing is complete.

        Every file's audience is mapped again on every sync from its recorded Drive permissions, even if
        the file did not change: a person who joined Slack, or left or joined a Google Group, is seen at
        the next sync (groups are read once per sync each)."""
        self.check_config()
        if self._listing is not None and self._tokens_cover_scope(self._listing):
            listing = self._apply_changes(self._listing.copy())
        else:
            listing = self._full_listing()
        groups = GroupDirectory(self.apis if self.admin_email else None)
        refs = [self._ref(file_id, entry, groups) for file_id, entry in sorted(listing.files.items())]
        self._listing = listing
        yield from refs

    def _tokens_cover_scope(self, listing: DriveListing) -> bool:
        """A listing made for other folders or drives (the settings changed) is not reused."""
        wanted = {f"drive:{d}" for d in self.drives} | ({USER_CORPUS} if self.folders else set())
        roots_known = all(folder in listing.folders for folder in self.folders)
        return set(listing.tokens) == wanted and roots_known

    def _full_listing(self) -> DriveListing:
        listing = DriveListing()
        drive = self.apis.drive
        # Tokens first: a change made while the listing runs is then read again next time, never lost.
        if self.folders:
            reply = self.apis.run(
                drive.changes().getStartPageToken(supportsAllDrives=True), what="starting the changes feed"
            )
            listing.tokens[USER_CORPUS] = reply["startPageToken"]
        for drive_id in self.drives:
            reply = self.apis.run(
                drive.changes().getStartPageToken(driveId=drive_id, supportsAllDrives=True),
                what=f"starting the changes feed of shared drive {drive_id}",
            )
            listing.tokens[f"drive:{drive_id}"] = reply["startPageToken"]
        for folder_id in self.folders:
            root = self.apis.run(
                drive.files().get(fileId=folder_id, supportsAllDrives=True, fields=FILE_FIELDS),
                what=f"reading the folder {folder_id} (is it shared with the service account?)",
            )
            if root.get("mimeType") != FOLDER or root.get("trashed"):
                raise ConnectorError(f"{folder_id} ({root.get('name', '?')}) is not a folder in Drive")
            listing.folders[folder_id] = {
                "parents": [],
                "root": True,
                "sharing": self._sharing(folder_id, root),
            }
            self._list_folder_tree(listing, folder_id)
        for drive_id in self.drives:
            self._list_drive(listing, drive_id)
        return listing

    def _pages(self, what: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            request = self.apis.drive.files().list(
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                pageSize=1000,
                fields=LIST_FIELDS,
                pageToken=token,
                **params,
            )
            reply = self.apis.run(request, what=what)
            yield from reply.get("files", [])
            token = reply.get("nextPageToken")
            if not token:
                return

    def _list_folder_tree(self, listing: DriveListing, folder_id: str) -> None:
        pending = [folder_id]
        while pending:
            current = pending.pop()
            for item in self._pages(
                f"listing the folder {current}", q=f"'{current}' in parents and trashed = false"
            ):
                if item.get("mimeType") == FOLDER:
                    if item["id"] not in listing.folders:
                        listing.folders[item["id"]] = {
                            "parents": list(item.get("parents", [])),
                            "drive": item.get("driveId"),
                            "sharing": self._sharing(item["id"], item),
                        }
                        pending.append(item["id"])
                else:
                    self._add_file(listing, item)

    def _list_drive(self, listing: DriveListing, drive_id: str) -> None:
        items = list(
            self._pages(
                f"listing the shared drive {drive_id}", corpora="drive", driveId=drive_id, q="trashed = false"
            )
        )
        for item in items:
            if item.get("mimeType") == FOLDER:
                listing.folders[item["id"]] = {
                    "parents": list(item.get("parents", [])),
                    "drive": drive_id,
                    "sharing": self._sharing(item["id"], item),
                }
        for item in items:
            if item.get("mimeType") != FOLDER:
                self._add_file(listing, item)

    def _sharing(self, item_id: str, item: Mapping[str, Any]) -> str:
        """A fingerprint of a folder's permissions, to notice when its sharing changes."""
        grants = self._read_grants(item_id, str(item.get("name", item_id)))
        permissions = grants if grants is not None else []
        keys = sorted(
            (
                str(p.get("type")),
                str(p.get("emailAddress", "")).lower(),
                str(p.get("domain", "")).lower(),
                str(p.get("role")),
            )
            for p in permissions
            if not p.get("deleted")
        )
        return hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]

    def _add_file(self, listing: DriveListing, item: Mapping[str, Any]) -> None:
        if item.get("mimeType") not in READERS or item.get("trashed"):
            listing.files.pop(item["id"], None)
            return
        name = str(item.get("name") or item["id"])
        grants = self._read_grants(item["id"], name)
        if grants is None:
            listing.files.pop(item["id"], None)  # deleted while the listing ran
            return
        listing.files[item["id"]] = {
            "name": name,
            "mime_type": item["mimeType"],
            "modified": item.get("modifiedTime"),
            "drive_version": item.get("version"),
            "url": item.get("webViewLink"),
            "parents": list(item.get("parents", [])),
            "drive_id": item.get("driveId"),
            "size": int(item["size"]) if item.get("size") else None,
            "grants": grants,
        }

    def _read_grants(self, file_id: str, name: str) -> list[dict[str, Any]] | None:
        """The file's permissions as recorded grants; ``None`` when the file is gone (404). Sharing Drive
        refuses to show (403: a reader may be refused it) restricts the file to no one, and says so."""
        try:
            return _grants(file_permissions(self.apis, file_id, name))
        except ConnectorError as error:
            if error.retryable:
                raise
            if "(404" in error.reason:
                return None
            # Only the status and Google's reason: unmapped principals are listed to every console
            # viewer, and the full message names the (restricted) file.
            return [{"type": "unreadable", "id": status_of(error)}]

    # -- incremental -----------------------------------------------------------------------------------

    def _changes(self, listing: DriveListing) -> list[dict[str, Any]]:
        """Every change since the recorded tokens, all corpora; the tokens move to the feeds' ends."""
        changes: list[dict[str, Any]] = []
        for corpus, start in sorted(listing.tokens.items()):
            drive_id = corpus.removeprefix("drive:") if corpus.startswith("drive:") else None
            token = start
            while True:
                params: dict[str, Any] = {"driveId": drive_id} if drive_id else {}
                request = self.apis.drive.changes().list(
                    pageToken=token,
                    includeRemoved=True,
                    supportsAllDrives=True,
                    includeItemsFromAllDrives=True,
                    pageSize=1000,
                    fields=CHANGE_FIELDS,
                    **params,
                )
                reply = self.apis.run(request, what=f"reading the changes of {corpus}")
                changes.extend(reply.get("changes", []))
                if reply.get("newStartPageToken"):
                    listing.tokens[corpus] = reply["newStartPageToken"]
                    break
                token = reply.get("nextPageToken")
                if not token:
                    raise ConnectorError(f"Drive's changes feed of {corpus} ended without a new start token")
        return changes

    def _in_scope(self, listing: DriveListing, item: Mapping[str, Any]) -> bool:
        if item.get("driveId") in self.drives:
            return True
        return any(parent in listing.folders for parent in item.get("parents", []))

    def _apply_changes(self, listing: DriveListing) -> DriveListing:
        changes = self._changes(listing)
        changed_folders: dict[str, dict[str, Any]] = {}
        changed_files: dict[str, dict[str, Any]] = {}
        for change in changes:  # later changes of one file replace earlier ones
            if change.get("changeType") == "drive":
                if change.get("removed") and change.get("driveId") in self.drives:
                    raise ConnectorError(
                        f"the service account lost access to the shared drive {change.get('driveId')}; "
                        "add it back as a member, or remove the drive from the connector"
                    )
                continue
            file_id = change.get("fileId")
            item = change.get("file")
            if not file_id:
                continue
            if change.get("removed") or not item or item.get("trashed"):
                changed_files[file_id] = {}
                changed_folders.pop(file_id, None)
                if file_id in listing.folders:
                    changed_folders[file_id] = {}
            elif item.get("mimeType") == FOLDER:
                changed_folders[file_id] = item
            else:
                changed_files[file_id] = item
        known_before = set(listing.folders)
        self._place_folders(listing, changed_folders)
        for folder_id in sorted(set(listing.folders) - known_before):
            self._list_folder_tree(listing, folder_id)  # moved into scope: its contents are new to us
        for file_id, item in changed_files.items():
            if item and self._in_scope(listing, item):
                self._add_file(listing, item)
            else:
                listing.files.pop(file_id, None)
        for file_id in [
            f for f, entry in listing.files.items() if not self._in_scope(listing, self._as_item(entry))
        ]:
            del listing.files[file_id]  # its folder left the scope
        for folder_id in sorted((set(changed_folders) & known_before) & set(listing.folders)):
            self._refresh_sharing(listing, folder_id, changed_folders[folder_id], set(changed_files))
        return listing

    @staticmethod
    def _as_item(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {"parents": entry.get("parents", []), "driveId": entry.get("drive_id")}

    def _place_folders(self, listing: DriveListing, changed: Mapping[str, Mapping[str, Any]]) -> None:
        """Folders that changed take their new place: in scope if a parent is (found to a fixed point, as
        a new folder and its new subfolder may arrive in any order), else out with their subtrees."""
        sharing = {f: listing.folders[f].get("sharing") for f in changed if f in listing.folders}
        for folder_id, item in changed.items():
            if listing.folders.get(folder_id, {}).get("root"):
                if not item:
                    raise ConnectorError(
                        f"the folder {folder_id} was deleted, trashed or unshared from the service account; "
                        "share it again, or remove it from the connector's folders"
                    )
                continue
            listing.folders.pop(folder_id, None)
        pending = {f: item for f, item in changed.items() if item and f not in listing.folders}
        placed = True
        while placed:
            placed = False
            for folder_id, item in list(pending.items()):
                if self._in_scope(listing, item):
                    listing.folders[folder_id] = {
                        "parents": list(item.get("parents", [])),
                        "drive": item.get("driveId"),
                        "sharing": sharing.get(folder_id),
                    }
                    del pending[folder_id]
                    placed = True
        orphaned = True
        while orphaned:  # a folder whose parent left the scope leaves with it
            orphaned = False
            for folder_id, entry in list(listing.folders.items()):
                item = {"parents": entry.get("parents", []), "driveId": entry.get("drive")}
                if not entry.get("root") and not self._in_scope(listing, item):
                    del listing.folders[folder_id]
                    orphaned = True

    def _refresh_sharing(
        self,
        listing: DriveListing,
        folder_id: str,
        item: Mapping[str, Any],
        already: set[str],
    ) -> None:
        """Read the permissions of every file below a folder whose own sharing changed."""
        fingerprint = self._sharing(folder_id, item)
        if fingerprint == listing.folders[folder_id].get("sharing"):
            return
        listing.folders[folder_id]["sharing"] = fingerprint
        below = self._descendants(listing, folder_id)
        for file_id, entry in list(listing.files.items()):
            if file_id not in already and set(entry.get("parents", [])) & below:
                grants = self._read_grants(file_id, entry["name"])
                if grants is None:
                    del listing.files[file_id]
                else:
                    entry["grants"] = grants

    @staticmethod
    def _descendants(listing: DriveListing, folder_id: str) -> set[str]:
        below = {folder_id}
        grown = True
        while grown:
            grown = False
            for child, entry in listing.folders.items():
                if child not in below and set(entry.get("parents", [])) & below:
                    below.add(child)
                    grown = True
        return below

    def _ref(self, file_id: str, entry: Mapping[str, Any], groups: GroupDirectory) -> DocumentRef:
        access = map_permissions(entry.get("grants", []), self.people, groups, self.domain or None)
        return DocumentRef(
            id=file_id,
            title=entry["name"],
            version=str(entry.get("modified") or entry.get("drive_version") or ""),
            url=entry.get("url"),
            modified=entry.get("modified"),
            audience=access.audience,
            unmapped=access.unmapped,
            meta={
                "mime_type": entry["mime_type"],
                "drive_version": entry.get("drive_version"),
                "drive_id": entry.get("drive_id"),
                "size": entry.get("size"),
            },
        )

    def current_ids(self) -> set[str]:
        return {ref.id for ref in self.list_documents()}

    # -- fetching --------------------------------------------------------------------------------------

    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        """The file's bytes as Needle indexes them: exported, downloaded, or a workbook made Markdown."""
        mime_type = str(ref.meta.get("mime_type", ""))
        if mime_type not in READERS:
            raise ConnectorError(
                f"{ref.title!r} is a {mime_type or 'file of unknown type'}, which is not synced",
                document_id=ref.id,
            )
        size = ref.meta.get("size")
        if isinstance(size, int) and size > self.max_file_bytes:
            raise ConnectorError(
                f"{ref.title!r} is {size / 1e6:.1f} MB, over max_file_mb ({self.max_file_bytes / 1e6:g} MB)",
                document_id=ref.id,
            )
        export_type, extension = READERS[mime_type]
        try:
            try:
                data = self._download(ref, export_type)
            except ConnectorError as error:
                if mime_type != GOOGLE_DOC or "(400" not in error.reason:
                    raise
                export_type, extension = DOC_FALLBACK  # "The requested conversion is not supported."
                data = self._download(ref, export_type)
        except ConnectorError as error:
            if error.document_id and "(404" in error.reason:
                return Gone(ref, "deleted in Drive, or no longer shared with the service account")
            raise
        media_type = {".html": "text/html", ".txt": "text/plain", ".md": "text/markdown"}.get(
            extension, mime_type
        )
        try:
            if mime_type in (GOOGLE_SHEET, XLSX):
                data = workbook_to_markdown(data, ref.title).encode("utf-8")
            elif mime_type == "text/csv":
                data = csv_to_markdown(data, ref.title).encode("utf-8")
        except SpreadsheetError as error:
            raise ConnectorError(f"{ref.title!r} could not be read: {error}", document_id=ref.id) from None
        return FetchedDocument(
            ref=ref, data=data, file_name=_file_name(ref.title, extension), media_type=media_type
        )

    def _download(self, ref: DocumentRef, export_type: str | None) -> bytes:
        """files.export as ``export_type`` (Docs editors files), else files.get with ``alt=media``."""
        files = self.apis.drive.files()
        if export_type:
            request = files.export_media(fileId=ref.id, mimeType=export_type)
            what = f"exporting {ref.title!r} as {export_type}"
        else:
            request = files.get_media(fileId=ref.id, supportsAllDrives=True)
            what = f"downloading {ref.title!r}"
        return bytes(self.apis.run(request, what=what, document_id=ref.id))


def _grants(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of Drive's permissions that decide who may read (kept in the state, mapped each sync)."""
    keep = ("type", "emailAddress", "domain", "deleted", "id")
    return [{key: p[key] for key in keep if key in p} for p in permissions]


def _domain_of(email: str | None) -> str | None:
    return email.rsplit("@", 1)[1] if email and "@" in email else None


def _file_name(title: str, extension: str) -> str:
    """A file name for the converters: the title without path separators, ending in ``extension``."""
    base = re.sub(r"[\x00-\x1f/\\]+", " ", title).strip() or "untitled"
    return base if base.lower().endswith(extension) else f"{base}{extension}"

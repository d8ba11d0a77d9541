"""A local server that speaks Google Drive API v3's documented REST protocol, the OAuth 2.0 token endpoint
a service account signs a JWT for, and the Admin SDK Directory API's group members.

Only what the connector's tests need, as Google documents it (the request paths and parameters are those
of the Drive v3 reference and the discovery document google-api-python-client ships):

- ``POST /token``: a JWT bearer grant (RFC 7523) signed RS256 with the service account's key, verified
  here with its public key; ``{"access_token", "expires_in", "token_type"}``, or 400 ``invalid_grant``.
- ``GET /drive/v3/files`` with ``q`` (``'ID' in parents and trashed = false``, ``trashed = false``),
  ``corpora=drive`` + ``driveId``, ``pageSize``/``pageToken`` pagination and ``fields`` partial responses.
- ``GET /drive/v3/files/ID`` (metadata, or the bytes with ``alt=media``), ``GET /drive/v3/files/ID/export``.
- ``GET /drive/v3/files/ID/permissions``: the file's own permissions, those inherited from its folders and
  the shared drive's members, paginated.
- ``GET /drive/v3/changes/startPageToken`` and ``GET /drive/v3/changes`` (``nextPageToken`` until
  ``newStartPageToken``), per shared drive with ``driveId``.
- ``GET /admin/directory/v1/groups/KEY/members``: only for a token that acts as an admin (``sub``).
- Errors in Google's JSON error shape: 401 ``authError``, 403 ``rateLimitExceeded`` / 429 with
  ``Retry-After``, 404 ``notFound``, 403 ``fileNotDownloadable``, 400 ``badRequest``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.loopback_server import serving

FOLDER = "application/vnd.google-apps.folder"
GOOGLE_TYPES = {
    "application/vnd.google-apps.document",
    "application/vnd.google-apps.spreadsheet",
    "application/vnd.google-apps.presentation",
}
#: Google's OAuth guide for service accounts: the JWT's ``aud`` "is always https://oauth2.googleapis.com/token"
#: when requesting an access token, wherever the token request is sent.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
INVALID_TOKEN_CHALLENGE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
DEFAULT_FILE_FIELDS = ("kind", "id", "name", "mimeType")


@dataclass
class FakeFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    drive_id: str | None = None
    content: bytes = b""
    exports: dict[str, bytes] = field(default_factory=dict)
    permissions: list[dict[str, Any]] = field(default_factory=list)
    modified_time: str = "2026-11-01T09:00:00.000Z"
    version: int = 1
    trashed: bool = False

    def resource(self, base_url: str) -> dict[str, Any]:
        kind = (
            "folders"
            if self.mime_type == FOLDER
            else ("document" if "document" in self.mime_type else "file")
        )
        out: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "modifiedTime": self.modified_time,
            "version": str(self.version),
            "trashed": self.trashed,
            "webViewLink": f"https://drive.google.com/{kind}/d/{self.id}/view",
        }
        if self.drive_id:
            out["driveId"] = self.drive_id
        if self.mime_type not in GOOGLE_TYPES and self.mime_type != FOLDER:
            out["size"] = str(len(self.content))
        return out


@dataclass
class FakeDriveState:
    client_email: str
    public_key: Any
    files: dict[str, FakeFile] = field(default_factory=dict)
    #: Shared drive id -> its members' permissions (inherited by every item in it).
    drives: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Group email -> members ({"email", "type": USER|GROUP|CUSTOMER, "status"}).
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The changes log: (sequence number, file id or drive id, "file" | "drive", removed).
    changes: list[tuple[int, str, str, bool]] = field(default_factory=list)
    removed_drive_ids: dict[str, str | None] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Answer the token endpoint with this OAuth error (``invalid_grant``) while set.
    token_error: str | None = None
    #: Queued failures: (path regex, status, headers, Google error reason) consumed by the first match.
    failures: list[tuple[str, int, dict[str, str], str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    page_size_cap: int = 1000
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- mutations (each one is a change in the changes feed, as at Drive) -----------------------------

    def _record(self, item_id: str, kind: str = "file", removed: bool = False) -> None:
        self.changes.append((next(self._seq), item_id, kind, removed))

    def _tick(self) -> str:
        return f"2026-12-0{1 + next(self._clock) // 50}T10:{next(self._clock) % 60:02d}:00.000Z"

    def add(self, file: FakeFile) -> FakeFile:
        with self.lock:
            self.files[file.id] = file
            self._record(file.id)
            return file

    def edit(
        self, file_id: str, *, content: bytes | None = None, exports: dict[str, bytes] | None = None
    ) -> None:
        with self.lock:
            file = self.files[file_id]
            if content is not None:
                file.content = content
            if exports is not None:
                file.exports.update(exports)
            file.modified_time = self._tick()
            file.version += 1
            self._record(file_id)

    def share(self, file_id: str, permissions: list[dict[str, Any]]) -> None:
        """Replace an item's own permissions: ``version`` moves, ``modifiedTime`` does not (a sharing
        change is not a content change)."""
        with self.lock:
            file = self.files[file_id]
            file.permissions = permissions
            file.version += 1
            self._record(file_id)

    def move(self, file_id: str, parents: list[str]) -> None:
        with self.lock:
            self.files[file_id].parents = parents
            self.files[file_id].version += 1
            self._record(file_id)

    def trash(self, file_id: str) -> None:
        with self.lock:
            self.files[file_id].trashed = True
            self.files[file_id].version += 1
            self._record(file_id)

    def delete(self, file_id: str) -> None:
        with self.lock:
            file = self.files.pop(file_id)
            self.removed_drive_ids[file_id] = file.drive_id
            self._record(file_id, removed=True)

    def fail(
        self, path_pattern: str, status: int, reason: str, retry_after: str | None = None, times: int = 1
    ) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self.lock:
            self.failures.extend([(path_pattern, status, headers, reason)] * times)

    def expire_tokens(self) -> None:
        """Every access token issued so far is rejected from now on (expired, or revoked)."""
        with self.lock:
            self.tokens.clear()

    def paths(self, method: str = "GET") -> list[str]:
        return [r["path"] for r in self.requests if r["method"] == method]

    # -- reads -----------------------------------------------------------------------------------------

    def ancestors(self, file: FakeFile) -> list[FakeFile]:
        seen: list[FakeFile] = []
        pending = list(file.parents)
        while pending:
            parent = self.files.get(pending.pop())
            if parent is not None and parent not in seen:
                seen.append(parent)
                pending.extend(parent.parents)
        return seen

    def effective_permissions(self, file: FakeFile) -> list[dict[str, Any]]:
        """The item's own permissions, those of its folders (inherited, as Drive lists them) and its shared
        drive's members."""
        permissions = [dict(p) for p in file.permissions]
        for ancestor in self.ancestors(file):
            permissions.extend(dict(p) for p in ancestor.permissions)
        if file.drive_id:
            permissions.extend(dict(p) for p in self.drives.get(file.drive_id, []))
        unique: dict[str, dict[str, Any]] = {}
        for permission in permissions:
            unique.setdefault(permission["id"], permission)
        return list(unique.values())


@lru_cache(maxsize=1)
def _test_rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key per test process, generated here: a test fixture, never a real account's key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_service_account_key(token_uri: str) -> tuple[dict[str, Any], Any]:
    """A test-only service account key (generated for the tests, never a real account's), and its public
    key."""
    private = _test_rsa_key()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "needle-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": "needle-sync@needle-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    return info, private.public_key()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _parse_fields(spec: str) -> dict[str, Any]:
    """``nextPageToken, files(id, name)`` -> ``{"nextPageToken": {}, "files": {"id": {}, "name": {}}}``."""
    tree: dict[str, Any] = {}
    stack = [tree]
    name = ""
    for char in spec + ",":
        if char == "(":
            child: dict[str, Any] = {}
            stack[-1][name.strip()] = child
            stack.append(child)
            name = ""
        elif char in ",)":
            if name.strip():
                stack[-1][name.strip()] = {}
            name = ""
            if char == ")":
                stack.pop()
        else:
            name += char
    return tree


def _select(value: Any, tree: dict[str, Any]) -> Any:
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [_select(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: _select(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server: Any
        protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends; every reply has a Content-Length
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall each

        def log_message(self, *args: Any) -> None:
            pass

        @property
        def state(self) -> FakeDriveState:
            return self.server.state

        @property
        def base_url(self) -> str:
            return f"http://127.0.0.1:{self.server.server_address[1]}"

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8", headers)

        def _error(
            self, status: int, reason: str, message: str, headers: dict[str, str] | None = None
        ) -> None:
            domain = "usageLimits" if "RateLimit" in reason or reason == "rateLimitExceeded" else "global"
            self._json(
                status,
                {
                    "error": {
                        "code": status,
                        "message": message,
                        "errors": [{"domain": domain, "reason": reason, "message": message}],
                    }
                },
                headers,
            )

        # -- OAuth ---------------------------------------------------------------------------------------

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            path = urllib.parse.urlsplit(self.path).path
            with self.state.lock:
                self.state.requests.append({"method": "POST", "path": path, "query": {}})
            if path != "/token":
                self._error(404, "notFound", f"no route {path}")
                return
            if self.state.token_error:
                self._json(
                    400, {"error": self.state.token_error, "error_description": "Invalid JWT Signature."}
                )
                return
            if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get(
                "assertion"
            ):
                self._json(
                    400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
                )
                return
            claims = self._verify(form["assertion"][0])
            if claims is None:
                self._json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                return
            token = f"ya29.test-{len(self.state.tokens) + 1}-{time.monotonic_ns()}"
            with self.state.lock:
                self.state.tokens[token] = {
                    "scopes": set(str(claims.get("scope", "")).split()),
                    "sub": claims.get("sub"),
                }
            self._json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

        def _verify(self, assertion: str) -> dict[str, Any] | None:
            try:
                header_b64, claims_b64, signature_b64 = assertion.split(".")
                header = json.loads(_b64decode(header_b64))
                claims = json.loads(_b64decode(claims_b64))
                if header.get("alg") != "RS256":
                    return None
                self.state.public_key.verify(
                    _b64decode(signature_b64),
                    f"{header_b64}.{claims_b64}".encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except Exception:
                return None
            if claims.get("iss") != self.state.client_email or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
                return None
            if not (claims.get("iat", 0) - 300 <= time.time() <= claims.get("exp", 0) + 300):
                return None
            return claims

        # -- API -----------------------------------------------------------------------------------------

        def do_GET(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            query = {key: values[-1] for key, values in urllib.parse.parse_qs(split.query).items()}
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            grant = self.state.tokens.get(token)
            with self.state.lock:
                self.state.requests.append(
                    {
                        "method": "GET",
                        "path": path,
                        "query": query,
                        "sub": grant.get("sub") if grant else None,
                    }
                )
                failure = next((f for f in self.state.failures if re.search(f[0], path)), None)
                if failure is not None:
                    self.state.failures.remove(failure)
            if grant is None:
                self._error(
                    401,
                    "authError",
                    "Invalid Credentials",
                    {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
                )
                return
            if failure is not None:
                _, status, headers, reason = failure
                self._error(status, reason, "Rate Limit Exceeded" if "ate" in reason else reason, headers)
                return
            with self.state.lock:
                self._route(path, query, grant)

        def _route(self, path: str, query: dict[str, str], grant: dict[str, Any]) -> None:
            if path.startswith("/admin/directory/v1/groups/"):
                self._members(path, query, grant)
                return
            if "https://www.googleapis.com/auth/drive.readonly" not in grant["scopes"]:
                self._error(403, "insufficientPermissions", "Insufficient Permission")
                return
            if path == "/drive/v3/files":
                self._files_list(query)
            elif path == "/drive/v3/changes/startPageToken":
                self._json(200, {"kind": "drive#startPageToken", "startPageToken": str(self._next_seq())})
            elif path == "/drive/v3/changes":
                self._changes_list(query)
            elif match := re.fullmatch(r"/drive/v3/files/([^/]+)/permissions", path):
                self._permissions_list(match.group(1), query)
            elif match := re.fullmatch(r"/drive/v3/files/([^/]+)/export", path):
                self._export(match.group(1), query)
            elif match := re.fullmatch(r"/drive/v3/files/([^/]+)", path):
                self._files_get(match.group(1), query)
            else:
                self._error(404, "notFound", f"no route {path}")

        def _next_seq(self) -> int:
            return (self.state.changes[-1][0] + 1) if self.state.changes else 1

        def _visible(self, file: FakeFile, query: dict[str, str]) -> bool:
            if file.drive_id:
                return query.get("supportsAllDrives") == "true"
            return True

        def _get_file(self, file_id: str, query: dict[str, str]) -> FakeFile | None:
            file = self.state.files.get(file_id)
            if file is None or not self._visible(file, query):
                self._json(
                    404,
                    {
                        "error": {
                            "code": 404,
                            "message": f"File not found: {file_id}.",
                            "errors": [
                                {
                                    "domain": "global",
                                    "reason": "notFound",
                                    "message": f"File not found: {file_id}.",
                                    "locationType": "parameter",
                                    "location": "fileId",
                                }
                            ],
                        }
                    },
                )
                return None
            return file

        def _page(
            self, items: list[Any], query: dict[str, str], default: int, cap: int
        ) -> tuple[list[Any], str | None]:
            size = min(int(query.get("pageSize", default)), cap, self.state.page_size_cap)
            start = int(query.get("pageToken") or 0)
            chunk = items[start : start + size]
            return chunk, (str(start + size) if start + size < len(items) else None)

        def _files_list(self, query: dict[str, str]) -> None:
            q = query.get("q", "")
            parent = None
            if match := re.fullmatch(r"'([^']+)' in parents and trashed = false", q):
                parent = match.group(1)
            elif q != "trashed = false":
                self._error(400, "invalid", f"Invalid Value (q: {q!r})")
                return
            if query.get("corpora") == "drive" and (
                not query.get("driveId") or query.get("includeItemsFromAllDrives") != "true"
            ):
                self._error(400, "invalid", "corpora=drive needs driveId and includeItemsFromAllDrives=true")
                return
            all_drives = (
                query.get("includeItemsFromAllDrives") == "true" and query.get("supportsAllDrives") == "true"
            )
            found = []
            for file in sorted(self.state.files.values(), key=lambda f: f.id):
                if file.trashed or (parent and parent not in file.parents):
                    continue
                if query.get("corpora") == "drive" and file.drive_id != query.get("driveId"):
                    continue
                if file.drive_id and not all_drives:
                    continue
                found.append(file.resource(self.base_url))
            # Drive's documented default: all files at once outside shared drives; 100 in them.
            chunk, token = self._page(found, query, 100, 1000)
            body: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False, "files": chunk}
            if token:
                body["nextPageToken"] = token
            fields = query.get("fields")
            tree = (
                _parse_fields(fields)
                if fields
                else {
                    "nextPageToken": {},
                    "kind": {},
                    "incompleteSearch": {},
                    "files": {k: {} for k in DEFAULT_FILE_FIELDS},
                }
            )
            self._json(200, _select(body, tree))

        def _files_get(self, file_id: str, query: dict[str, str]) -> None:
            file = self._get_file(file_id, query)
            if file is None:
                return
            if query.get("alt") == "media":
                if file.mime_type in GOOGLE_TYPES or file.mime_type == FOLDER:
                    self._error(
                        403,
                        "fileNotDownloadable",
                        "Only files with binary content can be downloaded. "
                        "Use Export with Docs Editors files.",
                    )
                    return
                self._send(200, file.content, file.mime_type)
                return
            fields = query.get("fields")
            tree = _parse_fields(fields) if fields else {k: {} for k in DEFAULT_FILE_FIELDS}
            self._json(200, _select(file.resource(self.base_url), tree))

        def _export(self, file_id: str, query: dict[str, str]) -> None:
            # files.export has no supportsAllDrives parameter (the reference lists fileId and mimeType).
            file = self._get_file(file_id, {**query, "supportsAllDrives": "true"})
            if file is None:
                return
            if file.mime_type not in GOOGLE_TYPES:
                self._error(403, "fileNotExportable", "Export only supports Docs Editors files.")
                return
            data = file.exports.get(query.get("mimeType", ""))
            if data is None:
                self._error(400, "badRequest", "The requested conversion is not supported.")
                return
            self._send(200, data, query["mimeType"])

        def _permissions_list(self, file_id: str, query: dict[str, str]) -> None:
            file = self._get_file(file_id, query)
            if file is None:
                return
            permissions = [{"kind": "drive#permission", **p} for p in self.state.effective_permissions(file)]
            chunk, token = self._page(permissions, query, 100, 100)
            body: dict[str, Any] = {"kind": "drive#permissionList", "permissions": chunk}
            if token:
                body["nextPageToken"] = token
            fields = query.get("fields")
            tree = (
                _parse_fields(fields)
                if fields
                else {
                    "nextPageToken": {},
                    "kind": {},
                    "permissions": {"kind": {}, "id": {}, "type": {}, "role": {}},
                }
            )
            self._json(200, _select(body, tree))

        def _changes_list(self, query: dict[str, str]) -> None:
            if "pageToken" not in query:
                self._error(400, "required", "Required parameter: pageToken")
                return
            start = int(query["pageToken"])
            drive_id = query.get("driveId")
            all_drives = (
                query.get("includeItemsFromAllDrives") == "true" and query.get("supportsAllDrives") == "true"
            )
            entries = []
            for seq, item_id, kind, removed in self.state.changes:
                if seq < start:
                    continue
                file = self.state.files.get(item_id)
                owner_drive = file.drive_id if file else self.state.removed_drive_ids.get(item_id)
                if drive_id and owner_drive != drive_id:
                    continue
                if not drive_id and owner_drive and not all_drives:
                    continue
                entry: dict[str, Any] = {
                    "kind": "drive#change",
                    "changeType": kind,
                    "fileId": item_id,
                    "removed": removed or file is None,
                    "time": "2026-12-01T10:00:00.000Z",
                }
                if owner_drive:
                    entry["driveId"] = owner_drive
                if file is not None and not removed:
                    entry["file"] = file.resource(self.base_url)
                entries.append((seq, entry))
            size = min(int(query.get("pageSize", 100)), 1000, self.state.page_size_cap)
            chunk = entries[:size]
            body: dict[str, Any] = {"kind": "drive#changeList", "changes": [entry for _, entry in chunk]}
            if len(entries) > size:
                body["nextPageToken"] = str(entries[size][0])
            else:
                body["newStartPageToken"] = str(self._next_seq())
            fields = query.get("fields")
            self._json(200, _select(body, _parse_fields(fields)) if fields else body)

        def _members(self, path: str, query: dict[str, str], grant: dict[str, Any]) -> None:
            scope = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
            if scope not in grant["scopes"] or not grant.get("sub"):
                self._json(
                    403,
                    {
                        "error": {
                            "code": 403,
                            "message": "Not Authorized to access this resource/api",
                            "errors": [
                                {
                                    "domain": "global",
                                    "reason": "forbidden",
                                    "message": "Not Authorized to access this resource/api",
                                }
                            ],
                        }
                    },
                )
                return
            match = re.fullmatch(r"/admin/directory/v1/groups/([^/]+)/members", path)
            group = urllib.parse.unquote(match.group(1)) if match else ""
            if group not in self.state.groups:
                self._json(
                    404,
                    {
                        "error": {
                            "code": 404,
                            "message": "Resource Not Found: groupKey",
                            "errors": [
                                {
                                    "domain": "global",
                                    "reason": "notFound",
                                    "message": "Resource Not Found: groupKey",
                                }
                            ],
                        }
                    },
                )
                return
            members = [
                {"kind": "admin#directory#member", "role": "MEMBER", "status": "ACTIVE", **m}
                for m in self._expand(group, query.get("includeDerivedMembership") == "true")
            ]
            size = min(int(query.get("maxResults", 200)), 200)
            start = int(query.get("pageToken") or 0)
            body: dict[str, Any] = {
                "kind": "admin#directory#members",
                "members": members[start : start + size],
            }
            if start + size < len(members):
                body["nextPageToken"] = str(start + size)
            self._json(200, body)

        def _expand(self, group: str, derived: bool, seen: set[str] | None = None) -> list[dict[str, Any]]:
            seen = seen if seen is not None else {group}
            out = []
            for member in self.state.groups.get(group, []):
                if member.get("type") == "GROUP" and derived:
                    if member["email"] not in seen:
                        seen.add(member["email"])
                        out.extend(self._expand(member["email"], derived, seen))
                else:
                    out.append(dict(member))
            return out

    return Handler


@contextmanager
def fake_gdrive(tmp_path: Path) -> Iterator[tuple[str, FakeDriveState, Path]]:
    """``(api_root, state, key_file)``: a running stand-in and a test service account's key file whose
    ``token_uri`` points at it. The key is generated here for the test and written under ``tmp_path``."""
    state = FakeDriveState(client_email="", public_key=None)
    with serving(_handler(), state, poll_interval=0.02) as url:
        info, public_key = make_service_account_key(f"{url}/token")
        state.client_email = info["client_email"]
        state.public_key = public_key
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(info))
        yield url, state, key_file

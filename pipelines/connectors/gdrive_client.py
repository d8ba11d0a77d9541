"""Google's API clients for the Drive connector: a service account's credentials, Drive v3 and the Admin
SDK's Directory API, and one way to run a request that turns Google's errors into :class:`ConnectorError`.

The clients are google-api-python-client's, built from the discovery documents the library ships
(``static_discovery=True``): nothing is downloaded at build time. ``api_root`` points both APIs (and
nothing else: the token endpoint is the key file's ``token_uri``) at another host, such as a private
endpoint or a test server.

Retries are ours, not the library's: its ``num_retries`` backs off on 429 and 403 rate limits but ignores
``Retry-After``, which Drive may send; a sync should wait what the server asks, up to a bound, and then
fail the sync (removing nothing) rather than hammer a quota.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from pipelines.connectors.base import ConnectorError

logger = logging.getLogger(__name__)

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
GROUP_MEMBERS_SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
#: Reasons Google gives for a 403 that is a quota, not a refusal (Drive's "Resolve errors" guide).
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
#: Longest single wait for a Retry-After; a server asking for more fails the sync (retryable) instead.
MAX_RETRY_AFTER_SECONDS = 120.0
HTTP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ServiceAccountKey:
    """A service account's JSON key, parsed; ``info`` holds the private key and is never logged."""

    info: Mapping[str, Any]

    @property
    def client_email(self) -> str:
        return str(self.info.get("client_email", ""))

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> ServiceAccountKey:
        """The key from ``service_account_file`` (a path) or ``service_account_json`` (the file's text).

        :raises ConnectorError: neither is given, the file cannot be read, or it is not a service
            account's key. The reason names the file, never its contents.
        """
        inline = secrets.get("service_account_json")
        path = secrets.get("service_account_file")
        if inline:
            text, where = inline, "service_account_json"
        elif path:
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as error:
                raise ConnectorError(
                    f"cannot read the service account key file {path}: {error.strerror}"
                ) from None
            where = path
        else:
            raise ConnectorError(
                "no service account key: set the secret service_account_file (the JSON key's path) "
                "or service_account_json"
            )
        try:
            info = json.loads(text)
        except ValueError:
            raise ConnectorError(f"the service account key ({where}) is not JSON") from None
        missing = [k for k in ("type", "client_email", "private_key", "token_uri") if not info.get(k)]
        if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
            raise ConnectorError(
                f"{where} is not a service account's JSON key (create one under IAM > Service accounts > "
                "Keys > Add key > JSON)"
            )
        return cls(info)


class GoogleApis:
    """Drive and Directory clients for one connector, sharing one way of running requests."""

    def __init__(
        self,
        key: ServiceAccountKey,
        *,
        subject: str | None = None,
        admin_email: str | None = None,
        api_root: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
    ) -> None:
        self.key = key
        self.subject = subject
        self.admin_email = admin_email
        self.api_root = api_root.rstrip("/") + "/" if api_root else None
        self.sleep = sleep
        self.max_attempts = max_attempts
        self._drive: Any = None
        self._directory: Any = None

    def _credentials(self, scopes: Sequence[str], subject: str | None) -> service_account.Credentials:
        credentials = _base_credentials(json.dumps(dict(self.key.info), sort_keys=True)).with_scopes(
            list(scopes)
        )
        return credentials.with_subject(subject) if subject else credentials

    def _build(self, api: str, version: str, scopes: Sequence[str], subject: str | None, path: str) -> Any:
        http = google_auth_httplib2.AuthorizedHttp(
            self._credentials(scopes, subject), http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS)
        )
        options = {"api_endpoint": self.api_root + path} if self.api_root else None
        return build(
            api, version, http=http, static_discovery=True, cache_discovery=False, client_options=options
        )

    @property
    def drive(self) -> Any:
        if self._drive is None:
            self._drive = self._build("drive", "v3", [DRIVE_SCOPE], self.subject, "drive/v3/")
        return self._drive

    @property
    def directory(self) -> Any:
        """The Directory API as ``admin_email`` (group members need an admin's delegated authority)."""
        if self._directory is None:
            self._directory = self._build(
                "admin", "directory_v1", [GROUP_MEMBERS_SCOPE], self.admin_email, ""
            )
        return self._directory

    def run(self, request: Any, *, what: str, document_id: str | None = None) -> Any:
        """``request.execute()``, waiting out rate limits and 5xx; Google's refusals become
        :class:`ConnectorError` with ``what`` (an action, "listing folder X") in the reason."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return request.execute(num_retries=0)
            except HttpError as error:
                status = int(error.resp.status)
                reasons = _error_reasons(error)
                waiting = status == 429 or status >= 500 or (status == 403 and reasons & RATE_LIMIT_REASONS)
                if not waiting:
                    raise _refusal(error, status, reasons, what, document_id) from None
                delay = _retry_after(error) or min(2.0**attempt, 32.0)
                if attempt == self.max_attempts or delay > MAX_RETRY_AFTER_SECONDS:
                    raise ConnectorError(
                        f"Google Drive kept refusing {what} ({status}: {_message(error)}) after "
                        f"{attempt} attempts; the sync will be tried again",
                        retryable=True,
                    ) from None
                # The request's method and status only: ``what`` may name a restricted file, and logs
                # are read by people outside its audience.
                method = getattr(request, "methodId", "a request")
                logger.info(
                    "Google answered %s to %s; waiting %.1f s (attempt %d)", status, method, delay, attempt
                )
                self.sleep(delay)
            except RefreshError as error:
                raise ConnectorError(
                    f"Google refused the service account's credentials while {what}: "
                    f"{_refresh_reason(error)}. "
                    "Check the key file (a deleted or rotated key), the scopes granted to the client id "
                    "under domain-wide delegation, and the subject",
                ) from None
            except (TransportError, httplib2.HttpLib2Error, OSError) as error:
                if attempt == self.max_attempts:
                    raise ConnectorError(
                        f"could not reach Google while {what}: {type(error).__name__}", retryable=True
                    ) from None
                self.sleep(min(2.0**attempt, 32.0))
        raise AssertionError("unreachable")


def status_of(error: ConnectorError) -> str:
    """``403 insufficientFilePermissions`` from a refusal's reason: what may be shown beside a principal
    (the full reason names the file or group it was about)."""
    found = re.search(r"\((\d{3}[^:)]*)", error.reason)
    return found.group(1) if found else "refused"


@lru_cache(maxsize=8)
def _base_credentials(key_json: str) -> service_account.Credentials:
    """The key's credentials without scopes, parsed once per process: reading an RSA private key checks
    it (about 0.2 s), and every sync builds two clients. Scoped copies share its signer."""
    try:
        return service_account.Credentials.from_service_account_info(json.loads(key_json))
    except (ValueError, GoogleAuthError):
        raise ConnectorError("the service account key's private key cannot be read") from None


def _error_body(error: HttpError) -> dict[str, Any]:
    try:
        body = json.loads(error.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return {}
    return body.get("error", {}) if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}


def _error_reasons(error: HttpError) -> set[str]:
    return {
        str(item.get("reason")) for item in _error_body(error).get("errors", []) if isinstance(item, dict)
    }


def _message(error: HttpError) -> str:
    return str(_error_body(error).get("message") or error.resp.reason or "no message")[:200]


def _retry_after(error: HttpError) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if the response had one."""
    raw = error.resp.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _refresh_reason(error: RefreshError) -> str:
    """The token endpoint's ``error`` and ``error_description`` (``invalid_grant: Invalid JWT
    Signature.``): OAuth's error words, which carry no secret."""
    text = str(error.args[0]) if error.args else "refused"
    return text.split("\n")[0][:200]


def _refusal(
    error: HttpError, status: int, reasons: set[str], what: str, document_id: str | None
) -> ConnectorError:
    message = _message(error)
    if status == 401:
        return ConnectorError(
            f"Google Drive refused the credentials while {what} (401: {message}); the key may have been "
            "revoked or the service account disabled"
        )
    if status == 404:
        return ConnectorError(
            f"not found at Google Drive while {what} (404: {message}); it was deleted, or the service "
            "account lost access to it",
            document_id=document_id,
        )
    if status == 403:
        return ConnectorError(
            f"Google Drive refused {what} (403 {', '.join(sorted(reasons)) or 'forbidden'}: {message})",
            document_id=document_id,
        )
    return ConnectorError(f"Google Drive refused {what} ({status}: {message})", document_id=document_id)

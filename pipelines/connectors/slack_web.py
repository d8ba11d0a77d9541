"""Slack's Web API as connectors call it: one client, paginated reads, and failures in plain words.

The Slack connector and the people directory both read Slack with the bot's token. They share this
module so that a rate limit, a 5xx or a revoked token means the same thing everywhere: 429s are retried
by slack_sdk's :class:`RateLimitErrorRetryHandler`, which waits as long as ``Retry-After`` says; what
still fails becomes a :class:`~pipelines.connectors.base.ConnectorError` whose reason an admin can act on
and which never holds the token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from pipelines.connectors.base import ConnectorError

logger = logging.getLogger(__name__)

#: Errors that mean the token itself is no good: a person must fix it, retrying will not.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission"}
)
#: How often a 429 is retried (each after its ``Retry-After``) before the call counts as failed.
RATE_LIMIT_RETRIES = 3
#: Pages read at most from one paginated call: a cursor that never ends is a fault, not a listing.
MAX_PAGES = 10_000
#: The secret names a bot token is read from, first found wins.
TOKEN_SECRETS = ("bot_token", "token", "slack_bot_token")


def bot_token(secrets: Mapping[str, str]) -> str:
    """The bot token from a connector's secrets, else ``NEEDLE_SLACK_BOT_TOKEN`` (the bot's own).

    :raises ConnectorError: neither is set.
    """
    for name in TOKEN_SECRETS:
        if secrets.get(name):
            return str(secrets[name])
    from pipelines.base.settings import ENV_PREFIX, get_settings

    token = get_settings().slack_bot_token
    if token is None:
        raise ConnectorError(
            f"no Slack bot token: set {ENV_PREFIX}SLACK_BOT_TOKEN (xoxb-...) "
            "or the connector's bot_token secret"
        )
    return token.get_secret_value()


def api_url(config: Mapping[str, str]) -> str:
    """Slack's Web API base URL: the connector's ``api_url``, else ``NEEDLE_SLACK_API_URL``, else Slack's."""
    url = config.get("api_url")
    if not url:
        from pipelines.base.settings import get_settings

        url = get_settings().slack_api_url or WebClient.BASE_URL
    return url.rstrip("/") + "/"


class SlackRefused(ConnectorError):
    """Slack answered with an error code a caller may want to tell apart (``thread_not_found``)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


class SlackWeb:
    """Calls to Slack's Web API that either answer or raise :class:`ConnectorError`.

    :param token: a bot token (``xoxb-...``); kept inside the client, never in a reason or a log line.
    :param base_url: the Web API's base URL (a local stand-in in tests).
    :param rate_limit_retries: how many 429s in a row one call waits out.
    """

    def __init__(
        self, token: str, base_url: str = WebClient.BASE_URL, *, rate_limit_retries: int = RATE_LIMIT_RETRIES
    ) -> None:
        self.client = WebClient(
            token=token,
            base_url=base_url,
            timeout=30,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=2),
                RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ],
        )
        self.rate_limit_retries = rate_limit_retries

    def call(self, method: str, *, expected: frozenset[str] = frozenset(), **args: Any) -> dict[str, Any]:
        """Call ``method`` (``"conversations.history"``) and return Slack's answer.

        :param expected: Slack error codes the caller handles itself (``thread_not_found``): the answer
            is returned with ``ok`` false instead of raising.
        :raises ConnectorError: the call failed; ``retryable`` unless the token or a scope is at fault.
        """
        try:
            params = {k: _form_value(v) for k, v in args.items() if v is not None}
            response = self.client.api_call(method, params=params)
            return dict(response.data) if isinstance(response.data, dict) else {}
        except SlackApiError as error:
            answer = error.response.data if isinstance(error.response.data, dict) else {}
            code = str(answer.get("error") or "")
            if code in expected and error.response.status_code == 200:
                return dict(answer)
            raise self._failure(method, error.response.status_code, code, answer) from None
        except ConnectorError:
            raise
        except Exception as error:  # URLError, timeouts, a body that is not JSON
            logger.warning("Slack %s failed: %s", method, type(error).__name__)
            raise ConnectorError(
                f"could not reach Slack for {method} ({type(error).__name__})", retryable=True
            ) from None

    def pages(self, method: str, key: str, **args: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a cursor-paginated call: ``key``'s items (``"messages"``), page by page.

        Follows ``response_metadata.next_cursor`` until it is empty. A failure on any page raises, so a
        caller never mistakes the pages it got for the whole collection.
        """
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            answer = self.call(method, cursor=cursor, **args)
            yield list(answer.get(key) or [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return
        raise ConnectorError(f"Slack's {method} did not end after {MAX_PAGES} pages", retryable=True)

    def _failure(self, method: str, status: int, code: str, answer: Mapping[str, Any]) -> ConnectorError:
        if status == 429 or code == "ratelimited":
            return ConnectorError(
                f"Slack kept rate-limiting {method} after {self.rate_limit_retries} waits (Retry-After); "
                "the next sync will try again",
                retryable=True,
            )
        if status >= 500:
            return ConnectorError(f"Slack answered HTTP {status} to {method}", retryable=True)
        if code in AUTH_ERRORS:
            return ConnectorError(
                f"Slack refused the bot token ({code}): reinstall the app or set a new "
                "NEEDLE_SLACK_BOT_TOKEN / bot_token secret"
            )
        if code == "missing_scope":
            needed = answer.get("needed") or "a scope"
            return ConnectorError(
                f"the Slack app lacks the {needed} scope that {method} needs: add it and reinstall the app"
            )
        if code in ("fatal_error", "internal_error", "service_unavailable", "request_timeout"):
            return ConnectorError(f"Slack failed on {method} ({code})", retryable=True)
        return SlackRefused(f"Slack refused {method} ({code or f'HTTP {status}'})", code)


def _form_value(value: Any) -> Any:
    """Booleans as Slack's documentation writes them (``true``/``false``), everything else as is."""
    return ("true" if value else "false") if isinstance(value, bool) else value

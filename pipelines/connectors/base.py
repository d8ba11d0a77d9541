"""The connector interface: what a connector must say about the documents where they live.

A connector is a small class that lists documents as references and fetches one document at a time. It
knows nothing of stores, chunks or jobs: the sync engine compares its listing with the last good sync,
fetches only what is new or changed, indexes it, and prunes what is gone. Keeping connectors this narrow
is what lets a new one be added without touching any other module (see :func:`register`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pipelines.stores.records import RecordStore


@dataclass(frozen=True)
class DocumentRef:
    """One document as the source lists it: enough to decide whether it must be fetched again.

    ``id`` is stable at the source (a page id, a path relative to the share, a canonical URL).
    ``version`` changes whenever the document does (a modified time, a version number, an ETag); the engine
    compares it with the last sync's before fetching. ``audience`` is who may see it at the source, as
    Needle's audience members (``channel:C…``, ``usergroup:S…``, ``user:U…``), or ``None`` when the source
    has no permissions of its own and the connector's configured audience applies.
    An empty tuple means the source restricts the document to principals none of whom could be mapped:
    it is stored for no one, never for everyone.
    ``unmapped`` lists the source's principals (emails, groups) that could not be mapped to Slack: they
    grant nothing, and ``needle connectors show`` lists them so an admin can fix them.
    """

    id: str
    title: str
    version: str
    url: str | None = None
    modified: str | None = None
    audience: tuple[str, ...] | None = None
    unmapped: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchedDocument:
    """One document's bytes and what the indexing side needs to convert and cite them.

    ``file_name`` carries the type the converter routes on (``page.html``, ``policy.pdf``); ``ref`` may
    differ from the listed one when fetching learned more (a redirect's target, a newer version).
    """

    ref: DocumentRef
    data: bytes
    file_name: str
    media_type: str | None = None


@dataclass(frozen=True)
class NotModified:
    """The source answered that the document is unchanged since ``ref.version`` (an HTTP 304, say)."""

    ref: DocumentRef


@dataclass(frozen=True)
class Gone:
    """The source says the listed document no longer exists (an HTTP 404 or 410 on fetch, say).

    The engine counts it as missing from this listing: it is pruned once it has been missing for
    :attr:`Connector.missing_syncs_before_removal` syncs in a row, never on a single failure.
    """

    ref: DocumentRef
    reason: str = "gone at the source"


class ConnectorError(Exception):
    """A connector call failed; ``reason`` is fit to show an admin, with no credential in it.

    ``retryable`` marks failures that may pass on their own (5xx, timeouts, 429 after its retries), as
    opposed to ones that need a person (an expired token, a missing space). ``document_id`` is set when
    only one document failed, so the sync goes on without it.
    """

    def __init__(self, reason: str, *, retryable: bool = False, document_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.document_id = document_id


class PeopleDirectory(Protocol):
    """Maps the people a source system names (by email) to Slack users, for audiences.

    The sync engine gives every connector one (backed by Slack's ``users.lookupByEmail`` and a cache in
    the record store); a connector expands its groups to member emails itself, at sync time.
    """

    def slack_user(self, email: str) -> str | None:
        """The Slack user id for ``email``, or ``None`` when Slack knows no such person."""
        ...


def audience_for(emails: Iterable[str], people: PeopleDirectory) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(audience, unmapped)`` for the people named by ``emails``: each mapped person is ``user:<id>``.

    A person who cannot be mapped grants nothing: they land in ``unmapped`` and the audience stays the
    mapped ones (possibly empty, which means no one).
    """
    members: set[str] = set()
    unmapped: set[str] = set()
    for email in emails:
        user = people.slack_user(email.strip().lower())
        if user:
            members.add(f"user:{user}")
        else:
            unmapped.add(email)
    return tuple(sorted(members)), tuple(sorted(unmapped))


class Connector(ABC):
    """Lists and fetches the documents of one configured source system.

    ``kind`` names it on the command line (``needle connectors add web ...``). ``config`` holds the
    connector's non-secret settings as given with ``--set key=value``; ``secrets`` holds credentials read
    from the environment or the secrets file, and must never be logged, traced or shown.
    """

    kind: ClassVar[str]
    #: The settings ``--set`` accepts, with a one-line description each (shown by ``--help`` and errors).
    settings: ClassVar[Mapping[str, str]] = {}
    #: The settings that must be given.
    required_settings: ClassVar[tuple[str, ...]] = ()
    #: How often a sync is due unless the admin says otherwise (seconds).
    default_interval: ClassVar[int] = 3600
    #: The credentials it reads (key -> description), from ``NEEDLE_CONNECTOR_<NAME>_<KEY>`` or the secrets
    #: file (see :mod:`pipelines.connectors.secrets`); shown as set or missing, never their values.
    secret_settings: ClassVar[Mapping[str, str]] = {}
    #: How many syncs in a row a document must be missing (not listed, or :class:`Gone`) before it is
    #: removed from the index. Crawlers that may miss a page once (web: 2) raise it.
    missing_syncs_before_removal: ClassVar[int] = 1
    #: True when the listing's titles are only names (file names): the document's own title (its first
    #: heading, its <title>) is used instead.
    titles_from_documents: ClassVar[bool] = False
    #: The deployment's record store, set by the engine before a sync, for connectors that keep notes
    #: between syncs which other processes add to (Slack: the threads the bot saw edited).
    records: RecordStore | None = None

    def __init__(
        self,
        config: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        people: PeopleDirectory | None = None,
    ) -> None:
        self.config = dict(config)
        self.secrets = dict(secrets or {})
        self.people = people

    @abstractmethod
    def list_documents(self) -> Iterator[DocumentRef]:
        """Every document that exists at the source now. Raise :class:`ConnectorError` on failure:
        a partial listing must never look like a complete one."""

    @abstractmethod
    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        """One document's bytes; ``NotModified`` when the source confirms ``previous_version`` is current;
        ``Gone`` when it no longer exists. Raise :class:`ConnectorError` with ``document_id`` when only
        this document failed (the sync records why and goes on), without it when the whole sync must stop
        (an expired token): nothing is pruned then."""

    def current_ids(self) -> set[str]:
        """Every id that exists at the source, for pruning; connectors with a cheaper call override it."""
        return {ref.id for ref in self.list_documents()}

    @property
    def state(self) -> dict[str, Any] | None:
        """What this connector keeps between syncs (a changes-feed token and what it last listed, say),
        JSON-able; ``None`` when it keeps nothing. The engine stores it after each complete listing and
        hands it back to :meth:`restore_state` before the next one, in whichever replica runs it."""
        return None

    def restore_state(self, state: Mapping[str, Any] | None) -> None:
        """Take back what :attr:`state` gave after the last complete listing (``None``: start afresh).
        Connectors that keep nothing ignore it."""
        return None

    def check_config(self) -> None:
        """Refuse settings that cannot work, with :class:`ConnectorError` naming the setting; called when
        a connector is added, before anything is stored. The default checks the required ``settings``
        only when the class lists them in ``required_settings``."""
        missing = [key for key in self.required_settings if not str(self.config.get(key) or "").strip()]
        if missing:
            raise ConnectorError(
                f"{self.kind} connectors need --set {missing[0]}=... ({self.settings.get(missing[0], '')})"
            )
        unknown = sorted(set(self.config) - set(self.settings))
        if unknown and self.settings:
            known = ", ".join(sorted(self.settings))
            raise ConnectorError(
                f"{self.kind} connectors have no setting {unknown[0]!r} (they have: {known})"
            )


_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available by its ``kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


def connector_class(kind: str) -> type[Connector]:
    """The connector class for ``kind``; :class:`ConnectorError` names the kinds there are."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConnectorError(f"no connector of kind {kind!r} (known: {known})") from None


def connector_kinds() -> list[str]:
    return sorted(_REGISTRY)

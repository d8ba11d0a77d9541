"""Slack as a directory of people, for the layers above that may not call Slack themselves.

Only the connectors talk to Slack's Web API from the core (an import-linter contract): the service and
the command line must not import slack_sdk, not even through a connector module. Yet the service gives
every sync a :class:`~pipelines.connectors.base.PeopleDirectory`, and ``needle ask --as-user`` needs a
person's channel memberships. So the Slack modules *provide* those two things here when the connector
modules are imported, and the layers above ask here, knowing
only the protocol; without a provider (or without a bot token) they get ``None``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from pipelines.base.settings import Settings
from pipelines.connectors.base import PeopleDirectory
from pipelines.records.audience import Viewer
from pipelines.stores.records import RecordStore

PeopleFactory = Callable[[RecordStore, Settings], PeopleDirectory | None]
ViewerFactory = Callable[[Settings, str, Iterable[str]], "tuple[Viewer, list[str]] | None"]

_providers: dict[str, Any] = {}
#: The modules that provide, imported on first use when discovery has not run yet.
_PROVIDERS = ("pipelines.connectors.people", "pipelines.connectors.slack_members")


def provide_people(factory: PeopleFactory) -> None:
    """Called by the module that maps people (``people.py``) when it is imported."""
    _providers["people"] = factory


def provide_viewer(factory: ViewerFactory) -> None:
    """Called by the module that reads memberships from Slack (``slack_members.py``) when imported."""
    _providers["viewer"] = factory


def _discovered() -> None:
    """Import the providing modules by name, as the connector registry imports connectors: the layers
    above depend on this module's protocol, never on the Slack client behind it."""
    for module in _PROVIDERS:
        importlib.import_module(module)


def people_directory(records: RecordStore, settings: Settings) -> PeopleDirectory | None:
    """The deployment's people directory (emails to Slack users), or ``None`` without Slack."""
    if "people" not in _providers:
        _discovered()
    factory: PeopleFactory | None = _providers.get("people")
    return factory(records, settings) if factory else None


def slack_viewer(
    settings: Settings, user_id: str, principals: Iterable[str]
) -> tuple[Viewer, list[str]] | None:
    """``(viewer, problems)`` for ``user_id`` reading a private answer, with the channels and user groups
    among ``principals`` Slack says they are in; ``None`` without Slack (see
    :func:`pipelines.connectors.slack_members.private_viewer`)."""
    if "viewer" not in _providers:
        _discovered()
    factory: ViewerFactory | None = _providers.get("viewer")
    return factory(settings, user_id, principals) if factory else None

"""Every connector in this package, found by importing its modules: adding a connector is adding a module.

A connector module defines a :class:`~pipelines.connectors.base.Connector` subclass decorated with
:func:`~pipelines.connectors.base.register`. The first call of :func:`connector_class` or
:func:`connector_kinds` imports every module of the package once, so the registry knows every kind; a
module that fails to import (a missing optional library) is logged and left out instead of taking every
other connector down with it. Discovery waits for that first call because the SaaS connectors' client
libraries take about 0.2 s to import (measured after the service), which every process that never
syncs (a question from the command line, the bot) would otherwise pay at start-up.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pipelines.connectors as package
from pipelines.connectors import base
from pipelines.connectors.base import Connector

logger = logging.getLogger(__name__)

#: Modules of the package that are the engine, not connectors.
ENGINE_MODULES = frozenset(
    {"base", "registry", "state", "lease", "secrets", "sync", "manager", "schedule", "describe"}
)
#: Connector modules that could not be imported, with why (``needle doctor`` may show them).
FAILED_IMPORTS: dict[str, str] = {}
_discovered = False


def discover() -> list[str]:
    """Import every connector module of the package; the kinds registered."""
    for module in pkgutil.iter_modules(package.__path__):
        if module.name in ENGINE_MODULES or module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package.__name__}.{module.name}")
        except Exception as error:  # one broken connector must not hide the others
            FAILED_IMPORTS[module.name] = f"{type(error).__name__}: {error}"
            logger.warning("connector module %s could not be imported: %s", module.name, error)
    return base.connector_kinds()


def _ensure_discovered() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        discover()


def connector_class(kind: str) -> type[Connector]:
    """The connector class for ``kind``, once every connector module has been imported."""
    _ensure_discovered()
    return base.connector_class(kind)


def connector_kinds() -> list[str]:
    """Every installed kind, once every connector module has been imported."""
    _ensure_discovered()
    return base.connector_kinds()


__all__ = ["Connector", "connector_class", "connector_kinds", "discover"]

"""Every connector in this package, found by importing its modules: adding a connector is adding a module.

A connector module defines a :class:`~pipelines.connectors.base.Connector` subclass decorated with
:func:`~pipelines.connectors.base.register`. Importing this module imports every module of the package
once, so the registry knows every kind; a module that fails to import (a missing optional library) is
logged and left out instead of taking every other connector down with it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pipelines.connectors as package
from pipelines.connectors.base import Connector, connector_class, connector_kinds

logger = logging.getLogger(__name__)

#: Modules of the package that are the engine, not connectors.
ENGINE_MODULES = frozenset(
    {"base", "registry", "state", "lease", "secrets", "sync", "manager", "schedule", "describe"}
)
#: Connector modules that could not be imported, with why (``needle doctor`` may show them).
FAILED_IMPORTS: dict[str, str] = {}


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
    return connector_kinds()


discover()

__all__ = ["Connector", "connector_class", "connector_kinds", "discover"]

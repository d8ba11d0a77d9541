"""Hardening tests measure figures (kinds of bad input, kills survived, outages, load); this collects them.

Each test records what it measured with ``record_figure(area, name, value)``; the figures are printed at
the end of the run (``Hardening figures``) and written as JSON to ``$NEEDLE_HARDENING_FIGURES`` when that
variable names a file, which is how the "Hardening figures" table (docs/hardening.md) was filled.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

_FIGURES: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def _record(area: str, name: str, value: Any) -> None:
    with _LOCK:
        _FIGURES.setdefault(area, {})[name] = value


@pytest.fixture
def record_figure() -> Callable[[str, str, Any], None]:
    return _record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("Hardening figures")
    for area in sorted(_FIGURES):
        for name, value in sorted(_FIGURES[area].items()):
            terminalreporter.write_line(f"{area:<18} {name:<40} {value}")
    target = os.environ.get("NEEDLE_HARDENING_FIGURES")
    if target:
        existing: dict[str, Any] = {}
        if os.path.exists(target):
            with open(target, encoding="utf-8") as handle:
                existing = json.load(handle)
        for area, values in _FIGURES.items():
            existing.setdefault(area, {}).update(values)
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(existing, handle, indent=2, sort_keys=True, default=str)

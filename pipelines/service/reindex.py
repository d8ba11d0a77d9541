"""``needle reindex``: rebuild the index under the current settings without an outage.

How depends on the store (a new Elasticsearch index and an alias switch, or each source again from its
kept original on the embedded store); see ``SearchBackend.reindex``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def reindex(
    service: Any, keep_old: bool = True, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    try:
        return service.backend.reindex(service, keep_old=keep_old, progress=progress)
    finally:  # a new index (or an interrupted one) is a change every listing must see
        service.sources.changes.touch()

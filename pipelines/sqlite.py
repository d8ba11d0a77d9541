"""The SQLite connections Needle keeps (traces, the embedding cache): one way to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_shared(path: str | Path) -> sqlite3.Connection:
    """A connection for several threads (callers serialise with their own lock) and several processes.

    Autocommit (``isolation_level=None``) so callers say ``BEGIN``/``COMMIT`` where they mean them; WAL so
    ``needle serve`` can read while ``needle ingest`` in another process writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection

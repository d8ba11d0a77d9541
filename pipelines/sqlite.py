"""The SQLite databases Needle keeps (traces, records, the embedding cache): one way to open them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class SharedDatabase:
    """One connection shared by a process's threads (serialised by a lock), rows as ``sqlite3.Row``,
    with ``schema`` (idempotent ``CREATE ... IF NOT EXISTS`` statements) applied on open."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection = open_shared(self.path)
        self._connection.row_factory = sqlite3.Row
        with self._cursor() as cursor:
            cursor.executescript(schema)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

"""The SQLite databases Needle keeps (traces, records, the embedding cache): one way to open them."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.base.disk_faults import disk_fault

logger = logging.getLogger(__name__)


def open_shared(path: str | Path) -> sqlite3.Connection:
    """A connection for several threads (callers serialise with their own lock) and several processes.

    Autocommit (``isolation_level=None``) so callers say ``BEGIN``/``COMMIT`` where they mean them; WAL so
    ``needle serve`` can read while ``needle ingest`` in another process writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    except BaseException:
        connection.close()
        raise
    return connection


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that only reads, for a database on a filesystem that takes no writes (mounted
    read-only, full, another user's).

    A WAL database needs its ``-shm`` file to be read, which a read-only directory cannot create once the
    last writer removed it; SQLite then reads only with ``immutable=1`` (no locking: the filesystem itself
    guarantees nobody writes). A database that does not exist is an empty one in memory. Every write on
    the connection fails with SQLite's "attempt to write a readonly database".
    """
    path = Path(path)
    if not path.exists():
        return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    uri = path.absolute().as_uri()
    error: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:
            connection = sqlite3.connect(
                f"{uri}?{mode}", uri=True, check_same_thread=False, isolation_level=None
            )
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return connection
        except sqlite3.Error as failure:
            error = failure
    assert error is not None
    raise error


class SharedDatabase:
    """One connection shared by a process's threads (serialised by a lock), rows as ``sqlite3.Row``,
    with ``schema`` (idempotent ``CREATE ... IF NOT EXISTS`` statements) applied on open.

    When the data directory's filesystem takes no writes (read-only, full, another user's), the
    database is opened read-only (``read_only`` is true): reads keep working, and writes fail with an
    error :func:`pipelines.base.disk_faults.disk_fault` recognises.
    """

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.read_only = False
        try:
            self._connection = open_shared(self.path)
        except (OSError, sqlite3.Error) as error:
            fault = disk_fault(error, self.path.parent)
            if fault is None:
                raise
            logger.info("opening %s read-only: %s", self.path, fault.kind)
            self._connection = open_read_only(self.path)
            self.read_only = True
        self._connection.row_factory = sqlite3.Row
        if self.read_only and self.path.exists():
            return  # the schema is the file's; creating anything would be a write
        with self._cursor() as cursor:
            cursor.executescript(schema)
        if self.read_only:
            self._connection.execute("PRAGMA query_only = ON")

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

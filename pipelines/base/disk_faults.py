"""Faults of the filesystem under the data directory (read-only, full, not ours), told in one sentence.

Python reports them as ``OSError`` with an errno, SQLite as ``sqlite3.OperationalError`` with words that
do not always say which ("disk I/O error" when a full disk refuses SQLite's shared-memory file), and
Needle's own layers wrap both (``StoreUnavailableError`` from a failed store write). This module is the
one place that recognises them through those wrappers, asks the filesystem when the error is ambiguous,
and says what happened in words an admin can act on.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipelines.base.errors import StoreUnavailableError

FaultKind = Literal["read_only", "full", "denied"]

_BY_ERRNO: dict[int, FaultKind] = {
    errno.EROFS: "read_only",
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EACCES: "denied",
    errno.EPERM: "denied",
}


@dataclass(frozen=True)
class DiskFault:
    """What is wrong with the filesystem, and where (the data directory, when known)."""

    kind: FaultKind
    directory: Path | None = None

    def sentence(self) -> str:
        """One plain sentence: what is wrong, what still works, what to do."""
        where = f"the data directory {self.directory}" if self.directory else "the data directory"
        if self.kind == "read_only":
            return (
                f"{where} is on a read-only filesystem, so nothing can be added or changed "
                "(listing sources and answering questions still work)"
            )
        if self.kind == "full":
            return (
                f"the disk holding {where} is full, so nothing more could be saved; "
                "free some space and run the command again"
            )
        return (
            f"Needle may not write in {where} (permission denied); run it as the user who owns that directory"
        )


class DataDirectoryError(StoreUnavailableError):
    """A write the data directory's filesystem refused (read-only, full, not ours): the store cannot
    take changes, so the faces treat it as any other unavailable store, with this sentence."""

    def __init__(self, fault: DiskFault, detail: str = "") -> None:
        super().__init__(fault.sentence() + (f"; {detail}" if detail else ""))
        self.fault = fault


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def disk_fault(error: BaseException, directory: Path | None = None) -> DiskFault | None:
    """The filesystem fault behind ``error`` (or any exception it was raised from), else ``None``.

    SQLite's words are ambiguous ("disk I/O error", "unable to open database file", and "readonly
    database" for a connection Needle opened read-only because the disk was full), so for SQLite errors
    the filesystem holding ``directory`` is asked first.
    """
    for cause in _causes(error):
        if isinstance(cause, DataDirectoryError):
            return cause.fault
        if isinstance(cause, OSError) and cause.errno in _BY_ERRNO:
            return DiskFault(_BY_ERRNO[cause.errno], directory)
        if isinstance(cause, sqlite3.Error):
            name = str(getattr(cause, "sqlite_errorname", "") or "")
            state = filesystem_fault(directory) if directory is not None else None
            if state is not None and name.startswith(
                ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PERM")
            ):
                return state
            if name.startswith("SQLITE_READONLY"):
                return DiskFault("read_only", directory)
            if name == "SQLITE_FULL":
                return DiskFault("full", directory)
    return None


def filesystem_fault(directory: Path) -> DiskFault | None:
    """Why nothing could be written under ``directory`` (or its nearest existing parent), if the
    filesystem says: mounted read-only, no free blocks or inodes, or no write permission."""
    existing = Path(directory)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        stat = os.statvfs(existing)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return DiskFault("read_only", Path(directory))
    free = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail  # root may use the reserved blocks
    if free == 0 or (stat.f_files and stat.f_favail == 0):
        return DiskFault("full", Path(directory))
    if not os.access(existing, os.W_OK):
        return DiskFault("denied", Path(directory))
    return None


def check_writable(directory: Path) -> None:
    """Refuse a write before it starts (before models load) when the filesystem cannot take it.

    :raises DataDirectoryError: read-only, full, or not writable by this user.
    """
    fault = filesystem_fault(directory)
    if fault is not None:
        raise DataDirectoryError(fault)

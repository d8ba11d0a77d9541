"""Real filesystem faults for tests: a directory remounted read-only, and a tiny filesystem to fill.

Tests run as root here, and root writes through any ``chmod``: only a read-only mount refuses root
honestly, and only a full filesystem gives the ``ENOSPC`` (and SQLite's "disk I/O error") that a full
disk gives. Both need ``mount``, so they need root (or ``CAP_SYS_ADMIN``); elsewhere the tests that use
them are skipped, and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def mount_unavailable() -> str | None:
    """Why this process cannot mount filesystems, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "needs root to mount a read-only or a tiny filesystem"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount(8) is not installed"
    return None


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot {' '.join(command)}: {done.stderr.strip()}")


@contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """``directory`` bind-mounted over itself read-only: every write under it fails with ``EROFS``."""
    reason = mount_unavailable()
    if reason:
        pytest.skip(reason)
    _run("mount", "--bind", str(directory), str(directory))
    try:
        _run("mount", "-o", "remount,bind,ro", str(directory))
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@contextmanager
def tiny_filesystem(directory: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``directory`` (created if needed), unmounted afterwards."""
    reason = mount_unavailable()
    if reason:
        pytest.skip(reason)
    directory.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory))
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem holding ``directory`` until at most ``leave_bytes`` are free."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as handle:
        while True:
            free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
            if free <= leave_bytes:
                break
            try:
                handle.write(b"\0" * min(65536, max(free - leave_bytes, 4096)))
            except OSError:
                break
    return filler

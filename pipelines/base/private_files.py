"""Needle's files are its owner's alone: traces hold questions, answers and passages of restricted
documents, and the kept originals are the documents themselves."""

from __future__ import annotations

import os


def make_files_private() -> None:
    """From now on this process creates files 0600 and directories 0700 (a umask of 077 added to the
    current one), whichever library creates them: SQLite (and its ``-wal``/``-shm`` files), numpy, the
    store's segments, kept originals. Called once by every process that opens the data directory."""
    current = os.umask(0o077)
    os.umask(current | 0o077)

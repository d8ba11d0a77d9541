"""Fixtures shared with the core tests (the ``needle`` command on a fresh data directory)."""

from tests.core.conftest import data_dir

__all__ = ["data_dir"]

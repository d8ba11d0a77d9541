"""Reading the document store with one failure policy, shared by the indexing and answering sides."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.base.errors import StoreUnavailableError

logger = logging.getLogger(__name__)


@contextmanager
def store_read() -> Iterator[None]:
    """Any failure reading the store is logged in full and reaches people as one plain sentence."""
    try:
        yield
    except Exception as error:
        logger.exception("document store read failed")
        raise StoreUnavailableError("The document store could not be read") from error

"""Errors that carry a reason fit to show a person: the CLI, Slack and the console print them as they are."""

from __future__ import annotations


class NeedleError(Exception):
    """Base class for failures whose message is safe and useful to show to the person who caused them."""


class RejectedFileError(NeedleError):
    """A file that cannot be indexed. Raised before anything is written, so the store is unchanged."""

    def __init__(self, file_name: str, reason: str) -> None:
        super().__init__(f"{file_name}: {reason}")
        self.file_name = file_name
        self.reason = reason


class SourceNotFoundError(NeedleError):
    """A source id that the store does not hold."""


class StoreUnavailableError(NeedleError):
    """The document store could not be reached or answered with an error."""

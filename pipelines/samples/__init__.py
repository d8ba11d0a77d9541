"""The sample company handbook that ships with Needle, so a new user gets answers with one command."""

from __future__ import annotations

from pathlib import Path


def handbook_dir() -> Path:
    """The fictional Acme Widgets handbook: PDF, DOCX, HTML, Markdown and text, in English and Chinese."""
    return Path(__file__).parent / "handbook"

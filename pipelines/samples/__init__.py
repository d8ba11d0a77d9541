"""The sample company handbook that ships with Needle, so a new user gets answers with one command."""

from __future__ import annotations

from pathlib import Path


def handbook_dir() -> Path:
    """The fictional Acme Widgets handbook: PDF, DOCX, HTML, Markdown and text, in English and Chinese."""
    return Path(__file__).parent / "handbook"


#: Questions the handbook answers: the demo asks them, and ``needle doctor --store-smoke`` compares the
#: sources each store retrieves for them.
SAMPLE_QUESTIONS = (
    "How many vacation days do I get?",
    "When is business class allowed for flights?",
    "我每年有多少天年假？",
)

"""Suggested prompts for a new assistant thread: the configured ones, or drawn from the indexed sources.

Slack shows at most four. Drawn prompts name the newest sources (what changed lately is what people ask
about) and ask a question Needle can answer from that one document. A title is a name, whatever words it
starts with ("Your First Week at Acme", "The Travel Policy"), so it is quoted as it is: never glued to
"the" ("What does the Your First Week at Acme say?").
"""

from __future__ import annotations

from pipelines.records.answers import SourceInfo

MAX_PROMPTS = 4
#: Slack cuts long prompt titles; the message sent is the full question.
TITLE_CHARS = 40


def suggested_prompts(configured: list[str], sources: list[SourceInfo]) -> list[dict[str, str]]:
    """``[{"title": ..., "message": ...}]`` for ``assistant.threads.setSuggestedPrompts``."""
    if configured:
        return [{"title": _title(text), "message": text} for text in configured[:MAX_PROMPTS]]
    prompts: list[dict[str, str]] = []
    seen: set[str] = set()
    for source in sources:  # newest first, as the core lists them
        title = " ".join(source.title.split())
        if not title or title.lower() in seen:
            continue
        seen.add(title.lower())
        prompts.append({"title": _title(title), "message": f'What does "{title}" say?'})
        if len(prompts) == MAX_PROMPTS:
            break
    return prompts


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 3].rstrip() + "..."


def thread_title(question: str, limit: int = 60) -> str:
    """The assistant thread's title: the first question, shortened at a word."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 3)
    return text[: cut if cut > limit // 2 else limit - 3].rstrip(" ,.;:") + "..."
